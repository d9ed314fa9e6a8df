"""LPD control files, built as RFC 1179 §7 specifies through ``spec_builders`` (no spooler is
run): a BSD lpr job using every command, the file CUPS' lpd backend writes (backend/lpd.c: H, P, J,
C, L, one print line per copy, U, N) and a Windows LPR-style one; strictness of the content sniff;
hostile input (hand-built)."""

from __future__ import annotations

import contextlib
import random
import time

import pytest

from forensics.formats.base import FormatParser, NotThisFormat, ParseContext
from forensics.formats.lpd import LpdControlParser
from tests.formats.spec_builders import lpd_control_file


def control(*lines: str) -> bytes:
    """RFC 1179 §7 lines written as the command character followed by its operand."""
    return lpd_control_file([(line[:1], line[1:]) for line in lines])


BSD_JOB = control(
    "Hworkstation7",
    "Pjdoe",
    "JQuarterly figures",
    "Cworkstation7",
    "Ljdoe",
    "Mjdoe@example.com",
    "NQ3-figures.txt",
    "TQ3 figures",
    "I4",
    "W132",
    "S2049 131078",
    "1R",
    "pdfA042workstation7",
    "UdfA042workstation7",
)

CUPS_JOB = control(  # backend/lpd.c with banner and copies=2, format 'l' (raw)
    "Hprintsrv",
    "Palice",
    "JPayroll March",
    "Cprintsrv",
    "Lalice",
    "ldfA512printsrv",
    "ldfA512printsrv",
    "UdfA512printsrv",
    "NPayroll March",
)

WINDOWS_JOB = control(  # lpr.exe -S host -P queue -o l file.ps
    "HPC-ACCOUNTING",
    "PBob",
    "Jbudget.ps",
    "CPC-ACCOUNTING",
    "LBob",
    "odfA123PC-ACCOUNTING",
    "UdfA123PC-ACCOUNTING",
    "Nbudget.ps",
)


def test_bsd_control_file() -> None:
    assert LpdControlParser.sniff(BSD_JOB, None)
    assert LpdControlParser.sniff(BSD_JOB[:40], "cfA042workstation7")
    job = LpdControlParser().parse(
        BSD_JOB, ParseContext(name="/var/spool/lpd/lp/cfA042workstation7")
    )
    meta = job.metadata
    assert job.complete and not job.notes
    assert meta.host == "workstation7"
    assert meta.user == "jdoe"
    assert meta.job_name == "Quarterly figures"
    assert meta.document_name == "Q3-figures.txt"
    assert meta.job_id == "042"
    assert meta.data_type == "file with pr format (p)"
    assert meta.copies == 1
    extra = meta.extra
    assert ("mail to", "jdoe@example.com") in extra
    assert ("title", "Q3 figures") in extra
    assert ("class", "workstation7") in extra
    assert ("banner user", "jdoe") in extra
    assert ("width", "132") in extra and ("indent", "4") in extra
    assert ("troff R font", "R") in extra
    assert ("data file", "dfA042workstation7: file with pr format (p)") in extra
    assert ("unlink", "dfA042workstation7") in extra
    assert job.pair_key == "lpd:042workstation7"
    assert "Mjdoe@example.com" in job.texts[0].text


def test_cups_lpd_backend_control_file() -> None:
    assert LpdControlParser.sniff(CUPS_JOB, None)
    job = LpdControlParser().parse(CUPS_JOB, ParseContext())
    meta = job.metadata
    assert (meta.user, meta.host, meta.job_name) == ("alice", "printsrv", "Payroll March")
    assert meta.copies == 2  # one print line per copy
    assert meta.data_type == "file leaving control characters (l)"
    assert meta.document_format is None  # 'l' says nothing about the language
    assert job.pair_key == "lpd:512printsrv"  # from the data file name when the name is unknown


def test_windows_lpr_control_file() -> None:
    job = LpdControlParser().parse(WINDOWS_JOB, ParseContext(name="cfA123PC-ACCOUNTING"))
    meta = job.metadata
    assert (meta.user, meta.host, meta.document_name) == ("Bob", "PC-ACCOUNTING", "budget.ps")
    assert meta.document_format == "application/postscript"
    assert job.pair_key == "lpd:123PC-ACCOUNTING"


def test_named_file_with_lprng_extensions() -> None:
    data = CUPS_JOB + control("Aprintsrv+512", "Qlp", "Zduplex")
    assert not LpdControlParser.sniff(data, None)  # strict without the name
    job = LpdControlParser().parse(data, ParseContext(name="cfA512printsrv"))
    assert job.metadata.user == "alice"
    assert sum("not in RFC 1179" in note for note in job.notes) == 3
    with pytest.raises(NotThisFormat):
        LpdControlParser().parse(data, ParseContext())


def test_sniff_is_strict() -> None:
    assert not LpdControlParser.sniff(b"Hello Bob,\nPlease find the report attached.\n", None)
    assert not LpdControlParser.sniff(b"Hhost\nthis is not a command\n", None)
    assert not LpdControlParser.sniff(b"Hhost\n", None)  # one line says nothing
    assert not LpdControlParser.sniff(b"%!PS-Adobe-3.0\n", "cfA001host")
    with pytest.raises(NotThisFormat):
        LpdControlParser().parse(b"\x00\x01\x02binary", ParseContext(name="cfA001host"))


def test_registered() -> None:
    assert FormatParser.registry["lpd-control"] is LpdControlParser


def test_hostile_input() -> None:
    parser = LpdControlParser()

    def run(data: bytes, name: str | None) -> None:
        started = time.monotonic()
        with contextlib.suppress(NotThisFormat):
            parser.parse(data, ParseContext(name=name))
        assert time.monotonic() - started < 1

    for cut in range(len(BSD_JOB)):
        run(BSD_JOB[:cut], "cfA042workstation7")
        run(BSD_JOB[:cut], None)
    rng = random.Random(515)
    for _ in range(200):
        run(BSD_JOB[:20] + rng.randbytes(rng.randint(0, 3000)), "cfA042workstation7")
    run(b"H" + b"x" * 5_000_000 + b"\n", "cfA001x")  # one enormous operand
    run(b"Hh\nPp\n" * 200_000, "cfA001x")  # far more lines than a control file has
