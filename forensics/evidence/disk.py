"""Partition layout of an image: MBR (with EBR chains), GPT, or none, plus the gaps between.

The volumes returned tile ``[0, image.size)``: every byte is in a partition or in a ``gap``
volume (partition tables, unpartitioned space, the tail after the last partition). Damage in the
tables becomes ``Problem`` records; nothing here raises on bad evidence.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field

import construct
from construct import Array, Bytes, Const, Int8ul, Int16ul, Int32ul, Int64ul, Struct

from forensics.evidence.image import Image
from forensics.records import Problem, VolumeRecord

# --- on-disk structures --------------------------------------------------------------------

# MBR partition table entry, 16 bytes at 0x1BE + 16*i (UEFI 2.10 §5.2.1, Table 5-2).
MbrEntry = Struct(
    "status" / Int8ul,  # 0x80 = bootable, 0x00 = not; anything else is invalid
    "chs_first" / Bytes(3),
    "type" / Int8ul,
    "chs_last" / Bytes(3),
    "lba_start" / Int32ul,
    "num_sectors" / Int32ul,
)

# Master boot record / extended boot record sector (UEFI 2.10 §5.2.1, Table 5-1).
MbrSector = Struct(
    "boot_code" / Bytes(446),
    "entries" / Array(4, MbrEntry),
    "signature" / Int16ul,  # 0xAA55 stored as 55 AA at offset 510
)

# Boot sector fields shared by FAT12/16/32 (Microsoft FAT specification, "BPB") and the OEM
# name that NTFS and exFAT put at the same place.
BootSector = Struct(
    "jump" / Bytes(3),
    "oem_name" / Bytes(8),
    "bytes_per_sector" / Int16ul,
    "sectors_per_cluster" / Int8ul,
    "reserved_sectors" / Int16ul,
    "num_fats" / Int8ul,
    "root_entries" / Int16ul,
    "total_sectors_16" / Int16ul,
    "media" / Int8ul,
    "fat_size_16" / Int16ul,
)

# GPT header (UEFI 2.10 §5.3.2, Table 5-5). Fields after entries_crc32 are reserved.
GptHeader = Struct(
    "signature" / Const(b"EFI PART"),
    "revision" / Int32ul,
    "header_size" / Int32ul,
    "header_crc32" / Int32ul,
    "reserved" / Int32ul,
    "my_lba" / Int64ul,
    "alternate_lba" / Int64ul,
    "first_usable_lba" / Int64ul,
    "last_usable_lba" / Int64ul,
    "disk_guid" / Bytes(16),
    "partition_entry_lba" / Int64ul,
    "num_entries" / Int32ul,
    "entry_size" / Int32ul,
    "entries_crc32" / Int32ul,
)

# GPT partition entry (UEFI 2.10 §5.3.3, Table 5-6); ending_lba is inclusive.
GptEntry = Struct(
    "type_guid" / Bytes(16),
    "unique_guid" / Bytes(16),
    "starting_lba" / Int64ul,
    "ending_lba" / Int64ul,
    "attributes" / Int64ul,
    "name" / Bytes(72),  # 36 UTF-16LE code units
)

MBR_SIGNATURE = 0xAA55  # bytes 55 AA at offset 510 (UEFI 2.10 §5.2.1)
MBR_ENTRY_OFFSET = 446  # 0x1BE
GPT_PROTECTIVE = 0xEE  # protective MBR partition type (UEFI 2.10 §5.2.3)
EXTENDED_TYPES = frozenset({0x05, 0x0F, 0x85})  # DOS extended, W95 extended (LBA), Linux
GPT_HEADER_MIN = 92  # header size defined by UEFI 2.10 §5.3.2
MAX_GPT_ENTRIES = 1024
MIN_GPT_ENTRY_SIZE = 128  # UEFI 2.10 §5.3.2: 128 * 2^n
MAX_GPT_ENTRY_SIZE = 4096
MAX_LOGICAL_PARTITIONS = 128
GPT_SECTOR_SIZES = (512, 4096)

MBR_TYPES: dict[int, str] = {
    0x01: "FAT12",
    0x04: "FAT16 <32M",
    0x05: "extended",
    0x06: "FAT16",
    0x07: "NTFS/exFAT/HPFS",
    0x0B: "FAT32",
    0x0C: "FAT32 (LBA)",
    0x0E: "FAT16 (LBA)",
    0x0F: "extended (LBA)",
    0x11: "hidden FAT12",
    0x12: "Compaq diagnostics",
    0x14: "hidden FAT16 <32M",
    0x16: "hidden FAT16",
    0x17: "hidden NTFS/exFAT/HPFS",
    0x1B: "hidden FAT32",
    0x1C: "hidden FAT32 (LBA)",
    0x1E: "hidden FAT16 (LBA)",
    0x27: "hidden NTFS (recovery)",
    0x39: "Plan 9",
    0x42: "Windows dynamic",
    0x4D: "QNX4",
    0x63: "Unix System V",
    0x82: "Linux swap",
    0x83: "Linux",
    0x85: "Linux extended",
    0x8E: "Linux LVM",
    0xA5: "FreeBSD",
    0xA6: "OpenBSD",
    0xA8: "Darwin UFS",
    0xA9: "NetBSD",
    0xAB: "Darwin boot",
    0xAF: "HFS/HFS+",
    0xBF: "Solaris",
    0xDE: "Dell utility",
    0xEE: "GPT protective",
    0xEF: "EFI System",
    0xFB: "VMware VMFS",
    0xFD: "Linux RAID",
}

GPT_TYPES: dict[str, str] = {
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI System",
    "024dee41-33e7-11d3-9d69-0008c781f39f": "MBR partition scheme",
    "21686148-6449-6e6f-744e-656564454649": "BIOS boot",
    "e3c9e316-0b5c-4db8-817d-f92df00215ae": "Microsoft reserved",
    "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
    "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3": "Microsoft LDM metadata",
    "af9b60a0-1431-4f62-bc68-3311714a69ad": "Microsoft LDM data",
    "de94bba4-06d1-4d40-a16a-bfd50179d6ac": "Windows recovery",
    "0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
    "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
    "e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
    "a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID",
    "933ac7e1-2eb4-4f13-b844-0e14e2aef915": "Linux home",
    "4f68bce3-e8cd-4db1-96e7-fbcaf984b709": "Linux root (x86-64)",
    "44479540-f297-41b2-9af7-d131d5f0458a": "Linux root (x86)",
    "b921b045-1df0-41c3-af44-4c6f280d3fae": "Linux root (ARM64)",
    "69dad710-2ce4-4e3c-b16c-21a1d49abed3": "Linux root (ARM)",
    "bc13c2ff-59e6-4262-a352-b275fd6f7172": "Linux extended boot",
    "48465300-0000-11aa-aa11-00306543ecac": "Apple HFS+",
    "7c3457ef-0000-11aa-aa11-00306543ecac": "Apple APFS",
    "516e7cb4-6ecf-11d6-8ff8-00022d09712b": "FreeBSD UFS",
    "83bd6b9d-7f41-11dc-be0b-001560b84f0f": "FreeBSD boot",
    "6a898cc3-1dd2-11b2-99a6-080020736631": "Solaris /usr or Apple ZFS",
}

# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    """A region of the image: a partition, a gap between partitions, or the whole image."""

    index: int
    kind: str  # "partition" | "gap" | "whole"
    scheme: str  # "mbr" | "gpt" | "none"
    offset: int
    length: int  # bytes inside the image
    declared_length: int  # bytes as the table declares them
    slot: str | None = None
    type_code: str | None = None
    description: str | None = None
    name: str | None = None

    @property
    def end(self) -> int:
        """Offset just past the in-image part."""
        return self.offset + self.length

    def to_record(self) -> VolumeRecord:
        return VolumeRecord(
            index=self.index,
            kind=self.kind,
            scheme=self.scheme,
            offset=self.offset,
            length=self.length,
            declared_length=self.declared_length,
            slot=self.slot,
            type_code=self.type_code,
            description=self.description,
            name=self.name,
        )


@dataclass(frozen=True)
class DiskLayout:
    """All volumes of an image in offset order, and the problems found in its tables."""

    scheme: str
    volumes: tuple[Volume, ...]
    problems: tuple[Problem, ...] = ()

    def partitions(self) -> tuple[Volume, ...]:
        return tuple(v for v in self.volumes if v.kind == "partition")

    def gaps(self) -> tuple[Volume, ...]:
        return tuple(v for v in self.volumes if v.kind == "gap")


@dataclass(frozen=True)
class _Part:
    """A partition as declared, before clipping to the image."""

    slot: str
    offset: int
    declared_length: int
    type_code: str
    description: str | None
    name: str | None = None


@dataclass
class _Table:
    scheme: str
    parts: list[_Part] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# --- helpers -------------------------------------------------------------------------------


def _parse(struct: Struct, data: bytes) -> construct.Container | None:
    """Parse ``data`` or return None when it is too short or malformed."""
    try:
        return struct.parse(data)
    except construct.ConstructError:
        return None


def _looks_like_boot_sector(sector: bytes) -> bool:
    """True for a FAT, NTFS or exFAT boot sector (a bare file system, not a partition table)."""
    bs = _parse(BootSector, sector)
    if bs is None:
        return False
    if bs.oem_name in (b"NTFS    ", b"EXFAT   "):
        return True
    jump_ok = (bs.jump[0] == 0xEB and bs.jump[2] == 0x90) or bs.jump[0] == 0xE9
    if not jump_ok:
        return False
    spc = bs.sectors_per_cluster
    return (
        bs.bytes_per_sector in (512, 1024, 2048, 4096)
        and spc != 0
        and spc & (spc - 1) == 0
        and bs.reserved_sectors >= 1
        and 1 <= bs.num_fats <= 4
        and (bs.media == 0xF0 or bs.media >= 0xF8)
    )


def _mbr_entries_sane(entries: list[construct.Container]) -> bool:
    """Status bytes valid and at least one non-empty entry that starts past sector 0."""
    used = 0
    for entry in entries:
        if entry.status not in (0x00, 0x80):
            return False
        if entry.type == 0 or entry.num_sectors == 0:
            continue
        if entry.lba_start == 0:
            return False
        used += 1
    return used > 0


def _mbr_description(type_code: int) -> str | None:
    return MBR_TYPES.get(type_code)


def _guid(raw: bytes) -> str:
    """GUIDs store their first three fields little-endian (UEFI 2.10 Appendix A)."""
    return str(uuid.UUID(bytes_le=bytes(raw)))


def _gpt_name(raw: bytes) -> str | None:
    text = bytes(raw).decode("utf-16-le", errors="replace")
    text = text.split("\x00", 1)[0].strip()
    return text or None


# --- MBR -----------------------------------------------------------------------------------


def _read_mbr(image: Image, mbr: construct.Container) -> _Table:
    """Primary entries plus logical partitions from every extended partition's EBR chain."""
    ss = image.sector_size
    table = _Table("mbr")
    next_logical = 5
    for number, entry in enumerate(mbr.entries, start=1):
        if entry.type == 0 or entry.num_sectors == 0:
            continue
        if entry.type in EXTENDED_TYPES:
            next_logical = _read_ebr_chain(image, entry.lba_start, next_logical, table)
            continue
        table.parts.append(
            _Part(
                str(number),
                entry.lba_start * ss,
                entry.num_sectors * ss,
                f"{entry.type:#04x}",
                _mbr_description(entry.type),
            )
        )
    return table


