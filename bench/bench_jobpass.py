#!/usr/bin/env python3
"""Benchmark the file-job pass of ``pfa scan`` alone, batched against one source a task.

The whole-scan benchmark (bench_scan.py) times the job pass inside a run of several seconds
whose stream varies by ±30 % on a shared machine; a change to how sources reach the workers
is smaller than that. Here the image is walked once per run (not timed), then only
``_ImageScan.job_pass`` is timed, the variants interleaved round by round in one process:
wall seconds, and CPU seconds of this process and of the workers it forked. The variants set
``forensics.jobs.BATCH_SOURCES`` / ``BATCH_BYTES`` (the workers fork after, so they see it).

There is no stream, so no carving and no raw findings to deduplicate against: it measures
parsing and storing the job files, which is what batching changes. Run from the repository
root, on an image of bench_scan.py::

    .venv/bin/python bench/bench_jobpass.py bench/work/printer-1GiB.img [--rounds 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensics import jobs
from forensics.detect.rules import load_rules
from forensics.progress import Progress
from forensics.records import utc_now
from forensics.scan import ScanOptions, _ImageScan, open_evidence, run_record
from forensics.store import CaseStore

VARIANTS = {"one source a task": (1, 0), "batched": (jobs.BATCH_SOURCES, jobs.BATCH_BYTES)}


def cpu_seconds() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, once joined
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def time_job_pass(image_path: Path, work: Path, label: str, workers: int) -> tuple[float, ...]:
    """One job pass over the image's files: wall, parent CPU and workers' CPU seconds, and the
    jobs stored."""
    rules = load_rules()
    options = ScanOptions(rules=rules, compute_hashes=False, workers=workers)
    store = CaseStore(work / f"{label.replace(' ', '-')}-{time.monotonic_ns()}.sqlite")
    image = open_evidence(image_path)
    try:
        run_id = store.start_run(run_record(f"bench_jobpass {label}", rules, utc_now()))
        image_id = store.add_image(run_id, str(image_path), image.size)
        scan = _ImageScan(image, options, store, image_id, Progress())
        scan.map_structure()
        scan._sniff_all()
        own0, children0 = cpu_seconds()
        started = time.perf_counter()
        scan.job_pass()
        wall = time.perf_counter() - started
        own1, children1 = cpu_seconds()
        return wall, own1 - own0, children1 - children0, float(scan.jobs)
    finally:
        image.close()
        store.db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--also", action="append", default=[], metavar="SOURCES:BYTES", help="another batching"
    )
    args = parser.parse_args()
    if not args.image.is_file():
        print(f"bench_jobpass: {args.image} is not a file (build it with bench_scan.py)")
        return 2
    for spec in args.also:
        sources, _, size = spec.partition(":")
        VARIANTS[f"batches of {sources} or {size} bytes"] = (int(sources), int(size))
    results: dict[str, list[tuple[float, ...]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="pfa-bench-jobpass-") as work_dir:
        for round_number in range(args.rounds):
            order = list(VARIANTS) if round_number % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                jobs.BATCH_SOURCES, jobs.BATCH_BYTES = VARIANTS[name]
                results[name].append(time_job_pass(args.image, Path(work_dir), name, args.workers))
                wall, own, children, count = results[name][-1]
                print(
                    f"round {round_number + 1} {name}: {wall:.2f} s wall, parent {own:.2f} "
                    f"CPU-s, workers {children:.2f} CPU-s, {count:.0f} jobs",
                    flush=True,
                )
    print(f"\n| variant | wall s (median of {args.rounds}) | parent CPU-s | workers CPU-s |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        wall, own, children = (statistics.median(row[i] for row in rows) for i in range(3))
        print(f"| {name} | {wall:.2f} | {own:.2f} | {children:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
