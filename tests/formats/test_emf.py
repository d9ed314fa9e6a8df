"""MS-EMF pages: header, text records in reading order, glyph-index heuristic, hostile input.

No Linux tool writes EMF print pages, so the metafiles are built by the construct Structs that
``winspool_builders`` writes from [MS-EMF]; hostile variants overwrite single fields of those bytes. The glyph-index case uses the string measured in a real Windows spool file
(EMFSpoolfileReader_00003.SPL, reference notes §2.7).
"""

from __future__ import annotations

import random
import time

import pytest
from construct import Int32ul

from forensics.formats.base import NotThisFormat, ParseContext, candidates
from forensics.formats.emf import (
    EmfParser,
    TextRun,
    glyphs_to_text,
    layout_text,
    parse_emf,
)
from tests.formats import winspool_builders as wb

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
SECOND = "Card 4111 1111 1111 1111 exp 12/29"


def _overwrite_dword(data: bytearray, at: int, value: int) -> None:
    data[at : at + 4] = Int32ul.build(value)


def _record_size(data: bytes, at: int) -> int:
    """MS-EMF §2.3: a record's Size is the DWORD after its Type."""
    return Int32ul.parse(data[at + 4 : at + 8])


def _page(*lines: str) -> bytes:
    return wb.build_emf(
        wb.text_page(lines), application="WINWORD", document="Discharge summary.docx"
    )


def test_header_and_text_in_reading_order() -> None:
    data = _page(SENTENCE, SECOND)
    job = EmfParser().parse(data, ParseContext(name="page.emf"))
    assert job.complete, job.notes
    assert job.metadata.application == "WINWORD"
    assert job.metadata.document_name == "Discharge summary.docx"
    assert job.metadata.resolution == "600 dpi"  # 5100 px over 216 mm
    assert job.metadata.pages == 1
    assert (job.pages[0].width, job.pages[0].height, job.pages[0].unit) == (612, 792, "pt")
    assert [text.name for text in job.texts] == ["EMF page 1"]
    # Words were written last line first, right to left: the order comes from the positions.
    assert job.texts[0].text == f"{SENTENCE}\n{SECOND}"
    assert job.length == len(data)


def test_sniff_and_registry() -> None:
    data = _page(SENTENCE)
    assert EmfParser.sniff(data[: 64 * 2])
    assert EmfParser in candidates(data[:512])
    assert not EmfParser.sniff(b"\x01\x00\x00\x00" + b"\x00" * 100)
    with pytest.raises(NotThisFormat):
        EmfParser().parse(b"%PDF-1.7\n" + b"\x00" * 200, ParseContext())


def test_glyph_indices_measured_sample() -> None:
    """The −29 shift measured on EMFSpoolfileReader_00003.SPL (reference notes §2.7)."""
    measured = ",PSRUWV\x036\\VWHP\x116HUYLFH3URFHVV"
    text, unmapped = glyphs_to_text([ord(char) for char in measured])
    assert text == "Imports System.ServiceProcess"
    assert unmapped == 0
    page = wb.build_emf(
        [
            wb.emr_font(7, -40, "Calibri"),
            wb.emr_selectobject(7),
            wb.emr_exttextoutw(None, 100, 100, glyph_ids=[ord(char) for char in measured]),
            wb.emr_exttextoutw("plain words", 100, 300),
        ]
    )
    job = EmfParser().parse(page, ParseContext())
    by_name = {text.name: text for text in job.texts}
    glyph = by_name["EMF page 1 (glyph indices, heuristic)"]
    assert glyph.heuristic and glyph.text == "Imports System.ServiceProcess"
    assert by_name["EMF page 1"].text == "plain words"
    assert not by_name["EMF page 1"].heuristic
    assert any("Macintosh glyph order" in note and "Calibri" in note for note in job.notes)


def test_small_text_comments_and_emfplus() -> None:
    page = wb.build_emf(
        [
            wb.emr_comment_emfplus(),
            wb.emr_comment_begingroup("Invoice 2024-117"),
            wb.emr_smalltextout("Total due 1,234.00", 10, 10),
            wb.emr_smalltextout("Wide text", 10, 60, small_chars=False),
        ]
    )
    job = EmfParser().parse(page, ParseContext())
    by_name = {text.name: text.text for text in job.texts}
    assert by_name["EMF page 1"] == "Total due 1,234.00\nWide text"
    assert by_name["EMF page 1 (comments)"] == "Invoice 2024-117"
    assert any("EMF+" in note for note in job.notes)


