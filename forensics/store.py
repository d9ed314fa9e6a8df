"""The case store: one SQLite database per case; records go in as the scan produces them.

Reports are rendered from the store (DESIGN.md), so a scan holds no unbounded list of records in
memory: files and findings stream to disk. Each table keeps the full record as JSON in ``data``
plus the columns worth querying.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from forensics.errors import InputError
from forensics.records import (
    Artefact,
    ByteRun,
    FileEntry,
    Finding,
    Job,
    PrintJob,
    Problem,
    TimelineEvent,
)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, tool_version TEXT, command_line TEXT, host TEXT,
    rules_sha256 TEXT, started TEXT, finished TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS images (
    image_id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs, path TEXT, size INTEGER,
    md5 TEXT, sha1 TEXT, sha256 TEXT, verdict TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS volumes (
    image_id INTEGER REFERENCES images, idx INTEGER, kind TEXT, offset INTEGER, length INTEGER,
    filesystem TEXT, data TEXT, PRIMARY KEY (image_id, idx));
CREATE TABLE IF NOT EXISTS filesystems (
    image_id INTEGER REFERENCES images, volume_idx INTEGER, type TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY, image_id INTEGER REFERENCES images, volume_idx INTEGER,
    path TEXT, inode INTEGER, size INTEGER, allocated INTEGER, kind TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS findings (
    finding_id INTEGER PRIMARY KEY, image_id INTEGER REFERENCES images, rule TEXT, category TEXT,
    severity TEXT, location_class TEXT, image_offset INTEGER, value_sha256 TEXT,
    file_id INTEGER, job_id TEXT, data TEXT, confidence TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT, image_id INTEGER REFERENCES images, format TEXT, location_class TEXT,
    path TEXT, file_id INTEGER, parent_job_id TEXT, data TEXT, PRIMARY KEY (image_id, job_id));
CREATE TABLE IF NOT EXISTS job_texts (
    image_id INTEGER, job_id TEXT, seq INTEGER, name TEXT, text TEXT);
CREATE TABLE IF NOT EXISTS byte_runs (
    image_id INTEGER REFERENCES images, volume_idx INTEGER, kind TEXT, img_offset INTEGER,
    length INTEGER);
CREATE TABLE IF NOT EXISTS problems (
    problem_id INTEGER PRIMARY KEY, image_id INTEGER REFERENCES images, code TEXT, data TEXT);
CREATE TABLE IF NOT EXISTS print_jobs (
    image_id INTEGER REFERENCES images, print_job_id TEXT, time TEXT, user TEXT, state TEXT,
    recoverable TEXT, data TEXT, PRIMARY KEY (image_id, print_job_id));
CREATE TABLE IF NOT EXISTS artefacts (
    image_id INTEGER REFERENCES images, artefact_id TEXT, kind TEXT, path TEXT, data TEXT,
    PRIMARY KEY (image_id, artefact_id));
CREATE TABLE IF NOT EXISTS timeline (
    image_id INTEGER REFERENCES images, time TEXT, kind TEXT, data TEXT);
CREATE INDEX IF NOT EXISTS timeline_by_time ON timeline (image_id, time);
CREATE INDEX IF NOT EXISTS findings_by_job ON findings (image_id, job_id);
CREATE INDEX IF NOT EXISTS findings_by_image ON findings (image_id, image_offset);
CREATE INDEX IF NOT EXISTS findings_by_file ON findings (image_id, file_id);
CREATE INDEX IF NOT EXISTS files_by_image ON files (image_id, volume_idx, inode);
"""


