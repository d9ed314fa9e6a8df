"""PostScript parser: real producers (enscript, groff, Ghostscript ps2write/eps2write), the shared
samples (CUPS, PRET), hand-built DSC and filter sections where no Linux producer writes them, and
hostile input."""

from __future__ import annotations

import base64
import random
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from forensics.formats.base import NotThisFormat, ParseContext, ParsedJob, candidates
from forensics.formats.postscript import (
    DOS_EPS_HEADER,
    DOS_EPS_MAGIC,
    PostScriptParser,
    glyph_text,
    parse_date,
    read_literal_string,
)

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"


def parse(data: bytes, max_output: int = 64 * 1024 * 1024) -> ParsedJob:
    return PostScriptParser().parse(data, ParseContext(max_output=max_output))


def all_text(job: ParsedJob) -> str:
    return "\n".join(text.text for text in job.texts)


def sample(*parts: str) -> bytes:
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample {path} not present")
    return path.read_bytes()


def run(tool: str, *args: str, cwd: Path | None = None) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    subprocess.run([tool, *args], check=True, cwd=cwd, capture_output=True, timeout=120)


def groff_ps(tmp_path: Path) -> Path:
    source = tmp_path / "doc.ms"
    source.write_text(f".TL\nQuarterly Report\n.PP\n{SENTENCE} was seen.\n")
    out = tmp_path / "groff.ps"
    if shutil.which("groff") is None:
        pytest.skip("groff not installed")
    with out.open("wb") as handle:
        subprocess.run(
            ["groff", "-ms", "-Tps", str(source)], check=True, stdout=handle, timeout=120
        )
    return out


def gs_text(path: Path) -> str:
    """Ghostscript's own text extraction (txtwrite): proves hand-built PostScript is valid."""
    if shutil.which("gs") is None:
        pytest.skip("gs not installed")
    result = subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=txtwrite",
            "-sOutputFile=-",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return " ".join(result.stdout.decode("utf-8", "replace").split())


# --------------------------------------------------------------------------- real producers


def test_enscript(tmp_path: Path) -> None:
    text = tmp_path / "known.txt"
    text.write_text(f"{SENTENCE}\nSecond line (with parens) and back\\slash.\n")
    out = tmp_path / "out.ps"
    run(
        "enscript", "-q", "-M", "A4", "-n", "3", "-t", "Quarterly Report", "-o", str(out), str(text)
    )
    job = parse(out.read_bytes())
    meta = job.metadata
    assert meta.document_name == "Quarterly Report"
    assert meta.application is not None and meta.application.startswith("GNU Enscript")
    assert meta.pages == 1 and len(job.pages) == 1
    assert meta.copies == 3  # "/#copies 3 def"
    assert meta.media == "A4 595x842"
    assert job.texts[0].name == "page 1"
    assert job.texts[0].text == f"{SENTENCE}\nSecond line (with parens) and back\\slash."
    # enscript's page header is shown by its procset from these body definitions.
    definitions = next(t for t in job.texts if t.name == "PostScript string definitions")
    assert f"fname: {text}" in definitions.text.splitlines() and definitions.heuristic
    assert dict(meta.extra)["CreationDate"]  # ctime without a zone: kept raw, not converted
    assert meta.created is None
    assert job.complete and job.length == len(out.read_bytes())


def test_groff(tmp_path: Path) -> None:
    data = groff_ps(tmp_path).read_bytes()
    job = parse(data)
    assert job.metadata.application is not None and job.metadata.application.startswith(
        "groff version"
    )
    assert job.metadata.pages == 1
    # grops splits words for kerning ("Pa" + "tient ...") and positions with rmoveto: one line.
    assert all_text(job) == f"Quarterly Report\n{SENTENCE} was seen."


