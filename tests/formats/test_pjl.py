"""PJL: Ghostscript's PJL wrapper (real producer) and driver headers built through
``spec_builders`` from the PJL Technical Reference and the published HP UPD example (no Linux tool
writes job-storage PINs or accounting attributes). Hostile and truncated inputs are hand-built."""

from __future__ import annotations

import random
import shutil
import subprocess
import time

import pytest

from forensics.formats.base import NotThisFormat, ParseContext, ParsedJob
from forensics.formats.pjl import PjlParser
from tests.formats.spec_builders import LF, UEL, pjl_job, pjl_stream

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"


def parse(data: bytes) -> ParsedJob:
    return PjlParser().parse(data, ParseContext())


def upd_job() -> bytes:
    """Two jobs as an HP UPD-style driver sends them: a held PostScript job with a PIN and
    accounting attributes, then a plain PCL job."""
    first = pjl_job(
        [
            'JOB NAME="Payroll.xlsx" DISPLAY="Payroll"',
            "SET STRINGCODESET=UTF8",
            'COMMENT "Username: UNTITLED; App Filename: Testseite; 12-13-2003"',
            'SET JOBATTR="JobAcct1=jdoe"',
            'SET JOBATTR="JobAcct2=WS-042"',
            'SET JOBATTR="JobAcct3=CORP"',
            'SET JOBATTR="JobAcct4=20031213151817"',
            'SET USERNAME="Jürgen Doe"',  # UTF-8, as STRINGCODESET says
            # Keywords are case-insensitive; the "@PJL" prefix must be uppercase, so a lower-case
            # one is a variant a lenient parser still reads.
            {"prefix": b"@pjl", "command": "set hold=ON"},
            "SET HOLDTYPE=PRIVATE",
            'SET HOLDKEY="4711"',
            "SET QTY=2",
            "SET RESOLUTION=600",
        ],
        language="POSTSCRIPT",
        payload=b"%!PS-Adobe-3.0\n(" + SENTENCE.encode() + b") show showpage\n",
        trailer=['EOJ NAME="Payroll.xlsx"'],
    )
    second = pjl_job(
        # White space around "=" is optional (PJL Syntax Rules).
        ['JOB NAME="memo"', "SET USERNAME=bob", "ENTER LANGUAGE = PCL"],
        payload=b"\x1bEhello\x0c\x1bE",
        trailer=["EOJ"],
        line_end=LF,
    )
    return first + second


def test_upd_header_metadata() -> None:
    data = upd_job()
    job = parse(data)
    meta = job.metadata
    assert meta.job_name == "Payroll.xlsx"
    assert meta.user == "Jürgen Doe"  # SET USERNAME wins over JobAcct1 and the comment
    assert meta.host == "WS-042"
    assert meta.document_name == "Testseite"
    assert meta.hold == "PRIVATE"
    assert meta.pin == "4711" and meta.pin_masked == "********"
    assert meta.copies == 2 and meta.resolution == "600"
    extra = dict(meta.extra)
    assert extra["domain"] == "CORP"
    assert extra["client_time_local"] == "2003-12-13T15:18:17"
    assert extra["pin_source"] == "HOLDKEY"
    assert extra["pjl_jobs"] == "2"
    assert "name=memo" in extra["pjl_job_2"] and "user=bob" in extra["pjl_job_2"]
    assert job.complete and job.length == len(data)


def test_payloads_and_header_texts() -> None:
    data = upd_job()
    job = parse(data)
    assert [(e.name, e.format_hint) for e in job.embedded] == [
        ("PJL job 1 POSTSCRIPT payload", "postscript"),
        ("PJL job 2 PCL payload", "pcl5"),
    ]
    postscript = job.embedded[0]
    body = data[postscript.offset : postscript.offset + postscript.length]
    assert body.startswith(b"%!PS-Adobe-3.0") and body.endswith(b"showpage\n")
    pcl = job.embedded[1]
    assert data[pcl.offset : pcl.offset + pcl.length] == b"\x1bEhello\x0c\x1bE"
    headers = {t.name: t.text for t in job.texts}
    assert set(headers) == {"PJL header job 1", "PJL header job 2"}
    first = headers["PJL header job 1"]
    assert '@PJL SET JOBATTR="JobAcct1=jdoe"' in first
    assert '@PJL SET HOLDKEY="********"' in first and "4711" not in first  # masked
    assert '@PJL EOJ NAME="Payroll.xlsx"' in first


def test_extent_is_one_job() -> None:
    data = upd_job()
    first_end = data.index(b"@PJL EOJ NAME") + data[data.index(b"@PJL EOJ NAME") :].index(UEL) + 9
    assert PjlParser().extent(data, 0) == first_end
    assert PjlParser().extent(data, first_end) == len(data) - first_end
    carved = b"\xff" * 100 + data + b"\x00" * 100  # a job inside other bytes
    assert PjlParser().extent(carved, 100) == first_end


