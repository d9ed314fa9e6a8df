"""Options shared by several subcommands, declared once so that they read the same everywhere."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from forensics.render.ocr import DEFAULT_LANGUAGE
from forensics.verdict import DEFAULT_SENSITIVE_AT, FAIL_ON


def add_page_options(command: argparse.ArgumentParser) -> None:
    """Rendering, OCR and parallelism options shared by the commands that parse jobs."""
    ocr = command.add_mutually_exclusive_group()
    ocr.add_argument(
        "--ocr",
        dest="ocr",
        action="store_true",
        default=True,
        help="OCR rendered page images with Tesseract and search the text (default, when "
        "tesseract is installed)",
    )
    ocr.add_argument("--no-ocr", dest="ocr", action="store_false", help="do not OCR pages")
    command.add_argument(
        "--ocr-lang",
        default=DEFAULT_LANGUAGE,
        metavar="LANG",
        help="Tesseract language(s), e.g. eng or deu+eng (default eng)",
    )
    command.add_argument(
        "--ocr-budget",
        metavar="SECONDS|PAGESp",
        default=None,
        help="OCR for at most this long (120, 10m, 1h) or this many distinct pages (500p); "
        "pages of jobs without decoded text (faxes, scans, raster) go first and the pages left "
        "out are listed as a problem (default: no limit)",
    )
    command.add_argument(
        "--no-pages",
        action="store_true",
        help="do not render job pages (no page previews, no OCR)",
    )
    command.add_argument(
        "--jobs",
        dest="workers",
        type=int,
        default=max(1, os.cpu_count() or 1),
        metavar="N",
        help="worker processes for parsing jobs, OCR and writing reports (default: one per CPU)",
    )


def add_policy_options(command: argparse.ArgumentParser) -> None:
    """The verdict policy (docs/verdict-policy.md): what is sensitive, what fails a script."""
    command.add_argument(
        "--sensitive-at",
        choices=("low", "medium", "high", "critical"),
        default=DEFAULT_SENSITIVE_AT,
        metavar="SEVERITY",
        help="lowest finding severity that makes the verdict 'sensitive': low, medium, high or "
        "critical (default high: telephone numbers and e-mail addresses alone give "
        "residual-data)",
    )
    command.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="residual",
        help="which verdicts exit 1: 'residual' (default: residual-data and sensitive, as a "
        "pre-disposal check needs) or 'sensitive' (only sensitive)",
    )


def add_rules_option(command: argparse.ArgumentParser, help_text: str) -> None:
    command.add_argument(
        "--rules",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help=help_text,
    )


def add_reveal_option(command: argparse.ArgumentParser, help_text: str) -> None:
    command.add_argument("--reveal", action="store_true", help=help_text)


def add_case_target(command: argparse.ArgumentParser) -> None:
    """TARGET of the commands that read a case: an earlier scan, or an image scanned now."""
    command.add_argument(
        "target",
        type=Path,
        help="an image (scanned now, into a temporary case) or the output folder / "
        "case.sqlite of an earlier pfa scan",
    )
    add_rules_option(command, "extra YARA rules when TARGET is an image (as for scan)")
    add_reveal_option(command, "unmasked PINs and values (for the examiner only)")
    add_page_options(command)


def add_image_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "image", type=Path, help="image file: raw/dd, first split segment, or .E01"
    )


def add_output_folder(command: argparse.ArgumentParser, help_text: str = "output folder") -> None:
    command.add_argument("-o", "--output", type=Path, required=True, help=help_text)


def add_logging_options(command: argparse.ArgumentParser) -> None:
    """Examiner logging, on every command: what the tool does, to stderr or a file."""
    group = command.add_argument_group("logging")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what the run does to stderr: -v for progress notes (info), -vv for every "
        "detail (debug)",
    )
    group.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="write the full debug log (with times) to FILE, whatever -v says",
    )
