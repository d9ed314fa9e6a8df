"""Ctrl-C during a scan: a clean stop, one line, and a case that says it is incomplete."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.test_cli import PROJECT, pfa


def _scan_started(case: Path) -> bool:
    try:
        db = sqlite3.connect(f"{case.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM images").fetchone()[0] > 0
        finally:
            db.close()
    except sqlite3.Error:
        return False


def interrupt(
    command: list[str], env: dict[str, str], ready: Callable[[], bool], cwd: Path | None = None
) -> tuple[int, str]:
    """Run ``command``, press Ctrl-C once ``ready()`` (SIGINT to its process group, as a
    terminal does); its exit status and stderr."""
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not ready() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, stderr


def test_ctrl_c_stops_cleanly_and_marks_the_case_interrupted(tmp_path: Path) -> None:
    image = tmp_path / "big.img"
    with image.open("wb") as f:  # 8 GiB, sparse: seconds of hashing, no disk space
        f.truncate(8 << 30)
    before = os.stat(image)
    out = tmp_path / "out"
    returncode, stderr = interrupt(
        [sys.executable, "-m", "forensics", "scan", str(image), "-o", str(out)],
        {**os.environ, "PYTHONPATH": str(PROJECT)},
        lambda: _scan_started(out / "case.sqlite"),
    )
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("pfa:")]
    assert len(lines) == 1 and "interrupted" in lines[0] and "marked interrupted" in lines[0]
    db = sqlite3.connect(out / "case.sqlite")
    (run,) = db.execute("SELECT finished, data FROM runs").fetchall()
    assert run[0] is not None and json.loads(run[1])["status"] == "interrupted"
    (verdict, data) = db.execute("SELECT verdict, data FROM images").fetchone()
    record = json.loads(data)
    assert verdict is None and record["interrupted"] is True
    assert record["verdict_reasons"] == ["scan interrupted: incomplete, no verdict"]
    db.close()
    # The evidence was only read.
    after = os.stat(image)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    # A report of the partial case says why there is nothing to report, in one line.
    report = pfa("report", str(out))
    assert report.returncode == 2
    assert report.stderr.strip().endswith(
        "holds no finished scan (its scan was interrupted: run it again)"
    )
