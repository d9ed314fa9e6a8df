"""Read-only access to disk images: raw/dd, split raw and EWF (E01) (DESIGN.md, "Pipeline").

Every image exposes ``read(offset, size)`` over one flat address space, whatever the container.
Evidence files are only ever opened read-only, and nothing here reads a whole image into memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import pyewf
import pytsk3

from forensics.errors import ImageReadError, InputError
from forensics.records import ByteRun, Problem

# EWF version 1 segment file signature ("EVF" 0x09 0x0D 0x0A 0xFF 0x00) at offset 0 of every
# segment (libyal "Expert Witness Compression Format" specification, "File header").
# EWF2 (.Ex01) uses "EVF2\r\n\x81\x00".
EWF1_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
EWF2_SIGNATURE = b"EVF2\x0d\x0a\x81\x00"
# Logical evidence files (.L01/.Lx01) hold files, not a disk: refuse them with a clear message.
LEF1_SIGNATURE = b"LVF\x09\x0d\x0a\xff\x00"
LEF2_SIGNATURE = b"LEF2\x0d\x0a\x81\x00"

log = logging.getLogger(__name__)

MAX_OPEN_SEGMENTS = 64  # file descriptors kept open at once for a split image
MAX_SPLIT_SEGMENTS = 1_000_000  # bound on the number of split segments followed
_PREAD_MAX = 0x7FFF_F000  # Linux transfers at most this many bytes per read(2)/pread(2)


def format_size(size: int) -> str:
    """Human size with binary units, e.g. ``1.0 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


