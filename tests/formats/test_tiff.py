"""TIFF fax images: Ghostscript's tiffg4 and tiffg3 devices on a 3-page document, a TIFF with
the descriptive tags Pillow writes, and hand-built hostile IFD chains (TIFF 6.0 §2 layout)."""

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

from forensics.formats import tiff
from forensics.formats.base import FormatParser, NotThisFormat, ParseContext
from forensics.formats.tiff import TiffParser

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) not installed")

THREE_PAGES = b"""%!PS
/Helvetica findfont 24 scalefont setfont
72 700 moveto (Patient Name: Jane Example, SSN 536-22-8714) show showpage
72 700 moveto (Page two) show showpage
72 700 moveto (Page three) show showpage
"""


def _fax(tmp_path: Path, device: str) -> bytes:
    source = tmp_path / "doc.ps"
    source.write_bytes(THREE_PAGES)
    out = tmp_path / f"{device}.tif"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            f"-sDEVICE={device}",
            f"-sOutputFile={out}",
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out.read_bytes()


@needs_gs
@pytest.mark.parametrize(
    ("device", "code", "name"),
    [("tiffg4", 4, "CCITT T.6 (G4 fax)"), ("tiffg3", 3, "CCITT T.4 (G3 fax)")],
)
def test_ghostscript_fax(tmp_path: Path, device: str, code: int, name: str) -> None:
    data = _fax(tmp_path, device)
    assert TiffParser.sniff(data[:8])
    job = TiffParser().parse(data, ParseContext(name=f"fax.{device}.tif"))
    meta = job.metadata
    assert meta.pages == 3 and len(job.pages) == 3
    assert meta.application is not None and meta.application.startswith("GPL Ghostscript")
    extra = dict(meta.extra)
    assert extra["compression-code"] == str(code) and extra["compression"] == name
    assert extra["pages-decoded"] == "3"  # Pillow decoded every page
    assert extra["fax-resolution"] == "fine"  # gs fax devices default to 204x196 dpi
    assert meta.resolution == "204x196 dpi"
    assert all(page.width == 1728 and page.color == "WhiteIsZero 1-bit" for page in job.pages)
    assert meta.created is not None and "datetime-raw" in extra
    assert any("no time zone" in note for note in job.notes)
    assert job.complete
    assert job.length == len(data)
    assert TiffParser().extent(b"\x00" * 16 + data + b"\xff" * 100, 16) == len(data)
    assert "Software: GPL Ghostscript" in job.texts[0].text


def test_descriptive_tags() -> None:
    image = Image.new("1", (1728, 200), 1)
    info = {
        269: "Contract 2024-117",  # DocumentName
        270: "Fax from +1 212 555 0100 to Legal",  # ImageDescription
        271: "KONICA MINOLTA",
        272: "bizhub C300i",
        285: "Page 1",
        305: "FaxServer 3.1",
        306: "2024:03:01 12:30:05",
        315: "jdoe",
        316: "MFP-3F-01",
    }
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF", compression="group4", tiffinfo=info, dpi=(204, 98))
    data = buffer.getvalue()
    job = TiffParser().parse(data, ParseContext())
    meta = job.metadata
    assert meta.document_name == "Contract 2024-117"
    assert (meta.user, meta.host, meta.application) == ("jdoe", "MFP-3F-01", "FaxServer 3.1")
    assert meta.created == "2024-03-01T12:30:05Z"
    extra = dict(meta.extra)
    assert extra["make"] == "KONICA MINOLTA" and extra["model"] == "bizhub C300i"
    assert extra["image-description"] == "Fax from +1 212 555 0100 to Legal"
    assert extra["page-name"] == "Page 1"
    assert extra["fax-resolution"] == "standard"
    assert extra["datetime-raw"] == "2024:03:01 12:30:05"
    assert "ImageDescription: Fax from +1 212 555 0100 to Legal" in job.texts[0].text


def _ifd(entries: list[tuple[int, int, int, bytes]], next_offset: int) -> bytes:
    out = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")
    return out + struct.pack("<I", next_offset)


def _minimal_page(strip_at: int) -> list[tuple[int, int, int, bytes]]:
    return [
        (256, 3, 1, struct.pack("<H", 8)),  # ImageWidth
        (257, 3, 1, struct.pack("<H", 1)),  # ImageLength
        (258, 3, 1, struct.pack("<H", 1)),  # BitsPerSample
        (259, 3, 1, struct.pack("<H", 1)),  # Compression none
        (262, 3, 1, struct.pack("<H", 0)),  # WhiteIsZero
        (273, 4, 1, struct.pack("<I", strip_at)),  # StripOffsets
        (279, 4, 1, struct.pack("<I", 1)),  # StripByteCounts
    ]


