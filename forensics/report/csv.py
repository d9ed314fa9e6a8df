"""``--format csv``: a folder of spreadsheets — jobs.csv (one row per print job),
artefacts.csv (device artefacts: address books, configuration, logs), findings.csv,
problems.csv and objects.csv (every parsed object the print jobs were built from). A case
written before print jobs were consolidated gets its parsed objects as jobs.csv.

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


PRINT_JOB_COLUMNS = [
    "image_id",
    "print_job_id",
    "time",
    "user",
    "host",
    "domain",
    "document",
    "job_name",
    "application",
    "driver",
    "printer",
    "pages",
    "copies",
    "duplex",
    "colour",
    "media",
    "submitted",
    "printed",
    "completed",
    "state",
    "hold",
    "pin_masked",
    "recoverable",
    "location",
    "findings_critical",
    "findings_high",
    "findings_medium",
    "findings_low",
    "artefacts",
    "conflicts",
    "address",
]


def _first(job: dict[str, Any], name: str) -> Any:
    values = (job.get("fields") or {}).get(name) or []
    return values[0].get("value") if values else None


def _print_job_row(job: dict[str, Any]) -> list[Any]:
    counts = job.get("findings") or {}
    return [
        job.get("print_job_id"),
        job.get("time"),
        job.get("user"),
        job.get("host"),
        _first(job, "domain"),
        job.get("document"),
        _first(job, "job_name"),
        _first(job, "application"),
        _first(job, "driver"),
        job.get("printer"),
        job.get("pages"),
        job.get("copies"),
        _first(job, "duplex"),
        _first(job, "colour"),
        _first(job, "media"),
        _first(job, "submitted"),
        _first(job, "printed"),
        _first(job, "completed"),
        job.get("state"),
        job.get("hold"),
        job.get("pin_masked"),
        job.get("recoverable"),
        job.get("location"),
        counts.get("critical", 0),
        counts.get("high", 0),
        counts.get("medium", 0),
        counts.get("low", 0),
        " ".join(
            f"{link.get('role')}:{link.get('artefact_id')}" for link in job.get("artefacts") or []
        ),
        " ".join(job.get("conflicts") or []),
        job.get("address"),
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


ARTEFACT_COLUMNS = [
    "image_id",
    "artefact_id",
    "kind",
    "format",
    "path",
    "location_class",
    "summary",
    "print_jobs",
    "address",
]


def _artefact_row(artefact: dict[str, Any]) -> list[Any]:
    """Device artefacts (a later table): the columns any artefact record is likely to have."""
    summary = artefact.get("summary") or artefact.get("holds") or artefact.get("description")
    return [
        artefact.get("artefact_id"),
        artefact.get("kind"),
        artefact.get("format"),
        artefact.get("path"),
        artefact.get("location_class"),
        summary if isinstance(summary, str) else (None if summary is None else str(summary)),
        " ".join(artefact.get("print_jobs") or []),
        _address(artefact),
    ]


class CsvWriter(ReportWriter):
    name = "csv"
    description = (
        "report-csv/: jobs.csv, artefacts.csv, findings.csv, problems.csv, objects.csv "
        "(UTF-8, formula-safe)"
    )
    default_name = "report-csv"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        if dest.exists() and not dest.is_dir():
            from forensics.errors import InputError

            raise InputError(f"CSV reports are a folder: {dest} exists and is not one")
        dest.mkdir(parents=True, exist_ok=True)
        ids = image_ids(case, options)
        tables: list[tuple[str, list[str], Callable[[int], Iterable[dict[str, Any]]], Row]] = []
        if has_table(case, "print_jobs"):
            tables.append(("jobs.csv", PRINT_JOB_COLUMNS, case.print_jobs, _print_job_row))
            tables.append(("objects.csv", JOB_COLUMNS, case.jobs, _job_row))
        else:
            tables.append(("jobs.csv", JOB_COLUMNS, case.jobs, _job_row))
        tables += [
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
