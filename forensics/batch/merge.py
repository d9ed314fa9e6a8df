"""Merging one unit's records into the batch case, in one transaction.

A unit's rows come from its own case database, whose ids start at 1. Integer primary keys that
are SQLite rowid aliases (``files.file_id``, ``findings.finding_id``, ``problems.problem_id``
and any such key a later table adds) are shifted past the batch case's largest id, and every
column with the same name in any table (``findings.file_id``, ``jobs.file_id``) is shifted by
the same amount, so references inside the image stay right. ``image_id`` becomes the new image's
id and ``run_id`` the batch run. Text ids (``job_id``) are derived from evidence addresses and
need no change. Units are merged in a fixed order, so the ids do not depend on timing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from forensics.store import CaseStore, case_json


def _rowid_keys(db: sqlite3.Connection) -> dict[str, str]:
    """Rowid-alias primary key column → its table, for the tables of the case."""
    keys: dict[str, str] = {}
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        info = list(db.execute(f'PRAGMA table_info("{table}")'))
        pks = [row for row in info if row[5]]
        if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER":
            keys[str(pks[0][1])] = str(table)
    return keys


def delete_image(db: sqlite3.Connection, image_id: int) -> None:
    """Remove an image and every row that names it (``--force`` rescans replace it)."""
    for (table,) in list(db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")):
        columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        if "image_id" in columns and table not in {"batch_units"}:
            db.execute(f'DELETE FROM "{table}" WHERE image_id = ?', (image_id,))


def insert_rows(
    db: sqlite3.Connection,
    table: str,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    fixed: dict[str, Any],
    shift: dict[str, int],
    mapped: dict[str, dict[Any, Any]] | None = None,
    drop: frozenset[str] = frozenset(),
) -> None:
    """Insert a unit's rows of ``table``: columns the case lacks and ``drop`` are left out,
    ``fixed`` columns take one value, ``shift`` columns move by an offset and ``mapped``
    columns are looked up (an unknown value becomes NULL)."""
    if not rows:
        return
    target = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
    use = [i for i, c in enumerate(columns) if c in target and c not in drop]
    names = [columns[i] for i in use]
    lookups = mapped or {}

    def convert(row: tuple[Any, ...]) -> list[Any]:
        out: list[Any] = []
        for i, name in zip(use, names, strict=True):
            value = row[i]
            if name in fixed:
                value = fixed[name]
            elif name in lookups:
                value = lookups[name].get(value) if value is not None else None
            elif name in shift and value is not None:
                value = int(value) + shift[name]
            out.append(value)
        return out

    quoted = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    db.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', [convert(r) for r in rows])


def merge_unit(
    store: CaseStore,
    tables: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]],
    run_id: int,
    extra: dict[str, Any],
) -> int:
    """Insert a unit's rows (no commit: the caller's transaction); return the new image id.

    ``extra`` is added to the image record's JSON (the asset the image belongs to).
    """
    db = store.db
    keys = _rowid_keys(db)
    existing = {
        str(n) for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    image_cols, image_rows = tables["images"]
    if len(image_rows) != 1:
        raise ValueError(f"a unit case holds {len(image_rows)} images, not one")
    image = dict(zip(image_cols, image_rows[0], strict=True))
    data = json.loads(image["data"]) if image.get("data") else {}
    data.update(extra)
    cur = db.execute(
        "INSERT INTO images (run_id, path, size, md5, sha1, sha256, verdict, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            image["path"],
            image["size"],
            image["md5"],
            image["sha1"],
            image["sha256"],
            image["verdict"],
            case_json(data),
        ),
    )
    image_id = int(cur.lastrowid or 0)
    offsets: dict[str, int] = {}
    for column, table in keys.items():
        if table in {"images", "runs"}:
            continue
        (top,) = db.execute(f'SELECT COALESCE(MAX("{column}"), 0) FROM "{table}"').fetchone()
        offsets[column] = int(top)
    for table in sorted(tables):
        if table == "images" or table not in existing:
            # A table the batch case lacks comes from a newer schema: CaseStore created every
            # table it knows, so there is nothing to map it to.
            continue
        columns, rows = tables[table]
        fixed = {"image_id": image_id, "run_id": run_id}
        insert_rows(db, table, columns, rows, fixed, offsets)
    return image_id
