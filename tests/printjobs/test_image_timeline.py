"""Print jobs on a real ext2 image (mke2fs -d, debugfs rm): a spooled job with a byte-identical
and a truncated carved copy in free space, a deleted job; and the timeline exports (TSK body
file, Timesketch JSONL) read back as mactime and Timesketch would read them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures.builders import pxl_print_job
from fixtures.tools import dd_write
from forensics.printjobs import FileEventStager, consolidate_into_store
from forensics.printjobs.consolidate import FILE_EVENTS, JOB_EVENTS
from forensics.records import TimelineEvent
from forensics.store import CaseStore
from tests.printjobs.test_consolidate import hp_driver_job, pfa

HOSTILE_NAME = "notes|x\x1b[31mred.txt"
COPY_AT = 3 * 1024 * 1024
TRUNCATED_AT = 3 * 1024 * 1024 + 512 * 1024


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, dict[str, Any]]:
    work = tmp_path_factory.mktemp("printjobs-image")
    staging = work / "root"
    (staging / "spool").mkdir(parents=True)
    kept = hp_driver_job(work, "contract", "dlee", "20240611093000")
    gone = pxl_print_job(work, "severance", "hr-admin", ["Severance terms"])
    (staging / "spool" / "00017.prn").write_bytes(kept)
    (staging / "spool" / "00018.prn").write_bytes(gone)
    (staging / HOSTILE_NAME).write_text("meeting notes\n")
    image = work / "printer.img"
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-d", str(staging), str(image), "4M"],
        check=True,
    )
    subprocess.run(
        ["debugfs", "-w", "-R", "rm /spool/00018.prn", str(image)], check=True, capture_output=True
    )
    # Copies a printer leaves in free space: the whole job once, and its first half.
    dd_write(image, COPY_AT, kept)
    dd_write(image, TRUNCATED_AT, kept[: len(kept) // 2])
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    out = work / "out"
    done = pfa("scan", str(image), "-o", str(out), "-q", "--no-pages")
    assert done.returncode in (0, 1), done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return image, out, before, report


def _job(report: dict[str, Any], user: str) -> dict[str, Any]:
    (job,) = [j for j in report["print_jobs"] if j["user"] == user]
    return job


def test_carved_copies_belong_to_the_job_they_copy(
    case: tuple[Path, Path, str, dict[str, Any]],
) -> None:
    image, _, before, report = case
    job = _job(report, "dlee")
    roles = [link["role"] for link in job["artefacts"]]
    assert roles.count("carved copy") == 1  # the byte-identical one: not parsed twice
    copy = next(link for link in job["artefacts"] if link["role"] == "carved copy")
    assert copy["image_offset"] is not None and copy["reason"].startswith("byte-identical")
    # The truncated copy was parsed (it differs) and joined by user and job name.
    partial = [
        link for link in job["artefacts"] if link["reason"] == "carved copy: same user and job name"
    ]
    assert partial and partial[0]["carved"] and partial[0]["image_offset"] >= TRUNCATED_AT
    assert job["recoverable"] == "complete"  # the spooled file is whole
    assert "allocated" in job["location"] and "(carved)" in job["location"]
    # Counted once: one print job for the user, however many copies the disk holds.
    assert sum(1 for j in report["print_jobs"] if j["user"] == "dlee") == 1
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before


def test_deleted_job_is_its_own_print_job(case: tuple[Path, Path, str, dict[str, Any]]) -> None:
    job = _job(case[3], "hr-admin")
    assert job["state"] == "deleted" and job["location"] == "deleted"
    assert job["document"] == "severance"
    assert any(link["path"] == "/spool/00018.prn" for link in job["artefacts"])


def _body_lines(out: Path) -> list[list[str]]:
    body = out / "timeline.body"
    done = pfa("report", str(out), "--format", "bodyfile", "-o", str(body))
    assert done.returncode == 0, done.stderr
    return [line.split("|") for line in body.read_text(encoding="utf-8").splitlines()]


def test_bodyfile_has_file_times_and_job_events(
    case: tuple[Path, Path, str, dict[str, Any]],
) -> None:
    out = case[1]
    lines = _body_lines(out)
    assert lines and all(len(columns) == 11 for columns in lines)  # TSK 3.x: 11 columns
    files = {columns[1]: columns for columns in lines if not columns[1].startswith("pfa:")}
    spooled = next(c for name, c in files.items() if name.endswith(":/spool/00017.prn"))
    md5, _, inode, mode, _, _, size, atime, mtime, ctime, _ = spooled
    assert md5 == "0" and mode.startswith("r/") and int(inode) > 0
    assert int(size) > 0 and int(mtime) > 0 and int(atime) > 0 and int(ctime) > 0
    assert any(name.endswith("/spool/00018.prn (deleted)") for name in files)
    # A hostile name keeps its line: "|" and the escape character cannot add columns.
    hostile = [n for n in files if "notes" in n]
    assert hostile and "\x1b" not in hostile[0] and "\\x1b" in hostile[0]
    events = [c for c in lines if c[1].startswith("pfa:Print job submitted")]
    (submitted,) = events
    assert "dlee" in submitted[1] and "time zone unknown" in submitted[1]
    assert int(submitted[8]) == 1718098200  # 2024-06-11 09:30:00, read as UTC (zone unknown)


def test_timesketch_jsonl(case: tuple[Path, Path, str, dict[str, Any]]) -> None:
    _, out, _, report = case
    dest = out / "timeline.jsonl"
    done = pfa("report", str(out), "--format", "timesketch", "-o", str(dest))
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in dest.read_text(encoding="utf-8").splitlines()]
    assert events
    for event in events:  # the fields Timesketch requires of a JSONL import
        assert event["message"] and event["timestamp_desc"]
        assert event["datetime"].endswith("Z") and isinstance(event["timestamp"], int)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    job = _job(report, "dlee")
    (submitted,) = [e for e in events if e.get("print_job_id") == job["print_job_id"]]
    assert submitted["timestamp_desc"] == "Print job submitted"
    assert submitted["evidence_address"].endswith("> pjl job")
    assert submitted["image_sha256"] == report["image"]["hashes"]["sha256"]
    assert any(e["data_type"] == "pfa:file" and e.get("path") == "/spool/00017.prn" for e in events)


def test_html_report_shows_timeline_and_print_jobs(
    case: tuple[Path, Path, str, dict[str, Any]],
) -> None:
    _, out, _, report = case
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "id=timeline" in page and "Print job submitted" in page
    for job in report["print_jobs"]:
        assert job["print_job_id"] in page
    assert "\x1b" not in page


def _timeline_rows(store: CaseStore) -> list[tuple[object, ...]]:
    return store.db.execute(
        "SELECT image_id, time, kind, data FROM timeline ORDER BY rowid"
    ).fetchall()


def test_timeline_staged_during_the_scan_is_the_one_consolidation_writes(
    case: tuple[Path, Path, str, dict[str, Any]], tmp_path: Path
) -> None:
    # The scan stages the file events while it waits on YARA; consolidating the case again
    # from its files (as a merge of split parts does) must write the same rows in the same
    # order, and so must a staging whose rows a consolidation in between dropped.
    out = case[1]
    copy = tmp_path / "case.sqlite"
    shutil.copy(out / "case.sqlite", copy)  # the scan's case, closed (no WAL left)
    with CaseStore(copy) as store:
        scanned = _timeline_rows(store)
        kinds = {str(row[2]) for row in scanned}
        assert {"file", "print-job"} <= kinds
        files = store.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        assert sum(1 for row in scanned if row[2] == "file") >= files  # an mtime at least
        consolidate_into_store(store, 1)
        assert _timeline_rows(store) == scanned
        stager = FileEventStager(store, 1)
        assert stager.stage_some()
        consolidate_into_store(store, 1)  # drops what was staged
        consolidate_into_store(store, 1, stager)
        assert stager.failed
        assert _timeline_rows(store) == scanned


def test_events_at_the_same_time_keep_their_group_order(tmp_path: Path) -> None:
    # Job events come before file events of the same second, whether the file events were
    # staged first (a scan) or come after the job events (a later consolidation).
    def event(kind: str, message: str) -> TimelineEvent:
        return TimelineEvent(
            datetime="2024-06-11T09:30:00.000000Z",
            timestamp=1718098200000000,
            timestamp_desc="Print job submitted" if kind == "print-job" else "File modified",
            message=message,
            kind=kind,
        )

    jobs = [event("print-job", "job a"), event("print-job", "job b")]
    files = [event("file", "/spool/a.prn"), event("file", "/spool/b.prn")]
    with CaseStore(tmp_path / "case.sqlite") as store:
        store.stage_timeline(files, FILE_EVENTS)
        store.replace_consolidated(1, [], [], {JOB_EVENTS: jobs}, True)
        staged = [json.loads(str(row[3]))["message"] for row in _timeline_rows(store)]
        store.replace_consolidated(1, [], [], {JOB_EVENTS: jobs, FILE_EVENTS: files})
        read = [json.loads(str(row[3]))["message"] for row in _timeline_rows(store)]
    assert staged == read == ["job a", "job b", "/spool/a.prn", "/spool/b.prn"]
