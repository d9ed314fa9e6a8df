"""pfa batch end to end: real images, real scans, real SQLite, real process pools."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from forensics.batch.discover import discover
from forensics.batch.fleet import neutralise
from tests.batch.conftest import ROOT, batch_cmd, batch_process, case_content, run_batch, units
from tests.test_interrupt import interrupt

EXPECTED = {
    "all_zero.img": "wiped",
    "ext2_deleted.img": "sensitive",
    "e01.E01": "sensitive",
    "truncated.img": "sensitive",
}


def test_discovery_groups_sets_and_ignores_other_files(fleet_dir: Path) -> None:
    found = discover(fleet_dir)
    names = [u.name for u in found]
    assert "README.txt" not in names
    split = next(u for u in found if u.name == "split_raw.001")
    assert [p.name for p in split.paths] == [f"split_raw.{i:03d}" for i in range(1, 9)]
    ewf = next(u for u in found if u.name.lower().endswith(".e01"))
    assert len(ewf.paths) >= 2 and all(p.stem == ewf.paths[0].stem for p in ewf.paths)
    assert not any(n.startswith("split_raw.00") and n != "split_raw.001" for n in names)
    assert len(found) == 10


def test_batch_verdicts_and_failure_isolation(first_run: tuple[Path, int]) -> None:
    out, code = first_run
    assert code == 2  # one input could not be scanned: the run says so in its exit status
    rows = units(out / "case.sqlite")
    failed = {name: row for name, row in rows.items() if row["status"] == "failed"}
    assert set(failed) == {"not-an-image.bin"}
    assert "not a disk image" in failed["not-an-image.bin"]["error"]
    assert failed["not-an-image.bin"]["attempts"] == 1  # a clear refusal is not retried
    db = sqlite3.connect(out / "case.sqlite")
    verdicts = {Path(p).name: v for p, v in db.execute("SELECT path, verdict FROM images")}
    for name, verdict in EXPECTED.items():
        assert verdicts[name] == verdict, name
    # The damaged images were scanned like the others, not stopped at.
    assert {"corrupt_superblock.img", "truncated.img"} <= set(verdicts)
    # One image per media SHA-256: the copy is a duplicate of the original, and the split set
    # holds the same disk as the E01 set (both are the mbr_extended fixture).
    shas = [s for (s,) in db.execute("SELECT sha256 FROM images")]
    assert len(shas) == len(set(shas)) == 7
    copy = rows["all_zero_copy.img"]
    assert copy["status"] == "duplicate" and copy["duplicate_of"].endswith("all_zero.img")
    split = rows["split_raw.001"]
    assert split["status"] == "duplicate" and split["duplicate_of"].splitlines()[0].endswith(
        "e01.E01"
    )


def test_fleet_outputs(first_run: tuple[Path, int]) -> None:
    out, _ = first_run
    with (out / "fleet.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7
    by_name = {r["image"]: r for r in rows}
    assert by_name["ext2_deleted.img"]["verdict"] == "sensitive"
    assert int(by_name["ext2_deleted.img"]["findings"]) > 0
    doc = json.loads((out / "fleet.json").read_text())
    assert len(doc["devices"]) == 7
    assert [f["unit"].rsplit("/", 1)[-1] for f in doc["failed"]] == ["not-an-image.bin"]


def test_rerun_skips_complete_images(first_run: tuple[Path, int], fleet_dir: Path) -> None:
    out, _ = first_run
    before = case_content(out / "case.sqlite")
    runs_before = sqlite3.connect(out / "case.sqlite").execute("SELECT COUNT(*) FROM runs")
    n_runs = runs_before.fetchone()[0]
    code = run_batch(str(fleet_dir), "-o", str(out), "--workers", "2", "-q")
    assert code == 2  # the document is still not an image
    after = case_content(out / "case.sqlite")
    assert after == before
    db = sqlite3.connect(out / "case.sqlite")
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == n_runs + 1
    # Nothing complete was scanned again: the images still belong to the first run.
    assert {r for (r,) in db.execute("SELECT DISTINCT run_id FROM images")} == {1}


def test_force_rescans_without_duplicates(fleet_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "case"
    small = tmp_path / "small"
    small.mkdir()
    for name in ("all_zero.img", "ext2_deleted.img"):
        (small / name).symlink_to(fleet_dir / name)
    assert run_batch(str(small), "-o", str(out), "-q", "--workers", "1") == 1
    before = case_content(out / "case.sqlite")
    assert run_batch(str(small), "-o", str(out), "-q", "--workers", "1", "--force") == 1
    db = sqlite3.connect(out / "case.sqlite")
    assert {r for (r,) in db.execute("SELECT DISTINCT run_id FROM images")} == {2}
    assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 2
    after = case_content(out / "case.sqlite")
    # Same evidence, same records; only the ids moved on (the old image rows were replaced).
    assert [r["sha256"] for r in after["images"]] == [r["sha256"] for r in before["images"]]
    assert len(after["findings"]) == len(before["findings"])
    assert len(after["files"]) == len(before["files"])


def test_same_case_whatever_the_worker_count(
    first_run: tuple[Path, int], fleet_dir: Path, tmp_path: Path
) -> None:
    out1 = tmp_path / "one"
    run_batch(str(fleet_dir), "-o", str(out1), "--workers", "1", "-q")
    assert case_content(out1 / "case.sqlite") == case_content(first_run[0] / "case.sqlite")


def test_manifest_assets_and_formula_cells(fleet_dir: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "lab" / "manifest.csv"
    manifest.parent.mkdir()
    rel = os.path.relpath(fleet_dir, manifest.parent)
    manifest.write_text(
        "path,asset_tag,make_model,serial,notes\n"
        f'{rel}/ext2_deleted.img,AT-0001,Acme LaserBox 9000,SN123,=HYPERLINK("x")\n'
        f"{rel}/split_raw.001,AT-0002,Acme ColorCopy,SN456,\n"
    )
    out = tmp_path / "case"
    assert run_batch(str(manifest), "-o", str(out), "-q", "--workers", "2") == 1
    with (out / "fleet.csv").open(newline="") as handle:
        rows = {r["asset_tag"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"AT-0001", "AT-0002"}
    assert rows["AT-0001"]["make_model"] == "Acme LaserBox 9000"
    assert rows["AT-0001"]["serial"] == "SN123"
    assert rows["AT-0001"]["notes"] == '\'=HYPERLINK("x")'
    assert rows["AT-0001"]["identity_source"] == "manifest"
    db = sqlite3.connect(out / "case.sqlite")
    data = [json.loads(d) for (d,) in db.execute("SELECT data FROM images ORDER BY image_id")]
    assert data[0]["asset"]["asset_tag"] == "AT-0001"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_formula_cells(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    assert neutralise("plain") == "plain"


def test_hung_image_times_out_and_others_finish(fleet_dir: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    for name in ("all_zero.img", "ext2_deleted.img"):
        (small / name).symlink_to(fleet_dir / name)
    env = {**os.environ, "PFA_BATCH_TEST_SLEEP": "ext2_deleted.img=600"}
    done = batch_process(
        str(small), "-o", str(tmp_path / "case"), "-q", "--timeout", "3", env=env, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "ext2_deleted.img: timed out after 3 s" in done.stderr
    rows = units(tmp_path / "case" / "case.sqlite")
    assert rows["ext2_deleted.img"]["status"] == "failed"
    assert rows["ext2_deleted.img"]["attempts"] == 2  # one retry
    assert rows["all_zero.img"]["status"] == "done"
    assert "Traceback" not in done.stderr


def _done_units(case: Path) -> int:
    try:
        db = sqlite3.connect(f"{case.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(
                db.execute("SELECT COUNT(*) FROM batch_units WHERE status = 'done'").fetchone()[0]
            )
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_resume_after_coordinator_is_killed(
    first_run: tuple[Path, int], fleet_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "case"
    # truncated.img sorts late and sleeps, so the kill lands with some images merged and the
    # rest not; the kill takes the coordinator, its pool and their scans (one process group).
    env = {**os.environ, "PFA_BATCH_TEST_SLEEP": "truncated.img=600"}
    proc = subprocess.Popen(
        batch_cmd(str(fleet_dir), "-o", str(out), "-q", "--workers", "2"),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while _done_units(out / "case.sqlite") < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, "the batch ended before it could be interrupted"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    merged = _done_units(out / "case.sqlite")
    assert 3 <= merged < 7
    before = {
        k: v["image_id"] for k, v in units(out / "case.sqlite").items() if v["status"] == "done"
    }
    code = run_batch(str(fleet_dir), "-o", str(out), "-q", "--workers", "2")
    assert code == 2
    rows = units(out / "case.sqlite")
    # Nothing merged before the kill was scanned again or duplicated.
    assert {k: rows[k]["image_id"] for k in before} == before
    db = sqlite3.connect(out / "case.sqlite")
    shas = [s for (s,) in db.execute("SELECT sha256 FROM images")]
    assert len(shas) == len(set(shas)) == 7
    for table in ("files", "findings", "jobs"):
        orphans = db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE image_id NOT IN (SELECT image_id FROM images)"
        ).fetchone()[0]
        assert orphans == 0, table
    # Nothing lost: the resumed case holds what an uninterrupted batch holds.
    full = case_content(first_run[0] / "case.sqlite")
    resumed = case_content(out / "case.sqlite")
    assert [r["sha256"] for r in resumed["images"]] == [r["sha256"] for r in full["images"]]
    for table in ("files", "findings", "jobs", "problems"):
        assert len(resumed[table]) == len(full[table]), table


def test_device_identity_recovered_from_the_drive(tmp_path: Path) -> None:
    tree = tmp_path / "tree" / "etc"
    tree.mkdir(parents=True)
    (tree / "device.cfg").write_text(
        "[device]\nModelName = Acme LaserBox 9000\nSerialNumber = CN12345678\n"
        "smtp_server = mail.example.com\nsnmp_community = public\nlanguage = en\n"
    )
    images = tmp_path / "images"
    images.mkdir()
    img = images / "printer.img"
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext2", "-d", str(tmp_path / "tree"), str(img), "4M"],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "case"
    run_batch(str(images), "-o", str(out), "-q", "--workers", "1")
    with (out / "fleet.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["serial"] == "CN12345678"
    assert row["make_model"] == "Acme LaserBox 9000"
    assert row["identity_source"] == "drive"
    assert row["asset_tag"] == ""


def test_progress_shows_overall_bar_and_worker_lines(fleet_dir: Path, tmp_path: Path) -> None:
    import argparse
    import io

    from rich.console import Console

    from forensics.batch.cli import add_batch_arguments, run_batch_command

    small = tmp_path / "small"
    small.mkdir()
    for name in ("all_zero.img", "ext2_deleted.img"):
        (small / name).symlink_to(fleet_dir / name)
    parser = argparse.ArgumentParser()
    add_batch_arguments(parser)
    args = parser.parse_args([str(small), "-o", str(tmp_path / "case"), "--workers", "2"])
    screen, summary = io.StringIO(), io.StringIO()
    code = run_batch_command(
        args,
        Console(file=summary, width=200),
        Console(file=screen, force_terminal=True, width=200),
    )
    assert code == 1
    shown = screen.getvalue()
    assert "images 2/2" in shown
    assert "worker 1: idle" in shown and "worker 2: idle" in shown
    assert "2 scanned, 0 skipped" in summary.getvalue()
    assert "sensitive" in summary.getvalue()


def test_same_case_whatever_the_completion_order(
    first_run: tuple[Path, int], fleet_dir: Path, tmp_path: Path
) -> None:
    # The first image in key order is held back, so every other image finishes before it.
    out = tmp_path / "late-first"
    done = batch_process(
        str(fleet_dir),
        *("-o", str(out), "-q", "--workers", "2"),
        env={**os.environ, "PFA_BATCH_TEST_SLEEP": "all_zero.img=8"},
    )
    assert done.returncode == 2, done.stderr
    assert case_content(out / "case.sqlite") == case_content(first_run[0] / "case.sqlite")


def test_pfa_batch_command_and_reports_on_the_batch_case(
    first_run: tuple[Path, int], fleet_dir: Path, tmp_path: Path
) -> None:
    import sys

    # `pfa batch` is a registered command; a batch case is a case like any other for reports.
    small = tmp_path / "small"
    small.mkdir()
    (small / "all_zero.img").symlink_to(fleet_dir / "all_zero.img")
    done = subprocess.run(
        [sys.executable, "-m", "forensics", "batch", str(small), "-o", str(tmp_path / "c"), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # one wiped image
    reports = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "report",
            str(first_run[0]),
            "--format",
            "json",
            "-o",
            str(reports),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # One format: -o names the file, one per image of the case.
    written = sorted(tmp_path.glob("reports-image*"))
    assert len(written) == 7
    image = json.loads(written[0].read_text())["image"]
    assert image["hashes"]["sha256"]
    assert set(image["asset"]) == {"asset_tag", "make_model", "serial", "notes"}  # shown


def test_fleet_html_one_row_per_device_with_links(
    first_run: tuple[Path, int], tmp_path: Path
) -> None:
    import sys
    from html.parser import HTMLParser

    dest = tmp_path / "html" / "report.html"
    dest.parent.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "report",
            str(first_run[0]),
            "-f",
            "html",
            "-o",
            str(dest),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    class Page(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.links: list[str] = []
            self._cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr" and ("class", "device") in attrs:
                self.rows.append([])
            elif tag == "td" and self.rows:
                self._cell = []
            elif tag == "a":
                self.links.append(dict(attrs).get("href") or "")

        def handle_endtag(self, tag: str) -> None:
            if tag == "td" and self._cell is not None:
                self.rows[-1].append("".join(self._cell))
                self._cell = None

        def handle_data(self, data: str) -> None:
            if self._cell is not None:
                self._cell.append(data)

    page = Page()
    page.feed(dest.read_text(encoding="utf-8"))
    assert len(page.rows) == 7  # one row per device (image) of the case
    by_image = {row[3]: row for row in page.rows}
    assert by_image["ext2_deleted.img"][4] == "sensitive"
    assert int(by_image["ext2_deleted.img"][6]) > 0  # findings
    # Each row links to that image's own report, written beside the fleet page.
    assert len(page.links) == 7
    for link in page.links:
        assert (dest.parent / link).is_file() and link.startswith("report-image")


def test_a_unit_scan_a_pool_worker_starts_stops_on_ctrl_c_from_its_start() -> None:
    """A unit's scan is a child of a pool worker. Had the worker ignored Ctrl-C, the child would
    inherit that across exec and miss a Ctrl-C that comes before it sets its own handler (its
    start-up, tens of milliseconds): the batch would then wait for that whole scan."""
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from forensics.batch.coordinator import worker_init

    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    with ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=worker_init
    ) as pool:
        started = pool.submit(subprocess.check_output, [sys.executable, "-S", "-c", probe])
        assert started.result(timeout=60).strip() == b"True"


def test_ctrl_c_stops_the_batch_and_a_rerun_resumes(fleet_dir: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    for name in ("all_zero.img", "ext2_deleted.img"):
        (small / name).symlink_to(fleet_dir / name)
    out = tmp_path / "case"
    env = {**os.environ, "PFA_BATCH_TEST_SLEEP": "ext2_deleted.img=600"}
    returncode, stderr = interrupt(
        batch_cmd(str(small), "-o", str(out), "-q", "--workers", "2"),
        env,
        lambda: _done_units(out / "case.sqlite") >= 1,
        cwd=ROOT,
    )
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [
        f"pfa: interrupted: {out / 'case.sqlite'} keeps 1 finished image(s); "
        "run the same command again to resume"
    ]
    rows = units(out / "case.sqlite")
    assert rows["all_zero.img"]["status"] == "done"
    assert rows["ext2_deleted.img"]["status"] == "pending"
    db = sqlite3.connect(out / "case.sqlite")
    statuses = [json.loads(d).get("status") for (d,) in db.execute("SELECT data FROM runs")]
    assert statuses == ["interrupted"]
    db.close()
    assert run_batch(str(small), "-o", str(out), "-q", "--workers", "2") == 1
    rows = units(out / "case.sqlite")
    assert {r["status"] for r in rows.values()} == {"done"}
    assert rows["all_zero.img"]["image_id"] == 1  # kept, not scanned again