def test_groff_reencoded_latin1(tmp_path: Path) -> None:
    """grops re-encodes fonts with its ENC0 vector; codes ≥ 128 map through glyph names."""
    source = tmp_path / "accents.ms"
    source.write_text(".PP\nKunde J\\(:urgen M\\(:uller \\(em Caf\\('e \\(Eu 12\n")
    if shutil.which("groff") is None:
        pytest.skip("groff not installed")
    out = subprocess.run(
        ["groff", "-ms", "-Tps", str(source)], check=True, capture_output=True
    ).stdout
    assert "Kunde Jürgen Müller — Café € 12" in all_text(parse(out))


def test_ps2write_of_groff(tmp_path: Path) -> None:
    source = groff_ps(tmp_path)
    out = tmp_path / "ps2write.ps"
    run(
        "gs",
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dSAFER",
        "-sDEVICE=ps2write",
        f"-sOutputFile={out}",
        str(source),
    )
    job = parse(out.read_bytes())
    assert job.metadata.application is not None and "(ps2write)" in job.metadata.application
    assert job.metadata.created is not None and job.metadata.created.endswith("Z")
    assert f"{SENTENCE} was seen." in all_text(job)
    assert job.complete


def test_ps2write_of_pdf(tmp_path: Path) -> None:
    """groff → pdfwrite PDF → ps2write PostScript. Ghostscript 10 turns the PDF's fonts into
    Type 3 fonts of bitmap glyphs named /a0, /a1 ...: no character survives (Ghostscript's own
    txtwrite cannot read it back either), so the parser must say so instead of emitting noise."""
    source = groff_ps(tmp_path)
    pdf = tmp_path / "doc.pdf"
    out = tmp_path / "from-pdf.ps"
    run(
        "gs",
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dSAFER",
        "-sDEVICE=pdfwrite",
        f"-sOutputFile={pdf}",
        str(source),
    )
    run(
        "gs",
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dSAFER",
        "-sDEVICE=ps2write",
        f"-sOutputFile={out}",
        str(pdf),
    )
    data = out.read_bytes()
    job = parse(data)
    if b"/Subtype/Type3" not in data:  # another Ghostscript version kept real fonts
        assert f"{SENTENCE} was seen." in all_text(job)
        return
    assert "Patient" not in gs_text(out)
    assert all_text(job) == ""
    assert any("not recoverable without OCR" in note for note in job.notes)
    assert job.metadata.pages == 1


def test_eps2write(tmp_path: Path) -> None:
    source = groff_ps(tmp_path)
    out = tmp_path / "doc.eps"
    run(
        "gs",
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dSAFER",
        "-sDEVICE=eps2write",
        f"-sOutputFile={out}",
        str(source),
    )
    data = out.read_bytes()
    assert data.startswith(b"%!PS-Adobe-3.0 EPSF-3.0")
    job = parse(data)
    assert "(eps2write)" in (job.metadata.application or "")
    assert "BoundingBox" in dict(job.metadata.extra)
    assert SENTENCE in all_text(job)


# --------------------------------------------------------------------------- shared samples


def test_lorem_ps2write_sample() -> None:
    """PRET lorem.ps: ps2write 9.05, ASCII85+LZW prolog, pages as PDF objects with a TrueType
    subset whose /Differences encoding shifts the codes (L is code 79)."""
    job = parse(sample("pret", "lorem.ps"))
    meta = job.metadata
    assert meta.application == "GPL Ghostscript 905 (ps2write)"
    assert meta.created == "2016-07-31T17:55:25Z"  # D:20160731195525+02'00'
    assert meta.pages == 1 and len(job.pages) == 1
    text = all_text(job)
    assert "Lorem ipsum dolor sit amet, consectetuer adipiscing elit. Ut a sapien." in text
    assert "Class aptent taciti sociosqu ad litora" in text
    assert job.complete and not any(t.heuristic for t in job.texts)


def test_cups_testfile() -> None:
    job = parse(sample("cups", "testfile.ps"))
    meta = job.metadata
    assert meta.document_name == "Test Page"
    assert meta.application == "Michael Sweet, Apple Inc."
    assert meta.created == "2007-06-06T16:40:00Z"  # D:20070606214000+0500
    assert meta.pages == 1
    assert dict(meta.extra)["DocumentData"] == "Clean7Bit"
    assert "Printer Test Page" in all_text(job)
    assert job.length == len(sample("cups", "testfile.ps"))  # %%EOF without %%Trailer


