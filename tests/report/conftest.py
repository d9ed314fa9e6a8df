"""Cases the report tests render: the demo image, and loose evidence with hostile names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import builders
from fixtures.secrets import SSN
from fixtures.tools import make_ext
from forensics.cli import main
from forensics.report.base import ReportOptions, load_writers
from forensics.store import CaseStore

PROJECT = Path(__file__).resolve().parents[2]
DEMO = PROJECT / "fixtures" / "demo" / "printer-demo.img"

# What a hostile or careless producer can put in evidence names and job metadata.
SCRIPT_NAME = "<script>alert(1)</script>"
FORMULA_USER = "=HYPERLINK(1)"
ANSI_FILE = "\x1b[31mevil<b>.pjl"


def pfa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=600,
        check=False,
    )


def hostile_pjl() -> bytes:
    """A PJL job (PJL Technical Reference Manual: JOB NAME, SET USERNAME/JOBNAME) around PCL 5
    text holding an SSN and a Luhn-valid card number, with hostile strings in every name."""
    return (
        b'\x1b%-12345X@PJL JOB NAME="' + SCRIPT_NAME.encode() + b'"\r\n'
        b'@PJL SET USERNAME="' + FORMULA_USER.encode() + b'"\r\n'
        b'@PJL SET JOBNAME="' + b"../../etc/passwd" + b'"\r\n'
        b"@PJL ENTER LANGUAGE=PCL\r\n"
        b"\x1bEPatient <img src=x onerror=alert(2)> SSN "
        + SSN.encode()
        + b" card 5378 1492 2635 0179"
        b"\x0c\x1bE\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X"
    )


@pytest.fixture(scope="session")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo image scanned with pages rendered (no OCR: previews are what the report needs)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    done = pfa("scan", str(DEMO), "-o", str(out), "--no-ocr", "-q")
    assert done.returncode == 1, done.stderr
    return out


@pytest.fixture(scope="session")
def hostile_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    (base / "in").mkdir()
    (base / "in" / ANSI_FILE).write_bytes(hostile_pjl())
    out = base / "out"
    done = pfa("scan", str(base / "in"), "-o", str(out), "--no-pages", "-q")
    assert done.returncode == 1, done.stderr
    return out


@pytest.fixture(scope="session")
def revealed_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("revealed")
    (base / "in").mkdir()
    (base / "in" / "job.pjl").write_bytes(hostile_pjl())
    out = base / "out"
    done = pfa("scan", str(base / "in"), "-o", str(out), "--no-pages", "-q", "--reveal")
    assert done.returncode == 1, done.stderr
    return out


# --- case databases for the DFXML and CASE/UCO writers ---------------------------------
# Names an examiner's report must show as inert text: markup, a path escape, terminal escapes.
HOSTILE_NAMES = (
    "<script>alert(1)</script>.prn",
    "..%2f..%2fetc%2fpasswd&co.txt",
    "\x1b[31mred\x1b[0m\x07bell.ps",
)
HOSTILE_CONTENT = (
    b"%!PS-Adobe-3.0\n%%Title: (<script>alert(2)</script>)\nsmtp_password=Tr0ub4dor&3x\n%%EOF\n"
)


def _scan_db(image: Path, out: Path, *extra: str) -> Path:
    rc = main(["scan", str(image), "-o", str(out), "-q", "--no-pages", *extra])
    assert rc in (0, 1)
    return out / "case.sqlite"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed demo image (partitions, files, deleted and carved jobs, findings)."""
    out = tmp_path_factory.mktemp("demo-case")
    return _scan_db(builders.DEMO_DIR / "printer-demo.img", out)


@pytest.fixture(scope="session")
def hostile_names_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext2 image (mke2fs -d) whose file names and contents try to break the outputs."""
    work = tmp_path_factory.mktemp("hostile")
    image = work / "hostile.img"
    make_ext(
        image,
        4 * 1024 * 1024,
        {f"spool/{name}": HOSTILE_CONTENT for name in HOSTILE_NAMES},
        fstype="ext2",
        block_size=1024,
        label="hostile",
        uuid="6f1c0b8e-0000-4000-8000-000000000010",
        work=work,
    )
    return _scan_db(image, work / "out")


def write_report(case: Path, fmt: str, dest: Path, **options: object) -> list[Path]:
    """Render ``case`` with the registered ``fmt`` writer, reading only the case store."""
    with CaseStore.open_existing(case) as store:
        return load_writers()[fmt]().write(store, dest, ReportOptions(**options))  # type: ignore[arg-type]
