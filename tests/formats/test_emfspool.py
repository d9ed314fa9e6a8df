"""EMF spool files (.SPL): header names, DEVMODE, one EMF per page, pairing, hostile input.

No Linux tool writes EMFSPOOL, so spool files are built by the construct Structs that
``winspool_builders`` writes from [MS-EMFSPOOL] and [MS-EMF]; one test starts from the header bytes
of the specification's own example (MS-EMFSPOOL §3.2), which the builder must reproduce.
"""

from __future__ import annotations

import random
import time

import pytest

from forensics.formats.base import NotThisFormat, ParseContext, candidates
from forensics.formats.emfspool import EmfSpoolParser, parse_devmode, winspool_pair_key
from tests.formats import winspool_builders as wb

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
PAGE_TWO = "Diagnosis: confidential, do not disclose"


def _spool(**kwargs: object) -> bytes:
    pages = [
        wb.build_emf(
            wb.text_page([SENTENCE, "Ward 7 bed 12"]),
            application="WINWORD",
            document="Discharge.docx",
        ),
        wb.build_emf(wb.text_page([PAGE_TWO])),
    ]
    dm = wb.devmode(
        "HP LaserJet 4250 PCL6", copies=3, paper_size=9, duplex=2, driver_extra=b"\x5a" * 36
    )
    return wb.build_spool(
        "Discharge.docx - Word", "IP_10.0.0.20", pages, devmode_record=dm, **kwargs
    )  # type: ignore[arg-type]


def test_two_pages_metadata_and_text() -> None:
    data = _spool()
    job = EmfSpoolParser().parse(data, ParseContext(name="C:/spool/PRINTERS/00017.SPL"))
    assert job.complete, job.notes
    meta = job.metadata
    assert meta.document_name == "Discharge.docx - Word"
    assert meta.port == "IP_10.0.0.20"
    assert meta.printer == "HP LaserJet 4250 PCL6"
    assert meta.copies == 3
    assert meta.media == "a4"
    assert meta.resolution == "600 dpi"
    assert meta.pages == 2
    assert meta.application == "WINWORD"
    extra = dict(meta.extra)
    assert extra["duplex"] == "duplex long edge"
    assert extra["color_mode"] == "color"
    assert extra["form_name"] == "A4"
    assert extra["emf_document_name"] == "Discharge.docx"
    assert [text.name for text in job.texts] == ["EMF page 1", "EMF page 2"]
    assert job.texts[0].text == f"{SENTENCE}\nWard 7 bed 12"
    assert job.texts[1].text == PAGE_TWO
    assert [page.number for page in job.pages] == [1, 2]
    first = job.pages[0]
    assert first.offset is not None and data[first.offset : first.offset + 4] == b"\x01\x00\x00\x00"
    assert job.texts[0].source_offset == first.offset
    assert job.pair_key == "winspool:00017"
    assert job.length == len(data)


def test_spec_example_header() -> None:
    """The first 0x54 bytes of the MS-EMFSPOOL §3.2 example: doc name and output device."""
    header = bytes.fromhex("00000100540000001000000046000000")
    header += "Microsoft Word - Document1".encode("utf-16-le") + b"\x00\x00"
    header += "Ne02:".encode("utf-16-le") + b"\x00\x00" + b"\x00\x00"
    assert len(header) == 0x54
    assert wb.spool_header("Microsoft Word - Document1", "Ne02:") == header  # the oracle agrees
    page = wb.build_emf(wb.text_page(["hello spool"]))
    data = header + wb.spool_record(wb.EMRI_METAFILE_DATA, page)
    job = EmfSpoolParser().parse(data, ParseContext())
    assert job.metadata.document_name == "Microsoft Word - Document1"
    assert job.metadata.port == "Ne02:"
    assert job.texts[0].text == "hello spool"
    assert job.pair_key is None


def test_sniff_rejects_raw_spool_and_icons() -> None:
    data = _spool()
    assert EmfSpoolParser.sniff(data[:4096])
    assert EmfSpoolParser in candidates(data[:4096], "00017.SPL")
    raw = b'\x1b%-12345X@PJL JOB NAME="x"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE text\x1bE'
    assert not EmfSpoolParser.sniff(raw, "00017.SPL")
    with pytest.raises(NotThisFormat):
        EmfSpoolParser().parse(raw, ParseContext(name="00017.SPL"))
    icon = b"\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00" + b"\x00" * 200
    assert not EmfSpoolParser.sniff(icon)
    with pytest.raises(NotThisFormat):
        EmfSpoolParser().parse(icon, ParseContext())


def test_truncated_spool_keeps_what_was_spooled() -> None:
    data = _spool()
    cut = data.rindex(PAGE_TWO.split(" ")[0].encode("utf-16-le")) + 40
    job = EmfSpoolParser().parse(data[:cut], ParseContext())
    assert not job.complete
    assert job.texts[0].text.startswith(SENTENCE)
    assert job.metadata.pages == 2
    assert any("truncated" in note for note in job.notes)


