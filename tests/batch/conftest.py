"""A small fleet of fixture images for the batch tests (built once per session)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures import builders
from forensics.batch.__main__ import main as batch_main

ROOT = Path(__file__).resolve().parents[2]

# Fields that record when (and how long) something ran, not what the evidence holds.
TIME_KEYS = frozenset({"started", "finished", "run_id", "profile", "seconds"})


@pytest.fixture(scope="session")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten images: raw file systems, a split set, an E01 set, damaged ones, a wiped one, a copy
    of another under a second name, and a document that is not an image."""
    images = tmp_path_factory.mktemp("fleet") / "images"
    images.mkdir()
    for build in (
        builders.build_ext2_deleted,
        builders.build_fat16_slack,
        builders.build_split_raw,
        builders.build_e01,
        builders.build_truncated,
        builders.build_corrupt_superblock,
        builders.build_all_zero,
        builders.build_bare_fs,
    ):
        build(images)
    # Same media under another name: scanned, recognised by SHA-256, kept once.
    sub = images / "copies"
    sub.mkdir()
    shutil.copy2(images / "all_zero.img", sub / "all_zero_copy.img")
    (images / "not-an-image.bin").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n" * 600)
    (images / "README.txt").write_text("not a candidate: ignored by discovery\n")
    for leftover in images.glob("*work*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
    return images


def run_batch(*argv: str, capsys: pytest.CaptureFixture[str] | None = None) -> int:
    return batch_main(list(argv))


def batch_cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "forensics.batch", *argv]


def case_content(case: Path) -> dict[str, Any]:
    """Everything in a case that describes the evidence, for comparing two batch runs: every
    record table in full (ids included), timestamps and the run table left out."""
    db = sqlite3.connect(f"{case.resolve().as_uri()}?mode=ro", uri=True)
    content: dict[str, Any] = {}
    tables = [
        n
        for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        if n not in {"runs", "meta", "batch_units"}
    ]
    for table in tables:
        cur = db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
        cols = [d[0] for d in cur.description]
        rows = []
        for row in cur:
            item = dict(zip(cols, row, strict=True))
            for key in TIME_KEYS & item.keys():
                item[key] = None
            if isinstance(item.get("data"), str) and item["data"].startswith("{"):
                data = json.loads(item["data"])
                for key in TIME_KEYS & data.keys():
                    data[key] = None
                item["data"] = data
            rows.append(item)
        content[table] = rows
    units = db.execute(
        "SELECT unit_key, status, sha256, image_id, duplicate_of, error FROM batch_units"
        " ORDER BY unit_key"
    ).fetchall()
    content["batch_units"] = units
    db.close()
    return content


def units(case: Path) -> dict[str, dict[str, Any]]:
    """batch_units rows by the unit's first file name."""
    db = sqlite3.connect(f"{case.resolve().as_uri()}?mode=ro", uri=True)
    cur = db.execute("SELECT * FROM batch_units")
    cols = [d[0] for d in cur.description]
    out = {}
    for row in cur:
        item = dict(zip(cols, row, strict=True))
        out[Path(item["unit_key"].splitlines()[0]).name] = item
    db.close()
    return out


@pytest.fixture(scope="session")
def first_run(fleet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("batch") / "case"
    code = run_batch(str(fleet_dir), "-o", str(out), "--workers", "2", "-q")
    return out, code
