"""File systems through pytsk3: allocated and deleted entries, data runs, slack, unallocated space.

Everything is expressed in absolute image offsets so that a hit found by the sequential raw pass
can be attributed to a file, its slack, a deleted file's former blocks, or free space.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import construct
import pytsk3
from construct import Bytes, Const, Int8sl, Int8ul, Int16ul, Int32ul, Struct

from forensics.evidence.allocation import (
    AllocationMap,
    all_allocated,
    bitmap_file_allocation,
    ext_allocation,
    fat_allocation,
    safe_parse,
)
from forensics.evidence.disk import Volume
from forensics.evidence.image import Image, TskImage
from forensics.records import ByteRun, FileEntry, Problem

log = logging.getLogger(__name__)

MAX_ENTRIES_PER_FS = 2_000_000  # a printer FS has thousands; a hostile one must not exhaust memory
MAX_DEPTH = 128
MAX_RUNS_PER_FILE = 200_000
MAX_BITMAP_FILE = 256 * 1024 * 1024

# Attribute types that hold file content (TSK tsk_fs.h TSK_FS_ATTR_TYPE_ENUM).
_DATA_ATTR_TYPES = {
    int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT),
    int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA),
    int(pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA),
    int(pytsk3.TSK_FS_ATTR_TYPE_HFS_DEFAULT),
}
_SKIP_RUN = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE) | int(pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER)

# Well-known magic numbers, to tell a damaged file system from space that never held one.
_FS_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (1080, b"\x53\xef", "ext"),  # ext2/3/4 s_magic at superblock (1024) + 56
    (3, b"NTFS    ", "ntfs"),  # NTFS boot sector OEM id
    (3, b"EXFAT   ", "exfat"),
    (54, b"FAT12   ", "fat12"),  # BS_FilSysType (FAT12/16)
    (54, b"FAT16   ", "fat16"),
    (82, b"FAT32   ", "fat32"),
    (1024, b"H+", "hfs+"),
    (1024, b"HX", "hfsx"),
    (32769, b"CD001", "iso9660"),
)
# MBR partition types that announce a file system (so an unopenable one is corrupt, not unknown).
_FS_PARTITION_TYPES = {0x01, 0x04, 0x06, 0x07, 0x0B, 0x0C, 0x0E, 0x83, 0xA5, 0xA9, 0xAF}


_FS_TYPE_NAMES = {
    int(getattr(pytsk3, name)): name.removeprefix("TSK_FS_TYPE_").lower()
    for name in dir(pytsk3)
    if name.startswith("TSK_FS_TYPE_")
    and not name.endswith(("_DETECT", "_ENUM"))
    and isinstance(getattr(pytsk3, name), int)
}


def fs_type_name(ftype: object) -> str:
    """TSK's file-system type as a short name: ``ext4``, ``fat16``, ``ntfs``, ``hfs``…"""
    try:
        return _FS_TYPE_NAMES.get(int(ftype), f"tsk-type-{int(ftype)}")  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(ftype)


def _utc(seconds: int, nanos: int = 0) -> str | None:
    if not seconds or seconds < 0:
        return None
    try:
        stamp = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += f".{nanos:09d}".rstrip("0")
    return text + "Z"


def _decode_name(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    return raw.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True)
class WalkedFile:
    """One directory entry with where its bytes are: data runs, slack runs, resident content."""

    entry: FileEntry
    slack: tuple[ByteRun, ...]
    deleted_content: bool  # deleted, and the metadata still points at (unreallocated) data
    resident: bool  # content stored inside the metadata record (NTFS resident $DATA)
    fragmented: bool  # more than one non-adjacent data run