class Image(ABC):
    """A read-only disk image with one flat, byte-addressable address space."""

    paths: tuple[Path, ...]
    format: str
    size: int
    # Whether processes forked from this one may read through the same object at once: true
    # when every read is a pread of its own (no shared file position, no library state).
    forks_share: ClassVar[bool] = False
    sector_size: int
    stored_hashes: dict[str, str]
    problems: list[Problem]

    def __init__(
        self, paths: tuple[Path, ...], fmt: str, size: int, sector_size: int = 512
    ) -> None:
        self.paths = paths
        self.format = fmt
        self.size = size
        self.sector_size = sector_size
        self.stored_hashes = {}
        self.problems = []
        self._closed = False

    def read(self, offset: int, size: int) -> bytes:
        """Return ``size`` bytes at ``offset`` (fewer only at the image end, ``b""`` past it)."""
        if offset < 0 or size < 0:
            raise ValueError(f"negative offset or size: offset={offset} size={size}")
        if self._closed:
            raise ValueError("read from a closed image")
        if size == 0 or offset >= self.size:
            return b""
        size = min(size, self.size - offset)
        data = self._read(offset, size)
        if len(data) != size:
            raise ImageReadError(
                f"{self.paths[0].name}: short read at offset {offset}: "
                f"got {len(data)} of {size} bytes (was the image file changed?)"
            )
        return data

    @abstractmethod
    def _read(self, offset: int, size: int) -> bytes:
        """Read exactly ``size`` bytes at ``offset``; the range is inside ``[0, self.size)``."""

    def close(self) -> None:
        """Release file handles; further reads raise ``ValueError``."""
        if not self._closed:
            self._closed = True
            self._close()

    @abstractmethod
    def _close(self) -> None: ...

    def __enter__(self) -> Image:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def describe(self) -> str:
        """One line for humans, e.g. ``raw image printer.dd (1.0 GiB)``."""
        name = self.paths[0].name
        if self.format == "raw":
            return f"raw image {name} ({format_size(self.size)})"
        kind = "split raw image" if self.format == "split-raw" else "E01 image"
        count = len(self.paths)
        segments = f"{count} segment{'s' if count != 1 else ''}"
        return f"{kind} {name} ({segments}, {format_size(self.size)})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _pread_exact(fd: int, offset: int, size: int, path: Path) -> bytes:
    """``os.pread`` until ``size`` bytes or end of file; I/O errors become ImageReadError."""
    parts: list[bytes] = []
    done = 0
    while done < size:
        try:
            chunk = os.pread(fd, min(size - done, _PREAD_MAX), offset + done)
        except OSError as exc:
            raise ImageReadError(
                f"cannot read {path.name} at offset {offset + done}: {exc.strerror or exc}"
            ) from exc
        if not chunk:
            break
        parts.append(chunk)
        done += len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _open_readonly(path: Path) -> int:
    """Open a regular file or block device read-only; failures become one-line InputErrors."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot access: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path} is a directory, not a disk image")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise InputError(f"{path} is not a regular file or block device")
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except PermissionError:
        raise InputError(f"{path} is not readable: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be opened: {exc.strerror or exc}") from None


def _fd_size(fd: int, path: Path) -> int:
    """Size of an open file or block device (``st_size`` is 0 for block devices)."""
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    except OSError as exc:
        raise InputError(f"{path} is not seekable: {exc.strerror or exc}") from None


class RawImage(Image):
    """A single raw (dd) file or block device, read with ``os.pread`` (no shared file position)."""

    forks_share = True

    def __init__(self, path: Path) -> None:
        fd = _open_readonly(path)
        size = _fd_size(fd, path)
        if size == 0:
            os.close(fd)
            raise InputError(f"{path} is empty (0 bytes): not a disk image")
        super().__init__((path,), "raw", size)
        self._fd = fd

    def _read(self, offset: int, size: int) -> bytes:
        return _pread_exact(self._fd, offset, size, self.paths[0])

    def _close(self) -> None:
        os.close(self._fd)


class SplitRawImage(Image):
    """Raw image split into consecutive segment files; reads may span segment boundaries."""

    forks_share = True  # os.pread on descriptors each process opens or inherits

    def __init__(self, paths: tuple[Path, ...], problems: list[Problem]) -> None:
        sizes: list[int] = []
        for path in paths:
            fd = _open_readonly(path)
            try:
                sizes.append(_fd_size(fd, path))
            finally:
                os.close(fd)
        total = sum(sizes)
        if total == 0:
            raise InputError(f"{paths[0]} is empty (0 bytes): not a disk image")
        super().__init__(paths, "split-raw", total)
        self.problems.extend(problems)
        self._starts: list[int] = []
        pos = 0
        for seg_size in sizes:
            self._starts.append(pos)
            pos += seg_size
        self._sizes = sizes
        self._lock = threading.Lock()
        # segment index -> [fd, readers]; least recently used first
        self._fds: OrderedDict[int, list[int]] = OrderedDict()

    def _acquire(self, index: int) -> int:
        with self._lock:
            entry = self._fds.get(index)
            if entry is None:
                entry = [_open_readonly(self.paths[index]), 0]
                self._fds[index] = entry
            self._fds.move_to_end(index)
            entry[1] += 1
            self._evict()
            return entry[0]

    def _release(self, index: int) -> None:
        with self._lock:
            entry = self._fds.get(index)
            if entry is not None:
                entry[1] -= 1
            self._evict()

    def _evict(self) -> None:
        """Close idle descriptors beyond MAX_OPEN_SEGMENTS (caller holds the lock)."""
        excess = len(self._fds) - MAX_OPEN_SEGMENTS
        for index in list(self._fds):
            if excess <= 0:
                break
            fd, readers = self._fds[index]
            if readers == 0:
                del self._fds[index]
                os.close(fd)
                excess -= 1

    def _segment_at(self, offset: int) -> int:
        lo, hi = 0, len(self._starts) - 1
        while lo < hi:  # last segment whose start <= offset (skips empty segments)
            mid = (lo + hi + 1) // 2
            if self._starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _read(self, offset: int, size: int) -> bytes:
        parts: list[bytes] = []
        index = self._segment_at(offset)
        remaining = size
        pos = offset
        while remaining > 0 and index < len(self.paths):
            inner = pos - self._starts[index]
            take = min(remaining, self._sizes[index] - inner)
            if take > 0:
                fd = self._acquire(index)
                try:
                    data = _pread_exact(fd, inner, take, self.paths[index])
                finally:
                    self._release(index)
                parts.append(data)
                if len(data) != take:
                    break
                pos += take
                remaining -= take
            index += 1
        return b"".join(parts)

    def _close(self) -> None:
        with self._lock:
            for fd, _readers in self._fds.values():
                os.close(fd)
            self._fds.clear()


def _short_ewf_reason(exc: BaseException) -> str:
    """The innermost libewf message of a pyewf error chain, on one line."""
    sentences = [s.strip() for s in str(exc).replace("\n", " ").split(". ") if s.strip()]
    if not sentences:
        return type(exc).__name__
    pick = sentences[1] if len(sentences) > 1 else sentences[0]
    pick = re.sub(r"^[a-z0-9_]+: ", "", pick).rstrip(".")
    return pick


_EWF_ERRORS = (OSError, MemoryError, ValueError, TypeError, RuntimeError)


class EwfImage(Image):
    """An EWF (E01) image read through pyewf; one lock serialises the handle."""

    def __init__(self, path: Path) -> None:
        filenames = self._segment_names(path)
        handle = pyewf.handle()
        try:
            handle.open([str(f) for f in filenames], "r")
        except _EWF_ERRORS as exc:
            raise InputError(
                f"{path} is not a readable E01 image: {_short_ewf_reason(exc)}"
            ) from None
        try:
            media_size = int(handle.get_media_size())
            sector_size = int(handle.get_bytes_per_sector()) or 512
        except _EWF_ERRORS as exc:
            handle.close()
            raise InputError(
                f"{path} is not a readable E01 image: {_short_ewf_reason(exc)}"
            ) from None
        self._handle = handle
        self._lock = threading.Lock()
        super().__init__(tuple(filenames), "ewf", media_size, sector_size)
        self.stored_hashes = self._hashes()
        self._check_segments(path, filenames)
        if media_size == 0:
            self.close()
            raise InputError(f"{path} is empty (0 bytes of media): not a disk image")
        readable = self._readable_size(media_size)
        if readable == 0:
            self.close()
            raise InputError(f"{path} is not a readable E01 image: no media data can be read")
        if readable < media_size:
            self.problems.append(
                Problem(
                    "image-truncated",
                    f"E01 declares {media_size} bytes of media but only the first {readable} "
                    "can be read (segment files missing or damaged)",
                    severity="error",
                    image_offset=readable,
                )
            )
            self.size = readable

    @staticmethod
    def _segment_names(path: Path) -> list[Path]:
        try:
            names = pyewf.glob(str(path))
        except _EWF_ERRORS:
            names = []  # unusual extension: libewf only globs .E01/.s01/... names
        found = [Path(n) for n in names if os.path.exists(n)]
        return found or [path]

    def _hashes(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in ("MD5", "SHA1", "SHA256"):
            try:
                value = self._handle.get_hash_value(name)
            except _EWF_ERRORS:
                value = None
            if value and re.fullmatch(r"[0-9a-fA-F]+", value) and set(value) != {"0"}:
                out[name.lower()] = value.lower()
        return out

    def _check_segments(self, path: Path, found: list[Path]) -> None:
        """Report segment files on disk past a gap in the .E01, .E02 ... sequence."""
        first = found[0]
        stem, ext = first.stem, first.suffix
        if not re.fullmatch(r"\.[ES][0-9]{2}", ext, re.IGNORECASE):
            return
        # libewf segment names: .E01-.E99 then .EAA-.ZZZ (.s01... for SMART); letter pairs only
        # count once the digits are used up, so "case.txt" next to "case.E01" is not a segment.
        tail = r"[0-9]{2}" if len(found) < 99 else r"(?:[0-9]{2}|[A-Z]{2})"
        pattern = re.compile(re.escape(stem) + r"\.[" + ext[1] + r"-Z]" + tail, re.IGNORECASE)
        have = {p.name for p in found}
        try:
            siblings = [e.name for e in os.scandir(first.parent or ".")]
        except OSError:
            return
        extra = sorted(n for n in siblings if pattern.fullmatch(n) and n not in have)
        if extra:
            last = found[-1]
            number = re.fullmatch(r"\.[A-Z]([0-9]{2})", last.suffix, re.IGNORECASE)
            if number and int(number.group(1)) < 99:
                missing = f"{stem}{last.suffix[:2]}{int(number.group(1)) + 1:02d}"
            else:
                missing = f"after {last.name}"
            self.problems.append(
                Problem(
                    "missing-segment",
                    f"E01 segment {missing} is missing; later segments ({', '.join(extra[:3])}"
                    f"{', ...' if len(extra) > 3 else ''}) were not used",
                    severity="error",
                )
            )

    def _can_read(self, offset: int) -> bool:
        try:
            with self._lock:
                data = self._handle.read_buffer_at_offset(1, offset)
        except _EWF_ERRORS:
            return False
        return len(data) == 1

    def _readable_size(self, media_size: int) -> int:
        """Media bytes readable from the start (missing segments leave only a readable prefix)."""
        if self._can_read(media_size - 1):
            return media_size
        try:
            chunk = int(self._handle.get_chunk_size()) or 32768
        except _EWF_ERRORS:
            chunk = 32768
        chunks = (media_size + chunk - 1) // chunk
        if not self._can_read(0):
            return 0
        lo, hi = 0, chunks - 1  # chunk lo is readable, chunk hi is not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._can_read(mid * chunk):
                lo = mid
            else:
                hi = mid
        return min(hi * chunk, media_size)

    def _read(self, offset: int, size: int) -> bytes:
        try:
            with self._lock:
                data = self._handle.read_buffer_at_offset(size, offset)
        except _EWF_ERRORS as exc:
            raise ImageReadError(
                f"cannot read E01 image {self.paths[0].name} at offset {offset} "
                f"({size} bytes): {_short_ewf_reason(exc)}"
            ) from None
        return bytes(data)

    def _close(self) -> None:
        with self._lock, contextlib.suppress(*_EWF_ERRORS):
            self._handle.close()


# --- split raw naming ----------------------------------------------------------------------

_DIGITS = "0123456789"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _increment(suffix: str, alphabet: str) -> str | None:
    """Next suffix of the same width (``aa``→``ab``, ``009``→``010``); None on overflow."""
    chars = list(suffix)
    for i in range(len(chars) - 1, -1, -1):
        pos = alphabet.index(chars[i])
        if pos + 1 < len(alphabet):
            chars[i] = alphabet[pos + 1]
            return "".join(chars)
        chars[i] = alphabet[0]
    return None


def _split_series(path: Path) -> tuple[str, str, str, set[str]] | None:
    """(prefix, suffix, alphabet, suffixes present) when ``path`` looks like a split segment.

    Numeric suffixes (``disk.001``, ``disk.000``, ``x00``) are the trailing 2-6 digits; letter
    suffixes (``disk.aa``, ``diskaa``, ``xaaa``) are the trailing run of ``a`` (2-4 letters) for a
    first segment, or the last 2-3 letters otherwise. The prefix is never empty.
    """
    name = path.name
    candidates: list[tuple[str, str, str]] = []
    digits = re.search(r"[0-9]{2,6}$", name)
    if digits:
        candidates.append((name[: digits.start()], digits.group(), _DIGITS))
    a_run = re.search(r"a{2,4}$", name)
    if a_run:
        candidates.append((name[: a_run.start()], a_run.group(), _LETTERS))
    elif re.search(r"[a-z]{2}$", name):
        candidates.extend((name[:-w], name[-w:], _LETTERS) for w in (2, 3))
    candidates = [c for c in candidates if c[0] and all(ch in c[2] for ch in c[1])]
    if not candidates:
        return None
    try:
        siblings = [e.name for e in os.scandir(path.parent)]
    except OSError:
        return None
    for prefix, suffix, alphabet in candidates:
        width = len(suffix)
        members = {
            rest
            for rest in (s[len(prefix) :] for s in siblings if s.startswith(prefix))
            if len(rest) >= width
            and (len(rest) - width) % 2 == 0
            and all(c in alphabet for c in rest)
        }
        if members - {suffix}:
            return prefix, suffix, alphabet, members
    return None


def _first_suffix(alphabet: str, width: int) -> set[str]:
    if alphabet == _DIGITS:
        return {"0" * width, "0" * (width - 1) + "1"}
    return {"a" * width}


def _walk(start: str, alphabet: str, members: set[str]) -> list[str]:
    """Consecutive suffixes present from ``start`` on (GNU split widening: yz -> zaaa)."""
    chain = [start]
    current = start
    while len(chain) < MAX_SPLIT_SEGMENTS:
        nxt = _increment(current, alphabet)
        if nxt is None:
            break
        if nxt in members:
            current = nxt
        elif nxt + alphabet[0] * 2 in members:
            current = nxt + alphabet[0] * 2
        else:
            break
        chain.append(current)
    return chain


def _collect_split(path: Path) -> tuple[tuple[Path, ...], list[Problem]] | None:
    """Consecutive segments starting at ``path``, or None if it is not a split image."""
    series = _split_series(path)
    if series is None:
        return None
    prefix, suffix, alphabet, members = series
    firsts = _first_suffix(alphabet, len(suffix))
    for start in sorted(firsts & members):
        if start != suffix and suffix in _walk(start, alphabet, members):
            raise InputError(
                f"{path} is not the first segment of a split image; give {prefix}{start}"
            )
    if suffix not in firsts:
        return None
    chain = _walk(suffix, alphabet, members)
    problems: list[Problem] = []
    used = set(chain)
    later = sorted(
        m for m in members if m not in used and (len(m), m) > (len(chain[-1]), chain[-1])
    )
    if later:
        expected = _increment(chain[-1], alphabet) or chain[-1]
        problems.append(
            Problem(
                "missing-segment",
                f"split segment {prefix}{expected} is missing; the image stops after "
                f"{prefix}{chain[-1]} and {len(later)} later segment(s) were not used",
                severity="error",
            )
        )
    if len(chain) == 1 and not problems:
        return None
    return tuple(path.parent / (prefix + s) for s in chain), problems


def open_image(path: str | os.PathLike[str]) -> Image:
    """Open a raw, split raw or E01 image read-only; user-facing failures raise InputError."""
    p = Path(path)
    fd = _open_readonly(p)  # existence, type and permission checks with one-line messages
    try:
        size = _fd_size(fd, p)
        head = _pread_exact(fd, 0, 8, p) if size else b""
    except ImageReadError as exc:
        raise InputError(str(exc)) from None
    finally:
        os.close(fd)
    if head in (EWF1_SIGNATURE, EWF2_SIGNATURE):
        return EwfImage(p)
    if head in (LEF1_SIGNATURE, LEF2_SIGNATURE):
        raise InputError(f"{p} is an EWF logical evidence file (L01), not a disk image")
    split = _collect_split(p)
    if split is not None:
        paths, problems = split
        return SplitRawImage(paths, problems)
    return RawImage(p)


def read_tolerant(
    image: Image, offset: int, size: int, piece: int, unit: int
) -> tuple[bytes, list[int]]:
    """``size`` bytes at ``offset``, never failing on a bad medium: after a failed read the range
    is read again in ``piece``-aligned pieces (aligned on absolute offsets, so overlapping reads
    meet the same pieces), a failed piece in ``unit``-sized parts; what cannot be read comes
    back as zeros. Returns the bytes and the absolute start offsets of the unreadable units."""
    try:
        return image.read(offset, size), []
    except ImageReadError:
        pass
    pieces: list[bytes] = []
    bad: list[int] = []
    end = min(image.size, offset + size)
    for start, stop in _aligned(offset, end, piece):
        try:
            pieces.append(image.read(start, stop - start))
            continue
        except ImageReadError:
            log.debug("unreadable piece at %d", start, exc_info=True)
        # The piece failed: read it again unit by unit (when units are smaller than pieces).
        parts = _aligned(start, stop, unit) if unit < piece else iter([(start, stop)])
        for part, part_end in parts:
            data = _read_or_none(image, part, part_end - part) if unit < piece else None
            if data is None:
                data = bytes(part_end - part)
                bad.append(part)
            pieces.append(data)
    return b"".join(pieces), bad


def _read_or_none(image: Image, offset: int, size: int) -> bytes | None:
    try:
        return image.read(offset, size)
    except ImageReadError:
        return None


def _aligned(start: int, end: int, step: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` cut at the multiples of ``step``."""
    while start < end:
        stop = min(end, (start // step + 1) * step)
        yield start, stop
        start = stop


def read_runs(image: Image, runs: Iterable[ByteRun], offset: int, size: int) -> bytes:
    """Bytes ``[offset, offset + size)`` of a file laid out in ``runs`` (file offsets → image)."""
    parts: list[bytes] = []
    for run in runs:
        lo = max(offset, run.file_offset)
        hi = min(offset + size, run.file_offset + run.length)
        if lo < hi:
            parts.append(image.read(run.image_offset + lo - run.file_offset, hi - lo))
    return b"".join(parts)


def is_container(path: Path) -> bool:
    """True for an E01 (or L01) segment or the first segment of a split raw image."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    if head in (EWF1_SIGNATURE, EWF2_SIGNATURE, LEF1_SIGNATURE, LEF2_SIGNATURE):
        return True
    return _collect_split(path) is not None


def iter_chunks(
    image: Image, chunk_size: int, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, data)`` for consecutive reads over ``[start, end)`` of the image."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    if start < 0:
        raise ValueError(f"negative start offset: {start}")
    stop = image.size if end is None else min(end, image.size)
    offset = start
    while offset < stop:
        data = image.read(offset, min(chunk_size, stop - offset))
        if not data:
            return
        yield offset, data
        offset += len(data)


class TskImage(pytsk3.Img_Info):  # type: ignore[misc]
    """pytsk3 adapter: lets The Sleuth Kit read any ``Image`` (zero-pads reads past the end)."""

    def __init__(self, image: Image) -> None:
        self._image = image
        # pytsk3 turns an exception raised here into a RuntimeError and loses its type: keep
        # a count so callers can tell unreadable media from a damaged file system.
        self.read_errors = 0
        pytsk3.Img_Info.__init__(self, url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, size: int) -> bytes:
        try:
            data = self._image.read(offset, size)
        except ImageReadError:
            self.read_errors += 1
            raise
        if len(data) < size:
            data += b"\x00" * (size - len(data))
        return data

    def get_size(self) -> int:
        return self._image.size

    def close(self) -> None:
        """Leave the wrapped Image open: its owner closes it."""
