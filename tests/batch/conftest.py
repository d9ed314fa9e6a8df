"""A small fleet of fixture images for the batch tests (built once per session)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures import builders, carving
from forensics.batch.__main__ import main as batch_main

ROOT = Path(__file__).resolve().parents[2]

# Fields that record when, how long and where something ran, not what the evidence holds.
TIME_KEYS = frozenset({"started", "finished", "run_id", "profile", "seconds", "host"})


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


def batch_process(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``pfa batch ARGV`` in a child process from the repository root, its output captured
    (the caller checks the exit code)."""
    return subprocess.run(
        batch_cmd(*argv),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _untimed(value: Any) -> Any:
    """``value`` with every TIME_KEYS field, at any depth, set to None."""
    if isinstance(value, dict):
        return {k: None if k in TIME_KEYS else _untimed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


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
                item["data"] = _untimed(json.loads(item["data"]))
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


def evidence_view(case: Path) -> dict[str, Any]:
    """What a case says about each image, free of row ids (file and finding numbers depend on
    the order records were written in): for comparing a split scan with a whole one."""
    db = sqlite3.connect(f"{case.resolve().as_uri()}?mode=ro", uri=True)
    view: dict[str, Any] = {}
    for image_id, path, verdict, data in db.execute(
        "SELECT image_id, path, verdict, data FROM images ORDER BY path"
    ):
        files = dict(db.execute("SELECT file_id, path FROM files WHERE image_id = ?", (image_id,)))

        def rows(sql: str, image_id: int = image_id) -> list[str]:
            out = []
            for (text,) in db.execute(sql, (image_id,)):
                item = json.loads(text)
                for key in TIME_KEYS | {"finding_id", "problem_id"}:
                    item.pop(key, None)
                out.append(json.dumps(item, sort_keys=True))
            return sorted(out)

        record = json.loads(data)
        findings = sorted(
            json.dumps([files.get(file_id), job_id, json.loads(text)], sort_keys=True)
            for file_id, job_id, text in db.execute(
                "SELECT file_id, job_id, data FROM findings WHERE image_id = ?", (image_id,)
            )
        )
        view[Path(path).name] = {
            "verdict": verdict,
            "image": {
                k: record.get(k)
                for k in ("hashes", "verdict_reasons", "disk_map", "partition_scheme", "ocr")
            },
            "findings": findings,
            "jobs": rows("SELECT data FROM jobs WHERE image_id = ?"),
            "problems": rows("SELECT data FROM problems WHERE image_id = ?"),
            "print_jobs": rows("SELECT data FROM print_jobs WHERE image_id = ?"),
            "artefacts": rows("SELECT data FROM artefacts WHERE image_id = ?"),
            "timeline": rows("SELECT data FROM timeline WHERE image_id = ?"),
            "texts": sorted(
                db.execute(
                    "SELECT job_id, seq, name, text FROM job_texts WHERE image_id = ?", (image_id,)
                )
            ),
            "files": sorted(
                db.execute(
                    "SELECT volume_idx, path, inode, size, allocated FROM files WHERE image_id = ?",
                    (image_id,),
                )
            ),
        }
    db.close()
    return view


MiB = 1024 * 1024


@pytest.fixture(scope="session")
def drives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Images with what a split can cut through: file jobs and their raw hits in other regions,
    deleted files recovered by carving and matched by name or size, carved jobs in free space,
    a split raw set with a job cut off by the end of the medium, a fragmented deleted file."""
    images = tmp_path_factory.mktemp("drives") / "images"
    images.mkdir()
    (images / "printer-demo.img").symlink_to(ROOT / "fixtures" / "demo" / "printer-demo.img")
    carving.build_ext4_carving(images)
    carving.build_split_carving(images)
    builders.build_ext2_deleted(images)
    for leftover in images.glob("*work*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
    return images


@pytest.fixture(scope="session")
def whole_case(drives: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "case"
    assert run_batch(str(drives), "-o", str(out), "-q", "--workers", "2") == 1
    return out / "case.sqlite"


@pytest.fixture(scope="session")
def split_case(drives: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("split") / "case"
    code = run_batch(str(drives), "-o", str(out), "-q", "--workers", "2", "--region-size", "1M")
    assert code == 1
    return out / "case.sqlite"
