#!/usr/bin/env python3
"""Benchmark report writing against ``pfa scan --no-pages`` on the 256 MiB benchmark image.

Issue 10 requires that writing the reports adds less than 10 % to ``pfa scan --no-pages``.
The image is the one ``bench/bench_scan.py`` builds (same recipe and seed, reused when it is
already in the work folder). Measured:

1. ``pfa scan IMAGE -o OUT --no-pages -q`` end to end (it writes the default reports,
   ``DEFAULT_FORMATS``), median of ``--repeat`` runs;
2. on the case that scan left, each report writer in this process (median of the same number
   of runs): the default formats together, then every registered format on its own.

3. print-job consolidation (``forensics/printjobs``: print jobs, device artefacts, the
   timeline), which every scan runs before its reports, on a copy of that case.

Overhead = (default-report time + consolidation time) / (scan time - both), i.e. what issue
10's records and reports add to a scan that made neither. Run from the repository root::

    .venv/bin/python bench/bench_report.py [--repeat 3] [--workdir bench/work] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import bench_scan  # noqa: E402  (beside this file)

from forensics.printjobs import consolidate_into_store  # noqa: E402
from forensics.report.base import (  # noqa: E402
    DEFAULT_FORMATS,
    ReportOptions,
    load_writers,
    write_reports,
)
from forensics.store import CaseStore  # noqa: E402

SIZE = 256 * bench_scan.MIB
MAX_OVERHEAD = 0.10  # issue 10: reports add less than 10 % to pfa scan --no-pages


def timed_scan(image: Path, out: Path) -> float:
    # An installed pfa runs from byte-compiled modules; without this, a shell that sets
    # PYTHONDONTWRITEBYTECODE makes every scan compile ~150 modules again (about 0.3 s).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run(
        [*bench_scan.pfa_command(), "scan", str(image), "-o", str(out), "--no-pages", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"pfa scan failed ({done.returncode}): {done.stderr.strip()}")
    return wall


def timed_reports(case: Path, formats: tuple[str, ...], dest: Path) -> float:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with CaseStore.open_existing(case) as store:
        start = time.perf_counter()
        write_reports(store, dest, formats, ReportOptions())
        return time.perf_counter() - start


def timed_consolidation(case: Path, work: Path) -> float:
    copy = work / "consolidate.sqlite"
    shutil.copyfile(case, copy)
    with CaseStore(copy) as store:
        start = time.perf_counter()
        consolidate_into_store(store, 1)
        seconds = time.perf_counter() - start
    copy.unlink()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--keep", action="store_true", help="keep the scan output")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    built = bench_scan.reuse_image(SIZE, bench_scan.DEFAULT_SEED, workdir)
    if built is None:
        print("building the 256 MiB benchmark image …", flush=True)
        built = bench_scan.build_image(SIZE, bench_scan.DEFAULT_SEED, workdir)
    image = Path(built.path)
    out = Path(tempfile.mkdtemp(prefix="bench-report-", dir=workdir))
    try:
        scans = [timed_scan(image, out / "scan") for _ in range(args.repeat)]
        case = out / "scan" / "case.sqlite"
        with CaseStore.open_existing(case) as store:
            counts = {
                t: store.count(t, 1)
                for t in ("files", "jobs", "print_jobs", "artefacts", "timeline", "findings")
            }
        consolidations = [timed_consolidation(case, out) for _ in range(args.repeat)]
        defaults = [
            timed_reports(case, DEFAULT_FORMATS, out / "defaults") for _ in range(args.repeat)
        ]
        each = {
            name: statistics.median(
                timed_reports(case, (name,), out / name) for _ in range(args.repeat)
            )
            for name in sorted(load_writers())
        }
        scan = statistics.median(scans)
        report = statistics.median(defaults)
        consolidation = statistics.median(consolidations)
        added = report + consolidation
        overhead = added / max(scan - added, 1e-9)
        lines = [
            f"image: {image.name}, {built.size // bench_scan.MIB} MiB, sha256 {built.sha256[:16]}…",
            "case: " + ", ".join(f"{v} {k}" for k, v in counts.items()),
            f"pfa scan --no-pages -q (writes {', '.join(DEFAULT_FORMATS)}): "
            f"{scan:.2f} s median of {args.repeat}",
            f"print-job consolidation: {consolidation:.3f} s median",
            f"default reports ({', '.join(DEFAULT_FORMATS)}): {report:.3f} s median",
            *(f"  {name}: {seconds:.3f} s" for name, seconds in each.items()),
            f"overhead: {100 * overhead:.1f} % of a scan without print jobs and reports "
            f"(limit {100 * MAX_OVERHEAD:.0f} %): {'PASS' if overhead < MAX_OVERHEAD else 'FAIL'}",
        ]
        print("\n".join(lines))
        return 0 if overhead < MAX_OVERHEAD else 1
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
