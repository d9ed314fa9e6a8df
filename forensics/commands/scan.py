"""``pfa scan``: scan an image end to end into a case store and write the reports beside it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from forensics.commands.base import Command
from forensics.commands.case import list_problems, run_scan
from forensics.commands.options import (
    add_image_argument,
    add_page_options,
    add_policy_options,
    add_reveal_option,
    add_rules_option,
)
from forensics.report.base import DEFAULT_FORMATS, ReportOptions, load_writers, write_reports
from forensics.report.json_report import summarise
from forensics.verdict import VerdictPolicy

EPILOG = """\
exit codes: 0 no residual data (wiped or encrypted); 1 residual or sensitive data;
            2 usage or input error.
examples:
  pfa info printer.E01
  pfa scan printer.dd -o out/
  pfa scan disk.001 -o out/ --rules my_rules/
  pfa scan printer.dd -o out/ --reveal
"""


class ScanCommand(Command):
    name = "scan"
    order = 20
    help = "scan an image and write its reports (report.json, report.html)"
    description = (
        "Scan an image end to end: every partition, gap, file system (allocated and "
        "deleted files, slack, unallocated space) and raw volume is searched with the shipped YARA "
        "rules (and yours), hits are confirmed by validators, and the case database "
        "OUT/case.sqlite and the reports OUT/report.json and OUT/report.html are written (other "
        "formats: pfa report). Values are masked unless --reveal is given."
    )
    epilog = EPILOG

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_image_argument(parser)
        parser.add_argument(
            "-o", "--output", type=Path, required=True, help="output folder (created if missing)"
        )
        add_rules_option(
            parser,
            "extra YARA rules (a folder of .yar/.yara files, or one file); repeatable; "
            "used beside the shipped rules",
        )
        add_reveal_option(
            parser, "keep unmasked values and context in the report (for the examiner only)"
        )
        parser.add_argument(
            "--no-hash", action="store_true", help="do not compute MD5/SHA-1/SHA-256 of the media"
        )
        parser.add_argument(
            "--no-jobs",
            action="store_true",
            help="do not parse print jobs (raw-byte scan only: faster triage, but text that is "
            "encoded in print languages or spool files is not searched)",
        )
        add_page_options(parser)
        add_policy_options(parser)
        parser.add_argument("-q", "--quiet", action="store_true", help="no summary table")

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        policy = VerdictPolicy(sensitive_at=args.sensitive_at, fail_on=args.fail_on)
        store, _, result = run_scan(
            args.image,
            args.output,
            list(args.rules),
            args.reveal,
            not args.no_hash,
            argv,
            parse_jobs=not args.no_jobs,
            page_args=args,
            previews=True,
            policy=policy,
            stale=tuple(cls.default_name for cls in load_writers().values()),
        )
        with store:
            written = write_reports(
                store,
                args.output,
                DEFAULT_FORMATS,
                ReportOptions(image_ids=(result.image_id,)),
                workers=args.workers,
            )
            report_path = written[0]
            summary = summarise(store, result.image_id)
            if not args.quiet:
                print_summary(console, store.image(result.image_id), summary, report_path)
                if len(written) > 1:
                    console.print(
                        "reports: " + "  ".join(str(p) for p in written[1:]),
                        markup=False,
                        highlight=False,
                    )
                list_problems(store, result.image_id, str(report_path))
        return policy.exit_code(result.verdict)


def print_summary(
    console: Console, image: dict[str, Any], summary: dict[str, Any], report_path: Path
) -> None:
    table = Table(title=f"findings in {image['paths'][0]}")
    classes = ["allocated", "deleted", "slack", "unallocated", "unpartitioned", "raw"]
    table.add_column("category")
    for cls in classes:
        table.add_column(cls, justify="right")
    table.add_column("total", justify="right")
    for category, per_class in sorted(summary["findings_by_category_and_location"].items()):
        cells = [str(per_class.get(c, 0) or "") for c in classes]
        table.add_row(category, *cells, str(sum(per_class.values())))
    if not summary["findings_by_category_and_location"]:
        table.add_row("(none)", *[""] * len(classes), "0")
    console.print(table)
    if summary["jobs_by_format_and_location"]:
        jobs_table = Table(title=f"jobs ({summary['jobs']})")
        jobs_table.add_column("format")
        for cls in classes:
            jobs_table.add_column(cls, justify="right")
        for fmt, per_class in sorted(summary["jobs_by_format_and_location"].items()):
            jobs_table.add_row(fmt, *[str(per_class.get(c, 0) or "") for c in classes])
        console.print(jobs_table)
    console.print(
        f"files: {summary['files']} ({summary['files_deleted']} deleted)   "
        f"problems: {summary['problems']}   report: {report_path}"
    )
    for name, value in image["hashes"].items():
        console.print(f"{name:7s} {value}")
    verdict, reasons = image["verdict"], image["verdict_reasons"]
    colour = {"sensitive": "red", "residual-data": "yellow"}.get(verdict, "green")
    console.print(f"verdict: [bold {colour}]{verdict}[/]  ({'; '.join(reasons)})")
    policy = image.get("verdict_policy")
    if policy:
        console.print(f"policy: {policy['description']}", highlight=False)