def test_postscript_job_data_is_handed_on() -> None:
    postscript = b"%!PS\n(injected secret) show\n"
    ps_record = wb.spool_record(wb.EMRI_PS_JOB_DATA, wb.postscript_job_data(postscript))
    data = _spool(extra_records=[ps_record])
    job = EmfSpoolParser().parse(data, ParseContext())
    assert job.embedded and job.embedded[0].data == postscript
    assert job.texts[0].text.startswith(SENTENCE)


def test_page_offset_record_checked() -> None:
    data = bytearray(_spool())
    last = data.rindex(wb.EmfSpoolRecordHeader.build({"ulID": wb.EMRI_METAFILE_EXT, "cjSize": 8}))
    data[last : last + 16] = wb.EmriMetafileExt.build({"offset": 12345})  # points nowhere
    job = EmfSpoolParser().parse(bytes(data), ParseContext())
    assert any("not to a page record" in note for note in job.notes)


def test_zero_fill_after_records() -> None:
    data = _spool() + b"\x00" * 4096
    job = EmfSpoolParser().parse(data, ParseContext())
    assert job.complete
    assert any("zero fill" in note for note in job.notes)
    assert job.length == len(data) - 4096


def test_extent_in_carved_buffer() -> None:
    data = _spool()
    buf = b"\x13" * 100 + data + b"\xff\xee" * 300
    assert EmfSpoolParser().extent(buf, 100) == len(data)
    assert EmfSpoolParser().extent(buf, 0) is None


def test_pair_key_names() -> None:
    assert winspool_pair_key("00002.SPL") == "winspool:00002"
    assert winspool_pair_key(r"C:\Windows\System32\spool\PRINTERS\FP00042.shd") == "winspool:00042"
    assert winspool_pair_key("report.spl") is None
    assert winspool_pair_key(None) is None


def test_devmode_without_fields_mask_and_truncated() -> None:
    dm = wb.devmode("Kyocera TASKalfa", copies=2, paper_size=1, fields=0, quality=-4)
    parsed, notes = parse_devmode(dm, 0, len(dm))
    assert parsed is not None and not notes
    assert (parsed.device_name, parsed.copies, parsed.media, parsed.resolution) == (
        "Kyocera TASKalfa",
        2,
        "letter",
        "high",
    )
    custom = wb.devmode(
        "Label printer",
        paper_size=256,
        form_name="",
        paper_length=1500,
        paper_width=1000,
        fields=0x0000_000E,
    )
    parsed, _ = parse_devmode(custom, 0, len(custom))
    assert parsed is not None and parsed.media == "custom 100x150mm"
    parsed, notes = parse_devmode(dm, 0, 100)
    assert parsed is not None and parsed.device_name == "Kyocera TASKalfa" and notes
    parsed, notes = parse_devmode(dm, 0, 10)
    assert parsed is None and notes


def _must_finish(data: bytes) -> None:
    start = time.monotonic()
    try:
        job = EmfSpoolParser().parse(data, ParseContext())
    except NotThisFormat:
        return
    assert job.format == "emfspool"
    assert time.monotonic() - start < 2.0


def test_hostile_truncation_and_random_records() -> None:
    data = _spool()
    for cut in range(0, len(data), 11):
        _must_finish(data[:cut])
    header = wb.spool_header("doc", "port")
    rng = random.Random(7)
    for _ in range(100):
        _must_finish(header + rng.randbytes(rng.randrange(0, 3000)))
    for record_id in range(1, 0x16):
        oversized = wb.EmfSpoolRecordHeader.build({"ulID": record_id, "cjSize": 0xFFFFFFF0})
        _must_finish(header + oversized + rng.randbytes(64))
        unaligned = wb.EmfSpoolRecordHeader.build({"ulID": record_id, "cjSize": 3})
        _must_finish(header + unaligned + b"\x01\x02\x03")


def test_hostile_header_offsets() -> None:
    # Both names at one odd offset inside the 0x20-byte header.
    bad = wb.EmfSpoolHeaderFixed.build({"cjSize": 0x20, "dpszDocName": 0x1E, "dpszOutput": 0x1E})
    bad += b"A\x00" * 8
    _must_finish(bad + wb.EmfSpoolRecordHeader.build({"ulID": wb.EMRI_METAFILE_DATA, "cjSize": 0}))
    huge = wb.EmfSpoolHeaderFixed.build({"cjSize": 0xFFFFFFF0, "dpszDocName": 0, "dpszOutput": 0})
    assert not EmfSpoolParser.sniff(huge)
    many = (
        wb.spool_header("d", "o")
        + wb.spool_record(wb.EMRI_PRESTARTPAGE, wb.EmriPrestartPageData.build({"bEPS": 0})) * 50_000
    )
    start = time.monotonic()
    job = EmfSpoolParser().parse(many, ParseContext())
    assert time.monotonic() - start < 5.0
    assert job.metadata.pages == 0
