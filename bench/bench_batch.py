#!/usr/bin/env python3
"""Benchmark ``pfa batch``: N printer-like images with 1 worker and with 2 workers.

The images are bench_scan.py's deterministic printer disks (one seed per image, so no two are
the same media and none is skipped as a duplicate). Each run writes a fresh case. Reported:
wall time, images/hour, MiB/s, and scaling efficiency = (t1 / tN) / N. Run from the repository
root::

    .venv/bin/python bench/bench_batch.py [--images 8] [--size 256M] [--workers 1,2]
    .venv/bin/python bench/bench_batch.py --images 1 --size 1G --workers 2 --region-size 0,256M

``--region-size`` runs each worker count once per region size (0: every image whole), to
measure what splitting a large image into regions (one work unit each) costs or gains.

The load average before and after each run is printed: on a shared machine other processes take
CPU from the batch, and the efficiency is only as good as the CPUs that were really free.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scan  # the image builder lives next to this script

ROOT = Path(__file__).resolve().parent.parent


def build_fleet(count: int, size: int, workdir: Path) -> list[Path]:
    fleet = workdir / "fleet"
    fleet.mkdir(parents=True, exist_ok=True)
    images = []
    for i in range(count):
        sub = workdir / f"img{i}"
        sub.mkdir(parents=True, exist_ok=True)
        seed = bench_scan.DEFAULT_SEED + i
        built = bench_scan.reuse_image(size, seed, sub) or bench_scan.build_image(size, seed, sub)
        link = fleet / f"printer-{i:02d}.img"
        if not link.exists():
            link.symlink_to(built.path)
        images.append(link)
    return images


def run_batch(fleet: Path, out: Path, workers: int, region: str = "0") -> dict[str, float]:
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "forensics.batch", str(fleet), "-o", str(out), "-q"),
            *("--workers", str(workers), "--region-size", region),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({done.returncode}): {done.stderr.strip()}")
    return {"seconds": seconds, "load_before": load_before, "load_after": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", default="256M")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "work" / "batch")
    parser.add_argument("--region-size", default="0", help="comma-separated, e.g. 0,256M")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    size = bench_scan.parse_size(args.size)
    workdir = args.workdir.absolute()
    started = time.perf_counter()
    images = build_fleet(args.images, size, workdir)
    print(
        f"built/reused {len(images)} x {args.size} images in {time.perf_counter() - started:.0f} s"
    )
    total_mib = args.images * size / (1 << 20)
    results: dict[str, dict[str, float]] = {}
    for region in args.region_size.split(","):
        seconds: dict[int, float] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            label = f"workers={workers}" + (f" region-size={region}" if region != "0" else "")
            out = workdir / f"case-w{workers}-r{region}"
            result = run_batch(workdir / "fleet", out, workers, region)
            result["images_per_hour"] = args.images * 3600 / result["seconds"]
            result["mib_per_s"] = total_mib / result["seconds"]
            seconds[workers] = result["seconds"]
            if 1 in seconds and workers > 1:
                result["scaling_efficiency"] = seconds[1] / result["seconds"] / workers
            results[label] = result
            efficiency = (
                f", scaling efficiency {result['scaling_efficiency']:.0%}"
                if "scaling_efficiency" in result
                else ""
            )
            print(
                f"{label}: {result['seconds']:.1f} s, "
                f"{result['images_per_hour']:.0f} images/hour, {result['mib_per_s']:.1f} MiB/s "
                f"(load average {result['load_before']:.2f} -> {result['load_after']:.2f}, "
                f"{os.cpu_count()} CPUs){efficiency}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
