"""CASE/UCO export: validated by case_validate, deterministic, masked, traceable to offsets."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures import builders, secrets
from forensics.cli import main
from tests.report.conftest import write_report


def _export(case: Path, dest: Path) -> dict[str, Any]:
    write_report(case, "case", dest)
    return json.loads(dest.read_text(encoding="utf-8"))


def _case_validate() -> str:
    found = shutil.which("case_validate") or str(Path(sys.executable).parent / "case_validate")
    if not Path(found).exists():
        pytest.fail("case_validate missing: make test installs case-utils (test extra)")
    return found


def test_export_conforms_to_case(demo_db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "demo.jsonld"
    _export(demo_db, dest)
    done = subprocess.run(
        [_case_validate(), str(dest)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Conforms: True" in done.stdout


def test_graph_content_ties_findings_and_jobs_to_the_image(demo_db: Path, tmp_path: Path) -> None:
    graph = _export(demo_db, tmp_path / "demo.jsonld")["@graph"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for node in graph:
        by_type.setdefault(node["@type"], []).append(node)
    (action,) = by_type["case-investigation:InvestigativeAction"]
    (tool,) = by_type["uco-tool:Tool"]
    (image,) = by_type["uco-observable:Image"]
    assert action["uco-action:instrument"] == {"@id": tool["@id"]}
    assert action["uco-action:object"] == [{"@id": image["@id"]}]
    hashes = {
        h["uco-types:hashMethod"]: h["uco-types:hashValue"]["@value"]
        for facet in image["uco-core:hasFacet"]
        for h in facet.get("uco-observable:hash", [])
    }
    assert set(hashes) == {"MD5", "SHA1", "SHA256"}
    results = {r["@id"] for r in action["uco-action:result"]}
    findings = [n for n in graph if " finding (" in str(n.get("uco-core:name", ""))]
    assert findings and all(f["@id"] in results for f in findings)
    # Each finding has a Contained_Within link to the image with its offset and size.
    ranges = {
        rel["uco-core:source"]["@id"]: rel["uco-core:hasFacet"][0]
        for rel in by_type["uco-observable:ObservableRelationship"]
        if rel["uco-core:target"]["@id"] == image["@id"] and rel.get("uco-core:hasFacet")
    }
    for finding in findings:
        assert ranges[finding["@id"]]["uco-observable:rangeSize"] > 0
    files = by_type["uco-observable:File"]
    assert any(
        f["uco-core:hasFacet"][0]["uco-observable:filePath"] == "/spool/00017.prn" for f in files
    )
    # Print jobs group the job objects they consolidate (a PJL wrapper and its PCL payload).
    db = sqlite3.connect(demo_db)
    print_jobs = db.execute("SELECT COUNT(*) FROM print_jobs").fetchone()[0]
    groupings = by_type["uco-core:Grouping"]
    assert len(groupings) == print_jobs >= 3
    ids = {n["@id"] for n in graph}
    for grouping in groupings:
        members = [m["@id"] for m in grouping["uco-core:object"]]
        assert len(members) >= 2 and all(m in ids for m in members)
        assert grouping["@id"] in results and "state" in grouping["uco-core:description"]


def test_values_are_masked_without_reveal(demo_db: Path, tmp_path: Path) -> None:
    _export(demo_db, tmp_path / "demo.jsonld")
    text = (tmp_path / "demo.jsonld").read_text(encoding="utf-8")
    db = sqlite3.connect(demo_db)
    for (masked,) in db.execute("SELECT json_extract(data, '$.value_masked') FROM findings"):
        assert json.dumps(masked)[1:-1] in text
    for planted in (secrets.CARD_VISA, secrets.CARD_VISA_SPACED, "Spring2024!", secrets.IBAN):
        assert planted not in text


def test_ids_are_deterministic_across_rescans(tmp_path: Path, demo_db: Path) -> None:
    again = tmp_path / "again"
    main(
        ["scan", str(builders.DEMO_DIR / "printer-demo.img"), "-o", str(again), "-q", "--no-pages"]
    )
    first = _export(demo_db, tmp_path / "a.jsonld")["@graph"]
    second = _export(again / "case.sqlite", tmp_path / "b.jsonld")["@graph"]

    def without_times(graph: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in n.items() if k not in {"uco-action:startTime", "uco-action:endTime"}}
            for n in graph
        ]

    assert without_times(first) == without_times(second)
