"""Examiner logging: -v on stderr, --log FILE with the full debug log, problems listed at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DEMO = PROJECT / "fixtures" / "demo" / "printer-demo.img"


def pfa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=300,
        check=False,
    )


def test_verbose_and_log_file(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    done = pfa(
        "scan", str(DEMO), "-o", str(tmp_path / "out"), "--no-pages", "-v", "--log", str(log)
    )
    assert done.returncode == 1, done.stderr
    assert "pfa: INFO: scan finished: verdict sensitive" in done.stderr
    assert "DEBUG" not in done.stderr
    text = log.read_text(encoding="utf-8")
    assert " DEBUG forensics: pfa " in text and "scan finished" in text


def test_problems_listed_at_the_end(tmp_path: Path) -> None:
    # A truncated E01-less raw image: a partition table pointing beyond the end of the image.
    image = tmp_path / "cut.img"
    image.write_bytes(DEMO.read_bytes()[: 3 * 1024 * 1024])
    done = pfa("scan", str(image), "-o", str(tmp_path / "out"), "--no-pages", "--no-jobs")
    assert done.returncode in (0, 1), done.stderr
    lines = done.stderr.splitlines()
    head = next(line for line in lines if line.startswith("problems: "))
    count = int(head.split()[1].rstrip(";"))
    assert count >= 1
    listed = [line for line in lines if line.startswith("  ")]
    assert 1 <= len(listed) <= 10
    if count > 10:
        assert "report" in head


def test_unwritable_log_is_a_one_line_error(tmp_path: Path) -> None:
    done = pfa("info", str(DEMO), "--no-hash", "--log", str(tmp_path / "no" / "such" / "x.log"))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("pfa: error: cannot write the log")
