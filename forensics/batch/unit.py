"""One work unit: scan one image into a temporary case database and hand back its rows.

``run_unit`` is what an executor runs (a local process-pool worker or a Dask worker). It starts
the scan as a child process (``python -m forensics.batch.unit``) so that a hung or runaway scan
can be killed at ``timeout`` without harming the worker: a killed process-pool worker would
break the whole pool (every unit in flight fails with BrokenProcessPool), and Dask cannot stop a
running task at all. The child writes a per-unit case database in a temporary folder; the
worker reads it back as plain rows (picklable, so they travel to the coordinator through any
executor) and deletes it. Only the coordinator writes the batch case.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Tables of a per-unit case that are not the image's records.
SKIP_TABLES = frozenset({"meta", "runs", "sqlite_sequence", "batch_units", "batch_assets"})
MAX_ERROR_CHARS = 2000
# Test hook (tests/batch): "NAME=SECONDS[,NAME=SECONDS]" makes the child sleep before scanning
# an image whose first file is NAME (NAME#START: only the region of a split image that starts
# at byte START), to stand in for a hung scan or to slow a batch down.
SLEEP_HOOK = "PFA_BATCH_TEST_SLEEP"
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class UnitSpec:
    """Everything a worker needs to scan one image (plain values: it is pickled)."""

    key: str
    paths: tuple[str, ...]
    rules_dirs: tuple[str, ...] = ()
    reveal: bool = False
    parse_jobs: bool = True
    pages: bool = False
    ocr: bool = False
    ocr_lang: str = "eng"
    sensitive_at: str = "high"
    fail_on: str = "residual"
    timeout: float | None = None
    # A part of an image split into regions (forensics.batch.parts): (role, start, end).
    part: tuple[str, int, int] | None = None


@dataclass(frozen=True)
class UnitOutcome:
    """What came back: the per-unit case's rows (table → columns, rows) or an error."""

    key: str
    ok: bool
    error: str | None = None
    retryable: bool = True  # False for a clear refusal of the input (not an image)
    host: str = ""
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = field(default_factory=dict)