def test_y_up_mapping_mode_reads_top_down() -> None:
    """MM_LOMETRIC (MS-EMF §2.1.21) has y growing upwards: the larger y is the first line."""
    records = [
        wb.emr_setmapmode(2),
        wb.emr_exttextoutw("second", 0, -200),
        wb.emr_exttextoutw("first", 0, -100),
    ]
    job = EmfParser().parse(wb.build_emf(records), ParseContext())
    assert job.texts[0].text == "first\nsecond"


def test_device_bounds_preferred_when_present() -> None:
    records = [
        wb.emr_exttextoutw("world", 0, 0, bounds=(60, 10, 100, 30)),
        wb.emr_exttextoutw("hello", 999, 999, bounds=(0, 10, 50, 30)),
        wb.emr_exttextoutw("below", 0, 0, bounds=(0, 40, 50, 60)),
    ]
    job = EmfParser().parse(wb.build_emf(records), ParseContext())
    assert job.texts[0].text == "hello world\nbelow"


def test_layout_joins_glyph_by_glyph_runs() -> None:
    runs = [
        TextRun(x=10.0 * i, y=0.0, text=ch, height=20.0, end_x=10.0 * i + 10)
        for i, ch in enumerate("abc")
    ]
    runs.append(TextRun(x=60.0, y=1.0, text="def", height=20.0, end_x=90.0))
    assert layout_text(runs) == "abc def"


def test_parse_emf_reports_truncation_and_budget() -> None:
    data = _page(SENTENCE, SECOND)
    result = parse_emf(data, 0, len(data) - 100)
    assert not result.complete
    assert any("truncated" in note for note in result.notes)
    limited = parse_emf(data, max_chars=10)
    assert sum(len(text.text.replace(" ", "").replace("\n", "")) for text in limited.texts) <= 10
    assert any("text limit" in note for note in limited.notes)


def test_extent_in_carved_buffer() -> None:
    data = _page(SENTENCE)
    buf = b"\xaa" * 33 + data + b"\x00" * 500
    assert EmfParser().extent(buf, 33) == len(data)
    broken = bytearray(data)
    _overwrite_dword(broken, 48, 0)  # nBytes 0: walk to EMR_EOF instead
    assert EmfParser().extent(b"\x11" * 8 + bytes(broken) + b"\x22" * 40, 8) == len(data)
    assert EmfParser().extent(buf, 0) is None


def _must_finish(data: bytes) -> None:
    start = time.monotonic()
    try:
        job = EmfParser().parse(data, ParseContext())
    except NotThisFormat:
        return
    assert job.format == "emf"
    assert time.monotonic() - start < 2.0


def test_hostile_truncations_and_garbage() -> None:
    data = _page(SENTENCE, SECOND)
    for cut in range(0, len(data), 7):
        _must_finish(data[:cut])
    rng = random.Random(1)
    header = data[: _record_size(data, 0)]
    for _ in range(50):
        _must_finish(header + rng.randbytes(rng.randrange(0, 4000)))


def test_hostile_sizes_and_offsets() -> None:
    text = bytearray(wb.emr_exttextoutw("secret", 10, 10))
    _overwrite_dword(text, 44, 0x7FFFFFFF)  # nChars far beyond the record
    bad_offset = bytearray(wb.emr_exttextoutw("secret", 10, 10))
    _overwrite_dword(bad_offset, 48, 0xFFFFFFF0)  # offString outside
    page = wb.build_emf([bytes(text), bytes(bad_offset), wb.emr_exttextoutw("ok", 0, 50)])
    job = EmfParser().parse(page, ParseContext())
    assert job.texts[0].text == "ok"
    assert any("point outside" in note for note in job.notes)
    first_record = _record_size(page, 0)  # right after EMR_HEADER
    huge = bytearray(page)
    _overwrite_dword(huge, first_record + 4, 0xFFFFFFF0)  # a record Size far too big
    job = EmfParser().parse(bytes(huge), ParseContext())
    assert not job.complete
    zero = bytearray(page)
    _overwrite_dword(zero, first_record + 4, 0)  # a zero Size would loop forever
    _must_finish(bytes(zero))
    many = wb.build_emf([wb.emr_selectobject(1)] * 20000)
    start = time.monotonic()
    EmfParser().parse(many, ParseContext())
    assert time.monotonic() - start < 5.0
