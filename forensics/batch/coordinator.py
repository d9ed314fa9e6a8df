"""The batch coordinator: decides what to scan, runs units on an executor, writes the case.

Only the coordinator writes ``case.sqlite`` (SQLite has one writer). Units run on any
``concurrent.futures.Executor``: a local ``ProcessPoolExecutor`` or, with ``--scheduler``, the
executor of a Dask ``distributed.Client``. At most one unit per worker slot is submitted at a
time, so a unit starts when it is submitted and the per-worker status lines are true.

Determinism: finished units are merged in the order of their keys (sorted paths), a unit
waiting in memory until every unit before it is merged, failed or skipped; ids in the case then
do not depend on worker count or completion order. A coordinator killed before a finished unit
is merged loses only that unit's work (it is scanned again on resume), never half an image.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shlex
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.batch.discover import Unit
from forensics.batch.merge import delete_image, merge_unit
from forensics.batch.parts import merge_parts, split_regions
from forensics.batch.unit import UnitOutcome, UnitSpec, run_unit
from forensics.detect.rules import load_rules
from forensics.errors import InputError
from forensics.records import utc_now
from forensics.scan import ScanPart, run_record
from forensics.store import CaseStore, ensure_batch_tables
from forensics.verdict import VerdictPolicy

MAX_ATTEMPTS = 2  # one retry
# Images larger than this are scanned in regions of this size, one work unit each
# (forensics.batch.parts): one 500 GB copier disk then keeps 16 workers busy, not one.
DEFAULT_REGION_BYTES = 32 * 1024**3


@dataclass(frozen=True)
class BatchConfig:
    output: Path
    units: tuple[Unit, ...]
    template: UnitSpec  # scan options; key and paths are filled per unit
    workers: int = 1
    scheduler: str | None = None
    force: bool = False
    command_line: str = "pfa batch"
    region_bytes: int = DEFAULT_REGION_BYTES  # 0: every image in one unit


@dataclass
class BatchSummary:
    scanned: int = 0
    skipped: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (unit key, error)
    image_ids: list[int] = field(default_factory=list)


class BatchProgress:
    """Progress sink; the CLI's rich display subclasses it."""

    def start(self, images: int, total_bytes: int) -> None:
        pass

    def unit_started(self, slot: int, unit: Unit, attempt: int, part: str = "") -> None:
        """A unit (or, with ``part`` naming it, one region of a split image) started."""

    def unit_finished(self, slot: int, unit: Unit, size: int, status: str) -> None:
        """Status "part": one region of a split image done (its bytes, not yet the image)."""

    def stop(self) -> None:
        pass


def _stat(unit: Unit) -> tuple[int, int]:
    """(total size, newest mtime in ns) of the unit's files; (-1, -1) when one is missing."""
    size = mtime = 0
    for path in unit.paths:
        try:
            st = os.stat(path)
        except OSError:
            return -1, -1
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


def _media_size(unit: Unit, file_size: int) -> int:
    """The size of the medium (an E01 set is smaller than the drive it holds)."""
    from forensics.errors import ImageReadError
    from forensics.evidence.image import open_image

    try:
        image = open_image(unit.paths[0])
    except (InputError, ImageReadError, OSError):
        return file_size  # the unit's own scan reports why
    try:
        return int(image.size)
    finally:
        image.close()


@dataclass
class _Scanning:
    """A unit on its way through the executor: the outcome of each of its parts."""

    unit: Unit
    parts: tuple[ScanPart, ...]  # () for an image scanned whole
    outcomes: dict[int, UnitOutcome] = field(default_factory=dict)
    attempts: int = 1
    failed: UnitOutcome | None = None

    @property
    def count(self) -> int:
        return max(1, len(self.parts))

    def spec(self, template: UnitSpec, index: int) -> UnitSpec:
        part = self.parts[index] if self.parts else None
        return replace(
            template,
            key=self.unit.key,
            paths=tuple(map(str, self.unit.paths)),
            part=(part.role, part.start, part.end) if part is not None else None,
        )

    def label(self, index: int) -> str:
        return f"region {index + 1}/{len(self.parts)}" if self.parts else ""