def test_ifd_loops_are_cut() -> None:
    # IFD at 8 whose next pointer is itself, then a two-IFD cycle 8 → 120 → 8.
    ifd_size = 2 + 7 * 12 + 4
    self_loop = b"II*\x00" + struct.pack("<I", 8) + _ifd(_minimal_page(8 + ifd_size), 8) + b"\x00"
    job = TiffParser().parse(self_loop, ParseContext())
    assert job.metadata.pages == 1 and not job.complete
    assert any("loop" in note for note in job.notes)
    second_at = 8 + ifd_size + 8
    cycle = b"II*\x00" + struct.pack("<I", 8) + _ifd(_minimal_page(8 + ifd_size), second_at)
    cycle += b"\x00" * 8 + _ifd(_minimal_page(8 + ifd_size), 8)
    job = TiffParser().parse(cycle, ParseContext())
    assert job.metadata.pages == 2 and any("loop" in note for note in job.notes)


def test_hostile_counts_and_offsets() -> None:
    huge_count = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535) + b"\x01" * 200
    job = TiffParser().parse(huge_count, ParseContext())
    assert not job.complete
    bad_value = (
        b"II*\x00"
        + struct.pack("<I", 8)
        + _ifd([(270, 2, 0xFFFFFFF0, struct.pack("<I", 0x7FFFFFF0))], 0)
    )
    with contextlib.suppress(NotThisFormat):
        TiffParser().parse(bad_value, ParseContext())
    assert not tiff.walk_tiff(bad_value).complete
    outside = b"MM\x00*" + struct.pack(">I", 0xFFFFFF00)
    with pytest.raises(NotThisFormat):
        TiffParser().parse(outside, ParseContext())
    # a long chain of valid IFDs stops at MAX_IFDS
    chain = bytearray(b"II*\x00" + struct.pack("<I", 8))
    ifd_size = 2 + 12 + 4
    for index in range(tiff.MAX_IFDS + 50):
        chain += _ifd([(256, 3, 1, struct.pack("<H", 1))], 8 + (index + 1) * ifd_size)
    started = time.monotonic()
    structure = tiff.walk_tiff(bytes(chain))
    assert len(structure.ifds) == tiff.MAX_IFDS and not structure.complete
    assert time.monotonic() - started < 5


def test_registered() -> None:
    assert FormatParser.registry["tiff"] is TiffParser


@needs_gs
def test_truncated_and_random(tmp_path: Path) -> None:
    data = _fax(tmp_path, "tiffg4")
    parser = TiffParser()

    def run(sample: bytes) -> None:
        started = time.monotonic()
        with contextlib.suppress(NotThisFormat):
            parser.parse(sample, ParseContext())
        parser.extent(sample, 0)
        assert time.monotonic() - started < 2

    for cut in range(0, len(data), 61):
        run(data[:cut])
    rng = random.Random(1992)
    for _ in range(100):
        run(data[:8] + rng.randbytes(rng.randint(0, 4000)))
    for _ in range(100):  # flip bytes inside the IFDs of a real file
        damaged = bytearray(data)
        for _ in range(20):
            damaged[rng.randrange(8, min(len(damaged), 400))] = rng.randrange(256)
        run(bytes(damaged))


def test_big_endian_hand_built() -> None:
    """A Motorola-order (MM) TIFF built field by field (TIFF 6.0 §2): one 8x1 page."""
    description = b"Incoming fax\x00"
    entries = [
        (256, 3, 1, struct.pack(">H", 8)),
        (257, 3, 1, struct.pack(">H", 1)),
        (259, 3, 1, struct.pack(">H", 1)),
        (270, 2, len(description), struct.pack(">I", 8 + 2 + 5 * 12 + 4)),
        (273, 4, 1, struct.pack(">I", 8 + 2 + 5 * 12 + 4 + len(description))),
    ]
    body = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")
    data = b"MM\x00*" + struct.pack(">I", 8) + body + struct.pack(">I", 0) + description + b"\xff"
    structure = tiff.walk_tiff(data)
    assert structure.byte_order == ">" and structure.complete
    job = TiffParser().parse(data, ParseContext())
    assert dict(job.metadata.extra)["image-description"] == "Incoming fax"
    assert (job.pages[0].width, job.pages[0].height) == (8, 1)