def test_pret_print_atend_pages() -> None:
    job = parse(sample("pret", "print.ps"))
    meta = job.metadata
    assert meta.document_name == "version = 1.03 of testprinter.ps 2005 May 18"
    assert meta.application == "Tom Schneider, toms@ncifcrf.gov"
    assert meta.pages == 1  # "%%Pages: (atend)", resolved from the trailer
    assert job.pages[0].width == 400 and job.pages[0].unit == "pt"
    assert all_text(job) == "printer"  # shown inside the document's own /square procedure
    assert job.complete


def test_pret_nds_xpdf_procset() -> None:
    """xpdf pdftops output: Tj is a procedure that calls Tj1 (defined after it) → awidthshow."""
    job = parse(sample("pret", "nds.ps"))
    assert job.metadata.application == "TeX"
    assert job.metadata.media == "plain 596x842"
    assert all_text(job) == "NDS\n1"


def test_pret_cups_image_only() -> None:
    job = parse(sample("pret", "cups.ps"))
    assert job.metadata.pages == 1 and job.complete
    assert all_text(job) == ""  # the page is one inline image


# --------------------------------------------------------------------------- DSC (hand-built)

DSC_DOCUMENT = b"""%!PS-Adobe-3.0
%%Title: (Payroll \\(Q3\\) 2024)
%%For: jdoe
%%Creator: Microsoft Word - payroll.docx
%%CreationDate: Tue, 05 Mar 2024 14:30:00 +0100
%%Pages: (atend)
%%Routing: Mail stop 12, Building B
%%Requirements: duplex numcopies(2)
%%DocumentMedia: Letter 612 792 75 white ()
%%BoundingBox: 0 0 612 792
%%JobName: payroll-q3
%%EndComments
%@PJL SET HOLD=ON
%@PJL SET HOLDKEY="4711"
%@PJL SET USERNAME="shadow"
%%BeginSetup
[{
%%BeginFeature: *Duplex DuplexNoTumble
<</Duplex true>> setpagedevice
%%EndFeature
} stopped cleartomark
<< /NumCopies 5 >> setpagedevice
%%EndSetup
%%Page: 1 1
/Helvetica findfont 12 scalefont setfont
72 700 moveto (Salary: 5000) show
%%Page: 2 2
72 700 moveto (Page two) show
showpage
%%Trailer
%%Pages: 2
%%EOF
"""


def test_dsc_fields() -> None:
    job = parse(DSC_DOCUMENT)
    meta = job.metadata
    assert meta.document_name == "Payroll (Q3) 2024"
    assert meta.user == "jdoe"
    assert meta.application == "Microsoft Word - payroll.docx"
    assert meta.created == "2024-03-05T13:30:00Z"
    assert meta.pages == 2
    assert meta.copies == 5  # setpagedevice after the header's numcopies(2): the last one wins
    assert meta.media == "Letter 612x792"
    assert meta.job_name == "payroll-q3"
    assert meta.hold == "ON"
    assert meta.pin == "4711" and meta.pin_masked == "********"
    extra = dict(meta.extra)
    assert extra["Routing"] == "Mail stop 12, Building B"
    assert extra["Requirements"] == "duplex numcopies(2)"
    assert extra["PJL USERNAME"] == "shadow"
    assert [t.name for t in job.texts] == ["page 1", "page 2"]
    assert [t.text for t in job.texts] == ["Salary: 5000", "Page two"]
    assert job.complete and job.length == len(DSC_DOCUMENT)


def test_copies_from_feature_and_ctrl_d() -> None:
    data = b"\x04%!PS-Adobe-3.0\n%%BeginFeature: *Copies 7\n%%EndFeature\n(x) show\n%%EOF\n\x04"
    assert PostScriptParser.sniff(data)
    job = parse(data)
    assert job.metadata.copies == 7
    assert job.length == len(data)


