"""PWG Raster, CUPS Raster and Apple URF: CUPS' own PWG sample, Ghostscript's pwgraster, cups
and urf devices rendering a 2-page document, hostile headers and damaged data."""

from __future__ import annotations

import contextlib
import random
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from forensics.formats import raster
from forensics.formats.base import FormatParser, NotThisFormat, ParseContext
from forensics.formats.raster import CupsRasterParser, PwgRasterParser, UrfParser

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
PWG_SAMPLE = SAMPLES / "cups" / "onepage-letter-300-black-1.pwg"
needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) not installed")

TWO_PAGES = b"""%!PS
/Helvetica findfont 24 scalefont setfont
72 700 moveto (Patient Name: Jane Example, SSN 536-22-8714) show showpage
72 700 moveto (Page two) show showpage
"""


def _pwg_sample() -> bytes:
    if not PWG_SAMPLE.exists():
        pytest.skip(f"shared sample {PWG_SAMPLE} not present")
    return PWG_SAMPLE.read_bytes()


def _render(tmp_path: Path, device: str) -> bytes:
    source = tmp_path / "doc.ps"
    source.write_bytes(TWO_PAGES)
    out = tmp_path / f"doc.{device}"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            f"-sDEVICE={device}",
            "-r150",
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


def test_cups_pwg_sample() -> None:
    data = _pwg_sample()
    assert PwgRasterParser.sniff(data[:64]) and not CupsRasterParser.sniff(data[:64])
    job = PwgRasterParser().parse(data, ParseContext(name="onepage-letter-300-black-1.pwg"))
    assert job.complete and not job.notes
    assert job.metadata.pages == 1 and len(job.pages) == 1
    page = job.pages[0]
    assert (page.width, page.height) == (2550, 3300)
    assert page.resolution == "300 dpi"
    assert page.color == "K 1-bit"
    assert page.offset == 4 and page.length == len(data) - 4
    meta = job.metadata
    assert meta.document_format == "image/pwg-raster"
    assert meta.media == "na_letter_8.5x11in"
    assert meta.resolution == "300 dpi"
    assert meta.copies == 1
    extra = dict(meta.extra)
    assert extra["colour-space"] == "K" and extra["bits-per-pixel"] == "1"
    assert extra["media-type"] == "Plain"
    assert job.length == len(data)
    assert PwgRasterParser().extent(b"junk" + data + b"trailing", 4) == len(data)


def test_decode_pwg_page() -> None:
    data = _pwg_sample()
    stream = raster.read_stream(data)
    pixels = raster.decode_page(data, stream.pages[0])
    assert pixels.shape == (3300, 319)
    bits = np.unpackbits(pixels, axis=1)[:, :2550]
    assert bits[:50].sum() == 0  # top margin is blank (K: 0 = no ink)
    assert 0.05 < bits.mean() < 0.5  # a page of text and test patterns


@needs_gs
def test_ghostscript_pwgraster(tmp_path: Path) -> None:
    data = _render(tmp_path, "pwgraster")
    job = PwgRasterParser().parse(data, ParseContext())
    assert job.complete, job.notes
    assert job.metadata.pages == 2
    assert [(p.width, p.height, p.resolution) for p in job.pages] == [(1275, 1650, "150 dpi")] * 2
    assert job.metadata.media == "612x792 pt"
    assert job.length == len(data)
    first = raster.read_stream(data).pages[0]
    assert np.unpackbits(raster.decode_page(data, first)).any()  # the text line is there


@needs_gs
def test_ghostscript_cups_raster(tmp_path: Path) -> None:
    data = _render(tmp_path, "cups")
    assert CupsRasterParser.sniff(data[:4])
    job = CupsRasterParser().parse(data, ParseContext())
    assert job.complete, job.notes
    assert job.metadata.pages == 2
    assert [(p.width, p.height) for p in job.pages] == [(1275, 1650)] * 2
    assert job.metadata.resolution == "150 dpi"
    extra = dict(job.metadata.extra)
    assert extra["cups-raster-version"] == "3"  # gs writes uncompressed v3 in host order
    # uncompressed: every page is its header plus bytes-per-line × height
    page_bytes = raster.HEADER_V2_SIZE + (1275 + 7) // 8 * 1650
    assert [p.length for p in job.pages] == [page_bytes] * 2
    assert job.length == len(data) == 4 + 2 * page_bytes
    assert CupsRasterParser().extent(b"\x00" * 10 + data, 10) == len(data)


@needs_gs
def test_ghostscript_urf(tmp_path: Path) -> None:
    data = _render(tmp_path, "urf")
    assert UrfParser.sniff(data[:12])
    job = UrfParser().parse(data, ParseContext())
    assert job.complete, job.notes
    assert job.metadata.pages == 2
    assert [(p.width, p.height, p.resolution) for p in job.pages] == [(1275, 1650, "150 dpi")] * 2
    assert job.metadata.document_format == "image/urf"
    assert UrfParser().extent(data + b"\xff" * 64, 0) == len(data)