# What each reader returns, in its order; ``CaseStore.json_texts`` gives the stored JSON text.
READERS = {
    "jobs": "SELECT data FROM jobs WHERE image_id = ? ORDER BY rowid",
    "print_jobs": "SELECT data FROM print_jobs WHERE image_id = ? ORDER BY rowid",
    "artefacts": "SELECT data FROM artefacts WHERE image_id = ? ORDER BY rowid",
    "timeline": "SELECT data FROM timeline WHERE image_id = ? ORDER BY rowid",
    "volumes": "SELECT data FROM volumes WHERE image_id = ? ORDER BY idx",
    "filesystems": "SELECT data FROM filesystems WHERE image_id = ? ORDER BY volume_idx",
    "findings": "SELECT data FROM findings WHERE image_id = ? ORDER BY image_offset, finding_id",
    "problems": "SELECT data FROM problems WHERE image_id = ? ORDER BY problem_id",
    "findings_ranked": (
        "SELECT data FROM findings WHERE image_id = ? ORDER BY"
        " CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2"
        " WHEN 'low' THEN 3 ELSE 4 END,"
        " CASE json_extract(data, '$.confidence') WHEN 'validated' THEN 0"
        " WHEN 'keyword-anchored' THEN 1 ELSE 2 END,"
        " image_offset, finding_id"
    ),
}