def _absorb_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C in a pool worker: nothing to do here, the coordinator stops the batch."""


def worker_init() -> None:
    """Pool workers let Ctrl-C pass: caught by a handler that does nothing, not ignored.

    An ignored signal stays ignored across exec: a unit's child scan started just before Ctrl-C
    (before it installs its own handler) would miss it, and the batch would wait for that whole
    scan. A caught signal is reset to the default on exec, which Python turns into
    KeyboardInterrupt from its start.
    """
    signal.signal(signal.SIGINT, _absorb_interrupt)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch: finished images stay in the case; a rerun resumes."""


def make_executor(config: BatchConfig) -> tuple[Executor, int, Callable[[], None]]:
    """The executor, its number of worker slots, and how to shut it down."""
    if config.scheduler is None:
        # spawn: the coordinator runs threads (progress, SQLite), which fork would copy mid-state;
        # a worker only starts a child scan, so importing afresh costs little.
        # Workers let Ctrl-C pass (it reaches the whole process group): the coordinator stops
        # the batch, and each unit's scan, a child of its own, ends on it.
        pool = ProcessPoolExecutor(
            max_workers=max(1, config.workers),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_init,
        )
        return pool, max(1, config.workers), lambda: pool.shutdown(wait=True, cancel_futures=True)
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "--scheduler needs Dask: pip install '.[cluster]' (dask[distributed])"
        ) from None
    try:
        client = Client(config.scheduler, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {config.scheduler}: {exc}") from None
    slots = max(1, sum(client.nthreads().values()))
    executor = client.get_executor(pure=False)

    def close() -> None:
        executor.shutdown(wait=False)
        client.close()

    return executor, slots, close


class _Batch:
    def __init__(self, config: BatchConfig, store: CaseStore, progress: BatchProgress):
        self.config = config
        self.store = store
        self.progress = progress
        self.rules_sha256 = load_rules([Path(p) for p in config.template.rules_dirs]).sha256
        self.summary = BatchSummary()
        self.merged_this_run: set[str] = set()

    # --- the batch_units table ----------------------------------------------------------

    def _row(self, key: str) -> dict[str, Any] | None:
        cur = self.store.db.execute("SELECT * FROM batch_units WHERE unit_key = ?", (key,))
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    def _complete(self, sha256: str) -> dict[str, Any] | None:
        """The unit that holds ``sha256`` complete for these rules and this tool version."""
        cur = self.store.db.execute(
            "SELECT * FROM batch_units WHERE sha256 = ? AND status = 'done' AND rules_sha256 = ?"
            " AND tool_version = ? ORDER BY unit_key LIMIT 1",
            (sha256, self.rules_sha256, __version__),
        )
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    def _set(self, key: str, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        self.store.db.execute(
            f"UPDATE batch_units SET {sets} WHERE unit_key = ?", (*values.values(), key)
        )

    def plan(self, run_id: int) -> list[tuple[Unit, int]]:
        """Record every unit; return those to scan with their sizes (skips the complete)."""
        todo: list[tuple[Unit, int]] = []
        db = self.store.db
        for unit in self.config.units:
            size, mtime = _stat(unit)
            row = self._row(unit.key)
            db.execute(
                "INSERT OR REPLACE INTO batch_assets VALUES (?, ?, ?, ?, ?)",
                (unit.key, *unit.asset.to_dict().values()),
            )
            if row is None:
                db.execute(
                    "INSERT INTO batch_units (unit_key, paths, size, mtime_ns, status, attempts,"
                    " run_id) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
                    (unit.key, json.dumps([str(p) for p in unit.paths]), size, mtime, run_id),
                )
            elif not (row["size"] == size and row["mtime_ns"] == mtime):
                # The files changed: whatever SHA-256 was known for them is no longer theirs.
                self._set(unit.key, size=size, mtime_ns=mtime, sha256=None, status="pending")
                row = None
            known = row["sha256"] if row else None
            if not self.config.force and known and self._complete(known) is not None:
                self.summary.skipped += 1
                if row is not None and row["status"] == "done" and row["image_id"] is not None:
                    self.summary.image_ids.append(int(row["image_id"]))
                continue
            self._set(unit.key, status="pending", attempts=0, error=None, run_id=run_id)
            if unit.error is not None:
                self._fail(unit, unit.error, attempts=0)
                continue
            todo.append((unit, max(0, size)))
        db.commit()
        return todo

    def _fail(self, unit: Unit, error: str, attempts: int) -> None:
        self._set(unit.key, status="failed", error=error, attempts=attempts, finished=utc_now())
        self.store.db.commit()
        self.summary.failed.append((unit.key, error))

    def merge(self, unit: Unit, outcomes: list[UnitOutcome], run_id: int, attempts: int) -> str:
        """Write a finished unit (its parts, for a split image) into the case, in one
        transaction; its final status."""
        outcome = outcomes[0]  # a split image's primary part: it hashed the whole medium
        sha = outcome.summary.get("sha256")
        db = self.store.db
        status = "done"
        with db:  # one transaction: the image and its unit row together, or neither
            holder = self._complete(sha) if sha else None
            if (
                holder is not None
                and holder["unit_key"] != unit.key
                and (not self.config.force or sha in self.merged_this_run)
            ):
                # Same media under another path (a copy of an image): scanned once.
                self._set(
                    unit.key,
                    status="duplicate",
                    sha256=sha,
                    duplicate_of=holder["unit_key"],
                    rules_sha256=self.rules_sha256,
                    tool_version=__version__,
                    attempts=attempts,
                    host=outcome.host,
                    finished=utc_now(),
                    image_id=holder["image_id"],
                )
                self.summary.duplicates += 1
                return "duplicate"
            for (old,) in list(db.execute("SELECT image_id FROM images WHERE sha256 = ?", (sha,))):
                delete_image(db, int(old))  # a rescan (new rules, new tool, --force) replaces
            db.execute(
                "UPDATE batch_units SET status = 'superseded', image_id = NULL"
                " WHERE sha256 = ? AND unit_key != ? AND status IN ('done', 'duplicate')",
                (sha, unit.key),
            )
            image_id = merge_unit(
                self.store,
                outcome.tables,
                run_id,
                {"asset": unit.asset.to_dict(), "batch_unit": unit.key},
            )
            if len(outcomes) > 1:
                merge_parts(
                    self.store,
                    image_id,
                    [
                        (o.tables, {"host": o.host, "seconds": round(o.seconds, 3)})
                        for o in outcomes
                    ],
                    VerdictPolicy(
                        sensitive_at=self.config.template.sensitive_at,
                        fail_on=self.config.template.fail_on,
                    ),
                )
            self._set(
                unit.key,
                status=status,
                sha256=sha,
                rules_sha256=self.rules_sha256,
                tool_version=__version__,
                error=None,
                attempts=attempts,
                image_id=image_id,
                host=outcome.host,
                duplicate_of=None,
                finished=utc_now(),
            )
        self.merged_this_run.add(str(sha))
        self.summary.scanned += 1
        self.summary.image_ids.append(image_id)
        return status

    # --- running ------------------------------------------------------------------------

    def run(self, run_id: int) -> None:
        # The executor first: a scheduler that cannot be reached fails before the case changes.
        executor, slots, close = make_executor(self.config)
        try:
            todo = self.plan(run_id)
            self.progress.start(len(todo), sum(size for _, size in todo))
            self._run(run_id, todo, executor, slots)
        finally:
            close()

    def _run(
        self, run_id: int, todo: list[tuple[Unit, int]], executor: Executor, slots: int
    ) -> None:
        order = {unit.key: i for i, (unit, _) in enumerate(todo)}
        states = {
            unit.key: _Scanning(
                unit,
                split_regions(_media_size(unit, size), self.config.region_bytes)
                if self.config.region_bytes > 0 and size > 0
                else (),
            )
            for unit, size in todo
        }
        results: dict[int, _Scanning] = {}  # index → a unit whose parts are all back
        cursor = 0
        # (unit key, part index, attempt); a split image's parts follow each other.
        queue = [(unit.key, i, 1) for unit, _ in todo for i in range(states[unit.key].count)]
        running: dict[Future[UnitOutcome], tuple[str, int, int, int]] = {}  # + slot
        free = list(range(slots))
        while queue or running:
            while queue and free:
                key, index, attempt = queue.pop(0)
                state = states[key]
                slot = free.pop(0)
                if not any(k == key for k, _, _, _ in running.values()) and index == 0:
                    self._set(key, status="running", attempts=attempt, started=utc_now())
                    self.store.db.commit()
                self.progress.unit_started(slot, state.unit, attempt, state.label(index))
                future = executor.submit(run_unit, state.spec(self.config.template, index))
                running[future] = (key, index, attempt, slot)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: (order[running[f][0]], running[f][1])):
                key, index, attempt, slot = running.pop(future)
                free.append(slot)
                free.sort()
                state = states[key]
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker or a broken pool
                    outcome = UnitOutcome(key, ok=False, error=f"worker lost: {exc}")
                if order[key] in results or state.failed is not None:
                    continue  # another part failed: the image is failed already
                state.attempts = max(state.attempts, attempt)
                if not outcome.ok and outcome.retryable and attempt < MAX_ATTEMPTS:
                    queue.insert(0, (key, index, attempt + 1))
                    self.progress.unit_finished(slot, state.unit, 0, "retry")
                    continue
                if not outcome.ok:
                    state.failed = outcome
                    queue = [task for task in queue if task[0] != key]
                else:
                    state.outcomes[index] = outcome
                complete = state.failed is not None or len(state.outcomes) == state.count
                size = self._part_bytes(state, index, todo)
                if complete:
                    results[order[key]] = state
                status = "failed" if state.failed else "done" if complete else "part"
                self.progress.unit_finished(slot, state.unit, size, status)
            # Merge in key order: ids independent of which unit finished first.
            while cursor in results:
                state = results.pop(cursor)
                cursor += 1
                if state.failed is not None:
                    error = state.failed.error or "failed"
                    if state.parts:
                        error = f"{error} (in one of its {len(state.parts)} regions)"
                    self._fail(state.unit, error, state.attempts)
                else:
                    outcomes = [state.outcomes[i] for i in range(state.count)]
                    self.merge(state.unit, outcomes, run_id, state.attempts)

    @staticmethod
    def _part_bytes(state: _Scanning, index: int, todo: list[tuple[Unit, int]]) -> int:
        """Bytes of the progress bar one finished part stands for."""
        total = next(size for unit, size in todo if unit.key == state.unit.key)
        if not state.parts:
            return total
        media = state.parts[-1].end
        part = state.parts[index]
        return total * (part.end - part.start) // max(1, media)


def run_batch(config: BatchConfig, progress: BatchProgress | None = None) -> BatchSummary:
    """Run a batch into ``config.output``/case.sqlite; returns what happened."""
    output = config.output
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    rules = load_rules([Path(p) for p in config.template.rules_dirs])
    store = CaseStore(output / "case.sqlite")
    try:
        ensure_batch_tables(store)
        record = run_record(config.command_line, rules, utc_now())
        record["options"] = {
            "batch": True,
            "workers": config.workers,
            "scheduler": config.scheduler,
            "force": config.force,
            "reveal": config.template.reveal,
            "jobs": config.template.parse_jobs,
            "pages": config.template.pages,
            "ocr": config.template.ocr_lang if config.template.ocr else None,
            "timeout": config.template.timeout,
            "region_bytes": config.region_bytes,
            "policy": {
                "sensitive_at": config.template.sensitive_at,
                "fail_on": config.template.fail_on,
            },
        }
        run_id = store.start_run(record)
        batch = _Batch(config, store, progress or BatchProgress())
        try:
            batch.run(run_id)
        except KeyboardInterrupt:
            # Every merged image is whole (one transaction each); what was running is pending.
            store.db.rollback()
            store.db.execute("UPDATE batch_units SET status = 'pending' WHERE status = 'running'")
            store.mark_interrupted(run_id, utc_now())
            (merged,) = store.db.execute(
                "SELECT COUNT(*) FROM batch_units WHERE status IN ('done', 'duplicate')"
            ).fetchone()
            raise BatchInterrupted(
                f"{output / 'case.sqlite'} keeps {merged} finished image(s); run the same "
                "command again to resume"
            ) from None
        finally:
            (progress or BatchProgress()).stop()
        store.finish_run(run_id, utc_now())
        from forensics.batch.fleet import write_fleet

        write_fleet(store, output)
        return batch.summary
    finally:
        store.close()


def command_line(argv: list[str]) -> str:
    return shlex.join(["pfa", "batch", *argv])
