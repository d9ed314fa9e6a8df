"""CUPS control files (cNNNNN) and page_log: plaso's real macOS control file, control files
built with the RFC 8010 encoder of test_ipp.py (no cupsd is needed), and page_log lines in the
forms cupsd-logs(5) documents."""

from __future__ import annotations

import contextlib
import random
import struct
import sys
import time
from pathlib import Path

import pytest

from forensics.formats.base import FormatParser, NotThisFormat, ParseContext
from forensics.formats.cups import CupsControlParser, CupsPageLogParser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_ipp import (  # the RFC 8010 encoder lives with the IPP decoder tests
    BEG_COLLECTION,
    CHARSET,
    ENUM,
    JOB,
    KEYWORD,
    LANGUAGE,
    MEMBER_NAME,
    MIME,
    NAME,
    OCTET_STRING,
    OPERATION,
    RESOLUTION,
    TEXT,
    URI,
    date_time,
    encode_attribute,
    encode_collection,
    encode_message,
    encode_values,
    integer,
    text,
)

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
MAC_CUPS_IPP = SAMPLES / "plaso" / "mac_cups_ipp"


def _sample() -> bytes:
    if not MAC_CUPS_IPP.exists():
        pytest.skip(f"shared sample {MAC_CUPS_IPP} not present")
    return MAC_CUPS_IPP.read_bytes()


def test_plaso_macos_control_file() -> None:
    data = _sample()
    assert CupsControlParser.sniff(data[:512], "c00001")
    assert CupsControlParser.sniff(data[:512], None)  # attributes-charset comes first
    job = CupsControlParser().parse(data, ParseContext(name="/private/var/spool/cups/c00001"))
    meta = job.metadata
    assert job.complete and not job.notes
    # Values plaso's own test expects for this file (tests/parsers/cups_ipp.py).
    assert meta.user == "moxilo"
    assert meta.host == "localhost"
    assert meta.job_name == "Assignament 1"
    assert meta.document_format == "application/pdf"
    assert meta.application == "LibreOffice"
    assert meta.printer == "RHULBW"
    assert meta.copies == 1
    assert meta.submitted == "2013-11-03T18:07:21Z"  # time-at-creation 0x527690d9
    assert meta.completed == "2013-11-03T18:07:32Z"  # time-at-completed 0x527690e4
    assert meta.state == "completed"  # job-state 9
    assert meta.pages == 3  # job-media-sheets-completed
    assert meta.job_id == "1"
    assert meta.media == "Letter"
    assert meta.hold is None  # job-hold-until no-hold
    extra = dict(meta.extra)
    assert extra["job-uuid"] == "urn:uuid:d51116d9-143c-3863-62aa-6ef0202de49a"
    assert extra["time-at-processing"] == "2013-11-03T18:07:21Z"
    assert extra["job-k-octets"] == "76"
    assert extra["com.apple.print.JobInfo.PMJobOwner"] == "Joaquin Moreno Garijo"
    assert extra["job-printer-uri"] == "ipp://DarkTemplar-2.local/printers/RHULBW"
    assert job.pair_key == "cups:00001"
    assert job.length == len(data)
    text_dump = job.texts[0].text
    assert "job-originating-user-name: moxilo" in text_dump
    assert "com.apple.print.JobInfo.PMJobOwner: Joaquin Moreno Garijo" in text_dump