class FileSystem:
    """A file system opened through pytsk3 on one volume of an image."""

    def __init__(self, image: Image, tsk_image: TskImage, volume: Volume, fs: pytsk3.FS_Info):
        self.image = image
        self.volume = volume
        self._tsk_image = tsk_image
        self._fs = fs
        info = fs.info
        self.type = fs_type_name(info.ftype)
        self.block_size = int(info.block_size)
        self.block_count = int(info.block_count)
        self.offset = volume.offset
        self.problems: list[Problem] = []
        self._emitted = 0
        self._mft: _MftLocator | None = None
        # Bytes of this volume that exist in the image (the volume may run past the image end).
        self.end = volume.offset + volume.length

    @property
    def declared_size(self) -> int:
        return self.block_count * self.block_size

    # --- directory walk -------------------------------------------------------------------

    def walk(self) -> Iterator[WalkedFile]:
        """Every allocated and deleted entry, depth-first from the root, each directory once.

        TSK's ``$OrphanFiles`` (deleted inodes no name points at) is listed last, through a
        fresh FS_Info: that listing walks every inode, and on a damaged or truncated file system
        a failure there leaves TSK's cached allocation bitmaps stale, which would otherwise
        mislabel allocated files listed afterwards as deleted.
        """
        root = int(self._fs.info.root_inum)
        visited: set[int] = {root}
        orphan_dirs: list[tuple[int, str]] = []
        self._emitted = 0
        yield from self._walk_tree(self._fs, root, "", visited, orphan_dirs)
        for inode, path in orphan_dirs:
            try:
                fresh = pytsk3.FS_Info(self._tsk_image, offset=self.offset)
            except (OSError, RuntimeError):
                log.debug("cannot reopen the file system for orphans", exc_info=True)
                break
            yield from self._walk_tree(fresh, inode, path, visited, [])

    def _walk_tree(
        self,
        fs: pytsk3.FS_Info,
        top: int,
        top_path: str,
        visited: set[int],
        orphan_dirs: list[tuple[int, str]],
    ) -> Iterator[WalkedFile]:
        stack: list[tuple[int, str, int]] = [(top, top_path, 0)]
        while stack:
            inode, parent, depth = stack.pop()
            try:
                children = list(fs.open_dir(inode=inode))
            except OSError as exc:
                self._problem("unreadable-directory", f"cannot list {parent or '/'}: {exc}")
                continue
            for tsk_file in children:
                walked = self._describe(tsk_file, parent)
                if walked is None:
                    continue
                self._emitted += 1
                if self._emitted > MAX_ENTRIES_PER_FS:
                    self._problem(
                        "too-many-files", f"stopped listing after {MAX_ENTRIES_PER_FS} entries"
                    )
                    return
                yield walked
                entry = walked.entry
                if entry.kind != "dir" or entry.inode is None or entry.inode in visited:
                    continue
                if self._emitted >= MAX_ENTRIES_PER_FS:
                    continue
                visited.add(entry.inode)
                if entry.path == "/$OrphanFiles":
                    orphan_dirs.append((entry.inode, entry.path))
                elif depth + 1 > MAX_DEPTH:
                    self._problem("directory-too-deep", f"not descending into {entry.path}")
                else:
                    stack.append((entry.inode, entry.path, depth + 1))

    def _describe(self, tsk_file: pytsk3.File, parent: str) -> WalkedFile | None:
        name_info = tsk_file.info.name
        if name_info is None:
            return None
        raw_name = name_info.name
        if raw_name in (b".", b"..", ".", ".."):
            return None
        path = f"{parent}/{_decode_name(raw_name)}"
        meta = tsk_file.info.meta
        name_alloc = bool(int(name_info.flags) & int(pytsk3.TSK_FS_NAME_FLAG_ALLOC))
        meta_alloc = meta is not None and bool(int(meta.flags) & int(pytsk3.TSK_FS_META_FLAG_ALLOC))
        allocated = name_alloc and (meta is None or meta_alloc)
        kind = "other"
        if meta is not None:
            if (
                meta.type == pytsk3.TSK_FS_META_TYPE_DIR
                or meta.type == pytsk3.TSK_FS_META_TYPE_VIRT_DIR
            ):
                kind = "dir"
            elif meta.type in (pytsk3.TSK_FS_META_TYPE_REG, pytsk3.TSK_FS_META_TYPE_VIRT):
                kind = "file"
        elif name_info.type == pytsk3.TSK_FS_NAME_TYPE_DIR:
            kind = "dir"
        inode = int(meta.addr) if meta is not None else int(name_info.meta_addr)
        size = max(0, int(meta.size)) if meta is not None else 0
        # A deleted name whose inode now belongs to another file has no content of its own.
        content_usable = meta is not None and (allocated or not meta_alloc)
        runs: tuple[ByteRun, ...] = ()
        slack: tuple[ByteRun, ...] = ()
        resident = fragmented = False
        if content_usable:
            runs, slack, resident = self._runs(tsk_file, size)
            fragmented = any(
                a.image_offset + a.length != b.image_offset for a, b in itertools.pairwise(runs)
            )
        entry = FileEntry(
            volume_index=self.volume.index,
            path=path,
            inode=inode,
            size=size,
            allocated=allocated,
            kind=kind,
            mtime=_utc(int(meta.mtime), int(getattr(meta, "mtime_nano", 0))) if meta else None,
            atime=_utc(int(meta.atime), int(getattr(meta, "atime_nano", 0))) if meta else None,
            ctime=_utc(int(meta.ctime), int(getattr(meta, "ctime_nano", 0))) if meta else None,
            crtime=_utc(int(meta.crtime), int(getattr(meta, "crtime_nano", 0))) if meta else None,
            runs=runs,
            has_content=bool(runs) or resident,
        )
        return WalkedFile(
            entry=entry,
            slack=slack,
            deleted_content=not allocated and entry.has_content,
            resident=resident,
            fragmented=fragmented,
        )

    def _runs(
        self, tsk_file: pytsk3.File, size: int
    ) -> tuple[tuple[ByteRun, ...], tuple[ByteRun, ...], bool]:
        """Data runs (file bytes [0, size)) and slack runs (past size) in image offsets."""
        data: list[ByteRun] = []
        slack: list[ByteRun] = []
        resident = False
        bs = self.block_size
        try:
            for attr in tsk_file:
                if int(attr.info.type) not in _DATA_ATTR_TYPES:
                    continue
                if attr.info.name not in (None, b"", b"$Data", "", "$Data"):
                    continue  # NTFS alternate data streams: not the file's main content
                if int(attr.info.flags) & int(pytsk3.TSK_FS_ATTR_RES):
                    resident = True
                    located = self._resident_run(int(tsk_file.info.meta.addr), size)
                    if located is not None:
                        data.append(located)
                    continue
                for count, run in enumerate(attr):
                    if count >= MAX_RUNS_PER_FILE:
                        self._problem("too-many-runs", f"file inode {tsk_file.info.meta.addr}")
                        break
                    if int(run.flags) & _SKIP_RUN or run.len <= 0:
                        continue
                    self._split_run(
                        int(run.offset) * bs, int(run.addr), int(run.len), size, data, slack
                    )
                break  # only the first (default) data attribute
        except OSError:
            log.debug("cannot read runs of inode %s", tsk_file.info.meta.addr, exc_info=True)
        return tuple(data), tuple(slack), resident

    def _resident_run(self, inode: int, size: int) -> ByteRun | None:
        """Where an NTFS resident $DATA value lies in the image: inside its MFT entry."""
        if self.type != "ntfs" or size <= 0:
            return None
        if self._mft is None:
            self._mft = _MftLocator.load(self)
        return self._mft.resident_data(inode) if self._mft else None

    def _split_run(
        self,
        logical: int,
        addr: int,
        blocks: int,
        size: int,
        data: list[ByteRun],
        slack: list[ByteRun],
    ) -> None:
        bs = self.block_size
        start = self.offset + addr * bs
        length = blocks * bs
        # Clip to the bytes that exist in this volume within the image.
        if start >= self.end:
            return
        length = min(length, self.end - start)
        in_file = max(0, min(length, size - logical))
        if in_file:
            data.append(ByteRun(start, in_file, logical))
        if length > in_file:
            slack.append(ByteRun(start + in_file, length - in_file, logical + in_file))

    # --- allocation -----------------------------------------------------------------------

    def allocation_map(self) -> AllocationMap | None:
        """Allocation bitmap of this file system, or None (then free space is approximated)."""

        def read(offset: int, size: int) -> bytes:
            return self.image.read(offset, size)

        kind = self.type
        built: AllocationMap | None = None
        reason: str | None = None
        if kind.startswith("ext"):
            built, reason = safe_parse(ext_allocation, read, self.offset, self.end)
        elif kind.startswith("fat"):
            built, reason = safe_parse(fat_allocation, read, self.offset, self.end)
        elif kind in ("ntfs", "exfat", "hfs"):
            built, reason = self._bitmap_file_map(kind)
        elif kind == "iso9660":
            # ISO 9660 (ECMA-119) is written once: every sector is a descriptor, a directory,
            # a path table or file data; there is no free space to approximate.
            built = all_allocated(
                self.offset, self.block_size, self.block_count, "iso9660-no-free-space"
            )
        else:
            reason = f"no allocation bitmap reader for {kind}"
        if built is None:
            self._problem(
                "allocation-map-unavailable",
                f"{kind} at offset {self.offset}: {reason}; free space approximated from file runs",
                severity="info",
            )
        return built

    def _bitmap_file_map(self, kind: str) -> tuple[AllocationMap | None, str | None]:
        name, msb = {
            "ntfs": ("/$Bitmap", False),
            "exfat": ("/$ALLOC_BITMAP", False),
            "hfs": ("/$AllocationFile", True),
        }[kind]
        try:
            handle = self._fs.open(name)
            size = int(handle.info.meta.size)
            if size <= 0 or size > MAX_BITMAP_FILE:
                return None, f"{name} has implausible size {size}"
            data = handle.read_random(0, size)
        except OSError as exc:
            return None, f"cannot read {name}: {exc}"
        origin = self.offset
        count = self.block_count
        if kind == "exfat":
            # exFAT bitmap bit 0 is cluster 2 (exFAT spec §7.1.5); cluster heap offset in the VBR.
            vbr = self.image.read(self.offset, 512)
            heap_sector = int.from_bytes(vbr[88:92], "little")
            sector_shift = vbr[108]
            cluster_shift = vbr[109]
            cluster_count = int.from_bytes(vbr[92:96], "little")
            if sector_shift > 12 or cluster_shift > 25:
                return None, "implausible exFAT boot sector"
            origin = self.offset + (heap_sector << sector_shift)
            unit = 1 << (sector_shift + cluster_shift)
            return bitmap_file_allocation(
                data, origin, unit, cluster_count, msb, "exfat-bitmap"
            ), None
        source = f"{kind}-{name.lstrip('/')}"
        return bitmap_file_allocation(data, origin, self.block_size, count, msb, source), None

    # --- content --------------------------------------------------------------------------

    def read_file(self, inode: int, offset: int, size: int) -> bytes:
        """Logical content of a file (allocated or deleted) by inode, through pytsk3."""
        handle = self._fs.open_meta(inode=inode)
        file_size = int(handle.info.meta.size)
        size = max(0, min(size, file_size - offset))
        if size == 0:
            return b""
        return handle.read_random(offset, size)

    def _problem(self, code: str, message: str, severity: str = "warning") -> None:
        self.problems.append(
            Problem(code=code, message=message, severity=severity, image_offset=self.offset)
        )


