"""Partition layouts (MBR + EBR chains, GPT, none) checked against sfdisk/sgdisk as the oracle."""

from __future__ import annotations

import json
import os
import re
import struct
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from forensics.evidence.disk import DiskLayout, Volume, read_layout
from forensics.evidence.image import open_image
from forensics.records import VolumeRecord

if TYPE_CHECKING:
    from conftest import Tools

MiB = 1024 * 1024
LINUX_FS = "0fc63daf-8483-4772-8e79-3d69d8477de4"


def layout_of(path: Path) -> tuple[DiskLayout, int]:
    with open_image(path) as image:
        return read_layout(image), image.size


def assert_tiles(layout: DiskLayout, size: int) -> None:
    """Volumes are in offset order, indexed 0.., and cover [0, size) without holes or overlaps."""
    cursor = 0
    for position, volume in enumerate(layout.volumes):
        assert volume.index == position
        assert volume.length >= 0
        if volume.length == 0:
            assert volume.kind == "partition" and volume.offset >= size
            continue
        assert volume.offset == cursor, f"hole or overlap before {volume}"
        cursor = volume.end
    assert cursor == size


def sfdisk_partitions(tools: Tools, img: Path) -> list[dict[str, Any]]:
    table = json.loads(tools.run("sfdisk", "--json", img))["partitiontable"]
    assert table["sectorsize"] == 512
    return list(table["partitions"])


def sgdisk_partitions(tools: Tools, img: Path) -> list[dict[str, Any]]:
    listing = tools.run("sgdisk", "-p", img)
    numbers = re.findall(r"(?m)^\s+(\d+)\s+\d+\s+\d+\s", listing)
    parts = []
    for number in numbers:
        info = tools.run("sgdisk", "-i", number, img)
        parts.append(
            {
                "slot": number,
                "type": re.search(r"Partition GUID code: (\S+) \((.*)\)", info).group(1),  # type: ignore[union-attr]
                "first": int(re.search(r"First sector: (\d+)", info).group(1)),  # type: ignore[union-attr]
                "last": int(re.search(r"Last sector: (\d+)", info).group(1)),  # type: ignore[union-attr]
                "name": re.search(r"Partition name: '(.*)'", info).group(1),  # type: ignore[union-attr]
            }
        )
    return parts


def codes(layout: DiskLayout) -> list[str]:
    return [p.code for p in layout.problems]


# --- MBR -----------------------------------------------------------------------------------


def test_mbr_primaries_and_logicals(mbr_image: Path, tools: Tools) -> None:
    before = tools.file_digest(mbr_image)
    layout, size = layout_of(mbr_image)
    assert layout.scheme == "mbr"
    assert layout.problems == ()
    expected = [
        (
            p["node"][len(str(mbr_image)) :],
            p["start"] * 512,
            p["size"] * 512,
            f"{int(p['type'], 16):#04x}",
        )
        for p in sfdisk_partitions(tools, mbr_image)
        if int(p["type"], 16) not in (0x05, 0x0F, 0x85)
    ]
    got = [(v.slot, v.offset, v.length, v.type_code) for v in layout.partitions()]
    assert got == expected
    assert [v.slot for v in layout.partitions()] == ["1", "2", "5", "6"]
    assert [v.description for v in layout.partitions()] == [
        "Linux",
        "FAT32 (LBA)",
        "Linux",
        "Linux swap",
    ]
    assert all(v.declared_length == v.length for v in layout.volumes)
    assert_tiles(layout, size)
    gaps = [(v.offset, v.length) for v in layout.volumes if v.kind == "gap"]
    # the MBR area; partition 2's end up to logical 5 (includes the first EBR); the
    # second EBR area before logical 6; the tail
    assert gaps[0] == (0, 2048 * 512)
    assert gaps[1] == (38912 * 512, (43008 - 38912) * 512)
    assert gaps[2] == (63488 * 512, (65536 - 63488) * 512)
    assert gaps[-1][0] + gaps[-1][1] == size
    assert all(v.description == "unpartitioned" for v in layout.volumes if v.kind == "gap")
    assert tools.file_digest(mbr_image) == before


