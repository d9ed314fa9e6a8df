"""DFXML export: valid against the shipped schema, and what fiwalk users look for is there."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from forensics.report.dfxml import DFXML_NS
from tests.report.conftest import HOSTILE_NAMES, write_report

SCHEMA = Path(__file__).resolve().parents[2] / "forensics" / "report" / "schemas" / "dfxml.xsd"
NS = {"d": DFXML_NS}


def _export(case: Path, dest: Path) -> ET.Element:
    write_report(case, "dfxml", dest)
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(dest))
    return ET.parse(dest).getroot()


def test_demo_export_is_valid_and_lists_files_carved_jobs_and_hashes(
    demo_db: Path, tmp_path: Path
) -> None:
    root = _export(demo_db, tmp_path / "demo.dfxml")
    db = sqlite3.connect(demo_db)
    sha256 = db.execute("SELECT sha256 FROM images").fetchone()[0]
    # The evidence file's own hashes are recorded.
    digests = {e.get("type"): e.text for e in root.findall("d:fileobject/d:hashdigest", NS)}
    assert digests["sha256"] == sha256
    # One <volume> per opened file system, at its image offset.
    offsets = sorted(int(v.get("offset")) for v in root.findall("d:volume", NS))
    fs_offsets = sorted(
        int(o) for (o,) in db.execute("SELECT json_extract(data, '$.offset') FROM filesystems")
    )
    assert offsets == fs_offsets
    # Every walked file is a fileobject; its byte runs match the case store's.
    names = {e.text for e in root.findall("d:volume/d:fileobject/d:filename", NS)}
    assert "spool/00017.prn" in names
    config = next(
        f
        for f in root.findall("d:volume/d:fileobject", NS)
        if f.findtext("d:filename", namespaces=NS) == "CONFIG.INI"
    )
    run = config.find("d:byte_runs/d:byte_run", NS)
    assert run is not None and run.get("img_offset") == "1098240" and run.get("len") == "225"
    # Carved jobs appear unallocated with their image run and SHA-256.
    carved = [
        f
        for f in root.iter(f"{{{DFXML_NS}}}fileobject")
        if (f.findtext("d:filename", namespaces=NS) or "").startswith("$CarvedJobs/")
    ]
    stored = db.execute(
        "SELECT count(*) FROM jobs WHERE json_extract(data, '$.carved') AND parent_job_id IS NULL"
    ).fetchone()[0]
    assert stored and len(carved) == stored
    for job in carved:
        assert job.findtext("d:unalloc", namespaces=NS) == "1"
        assert job.find("d:byte_runs/d:byte_run", NS).get("img_offset") is not None
        assert len(job.findtext("d:hashdigest[@type='sha256']", namespaces=NS) or "") == 64
    # Provenance: program, version and the command line of the scan.
    assert root.findtext("d:creator/d:program", namespaces=NS).startswith("pfa")
    assert "pfa scan" in root.findtext(
        "d:creator/d:execution_environment/d:command_line", namespaces=NS
    )


def test_hostile_names_stay_well_formed_and_inert(hostile_names_db: Path, tmp_path: Path) -> None:
    dest = tmp_path / "hostile.dfxml"
    root = _export(hostile_names_db, dest)
    text = dest.read_text(encoding="utf-8")
    assert "<script>" not in text and "\x1b" not in text and "\x07" not in text
    names = {e.text for e in root.iter(f"{{{DFXML_NS}}}filename")}
    assert "spool/<script>alert(1)</script>.prn" in names  # escaped in the file, exact when parsed
    assert "spool/\\x1b[31mred\\x1b[0m\\x07bell.ps" in names  # control bytes written visibly
    assert f"spool/{HOSTILE_NAMES[1]}" in names


def test_report_never_opens_the_image(demo_db: Path, tmp_path: Path) -> None:
    # Copy the case away from its image path and export: nothing reads the evidence.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "case.sqlite").write_bytes(demo_db.read_bytes())
    _export(moved / "case.sqlite", tmp_path / "moved.dfxml")


def test_pfa_report_writes_dfxml_and_case(demo_db: Path, tmp_path: Path) -> None:
    from forensics.cli import main

    for fmt, name in (("dfxml", "r.dfxml"), ("case", "r.jsonld")):
        dest = tmp_path / name
        assert main(["report", str(demo_db.parent), "--format", fmt, "-o", str(dest)]) == 0
        assert dest.stat().st_size > 1000
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(tmp_path / "r.dfxml"))
