"""PCL XL: Ghostscript pxlmono/pxlcolor output (real producer) and streams built token by token
from the PCL XL Feature Reference (resident-font text, a downloaded TrueType font with a cmap,
big-endian binding) — no Linux tool here writes text with resident or TrueType fonts."""

from __future__ import annotations

import contextlib
import random
import shutil
import struct
import subprocess
import time

import pytest

from forensics.formats.base import NotThisFormat, ParseContext, ParsedJob
from forensics.formats.pclxl import PclXlParser

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
UEL = b"\x1b%-12345X"


def parse(data: bytes) -> ParsedJob:
    return PclXlParser().parse(data, ParseContext())


def text_of(job: ParsedJob, name: str = "text") -> str:
    return next((t.text for t in job.texts if t.name == name), "")


# -- a token writer (PCL XL FR §5: data type tags, attribute tags, operators) -------------------


class Xl:
    def __init__(self, big_endian: bool = False) -> None:
        self.order = ">" if big_endian else "<"
        self.binding = b"(" if big_endian else b")"
        self.out = bytearray(self.binding + b" HP-PCL XL;2;0;Comment built by the test suite\n")

    def pack(self, fmt: str, *values: float) -> bytes:
        return struct.pack(self.order + fmt, *values)

    def ubyte(self, value: int, attr: int) -> Xl:
        self.out += b"\xc0" + bytes([value]) + b"\xf8" + bytes([attr])
        return self

    def uint16(self, value: int, attr: int) -> Xl:
        self.out += b"\xc1" + self.pack("H", value) + b"\xf8" + bytes([attr])
        return self

    def real32(self, value: float, attr: int) -> Xl:
        self.out += b"\xc5" + self.pack("f", value) + b"\xf8" + bytes([attr])
        return self

    def uint16_xy(self, x: int, y: int, attr: int) -> Xl:
        self.out += b"\xd1" + self.pack("HH", x, y) + b"\xf8" + bytes([attr])
        return self

    def ubyte_array(self, raw: bytes, attr: int) -> Xl:
        self.out += b"\xc8\xc1" + self.pack("H", len(raw)) + raw + b"\xf8" + bytes([attr])
        return self

    def uint16_array(self, values: list[int], attr: int) -> Xl:
        body = b"".join(self.pack("H", v) for v in values)
        self.out += b"\xc9\xc1" + self.pack("H", len(values)) + body + b"\xf8" + bytes([attr])
        return self

    def op(self, tag: int) -> Xl:
        self.out.append(tag)
        return self

    def data(self, raw: bytes) -> Xl:
        self.out += b"\xfa" + self.pack("I", len(raw)) + raw
        return self

    def session(self) -> Xl:
        self.uint16_xy(600, 600, 137).ubyte(0, 134).ubyte(0, 143).op(0x41)  # BeginSession
        return self.ubyte(0, 136).ubyte(1, 130).op(0x48)  # OpenDataSource

    def end(self) -> bytes:
        self.op(0x49).op(0x42)  # CloseDataSource, EndSession
        return bytes(self.out)


def resident_font_job(big_endian: bool = False) -> bytes:
    xl = Xl(big_endian).session()
    xl.ubyte_array(b"Printed by the accounting office", 129).op(0x47)  # Comment
    xl.ubyte(0, 40).ubyte(2, 37).op(0x43)  # BeginPage: portrait, A4
    xl.ubyte_array(b"Courier         ", 168).real32(40.0, 166).uint16(629, 170).op(0x6F)
    xl.uint16_xy(300, 300, 76).op(0x6B)  # SetCursor
    xl.ubyte_array(SENTENCE.encode(), 171).op(0xA8)  # Text
    xl.uint16_xy(300, 400, 76).op(0x6B)
    xl.ubyte_array("Grüße".encode("cp1252"), 171).op(0xA8)
    xl.uint16(3, 49).op(0x44)  # EndPage, 3 copies
    xl.ubyte(1, 40).ubyte(0, 37).op(0x43)  # page 2: landscape letter
    xl.uint16_xy(300, 300, 76).op(0x6B)
    xl.ubyte_array(b"second page", 171).op(0xA8)
    xl.uint16(3, 49).op(0x44)
    return xl.end()


def test_resident_font_text_and_pages() -> None:
    for big_endian in (False, True):
        job = parse(resident_font_job(big_endian))
        text = text_of(job)
        assert text.splitlines() == [SENTENCE, "Grüße", "", "second page"]
        assert not next(t for t in job.texts if t.name == "text").heuristic
        assert job.metadata.pages == 2 and job.metadata.copies == 3
        assert job.metadata.media == "a4"
        assert [(p.width, p.height, p.unit) for p in job.pages] == [
            (595, 842, "pt"),
            (792, 612, "pt"),  # landscape letter
        ]
        assert text_of(job, "PCL XL comments") == "Printed by the accounting office"
        assert ("protocol_class", "2.0") in job.metadata.extra
        assert ("resident_fonts", "Courier") in job.metadata.extra
        assert job.complete and job.notes == []