def test_mbr_partition_past_image_end(tmp_path: Path, tools: Tools) -> None:
    tools.need("sfdisk")
    img = tools.blank_image(tmp_path / "cut.img", 64 * MiB)
    tools.run(
        "sfdisk",
        "-q",
        img,
        stdin="label: dos\nstart=2048, size=32768, type=83\nstart=34816, type=7\n",
    )
    oracle = sfdisk_partitions(tools, img)
    tools.run("truncate", "-s", str(40 * MiB), img)
    layout, size = layout_of(img)
    assert size == 40 * MiB
    assert layout.scheme == "mbr"
    last = layout.partitions()[-1]
    assert last.slot == "2"
    assert last.offset == oracle[1]["start"] * 512
    assert last.declared_length == oracle[1]["size"] * 512
    assert last.length == size - last.offset
    assert codes(layout) == ["partition-beyond-image-end"]
    message = layout.problems[0].message
    assert "partition 2" in message
    assert str((oracle[1]["start"] + oracle[1]["size"]) * 512) in message
    assert str(size) in message
    assert_tiles(layout, size)
    assert layout.volumes[-1] == last  # no gap after a partition that runs off the end

    # cut before the second partition even starts: it is kept with length 0
    tools.run("truncate", "-s", str(10 * MiB), img)
    layout, size = layout_of(img)
    first, second = layout.partitions()
    assert first.length == size - first.offset
    assert second.length == 0 and second.offset > size
    assert codes(layout) == ["partition-beyond-image-end", "partition-beyond-image-end"]
    assert_tiles(layout, size)


def mbr_entry(status: int, ptype: int, start: int, count: int) -> bytes:
    return struct.pack("<B3sB3sII", status, b"\x00" * 3, ptype, b"\x00" * 3, start, count)


def write_sector_table(path: Path, lba: int, entries: list[bytes]) -> None:
    """Write a table sector (MBR or EBR) into a *test* image."""
    body = b"".join(entries).ljust(64, b"\x00")
    with open(path, "r+b") as fh:
        fh.seek(lba * 512 + 446)
        fh.write(body + b"\x55\xaa")


def test_ebr_loop_is_a_problem(mbr_image: Path, tools: Tools) -> None:
    # first EBR at the extended start (40960); its second entry points to the next EBR
    with open(mbr_image, "rb") as fh:
        fh.seek(40960 * 512 + 446 + 16)
        link = struct.unpack("<B3sB3sII", fh.read(16))
    second_ebr = 40960 + link[4]
    with open(mbr_image, "r+b") as fh:  # make the second EBR link back to the first
        fh.seek(second_ebr * 512 + 446 + 16)
        fh.write(mbr_entry(0, 0x05, 0, 2048))
    layout, size = layout_of(mbr_image)
    assert "ebr-loop" in codes(layout)
    assert [v.slot for v in layout.partitions()] == ["1", "2", "5", "6"]
    assert_tiles(layout, size)


def test_ebr_chain_too_long(tmp_path: Path, tools: Tools) -> None:
    img = tools.blank_image(tmp_path / "long.img", 4 * MiB)
    ext_start, ext_len = 2048, 6000
    write_sector_table(img, 0, [mbr_entry(0, 0x05, ext_start, ext_len)])
    for i in range(200):  # EBR, then a one-sector logical, repeated
        ebr = ext_start + 2 * i
        entries = [mbr_entry(0, 0x83, 1, 1), mbr_entry(0, 0x05, 2 * (i + 1), 2)]
        write_sector_table(img, ebr, entries)
    layout, size = layout_of(img)
    assert "ebr-chain-too-long" in codes(layout)
    assert len(layout.partitions()) == 128
    assert layout.partitions()[-1].slot == str(4 + 128)
    assert_tiles(layout, size)


def test_overlapping_primaries_are_kept(mbr_image: Path) -> None:
    with open(mbr_image, "r+b") as fh:  # move partition 2 to start inside partition 1
        fh.seek(446 + 16)
        fh.write(mbr_entry(0, 0x0C, 10000, 20480))
    layout, size = layout_of(mbr_image)
    assert "overlapping-partitions" in codes(layout)
    parts = layout.partitions()
    assert [v.slot for v in parts] == ["1", "2", "5", "6"]
    assert parts[1].offset == 10000 * 512
    # partitions and gaps still cover the image from 0 to the end
    end = 0
    for volume in layout.volumes:
        assert volume.offset <= end
        end = max(end, volume.end)
    assert end == size


