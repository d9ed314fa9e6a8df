"""Large images split into byte regions that scan in parallel, and merged back into one image.

One huge drive must not hold a whole batch back while the other workers idle: an image larger
than ``--region-size`` is cut into regions, each scanned by its own work unit
(``forensics.scan.ScanPart``). The primary part hashes the whole medium, records the layout and
file systems, parses file jobs and re-reads fragmented files; every part examines the raw bytes
of its own region (YARA, disk map, carving). The coordinator merges the primary part as it
merges a whole image, then here:

- adds the other parts' findings, problems and carved jobs, their file references mapped to the
  primary part's files (every part walks the same file systems);
- drops what a whole scan would not have recorded twice: a hit the primary's logical re-read
  found again where another part's raw pass had it, and a carved job that repeats a file job
  byte for byte (it becomes that job's carved copy, as in ``_ImageScan._carved_sources``);
- consolidates the print jobs and draws the verdict from the merged evidence.

The cut depends only on the medium's size and the region size, and parts are merged in order,
so the case is the same whatever the worker count or the order the parts finish in.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from typing import Any

from forensics.batch.merge import insert_rows
from forensics.diskmap import UNIT, DiskMap
from forensics.printjobs import consolidate_or_problem
from forensics.scan import ScanPart, image_evidence
from forensics.store import CaseStore, case_json
from forensics.verdict import VerdictPolicy, decide

Tables = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]

# What only the primary part records (layout, file systems) or the coordinator makes after the
# merge (consolidated print jobs, artefacts, timeline); part_carved is read, not copied.
_PRIMARY_ONLY = frozenset(
    {"images", "files", "volumes", "filesystems", "byte_runs", "print_jobs", "artefacts"}
    | {"timeline", "part_carved"}
)
# Row ids of a part's own case: the batch case numbers the merged rows afresh.
_ROW_IDS = frozenset({"finding_id", "problem_id"})


def split_regions(size: int, region_bytes: int) -> tuple[ScanPart, ...]:
    """The parts of a medium of ``size`` bytes; () when it is scanned whole.

    Regions are whole disk-map units long (the disk map classifies 64 KiB units).
    """
    if region_bytes <= 0 or size <= region_bytes:
        return ()
    region = -(-region_bytes // UNIT) * UNIT
    bounds = [*range(0, size, region), size]
    return tuple(
        ScanPart("primary" if i == 0 else "region", start, end)
        for i, (start, end) in enumerate(itertools.pairwise(bounds))
    )


def _rows(tables: Tables, table: str) -> list[dict[str, Any]]:
    columns, rows = tables.get(table, ((), []))
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _file_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["volume_idx"], row["inode"], row["path"], row["allocated"])


def _image_data(tables: Tables) -> dict[str, Any]:
    (image,) = _rows(tables, "images")
    return json.loads(image["data"]) if image.get("data") else {}


def merge_parts(
    store: CaseStore,
    image_id: int,
    parts: list[tuple[Tables, dict[str, Any]]],
    policy: VerdictPolicy,
) -> None:
    """Merge the region parts ``parts[1:]`` (tables, outcome info) into ``image_id``, which
    holds the primary part ``parts[0]`` already; no commit (the caller's transaction)."""
    db = store.db
    merged_files = {
        (vol, inode, path, allocated): file_id
        for file_id, vol, inode, path, allocated in db.execute(
            "SELECT file_id, volume_idx, inode, path, allocated FROM files WHERE image_id = ?",
            (image_id,),
        )
    }
    (primary_last,) = db.execute(
        "SELECT COALESCE(MAX(finding_id), 0) FROM findings WHERE image_id = ?", (image_id,)
    ).fetchone()
    existing = {
        str(n) for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    carved: list[dict[str, Any]] = []
    for tables, _ in parts[1:]:
        file_ids = {
            row["file_id"]: merged_files.get(_file_key(row)) for row in _rows(tables, "files")
        }
        for table in sorted(tables):
            if table in _PRIMARY_ONLY or table not in existing:
                continue
            columns, rows = tables[table]
            insert_rows(
                db,
                table,
                columns,
                rows,
                {"image_id": image_id},
                {},
                {"file_id": file_ids},
                _ROW_IDS,
            )
        carved.extend(_rows(tables, "part_carved"))
    _drop_refound_hits(db, image_id, int(primary_last))
    _count_raw_hits_of_job_files(db, image_id, int(primary_last))
    _carved_copies(store, image_id, carved)
    problem = consolidate_or_problem(store, image_id)
    if problem is not None:
        store.add_problem(image_id, problem)
    _finish(store, image_id, parts, policy)


def _drop_refound_hits(db: sqlite3.Connection, image_id: int, primary_last: int) -> None:
    """A hit of the primary's logical re-read (a fragmented file read again near its seams)
    that another part's raw pass recorded: a whole scan keeps only the raw one."""
    db.execute(
        "DELETE FROM findings WHERE image_id = :image AND job_id IS NULL"
        " AND finding_id <= :last AND EXISTS (SELECT 1 FROM findings AS raw"
        " WHERE raw.image_id = :image AND raw.job_id IS NULL AND raw.finding_id > :last"
        " AND raw.image_offset = findings.image_offset"
        " AND raw.value_sha256 = findings.value_sha256)",
        {"image": image_id, "last": primary_last},
    )


def _count_raw_hits_of_job_files(db: sqlite3.Connection, image_id: int, primary_last: int) -> None:
    """A job file's raw hits that other parts recorded, as the primary's job pass would have
    seen them in a whole scan (``_ImageScan._store_extracted``): a value the raw pass found
    in the file is not reported again from the decoded text, and the file's raw hits count
    towards each of its top-level jobs."""
    raw: dict[int, set[str]] = {}
    raw_count: dict[int, int] = {}
    for file_id, value in db.execute(
        "SELECT file_id, value_sha256 FROM findings WHERE image_id = ? AND job_id IS NULL"
        " AND finding_id > ? AND file_id IS NOT NULL",
        (image_id, primary_last),
    ):
        raw.setdefault(int(file_id), set()).add(str(value))
        raw_count[int(file_id)] = raw_count.get(int(file_id), 0) + 1
    if not raw:
        return
    dropped: dict[str, int] = {}
    for finding_id, file_id, job_id, value in list(
        db.execute(
            "SELECT finding_id, file_id, job_id, value_sha256 FROM findings WHERE image_id = ?"
            " AND job_id IS NOT NULL AND finding_id <= ? AND file_id IS NOT NULL",
            (image_id, primary_last),
        )
    ):
        if str(value) in raw.get(int(file_id), ()):
            db.execute("DELETE FROM findings WHERE finding_id = ?", (finding_id,))
            dropped[str(job_id)] = dropped.get(str(job_id), 0) + 1
    for job_id, file_id, parent, data in list(
        db.execute(
            "SELECT job_id, file_id, parent_job_id, data FROM jobs WHERE image_id = ?"
            " AND file_id IS NOT NULL",
            (image_id,),
        )
    ):
        more = (raw_count.get(int(file_id), 0) if parent is None else 0) - dropped.get(job_id, 0)
        if more:
            job = json.loads(data)
            job["findings"] = int(job.get("findings") or 0) + more
            db.execute(
                "UPDATE jobs SET data = ? WHERE image_id = ? AND job_id = ?",
                (case_json(job), image_id, job_id),
            )


def _carved_copies(store: CaseStore, image_id: int, carved: list[dict[str, Any]]) -> None:
    """Turn carved jobs that repeat a file job byte for byte into copies of it."""
    db = store.db
    originals: dict[str, str] = {}
    for (data,) in db.execute(
        "SELECT data FROM jobs WHERE image_id = ? AND parent_job_id IS NULL"
        " AND file_id IS NOT NULL ORDER BY rowid",
        (image_id,),
    ):
        job = json.loads(data)
        if job.get("sha256"):
            originals.setdefault(job["sha256"], job["job_id"])
    for row in sorted(carved, key=lambda r: int(r["image_offset"])):
        original = originals.get(row["sha256"]) if row["sha256"] else None
        if original is None:
            continue
        copy = json.loads(row["copy"])
        _delete_jobs(db, image_id, json.loads(row["job_ids"]), str(copy["address"]))
        store.add_job_copy(image_id, original, copy)


def _delete_jobs(db: sqlite3.Connection, image_id: int, job_ids: list[str], address: str) -> None:
    """Remove jobs (and their children, findings and texts) parsed from one carved instance,
    and the problems recorded at its address."""
    doomed = set(job_ids)
    while True:
        marks = ", ".join("?" for _ in doomed)
        children = {
            str(j)
            for (j,) in db.execute(
                f"SELECT job_id FROM jobs WHERE image_id = ? AND parent_job_id IN ({marks})",
                (image_id, *doomed),
            )
        }
        if children <= doomed:
            break
        doomed |= children
    marks = ", ".join("?" for _ in doomed)
    for table in ("jobs", "findings", "job_texts"):
        db.execute(
            f"DELETE FROM {table} WHERE image_id = ? AND job_id IN ({marks})", (image_id, *doomed)
        )
    for problem_id, data in list(
        db.execute("SELECT problem_id, data FROM problems WHERE image_id = ?", (image_id,))
    ):
        if str(json.loads(data).get("address") or "").startswith(address):
            db.execute("DELETE FROM problems WHERE problem_id = ?", (problem_id,))


def _finish(
    store: CaseStore,
    image_id: int,
    parts: list[tuple[Tables, dict[str, Any]]],
    policy: VerdictPolicy,
) -> None:
    """The merged image record: disk map, OCR summary, parts, and the verdict drawn again."""
    db = store.db
    (size, data_text) = db.execute(
        "SELECT size, data FROM images WHERE image_id = ?", (image_id,)
    ).fetchone()
    record = json.loads(data_text)
    disk_map = DiskMap(int(size))
    ocr: dict[str, Any] | None = None
    described: list[dict[str, Any]] = []
    residual = 0
    user_files = 0
    for index, (tables, info) in enumerate(parts):
        part_data = _image_data(tables)
        disk_map.add_reported(part_data["disk_map"])
        part = dict(part_data.get("part") or {})
        residual += int(part.get("residual_units") or 0)
        if index == 0:
            user_files = int(part.get("user_files_with_content") or 0)
        if part_data.get("ocr"):
            ocr = _add_counts(ocr, part_data["ocr"])
        described.append(
            {
                "role": part.get("role"),
                "start": part.get("start"),
                "end": part.get("end"),
                "host": info.get("host"),
                "seconds": info.get("seconds"),
                "profile": part_data.get("profile"),
            }
        )
    (findings,) = db.execute(
        "SELECT COUNT(*) FROM findings WHERE image_id = ?", (image_id,)
    ).fetchone()
    verdict, reasons = decide(
        image_evidence(store, image_id, int(findings), user_files, residual, disk_map), policy
    )
    record.pop("part", None)
    record.update(
        {
            "verdict": str(verdict),
            "verdict_reasons": reasons,
            "disk_map": disk_map.to_dict(),
            "ocr": ocr,
            "parts": described,
            "finished": max(str(_image_data(t).get("finished") or "") for t, _ in parts),
        }
    )
    db.execute(
        "UPDATE images SET verdict = ?, data = ? WHERE image_id = ?",
        (str(verdict), case_json(record), image_id),
    )


def _add_counts(total: dict[str, Any] | None, more: dict[str, Any]) -> dict[str, Any]:
    """OCR summaries of two parts added field by field (the budget is the same for all)."""
    if total is None:
        return dict(more)
    out = dict(total)
    for key, value in more.items():
        if isinstance(value, int | float) and isinstance(out.get(key), int | float):
            out[key] = round(out[key] + value, 3) if isinstance(value, float) else out[key] + value
        elif key not in out:
            out[key] = value
    return out
