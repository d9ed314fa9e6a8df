"""JSON, JSONL and CSV reports written by ``pfa report`` from the case store, parsed back."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from forensics.report.base import (
    DEFAULT_FORMATS,
    WRITERS,
    ReportOptions,
    load_writers,
    write_all,
    write_reports,
)
from forensics.report.csv import cell
from forensics.store import CaseStore
from tests.report.conftest import ANSI_FILE, DEMO, FORMULA_USER, SCRIPT_NAME, SSN, pfa


def test_writers_register_themselves() -> None:
    writers = load_writers()
    assert {"json", "jsonl", "csv", "html"} <= set(writers)
    assert set(DEFAULT_FORMATS) <= set(WRITERS)
    assert DEFAULT_FORMATS[:2] == ("json", "html")


def test_scan_writes_the_default_formats(demo_case: Path) -> None:
    for name in DEFAULT_FORMATS:
        assert (demo_case / WRITERS[name].default_name).is_file()


def test_report_json_equals_the_scans_and_needs_no_image(demo_case: Path, tmp_path: Path) -> None:
    # Copy the case somewhere the image path it records does not matter, and hide nothing:
    # the report must come from the store alone.
    case = tmp_path / "case"
    case.mkdir()
    shutil.copy(demo_case / "case.sqlite", case / "case.sqlite")
    done = pfa("report", str(case), "--format", "json", "-o", str(tmp_path / "again.json"))
    assert done.returncode == 0, done.stderr
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    first = json.loads((demo_case / "report.json").read_text(encoding="utf-8"))
    assert again == first
    assert again["schema"] == "printer-forensics/report" and again["schema_version"] == 1
    assert again["image"]["paths"] == [str(DEMO)]


def test_jsonl_is_one_typed_record_per_line(demo_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "case.jsonl"
    done = pfa("report", str(demo_case / "case.sqlite"), "-f", "jsonl", "-o", str(out))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    types = [r["type"] for r in records]
    assert types[:2] == ["run", "image"]
    for kind in ("volume", "filesystem", "file", "job", "finding"):
        assert kind in types
    report = json.loads((demo_case / "report.json").read_text(encoding="utf-8"))
    assert types.count("job") == len(report["jobs"])
    assert types.count("finding") == len(report["findings"])
    finding = next(r for r in records if r["type"] == "finding")
    assert finding["image_id"] == 1 and finding["value"] is None  # masked: scanned without --reveal
    assert finding["address"]["text"]


def test_csv_folder_with_bom_and_formula_cells_neutralised(
    hostile_case: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sheets"
    done = pfa("report", str(hostile_case), "--format", "csv", "-o", str(out), "--bom")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "artefacts.csv",
        "findings.csv",
        "jobs.csv",
        "objects.csv",
        "problems.csv",
    ]
    raw = (out / "jobs.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out / "jobs.csv", encoding="utf-8-sig", newline="") as handle:
        print_jobs = list(csv.DictReader(handle))
    job = next(j for j in print_jobs if j["user"] == "'" + FORMULA_USER)  # text, never a formula
    assert job["document"] == SCRIPT_NAME or job["job_name"] == SCRIPT_NAME
    assert job["print_job_id"].startswith("P") and "wrapper:" in job["artefacts"]
    with open(out / "objects.csv", encoding="utf-8-sig", newline="") as handle:
        jobs = list(csv.DictReader(handle))
    pjl = next(j for j in jobs if j["format"] == "pjl")
    assert pjl["user"] == "'" + FORMULA_USER
    assert pjl["path"] == "/" + ANSI_FILE  # CSV keeps the name exactly (it is data, not markup)
    with open(out / "findings.csv", encoding="utf-8-sig", newline="") as handle:
        findings = list(csv.DictReader(handle))
    assert {f["rule"] for f in findings} >= {"pii_ssn_formatted", "financial_payment_card"}
    assert all(SSN not in f["value_masked"] + f["context_masked"] for f in findings)
    assert all(f["value"] == "" for f in findings)


def test_csv_cell_rules() -> None:
    for formula in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert cell(formula) == "'" + formula
    assert cell(-2) == -2  # a number is not a formula
    assert cell("a=b") == "a=b"
    assert cell(None) == ""
    assert cell(["pjl", "pcl5"]) == "pjl>pcl5"


def test_revealed_case_reports_values(revealed_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert pfa("report", str(revealed_case), "-f", "jsonl", "-o", str(out)).returncode == 0
    values = [
        json.loads(line).get("value")
        for line in out.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["type"] == "finding"
    ]
    assert SSN in values


def test_report_errors_are_one_line(tmp_path: Path, demo_case: Path) -> None:
    done = pfa("report", str(tmp_path), "-f", "json")
    assert done.returncode == 2 and done.stderr.startswith("pfa: error: ")
    assert "Traceback" not in done.stderr
    done = pfa("report", str(demo_case), "-f", "pdf")
    assert done.returncode == 2 and "unknown report format 'pdf'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_several_formats_into_a_folder(demo_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    done = pfa("report", str(demo_case), "-f", "json,jsonl", "-f", "csv", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {"report.json", "report.jsonl", "report-csv"}


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_reports_written_in_parallel_are_the_ones_written_in_turn(
    demo_case: Path, tmp_path: Path
) -> None:
    formats = ("json", "html", "jsonl", "csv", "timesketch", "dfxml")
    written, order = {}, {}
    for workers in (1, 3):
        folder = tmp_path / f"workers-{workers}"
        folder.mkdir()
        with CaseStore.open_existing(demo_case / "case.sqlite") as case:
            paths = write_reports(case, folder, formats, ReportOptions(), workers=workers)
        order[workers] = [str(p.relative_to(folder)) for p in paths]
        written[workers] = _tree_bytes(folder)
    # The same files with the same bytes, listed in the same order, whichever process wrote them.
    assert order[3] == order[1]
    assert order[1][0] == "report.json" and order[1][1] == "report.html"
    assert written[3] == written[1]
    assert len(written[1]) >= len(formats)


def test_an_error_in_a_report_written_in_parallel_reaches_the_caller(
    demo_case: Path, tmp_path: Path
) -> None:
    html = load_writers()["html"]()
    json_writer = load_writers()["json"]()
    missing = tmp_path / "no-such-folder" / "report.html"
    with CaseStore.open_existing(demo_case / "case.sqlite") as case, pytest.raises(OSError):
        write_all(
            case,
            [(json_writer, tmp_path / "report.json"), (html, missing)],
            ReportOptions(),
            workers=2,
        )
    assert not missing.parent.exists()


def test_an_interrupted_json_report_leaves_no_partial_file(
    demo_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forensics.report import json_report

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the records are written out

    monkeypatch.setattr(json_report, "_write_raw_array", interrupted)
    with (
        CaseStore.open_existing(demo_case / "case.sqlite") as case,
        pytest.raises(KeyboardInterrupt),
    ):
        write_reports(case, tmp_path, ["json"], ReportOptions())
    assert list(tmp_path.iterdir()) == []