def sfnt_with_cmap(first: int, last: int, delta: int) -> bytes:
    """A TrueType table directory holding only a format 4 'cmap': codes first..last map to
    glyph code + delta (the usual Windows glyph order puts 'A' at 36: delta -29)."""
    seg_count = 2
    ends = struct.pack(">HH", last, 0xFFFF)
    starts = struct.pack(">HH", first, 0xFFFF)
    deltas = struct.pack(">hH", delta, 1)
    range_offsets = struct.pack(">HH", 0, 0)
    body = ends + b"\x00\x00" + starts + deltas + range_offsets
    subtable = struct.pack(">HHHHHHH", 4, 14 + len(body), 0, seg_count * 2, 4, 1, 0) + body
    cmap = struct.pack(">HH", 0, 1) + struct.pack(">HHI", 3, 1, 12) + subtable
    directory = struct.pack(">IHHHH", 0x00010000, 1, 16, 0, 0)
    record = struct.pack(">4sIII", b"cmap", 0, 12 + 16, len(cmap))
    return directory + record + cmap


def downloaded_font_job(with_cmap: bool, codes_from_text: bool = False) -> bytes:
    """A TrueType font downloaded as the Windows drivers do: codes handed out 1, 2, 3… in order
    of first use, each character's data naming its glyph id."""
    chars = sorted(set(SENTENCE))
    code_of = {
        char: (ord(char) if codes_from_text else index + 1) for index, char in enumerate(chars)
    }
    sfnt = sfnt_with_cmap(0x20, 0x7E, -29) if with_cmap else b""
    header = struct.pack(">BBHBBH", 0, 0, 629, 1, 0, len(chars))
    if sfnt:
        header += b"GT" + struct.pack(">I", len(sfnt)) + sfnt
    header += b"\xff\xff" + struct.pack(">I", 0)  # NULL segment ends the header
    xl = Xl().session()
    xl.ubyte(0, 40).ubyte(0, 37).op(0x43)
    xl.ubyte_array(b"Arial-Subset", 168).ubyte(0, 169).op(0x4F)  # BeginFontHeader
    xl.uint16(len(header), 167).op(0x50).data(header)  # ReadFontHeader
    xl.op(0x51)  # EndFontHeader
    xl.ubyte_array(b"Arial-Subset", 168).op(0x52)  # BeginChar
    for char in chars:
        glyph = struct.pack(">BBHH", 1, 0, 2, ord(char) - 29) + b"\x00" * 10
        xl.uint16(code_of[char], 162).uint16(len(glyph), 163).op(0x53).data(glyph)  # ReadChar
    xl.op(0x54)  # EndChar
    xl.ubyte_array(b"Arial-Subset", 168).real32(50.0, 166).uint16(629, 170).op(0x6F)
    xl.uint16_xy(100, 100, 76).op(0x6B)
    xl.uint16_array([code_of[c] for c in SENTENCE], 171)
    xl.uint16_array([30] * len(SENTENCE), 175).op(0xA8)  # Text with XSpacingData
    xl.uint16(1, 49).op(0x44)
    return xl.end()


def test_bytes_after_end_session_are_not_the_stream() -> None:
    built = resident_font_job()
    job = parse(built + b"\xff\xfe slack")
    assert job.complete and job.length == len(built)
    assert job.metadata.pages == 2


def test_downloaded_truetype_font_mapped_through_cmap() -> None:
    job = parse(downloaded_font_job(with_cmap=True))
    decoded = next(t for t in job.texts if t.name == "text")
    assert decoded.text == SENTENCE
    assert decoded.heuristic
    assert ("downloaded_fonts", "Arial-Subset") in job.metadata.extra


def test_downloaded_font_without_cmap() -> None:
    # Codes assigned 1, 2, 3…: not readable, and said so.
    job = parse(downloaded_font_job(with_cmap=False))
    assert text_of(job) == ""
    assert any("not recoverable" in note for note in job.notes)
    # Codes equal to the characters (drivers that keep the symbol set): read, marked heuristic.
    job = parse(downloaded_font_job(with_cmap=False, codes_from_text=True))
    decoded = next(t for t in job.texts if t.name == "text")
    assert decoded.text == SENTENCE and decoded.heuristic


def test_ascii_binding_is_reported() -> None:
    job = parse(b"' HP-PCL XL;2;0;\nBeginSession\n")
    assert not job.complete and any("ASCII" in note for note in job.notes)


def test_not_pclxl() -> None:
    for data in (b"", b"%!PS-Adobe-3.0\n", b"\x1bE", b"x HP-PCL XL;2;0\n", b") HP-PCL"):
        with pytest.raises(NotThisFormat):
            parse(data)
    assert PclXlParser.sniff(b") HP-PCL XL;2;0;")
    assert not PclXlParser.sniff(b"( HP-PCL X")


