"""Large images scanned in regions (pfa batch --region-size): the same case as a whole scan."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from pathlib import Path

import pytest

from forensics.batch.cli import parse_byte_size
from forensics.batch.parts import split_regions
from forensics.diskmap import UNIT
from tests.batch.conftest import MiB, batch_process, case_content, evidence_view, run_batch, units


def test_images_larger_than_the_region_size_are_scanned_in_parts(split_case: Path) -> None:
    db = sqlite3.connect(split_case)
    parts = {
        Path(path).name: json.loads(data).get("parts")
        for path, data in db.execute("SELECT path, data FROM images")
    }
    demo = parts["printer-demo.img"]
    assert [p["role"] for p in demo] == ["primary"] + ["region"] * 15
    assert [(p["start"], p["end"]) for p in demo] == [(i * MiB, (i + 1) * MiB) for i in range(16)]
    assert all(p["host"] and p["seconds"] > 0 for p in demo)
    # One image row per drive, done once: the parts are not images of their own.
    assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == len(parts) == 4
    assert {r["status"] for r in units(split_case).values()} == {"done"}


def test_split_scan_finds_what_the_whole_scan_finds(whole_case: Path, split_case: Path) -> None:
    whole, split = evidence_view(whole_case), evidence_view(split_case)
    assert split.keys() == whole.keys()
    for name in whole:
        for what in whole[name]:
            assert split[name][what] == whole[name][what], (name, what)
    # The comparison is not vacuous: the drives hold carved jobs, copies and deleted files.
    demo = whole["printer-demo.img"]
    assert demo["verdict"] == "sensitive" and len(demo["findings"]) >= 9
    jobs = [json.loads(j) for name in whole for j in whole[name]["jobs"]]
    assert any(j.get("deleted_file") for j in jobs)  # carved and matched to its inode
    assert sum(j["location_class"] == "unallocated" for j in jobs) >= 2


def test_split_case_is_the_same_whatever_the_worker_count(
    drives: Path, split_case: Path, tmp_path: Path
) -> None:
    out = tmp_path / "one"
    assert (
        run_batch(str(drives), "-o", str(out), "-q", "--workers", "1", "--region-size", "1M") == 1
    )
    assert case_content(out / "case.sqlite") == case_content(split_case)


def test_a_hung_region_fails_its_image_only(drives: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    for name in ("printer-demo.img", "ext2_deleted.img"):
        (small / name).symlink_to(drives / name)
    # The demo's region at 5 MiB hangs: retried once, then the image is failed, not the batch.
    env = {**os.environ, "PFA_BATCH_TEST_SLEEP": f"printer-demo.img#{5 * MiB}=600"}
    done = batch_process(
        str(small),
        *("-o", str(tmp_path / "case"), "-q", "--timeout", "12", "--region-size", "1M"),
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert "printer-demo.img: timed out after 12 s (scan killed) (in one of its 16 regions)" in (
        done.stderr
    )
    rows = units(tmp_path / "case" / "case.sqlite")
    assert rows["printer-demo.img"]["status"] == "failed"
    assert rows["printer-demo.img"]["attempts"] == 2
    assert rows["ext2_deleted.img"]["status"] == "done"
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    # Nothing of the failed image's finished regions reached the case.
    assert [Path(p).name for (p,) in db.execute("SELECT path FROM images")] == ["ext2_deleted.img"]
    assert "Traceback" not in done.stderr


def test_regions_cover_the_medium_on_unit_boundaries() -> None:
    assert split_regions(10 * MiB, 0) == ()
    assert split_regions(10 * MiB, 10 * MiB) == ()
    parts = split_regions(10 * MiB + 512, 3 * MiB + 1)
    assert [p.role for p in parts] == ["primary", "region", "region", "region"]
    assert parts[0].start == 0 and parts[-1].end == 10 * MiB + 512
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert all(p.start % UNIT == 0 for p in parts)


@pytest.mark.parametrize(
    ("text", "size"), [("0", 0), ("512", 512), ("64K", 65536), ("1.5G", 3 << 29), ("2TiB", 2 << 40)]
)
def test_region_size_accepts_sizes(text: str, size: int) -> None:
    assert parse_byte_size(text) == size


def test_bad_region_size_is_a_one_line_error(drives: Path, tmp_path: Path) -> None:
    done = batch_process(
        str(drives), "-o", str(tmp_path / "c"), "--region-size", "huge", timeout=120
    )
    assert done.returncode == 2
    assert "not a size: 'huge'" in done.stderr
    assert "Traceback" not in done.stderr
