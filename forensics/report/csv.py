"""``--format csv``: a folder of spreadsheets — jobs.csv, findings.csv, problems.csv.

UTF-8 (with a BOM when ``--bom``: Excel reads UTF-8 without one as the local code page),
RFC 4180 quoting, times as stored (ISO 8601 UTC). Cells that a spreadsheet would run as a
formula are neutralised: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return gets a leading single quote (OWASP, "CSV Injection":
https://owasp.org/www-community/attacks/CSV_Injection). Evidence decides what a job or file is
called, so a document named ``=HYPERLINK(...)`` must reach the examiner as text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    atomic_file,
    has_table,
    image_ids,
    table_records,
)
from forensics.store import CaseStore

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """One CSV cell: numbers as numbers, text neutralised against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        value = ">".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _address(record: dict[str, Any]) -> str | None:
    address = record.get("address")
    return address.get("text") if isinstance(address, dict) else address


Row = Callable[[dict[str, Any]], list[Any]]

JOB_COLUMNS = [
    "image_id",
    "job_id",
    "format",
    "format_chain",
    "location_class",
    "carved",
    "path",
    "inode",
    "image_offset",
    "length",
    "sha256",
    "pages",
    "copies",
    "findings",
    "user",
    "host",
    "document_name",
    "job_name",
    "application",
    "printer",
    "submitted",
    "created",
    "completed",
    "state",
    "complete",
    "parent_job_id",
    "address",
]


def _job_row(job: dict[str, Any]) -> list[Any]:
    meta = job.get("metadata", {})
    return [
        job.get("job_id"),
        job.get("format"),
        job.get("format_chain"),
        job.get("location_class"),
        job.get("carved"),
        job.get("path"),
        job.get("inode"),
        job.get("image_offset"),
        job.get("length"),
        job.get("sha256"),
        job.get("pages"),
        meta.get("copies"),
        job.get("findings"),
        meta.get("user"),
        meta.get("host"),
        meta.get("document_name"),
        meta.get("job_name"),
        meta.get("application"),
        meta.get("printer"),
        meta.get("submitted"),
        meta.get("created"),
        meta.get("completed"),
        meta.get("state"),
        job.get("complete"),
        job.get("parent_job_id"),
        _address(job),
    ]


FINDING_COLUMNS = [
    "image_id",
    "rule",
    "category",
    "severity",
    "confidence",
    "service",
    "description",
    "value_masked",
    "value_sha256",
    "context_masked",
    "value",
    "context",
    "location_class",
    "image_offset",
    "length",
    "encoding",
    "path",
    "inode",
    "job_id",
    "stream_offset",
    "ocr_confidence",
    "address",
]


def _finding_row(finding: dict[str, Any]) -> list[Any]:
    return [finding.get(c) for c in FINDING_COLUMNS[1:-1]] + [_address(finding)]


PROBLEM_COLUMNS = ["image_id", "code", "severity", "message", "image_offset", "address"]


def _problem_row(problem: dict[str, Any]) -> list[Any]:
    return [problem.get(c) for c in PROBLEM_COLUMNS[1:]]


ARTEFACT_COLUMNS = ["image_id", "kind", "format", "path", "location_class", "summary", "address"]


def _artefact_row(artefact: dict[str, Any]) -> list[Any]:
    """Device artefacts (a later table): the columns any artefact record is likely to have."""
    summary = artefact.get("summary") or artefact.get("holds") or artefact.get("description")
    return [
        artefact.get("kind"),
        artefact.get("format"),
        artefact.get("path"),
        artefact.get("location_class"),
        summary if isinstance(summary, str) else (None if summary is None else str(summary)),
        _address(artefact),
    ]


class CsvWriter(ReportWriter):
    name = "csv"
    description = "report-csv/: jobs.csv, findings.csv, problems.csv (UTF-8, formula-safe)"
    default_name = "report-csv"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        if dest.exists() and not dest.is_dir():
            from forensics.errors import InputError

            raise InputError(f"CSV reports are a folder: {dest} exists and is not one")
        dest.mkdir(parents=True, exist_ok=True)
        ids = image_ids(case, options)
        tables: list[tuple[str, list[str], Callable[[int], Iterable[dict[str, Any]]], Row]] = [
            ("jobs.csv", JOB_COLUMNS, case.jobs, _job_row),
            ("findings.csv", FINDING_COLUMNS, case.findings, _finding_row),
            ("problems.csv", PROBLEM_COLUMNS, case.problems, _problem_row),
        ]
        if has_table(case, "artefacts"):
            tables.append(
                (
                    "artefacts.csv",
                    ARTEFACT_COLUMNS,
                    lambda i: table_records(case, "artefacts", i),
                    _artefact_row,
                )
            )
        written = []
        encoding = "utf-8-sig" if options.bom else "utf-8"
        for name, columns, records, row in tables:
            path = dest / name
            with atomic_file(path) as tmp, open(tmp, "w", encoding=encoding, newline="") as out:
                sheet = csv.writer(out)
                sheet.writerow(columns)
                for image_id in ids:
                    for record in records(image_id):
                        sheet.writerow([cell(image_id), *(cell(v) for v in row(record))])
            written.append(path)
        return written
