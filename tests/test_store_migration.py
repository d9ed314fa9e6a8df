"""A case written before finding confidence opens, gains the column, and sorts the same way."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from forensics.store import CaseStore


def test_old_case_gains_the_confidence_column(tmp_path: Path) -> None:
    path = tmp_path / "case.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE findings (finding_id INTEGER PRIMARY KEY, image_id INTEGER, rule TEXT,"
        " category TEXT, severity TEXT, location_class TEXT, image_offset INTEGER,"
        " value_sha256 TEXT, file_id INTEGER, job_id TEXT, data TEXT);"
    )
    for offset, severity in ((10, "low"), (20, "critical")):
        old.execute(
            "INSERT INTO findings (image_id, severity, image_offset, data) VALUES (1, ?, ?, ?)",
            (severity, offset, json.dumps({"severity": severity, "image_offset": offset})),
        )
    old.commit()
    old.close()
    with CaseStore(path) as store:
        columns = {row[1] for row in store.db.execute("PRAGMA table_info(findings)")}
        assert "confidence" in columns
        ranked = [f["severity"] for f in store.findings_ranked(1)]
    assert ranked == ["critical", "low"]
    with CaseStore.open_existing(path) as store:  # read-only still reads it
        assert [f["image_offset"] for f in store.findings(1)] == [10, 20]