# --- GPT -----------------------------------------------------------------------------------


def check_against_sgdisk(layout: DiskLayout, oracle: list[dict[str, Any]]) -> None:
    got = [
        (v.slot, v.offset // 512, (v.offset + v.declared_length) // 512 - 1, v.type_code, v.name)
        for v in layout.partitions()
    ]
    expected = [(p["slot"], p["first"], p["last"], p["type"].lower(), p["name"]) for p in oracle]
    assert got == expected


def test_gpt_three_partitions(gpt_image: Path, tools: Tools) -> None:
    before = tools.file_digest(gpt_image)
    layout, size = layout_of(gpt_image)
    assert layout.scheme == "gpt"
    assert layout.problems == ()
    check_against_sgdisk(layout, sgdisk_partitions(tools, gpt_image))
    assert [v.description for v in layout.partitions()] == [
        "EFI System",
        "Linux filesystem",
        "Microsoft basic data",
    ]
    assert [v.name for v in layout.partitions()] == ["EFI sys", "spool", "data"]
    assert_tiles(layout, size)
    kinds = [v.kind for v in layout.volumes]
    assert kinds == ["gap", "partition", "partition", "partition", "gap"]
    assert tools.file_digest(gpt_image) == before


def test_gpt_truncated_image(gpt_image: Path, tools: Tools) -> None:
    oracle = sgdisk_partitions(tools, gpt_image)
    tools.run("truncate", "-s", str(20 * MiB), gpt_image)  # the backup GPT is cut off
    layout, size = layout_of(gpt_image)
    assert layout.scheme == "gpt"
    assert codes(layout) == ["image-truncated"]
    assert layout.problems[0].message == (
        "GPT says the disk has 65536 sectors but the image has 40960 (512-byte sectors)"
    )
    check_against_sgdisk(layout, oracle)
    assert_tiles(layout, size)


def test_gpt_primary_corrupt_uses_backup(gpt_image: Path, tools: Tools) -> None:
    oracle = sgdisk_partitions(tools, gpt_image)
    with open(gpt_image, "r+b") as fh:
        fh.seek(512 + 24)  # MyLBA inside the primary header
        fh.write(b"\xff" * 8)
    layout, size = layout_of(gpt_image)
    assert layout.scheme == "gpt"
    assert codes(layout) == ["gpt-primary-corrupt"]
    check_against_sgdisk(layout, oracle)
    assert_tiles(layout, size)


def test_gpt_bad_crcs_without_backup(gpt_image: Path, tools: Tools) -> None:
    oracle = sgdisk_partitions(tools, gpt_image)
    tools.run("truncate", "-s", str(20 * MiB), gpt_image)
    with open(gpt_image, "r+b") as fh:
        fh.seek(1024 + 40 * 128 + 100)  # an unused entry's name: entry array CRC breaks
        fh.write(b"X")
        fh.seek(512 + 56)  # the disk GUID: header CRC breaks, header still sane
        fh.write(b"\x00\x01")
    layout, size = layout_of(gpt_image)
    assert layout.scheme == "gpt"
    assert codes(layout) == ["gpt-header-crc", "gpt-entries-crc", "image-truncated"]
    check_against_sgdisk(layout, oracle)
    assert_tiles(layout, size)


def test_protective_mbr_without_gpt(gpt_image: Path) -> None:
    with open(gpt_image, "r+b") as fh:
        fh.seek(512)
        fh.write(b"\x00" * 512)
        fh.seek(32 * MiB - 512)
        fh.write(b"\x00" * 512)
    layout, size = layout_of(gpt_image)
    assert layout.scheme == "mbr"
    assert "gpt-unreadable" in codes(layout)
    assert [(v.slot, v.type_code) for v in layout.partitions()] == [("1", "0xee")]
    assert_tiles(layout, size)


def build_gpt_4k(path: Path, disk_sectors: int) -> None:
    """A minimal 4096-byte-sector GPT with one Linux partition (UEFI 2.10 §5.3)."""
    ss = 4096
    entry = (
        uuid.UUID(LINUX_FS).bytes_le
        + uuid.uuid4().bytes_le
        + struct.pack("<QQQ", 256, 511, 0)
        + "four-k".encode("utf-16-le").ljust(72, b"\x00")
    )
    entries = entry.ljust(128 * 128, b"\x00")

    def header(my_lba: int, alt_lba: int, entry_lba: int) -> bytes:
        fields = struct.pack(
            "<8sIIIIQQQQ16sQIII",
            b"EFI PART",
            0x00010000,
            92,
            0,
            0,
            my_lba,
            alt_lba,
            6,
            disk_sectors - 6,
            uuid.uuid4().bytes_le,
            entry_lba,
            128,
            128,
            zlib.crc32(entries),
        )
        crc = zlib.crc32(fields)
        return (fields[:16] + struct.pack("<I", crc) + fields[20:]).ljust(ss, b"\x00")

    with open(path, "wb") as fh:
        fh.truncate(disk_sectors * ss)
        fh.seek(446)
        fh.write(mbr_entry(0, 0xEE, 1, disk_sectors - 1) + b"\x00" * 48 + b"\x55\xaa")
        fh.seek(ss)
        fh.write(header(1, disk_sectors - 1, 2))
        fh.write(entries)
        fh.seek((disk_sectors - 5) * ss)
        fh.write(entries)
        fh.write(header(disk_sectors - 1, 1, disk_sectors - 5))


def test_gpt_4096_byte_sectors(tmp_path: Path) -> None:
    img = tmp_path / "4kn.img"
    build_gpt_4k(img, 1024)
    layout, size = layout_of(img)
    assert layout.scheme == "gpt"
    assert layout.problems == ()
    (part,) = layout.partitions()
    assert (part.offset, part.length, part.name) == (256 * 4096, 256 * 4096, "four-k")
    assert part.type_code == LINUX_FS
    assert_tiles(layout, size)


# --- no partition table --------------------------------------------------------------------


@pytest.mark.parametrize("mkfs", ["vfat", "ext2"])
def test_bare_file_system(tmp_path: Path, tools: Tools, mkfs: str) -> None:
    img = tools.blank_image(tmp_path / "bare.img", 8 * MiB)
    if mkfs == "vfat":
        tools.need("mkfs.vfat")
        tools.run("mkfs.vfat", img)
    else:
        tools.need("mke2fs")
        tools.run("mke2fs", "-q", "-F", "-t", "ext2", img)
    layout, size = layout_of(img)
    assert layout.scheme == "none"
    assert layout.volumes == (Volume(0, "whole", "none", 0, size, size),)
    assert layout.problems == ()


def test_random_and_tiny_images(tmp_path: Path) -> None:
    noise = tmp_path / "noise.img"
    noise.write_bytes(os.urandom(MiB))
    layout, size = layout_of(noise)
    assert layout.volumes == (Volume(0, "whole", "none", 0, size, size),)
    tiny = tmp_path / "tiny.img"
    tiny.write_bytes(b"\x55\xaa" * 100)
    layout, _size = layout_of(tiny)
    assert layout.volumes == (Volume(0, "whole", "none", 0, 200, 200),)
    signed = tmp_path / "signed.img"
    signed.write_bytes((os.urandom(510) + b"\x55\xaa").ljust(MiB, b"\x00"))
    layout, _size = layout_of(signed)
    assert layout.scheme == "none"


def test_layout_through_e01(mbr_image: Path, tmp_path: Path, tools: Tools) -> None:
    raw_layout, _ = layout_of(mbr_image)
    out = tmp_path / "ewf"
    out.mkdir()
    first = tools.ewf_acquire(mbr_image, out / "mbr", segment="2MiB")
    ewf_layout, _ = layout_of(first)
    assert ewf_layout == raw_layout


def test_volume_to_record(mbr_image: Path) -> None:
    layout, _ = layout_of(mbr_image)
    volume = layout.partitions()[0]
    record = volume.to_record()
    assert isinstance(record, VolumeRecord)
    assert record.to_dict() == {
        "index": volume.index,
        "kind": "partition",
        "scheme": "mbr",
        "offset": 2048 * 512,
        "length": 16384 * 512,
        "declared_length": 16384 * 512,
        "slot": "1",
        "type_code": "0x83",
        "description": "Linux",
        "name": None,
        "filesystem": None,
    }