# NTFS on-disk structures (Microsoft NTFS documentation; Carrier, "File System Forensic
# Analysis", ch. 13): boot sector geometry, MFT entry header, attribute header.
NTFS_BOOT = Struct(
    "_jump" / Bytes(11),
    "bytes_per_sector" / Int16ul,
    "sectors_per_cluster" / Int8ul,
    "_gap" / Bytes(0x40 - 14),
    "clusters_per_mft_record" / Int8sl,  # negative n: the record is 2**-n bytes
)
MFT_ENTRY_HEADER = Struct(
    "signature" / Const(b"FILE"),
    "_fixup" / Bytes(0x14 - 4),
    "attrs_offset" / Int16ul,
)
NTFS_ATTR_HEADER = Struct(
    "type" / Int32ul,  # 0x80 = $DATA, 0xFFFFFFFF = end of attributes
    "length" / Int32ul,
    "non_resident" / Int8ul,
    "name_length" / Int8ul,
    "_name_offset" / Int16ul,
    "_flags" / Int16ul,
    "_id" / Int16ul,
    "value_length" / Int32ul,
    "value_offset" / Int16ul,
)
NTFS_DATA = 0x80
NTFS_END = 0xFFFFFFFF
MAX_MFT_ENTRY = 65536


@dataclass
class _MftLocator:
    """Maps an MFT entry number to its bytes in the image, for resident file content."""

    fs: FileSystem
    entry_size: int
    runs: tuple[ByteRun, ...]

    @classmethod
    def load(cls, fs: FileSystem) -> _MftLocator | None:
        try:
            boot = NTFS_BOOT.parse(fs.image.read(fs.offset, NTFS_BOOT.sizeof()))
            cluster = boot.bytes_per_sector * boot.sectors_per_cluster
            raw = boot.clusters_per_mft_record
            entry_size = 1 << -raw if raw < 0 else raw * cluster
            if not 256 <= entry_size <= MAX_MFT_ENTRY:
                return None
            mft = fs._fs.open_meta(inode=0)
            runs, _, _ = fs._runs(mft, int(mft.info.meta.size))
        except (construct.ConstructError, OSError, ValueError):
            log.debug("cannot locate the MFT", exc_info=True)
            return None
        return cls(fs, entry_size, runs)

    def resident_data(self, inode: int) -> ByteRun | None:
        logical = inode * self.entry_size
        for run in self.runs:
            if run.file_offset <= logical < run.file_offset + run.length:
                entry_offset = run.image_offset + logical - run.file_offset
                break
        else:
            return None
        entry = self.fs.image.read(entry_offset, self.entry_size)
        try:
            pos = MFT_ENTRY_HEADER.parse(entry).attrs_offset
            while pos + NTFS_ATTR_HEADER.sizeof() <= len(entry):
                attr = NTFS_ATTR_HEADER.parse(entry[pos:])
                if attr.type == NTFS_END or attr.length < 16 or pos + attr.length > len(entry):
                    return None
                if attr.type == NTFS_DATA and not attr.non_resident and attr.name_length == 0:
                    start = pos + attr.value_offset
                    length = min(attr.value_length, len(entry) - start)
                    return ByteRun(entry_offset + start, max(0, length), 0)
                pos += attr.length
        except construct.ConstructError:
            log.debug("damaged MFT entry %d", inode, exc_info=True)
        return None


