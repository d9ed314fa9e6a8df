"""Carving: find print jobs in free space, slack, partition gaps and raw volumes as the image
streams past (DESIGN.md, "carve").

Printers delete a job file as soon as it has printed, and ext3/ext4 wipe a deleted file's block
map, so most lingering documents have no file-system entry left. Each format declares where an
instance starts (``FormatParser.carve_patterns``, YARA strings compiled into one rule set) and
where it ends (``FormatParser.extent``). The scan's YARA thread finds the candidates in every
chunk; the ``Carver`` on the main thread decides, in offset order, which are real instances and
how long each is, following an instance across chunks without reading the image twice.

A candidate is examined only where no file claims the bytes (unallocated, slack, unpartitioned,
raw): allocated and deleted files are parsed as files. An instance whose end the format cannot
find within ``MAX_CARVE_BYTES`` (or before the medium ends) is kept as a fragment, bounded by the
first all-zero block, the next candidate or the first byte a file claims. A footer pattern (PJL's
``UEL @PJL EOJ``) found outside every carved instance marks a job whose head was overwritten: its
tail is kept, reaching back to the first all-zero block.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import yara

from forensics.evidence.address import EvidenceAddress, step
from forensics.evidence.locate import Location
from forensics.formats.base import CarvePattern, FormatParser, registered_formats
from forensics.records import LocationClass

log = logging.getLogger(__name__)

CARVABLE = frozenset(
    {
        LocationClass.UNALLOCATED,
        LocationClass.SLACK,
        LocationClass.UNPARTITIONED,
        LocationClass.RAW,
    }
)
MAX_CARVE_BYTES = 32 * 1024 * 1024  # longest instance followed across chunks
MAX_FRAGMENT_BYTES = 8 * 1024 * 1024  # a fragment without a known end is kept up to this
MAX_TAIL_BYTES = 8 * 1024 * 1024  # how far back from a footer a headless tail may reach
FIRST_WINDOW = 1024 * 1024  # first extent attempt; most jobs end within it
SNIFF_BYTES = 4096
SECTOR = 512
BLOCK = 4096  # fragments stop at an all-zero block of this size (aligned in the image)
MAX_CANDIDATES_PER_CHUNK = 20_000  # beyond this, hits in a chunk are counted, not examined
MAX_QUEUED = 100_000  # candidates waiting behind an instance that is still being followed


@dataclass(frozen=True)
class Candidate:
    """A carve pattern's match: where the instance would start (absolute image offset)."""

    offset: int
    format: str
    footer: bool
    match: int  # absolute offset of the pattern's match itself


@dataclass(frozen=True)
class CarvedRegion:
    """One carved instance: its bytes in the image and how sure the carver is of its end."""

    format: str
    image_offset: int
    length: int
    complete: bool  # the format found its end inside the carved bytes
    location_class: LocationClass
    address: EvidenceAddress  # up to (not including) the carve step
    headless: bool = False  # recovered back from a footer; the head was overwritten
    footer_offset: int | None = None  # for headless tails: where the footer starts (in region)
    note: str = ""

    def carve_address(self) -> EvidenceAddress:
        """The region's evidence address, ending with the carve step."""
        kind = "tail" if self.headless else ("instance" if self.complete else "fragment")
        return self.address.then(
            step(
                "carve",
                f"carved {self.format} {kind} @{self.image_offset:#x}+{self.length}",
                format=self.format,
                image_offset=self.image_offset,
                length=self.length,
                complete=self.complete,
            )
        )


# The carve rules' namespace when they are compiled together with the detection rules (rule
# files get "pfa<N>_<stem>" and "user<N>_<stem>", so no rule file can take it).
CARVE_NAMESPACE = "pfa_carve"


@dataclass(frozen=True)
class _Rules:
    rules: yara.Rules
    patterns: dict[tuple[str, str], tuple[str, CarvePattern]]  # (rule, string id) → pattern
    source: str  # the rule text, for compiling it together with other rules


@lru_cache(maxsize=1)
def carve_rules() -> _Rules:
    """One compiled YARA rule set of every registered format's carve patterns."""
    sources: list[str] = []
    patterns: dict[tuple[str, str], tuple[str, CarvePattern]] = {}
    for index, (name, cls) in enumerate(sorted(registered_formats().items())):
        if not cls.carve_patterns:
            continue
        rule = f"carve_{index}"
        strings = []
        for number, pattern in enumerate(cls.carve_patterns):
            strings.append(f"    $p{number} = {pattern.yara}")
            patterns[(rule, f"$p{number}")] = (name, pattern)
        sources.append(
            f'rule {rule} {{\n  meta:\n    format = "{name}"\n  strings:\n'
            + "\n".join(strings)
            + "\n  condition:\n    any of them\n}\n"
        )
    source = "\n".join(sources)
    return _Rules(yara.compile(source=source), patterns, source)


