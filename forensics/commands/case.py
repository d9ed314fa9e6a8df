"""Scanning into a case store and opening one: what scan, jobs, extract, pages and report share."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from forensics.detect.rules import load_rules
from forensics.detect.scanner import Detector
from forensics.errors import InputError
from forensics.evidence.image import is_container
from forensics.jobs import PageOptions
from forensics.loose import LooseResult, looks_like_disk, looks_like_job_file, scan_loose
from forensics.progress import RichProgress
from forensics.render.ocr import OcrUnavailable
from forensics.render.ocr import check_available as check_ocr
from forensics.render.ocrqueue import OcrBudget, OcrBudgetError
from forensics.scan import ScanOptions, ScanResult, open_evidence, run_record, scan_image, utc_now
from forensics.store import CaseStore
from forensics.verdict import VerdictPolicy

log = logging.getLogger("forensics.commands")

CASE_DB = "case.sqlite"


class ScanInterrupted(KeyboardInterrupt):
    """Ctrl-C during a scan: the case keeps what was written, marked interrupted."""

    def __init__(self, case: Path):
        super().__init__(
            f"{case} keeps what was scanned so far, marked interrupted (no verdict); "
            "run the same command again to scan from the start"
        )


def run_scan(
    image_path: Path,
    output: Path,
    rules_dirs: list[Path],
    reveal: bool,
    hashes: bool,
    argv: Sequence[str],
    parse_jobs: bool = True,
    page_args: argparse.Namespace | None = None,
    previews: bool = False,
    policy: VerdictPolicy | None = None,
    stale: Sequence[str] = (),
) -> tuple[CaseStore, dict[str, Any], ScanResult | LooseResult]:
    """Scan one image into ``output``/case.sqlite; the caller closes the returned store.

    ``stale`` names report files of an earlier run in ``output`` to delete before scanning.
    """
    # Absolute, so that pfa extract finds the evidence again from any working folder.
    image_path = image_path.absolute()
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")
    rules = load_rules(rules_dirs)
    log.info("rules: %d files, sha256 %s", len(rules.files), rules.sha256)
    # A disk image is recognised by its partition table or file system before any job format
    # is tried (which also spares a disk scan loading every format module).
    loose = image_path.is_dir() or (
        image_path.is_file()
        and not is_container(image_path)
        and not looks_like_disk(image_path)
        and looks_like_job_file(image_path)
    )
    image = None if loose else open_evidence(image_path)
    log.info("evidence %s: %s", image_path, "loose job files" if loose else "disk image")
    output.mkdir(parents=True, exist_ok=True)
    db_path = output / CASE_DB
    # A previous run's outputs must not survive next to this run's (e.g. after an interruption).
    for name in (CASE_DB, f"{CASE_DB}-wal", f"{CASE_DB}-shm", *stale):
        path = output / name
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                if child.is_file():
                    child.unlink()
        else:
            path.unlink(missing_ok=True)
    run = run_record(shlex.join(["pfa", *argv]), rules, utc_now())
    pages = page_options(page_args, output / "pages" if previews else None)
    workers = page_args.workers if page_args is not None else max(1, os.cpu_count() or 1)
    run["options"] = {
        "reveal": reveal,
        "hashes": hashes,
        "jobs": parse_jobs,
        "pages": pages is not None,
        "ocr": pages.language if pages is not None and pages.ocr else None,
        "ocr_budget": pages.budget.describe() if pages is not None and pages.budget else None,
        "policy": (policy or VerdictPolicy()).to_dict(),
    }
    store = CaseStore(db_path)
    run_id: int | None = None
    try:
        run_id = store.start_run(run)
        result: ScanResult | LooseResult
        if image is None:
            result = scan_loose(
                image_path,
                Detector(rules),
                store,
                run_id,
                reveal,
                hashes=hashes,
                parse_jobs=parse_jobs,
                exclude=output,
                pages=pages,
                policy=policy,
            )
        else:
            with image:
                result = scan_image(
                    image,
                    ScanOptions(
                        rules=rules,
                        reveal=reveal,
                        compute_hashes=hashes,
                        parse_jobs=parse_jobs,
                        workers=max(1, workers),
                        pages=pages,
                        policy=policy or VerdictPolicy(),
                    ),
                    store,
                    run_id,
                    RichProgress(Console(stderr=True)),
                )
        store.finish_run(run_id, result.finished)
    except KeyboardInterrupt:
        try:
            if run_id is not None:
                store.mark_interrupted(run_id, utc_now())
        finally:
            store.close()
        raise ScanInterrupted(db_path) from None
    except BaseException:
        store.close()
        raise
    log.info("scan finished: verdict %s, %d findings", result.verdict, result.findings)
    return store, run, result


def page_options(args: argparse.Namespace | None, previews: Path | None) -> PageOptions | None:
    """Rendering/OCR settings from the command line; says once when OCR cannot run."""
    if args is None or args.no_pages:
        return None
    if args.workers < 1:
        raise InputError("--jobs must be at least 1")
    ocr = bool(args.ocr)
    if ocr:
        try:
            check_ocr(args.ocr_lang)
        except OcrUnavailable as exc:
            Console(stderr=True).print(f"[yellow]note[/] {exc}", markup=True, highlight=False)
            ocr = False
    if previews is not None:
        previews.mkdir(parents=True, exist_ok=True)
    budget = None
    if getattr(args, "ocr_budget", None) is not None:
        try:
            budget = OcrBudget.parse(args.ocr_budget)
        except OcrBudgetError as exc:
            raise InputError(str(exc)) from None
    return PageOptions(
        ocr=ocr, language=args.ocr_lang, previews=previews, workers=args.workers, budget=budget
    )


def case_path(target: Path) -> Path | None:
    """The case database ``target`` names (a scan's output folder or its case.sqlite), if any."""
    db = target / CASE_DB if target.is_dir() else target
    return db if db.suffix == ".sqlite" and db.is_file() else None


def open_existing_case(target: Path) -> CaseStore:
    """The case store of an earlier scan (read-only); InputError when there is none."""
    db = case_path(target)
    if db is None:
        if target.is_dir():
            raise InputError(
                f"{target} is a folder without a case.sqlite (scan it first: pfa scan)"
            )
        raise InputError(f"{target} is not a pfa scan's output folder or case.sqlite")
    return CaseStore.open_existing(db)


def latest_image(store: CaseStore) -> int:
    """The image id of the latest finished scan in the case; InputError when there is none."""
    row = store.db.execute("SELECT MAX(image_id) FROM images WHERE verdict IS NOT NULL").fetchone()
    if row is None or row[0] is None:
        store.close()
        raise InputError(f"{store.path} holds no finished scan")
    return int(row[0])


def open_case(args: argparse.Namespace, argv: Sequence[str], work: Path) -> tuple[CaseStore, int]:
    """A case store for ``args.target``: an existing scan (folder or case.sqlite) or a new scan
    of an image into ``work``. Returns the store and the image id (the latest scanned)."""
    target: Path = args.target
    if case_path(target) is not None:
        store = CaseStore.open_existing(case_path(target) or target)
    elif target.is_dir():
        raise InputError(f"{target} is a folder without a case.sqlite (scan it first: pfa scan)")
    else:
        store, _, _ = run_scan(
            target, work, list(args.rules), args.reveal, False, argv, page_args=args
        )
    return store, latest_image(store)


PROBLEMS_SHOWN = 10  # problems listed at the end of a run; the reports hold them all


def list_problems(store: CaseStore, image_id: int, where: str, limit: int = PROBLEMS_SHOWN) -> int:
    """List the run's problems on stderr (count, then the first ``limit``); return the count.

    An examiner should see at the end of a run what went wrong during it without reading
    the whole log; ``where`` says which report holds the rest.
    """
    total = store.count("problems", image_id)
    if not total:
        return 0
    console = Console(stderr=True, highlight=False)
    shown = min(total, limit)
    more = f"; the first {shown} below, all {total} in {where}" if total > shown else ""
    console.print(f"problems: {total}{more}", markup=False)
    for n, problem in enumerate(store.problems(image_id)):
        if n >= shown:
            break
        where_text = problem.get("address") or (
            f"image offset {problem['image_offset']}"
            if problem.get("image_offset") is not None
            else ""
        )
        line = f"  {problem.get('severity', 'warning')} {problem.get('code')}: {problem.get('message')}"
        console.print(printable(line + (f" ({where_text})" if where_text else "")), markup=False)
    return total


def printable(text: str) -> str:
    """``text`` with control characters (ANSI escapes from evidence names) made visible."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
