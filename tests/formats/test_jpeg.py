"""JPEG scans: Ghostscript's jpeggray device, a JPEG with EXIF written by Pillow (Make, Model,
DateTimeOriginal with OffsetTimeOriginal, UserComment, GPS) and hostile marker chains."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from forensics.formats.base import FormatParser, NotThisFormat, ParseContext
from forensics.formats.jpeg import JpegParser, walk_markers

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) not installed")

PAGE = b"""%!PS
/Helvetica findfont 24 scalefont setfont
72 700 moveto (Patient Name: Jane Example, SSN 536-22-8714) show showpage
"""


def _gs_jpeg(tmp_path: Path) -> bytes:
    source = tmp_path / "page.ps"
    source.write_bytes(PAGE)
    out = tmp_path / "page.jpg"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=jpeggray",
            "-r100",
            "-sPAPERSIZE=letter",
            "-dFIXEDMEDIA",
            f"-sOutputFile={out}",
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out.read_bytes()


def _exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[271] = "RICOH"  # Make
    exif[272] = "IM C3000"  # Model
    exif[305] = "Scan to Folder 2.1"  # Software
    exif[315] = "jdoe"  # Artist
    exif[270] = "Scanned contract"  # ImageDescription
    exif[0x8769] = {
        36867: "2024:03:01 12:30:05",  # DateTimeOriginal
        36881: "+02:00",  # OffsetTimeOriginal
        37510: b"ASCII\x00\x00\x00Password: hunter2",  # UserComment
    }
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 21.0, 0.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "white").save(buffer, format="JPEG", exif=exif, dpi=(300, 300))
    return buffer.getvalue()


@needs_gs
def test_ghostscript_jpeggray(tmp_path: Path) -> None:
    data = _gs_jpeg(tmp_path)
    assert JpegParser.sniff(data[:3])
    job = JpegParser().parse(data, ParseContext(name="scan0001.jpg"))
    assert job.complete and not job.notes
    page = job.pages[0]
    assert (page.width, page.height, page.color) == (850, 1100, "gray")
    assert job.metadata.resolution == "100 dpi"
    extra = dict(job.metadata.extra)
    assert extra["coding"] == "baseline" and extra["jfif"].startswith("1.")
    assert job.length == len(data)
    assert JpegParser().extent(b"\x00" * 5 + data + b"\xff\xd8\xff\xe0garbage", 5) == len(data)


def test_exif_fields() -> None:
    data = _exif_jpeg()
    job = JpegParser().parse(data, ParseContext())
    meta = job.metadata
    assert job.complete, job.notes
    assert meta.created == "2024-03-01T10:30:05Z"  # 12:30:05 at +02:00
    assert (meta.user, meta.application) == ("jdoe", "Scan to Folder 2.1")
    extra = dict(meta.extra)
    assert (extra["make"], extra["model"]) == ("RICOH", "IM C3000")
    assert extra["datetime-original"] == "2024:03:01 12:30:05" and extra["offset-time"] == "+02:00"
    assert extra["user-comment"] == "Password: hunter2"
    assert extra["gps"] == "48.858333, 2.350000"
    assert extra["image-description"] == "Scanned contract"
    assert (job.pages[0].width, job.pages[0].height) == (640, 480)
    exif_text = job.texts[0].text
    assert "Make: RICOH" in exif_text and "UserComment: Password: hunter2" in exif_text


def test_exif_without_offset_time() -> None:
    exif = Image.Exif()
    exif[0x8769] = {36867: "2024:03:01 12:30:05"}
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="JPEG", exif=exif)
    job = JpegParser().parse(buffer.getvalue(), ParseContext())
    assert job.metadata.created == "2024-03-01T12:30:05Z"
    assert any("zone is unknown" in note for note in job.notes)


def test_exif_with_an_ifd_loop() -> None:
    # APP1 Exif whose IFD0 points to itself as the next IFD (TIFF offsets count from "II").
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHI", 271, 2, 4) + b"HP\x00\x00" + struct.pack("<I", 8)
    app1 = b"Exif\x00\x00" + tiff
    data = b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    data += _exif_jpeg()[2:]  # the rest of a real JPEG after its SOI
    started = time.monotonic()
    job = JpegParser().parse(data, ParseContext())
    assert time.monotonic() - started < 1
    assert dict(job.metadata.extra)["make"] == "HP"
    assert any("loop" in note for note in job.notes)


def test_marker_walk_details() -> None:
    data = _exif_jpeg()
    structure = walk_markers(data)
    assert structure.end == len(data) and structure.scans == 1
    # restart markers and stuffed bytes inside the scan do not end it
    sos = data.index(b"\xff\xda")
    length = struct.unpack(">H", data[sos + 2 : sos + 4])[0]
    body = sos + 2 + length
    patched = data[:body] + b"\x12\xff\x00\x34\xff\xd0\x56" + data[body:]
    assert walk_markers(patched).end == len(patched)
    with pytest.raises(NotThisFormat):
        walk_markers(b"\xff\xd9")


def test_registered() -> None:
    assert FormatParser.registry["jpeg"] is JpegParser


def test_hostile() -> None:
    data = _exif_jpeg()
    parser = JpegParser()

    def run(sample: bytes) -> None:
        started = time.monotonic()
        with contextlib.suppress(NotThisFormat):
            parser.parse(sample, ParseContext())
        parser.extent(sample, 0)
        assert time.monotonic() - started < 1

    for cut in range(len(data)):
        run(data[:cut])
    rng = random.Random(81)
    for _ in range(200):
        run(b"\xff\xd8\xff" + rng.randbytes(rng.randint(0, 5000)))
    for _ in range(200):
        damaged = bytearray(data)
        for _ in range(10):
            damaged[rng.randrange(2, 400)] = rng.randrange(256)
        run(bytes(damaged))
    run(b"\xff\xd8" + b"\xff\xfe\x00\x02" * 200_000)  # many empty COM segments
    run(b"\xff\xd8" + b"\xff" * 1_000_000)  # fill bytes only
    truncated = parser.parse(data[: len(data) // 2], ParseContext())
    assert not truncated.complete and truncated.length is None
