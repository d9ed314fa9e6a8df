"""``report.json``: the schema-versioned JSON report of one image (docs/report-schema.md).

Written as a stream from the case store so that a million findings never sit in memory at once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from forensics import __version__
from forensics.report.base import atomic_file
from forensics.store import CaseStore
from forensics.verdict import Verdict, VerdictPolicy

SCHEMA = "printer-forensics/report"
SCHEMA_VERSION = 1


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=None, sort_keys=True)


def _write_raw_array(out: IO[str], key: str, texts: Iterable[str]) -> int:
    """An array of records already serialised as JSON text."""
    out.write(f'  "{key}": [')
    count = 0
    for text in texts:
        out.write(",\n    " if count else "\n    ")
        out.write(text)
        count += 1
    out.write("\n  ],\n" if count else "],\n")
    return count


def _policy_args(stored: dict[str, Any] | None) -> dict[str, str]:
    """The policy a scan applied, from its image record (cases made before policies: default)."""
    if not stored:
        return {}
    return {key: str(stored[key]) for key in ("sensitive_at", "fail_on") if key in stored}


def summarise(store: CaseStore, image_id: int) -> dict[str, Any]:
    """The report's ``summary`` block: counts for dashboards and triage."""
    by_category: Counter[str] = Counter()
    by_location: Counter[str] = Counter()
    by_both: dict[str, dict[str, int]] = {}
    for category, location, count in store.finding_summary(image_id):
        by_category[category] += count
        by_location[location] += count
        by_both.setdefault(category, {})[location] = count
    jobs_by_format: dict[str, dict[str, int]] = {}
    for fmt, location, count in store.job_summary(image_id):
        jobs_by_format.setdefault(fmt, {})[location] = count
    return {
        "print_jobs": store.count("print_jobs", image_id)
        if store.has_table("print_jobs")
        else None,
        "device_artefacts": store.count("artefacts", image_id)
        if store.has_table("artefacts")
        else None,
        "jobs": store.count("jobs", image_id),
        "jobs_by_format_and_location": jobs_by_format,
        "findings": sum(by_category.values()),
        "findings_by_category": dict(by_category),
        "findings_by_location_class": dict(by_location),
        "findings_by_category_and_location": by_both,
        "files": store.count("files", image_id),
        "files_deleted": store.count("files", image_id, "allocated = 0"),
        "problems": store.count("problems", image_id),
    }


def write_report(
    store: CaseStore, run: dict[str, Any], image_id: int, path: Path, reveal: bool
) -> dict[str, Any]:
    """Write report.json atomically (temp file + rename); return the summary block."""
    image = json.loads(
        store.db.execute("SELECT data FROM images WHERE image_id = ?", (image_id,)).fetchone()[0]
    )
    verdict = Verdict(image.pop("verdict"))
    reasons = image.pop("verdict_reasons")
    policy = VerdictPolicy(**_policy_args(image.pop("verdict_policy", None)))
    disk_map = image.pop("disk_map")
    summary = summarise(store, image_id)
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write("{\n")
        head = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "printer-forensics", "version": __version__},
            "run": {**run, "finished": image.get("finished"), "reveal": reveal},
            "image": image,
            "verdict": {
                "verdict": str(verdict),
                "exit_code": policy.exit_code(verdict),
                "reasons": reasons,
                "policy": policy.to_dict(),
            },
            "summary": summary,
        }
        for key, value in head.items():
            out.write(f"  {json.dumps(key)}: {_dump(value)},\n")
        # Records go out as the store holds their JSON (same content, compact separators):
        # parsing and dumping each again was most of the time of writing the report.
        for key, reader in (
            ("volumes", "volumes"),
            ("filesystems", "filesystems"),
            ("print_jobs", "print_jobs"),
            ("device_artefacts", "artefacts"),
            ("jobs", "jobs"),
            ("findings", "findings_ranked"),
            ("problems", "problems"),
        ):
            _write_raw_array(out, key, store.json_texts(reader, image_id))
        out.write(f'  "disk_map": {_dump(disk_map)}\n')
        out.write("}\n")
    return summary