def _read_ebr_chain(image: Image, ext_start: int, next_logical: int, table: _Table) -> int:
    """Follow the EBR linked list of one extended partition; returns the next logical number."""
    ss = image.sector_size
    visited: set[int] = set()
    ebr_lba = ext_start
    while True:
        if ebr_lba in visited:
            table.problems.append(
                Problem(
                    "ebr-loop",
                    f"extended partition chain loops back to sector {ebr_lba}; chain stopped",
                    image_offset=ebr_lba * ss,
                )
            )
            break
        if len(visited) >= MAX_LOGICAL_PARTITIONS:
            table.problems.append(
                Problem(
                    "ebr-chain-too-long",
                    f"extended partition chain has more than {MAX_LOGICAL_PARTITIONS} "
                    "entries; chain stopped",
                    image_offset=ebr_lba * ss,
                )
            )
            break
        visited.add(ebr_lba)
        offset = ebr_lba * ss
        if offset + 512 > image.size:
            table.problems.append(
                Problem(
                    "partition-beyond-image-end",
                    f"extended boot record at byte {offset} is past the image end "
                    f"({image.size} bytes); logical partitions from there are missing",
                    image_offset=offset,
                )
            )
            break
        ebr = _parse(MbrSector, image.read(offset, 512))
        if ebr is None or ebr.signature != MBR_SIGNATURE:
            table.problems.append(
                Problem(
                    "ebr-invalid",
                    f"no extended boot record signature at byte {offset}; chain stopped",
                    image_offset=offset,
                )
            )
            break
        first, second = ebr.entries[0], ebr.entries[1]
        if first.type != 0 and first.num_sectors != 0 and first.type not in EXTENDED_TYPES:
            table.parts.append(
                _Part(
                    str(next_logical),
                    (ebr_lba + first.lba_start) * ss,  # relative to this EBR
                    first.num_sectors * ss,
                    f"{first.type:#04x}",
                    _mbr_description(first.type),
                )
            )
            next_logical += 1
        if second.type not in EXTENDED_TYPES or second.num_sectors == 0:
            break
        ebr_lba = ext_start + second.lba_start  # relative to the extended partition start
    return next_logical