def test_truncated_dsc_is_incomplete() -> None:
    job = parse(DSC_DOCUMENT[:700])
    assert not job.complete
    assert any("truncated" in note for note in job.notes)
    assert job.metadata.document_name == "Payroll (Q3) 2024"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D:20070606214000+0500", "2007-06-06T16:40:00Z"),
        ("D:20160731195525+02'00'", "2016-07-31T17:55:25Z"),
        ("D:20261126150824Z00'00'", "2026-11-26T15:08:24Z"),
        ("(D:19990101)", None),  # no zone: local time of unknown zone
        ("Thu Nov 26 15:08:24 2026", None),
        ("Thu Nov 26 15:08:24 UTC 2026", "2026-11-26T15:08:24Z"),
        ("Mon Jan  2 15:04:05 MST 2006", "2006-01-02T22:04:05Z"),
        ("2024-03-05T14:30:00+01:00", "2024-03-05T13:30:00Z"),
        ("Wed Dec 22 1999", None),
        ("garbage", None),
    ],
)
def test_dates(raw: str, expected: str | None) -> None:
    assert parse_date(raw) == expected


def test_string_escapes() -> None:
    body = rb"a\n\r\t\b\f\\\(\)\101\0617 (nested (deep)) cont\
inued\x)rest"
    value, end, closed = read_literal_string(body, 0)
    assert closed and body[end:] == b"rest"
    assert value == b"a\n\r\t\b\f\\()A17 (nested (deep)) continuedx"
    assert read_literal_string(b"line\r\nbreak)", 0)[0] == b"line\nbreak"


def test_glyph_names() -> None:
    assert glyph_text("eacute") == "é"
    assert glyph_text("Scaron") == "Š"
    assert glyph_text("uni00E9") == "é"
    assert glyph_text("u1F600") == "\U0001f600"
    assert glyph_text("f_f_i") == "ffi"
    assert glyph_text("a.sc") == "a"
    assert glyph_text("ccaron") == "č" and glyph_text("Gcommaaccent") == "Ģ"
    assert glyph_text("g123") is None


TYPE3_DOCUMENT = b"""%!PS
/T3 10 dict def T3 begin
/FontType 3 def /FontMatrix [0.001 0 0 0.001 0 0] def /FontBBox [0 0 1000 1000] def
/Encoding 256 array def 0 1 255 {Encoding exch /.notdef put} for
Encoding 1 /S put Encoding 2 /e put Encoding 3 /c put Encoding 4 /r put Encoding 5 /t put
Encoding 6 /space put Encoding 7 /eacute put
/BuildGlyph {pop pop 500 0 0 0 500 500 setcachedevice 0 0 moveto 400 0 rlineto 0 400 rlineto closepath fill} def
/BuildChar {1 index /Encoding get exch get 1 index /BuildGlyph get exec} def
end
/Secret T3 definefont pop
/Secret findfont 12 scalefont setfont
72 700 moveto <010203040205> show <06> show (\\007) show
/Helvetica findfont 12 scalefont setfont
72 680 moveto (plain) show
showpage
"""


def test_type3_font_custom_encoding(tmp_path: Path) -> None:
    """A Type 3 font whose codes 1..7 mean S e c r t space é (PLRM §5.7): the shown codes map
    through its /Encoding; Ghostscript's txtwrite reads the same text."""
    path = tmp_path / "type3.ps"
    path.write_bytes(TYPE3_DOCUMENT)
    assert gs_text(path) == "Secret é plain"
    assert all_text(parse(TYPE3_DOCUMENT)) == "Secret é\nplain"