def _control_file() -> bytes:
    media_size = encode_collection(
        "", [("x-dimension", [integer(21000)]), ("y-dimension", [integer(29700)])]
    )
    job = b"".join(
        [
            encode_values("job-id", [integer(17)]),
            encode_values(
                "job-printer-uri", [text(URI, "ipp://printsrv.example.com:631/printers/HR_Color")]
            ),
            encode_values("job-originating-user-name", [text(NAME, "alice")]),
            encode_values("job-originating-host-name", [text(NAME, "ws-042.example.com")]),
            encode_values("job-name", [text(NAME, "Payroll March")]),
            encode_values("document-name-supplied", [text(NAME, "payroll-march.pdf")]),
            encode_values("document-format", [text(MIME, "application/pdf")]),
            encode_values("document-format-supplied", [text(MIME, "application/pdf")]),
            encode_values("copies", [integer(2)]),
            encode_values("number-of-documents", [integer(1)]),
            encode_values("job-state", [(ENUM, struct.pack(">i", 4))]),
            encode_values("job-state-reasons", [text(KEYWORD, "job-hold-until-specified")]),
            encode_values("job-hold-until", [text(KEYWORD, "indefinite")]),
            encode_values("job-k-octets", [integer(120)]),
            encode_values("job-media-sheets-completed", [integer(0)]),
            encode_values("job-uuid", [text(URI, "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427")]),
            encode_values("time-at-creation", [integer(1_700_000_000)]),
            encode_values("time-at-processing", [integer(0)]),
            encode_values("date-time-at-creation", [date_time(2023, 11, 15, 0, 13, 20, "+", 2, 0)]),
            encode_values("job-sheets", [text(KEYWORD, "none"), text(KEYWORD, "none")]),
            encode_values("printer-resolution", [(RESOLUTION, struct.pack(">iib", 600, 600, 3))]),
            encode_values("job-password", [(OCTET_STRING, b"4711")]),
            encode_values("job-password-encryption", [text(KEYWORD, "none")]),
            encode_values("auth-info", [text(TEXT, "alice"), text(TEXT, "S3cret-Pa55")]),
            encode_collection(
                "media-col",
                [("media-size", [media_size]), ("media-type", [text(KEYWORD, "stationery")])],
            ),
        ]
    )
    operation = encode_values("attributes-charset", [text(CHARSET, "utf-8")]) + encode_values(
        "attributes-natural-language", [text(LANGUAGE, "en-us")]
    )
    return encode_message([(OPERATION, operation), (JOB, job)], version=(2, 0), code=0x0002)


def test_built_control_file() -> None:
    data = _control_file()
    assert CupsControlParser.sniff(data[:64], "c00017")
    job = CupsControlParser().parse(data, ParseContext(name="c00017"))
    meta = job.metadata
    assert job.complete, job.notes
    assert meta.user == "alice"
    assert meta.host == "ws-042.example.com"
    assert meta.job_name == "Payroll March"
    assert meta.document_name == "payroll-march.pdf"
    assert meta.document_format == "application/pdf"
    assert meta.printer == "HR_Color"
    assert meta.copies == 2
    assert meta.state == "pending-held"
    assert meta.hold == "indefinite"
    assert meta.created == "2023-11-14T22:13:20Z"
    assert meta.completed is None
    assert meta.resolution == "600x600 dpi"
    assert meta.media == "21000x29700 (1/100 mm)"
    assert meta.job_id == "17"
    assert meta.pin == "4711" and meta.pin_masked == "********"
    assert "pin" not in meta.to_dict()
    extra = dict(meta.extra)
    assert extra["number-of-documents"] == "1"
    assert extra["job-sheets"] == "none, none"
    assert extra["document-format-supplied"] == "application/pdf"
    assert "time-at-processing" not in extra  # 0 = not yet processed
    assert job.pair_key == "cups:00017"
    dump = job.texts[0].text
    assert "auth-info: alice, S3cret-Pa55" in dump  # credentials reach the YARA scan
    assert "job-password: 4711" in dump
    assert "  media-size: {\n    x-dimension: 21000" in dump


def test_pair_key_from_job_id_without_a_name() -> None:
    job = CupsControlParser().parse(_control_file(), ParseContext())
    assert job.pair_key == "cups:00017"  # matches d00017-001


def test_ipp_request_with_document_data() -> None:
    data = _control_file() + b"%PDF-1.7\n" + b"x" * 100
    job = CupsControlParser().parse(data, ParseContext())
    assert job.embedded and job.embedded[0].offset == len(_control_file())
    assert job.length == len(_control_file())


def test_sniff_rejects_other_files() -> None:
    assert not CupsControlParser.sniff(b"%!PS-Adobe-3.0\n", "c00001")
    assert not CupsControlParser.sniff(b"\x02\x00\x00\x05\x00\x00\x00\x01\x01\x42\x00\x01x", None)
    assert not CupsControlParser.sniff(b"\x00" * 64, "c00002")
    with pytest.raises(NotThisFormat):
        CupsControlParser().parse(b"\x02\x00\x00\x05\x00\x00\x00\x01\x03", ParseContext())


def test_registered() -> None:
    assert FormatParser.registry["cups-control"] is CupsControlParser
    assert FormatParser.registry["cups-page-log"] is CupsPageLogParser


def _parse_quietly(
    parser: CupsControlParser | CupsPageLogParser, data: bytes, name: str | None
) -> None:
    started = time.monotonic()
    with contextlib.suppress(NotThisFormat):
        parser.parse(data, ParseContext(name=name))
    assert time.monotonic() - started < 1