# --- GPT -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GptCandidate:
    header: construct.Container
    sector_size: int
    header_crc_ok: bool
    entries: bytes
    entries_crc_ok: bool

    @property
    def valid(self) -> bool:
        return self.header_crc_ok and self.entries_crc_ok


def _read_gpt_header(image: Image, lba: int, ss: int) -> _GptCandidate | None:
    """Parse and bound-check a GPT header at ``lba``; None when absent or not sane."""
    offset = lba * ss
    if lba < 1 or offset + ss > image.size:
        return None
    raw = image.read(offset, ss)
    header = _parse(GptHeader, raw)
    if header is None:
        return None
    if not (GPT_HEADER_MIN <= header.header_size <= ss):
        return None
    if not (1 <= header.num_entries <= MAX_GPT_ENTRIES):
        return None
    size = header.entry_size
    if not (MIN_GPT_ENTRY_SIZE <= size <= MAX_GPT_ENTRY_SIZE) or size % 8:
        return None
    if header.my_lba != lba or header.partition_entry_lba == 0:
        return None
    # Header CRC32 covers header_size bytes with the CRC field itself zeroed (UEFI 2.10 §5.3.2).
    blank = raw[:16] + b"\x00\x00\x00\x00" + raw[20 : header.header_size]
    header_crc_ok = zlib.crc32(blank) == header.header_crc32
    array_offset = header.partition_entry_lba * ss
    array_size = header.num_entries * size
    entries = image.read(array_offset, array_size)
    if len(entries) < array_size:
        return None
    entries_crc_ok = zlib.crc32(entries) == header.entries_crc32
    return _GptCandidate(header, ss, header_crc_ok, entries, entries_crc_ok)