def open_filesystem(
    image: Image, tsk_image: TskImage, volume: Volume
) -> tuple[FileSystem | None, list[Problem]]:
    """Open the file system on a volume; a volume that can't be opened yields a Problem.

    ``corrupt-superblock`` when a file-system signature or a file-system partition type is
    present but pytsk3 refuses it; ``unknown-filesystem`` otherwise.
    """
    if volume.length < 512:
        return None, []
    errors_before = tsk_image.read_errors
    try:
        fs = pytsk3.FS_Info(tsk_image, offset=volume.offset)
    except (OSError, RuntimeError) as exc:
        log.debug("pytsk3 could not open volume %d", volume.index, exc_info=True)
        if tsk_image.read_errors > errors_before:
            return None, [
                Problem(
                    "unreadable-filesystem",
                    f"volume {volume.index} at offset {volume.offset}: the file system could not "
                    "be read (unreadable sectors); scanned as raw bytes",
                    "error",
                    image_offset=volume.offset,
                )
            ]
        return None, [_unopenable(image, volume, str(exc))]
    opened = FileSystem(image, tsk_image, volume, fs)
    problems: list[Problem] = []
    if opened.offset + opened.declared_size > image.size:
        problems.append(
            Problem(
                code="image-truncated",
                message=(
                    f"{opened.type} file system at offset {volume.offset} declares "
                    f"{opened.declared_size} bytes but the image ends at {image.size}; "
                    "nothing beyond the end is reported"
                ),
                severity="warning",
                image_offset=image.size,
            )
        )
    return opened, problems


