"""Allocation maps: which blocks of a file system are in use, read from the file system's own bitmap.

pytsk3 exposes no block walk, so the allocation state of each block comes from the on-disk
structures themselves: the ext2/3/4 block bitmaps, the FAT, and the bitmap files of NTFS
(``$Bitmap``), exFAT (``$ALLOC_BITMAP``) and HFS+ (``$AllocationFile``) read through pytsk3.
A map is one packed bit per allocation unit (1 = allocated), so a 1 TiB volume with 4 KiB blocks
costs 32 MiB, and lookups are O(1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import construct
import numpy as np
from construct import Bytes, Int8ul, Int16ul, Int32ul, Struct

from forensics.records import ByteRun

log = logging.getLogger(__name__)

# A file-system bitmap larger than this is not trusted (1 TiB / 512 B units = 256 MiB of bits).
MAX_BITMAP_BYTES = 256 * 1024 * 1024
BITMAP_READ_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class AllocationMap:
    """One bit per allocation unit; unit ``i`` covers ``[origin + i*unit, origin + (i+1)*unit)``."""

    origin: int  # absolute image offset of unit 0
    unit: int  # bytes per unit
    count: int  # number of units
    bits: np.ndarray  # packed, bitorder="little", 1 = allocated
    source: str  # e.g. "ext-block-bitmap", "fat16", "ntfs-$Bitmap"

    def state_at(self, image_offset: int) -> bool | None:
        """True if allocated, False if free, None if the offset is outside the map."""
        index = (image_offset - self.origin) // self.unit
        if image_offset < self.origin or index >= self.count:
            return None
        return bool((int(self.bits[index >> 3]) >> (index & 7)) & 1)

    @property
    def end(self) -> int:
        return self.origin + self.count * self.unit

    def unallocated_units(self) -> int:
        allocated = int(np.unpackbits(self.bits, bitorder="little")[: self.count].sum())
        return self.count - allocated

    def unallocated_runs(self, clip_end: int | None = None) -> Iterator[ByteRun]:
        """Free units as merged byte runs in image offsets, streamed a slice at a time."""
        step_units = BITMAP_READ_CHUNK * 8
        pending: int | None = None  # start of a free run still open at a slice boundary
        for first in range(0, self.count, step_units):
            last = min(self.count, first + step_units)
            bits = np.unpackbits(self.bits[first >> 3 : (last + 7) >> 3], bitorder="little")
            bits = bits[: last - first]
            if pending is not None and bits[0] == 1:
                yield self._run(pending, first, clip_end)
                pending = None
            # Edges of runs of zeros inside this slice.
            edges = np.diff(np.concatenate(([1], bits, [1])).astype(np.int8))
            starts = np.flatnonzero(edges == -1).tolist()
            ends = np.flatnonzero(edges == 1).tolist()
            for s, e in zip(starts, ends, strict=True):
                run_first = pending if (s == 0 and pending is not None) else first + s
                pending = None
                if first + e == last and last < self.count:
                    pending = run_first  # may continue in the next slice
                else:
                    yield self._run(run_first, first + e, clip_end)
        if pending is not None:
            yield self._run(pending, self.count, clip_end)

    def _run(self, first_unit: int, end_unit: int, clip_end: int | None) -> ByteRun:
        start = self.origin + first_unit * self.unit
        end = self.origin + end_unit * self.unit
        if clip_end is not None:
            end = min(end, clip_end)
        return ByteRun(image_offset=start, length=max(0, end - start))


def _from_bool_array(origin: int, unit: int, allocated: np.ndarray, source: str) -> AllocationMap:
    bits = np.packbits(allocated.astype(np.uint8), bitorder="little")
    return AllocationMap(origin, unit, int(allocated.size), bits, source)


def all_allocated(origin: int, unit: int, count: int, source: str) -> AllocationMap:
    """A map with every unit in use (file systems without free space)."""
    return _from_bool_array(origin, unit, np.ones(count, dtype=bool), source)


ReadFn = Callable[[int, int], bytes]  # (absolute image offset, size) -> bytes

# --- ext2/3/4 (Linux kernel Documentation/filesystems/ext4/globals.rst, "Super Block") ---------

EXT_SUPERBLOCK = Struct(
    "s_inodes_count" / Int32ul,
    "s_blocks_count_lo" / Int32ul,
    "s_r_blocks_count_lo" / Int32ul,
    "s_free_blocks_count_lo" / Int32ul,
    "s_free_inodes_count" / Int32ul,
    "s_first_data_block" / Int32ul,
    "s_log_block_size" / Int32ul,
    "s_log_cluster_size" / Int32ul,
    "s_blocks_per_group" / Int32ul,
    "s_clusters_per_group" / Int32ul,
    "s_inodes_per_group" / Int32ul,
    "_times" / Bytes(12),
    "s_magic" / Int16ul,  # 0xEF53
    "_mid" / Bytes(96 - 58),
    "s_feature_incompat" / Int32ul,
    "s_feature_ro_compat" / Int32ul,
    "_uuid_etc" / Bytes(254 - 104),
    "s_desc_size" / Int16ul,
    "_more" / Bytes(336 - 256),
    "s_blocks_count_hi" / Int32ul,
)
EXT_MAGIC = 0xEF53
EXT4_FEATURE_INCOMPAT_64BIT = 0x80
EXT4_FEATURE_RO_COMPAT_BIGALLOC = 0x200
EXT4_BG_BLOCK_UNINIT = 0x0002  # block bitmap not initialised: all blocks of the group are free

EXT_GROUP_DESC = Struct(
    "bg_block_bitmap_lo" / Int32ul,
    "bg_inode_bitmap_lo" / Int32ul,
    "bg_inode_table_lo" / Int32ul,
    "_counts" / Bytes(6),
    "bg_flags" / Int16ul,
)
MAX_EXT_GROUPS = 1 << 22


def ext_allocation(read: ReadFn, fs_offset: int, volume_end: int) -> AllocationMap:
    """Read the ext2/3/4 block bitmaps of every group (one bit per block, 1 = in use)."""
    sb = EXT_SUPERBLOCK.parse(read(fs_offset + 1024, EXT_SUPERBLOCK.sizeof()))
    if sb.s_magic != EXT_MAGIC:
        raise ValueError("no ext superblock")
    if sb.s_log_block_size > 6 or sb.s_feature_ro_compat & EXT4_FEATURE_RO_COMPAT_BIGALLOC:
        raise ValueError("unsupported ext block size or bigalloc")
    block_size = 1024 << sb.s_log_block_size
    is64 = bool(sb.s_feature_incompat & EXT4_FEATURE_INCOMPAT_64BIT)
    blocks = sb.s_blocks_count_lo | ((sb.s_blocks_count_hi << 32) if is64 else 0)
    per_group = sb.s_blocks_per_group
    if per_group == 0 or per_group > block_size * 8 or blocks == 0:
        raise ValueError("implausible ext geometry")
    if blocks // 8 > MAX_BITMAP_BYTES:
        raise ValueError("ext bitmap too large")
    desc_size = sb.s_desc_size if is64 and sb.s_desc_size >= 64 else 32
    first = sb.s_first_data_block
    groups = (blocks - first + per_group - 1) // per_group
    if groups > MAX_EXT_GROUPS:
        raise ValueError("too many ext groups")
    gdt_offset = fs_offset + (first + 1) * block_size
    allocated = np.ones(blocks, dtype=bool)  # unknown or unreadable → treated as in use
    # Read descriptors in slices so a huge table is never held at once.
    per_read = max(1, BITMAP_READ_CHUNK // desc_size)
    for g0 in range(0, groups, per_read):
        n = min(per_read, groups - g0)
        table = read(gdt_offset + g0 * desc_size, n * desc_size)
        for i in range(n):
            raw = table[i * desc_size : (i + 1) * desc_size]
            if len(raw) < 32:
                break
            desc = EXT_GROUP_DESC.parse(raw)
            bitmap_block = desc.bg_block_bitmap_lo
            if is64 and len(raw) >= 36:
                bitmap_block |= int.from_bytes(raw[32:36], "little") << 32
            g = g0 + i
            start = first + g * per_group
            count = min(per_group, blocks - start)
            if desc.bg_flags & EXT4_BG_BLOCK_UNINIT:
                allocated[start : start + count] = False
                continue
            bitmap_offset = fs_offset + bitmap_block * block_size
            if bitmap_block >= blocks or bitmap_offset + (count + 7) // 8 > volume_end:
                continue  # bitmap unreadable: keep "in use" (never claim free without proof)
            raw_bits = read(bitmap_offset, (count + 7) // 8)
            bits = np.unpackbits(np.frombuffer(raw_bits, dtype=np.uint8), bitorder="little")
            allocated[start : start + min(count, bits.size)] = bits[:count].astype(bool)
    allocated[:first] = True  # the boot block of 1 KiB-block file systems
    return _from_bool_array(fs_offset, block_size, allocated, "ext-block-bitmap")


# --- FAT12/16/32 (Microsoft FAT specification, "BPB" and "FAT type determination") ----------

FAT_BPB = Struct(
    "jump" / Bytes(3),
    "oem" / Bytes(8),
    "bytes_per_sector" / Int16ul,
    "sectors_per_cluster" / Int8ul,
    "reserved_sectors" / Int16ul,
    "num_fats" / Int8ul,
    "root_entries" / Int16ul,
    "total_sectors_16" / Int16ul,
    "media" / Int8ul,
    "fat_size_16" / Int16ul,
    "_geometry" / Bytes(8),
    "total_sectors_32" / Int32ul,
    "fat_size_32" / Int32ul,
)


def fat_allocation(read: ReadFn, fs_offset: int, volume_end: int) -> AllocationMap:
    """Read the first FAT: cluster entries equal to zero are free."""
    bpb = FAT_BPB.parse(read(fs_offset, FAT_BPB.sizeof()))
    bps, spc = bpb.bytes_per_sector, bpb.sectors_per_cluster
    if bps not in (512, 1024, 2048, 4096) or spc == 0 or spc & (spc - 1) or bpb.num_fats == 0:
        raise ValueError("implausible FAT BPB")
    fat_sectors = bpb.fat_size_16 or bpb.fat_size_32
    total = bpb.total_sectors_16 or bpb.total_sectors_32
    root_sectors = (bpb.root_entries * 32 + bps - 1) // bps
    data_start = bpb.reserved_sectors + bpb.num_fats * fat_sectors + root_sectors
    if fat_sectors == 0 or total <= data_start:
        raise ValueError("implausible FAT geometry")
    clusters = (total - data_start) // spc
    # Microsoft FAT spec: the cluster count alone decides the FAT type.
    if clusters < 4085:
        width = 12
    elif clusters < 65525:
        width = 16
    else:
        width = 32
    fat_bytes = min(fat_sectors * bps, (clusters + 2) * width // 8 + 2)
    if fat_bytes > MAX_BITMAP_BYTES * 4:
        raise ValueError("FAT too large")
    table = np.frombuffer(read(fs_offset + bpb.reserved_sectors * bps, fat_bytes), dtype=np.uint8)
    n = clusters + 2
    if width == 12:
        pairs = (n + 1) // 2
        raw = np.zeros(pairs * 3, dtype=np.uint16)
        avail = min(table.size, raw.size)
        raw[:avail] = table[:avail]
        b0, b1, b2 = raw[0::3], raw[1::3], raw[2::3]
        entries = np.empty(pairs * 2, dtype=np.uint32)
        entries[0::2] = b0 | ((b1 & 0x0F) << 8)
        entries[1::2] = (b1 >> 4) | (b2 << 4)
    elif width == 16:
        entries = np.frombuffer(table[: (table.size // 2) * 2].tobytes(), dtype="<u2").astype(
            np.uint32
        )
    else:
        entries = np.frombuffer(table[: (table.size // 4) * 4].tobytes(), dtype="<u4") & 0x0FFFFFFF
    entries = entries[:n]
    if entries.size < n:  # a short FAT (truncated image): unknown entries count as in use
        entries = np.concatenate([entries, np.ones(n - entries.size, dtype=np.uint32)])
    allocated = entries[2:n] != 0
    origin = fs_offset + data_start * bps
    return _from_bool_array(origin, spc * bps, allocated, f"fat{width}")


# --- Bitmap files read through pytsk3 (NTFS $Bitmap, exFAT $ALLOC_BITMAP, HFS+ $AllocationFile) ---


def bitmap_file_allocation(
    data: bytes, origin: int, unit: int, count: int, msb_first: bool, source: str
) -> AllocationMap:
    """Build a map from a bitmap file's bytes (NTFS/exFAT are LSB-first, HFS+ is MSB-first)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    bits = np.unpackbits(arr, bitorder="big" if msb_first else "little")[:count]
    if bits.size < count:
        bits = np.concatenate([bits, np.ones(count - bits.size, dtype=np.uint8)])
    return _from_bool_array(origin, unit, bits.astype(bool), source)


def safe_parse(
    builder: Callable[..., AllocationMap], *args: object
) -> tuple[AllocationMap | None, str | None]:
    """Run an allocation reader; on damage return (None, reason) instead of raising."""
    try:
        return builder(*args), None
    except (construct.ConstructError, ValueError, IndexError, OSError) as exc:
        log.debug("allocation map failed", exc_info=True)
        return None, str(exc) or type(exc).__name__
