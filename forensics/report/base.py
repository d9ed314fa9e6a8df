"""Report writers: one plug-in per output format, each rendering records from the case store.

Reports read records, never bytes (DESIGN.md): a writer gets a :class:`CaseStore` and writes
files; it never opens the evidence. Defining a subclass of :class:`ReportWriter` with a ``name``
registers it in :data:`WRITERS` (as format parsers register), and every module of this package
is imported by :func:`load_writers`, so a new format is a new module, not an edit to a list.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from forensics.errors import InputError
from forensics.store import CaseStore

log = logging.getLogger("forensics.report")

# What ``pfa scan`` writes beside case.sqlite (in this order). Formats that are only asked for
# (``pfa report --format ...``) stay out: each default costs time on every scan.
DEFAULT_FORMATS: tuple[str, ...] = ("json", "html")


@dataclass(frozen=True)
class ReportOptions:
    image_ids: tuple[int, ...] | None = None  # None: every image in the case
    banner: str | None = None  # --banner TEXT (classification / case number line)
    bom: bool = False  # CSV: UTF-8 BOM for spreadsheets


class ReportWriter:
    """One output format. ``write`` returns the files (or folders) it wrote."""

    name: ClassVar[str] = ""  # the --format value
    description: ClassVar[str] = ""
    default_name: ClassVar[str] = ""  # file (or folder) written in the output folder

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in WRITERS:
                raise ValueError(f"report format {cls.name!r} registered twice")
            WRITERS[cls.name] = cls

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        raise NotImplementedError


WRITERS: dict[str, type[ReportWriter]] = {}


def load_writers() -> dict[str, type[ReportWriter]]:
    """Every registered writer (importing the package's modules registers them)."""
    import forensics.report as package
    from forensics.plugins import import_submodules

    import_submodules(package, skip=("base",))
    return WRITERS


def writer(name: str) -> ReportWriter:
    writers = load_writers()
    if name not in writers:
        raise InputError(f"unknown report format {name!r} (known: {', '.join(sorted(writers))})")
    return writers[name]()


# --- reading the case: shared by the writers ---------------------------------------------


def image_ids(case: CaseStore, options: ReportOptions) -> list[int]:
    """The finished images a report covers, in scan order; InputError for an unknown id."""
    known = [
        int(row[0])
        for row in case.db.execute(
            "SELECT image_id FROM images WHERE verdict IS NOT NULL ORDER BY image_id"
        )
    ]
    if not known:
        # Nothing to report is an answer the user must see, not an empty success.
        interrupted = case.db.execute(
            "SELECT COUNT(*) FROM images WHERE verdict IS NULL AND data LIKE '%\"interrupted\":true%'"
        ).fetchone()[0]
        why = " (its scan was interrupted: run it again)" if interrupted else ""
        raise InputError(f"{case.path} holds no finished scan{why}")
    if options.image_ids is None:
        return known
    missing = [i for i in options.image_ids if i not in known]
    if missing:
        raise InputError(f"no finished scan of image {missing[0]} in {case.path}")
    return [i for i in known if i in options.image_ids]


def image_run(case: CaseStore, image_id: int) -> dict[str, Any]:
    """The run record that scanned ``image_id`` (provenance: tool, rules, command line, times)."""
    row = case.db.execute(
        "SELECT runs.data, runs.finished FROM images JOIN runs ON runs.run_id = images.run_id"
        " WHERE images.image_id = ?",
        (image_id,),
    ).fetchone()
    if row is None or not row[0]:
        return {}
    run: dict[str, Any] = json.loads(row[0])
    run.setdefault("finished", row[1])
    return run


def revealed(run: dict[str, Any]) -> bool:
    """Whether the scan kept unmasked values (``--reveal``): the store then holds them."""
    return bool(run.get("options", {}).get("reveal"))


def has_table(case: CaseStore, table: str) -> bool:
    """Tables added by later versions (print jobs, artefacts, timeline) may be absent."""
    row = case.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def table_records(case: CaseStore, table: str, image_id: int) -> Iterator[dict[str, Any]]:
    """The JSON records of an optional table (``data`` column) for one image; none if absent."""
    if not has_table(case, table):
        return
    columns = {str(r[1]) for r in case.db.execute(f"PRAGMA table_info({table})")}
    if not {"data", "image_id"} <= columns:
        return
    for (data,) in case.db.execute(
        f"SELECT data FROM {table} WHERE image_id = ? ORDER BY rowid", (image_id,)
    ):
        if data:
            yield json.loads(data)


def files(case: CaseStore, image_id: int) -> Iterator[dict[str, Any]]:
    for (data,) in case.db.execute(
        "SELECT data FROM files WHERE image_id = ? ORDER BY file_id", (image_id,)
    ):
        yield json.loads(data)


def per_image_path(dest: Path, image_id: int, many: bool) -> Path:
    """``dest`` for a one-image report; ``dest`` with the image id in its name otherwise."""
    return dest.with_name(f"{dest.stem}-image{image_id}{dest.suffix}") if many else dest


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[Path]:
    """Write to ``dest.partial`` and rename on success: a report that exists is complete."""
    tmp = dest.with_name(dest.name + ".partial")
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_reports(
    case: CaseStore,
    folder: Path,
    formats: Sequence[str],
    options: ReportOptions,
    workers: int = 1,
) -> list[Path]:
    """Write each format under its default name in ``folder`` (see ``write_all``)."""
    plugins = [writer(name) for name in formats]
    return write_all(case, [(p, folder / p.default_name) for p in plugins], options, workers)


def write_all(
    case: CaseStore,
    targets: Sequence[tuple[ReportWriter, Path]],
    options: ReportOptions,
    workers: int = 1,
) -> list[Path]:
    """Write each (writer, destination); the files written, in the order of ``targets``.

    With ``workers`` > 1 the reports after the first are written at the same time by up to
    ``workers - 1`` forked processes, each reading the case through a read-only connection of
    its own, while this process writes the first: a scan's reports then take the time of the
    slowest one, not the sum (1 GiB benchmark: JSON 0.17 s, HTML 0.46 s). Each process gets
    its share as one call, so Ctrl-C (which reaches the whole process group) stops all of
    them at once. A writer's error is raised here as it would be when written in turn.
    Pending writes are committed first; only one thread may be running: a fork copies no other
    thread, and a lock one of them held would stay locked in the child.
    """
    parallel = min(max(1, workers) - 1, len(targets) - 1)
    if parallel < 1 or "fork" not in mp.get_all_start_methods():
        return [p for plugin, dest in targets for p in _write(case, plugin, dest, options)]
    if case.db.in_transaction:
        case.db.commit()  # the forked writers read what is committed, as this one must
    indexed = list(enumerate(targets))
    shares = [indexed[1 + i :: parallel] for i in range(parallel)]
    written: dict[int, list[Path]] = {}
    with ProcessPoolExecutor(parallel, mp_context=mp.get_context("fork")) as pool:
        futures = [
            pool.submit(
                _write_forked,
                case.path,
                [(plugin.name, dest) for _, (plugin, dest) in share],
                options,
            )
            for share in shares
        ]
        plugin, dest = targets[0]
        written[0] = _write(case, plugin, dest, options)
        for share, future in zip(shares, futures, strict=True):
            for (index, _), paths in zip(share, future.result(), strict=True):
                written[index] = paths
    return [p for index in range(len(targets)) for p in written[index]]


def _write(case: CaseStore, plugin: ReportWriter, dest: Path, options: ReportOptions) -> list[Path]:
    paths = plugin.write(case, dest, options)
    log.info("wrote the %s report", plugin.name)
    return paths


def _write_forked(
    case_path: Path, share: list[tuple[str, Path]], options: ReportOptions
) -> list[list[Path]]:
    # The parent's connection must not be used after a fork (SQLite, "How To Corrupt Your
    # Database Files", 2.6): the child opens the case afresh, read-only.
    with CaseStore.open_existing(case_path) as case:
        return [_write(case, writer(name), dest, options) for name, dest in share]


def remove_stale(folder: Path) -> None:
    """Delete reports an earlier run left in ``folder`` under the writers' default names."""
    for cls in load_writers().values():
        path = folder / cls.default_name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            # Only what a writer puts there: a folder of the user's own is never emptied.
            for child in path.iterdir():
                if child.is_file() and child.suffix in (".csv", ".partial"):
                    child.unlink()
            with contextlib.suppress(OSError):
                path.rmdir()