def find_candidates(
    buf: bytes, base: int, accept_start: int, accept_end: int | None
) -> tuple[list[Candidate], int]:
    """Candidates whose match starts in ``buf[accept_start:accept_end]`` (absolute offsets),
    in offset order, and how many were left unexamined over the per-chunk cap."""
    return candidates_in(carve_rules().rules.match(data=buf), buf, base, accept_start, accept_end)


def candidates_in(
    matches: Iterable[yara.Match],
    buf: bytes,
    base: int,
    accept_start: int,
    accept_end: int | None,
) -> tuple[list[Candidate], int]:
    """``find_candidates`` from YARA matches of the carve rules over ``buf`` already made
    (alone, or in ``CARVE_NAMESPACE`` of a joined rule set)."""
    rules = carve_rules()
    limit = len(buf) if accept_end is None else accept_end
    found: list[Candidate] = []
    for match in matches:
        for string in match.strings:
            name, pattern = rules.patterns[(match.rule, string.identifier)]
            cls = FormatParser.registry[name]
            for instance in string.instances:
                if not accept_start <= instance.offset < limit:
                    continue
                start = cls.carve_start(buf, instance.offset, pattern)
                if start is None:
                    continue
                found.append(Candidate(base + start, name, pattern.footer, base + instance.offset))
    # At one offset a footer goes first (PJL's footer starts with the UEL that also opens a job:
    # taken as a header it would carve just the trailer), then the most specific format (PWG
    # raster before CUPS raster).
    priority = {name: cls.priority for name, cls in FormatParser.registry.items()}
    found.sort(key=lambda c: (c.offset, not c.footer, priority[c.format], c.format))
    unique: list[Candidate] = []
    for candidate in found:
        if unique and (unique[-1].offset, unique[-1].format) == (
            candidate.offset,
            candidate.format,
        ):
            continue
        unique.append(candidate)
    dropped = max(0, len(unique) - MAX_CANDIDATES_PER_CHUNK)
    return unique[:MAX_CANDIDATES_PER_CHUNK], dropped


_PENDING = object()