def _find_gpt(image: Image) -> tuple[_GptCandidate | None, list[Problem]]:
    """Primary GPT at LBA 1 (512 or 4096-byte sectors), else the backup at the last LBA."""
    problems: list[Problem] = []
    sizes = [image.sector_size] + [s for s in GPT_SECTOR_SIZES if s != image.sector_size]
    primary: _GptCandidate | None = None
    for ss in sizes:
        primary = _read_gpt_header(image, 1, ss)
        if primary is not None:
            break
    if primary is not None and primary.valid:
        return primary, problems

    backup: _GptCandidate | None = None
    backup_lbas: list[tuple[int, int]] = []
    if primary is not None:
        backup_lbas.append((primary.header.alternate_lba, primary.sector_size))
    backup_lbas.extend((image.size // ss - 1, ss) for ss in sizes)
    for lba, ss in backup_lbas:
        backup = _read_gpt_header(image, lba, ss)
        if backup is not None and backup.valid:
            break
        backup = None

    if primary is not None and backup is None:
        if not primary.header_crc_ok:
            problems.append(
                Problem(
                    "gpt-header-crc",
                    "primary GPT header CRC32 does not match; using it anyway",
                    image_offset=primary.sector_size,
                )
            )
        if not primary.entries_crc_ok:
            problems.append(
                Problem(
                    "gpt-entries-crc",
                    "GPT partition entry array CRC32 does not match; using it anyway",
                    image_offset=primary.header.partition_entry_lba * primary.sector_size,
                )
            )
        return primary, problems
    if backup is not None:
        why = "is missing or damaged" if primary is None else "fails its CRC32 check"
        problems.append(
            Problem(
                "gpt-primary-corrupt",
                f"primary GPT {why}; using the backup GPT at sector {backup.header.my_lba}",
                image_offset=backup.sector_size if primary is None else primary.sector_size,
            )
        )
        return backup, problems
    return None, problems


def _read_gpt(image: Image, gpt: _GptCandidate) -> _Table:
    table = _Table("gpt")
    header, ss = gpt.header, gpt.sector_size
    image_sectors = image.size // ss
    # The backup header sits on the disk's last LBA (UEFI 2.10 §5.3.2), so the disk has
    # max(MyLBA, AlternateLBA) + 1 sectors.
    disk_sectors = max(header.my_lba, header.alternate_lba) + 1
    if disk_sectors > image_sectors or header.last_usable_lba >= image_sectors:
        table.problems.append(
            Problem(
                "image-truncated",
                f"GPT says the disk has {disk_sectors} sectors but the image has "
                f"{image_sectors} ({ss}-byte sectors)",
                severity="error",
                image_offset=image.size,
            )
        )
    for number in range(header.num_entries):
        raw = gpt.entries[number * header.entry_size : (number + 1) * header.entry_size]
        entry = _parse(GptEntry, raw)
        if entry is None or entry.type_guid == b"\x00" * 16:
            continue  # unused entry (UEFI 2.10 §5.3.3: all-zero type GUID)
        slot = str(number + 1)
        if entry.ending_lba < entry.starting_lba:
            table.problems.append(
                Problem(
                    "gpt-invalid-entry",
                    f"GPT entry {slot} ends (sector {entry.ending_lba}) before it starts "
                    f"(sector {entry.starting_lba}); ignored",
                    image_offset=header.partition_entry_lba * ss + number * header.entry_size,
                )
            )
            continue
        type_guid = _guid(entry.type_guid)
        table.parts.append(
            _Part(
                slot,
                entry.starting_lba * ss,
                (entry.ending_lba - entry.starting_lba + 1) * ss,
                type_guid,
                GPT_TYPES.get(type_guid),
                _gpt_name(entry.name),
            )
        )
    return table


# --- layout --------------------------------------------------------------------------------


def _whole(image: Image, problems: list[Problem]) -> DiskLayout:
    volumes: tuple[Volume, ...] = ()
    if image.size > 0:
        volumes = (Volume(0, "whole", "none", 0, image.size, image.size),)
    return DiskLayout("none", volumes, tuple(problems))


def whole_image_layout(image: Image) -> DiskLayout:
    """The layout of an image read without a partition table: one volume, the whole image."""
    return _whole(image, [])


def _build(image: Image, table: _Table) -> DiskLayout:
    """Clip partitions to the image, report overlaps, and fill the gaps."""
    problems = list(table.problems)
    size = image.size
    parts: list[tuple[_Part, int]] = []  # (partition, in-image length)
    for part in table.parts:
        end = part.offset + part.declared_length
        length = max(0, min(end, size) - part.offset)
        if end > size:
            problems.append(
                Problem(
                    "partition-beyond-image-end",
                    f"partition {part.slot} ends at byte {end} but the image is only {size} bytes",
                    image_offset=part.offset,
                )
            )
        parts.append((part, length))
    parts.sort(key=lambda p: (p[0].offset, p[0].declared_length, int(p[0].slot)))

    reported: set[tuple[str, str]] = set()
    for i, (a, _la) in enumerate(parts):
        for b, _lb in parts[i + 1 :]:
            if b.offset >= a.offset + a.declared_length:
                break
            key = (a.slot, b.slot)
            if key not in reported:
                reported.add(key)
                problems.append(
                    Problem(
                        "overlapping-partitions",
                        f"partitions {a.slot} and {b.slot} overlap at byte {b.offset}",
                        image_offset=b.offset,
                    )
                )

    regions: list[tuple[int, int, int, _Part | None]] = []  # (offset, order, length, part)
    cursor = 0
    for part, length in parts:
        start = min(part.offset, size)
        if start > cursor:
            regions.append((cursor, 0, start - cursor, None))
        regions.append((part.offset, 1, length, part))
        cursor = max(cursor, min(part.offset + length, size))
    if cursor < size:
        regions.append((cursor, 0, size - cursor, None))

    volumes: list[Volume] = []
    for offset, _order, length, region in regions:
        index = len(volumes)
        if region is None:
            volumes.append(
                Volume(
                    index, "gap", table.scheme, offset, length, length, description="unpartitioned"
                )
            )
        else:
            volumes.append(
                Volume(
                    index,
                    "partition",
                    table.scheme,
                    region.offset,
                    length,
                    region.declared_length,
                    slot=region.slot,
                    type_code=region.type_code,
                    description=region.description,
                    name=region.name,
                )
            )
    return DiskLayout(table.scheme, tuple(volumes), tuple(problems))


def read_layout(image: Image) -> DiskLayout:
    """Find the partition table (GPT, MBR or none) and return partitions and gaps."""
    problems: list[Problem] = []
    if image.size < 512:
        return _whole(image, problems)
    sector = image.read(0, 512)
    mbr = _parse(MbrSector, sector)
    has_signature = mbr is not None and mbr.signature == MBR_SIGNATURE
    is_boot_sector = has_signature and _looks_like_boot_sector(sector)
    mbr_ok = (
        mbr is not None
        and has_signature
        and not is_boot_sector
        and _mbr_entries_sane(list(mbr.entries))
    )
    protective = (
        mbr is not None
        and mbr_ok
        and any(e.type == GPT_PROTECTIVE and e.num_sectors != 0 for e in mbr.entries)
    )

    if protective or not mbr_ok:
        gpt, gpt_problems = _find_gpt(image) if (protective or not is_boot_sector) else (None, [])
        if gpt is not None and not protective:
            # Only trust a GPT without a protective MBR when its primary header is at LBA 1.
            if gpt.header.my_lba != 1:
                gpt = None
            else:
                gpt_problems.append(
                    Problem(
                        "gpt-without-protective-mbr",
                        "GPT found but sector 0 has no protective MBR entry (type 0xEE)",
                        severity="info",
                    )
                )
        if gpt is not None:
            table = _read_gpt(image, gpt)
            table.problems[:0] = gpt_problems
            return _build(image, table)
        if protective:
            problems.extend(gpt_problems)
            problems.append(
                Problem(
                    "gpt-unreadable",
                    "protective MBR present but neither the primary nor the backup GPT "
                    "can be read; using the MBR entries",
                    severity="error",
                    image_offset=512,
                )
            )
            table = _read_mbr(image, mbr)
            table.problems[:0] = problems
            return _build(image, table)
        return _whole(image, problems)

    return _build(image, _read_mbr(image, mbr))
