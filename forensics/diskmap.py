"""Classify the medium while it streams past: zero, constant, pattern, random, structured.

One classifier serves two resolutions: 512-byte sectors (``pfa verify-wipe``, forensics/wipe.py)
and the 64 KiB units of the low-resolution residual-data map that goes into every report (the
basis of the scan's ``wiped`` and ``encrypted`` verdicts). Everything is vectorised with numpy:
a zero block never costs a Python loop per byte, and only blocks that are neither zero nor a
fill pay for the entropy estimate.

Classes (codes are indices into CLASSES and double as precedence: a map cell shows the highest
code among its blocks):

- ``zero``: every byte 0x00;
- ``constant``: one byte value repeated (0xFF, the Xerox passes 0x35 / 0xCA / 0x97, ...);
- ``pattern``: a repeated unit of 2 to 16 bytes (Gutmann's 0x92 0x49 0x24, 0x55 0xAA, ...),
  except a unit of 4 or more printable ASCII characters holding a letter or digit, which is a
  repeated string (data), not a fill; for a 64 KiB unit also a mix of zero, constant and pattern
  sectors (the edge of an overwritten area);
- ``random``: high entropy (random fill, ciphertext, or compressed data);
- ``structured``: everything else.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNIT = 64 * 1024  # classification unit of the scan's disk map
SECTOR = 512  # classification unit of pfa verify-wipe
MAX_CELLS = 16384  # cells in the reported map, whatever the image size

CLASSES = ("zero", "constant", "pattern", "random", "structured")
ZERO, CONSTANT, PATTERN, RANDOM, STRUCTURED = range(len(CLASSES))
WIPED_CODES = (ZERO, CONSTANT, PATTERN)  # what an overwrite leaves behind

# The longest repeated unit still called a fill. 16 bytes covers every published overwrite
# scheme (single bytes, Gutmann's 3-byte patterns) with room for vendor variants, while a
# 512-byte sector made of one 16-byte unit repeated carries at most 16 bytes of information.
MAX_PATTERN_PERIOD = 16
_WORD = 8  # bytes per uint64 word
# A row with a byte period p has a word period of lcm(p, 8) / 8 words (words aligned on the
# row's start), so these word periods are the only ones that need testing for p <= 16.
_WORD_PERIODS = tuple(
    sorted({math.lcm(p, _WORD) // _WORD for p in range(1, MAX_PATTERN_PERIOD + 1)})
)
_PREFILTER_WORDS_SPAN = max(_WORD_PERIODS) + 1  # words in which a periodic row repeats its first
_PROBES = 9  # words per row compared, for each period, before the whole row is
_PROBE_SPACING = 256  # and at least one probe per this many words of a wide row
_UNIFORM_PROBE = 4096  # bytes compared before a whole chunk is tested for one period
# The byte periods possible for a word period q: the divisors of 8q up to 16, smallest first.
_DIVISORS = {
    q: tuple(p for p in range(1, MAX_PATTERN_PERIOD + 1) if (_WORD * q) % p == 0)
    for q in _WORD_PERIODS
}
# Rows narrower than this (a partial last sector) are tested byte by byte.
_MIN_WORD_WIDTH = _WORD * (2 * max(_WORD_PERIODS)) + MAX_PATTERN_PERIOD
# A repeated unit at least this long made of printable ASCII with a letter or digit is text.
_TEXT_UNIT = 4

# Entropy is estimated from SAMPLE_SLICES slices of SAMPLE_BYTES spread over a 64 KiB unit (one
# vectorised bincount for a whole chunk, not a histogram of every byte), from every byte of a
# sector.
SAMPLE_SLICES = 4
SAMPLE_BYTES = 256
# Expected entropy of 1 KiB of uniform random bytes is ~7.82 bits (8 - 255/(2*1024*ln 2)),
# with a spread of a few hundredths; text is ~4-5, machine structures 1-6.5.
SAMPLED_RANDOM_ENTROPY = 7.6
# 512 uniform random bytes: mean 7.59 bits, standard deviation 0.034 (measured over 200,000
# sectors, lowest 7.42); 7.2 is 11 standard deviations below, so random fill is never called
# structured. Text is ~4.4, code ~4-6, deflate output ~7.57: compressed data counts as random.
SECTOR_RANDOM_ENTROPY = 7.2
# Below 512 bytes (a partial last sector) the threshold scales with the most a row can reach.
_SHORT_ROW_FACTOR = 0.85
_MIN_ENTROPY_ROW = 32  # shorter rows are too short to tell random from structure
_ENTROPY_BATCH = 128 * 1024  # sample bytes per bincount: keeps the temporaries in cache

_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_ALNUM = np.zeros(256, dtype=bool)
for _lo, _hi in ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)):
    _ALNUM[_lo : _hi + 1] = True


def nonzero_rows(rows: np.ndarray) -> np.ndarray:
    """Which rows of a 2-D uint8 array hold a non-zero byte."""
    # max, not any: numpy's any casts each word to bool first and runs ~2x slower.
    if rows.shape[1] % _WORD == 0 and rows.flags.c_contiguous:
        return np.asarray(rows.view(np.uint64).max(axis=1, initial=0) != 0)
    return np.asarray(rows.max(axis=1, initial=0) != 0)


def fill_periods(rows: np.ndarray, consider: np.ndarray | None = None) -> np.ndarray:
    """The smallest period (1..16 bytes) of each row; 0 when it has none.

    A row has period p when ``row[i] == row[i + p]`` for every i: period 1 is one repeated byte.
    Only rows selected by the boolean mask ``consider`` are tested (the others get 0). Periods
    are found on uint64 words first: a prefilter on the first 16 words, probes at a few words
    spread over the row, and the whole row only for rows that pass both; the byte period is
    then read off a short prefix.
    """
    n, width = rows.shape
    periods = np.zeros(n, dtype=np.uint8)
    todo = np.ones(n, dtype=bool) if consider is None else consider.copy()
    if n == 0 or not todo.any():
        return periods
    if width % _WORD or width < _MIN_WORD_WIDTH or not rows.flags.c_contiguous:
        return _byte_periods(rows, todo)
    if todo.all() and n > 1:
        uniform = _uniform_period(rows)
        if uniform:
            periods[:] = uniform
            return _drop_text_units(rows, periods)
    words = rows.view(np.uint64)
    # Prefilter: a row with word period q <= 15 repeats its first word within its first 16.
    considered = np.flatnonzero(todo)
    head = words[considered, :_PREFILTER_WORDS_SPAN]
    candidates = considered[(head[:, 1:] == head[:, :1]).any(axis=1)]
    word_period = np.zeros(n, dtype=np.int64)
    if candidates.size:
        # Probes for every word period at once: words spread over the row compared with the
        # word q further on (gathered, not copied with their rows). Only rows that pass every
        # probe for q get the whole-row test.
        nw = words.shape[1]
        count = max(_PROBES, nw // _PROBE_SPACING)
        probes = np.linspace(0, nw - 1 - max(_WORD_PERIODS), count).astype(np.intp)
        periods_q = np.asarray(_WORD_PERIODS, dtype=np.intp)
        at = candidates[:, None, None]
        shifted = words[at, probes[None, None, :] + periods_q[None, :, None]]
        passes = (shifted == words[at, probes[None, None, :]]).all(axis=2)
        undecided = np.ones(candidates.size, dtype=bool)
        for j, q in enumerate(_WORD_PERIODS):
            index = np.flatnonzero(passes[:, j] & undecided)
            if index.size == 0:
                continue
            rows_q = words if index.size == n else words[candidates[index]]
            periodic = index[(rows_q[:, q:] == rows_q[:, :-q]).all(axis=1)]
            word_period[candidates[periodic]] = q
            undecided[periodic] = False
    # A row with word period q repeats its first 8q bytes; if it also has a byte period p, then
    # gcd(p, 8q) is one too (Fine and Wilf: 8q + p <= the row's width), so its smallest period
    # divides 8q and is found on the first 8q bytes alone.
    # sorted(set()), not np.unique: that imports numpy.ma (~10 ms) on a scan's first chunk.
    for q in sorted(set(word_period[word_period > 0].tolist())):
        index = np.flatnonzero(word_period == q)
        span = _WORD * q
        prefix = rows[index, :span]
        undecided = np.ones(index.size, dtype=bool)
        for p in _DIVISORS[q]:
            ok = undecided & (prefix[:, p:] == prefix[:, :-p]).all(axis=1)
            periods[index[ok]] = p
            undecided &= ~ok
    return _drop_text_units(rows, periods)


def _uniform_period(rows: np.ndarray) -> int:
    """The period (<= 16) of all the rows taken as one run of bytes, 0 if none: then every row
    has that smallest period. One pass settles a chunk of a single fill (0x97, a Gutmann
    pattern); a short comparison first rejects the periods that do not hold."""
    flat = rows.reshape(-1)
    for p in range(1, MAX_PATTERN_PERIOD + 1):
        if not np.array_equal(
            flat[p : p + _UNIFORM_PROBE], flat[: min(_UNIFORM_PROBE, flat.size - p)]
        ):
            continue
        return p if np.array_equal(flat[p:], flat[:-p]) else 0
    return 0


def _byte_periods(rows: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """fill_periods for narrow or odd rows: byte comparisons, smallest period first."""
    periods = np.zeros(rows.shape[0], dtype=np.uint8)
    index = np.flatnonzero(todo)
    for p in range(1, min(MAX_PATTERN_PERIOD, rows.shape[1] - 1) + 1):
        if index.size == 0:
            break
        sub = rows[index]
        ok = (sub[:, p:] == sub[:, :-p]).all(axis=1)
        periods[index[ok]] = p
        index = index[~ok]
    return _drop_text_units(rows, periods)


def _drop_text_units(rows: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """A repeated unit of 4+ printable characters with a letter or digit is a string, not a
    fill: ``"SSN 536-22-8714 "`` repeated is data."""
    for p in range(_TEXT_UNIT, MAX_PATTERN_PERIOD + 1):
        index = np.flatnonzero(periods == p)
        if index.size == 0:
            continue
        unit = rows[index, :p]
        text = _PRINTABLE[unit].all(axis=1) & _ALNUM[unit].any(axis=1)
        periods[index[text]] = 0
    return periods


def random_threshold(sample_width: int) -> float | None:
    """Entropy (bits per byte) from which a sample of this many bytes counts as random."""
    if sample_width >= SAMPLE_SLICES * SAMPLE_BYTES:
        return SAMPLED_RANDOM_ENTROPY
    if sample_width >= SECTOR:
        return SECTOR_RANDOM_ENTROPY
    if sample_width < _MIN_ENTROPY_ROW:
        return None
    return _SHORT_ROW_FACTOR * math.log2(min(sample_width, 256))


def _sample_columns(width: int) -> np.ndarray | None:
    """Columns sampled for the entropy of a row this wide (None: every byte)."""
    if width < 2 * SAMPLE_SLICES * SAMPLE_BYTES:
        return None
    step = width // SAMPLE_SLICES
    return (np.arange(SAMPLE_SLICES)[:, None] * step + np.arange(SAMPLE_BYTES)).ravel()


def entropy(rows: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Estimated Shannon entropy (bits/byte) of rows ``which`` of a 2-D uint8 array."""
    cols = _sample_columns(rows.shape[1])
    width = rows.shape[1] if cols is None else cols.size
    # p*log2(p) for every possible count, looked up instead of computed per cell.
    counts_range = np.arange(width + 1, dtype=np.float64) / width
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(counts_range > 0, counts_range * np.log2(counts_range), 0.0)
    out = np.empty(which.size, dtype=np.float64)
    batch = max(1, _ENTROPY_BATCH // width)
    for start in range(0, which.size, batch):
        part = which[start : start + batch]
        n = part.size
        sample = rows[part] if cols is None else rows[part[:, None], cols]
        keys = (np.arange(n, dtype=np.intp)[:, None] << 8) | sample
        counts = np.bincount(keys.ravel(), minlength=n * 256).reshape(n, 256)
        out[start : start + n] = -plogp[counts].sum(axis=1)
    return out


def classify_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class code (index into CLASSES) and fill period of each row of a 2-D uint8 array."""
    n, width = rows.shape
    codes = np.full(n, STRUCTURED, dtype=np.uint8)
    if n == 0:
        return codes, np.zeros(0, dtype=np.uint8)
    nonzero = nonzero_rows(rows)
    codes[~nonzero] = ZERO
    periods = fill_periods(rows, nonzero)
    codes[periods == 1] = CONSTANT
    codes[periods > 1] = PATTERN
    varied = np.flatnonzero(nonzero & (periods == 0))
    cols = _sample_columns(width)
    threshold = random_threshold(width if cols is None else cols.size)
    if varied.size and threshold is not None:
        if cols is None:
            varied = varied[_may_reach(rows, varied, threshold)]
        high = entropy(rows, varied) >= threshold
        codes[varied[high]] = RANDOM
    return codes, periods


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(terms)


def _may_reach(rows: np.ndarray, which: np.ndarray, threshold: float) -> np.ndarray:
    """Which of rows ``which`` can have an entropy of ``threshold`` bits or more.

    A cheap, exact bound that spares text and most machine structures the histogram: with a
    share f of a row's bytes below 0x80, its entropy is at most h(f) + 7 bits (h: binary
    entropy), so a row of (nearly) pure ASCII cannot reach the random threshold.
    """
    if threshold <= 7 or rows.shape[1] % _WORD or not rows.flags.c_contiguous:
        return np.ones(which.size, dtype=bool)
    words = rows.view(np.uint64)[which] if which.size < rows.shape[0] else rows.view(np.uint64)
    high_bits = words & np.uint64(0x8080808080808080)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        high = np.bitwise_count(high_bits).sum(axis=1)
    else:
        high = np.count_nonzero(high_bits.view(np.uint8), axis=1)
    return _binary_entropy(high / rows.shape[1]) + 7 >= threshold


def refine_units(rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Look again, sector by sector, at structured units that hold a zero sector.

    Such a unit is often the edge of an overwritten or encrypted area, not data: one whose
    sectors are all fills (zeros then 0x97) becomes ``pattern``, one with only zero, fill and
    random sectors becomes ``random``. A unit stays structured as soon as one of its sectors
    can be neither a fill (its first word does not come back within 16 words) nor random (the
    high-bit bound of ``_may_reach``): cheap tests that settle almost every unit of real data.
    Units without a zero sector are left as they are (a boundary between two non-zero fills
    inside one 64 KiB unit is rare, and testing every unit would slow every scan down).
    """
    width = rows.shape[1]
    structured = codes == STRUCTURED
    if not structured.any() or width % SECTOR or not rows.flags.c_contiguous:
        return codes
    per_unit = width // SECTOR
    sectors = rows.reshape(rows.shape[0] * per_unit, SECTOR)  # a view: nothing is copied
    nonzero = np.ones(sectors.shape[0], dtype=bool)
    # Only the structured units' sectors, run by run: slices are views, nothing is copied.
    units = np.flatnonzero(structured)
    for run in np.split(units, np.flatnonzero(np.diff(units) != 1) + 1):
        lo, hi = int(run[0]) * per_unit, (int(run[-1]) + 1) * per_unit
        nonzero[lo:hi] = nonzero_rows(sectors[lo:hi])
    open_units = structured & ~nonzero.reshape(rows.shape[0], per_unit).all(axis=1)
    index = np.flatnonzero(np.repeat(open_units, per_unit) & nonzero)
    if index.size == 0:
        return codes
    head = sectors.view(np.uint64)[index, :_PREFILTER_WORDS_SPAN]
    doubtful = index[~(head[:, 1:] == head[:, :1]).any(axis=1)]  # cannot be fills
    open_units[doubtful[~_may_reach(sectors, doubtful, SECTOR_RANDOM_ENTROPY)] // per_unit] = False
    if not open_units.any():
        return codes
    in_open = np.repeat(open_units, per_unit)
    periods = fill_periods(sectors, in_open & nonzero)
    filled = (~nonzero | (periods > 0)).reshape(rows.shape[0], per_unit) & open_units[:, None]
    all_filled = filled.all(axis=1)
    codes[all_filled] = PATTERN
    mixed = open_units & ~all_filled
    if mixed.any():
        random_units = mixed.copy()
        varied = np.flatnonzero((~filled & mixed[:, None]).ravel())
        low = varied[entropy(sectors, varied) < SECTOR_RANDOM_ENTROPY]
        random_units[low // per_unit] = False
        codes[random_units] = RANDOM
    return codes


_UNITS_PER_SLICE = 32  # 2 MiB of units classified at a time (classify_units)


def classify_units(data: bytes | memoryview) -> np.ndarray:
    """The class code (index into CLASSES) of each UNIT of ``data``, the last one possibly short.

    Pure (no map is touched), so the scan runs it on its YARA threads: numpy releases the GIL
    over whole arrays, and the main thread only adds the codes up (``DiskMap.add``).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    full = arr.size // UNIT
    classes: list[np.ndarray] = []
    # In slices: the temporaries (masked copies of rows, histograms) stay a few MiB per thread
    # whatever the chunk size, and the scan classifies on two threads at once.
    for first in range(0, full, _UNITS_PER_SLICE):
        last = min(full, first + _UNITS_PER_SLICE)
        rows = arr[first * UNIT : last * UNIT].reshape(last - first, UNIT)
        codes, _ = classify_rows(rows)
        classes.append(refine_units(rows, codes))
    if arr.size % UNIT:
        tail = arr[full * UNIT :].reshape(1, arr.size - full * UNIT)
        codes, _ = classify_rows(tail)
        classes.append(refine_units(tail, codes))
    if not classes:
        return np.zeros(0, dtype=np.uint8)
    return np.concatenate(classes)


@dataclass
class DiskMap:
    """Accumulates unit classes; ``cells()`` merges them to at most MAX_CELLS map cells."""

    size: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    cell_size: int = 0
    _cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))

    def __post_init__(self) -> None:
        units = max(1, -(-self.size // UNIT))
        per_cell = max(1, -(-units // MAX_CELLS))
        self.cell_size = per_cell * UNIT
        self._cells = np.zeros(max(1, -(-self.size // self.cell_size)), dtype=np.uint8)

    def classify(self, data: bytes | memoryview, offset: int) -> np.ndarray:
        """Classify ``data`` starting at image ``offset`` (a multiple of UNIT).

        Returns the class code of each unit (index into CLASSES).
        """
        unit_classes = classify_units(data)
        self.add(unit_classes, offset)
        return unit_classes

    def add(self, unit_classes: np.ndarray, offset: int) -> None:
        """Count units classified by ``classify_units`` (of data at image ``offset``, a
        multiple of UNIT) into the map."""
        if unit_classes.size == 0:
            return
        tally = np.bincount(unit_classes, minlength=len(CLASSES))
        for code, name in enumerate(CLASSES):
            self.counts[name] += int(tally[code])
        first_unit = offset // UNIT
        units_per_cell = self.cell_size // UNIT
        cells = (first_unit + np.arange(unit_classes.size)) // units_per_cell
        np.maximum.at(self._cells, cells, unit_classes)

    def cells(self) -> list[tuple[int, int, str]]:
        """Merged runs of equal class: (offset, length, class)."""
        runs: list[tuple[int, int, str]] = []
        if self._cells.size == 0:
            return runs
        change = np.flatnonzero(np.diff(self._cells)) + 1
        bounds = [0, *change.tolist(), int(self._cells.size)]
        for a, b in itertools.pairwise(bounds):
            start = a * self.cell_size
            end = min(self.size, b * self.cell_size)
            runs.append((start, end - start, CLASSES[int(self._cells[a])]))
        return runs

    def structured_ranges(self) -> list[tuple[int, int]]:
        return [(o, n) for o, n, c in self.cells() if c == "structured"]

    def add_reported(self, reported: dict[str, Any]) -> None:
        """Add a map reported by ``to_dict`` of another scan of the same medium (a part of a
        split image, which classified only its region): counts add up, each cell keeps the
        highest class either map gave it, as ``classify`` does."""
        if int(reported.get("cell_bytes") or 0) != self.cell_size:
            raise ValueError("disk maps of different cell sizes cannot be combined")
        for name, count in dict(reported.get("unit_counts") or {}).items():
            if name in self.counts:
                self.counts[name] += int(count)
        for cell in reported.get("cells") or ():
            first = int(cell["offset"]) // self.cell_size
            last = -(-(int(cell["offset"]) + int(cell["length"])) // self.cell_size)
            code = CLASSES.index(str(cell["class"]))
            np.maximum(self._cells[first:last], code, out=self._cells[first:last])

    def to_dict(self) -> dict[str, object]:
        return {
            "unit_bytes": UNIT,
            "cell_bytes": self.cell_size,
            "unit_counts": dict(self.counts),
            "cells": [{"offset": o, "length": n, "class": c} for o, n, c in self.cells()],
        }