@dataclass
class Carver:
    """Decides, in offset order, which candidates are instances and where each ends.

    Fed the stream's chunks in order (``feed``), it holds just the bytes it still needs: from
    the oldest undecided candidate, and MAX_TAIL_BYTES back for headless tails.
    """

    image_size: int
    locate: Callable[[int], Location]
    regions: list[CarvedRegion] = field(default_factory=list)
    candidates_seen: int = 0
    candidates_unexamined: int = 0
    _held: deque[tuple[int, memoryview]] = field(default_factory=deque)
    _queue: deque[Candidate] = field(default_factory=deque)
    _covered_until: int = 0
    _available: int = 0
    _tried: dict[int, int] = field(default_factory=dict)  # candidate offset → window tried
    _parsers: dict[str, FormatParser] = field(default_factory=dict)

    def feed(self, pos: int, core: memoryview, candidates: list[Candidate], dropped: int) -> None:
        """The chunk ``core`` starting at image offset ``pos``, and the candidates in it."""
        self._held.append((pos, core))
        self._available = pos + len(core)
        self.candidates_seen += len(candidates) + dropped
        self.candidates_unexamined += dropped
        room = MAX_QUEUED - len(self._queue)
        if len(candidates) > room:
            self.candidates_unexamined += len(candidates) - max(0, room)
            candidates = candidates[: max(0, room)]
        self._queue.extend(candidates)
        self._decide(final=self._available >= self.image_size)
        self._trim()

    def finish(self) -> None:
        """End of the medium: decide every candidate still waiting."""
        self._decide(final=True)
        self._queue.clear()
        self._held.clear()

    # --- deciding ---------------------------------------------------------------------------

    def _decide(self, final: bool) -> None:
        while self._queue:
            candidate = self._queue[0]
            if candidate.offset < self._covered_until or candidate.offset >= self.image_size:
                self._queue.popleft()
                continue
            try:
                outcome = self._examine(candidate, final)
            except Exception:  # a format's extent() on hostile bytes must not stop the scan
                log.debug(
                    "carving %s at %d failed", candidate.format, candidate.offset, exc_info=True
                )
                outcome = None
            if outcome is _PENDING:
                return
            self._queue.popleft()
            self._tried.pop(candidate.offset, None)
            if isinstance(outcome, CarvedRegion):
                self.regions.append(outcome)
                self._covered_until = outcome.image_offset + outcome.length

    def _examine(self, candidate: Candidate, final: bool) -> object:
        location = self.locate(candidate.offset)
        if location.location_class not in CARVABLE:
            return None
        if candidate.footer:
            return self._tail(candidate, location, final)
        offset = candidate.offset
        reach = min(self._available, self.image_size, offset + MAX_CARVE_BYTES)
        if reach - offset < SNIFF_BYTES and not final and reach < self.image_size:
            return _PENDING
        cls = FormatParser.registry[candidate.format]
        if not cls.sniff(self._bytes(offset, offset + SNIFF_BYTES), None):
            return None
        parser = self._parser(candidate.format)
        size = max(FIRST_WINDOW, self._tried.get(offset, 0))
        while True:
            window = min(size, reach - offset)
            data = self._bytes(offset, offset + window)
            length = parser.extent(data, 0)
            if length is not None and 0 < length < len(data):
                return self._region(candidate, location, length, True)
            at_medium_end = offset + window >= self.image_size
            if offset + window >= reach:
                more_to_come = not final and reach < offset + MAX_CARVE_BYTES
                if more_to_come and reach < self.image_size:
                    self._tried[offset] = window
                    return _PENDING
                end = length if length else self._fragment_end(offset, data)
                if not end:
                    return None
                why = (
                    "the medium ends inside it"
                    if at_medium_end
                    else f"no end found within {MAX_CARVE_BYTES} bytes"
                )
                return self._region(candidate, location, end, False, f"fragment: {why}")
            size *= 8

    def _tail(self, candidate: Candidate, location: Location, final: bool) -> object:
        """A footer outside every carved instance: keep the job's tail, back to a zero block."""
        footer = candidate.offset
        reach = min(self._available, self.image_size)
        if reach - footer < SNIFF_BYTES and not final and reach < self.image_size:
            return _PENDING
        parser = self._parser(candidate.format)
        trailer = self._bytes(footer, min(reach, footer + FIRST_WINDOW))
        length = parser.extent(trailer, 0) or 0
        end = footer + max(length, 1)
        held_start = self._held[0][0] if self._held else footer
        floor = max(self._covered_until, held_start, footer - MAX_TAIL_BYTES)
        start = (footer // BLOCK) * BLOCK
        while start - BLOCK >= floor:
            block = self._bytes(start - BLOCK, start)
            if not any(block) or self.locate(start - BLOCK).location_class not in CARVABLE:
                break
            start -= BLOCK
        start = max(start, floor)
        # Skip whole zero sectors in the footer's own block (overwritten or never written);
        # a zero byte inside a written sector is the job's own data and stays.
        while start + SECTOR <= footer and not any(self._bytes(start, start + SECTOR)):
            start += SECTOR
        if start >= footer:
            return None  # nothing before the footer: no lost job to speak of
        tail_location = self.locate(start)
        if tail_location.location_class not in CARVABLE:
            tail_location = location
        return CarvedRegion(
            format=candidate.format,
            image_offset=start,
            length=end - start,
            complete=False,
            location_class=tail_location.location_class,
            address=tail_location.address,
            headless=True,
            footer_offset=footer - start,
            note=f"head overwritten: {footer - start} bytes before the {candidate.format} footer "
            "recovered",
        )

    def _fragment_end(self, offset: int, data: bytes) -> int:
        """Where a fragment without a known end stops: before the first all-zero aligned block,
        the next candidate, a byte a file claims, or MAX_FRAGMENT_BYTES."""
        limit = min(len(data), MAX_FRAGMENT_BYTES)
        for later in self._queue:
            if later.offset > offset:
                limit = min(limit, later.offset - offset)
                break
        first_boundary = (-offset) % BLOCK
        blocks = (limit - first_boundary) // BLOCK if limit > first_boundary else 0
        if blocks:
            body = np.frombuffer(data, dtype=np.uint8, count=first_boundary + blocks * BLOCK)
            rows = body[first_boundary:].reshape(blocks, BLOCK)
            zero = np.flatnonzero(~rows.any(axis=1))
            if zero.size:
                limit = min(limit, first_boundary + int(zero[0]) * BLOCK)
        boundary = offset - offset % BLOCK + BLOCK  # the first aligned block after the start
        while boundary < offset + limit:
            if self.locate(boundary).location_class not in CARVABLE:
                limit = boundary - offset
                break
            boundary += BLOCK
        return len(data[:limit].rstrip(b"\x00"))

    def _region(
        self, candidate: Candidate, location: Location, length: int, complete: bool, note: str = ""
    ) -> CarvedRegion:
        return CarvedRegion(
            format=candidate.format,
            image_offset=candidate.offset,
            length=length,
            complete=complete,
            location_class=location.location_class,
            address=location.address,
            note=note,
        )

    def _parser(self, name: str) -> FormatParser:
        parser = self._parsers.get(name)
        if parser is None:
            parser = self._parsers[name] = FormatParser.registry[name]()
        return parser

    # --- the bytes held ---------------------------------------------------------------------

    def _bytes(self, start: int, end: int) -> bytes:
        """Held stream bytes ``[start, end)`` (clipped to what is held)."""
        pieces: list[memoryview] = []
        for pos, core in self._held:
            if pos + len(core) <= start or pos >= end:
                continue
            pieces.append(core[max(0, start - pos) : min(len(core), end - pos)])
        return b"".join(pieces)

    def _trim(self) -> None:
        """Forget chunks no waiting candidate and no future tail needs."""
        keep_from = self._available - MAX_TAIL_BYTES
        if self._queue:
            keep_from = min(keep_from, self._queue[0].offset)
        while len(self._held) > 1:
            pos, core = self._held[0]
            if pos + len(core) > keep_from:
                break
            self._held.popleft()