def read_tables(db_path: Path) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """Every record table of a case database as (column names, rows in rowid order)."""
    db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [
            str(n)
            for (n,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        tables: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}
        for name in names:
            if name in SKIP_TABLES:
                continue
            cur = db.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
            columns = tuple(d[0] for d in cur.description)
            tables[name] = (columns, [tuple(r) for r in cur])
        return tables
    finally:
        db.close()


def run_unit(spec: UnitSpec) -> UnitOutcome:
    """Scan one image in a child process (killed at ``spec.timeout``); never raises."""
    host = socket.gethostname()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pfa-unit-") as tmp:
        db_path = Path(tmp) / "case.sqlite"
        request = json.dumps({"spec": dataclasses.asdict(spec), "db": str(db_path)})
        # The child imports the same forensics package as this worker, installed or not.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        try:
            done = subprocess.run(
                [sys.executable, "-m", "forensics.batch.unit"],
                input=request,
                capture_output=True,
                text=True,
                timeout=spec.timeout,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired:
            # subprocess.run has killed (SIGKILL) and reaped the child.
            return UnitOutcome(
                spec.key,
                ok=False,
                error=f"timed out after {spec.timeout:g} s (scan killed)",
                host=host,
                seconds=time.monotonic() - started,
            )
        except OSError as exc:
            return UnitOutcome(spec.key, ok=False, error=f"cannot start the scan: {exc}", host=host)
        seconds = time.monotonic() - started
        reply = _last_json_line(done.stdout)
        if done.returncode != 0 or reply is None or "error" in reply:
            if reply is not None and "error" in reply:
                error, retryable = str(reply["error"]), not reply.get("input_error", False)
            else:
                tail = (done.stderr or "").strip().splitlines()[-1:] or [""]
                error = f"scan process exited with status {done.returncode}: {tail[0]}"
                retryable = True
            return UnitOutcome(
                spec.key,
                ok=False,
                error=error[:MAX_ERROR_CHARS],
                retryable=retryable,
                host=host,
                seconds=seconds,
            )
        try:
            tables = read_tables(db_path)
        except sqlite3.Error as exc:
            return UnitOutcome(spec.key, ok=False, error=f"unit case unreadable: {exc}", host=host)
        return UnitOutcome(
            spec.key, ok=True, host=host, seconds=seconds, summary=reply, tables=tables
        )


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed((text or "").strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _test_sleep(name: str, part: tuple[str, int, int] | None) -> None:
    names = {name} if part is None else {name, f"{name}#{part[1]}"}
    for item in os.environ.get(SLEEP_HOOK, "").split(","):
        target, _, seconds = item.partition("=")
        if target and target in names:
            time.sleep(float(seconds or 0))


def _scan(spec: UnitSpec, db_path: Path) -> dict[str, Any]:
    """The child's work: the same scan as ``pfa scan``, into ``db_path``."""
    from forensics.detect.rules import load_rules
    from forensics.errors import InputError
    from forensics.jobs import PageOptions
    from forensics.loose import looks_like_disk, looks_like_job_file
    from forensics.scan import ScanOptions, ScanPart, open_evidence, run_record, scan_image
    from forensics.store import CaseStore
    from forensics.verdict import VerdictPolicy

    first = Path(spec.paths[0])
    _test_sleep(first.name, spec.part)
    if first.is_file() and not looks_like_disk(first) and looks_like_job_file(first):
        raise InputError(
            f"{first} is a print job or document file, not a disk image (scan it with pfa scan)"
        )
    rules = load_rules([Path(p) for p in spec.rules_dirs])
    policy = VerdictPolicy(sensitive_at=spec.sensitive_at, fail_on=spec.fail_on)
    pages = (
        PageOptions(ocr=spec.ocr, language=spec.ocr_lang, previews=None, workers=1)
        if spec.pages
        else None
    )
    with open_evidence(first) as image, CaseStore(db_path) as store:
        from forensics.records import utc_now

        run_id = store.start_run(run_record("pfa batch (unit)", rules, utc_now()))
        # One process per unit: parallelism is across images, and one worker per scan keeps
        # the order records are written in (and so the case) independent of timing.
        result = scan_image(
            image,
            ScanOptions(
                rules=rules,
                reveal=spec.reveal,
                compute_hashes=True,
                parse_jobs=spec.parse_jobs,
                workers=1,
                pages=pages,
                policy=policy,
                part=ScanPart(*spec.part) if spec.part is not None else None,
            ),
            store,
            run_id,
        )
        store.finish_run(run_id, result.finished)
        return {
            "sha256": result.image.hashes.get("sha256"),
            "size": result.image.size,
            "verdict": str(result.verdict),
            "rules_sha256": rules.sha256,
        }


def main() -> int:
    """Child entry point: a JSON request on stdin, a JSON reply as the last stdout line."""
    from forensics.errors import InputError

    # Whoever started this scan may ignore Ctrl-C (an ignored signal stays ignored across exec;
    # pfa's own pool workers catch it instead, see coordinator.worker_init): it must stop on it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    request = json.loads(sys.stdin.read())
    raw = request["spec"]
    raw["paths"] = tuple(raw["paths"])
    raw["rules_dirs"] = tuple(raw["rules_dirs"])
    if raw.get("part") is not None:
        role, start, end = raw["part"]
        raw["part"] = (str(role), int(start), int(end))
    spec = UnitSpec(**raw)
    try:
        reply = _scan(spec, Path(request["db"]))
    except InputError as exc:
        print(json.dumps({"error": str(exc), "input_error": True}))
        return 2
    except KeyboardInterrupt:
        print(json.dumps({"error": "interrupted"}))
        return 130
    except Exception as exc:
        log.debug("unit failed", exc_info=True)
        print(json.dumps({"error": f"internal error: {type(exc).__name__}: {exc}"}))
        return 3
    print(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(main())