def test_language_aliases_and_implicit_switch() -> None:
    data = pjl_stream(
        [
            (["ENTER LANGUAGE=PCL6"], b") HP-PCL XL;2;0;\n\x41"),
            (["ENTER LANGUAGE=BR-SCRIPT3"], b"%!PS\n"),
            (["ENTER LANGUAGE=HBPL"], b"\x00\x01\x02"),
            ([], b"%PDF-1.4\n%%EOF\n"),  # no ENTER: the printer recognises the language itself
        ],
        line_end=LF,
    )
    job = parse(data)
    assert [e.format_hint for e in job.embedded] == ["pclxl", "postscript", None, "pdf"]
    assert job.embedded[2].name == "PJL job 1 HBPL payload"
    assert dict(job.metadata.extra)["languages"] == "PCL6,BR-SCRIPT3,HBPL,PDF"


def test_vendor_attributes_and_passwords() -> None:
    data = pjl_job(
        [
            "JOB MODE=PRINTER",
            'SET JOBATTR="@LUNA=alice"',
            'SET JOBATTR="@UACN=Contract.pdf"',
            'SET JOBPASSWORD="9876"',
            'FSUPLOAD NAME="0:/saveDevice/SavedJobs/KeepJobs/x" OFFSET=0 SIZE=100',
        ]
    )
    meta = parse(data).metadata
    assert (meta.user, meta.document_name, meta.pin) == ("alice", "Contract.pdf", "9876")
    assert any(key == "pjl_command" and "FSUPLOAD" in value for key, value in meta.extra)


@pytest.fixture(scope="module")
def gs_pjl(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("gs") is None:
        pytest.skip("gs is not installed")
    folder = tmp_path_factory.mktemp("gs")
    source = folder / "doc.ps"
    source.write_text(
        f"%!PS\n/Helvetica findfont 12 scalefont setfont\n72 700 moveto ({SENTENCE}) show showpage\n"
    )
    out = folder / "out.pxl"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=pxlcolor",
            f"-sOutputFile={out}",
            str(source),
        ],
        check=True,
        timeout=120,
    )
    return out.read_bytes()


def test_ghostscript_wrapper(gs_pjl: bytes) -> None:
    assert PjlParser.sniff(gs_pjl[:4096])
    job = parse(gs_pjl)
    assert job.complete and job.length == len(gs_pjl)
    assert job.metadata.resolution == "600"
    assert ("rendermode", "COLOR") in job.metadata.extra
    [payload] = job.embedded
    assert payload.format_hint == "pclxl"
    assert gs_pjl[payload.offset :].startswith(b") HP-PCL XL;")
    assert gs_pjl[payload.offset + payload.length :] == UEL
    assert job.texts[0].text.splitlines()[-1] == "@PJL ENTER LANGUAGE = PCLXL"
    assert PjlParser().extent(gs_pjl, 0) == len(gs_pjl)


def test_not_pjl() -> None:
    for data in (b"", b"%!PS\n", b"\x1bE", b"hello @PJL"):
        with pytest.raises(NotThisFormat):
            parse(data)


def test_truncated_payload_is_reported() -> None:
    whole = pjl_job(["JOB"], language="PCL", payload=b"\x1bEtext", line_end=LF)
    job = parse(whole[: -len(UEL)])  # cut before the UEL that closes the payload
    assert not job.complete
    assert any("not closed by a UEL" in note for note in job.notes)
    assert any("JOB without EOJ" in note for note in job.notes)


def hostile_ok(data: bytes) -> None:
    try:
        PjlParser().parse(data, ParseContext())
        PjlParser().extent(data, 0)
    except NotThisFormat:
        pass


def test_hostile_inputs(gs_pjl: bytes) -> None:
    started = time.monotonic()
    for source in (upd_job(), gs_pjl[:3000]):
        for cut in range(0, len(source), 3):
            hostile_ok(source[:cut])
    rng = random.Random(3)
    for _ in range(300):
        hostile_ok(UEL + b"@PJL " + bytes(rng.randrange(256) for _ in range(rng.randrange(3000))))
    hostile_ok(UEL + b"@PJL SET X=" + b"A" * 1_000_000)  # a line without end
    hostile_ok(UEL + b'@PJL SET JOBATTR="' + b"=" * 100_000 + b'"\n')
    job = parse((UEL + b"@PJL JOB\n@PJL EOJ\n") * 3000)  # more jobs than kept
    assert not job.complete and any("more than" in note for note in job.notes)
    hostile_ok(UEL + b"@PJL\n" * 200_000)  # many lines in one job
    assert time.monotonic() - started < 60


def test_jobattr_pin_is_a_pin_and_masked() -> None:
    from forensics.formats.base import ParseContext
    from forensics.formats.pjl import PjlParser

    data = pjl_job(
        ['JOB NAME="x"', 'SET JOBATTR="@PIN=4321"', 'SET JOBATTR="@LUNA=jdoe"'],
        language="PCL",
        payload=b"\x1bEhello",
    )
    parsed = PjlParser().parse(data, ParseContext())
    assert parsed.metadata.pin == "4321" and parsed.metadata.pin_masked == "********"
    assert all("4321" not in v for _, v in parsed.metadata.extra)
    assert all("4321" not in t.text for t in parsed.texts)