def _read_or_nothing(image: Image, offset: int, size: int) -> bytes:
    """Bytes for a best-effort look (signatures): an unreadable sector reads as nothing."""
    try:
        return image.read(offset, size)
    except OSError:
        return b""


def _unopenable(image: Image, volume: Volume, reason: str) -> Problem:
    head = _read_or_nothing(image, volume.offset, 4096)
    names = [name for off, magic, name in _FS_SIGNATURES if head[off : off + len(magic)] == magic]
    if not names and volume.length > 32769 + 5:
        iso = _read_or_nothing(image, volume.offset + 32769, 5)
        names = ["iso9660"] if iso == b"CD001" else []
    backup = _ext_backup_superblock(image, volume)
    code = "unknown-filesystem"
    why = "no known file-system signature"
    if names:
        code, why = "corrupt-superblock", f"{'/'.join(names)} signature present"
    elif backup is not None:
        code, why = (
            "corrupt-superblock",
            f"primary superblock damaged; ext backup superblock at {backup}",
        )
    elif not any(head):
        why = "volume starts with zeros (wiped or never formatted)"
    elif _partition_type(volume) in _FS_PARTITION_TYPES:
        code, why = (
            "corrupt-superblock",
            f"partition type {volume.type_code} announces a file system",
        )
    return Problem(
        code=code,
        message=(
            f"volume {volume.index} at offset {volume.offset} ({volume.length} bytes): {why}; "
            "scanned as raw bytes"
        ),
        severity="warning",
        image_offset=volume.offset,
    )


def _partition_type(volume: Volume) -> int | None:
    """The MBR type byte of a volume ("0x06" → 6); None for GPT GUIDs and gaps."""
    try:
        return int(volume.type_code or "", 16)
    except ValueError:
        return None


def _ext_backup_superblock(image: Image, volume: Volume) -> int | None:
    """Offset of an ext backup superblock (group 1), which survives a damaged primary."""
    for block_size in (1024, 2048, 4096):
        # Group 1 starts at s_first_data_block + s_blocks_per_group (8 * block size by default);
        # s_first_data_block is 1 only for 1 KiB blocks.
        first_data_block = 1 if block_size == 1024 else 0
        offset = volume.offset + (first_data_block + block_size * 8) * block_size
        if offset + 1024 > volume.offset + volume.length:
            continue
        if _read_or_nothing(image, offset + 56, 2) == b"\x53\xef":
            return offset
    return None