def test_hostile_control_files() -> None:
    data = _sample()
    parser = CupsControlParser()
    for cut in range(0, len(data), 7):
        _parse_quietly(parser, data[:cut], "c00001")
    rng = random.Random(1179)
    for _ in range(200):
        _parse_quietly(parser, data[:9] + rng.randbytes(rng.randint(0, 4096)), "c00001")
    # huge lengths
    _parse_quietly(parser, data[:9] + b"\x42\xff\xff" + b"a" * 100, "c00001")
    _parse_quietly(parser, data[:9] + b"\x42\x00\x01a\xff\xff", "c00001")
    # deep collections
    deep = (
        data[:9]
        + encode_attribute(BEG_COLLECTION, "c", b"")
        + (encode_attribute(MEMBER_NAME, "", b"m") + encode_attribute(BEG_COLLECTION, "", b""))
        * 20_000
    )
    started = time.monotonic()
    job = parser.parse(deep, ParseContext(name="c00001"))
    assert not job.complete and time.monotonic() - started < 2


# --------------------------------------------------------------------------------- page_log

OLD_LOG = """\
DeskJet root 2 [20/May/1999:19:21:05 +0000] 1 1 acme-123
DeskJet root 2 [20/May/1999:19:21:05 +0000] 2 1 acme-123
"""
NEW_LOG = """\
HR_Color alice 17 [14/Nov/2023:23:13:20 +0100] 1 2 - ws-042.example.com Payroll March 2023.pdf iso_a4_210x297mm one-sided
HR_Color alice 17 [14/Nov/2023:23:13:25 +0100] 2 2 - ws-042.example.com Payroll March 2023.pdf iso_a4_210x297mm one-sided
HR_Color alice 17 [14/Nov/2023:23:13:30 +0100] total 4 - ws-042.example.com Payroll March 2023.pdf iso_a4_210x297mm one-sided
Lobby bob 18 [15/Nov/2023:08:00:00 -0500] 1 1 dept-7 laptop-bob Memo na_letter_8.5x11in two-sided-long-edge
"""


def test_page_log_old_form() -> None:
    data = OLD_LOG.encode()
    assert CupsPageLogParser.sniff(data, None)
    job = CupsPageLogParser().parse(data, ParseContext(name="page_log"))
    meta = job.metadata
    assert meta.printer == "DeskJet" and meta.user == "root" and meta.job_id == "2"
    assert meta.submitted == "1999-05-20T19:21:05Z" and meta.completed == "1999-05-20T19:21:05Z"
    assert meta.pages == 2
    assert dict(meta.extra)["job-billing"] == "acme-123"
    assert "DeskJet root 2" in job.texts[0].text


def test_page_log_new_form() -> None:
    data = NEW_LOG.encode()
    assert CupsPageLogParser.sniff(data[:200], "/var/log/cups/page_log.1")
    job = CupsPageLogParser().parse(data, ParseContext(name="page_log.1"))
    meta = job.metadata
    assert job.complete and not job.notes
    assert meta.user == "alice"
    assert meta.host == "ws-042.example.com"
    assert meta.job_name == "Payroll March 2023.pdf"  # a job name with spaces
    assert meta.printer == "HR_Color"
    assert meta.media == "iso_a4_210x297mm"
    assert meta.submitted == "2023-11-14T22:13:20Z"  # +0100 → UTC
    assert meta.completed == "2023-11-15T13:00:00Z"  # -0500 → UTC
    assert meta.job_id is None  # two jobs in the log
    assert meta.pages == 5  # page lines × copies
    extra = dict(meta.extra)
    assert extra["jobs"] == "2" and extra["users"] == "alice, bob" and extra["lines"] == "4"
    assert extra["total-lines"] == "1"
    summary = job.texts[1].text
    assert "job 18: user bob printer Lobby host laptop-bob name Memo" in summary


def test_page_log_sniff_is_strict() -> None:
    assert not CupsPageLogParser.sniff(b"hello world\nthis is a letter\n", None)
    assert not CupsPageLogParser.sniff(b"hello world\n", "notes.txt")
    assert not CupsPageLogParser.sniff(b"\x1f\x8b\x08\x00" + b"\x00" * 20, "page_log.1.gz")
    with pytest.raises(NotThisFormat):
        CupsPageLogParser().parse(b"no page lines here\n", ParseContext(name="page_log"))


def test_page_log_hostile() -> None:
    data = NEW_LOG.encode()
    parser = CupsPageLogParser()
    for cut in range(len(data)):
        _parse_quietly(parser, data[:cut], "page_log")
    rng = random.Random(5)
    for _ in range(100):
        _parse_quietly(parser, data[:120] + rng.randbytes(2000), "page_log")
    started = time.monotonic()
    parser.parse(data * 20_000, ParseContext(name="page_log"))  # 80k lines
    assert time.monotonic() - started < 10
