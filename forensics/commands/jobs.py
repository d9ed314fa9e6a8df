"""``pfa jobs``: the table of jobs recovered from an image (read from its case store)."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from forensics.commands.base import Command
from forensics.commands.case import open_case
from forensics.commands.options import add_case_target


class JobsCommand(Command):
    name = "jobs"
    order = 30
    help = "list the print/scan/fax jobs recovered from an image"
    description = (
        "A table of recovered jobs: id, time, user, host, document, format chain, "
        "pages, location class and findings in the job."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_case_target(parser)
        parser.add_argument("--json", action="store_true", help="print the job records as JSON")

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        with tempfile.TemporaryDirectory(prefix="pfa-jobs-") as work:
            store, image_id = open_case(args, argv, Path(work))
            with store:
                jobs = list(store.jobs(image_id))
        if args.json:
            print(json.dumps(jobs, indent=2, sort_keys=True, ensure_ascii=False))
            return 0
        if not console.is_terminal:
            console = Console(width=160)  # piped to a file or a pager: no terminal to fit
        table = Table(title=f"jobs ({len(jobs)})")
        # Ids, times and counts stay whole; names fold when the terminal is narrow.
        for col in ("id", "time (UTC)", "format", "pages", "class", "findings"):
            table.add_column(col, no_wrap=True)
        for col in ("user", "host", "document"):
            table.add_column(col, overflow="fold")
        for job in jobs:
            meta = job["metadata"]
            when = meta.get("submitted") or meta.get("created") or meta.get("completed") or ""
            document = meta.get("document_name") or meta.get("job_name") or ""
            table.add_row(
                job["job_id"],
                when.replace("T", " ").removesuffix("Z")[:19],
                ">".join(job["format_chain"]),
                "" if job["pages"] is None else str(job["pages"]),
                job["location_class"] + (" (carved)" if job.get("carved") else ""),
                str(job["findings"]),
                meta.get("user") or "",
                meta.get("host") or "",
                document,
            )
        console.print(table)
        return 0