@pytest.fixture(scope="module")
def gs_pxl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if shutil.which("gs") is None or shutil.which("groff") is None:
        pytest.skip("gs and groff are needed")
    folder = tmp_path_factory.mktemp("pxl")
    source = folder / "doc.ms"
    source.write_text(
        f".TL\nQuarterly Report\n.PP\n{SENTENCE} was admitted.\n.bp\n.PP\nPage two.\n"
    )
    postscript = folder / "doc.ps"
    postscript.write_bytes(
        subprocess.run(
            ["groff", "-ms", "-Tps", str(source)], capture_output=True, check=True, timeout=60
        ).stdout
    )
    out = {}
    for device in ("pxlmono", "pxlcolor"):
        target = folder / f"{device}.pxl"
        subprocess.run(
            [
                "gs",
                "-q",
                "-dNOPAUSE",
                "-dBATCH",
                "-dSAFER",
                f"-sDEVICE={device}",
                "-sPAPERSIZE=letter",
                "-dFIXEDMEDIA",
                "-dNumCopies=2",
                f"-sOutputFile={target}",
                str(postscript),
            ],
            check=True,
            timeout=120,
        )
        out[device] = target.read_bytes()
    return out


def pxl_payload(stream: bytes) -> bytes:
    """The PCL XL part of gs output (gs wraps it in PJL: UEL … ENTER LANGUAGE … UEL)."""
    start = stream.index(b") HP-PCL XL")
    return stream[start : stream.index(UEL, start)]


def test_ghostscript_streams(gs_pxl: dict[str, bytes]) -> None:
    for device, stream in gs_pxl.items():
        payload = pxl_payload(stream)
        job = parse(payload)
        assert job.complete, (device, job.notes)
        assert job.length == len(payload)
        assert job.metadata.pages == 2 and len(job.pages) == 2
        assert job.metadata.media == "letter"
        assert [(p.width, p.height) for p in job.pages] == [(612, 792), (612, 792)]
        assert job.metadata.copies == 2
        assert "Artifex" in (job.metadata.application or "")
        assert ("protocol_class", "1.1") in job.metadata.extra
        assert ("downloaded_fonts", "@") in job.metadata.extra
        # gs downloads glyph bitmaps under codes that are cache slots (gdevpx.c): no text.
        assert text_of(job) == ""
        assert any("bitmap font '@'" in note and "not recoverable" in note for note in job.notes)
        # Carving: the stream ends where the PJL UEL follows it.
        start = stream.index(b") HP-PCL XL")
        assert PclXlParser().extent(stream, start) == len(payload)
    # Without a UEL after it, the stream ends with EndSession.
    built = resident_font_job()
    assert PclXlParser().extent(b"\x00" * 7 + built + b"\xff" * 50, 7) == len(built)


def hostile_ok(data: bytes) -> None:
    with contextlib.suppress(NotThisFormat):
        PclXlParser().parse(data, ParseContext())


def test_hostile_inputs(gs_pxl: dict[str, bytes]) -> None:
    started = time.monotonic()
    samples = [
        pxl_payload(gs_pxl["pxlmono"])[:6000],
        resident_font_job(),
        downloaded_font_job(True),
    ]
    for source in samples:
        for cut in range(0, len(source), 5):
            hostile_ok(source[:cut])
    header = b") HP-PCL XL;2;0;\n"
    rng = random.Random(7)
    for _ in range(300):
        hostile_ok(header + bytes(rng.randrange(256) for _ in range(rng.randrange(3000))))
    hostile_ok(header + b"\xfa\xff\xff\xff\xff" + b"\x00" * 100)  # 4 GiB data block
    hostile_ok(header + b"\xc9\xc1\xff\xff" + b"\x00" * 100)  # 65535-element array, 100 bytes
    hostile_ok(header + b"\xf8\x81" * 50_000)  # attributes without values
    nan = b"\xc5\x00\x00\xc0\x7f"  # real32 NaN
    hostile_ok(header + nan + b"\xf8\x25" + nan + b"\xf8\x28" + b"\x43" + nan + b"\xf8\x31\x44")
    hostile_ok(header + b"\xc0\x01\xf8\x81" * 50_000 + b"\x47")  # one attribute given 50,000 times
    # A stream that executes itself many times: bounded by depth and a token budget.
    xl = Xl().session()
    name = b"bomb"
    inner = Xl()
    for _ in range(2000):
        inner.ubyte_array(name, 139).op(0x5E)  # ExecStream "bomb"
    body = bytes(inner.out)
    xl.ubyte_array(name, 139).op(0x5B)  # BeginStream
    xl.uint16(len(body), 140).op(0x5C).data(body)  # ReadStream
    xl.op(0x5D)  # EndStream
    xl.ubyte(0, 40).ubyte(0, 37).op(0x43)
    xl.ubyte_array(name, 139).op(0x5E)
    xl.op(0x44)
    job = parse(xl.end())
    assert job.metadata.pages == 1
    assert time.monotonic() - started < 60
