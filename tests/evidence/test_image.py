"""Image access: raw, split raw, E01, user errors and the pytsk3 adapter, built with real tools."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytsk3

from forensics.errors import ImageReadError, InputError
from forensics.evidence.image import Image, TskImage, iter_chunks, open_image

if TYPE_CHECKING:
    from conftest import Tools

MiB = 1024 * 1024


def stream_md5(image: Image, chunk: int = 300_000) -> str:
    digest = hashlib.md5()
    for _offset, data in iter_chunks(image, chunk):
        digest.update(data)
    return digest.hexdigest()


# --- raw -----------------------------------------------------------------------------------


def test_raw_image_reads_match_file(tmp_path: Path, tools: Tools) -> None:
    src = tools.patterned_file(tmp_path / "printer.dd", 3 * MiB + 123)
    before = tools.file_digest(src)
    data = src.read_bytes()
    with open_image(src) as image:
        assert image.format == "raw"
        assert image.paths == (src,)
        assert image.size == len(data)
        assert image.sector_size == 512
        assert image.stored_hashes == {}
        assert image.problems == []
        assert image.describe() == "raw image printer.dd (3.0 MiB)"
        assert stream_md5(image) == hashlib.md5(data).hexdigest()
        assert image.read(1000, 5000) == data[1000:6000]
        assert image.read(len(data) - 10, 100) == data[-10:]  # short only at the end
        assert image.read(len(data), 10) == b""
        assert image.read(len(data) + 5000, 10) == b""
        assert image.read(0, 0) == b""
        with pytest.raises(ValueError):
            image.read(-1, 10)
    with pytest.raises(ValueError):
        image.read(0, 1)  # closed
    assert tools.file_digest(src) == before


def test_iter_chunks_bounds(tmp_path: Path, tools: Tools) -> None:
    src = tools.patterned_file(tmp_path / "a.raw", 10_000)
    data = src.read_bytes()
    with open_image(src) as image:
        chunks = list(iter_chunks(image, 3000, start=500, end=9000))
        assert [o for o, _ in chunks] == [500, 3500, 6500]
        assert b"".join(d for _, d in chunks) == data[500:9000]
        assert list(iter_chunks(image, 4096, start=20_000)) == []
        tail = list(iter_chunks(image, 4096, start=9000, end=50_000))
        assert b"".join(d for _, d in tail) == data[9000:]
        with pytest.raises(ValueError):
            list(iter_chunks(image, 0))


@pytest.mark.parametrize("kind", ["raw", "split-raw", "ewf"])
def test_reads_from_threads(tmp_path: Path, tools: Tools, kind: str) -> None:
    src = tmp_path / "t.raw"
    src.write_bytes(os.urandom(3 * MiB) + b"\x00" * MiB)
    data = src.read_bytes()
    first = src
    if kind == "split-raw":
        tools.run(
            "split", "-b", "1M", "-d", "-a", "3", "--numeric-suffixes=1", src, tmp_path / "t."
        )
        first = tmp_path / "t.001"
    elif kind == "ewf":
        out = tmp_path / "ewf"
        out.mkdir()
        first = tools.ewf_acquire(src, out / "t")
    errors: list[str] = []
    with open_image(first) as image:
        assert image.format == kind

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(100):
                off = rng.randrange(0, len(data))
                size = rng.randrange(1, 1_200_000)
                if image.read(off, size) != data[off : off + size]:
                    errors.append(f"mismatch at {off}+{size}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


# --- user errors ---------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as info:
        open_image(tmp_path / "nope.dd")
    assert "\n" not in str(info.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        open_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.dd"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"is empty \(0 bytes\): not a disk image"):
        open_image(empty)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.dd"
    secret.write_bytes(b"x" * 1024)
    secret.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        open_image(secret)


def test_non_empty_junk_is_a_raw_image(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with open_image(junk) as image:  # deciding "not a disk image" is the caller's job
        assert image.format == "raw"
        assert image.read(0, 100) == b"hello"


# --- split raw -----------------------------------------------------------------------------


def make_source(tmp_path: Path, tools: Tools, size: int = 3 * MiB + 4096) -> tuple[Path, bytes]:
    src = tools.patterned_file(tmp_path / "src.img", size)
    return src, src.read_bytes()


def test_split_numeric_from_001(tmp_path: Path, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools)
    out = tmp_path / "parts"
    out.mkdir()
    tools.run("split", "-b", "1M", "-d", "-a", "3", "--numeric-suffixes=1", src, out / "img.")
    first = out / "img.001"
    before = {p.name: tools.file_digest(p) for p in out.iterdir()}
    with open_image(first) as image:
        assert image.format == "split-raw"
        assert [p.name for p in image.paths] == ["img.001", "img.002", "img.003", "img.004"]
        assert image.size == len(data)
        assert image.problems == []
        assert "4 segments" in image.describe()
        # a read spanning .001 -> .002 returns the joined bytes
        assert image.read(MiB - 100, 300) == data[MiB - 100 : MiB + 200]
        # a read spanning three segments
        assert image.read(MiB - 1, 2 * MiB + 2) == data[MiB - 1 : 3 * MiB + 1]
        assert image.read(len(data) - 5, 50) == data[-5:]
        assert stream_md5(image, 777_777) == hashlib.md5(data).hexdigest()
    assert {p.name: tools.file_digest(p) for p in out.iterdir()} == before


def test_split_numeric_from_000(tmp_path: Path, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools)
    tools.run("split", "-b", "1M", "-d", "-a", "3", src, tmp_path / "disk.")
    with open_image(tmp_path / "disk.000") as image:
        assert image.format == "split-raw"
        assert len(image.paths) == 4
        assert stream_md5(image) == hashlib.md5(data).hexdigest()


def test_split_not_first_segment(tmp_path: Path, tools: Tools) -> None:
    src, _data = make_source(tmp_path, tools)
    tools.run("split", "-b", "1M", "-d", "-a", "3", "--numeric-suffixes=1", src, tmp_path / "img.")
    with pytest.raises(InputError, match=r"not the first segment.*img\.001"):
        open_image(tmp_path / "img.002")


@pytest.mark.parametrize(
    ("prefix", "first"),
    [("img.", "img.aa"), ("disk", "diskaa"), ("", "xaa")],
)
def test_split_letters(tmp_path: Path, prefix: str, first: str, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools)
    out = tmp_path / "parts"
    out.mkdir()
    args: list[str | Path] = ["split", "-b", "1M", src]
    if prefix:
        args.append(out / prefix)
    tools.run(*args, cwd=out)
    with open_image(out / first) as image:
        assert image.format == "split-raw"
        assert len(image.paths) == 4
        assert image.paths[1].name == first[:-1] + "b"
        assert image.size == len(data)
        assert image.read(2 * MiB - 7, 14) == data[2 * MiB - 7 : 2 * MiB + 7]
        assert stream_md5(image) == hashlib.md5(data).hexdigest()


def test_split_gap_is_a_problem(tmp_path: Path, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools)
    tools.run("split", "-b", "1M", "-d", "-a", "3", "--numeric-suffixes=1", src, tmp_path / "img.")
    (tmp_path / "img.002").unlink()
    with open_image(tmp_path / "img.001") as image:
        assert image.format == "split-raw"
        assert [p.name for p in image.paths] == ["img.001"]
        assert image.size == MiB
        codes = [p.code for p in image.problems]
        assert codes == ["missing-segment"]
        assert "img.002" in image.problems[0].message
        assert image.read(MiB - 10, 100) == data[MiB - 10 : MiB]


def test_raw_file_next_to_split_set_is_raw(tmp_path: Path, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools)
    tools.run("split", "-b", "1M", src, tmp_path / "image.")
    full = tmp_path / "image.dd"
    full.write_bytes(data)
    with open_image(full) as image:  # "dd" is not part of the aa, ab, ... chain
        assert image.format == "raw"
        assert image.size == len(data)


def test_many_segments_keep_few_descriptors(tmp_path: Path, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools, size=200 * 4096 + 5)
    tools.run("split", "-b", "4096", "-a", "2", src, tmp_path / "s.")  # 201 segments
    with open_image(tmp_path / "s.aa") as image:
        assert len(image.paths) == 201
        assert image.paths[-1].name == "s.hs"
        assert stream_md5(image, 10_000) == hashlib.md5(data).hexdigest()
        assert len(os.listdir("/proc/self/fd")) < 200


def test_split_gnu_widened_suffixes(tmp_path: Path, tools: Tools) -> None:
    src, data = make_source(tmp_path, tools, size=700 * 512)
    tools.run("split", "-b", "512", src, tmp_path / "p.")  # ... p.yz, p.zaaa, p.zaab ...
    with open_image(tmp_path / "p.aa") as image:
        assert len(image.paths) == 700
        assert image.paths[-1].name == "p.zabx"
        assert image.problems == []
        assert image.read(0, image.size) == data


def test_lone_numbered_file_is_raw(tmp_path: Path, tools: Tools) -> None:
    src = tools.patterned_file(tmp_path / "backup.001", 5000)
    with open_image(src) as image:
        assert image.format == "raw"


# --- E01 -----------------------------------------------------------------------------------


@pytest.fixture
def ewf_set(tmp_path: Path, tools: Tools) -> tuple[Path, bytes]:
    # 5 MiB of random bytes then 3 MiB of zeros: compresses to several 1 MiB segments
    src = tmp_path / "disk.raw"
    src.write_bytes(os.urandom(5 * MiB) + b"\x00" * (3 * MiB))
    data = src.read_bytes()
    out = tmp_path / "ewf"
    out.mkdir()
    return tools.ewf_acquire(src, out / "disk"), data


def test_e01_reads_and_hashes(ewf_set: tuple[Path, bytes], tools: Tools) -> None:
    first, data = ewf_set
    before = {p.name: tools.file_digest(p) for p in first.parent.iterdir()}
    md5 = hashlib.md5(data).hexdigest()
    with open_image(first) as image:
        assert image.format == "ewf"
        assert len(image.paths) >= 2
        assert image.paths[0] == first
        assert image.size == len(data)
        assert image.sector_size == 512
        assert image.problems == []
        assert image.stored_hashes["md5"] == md5
        assert image.stored_hashes["sha1"] == hashlib.sha1(data).hexdigest()
        assert stream_md5(image, 1_000_003) == md5
        assert image.read(4 * MiB + 3, 10) == data[4 * MiB + 3 : 4 * MiB + 13]
        assert image.read(len(data) - 3, 10) == data[-3:]
        assert image.read(len(data), 10) == b""
        assert image.describe().startswith("E01 image disk.E01 (")
    assert {p.name: tools.file_digest(p) for p in first.parent.iterdir()} == before


def test_e01_open_from_later_segment(ewf_set: tuple[Path, bytes]) -> None:
    first, data = ewf_set
    with open_image(first.with_suffix(".E02")) as image:
        assert image.paths[0] == first
        assert image.size == len(data)


def test_e01_detected_by_signature(
    ewf_set: tuple[Path, bytes], tmp_path: Path, tools: Tools
) -> None:
    first, data = ewf_set
    single = tmp_path / "single.E01"
    tools.run(
        "ewfacquire",
        "-u",
        "-q",
        "-t",
        tmp_path / "single",
        "-c",
        "deflate:fast",
        first.parent.parent / "disk.raw",
    )
    renamed = tmp_path / "evidence.bin"
    shutil.copy(single, renamed)
    with open_image(renamed) as image:
        assert image.format == "ewf"
        assert image.size == len(data)
        assert stream_md5(image) == hashlib.md5(data).hexdigest()


def test_e01_missing_middle_segment(ewf_set: tuple[Path, bytes]) -> None:
    first, data = ewf_set
    segments = sorted(first.parent.glob("disk.E*"))
    assert len(segments) >= 3
    segments[1].unlink()
    with open_image(first) as image:
        codes = {p.code for p in image.problems}
        assert "missing-segment" in codes
        assert "image-truncated" in codes
        assert 0 < image.size < len(data)
        assert image.read(0, image.size) == data[: image.size]
        assert image.read(image.size, 100) == b""


def test_e01_missing_last_segment(ewf_set: tuple[Path, bytes]) -> None:
    first, data = ewf_set
    segments = sorted(first.parent.glob("disk.E*"))
    segments[-1].unlink()
    with open_image(first) as image:
        assert [p.code for p in image.problems] == ["image-truncated"]
        assert image.size < len(data)
        assert image.stored_hashes == {}  # the hash lives in the last segment
        assert image.read(0, image.size) == data[: image.size]


def test_e01_garbage_after_signature(tmp_path: Path) -> None:
    bad = tmp_path / "bad.E01"
    bad.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + os.urandom(4000))
    with pytest.raises(InputError, match="is not a readable E01 image: ") as info:
        open_image(bad)
    assert "\n" not in str(info.value)


def test_e01_read_error_is_image_read_error(ewf_set: tuple[Path, bytes]) -> None:
    first, _data = ewf_set
    with open_image(first) as image:
        image.size += 10 * MiB  # pretend the media is larger: reads there must fail cleanly
        with pytest.raises(ImageReadError, match=r"at offset \d+"):
            image.read(image.size - MiB, 100)


# --- pytsk3 adapter ------------------------------------------------------------------------


def make_ext2(tmp_path: Path, tools: Tools) -> tuple[Path, bytes]:
    tools.need("mke2fs")
    content = tmp_path / "content"
    content.mkdir()
    payload = b"PJL JOB NAME=secret\n" * 500
    (content / "job.prn").write_bytes(payload)
    fs = tools.blank_image(tmp_path / "fs.ext2", 4 * MiB)
    tools.run("mke2fs", "-q", "-F", "-t", "ext2", "-d", content, fs)
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as out:
        out.write(b"\x00" * MiB)  # the file system starts 1 MiB into the image
        out.write(fs.read_bytes())
    return disk, payload


def read_job(fs: pytsk3.FS_Info) -> bytes:
    handle = fs.open("/job.prn")
    size = handle.info.meta.size
    return handle.read_random(0, size)


def test_tsk_image_ext2_at_offset(tmp_path: Path, tools: Tools) -> None:
    disk, payload = make_ext2(tmp_path, tools)
    with open_image(disk) as image:
        tsk = TskImage(image)
        assert tsk.get_size() == image.size
        fs = pytsk3.FS_Info(tsk, offset=MiB)
        assert fs.info.ftype == pytsk3.TSK_FS_TYPE_EXT2
        assert read_job(fs) == payload
        # reads past the end are zero-padded for TSK only
        assert tsk.read(image.size - 4, 8) == image.read(image.size - 4, 4) + b"\x00" * 4
        assert image.read(image.size - 4, 8) == image.read(image.size - 4, 4)


def test_tsk_image_over_split_and_e01(tmp_path: Path, tools: Tools) -> None:
    disk, payload = make_ext2(tmp_path, tools)
    tools.run("split", "-b", "1M", "-d", "-a", "3", "--numeric-suffixes=1", disk, tmp_path / "d.")
    out = tmp_path / "ewf"
    out.mkdir()
    first = tools.ewf_acquire(disk, out / "d")
    for path in (tmp_path / "d.001", first):
        with open_image(path) as image:
            assert image.format in ("split-raw", "ewf")
            fs = pytsk3.FS_Info(TskImage(image), offset=MiB)
            assert read_job(fs) == payload
