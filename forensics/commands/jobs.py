"""``pfa jobs``: the print jobs recovered from an image, one row per job (from its case store).

``--artefacts`` lists the parsed objects the jobs were built from (a PJL wrapper and its PCL
payload are two rows there, one print job here); ``--json`` prints either as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from forensics.commands.base import Command
from forensics.commands.case import open_case
from forensics.commands.options import add_case_target
from forensics.printjobs import consolidate
from forensics.records import Severity
from forensics.store import CaseStore

SEVERITY_LETTERS = {"critical": "C", "high": "H", "medium": "M", "low": "L"}


def case_print_jobs(
    store: CaseStore, image_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Print jobs and device artefacts of an image; consolidated now (in memory) for a case
    written before pfa stored them, so older cases read the same way."""
    if store.has_table("print_jobs"):
        return list(store.print_jobs(image_id)), list(store.artefacts(image_id))
    result = consolidate(store, image_id)
    return [j.to_dict() for j in result.print_jobs], [a.to_dict() for a in result.artefacts]


def findings_text(counts: dict[str, int]) -> str:
    """'2C 1H' for 2 critical and 1 high findings."""
    order = [s.value for s in reversed(Severity)]
    return " ".join(f"{counts[s]}{SEVERITY_LETTERS[s]}" for s in order if counts.get(s)) or "0"


class JobsCommand(Command):
    name = "jobs"
    order = 30
    help = "list the print/scan/fax jobs recovered from an image"
    description = (
        "One row per print job (its wrapper, payload, control file, carved copies and log "
        "lines consolidated): time, user, host, document, printer, pages, state, whether the "
        "content is recoverable, location and findings by severity; then the device "
        "artefacts (address books, configuration, logs)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_case_target(parser)
        parser.add_argument(
            "--artefacts",
            action="store_true",
            help="list the parsed objects the print jobs were built from, one row each",
        )
        parser.add_argument("--json", action="store_true", help="print the records as JSON")

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        with tempfile.TemporaryDirectory(prefix="pfa-jobs-") as work:
            store, image_id = open_case(args, argv, Path(work))
            with store:
                if args.artefacts:
                    rows = list(store.jobs(image_id))
                else:
                    print_jobs, devices = case_print_jobs(store, image_id)
        if not console.is_terminal:
            console = Console(width=180)  # piped to a file or a pager: no terminal to fit
        if args.artefacts:
            if args.json:
                print(json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False))
            else:
                console.print(_artefact_table(rows))
            return 0
        if args.json:
            document = {"print_jobs": print_jobs, "device_artefacts": devices}
            print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
            return 0
        console.print(_print_job_table(print_jobs))
        if devices:
            console.print(_device_table(devices))
        return 0


def _when(value: str | None) -> str:
    return (value or "").replace("T", " ").removesuffix("Z")[:19]


def _print_job_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table(title=f"print jobs ({len(jobs)})")
    # Ids, times and counts stay whole; names fold when the terminal is narrow.
    for col in ("id", "time (UTC)", "pages", "state", "recoverable", "location", "findings"):
        table.add_column(col, no_wrap=True)
    for col in ("user", "host", "document", "printer"):
        table.add_column(col, overflow="fold")
    for job in jobs:
        conflicts = job.get("conflicts") or []
        table.add_row(
            job["print_job_id"],
            _when(job.get("time")),
            "" if job.get("pages") is None else str(job["pages"]),
            str(job.get("state") or ""),
            str(job.get("recoverable") or ""),
            str(job.get("location") or ""),
            findings_text(job.get("findings") or {}),
            str(job.get("user") or ""),
            str(job.get("host") or ""),
            str(job.get("document") or "") + (" (conflicting values)" if conflicts else ""),
            str(job.get("printer") or ""),
        )
    return table


def _device_table(devices: list[dict[str, Any]]) -> Table:
    table = Table(title=f"device artefacts ({len(devices)})")
    for col in ("id", "kind", "location", "findings"):
        table.add_column(col, no_wrap=True)
    for col in ("path", "holds"):
        table.add_column(col, overflow="fold")
    for device in devices:
        table.add_row(
            device["artefact_id"],
            str(device.get("kind") or ""),
            str(device.get("location_class") or "") + (" (carved)" if device.get("carved") else ""),
            findings_text(device.get("findings") or {}),
            str(device.get("path") or ""),
            ", ".join(f"{n} {k}" for k, n in (device.get("holds") or {}).items()),
        )
    return table


def _artefact_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"parsed objects ({len(rows)})")
    for col in ("id", "time (UTC)", "format", "pages", "class", "findings"):
        table.add_column(col, no_wrap=True)
    for col in ("user", "host", "document"):
        table.add_column(col, overflow="fold")
    for job in rows:
        meta = job["metadata"]
        when = meta.get("submitted") or meta.get("created") or meta.get("completed") or ""
        document = meta.get("document_name") or meta.get("job_name") or ""
        table.add_row(
            job["job_id"],
            _when(when),
            ">".join(job["format_chain"]),
            "" if job["pages"] is None else str(job["pages"]),
            job["location_class"] + (" (carved)" if job.get("carved") else ""),
            str(job["findings"]),
            meta.get("user") or "",
            meta.get("host") or "",
            document,
        )
    return table