def test_pages_by_showpage_and_hex_strings() -> None:
    """No %%Page comments: pages counted by showpage, also through a procedure that calls it."""
    data = (
        b"%!\n/Times-Roman findfont 12 scalefont setfont\n/P {showpage} def\n"
        b"72 700 moveto (first page) show P\n"
        b"72 700 moveto (second) show 72 680 moveto <48656c6c6f> show showpage\n"
    )
    job = parse(data)
    assert job.metadata.pages == 2 and len(job.pages) == 2
    assert [(t.name, t.text) for t in job.texts] == [
        ("page 1", "first page"),
        ("page 2", "second\nHello"),
    ]


# --------------------------------------------------------------------------- currentfile sections


def _lzw_encode(data: bytes) -> bytes:
    from tests.formats.test_filters import lzw_encode

    return lzw_encode(data)


def test_currentfile_filter_chains(tmp_path: Path) -> None:
    """Sections no Linux producer writes in these combinations, built with Python's encoders;
    Ghostscript must render each one to the same text (so the PostScript is valid)."""
    inner = b"/Helvetica findfont 12 scalefont setfont\n"

    def section(program: bytes) -> bytes:
        return inner + program + b"\n"

    hex_part = section(b"72 700 moveto (Hex secret one) show").hex().encode() + b">"
    a85_flate = base64.a85encode(
        zlib.compress(section(b"72 680 moveto (Flate secret two) show")), adobe=True
    )
    a85_lzw = base64.a85encode(
        _lzw_encode(section(b"72 660 moveto (LZW secret three) show")), adobe=True
    )
    rl_body = section(b"72 640 moveto (RunLength secret four) show")
    rl_hex = (
        (bytes([len(rl_body) - 1]) + rl_body + b"\x80").hex().encode() + b">"
        if len(rl_body) <= 128
        else b""
    )
    document = b"".join(
        [
            b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\n",
            b"currentfile /ASCIIHexDecode filter cvx exec\n" + hex_part + b"\n",
            b"currentfile /ASCII85Decode filter /FlateDecode filter cvx exec\n"
            + a85_flate[2:]
            + b"\n",
            b"currentfile /ASCII85Decode filter /LZWDecode filter cvx exec\n" + a85_lzw[2:] + b"\n",
            b"currentfile /ASCIIHexDecode filter /RunLengthDecode filter cvx exec\n"
            + rl_hex
            + b"\n",
            b"currentfile 0 (%%EndSub) /SubFileDecode filter cvx exec\n",
            section(b"72 620 moveto (SubFile secret five) show") + b"%%EndSub\n",
            b"showpage\n%%Trailer\n%%EOF\n",
        ]
    )
    path = tmp_path / "sections.ps"
    path.write_bytes(document)
    expected = [
        "Hex secret one",
        "Flate secret two",
        "LZW secret three",
        "RunLength secret four",
        "SubFile secret five",
    ]
    rendered = gs_text(path)
    for phrase in expected:
        assert phrase in rendered
    job = parse(document)
    assert job.texts[0].text == "\n".join(expected)
    assert job.complete and not job.notes


def test_nested_sections_are_depth_bounded() -> None:
    program = b"(deepest) show\n"
    for _ in range(8):
        program = b"currentfile /ASCIIHexDecode filter cvx exec\n" + program.hex().encode() + b">\n"
    job = parse(b"%!PS\n" + program)
    assert any("nesting" in note for note in job.notes)
    assert "deepest" not in all_text(job)


def test_section_bomb_is_capped() -> None:
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(b"(A) show\n" * 100_000) for _ in range(300)) + packer.flush()
    data = (
        b"%!PS\ncurrentfile /ASCII85Decode filter /FlateDecode filter cvx exec\n"
        + base64.a85encode(bomb)
        + b"~>\n"
    )
    started = time.monotonic()
    job = parse(data, max_output=1 << 20)
    assert time.monotonic() - started < 20
    assert not job.complete and any("capped" in note for note in job.notes)


# --------------------------------------------------------------------------- DOS EPS (hand-built)


