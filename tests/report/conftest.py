"""Cases the report tests render: the demo image, and loose evidence with hostile names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.secrets import SSN

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
