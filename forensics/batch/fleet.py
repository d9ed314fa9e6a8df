"""``fleet.csv`` and ``fleet.json``: one row per device (image) of a batch case.

Read from the case store only (DESIGN.md: reports read records, never bytes). The device's
identity comes from the manifest; where the manifest leaves a field empty, from the drive's own
configuration and job-log artefacts (a ``serial``/``model`` field in a parsed job's metadata).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

from forensics.store import CaseStore

FLEET_COLUMNS = (
    "image_id",
    "image",
    "sha256",
    "asset_tag",
    "make_model",
    "serial",
    "identity_source",
    "verdict",
    "jobs",
    "findings",
    "findings_by_category",
    "first_job_time",
    "last_job_time",
    "device_secrets",
    "notes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SERIAL = re.compile(r"serial", re.I)
_MODEL = re.compile(r"\b(model|product)\b", re.I)
# Settings lines of a device's configuration or log ("SerialNumber = CN123", "Model: X 500").
_SERIAL_LINE = re.compile(
    r"^[ \t]*(?:[\w.\-/]*[_. -])?serial(?:[ _.-]?(?:number|no|num))?[ \t]*[:=][ \t]*(\S[^\r\n]{0,99})",
    re.I | re.M,
)
_MODEL_LINE = re.compile(
    r"^[ \t]*(?:(?:device|printer|machine)[ _.-]?)?(?:model|product)(?:[ _.-]?name)?[ \t]*[:=][ \t]*"
    r"(\S[^\r\n]{0,99})",
    re.I | re.M,
)
_DEVICE_ARTEFACTS = ("config", "job-log")
MAX_TEXT_SCAN = 1 << 20  # characters of one artefact's text searched for the identity
_TIME_FIELDS = ("submitted", "created", "completed")
CREDENTIALS = "credentials"  # the rule category of device secrets (yara_rules/)


def neutralise(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _recovered_identity(store: CaseStore, image_id: int) -> dict[str, str]:
    """Serial and make/model named in the drive's own artefacts (first found, by job order)."""
    found: dict[str, str] = {}
    for job in store.jobs(image_id):
        meta = job.get("metadata") or {}
        for pair in meta.get("extra") or ():
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                continue
            key, value = str(pair[0]), str(pair[1]).strip()
            if not value:
                continue
            if "serial" not in found and _SERIAL.search(key):
                found["serial"] = value[:200]
            elif "make_model" not in found and _MODEL.search(key):
                found["make_model"] = value[:200]
        if len(found) == 2:
            break
        if job.get("format") in _DEVICE_ARTEFACTS and not job.get("parent_job_id"):
            for _name, text in store.job_texts(image_id, str(job["job_id"])):
                text = text[:MAX_TEXT_SCAN]
                for key, pattern in (("serial", _SERIAL_LINE), ("make_model", _MODEL_LINE)):
                    if key not in found and (match := pattern.search(text)):
                        found[key] = match.group(1).strip()[:200]
        if len(found) == 2:
            break
    return found


def _time_span(store: CaseStore, image_id: int) -> tuple[str, str]:
    """First and last time of the image's print jobs (of its parsed jobs in an older case)."""
    times: list[str] = []
    if store.has_table("print_jobs"):
        for job in store.print_jobs(image_id):
            for name in ("submitted", "printed", "completed"):
                times.extend(str(v["value"]) for v in (job.get("fields") or {}).get(name, []))
    else:
        for job in store.jobs(image_id):
            meta = job.get("metadata") or {}
            times.extend(str(meta[k]) for k in _TIME_FIELDS if meta.get(k))
    times.sort()
    return (times[0], times[-1]) if times else ("", "")


def _job_count(store: CaseStore, image_id: int) -> int:
    """Print jobs as an examiner counts them (top-level parsed jobs in an older case)."""
    if store.has_table("print_jobs"):
        return store.count("print_jobs", image_id)
    return store.count("jobs", image_id, "parent_job_id IS NULL")


def fleet_rows(store: CaseStore) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for image_id, sha256, verdict, data in store.db.execute(
        "SELECT image_id, sha256, verdict, data FROM images ORDER BY image_id"
    ).fetchall():
        record = json.loads(data) if data else {}
        asset = dict(record.get("asset") or {})
        recovered = _recovered_identity(store, int(image_id))
        sources = ["manifest"] if any(asset.get(k) for k in ("serial", "make_model")) else []
        for key in ("serial", "make_model"):
            if not asset.get(key) and recovered.get(key):
                asset[key] = recovered[key]
                if "drive" not in sources:
                    sources.append("drive")
        source = "+".join(sources)
        by_category = {
            cat: n
            for cat, n in store.db.execute(
                "SELECT category, COUNT(*) FROM findings WHERE image_id = ?"
                " GROUP BY category ORDER BY category",
                (image_id,),
            )
        }
        first, last = _time_span(store, int(image_id))
        paths = record.get("paths") or []
        rows.append(
            {
                "image_id": int(image_id),
                "image": os.path.basename(paths[0]) if paths else "",
                "sha256": sha256,
                "asset_tag": asset.get("asset_tag", ""),
                "make_model": asset.get("make_model", ""),
                "serial": asset.get("serial", ""),
                "identity_source": source,
                "verdict": verdict,
                "jobs": _job_count(store, int(image_id)),
                "findings": sum(by_category.values()),
                "findings_by_category": by_category,
                "first_job_time": first,
                "last_job_time": last,
                "device_secrets": by_category.get(CREDENTIALS, 0),
                "notes": asset.get("notes", ""),
            }
        )
    return rows


def _failures(store: CaseStore) -> list[dict[str, Any]]:
    return [
        {"unit": key, "error": error, "attempts": attempts}
        for key, error, attempts in store.db.execute(
            "SELECT unit_key, error, attempts FROM batch_units WHERE status = 'failed'"
            " ORDER BY unit_key"
        )
    ]


def write_fleet(store: CaseStore, output: Path) -> list[Path]:
    """Write fleet.csv and fleet.json in ``output`` (atomically: temp file + rename)."""
    rows = fleet_rows(store)
    csv_path, json_path = output / "fleet.csv", output / "fleet.json"
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FLEET_COLUMNS)
        for row in rows:
            cells = dict(row)
            cells["findings_by_category"] = "; ".join(
                f"{k}={v}" for k, v in row["findings_by_category"].items()
            )
            writer.writerow([neutralise(cells[c]) for c in FLEET_COLUMNS])
    os.replace(tmp, csv_path)
    tmp = json_path.with_suffix(".json.tmp")
    doc = {
        "schema": "printer-forensics/fleet",
        "schema_version": 1,
        "devices": rows,
        "failed": _failures(store),
    }
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True), "utf-8")
    os.replace(tmp, json_path)
    return [csv_path, json_path]