def test_dos_eps_binary_header(tmp_path: Path) -> None:
    """No Linux tool writes the DOS EPS binary header: built field by field (EPSF spec §5.1)."""
    postscript = groff_ps(tmp_path).read_bytes()
    tiff = b"II*\x00" + b"\x00" * 60
    header_size = 30
    fields = {
        "magic": DOS_EPS_MAGIC,
        "ps_offset": header_size,
        "ps_length": len(postscript),
        "wmf_offset": 0,
        "wmf_length": 0,
        "tiff_offset": header_size + len(postscript),
        "tiff_length": len(tiff),
        "checksum": 0xFFFF,
    }
    data = DOS_EPS_HEADER.build(fields) + postscript + tiff
    assert len(DOS_EPS_HEADER.build(fields)) == header_size
    assert PostScriptParser.sniff(data[:64])
    job = parse(data + b"trailing junk")
    assert SENTENCE in all_text(job)
    assert job.embedded and job.embedded[0].format_hint == "tiff"
    assert job.embedded[0].offset == header_size + len(postscript)
    assert job.length == len(data)
    assert PostScriptParser().extent(b"xx" + data + b"junk", 2) == len(data)
    bad = DOS_EPS_MAGIC + struct.pack("<6IH", 10**9, 5, 0, 0, 0, 0, 0)
    with pytest.raises(NotThisFormat):
        parse(bad)


# --------------------------------------------------------------------------- extent and registry


def test_extent() -> None:
    data = sample("pret", "lorem.ps")
    parser = PostScriptParser()
    assert parser.extent(b"junk" + data + b"\x1b%-12345X@PJL EOJ\r\n", 4) == len(data)
    # Without %%EOF: the next UEL ends the job.
    cut = data[:5000]
    assert parser.extent(cut + b"\x1b%-12345X", 0) == 5000
    assert parser.extent(cut, 0) is None
    # An embedded EPS with its own %%Trailer/%%EOF does not end the outer document.
    outer = b"%!PS-Adobe-3.0\n%%BeginDocument: x.eps\n%!PS\n%%Trailer\n%%EOF\n%%EndDocument\n%%Trailer\n%%EOF\n"
    assert parser.extent(outer + b"next job", 0) == len(outer)


def test_registered_and_sniffed() -> None:
    assert PostScriptParser in candidates(b"%!PS-Adobe-3.0\n")
    assert PostScriptParser in candidates(b"\x04%!PS-Adobe-3.0\n")
    assert PostScriptParser not in candidates(b"%PDF-1.7\n")
    with pytest.raises(NotThisFormat):
        parse(b"not postscript")


# --------------------------------------------------------------------------- hostile input


def _check(data: bytes, seconds: float = 10.0) -> ParsedJob | None:
    started = time.monotonic()
    try:
        job = parse(data, max_output=1 << 22)
    except NotThisFormat:
        return None
    assert time.monotonic() - started < seconds
    assert isinstance(job, ParsedJob)
    return job


def test_truncated_everywhere() -> None:
    data = sample("pret", "lorem.ps")
    for cut in range(0, len(data), 997):
        _check(data[:cut])


def test_random_bytes_after_header() -> None:
    rng = random.Random(31337)
    for size in (10, 1000, 100_000):
        for _ in range(5):
            _check(b"%!PS-Adobe-3.0\n" + bytes(rng.getrandbits(8) for _ in range(size)))


def test_deep_nesting_and_unterminated() -> None:
    for body in (
        b"{" * 200_000,
        b"[" * 200_000 + b"]" * 10,
        b"<<" * 100_000,
        b"(" * 100_000,
        b"/a " * 100_000 + b"def " * 100_000,
        b"currentfile " * 20_000,
        b"1 0 obj << /Length 99999999999 >> stream\n" * 1000,
        b"1 0 obj " + b"[" * 100_000 + b" /Type /Page",
        b"/Type /Page 1 0 obj <</Type/Page/Contents 2 0 R>> endobj 2 0 obj <</Length 5/Filter/FlateDecode>> stream\nxxxxx\nendstream",
    ):
        job = _check(b"%!PS-Adobe-3.0\n" + body)
        assert job is not None