def case_json(obj: Any) -> str:
    """The JSON form of a record in the case database (compact, keys sorted: stable bytes)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class CaseStore:
    """A SQLite case database (created if missing)."""

    @classmethod
    def open_existing(cls, path: Path) -> CaseStore:
        """An existing case database, opened read-only; anything else is an InputError.

        Read-only matters: a user may point at any SQLite file, and printers keep SQLite
        databases of their own, which must never be modified.
        """
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise InputError(f"{path} is not a pfa case database ({exc})") from None
        if row is None:
            db.close()
            raise InputError(f"{path} is not a pfa case database (no schema version)")
        store = cls.__new__(cls)
        store.path, store.db = path, db
        return store

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = sqlite3.connect(str(self.path))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._migrate()
        self.db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        self.db.commit()

    def _migrate(self) -> None:
        """Bring a case written by an older pfa up to this schema (columns are only added)."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(findings)")}
        if "confidence" not in columns:  # added with finding confidence (schema 1, pfa 0.1)
            self.db.execute("ALTER TABLE findings ADD COLUMN confidence TEXT")

    def close(self) -> None:
        if self.db.in_transaction:
            self.db.commit()
        self.db.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------

    def start_run(self, record: dict[str, Any]) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (tool_version, command_line, host, rules_sha256, started, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                record["tool_version"],
                record["command_line"],
                record["host"],
                record["rules_sha256"],
                record["started"],
                case_json(record),
            ),
        )
        self.db.commit()
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, finished: str) -> None:
        self.db.execute("UPDATE runs SET finished = ? WHERE run_id = ?", (finished, run_id))
        self.db.commit()

    def mark_interrupted(self, run_id: int, when: str) -> None:
        """A run the user stopped (Ctrl-C): what it wrote is kept, consistent and marked so.

        Every record already written is a whole record (each is one INSERT); the run gets
        ``finished`` and ``status: interrupted``, and each image it had not finished gets a
        record saying it is incomplete (no verdict, no hashes), so that no report mistakes a
        partial scan for a finished one.
        """
        row = self.db.execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        record = json.loads(row[0]) if row and row[0] else {}
        record["status"] = "interrupted"
        self.db.execute(
            "UPDATE runs SET finished = ?, data = ? WHERE run_id = ?",
            (when, case_json(record), run_id),
        )
        for image_id, path, size in list(
            self.db.execute(
                "SELECT image_id, path, size FROM images WHERE run_id = ? AND data IS NULL",
                (run_id,),
            )
        ):
            self.db.execute(
                "UPDATE images SET data = ? WHERE image_id = ?",
                (
                    case_json(
                        {
                            "paths": [path],
                            "size": size,
                            "interrupted": True,
                            "verdict": None,
                            "verdict_reasons": ["scan interrupted: incomplete, no verdict"],
                        }
                    ),
                    image_id,
                ),
            )
        self.db.commit()

    def add_image(self, run_id: int, path: str, size: int) -> int:
        cur = self.db.execute(
            "INSERT INTO images (run_id, path, size) VALUES (?, ?, ?)", (run_id, path, size)
        )
        return int(cur.lastrowid or 0)

    def finish_image(self, image_id: int, record: dict[str, Any], verdict: str) -> None:
        hashes = record.get("hashes", {})
        self.db.execute(
            "UPDATE images SET md5 = ?, sha1 = ?, sha256 = ?, verdict = ?, data = ? WHERE image_id = ?",
            (
                hashes.get("md5"),
                hashes.get("sha1"),
                hashes.get("sha256"),
                verdict,
                case_json(record),
                image_id,
            ),
        )
        self.db.commit()

    def add_volume(self, image_id: int, record: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO volumes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                image_id,
                record["index"],
                record["kind"],
                record["offset"],
                record["length"],
                record.get("filesystem"),
                case_json(record),
            ),
        )

    def add_filesystem(self, image_id: int, record: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO filesystems VALUES (?, ?, ?, ?)",
            (image_id, record["volume_index"], record["type"], case_json(record)),
        )

    def add_file(self, image_id: int, entry: FileEntry) -> int:
        cur = self.db.execute(
            "INSERT INTO files (image_id, volume_idx, path, inode, size, allocated, kind, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                image_id,
                entry.volume_index,
                entry.path,
                entry.inode,
                entry.size,
                int(entry.allocated),
                entry.kind,
                case_json(entry.to_dict()),
            ),
        )
        return int(cur.lastrowid or 0)

    def add_finding(self, image_id: int, finding: Finding, file_id: int | None) -> None:
        self.db.execute(
            "INSERT INTO findings (image_id, rule, category, severity, location_class, image_offset,"
            " value_sha256, file_id, job_id, data, confidence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                image_id,
                finding.rule,
                finding.category,
                finding.severity,
                str(finding.location_class),
                finding.image_offset,
                finding.value_sha256,
                file_id,
                finding.job_id,
                case_json(finding.to_dict()),
                finding.confidence,
            ),
        )

    def add_byte_run(self, image_id: int, volume_index: int, kind: str, run: ByteRun) -> None:
        """A run of the medium worth listing, e.g. each unallocated run of a file system."""
        self.db.execute(
            "INSERT INTO byte_runs VALUES (?, ?, ?, ?, ?)",
            (image_id, volume_index, kind, run.image_offset, run.length),
        )

    def add_job(
        self, image_id: int, job: Job, file_id: int | None, texts: list[tuple[str, str]]
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.job_id,
                image_id,
                job.format,
                str(job.location_class),
                job.path,
                file_id,
                job.parent_job_id,
                case_json(job.to_dict()),
            ),
        )
        self.db.executemany(
            "INSERT INTO job_texts VALUES (?, ?, ?, ?, ?)",
            [(image_id, job.job_id, seq, name, text) for seq, (name, text) in enumerate(texts)],
        )

    def set_job_pairs(self, image_id: int, pairs: dict[str, tuple[str, ...]]) -> None:
        for job_id, others in pairs.items():
            row = self.db.execute(
                "SELECT data FROM jobs WHERE image_id = ? AND job_id = ?", (image_id, job_id)
            ).fetchone()
            if row is None:
                continue
            data = json.loads(row[0])
            data["paired_with"] = list(others)
            self.db.execute(
                "UPDATE jobs SET data = ? WHERE image_id = ? AND job_id = ?",
                (case_json(data), image_id, job_id),
            )

    def add_job_copy(self, image_id: int, job_id: str, copy: dict[str, Any]) -> None:
        """Link a byte-identical carved copy to the job it duplicates."""
        row = self.db.execute(
            "SELECT data FROM jobs WHERE image_id = ? AND job_id = ?", (image_id, job_id)
        ).fetchone()
        if row is None:
            return
        data = json.loads(row[0])
        data["carved_copies"] = [*data.get("carved_copies", []), copy]
        self.db.execute(
            "UPDATE jobs SET data = ? WHERE image_id = ? AND job_id = ?",
            (case_json(data), image_id, job_id),
        )

    def update_job_page(
        self,
        image_id: int,
        job_id: str,
        page_number: int,
        fields: dict[str, Any],
        note: str | None = None,
        text: tuple[str, str] | None = None,
        findings: int = 0,
    ) -> None:
        """Add what the OCR stage learnt to one rendered page of a stored job: OCR fields or
        a note on the page, the OCR text (as the job's next text) and its findings count."""
        data = self.job(image_id, job_id)
        if data is None:
            return
        for page in data.get("rendered_pages") or []:
            if page.get("number") == page_number:
                page.update(fields)
                if note:
                    page["notes"] = [*page.get("notes", []), note]
        if text is not None:
            data["texts"] = [*data.get("texts", []), {"name": text[0], "characters": len(text[1])}]
            (seq,) = self.db.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM job_texts WHERE image_id = ? AND job_id = ?",
                (image_id, job_id),
            ).fetchone()
            self.db.execute(
                "INSERT INTO job_texts VALUES (?, ?, ?, ?, ?)",
                (image_id, job_id, seq, text[0], text[1]),
            )
        data["findings"] = int(data.get("findings") or 0) + findings
        self.db.execute(
            "UPDATE jobs SET data = ? WHERE image_id = ? AND job_id = ?",
            (case_json(data), image_id, job_id),
        )

    def known_values(self, image_id: int, job_id: str, file_id: int | None) -> set[str]:
        """Values (SHA-256) already reported for a job, or by the raw pass in its file."""
        rows = self.db.execute(
            "SELECT value_sha256 FROM findings WHERE image_id = ? AND (job_id = ?"
            " OR (? IS NOT NULL AND file_id = ? AND job_id IS NULL))",
            (image_id, job_id, file_id, file_id),
        )
        return {str(value) for (value,) in rows}

    def add_part_carved(
        self,
        image_id: int,
        image_offset: int,
        length: int,
        sha256: str | None,
        copy: dict[str, Any],
        job_ids: list[str],
    ) -> None:
        """A region part's carved instance and the jobs parsed from it (see PART_SCHEMA)."""
        self.db.execute(PART_SCHEMA)
        self.db.execute(
            "INSERT INTO part_carved VALUES (?, ?, ?, ?, ?, ?)",
            (image_id, image_offset, length, sha256, case_json(copy), case_json(job_ids)),
        )

    def top_level_job_hashes(self, image_id: int) -> dict[str, str]:
        """SHA-256 of each top-level job's bytes → its job id (for linking carved copies)."""
        found: dict[str, str] = {}
        for data in self._rows(
            "SELECT data FROM jobs WHERE image_id = ? AND parent_job_id IS NULL ORDER BY rowid",
            (image_id,),
        ):
            if data.get("sha256"):
                found.setdefault(data["sha256"], data["job_id"])
        return found

    def jobs(self, image_id: int) -> Iterator[dict[str, Any]]:
        return self._rows(READERS["jobs"], (image_id,))

    def job(self, image_id: int, job_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT data FROM jobs WHERE image_id = ? AND job_id = ?", (image_id, job_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def job_texts(self, image_id: int, job_id: str) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT name, text FROM job_texts WHERE image_id = ? AND job_id = ? ORDER BY seq",
            (image_id, job_id),
        )
        return [(str(name), str(text)) for name, text in rows]

    def job_summary(self, image_id: int) -> list[tuple[str, str, int]]:
        """(format, location class, count) of top-level jobs."""
        rows = self.db.execute(
            "SELECT format, location_class, COUNT(*) FROM jobs WHERE image_id = ?"
            " AND parent_job_id IS NULL GROUP BY format, location_class ORDER BY format",
            (image_id,),
        )
        return [(str(a), str(b), int(c)) for a, b, c in rows]

    def replace_consolidated(
        self,
        image_id: int,
        print_jobs: Iterable[PrintJob],
        artefacts: Iterable[Artefact],
        events: Mapping[int, Iterable[TimelineEvent]],
        staged: bool = False,
    ) -> None:
        """(Re)write an image's print jobs, device artefacts and timeline (forensics/printjobs).

        ``events``: timeline events by group; at the same time a lower group comes first, and
        within a group the order given. ``staged``: events staged before (stage_timeline) join
        them; otherwise what was staged is dropped. The timeline goes through a temporary
        table so it is stored in time order however many events there are: readers list it
        by rowid.
        """
        db = self.db
        for table in ("print_jobs", "artefacts", "timeline"):
            db.execute(f"DELETE FROM {table} WHERE image_id = ?", (image_id,))
        db.executemany(
            "INSERT INTO print_jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    image_id,
                    j.print_job_id,
                    j.time,
                    j.user,
                    j.state,
                    j.recoverable,
                    case_json(j.to_dict()),
                )
                for j in print_jobs
            ),
        )
        db.executemany(
            "INSERT INTO artefacts VALUES (?, ?, ?, ?, ?)",
            ((image_id, a.artefact_id, a.kind, a.path, case_json(a.to_dict())) for a in artefacts),
        )
        if not staged:
            self.clear_staged_timeline()
        for group, batch in events.items():
            self.stage_timeline(batch, group)
        db.execute(
            "INSERT INTO timeline (image_id, time, kind, data) SELECT ?, time, kind, data"
            " FROM timeline_unsorted ORDER BY time, grp, seq",
            (image_id,),
        )
        db.execute("DELETE FROM timeline_unsorted")
        db.commit()

    def _staging_table(self) -> None:
        """The temporary table timeline events wait in (of this connection only)."""
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS timeline_unsorted"
            " (seq INTEGER PRIMARY KEY, grp INTEGER, time TEXT, kind TEXT, data TEXT)"
        )

    def clear_staged_timeline(self) -> None:
        """Drop the timeline events staged so far."""
        self._staging_table()
        self.db.execute("DELETE FROM timeline_unsorted")

    def staged_timeline_events(self, group: int) -> int:
        """How many events of ``group`` are staged."""
        self._staging_table()
        row = self.db.execute(
            "SELECT COUNT(*) FROM timeline_unsorted WHERE grp = ?", (group,)
        ).fetchone()
        return int(row[0])

    def stage_timeline(self, events: Iterable[TimelineEvent], group: int) -> None:
        """Stage timeline events of ``group`` for the next replace_consolidated(staged=True)."""
        self._staging_table()
        self.db.executemany(
            "INSERT INTO timeline_unsorted (grp, time, kind, data) VALUES (?, ?, ?, ?)",
            ((group, e.datetime, e.kind, case_json(e.to_dict())) for e in events),
        )

    def print_jobs(self, image_id: int) -> Iterator[dict[str, Any]]:
        """Consolidated print jobs (time order); none for a case written before them."""
        if not self.has_table("print_jobs"):
            return iter(())
        return self._rows(READERS["print_jobs"], (image_id,))

    def artefacts(self, image_id: int) -> Iterator[dict[str, Any]]:
        if not self.has_table("artefacts"):
            return iter(())
        return self._rows(READERS["artefacts"], (image_id,))

    def timeline(self, image_id: int) -> Iterator[dict[str, Any]]:
        if not self.has_table("timeline"):
            return iter(())
        return self._rows(READERS["timeline"], (image_id,))

    def has_table(self, name: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def add_problem(self, image_id: int, problem: Problem) -> None:
        self.db.execute(
            "INSERT INTO problems (image_id, code, data) VALUES (?, ?, ?)",
            (image_id, problem.code, case_json(problem.to_dict())),
        )

    def commit(self) -> None:
        self.db.commit()

    # --- reading ------------------------------------------------------------------------

    def json_texts(self, reader: str, image_id: int) -> Iterator[str]:
        """The records a reader (``READERS``) returns, as the JSON text stored: for writers that
        copy records out whole, without parsing and dumping each again."""
        table = reader.removesuffix("_ranked")
        if not self.has_table(table):
            return
        for (data,) in self.db.execute(READERS[reader], (image_id,)):
            yield str(data)

    def _rows(self, sql: str, args: tuple[Any, ...]) -> Iterator[dict[str, Any]]:
        for (data,) in self.db.execute(sql, args):
            yield json.loads(data)

    def image(self, image_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT data FROM images WHERE image_id = ?", (image_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    def volumes(self, image_id: int) -> Iterator[dict[str, Any]]:
        return self._rows(READERS["volumes"], (image_id,))

    def filesystems(self, image_id: int) -> Iterator[dict[str, Any]]:
        return self._rows(READERS["filesystems"], (image_id,))

    def findings(self, image_id: int) -> Iterator[dict[str, Any]]:
        """Findings in medium order (image offset)."""
        return self._rows(READERS["findings"], (image_id,))

    def findings_ranked(self, image_id: int) -> Iterator[dict[str, Any]]:
        """Findings as reports list them: severity (critical first), then confidence
        (validated, keyword-anchored, pattern), then image offset. Read from the JSON record,
        so cases written before the confidence column sort the same way."""
        return self._rows(READERS["findings_ranked"], (image_id,))

    def problems(self, image_id: int) -> Iterator[dict[str, Any]]:
        return self._rows(READERS["problems"], (image_id,))

    def count(self, table: str, image_id: int, where: str = "", args: tuple[Any, ...] = ()) -> int:
        if table not in {
            "files",
            "findings",
            "problems",
            "volumes",
            "jobs",
            "print_jobs",
            "artefacts",
            "timeline",
        }:
            raise ValueError(table)
        sql = f"SELECT COUNT(*) FROM {table} WHERE image_id = ?" + (
            f" AND {where}" if where else ""
        )
        return int(self.db.execute(sql, (image_id, *args)).fetchone()[0])

    def finding_counts(self, image_id: int) -> dict[tuple[str, str], int]:
        """(severity, category) → number of findings: what the verdict policy weighs."""
        rows = self.db.execute(
            "SELECT severity, category, COUNT(*) FROM findings WHERE image_id = ?"
            " GROUP BY severity, category",
            (image_id,),
        )
        return {(str(sev), str(cat)): int(n) for sev, cat, n in rows}

    def finding_summary(self, image_id: int) -> list[tuple[str, str, int]]:
        """(category, location class, count) for the summary table."""
        rows = self.db.execute(
            "SELECT category, location_class, COUNT(*) FROM findings WHERE image_id = ?"
            " GROUP BY category, location_class ORDER BY category, location_class",
            (image_id,),
        )
        return [(str(a), str(b), int(c)) for a, b, c in rows]


# --- batch tables (pfa batch, docs/batch.md) -----------------------------------------------
# One row per work unit (an image: one file or a split/E01 set) a batch has seen. A unit is
# complete for (sha256, rules_sha256, tool_version); path set + size + mtime tell a rerun the
# media SHA-256 without hashing the image again.
BATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_units (
    unit_key TEXT PRIMARY KEY, paths TEXT NOT NULL, size INTEGER, mtime_ns INTEGER,
    sha256 TEXT, rules_sha256 TEXT, tool_version TEXT, status TEXT NOT NULL, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, image_id INTEGER, duplicate_of TEXT, host TEXT,
    run_id INTEGER, started TEXT, finished TEXT);
CREATE TABLE IF NOT EXISTS batch_assets (
    unit_key TEXT PRIMARY KEY, asset_tag TEXT, make_model TEXT, serial TEXT, notes TEXT);
CREATE INDEX IF NOT EXISTS batch_units_by_sha ON batch_units (sha256, status);
"""


# A region part of a split image (pfa batch) records each carved instance it parsed, with the
# SHA-256 of its bytes: only after the parts are merged is it known whether the instance
# repeats a file job byte for byte (then it becomes that job's carved copy). A unit case only.
PART_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS part_carved (image_id INTEGER, image_offset INTEGER,"
    " length INTEGER, sha256 TEXT, copy TEXT, job_ids TEXT)"
)


def ensure_batch_tables(store: CaseStore) -> None:
    """Create the batch tables in ``store`` (idempotent)."""
    store.db.executescript(BATCH_SCHEMA)
    store.db.commit()