def _hostile_header(data: bytes, width: int, height: int) -> bytes:
    """The PWG sample with its first page header claiming ``width`` × ``height`` pixels."""
    header = bytearray(data)
    struct.pack_into(">II", header, 4 + 372, width, height)  # cupsWidth, cupsHeight
    struct.pack_into(">I", header, 4 + 392, (width + 7) // 8)  # cupsBytesPerLine, consistent
    return bytes(header)


def test_huge_page_header_rejected_cheaply() -> None:
    data = _hostile_header(_pwg_sample(), 100_000, 100_000)
    started = time.monotonic()
    job = PwgRasterParser().parse(data, ParseContext())
    assert time.monotonic() - started < 0.5
    assert not job.complete and "100000x100000" in job.notes[0]
    page = raster.read_stream(data).pages[0]
    with pytest.raises(ValueError):
        raster.decode_page(data, page)
    assert time.monotonic() - started < 1


def test_plausible_but_too_big_to_decode() -> None:
    data = _hostile_header(_pwg_sample(), 20_000, 20_000)  # 400 MP: walked, never decoded
    started = time.monotonic()
    job = PwgRasterParser().parse(data, ParseContext())
    assert job.notes  # the sample's lines do not make a 20000-pixel page: walk ends oddly
    with pytest.raises(ValueError):
        raster.decode_page(data, raster.read_stream(data, walk=False).pages[0])
    assert time.monotonic() - started < 2


def test_registered() -> None:
    for name, parser in (
        ("pwg-raster", PwgRasterParser),
        ("cups-raster", CupsRasterParser),
        ("urf", UrfParser),
    ):
        assert FormatParser.registry[name] is parser


def _parse_quietly(parser: FormatParser, data: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(NotThisFormat):
        parser.parse(data, ParseContext())
    parser.extent(data, 0)
    assert time.monotonic() - started < 2


def test_truncated_and_random(tmp_path: Path) -> None:
    data = _pwg_sample()
    parser = PwgRasterParser()
    for cut in list(range(0, 2000, 37)) + list(range(2000, len(data), 7919)):
        _parse_quietly(parser, data[:cut])
    rng = random.Random(51024)
    for _ in range(50):
        _parse_quietly(parser, data[:1800] + rng.randbytes(rng.randint(0, 200_000)))
    for sync in raster.CUPS_SYNCS:
        for _ in range(20):
            _parse_quietly(CupsRasterParser(), sync + rng.randbytes(rng.randint(0, 5000)))
    for _ in range(50):
        _parse_quietly(UrfParser(), raster.URF_MAGIC + rng.randbytes(rng.randint(0, 5000)))
    # a URF page whose header promises far more lines than there are
    urf = raster.URF_MAGIC + struct.pack(">I", 1) + bytes([8, 0, 1, 4, 0, 0]) + bytes(6)
    urf += struct.pack(">III", 5000, 7000, 600) + bytes(8) + b"\x00\x80" * 10
    job = UrfParser().parse(urf, ParseContext())
    assert not job.complete and job.pages[0].width == 5000


def _compress_lines(pixels: bytes, bytes_per_line: int) -> bytes:
    """CUPS v2 / PWG line compression (cups/raster-stream.c), 1-byte pixels: a repeat byte for
    identical following lines, then runs of 0-127 (repeat next byte n+1 times) or 129-255
    (257-n literal bytes)."""
    lines = [pixels[i : i + bytes_per_line] for i in range(0, len(pixels), bytes_per_line)]
    out = bytearray()
    index = 0
    while index < len(lines):
        line = lines[index]
        repeat = 1
        while index + repeat < len(lines) and lines[index + repeat] == line and repeat < 256:
            repeat += 1
        out.append(repeat - 1)
        pos = 0
        while pos < len(line):
            run = 1
            while pos + run < len(line) and line[pos + run] == line[pos] and run < 128:
                run += 1
            if run >= 2:
                out += bytes([run - 1, line[pos]])
                pos += run
                continue
            start = pos
            while (
                pos < len(line)
                and pos - start < 128
                and (pos + 1 >= len(line) or line[pos + 1] != line[pos])
            ):
                pos += 1
            if pos - start <= 1:  # a lone pixel: "repeat once" (code 0), as CUPS writes it
                out += bytes([0, line[start]])
                pos = start + 1
                continue
            out.append(257 - (pos - start))
            out += line[start:pos]
        index += repeat
    return bytes(out)


@needs_gs
def test_cups_raster_v1_and_v2_converted_from_v3(tmp_path: Path) -> None:
    v3 = _render(tmp_path, "cups")
    assert v3[:4] == b"3SaR"  # little-endian v3
    stream = raster.read_stream(v3)
    v2 = bytearray(b"2SaR")
    v1 = bytearray(b"tSaR")
    originals = []
    for page in stream.pages:
        header = v3[page.offset : page.data_offset]
        pixels = v3[page.data_offset : page.data_offset + page.data_length]
        originals.append(pixels)
        v2 += header + _compress_lines(pixels, page.bytes_per_line)
        v1 += header[: raster.HEADER_V1_SIZE] + pixels  # cups_page_header_t is the first 420 bytes
    for data, version in ((bytes(v2), "2"), (bytes(v1), "1")):
        job = CupsRasterParser().parse(data, ParseContext())
        assert job.complete, job.notes
        assert (
            job.metadata.pages == 2 and dict(job.metadata.extra)["cups-raster-version"] == version
        )
        assert [(p.width, p.height) for p in job.pages] == [(1275, 1650)] * 2
        assert job.length == len(data)
        pages = raster.read_stream(data).pages
        for page, original in zip(pages, originals, strict=True):
            assert raster.decode_page(data, page).tobytes() == original
