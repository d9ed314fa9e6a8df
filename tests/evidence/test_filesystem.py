"""File systems through pytsk3: entries, times, runs, slack and allocation maps against real tools."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from forensics.evidence.disk import read_layout
from forensics.evidence.filesystem import FileSystem, open_filesystem
from forensics.evidence.image import TskImage, open_image
from forensics.evidence.locate import Locator
from forensics.records import LocationClass

ENV = {**os.environ, "LC_ALL": "C", "TZ": "UTC", "MTOOLS_SKIP_CHECK": "1"}


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout


def open_whole(path: Path) -> FileSystem:
    image = open_image(path)
    layout = read_layout(image)
    fs, problems = open_filesystem(image, TskImage(image), layout.volumes[0])
    assert fs is not None and not problems
    return fs


@pytest.fixture
def ext2_image(tmp_path: Path) -> Path:
    staging = tmp_path / "root"
    (staging / "spool").mkdir(parents=True)
    job = staging / "spool" / "job1.prn"
    job.write_bytes(b"A" * 3000)
    os.utime(job, (1709294400, 1709294400))  # 2024-03-01T12:00:00Z
    (staging / "notes.txt").write_bytes(b"hello\n")
    image = tmp_path / "ext2.img"
    run("mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-d", str(staging), str(image), "20M")
    return image


def test_ext2_entries_times_runs_and_slack(ext2_image: Path) -> None:
    fs = open_whole(ext2_image)
    assert fs.type == "ext2" and fs.block_size == 1024
    entries = {w.entry.path: w for w in fs.walk()}
    job = entries["/spool/job1.prn"]
    assert job.entry.allocated and job.entry.kind == "file" and job.entry.size == 3000
    assert job.entry.mtime == "2024-03-01T12:00:00Z"
    assert entries["/spool"].entry.kind == "dir"
    # debugfs is the oracle for where the blocks are.
    blocks = [
        int(b) for b in run("debugfs", "-R", "blocks /spool/job1.prn", str(ext2_image)).split()
    ]
    assert next(r.image_offset for r in job.entry.runs) == blocks[0] * 1024
    assert sum(r.length for r in job.entry.runs) == 3000
    # 3000 bytes in 1 KiB blocks: 72 bytes of slack in the last block.
    assert [(s.image_offset, s.length) for s in job.slack] == [(blocks[-1] * 1024 + 952, 72)]
    inode = int(
        run("debugfs", "-R", "stat /spool/job1.prn", str(ext2_image)).split("Inode: ")[1].split()[0]
    )
    assert job.entry.inode == inode


def test_ext2_allocation_map_matches_dumpe2fs(ext2_image: Path) -> None:
    fs = open_whole(ext2_image)
    allocation = fs.allocation_map()
    assert allocation is not None and allocation.source == "ext-block-bitmap"
    dump = run("dumpe2fs", str(ext2_image))
    ranges: list[tuple[int, int]] = []
    for listed in re.findall(r"^\s+Free blocks: (.*)$", dump, re.M):  # the per-group lines
        for part in filter(None, listed.split(", ")):
            a, _, b = part.partition("-")
            ranges.append((int(a), int(b or a)))
    free_total = int(re.search(r"^Free blocks:\s+(\d+)$", dump, re.M).group(1))  # type: ignore[union-attr]
    assert allocation.unallocated_units() == free_total
    runs = [
        (r.image_offset // 1024, (r.image_offset + r.length) // 1024 - 1)
        for r in allocation.unallocated_runs()
    ]
    assert runs == ranges


def test_fat16_allocation_matches_fsck(tmp_path: Path) -> None:
    image = tmp_path / "fat.img"
    run("mkfs.vfat", "-F", "16", "-C", str(image), "16384")
    payload = tmp_path / "JOB.PRN"
    payload.write_bytes(os.urandom(10000))
    run("mcopy", "-i", str(image), str(payload), "::/JOB.PRN")
    fs = open_whole(image)
    assert fs.type == "fat16"
    allocation = fs.allocation_map()
    assert allocation is not None and allocation.source == "fat16"
    check = subprocess.run(
        ["fsck.fat", "-n", "-v", str(image)], capture_output=True, text=True, env=ENV
    )
    used, total = map(int, re.search(r"(\d+)/(\d+) clusters", check.stdout).groups())  # type: ignore[union-attr]
    assert allocation.count == total
    assert allocation.unallocated_units() == total - used


def test_ntfs_resident_and_nonresident_files_are_located(tmp_path: Path) -> None:
    image = tmp_path / "ntfs.img"
    run("truncate", "-s", "16M", str(image))
    run("mkntfs", "-q", "-F", "-Q", str(image))
    small = tmp_path / "small.txt"
    small.write_bytes(b"resident secret 42\n")
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 6000 + b"non-resident secret\n")
    run("ntfscp", "-q", str(image), str(small), "small.txt")
    run("ntfscp", "-q", str(image), str(big), "big.txt")
    fs = open_whole(image)
    assert fs.type == "ntfs"
    entries = {w.entry.path: w for w in fs.walk()}
    fls = run("fls", "-r", str(image))
    assert re.search(r"r/r (\d+)-128-\d+:\tsmall.txt", fls).group(1) == str(
        entries["/small.txt"].entry.inode
    )  # type: ignore[union-attr]
    data = image.read_bytes()
    small_run = entries["/small.txt"].entry.runs
    assert entries["/small.txt"].resident and len(small_run) == 1
    assert (
        data[small_run[0].image_offset : small_run[0].image_offset + small_run[0].length]
        == small.read_bytes()
    )
    big_run = entries["/big.txt"].entry.runs[0]
    assert data[big_run.image_offset : big_run.image_offset + 6020] == big.read_bytes()
    allocation = fs.allocation_map()
    assert allocation is not None and allocation.source == "ntfs-$Bitmap"

    locator = Locator("ntfs.img", len(data))
    layout_volume = read_layout(fs.image).volumes[0]
    locator.add_volume(layout_volume, "fs")
    locator.add_filesystem(layout_volume, fs.type)
    for walked in entries.values():
        e = walked.entry
        locator.add_file(layout_volume, e.path, e.inode, e.allocated, e.runs, walked.slack)
    locator.set_allocation(layout_volume, allocation)
    locator.freeze()
    hit = locator.locate(small_run[0].image_offset + 9)
    assert (
        hit.location_class is LocationClass.ALLOCATED
        and hit.path == "/small.txt"
        and hit.file_offset == 9
    )
    free = next(allocation.unallocated_runs())
    assert locator.locate(free.image_offset).location_class is LocationClass.UNALLOCATED


def test_unknown_and_corrupt_volumes(tmp_path: Path) -> None:
    zero = tmp_path / "zero.img"
    zero.write_bytes(bytes(1 << 20))
    image = open_image(zero)
    fs, problems = open_filesystem(image, TskImage(image), read_layout(image).volumes[0])
    assert fs is None and [p.code for p in problems] == ["unknown-filesystem"]

    ext = tmp_path / "ext.img"
    run("mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", str(ext), "16M")
    raw = bytearray(ext.read_bytes())
    raw[1024 + 56 : 1024 + 58] = b"\0\0"  # zero the primary superblock magic
    ext.write_bytes(bytes(raw))
    image = open_image(ext)
    fs, problems = open_filesystem(image, TskImage(image), read_layout(image).volumes[0])
    assert fs is None and [p.code for p in problems] == ["corrupt-superblock"]
    assert "backup superblock" in problems[0].message


def test_iso9660_has_no_free_space(tmp_path: Path) -> None:
    tree = tmp_path / "cd"
    tree.mkdir()
    (tree / "JOB1.TXT").write_bytes(b"scan to CD\n")
    image = tmp_path / "cd.iso"
    run("genisoimage", "-quiet", "-o", str(image), str(tree))
    fs = open_whole(image)
    assert fs.type == "iso9660"
    entries = {w.entry.path: w.entry for w in fs.walk()}
    job = entries["/JOB1.TXT"]
    data = image.read_bytes()
    assert data[job.runs[0].image_offset : job.runs[0].image_offset + 11] == b"scan to CD\n"
    allocation = fs.allocation_map()
    assert allocation is not None and allocation.unallocated_units() == 0
    assert fs.problems == []
