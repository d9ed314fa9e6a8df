#!/usr/bin/env python3
"""Benchmark ``pfa verify-wipe`` against ``cat IMAGE > /dev/null`` on a 1 GiB image.

The image is what a verification usually meets: an MBR disk that is mostly zeros, with some
random regions (ciphertext or compressed leftovers) and some text (old spool files and logs),
built deterministically from a seed. Every command runs from a warm page cache (one untimed
``cat`` first), in a fresh process, interleaved; the median wall time gives MB/s. Run it from
the repository root::

    .venv/bin/python bench/bench_wipe.py [--size 1G] [--repeat 3] [--workdir bench/work] [--keep]

See bench/README.md ("pfa verify-wipe") for the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
SECTOR = 512
BUILD_VERSION = 1  # bump when the recipe changes: --reuse then rebuilds
DEFAULT_SEED = 20231114
# Shares of the image, as (offset, length) fractions: random regions and a text region.
RANDOM_REGIONS = ((0.09, 0.0625), (0.68, 0.015))  # 6.25 % and 1.5 % of the image
TEXT_REGION = (0.29, 0.0078)
SCATTERED_TEXT_BLOCKS = 500  # 4 KiB blocks of text anywhere: old files in free space
WORDS = ("invoice", "payroll", "account", "customer", "printer", "scan", "copy", "fax", "job",
         "user", "document", "page", "tray", "toner", "duplex", "queue", "spool", "held",
         "released", "secure", "print", "mailbox", "address")  # fmt: skip


def parse_size(text: str) -> int:
    units = {"M": MIB, "MIB": MIB, "G": 1024 * MIB, "GIB": 1024 * MIB}
    for suffix in sorted(units, key=len, reverse=True):
        if text.upper().endswith(suffix):
            return int(float(text[: -len(suffix)]) * units[suffix])
    return int(text)


def text_bytes(rng: random.Random, length: int) -> bytes:
    lines = []
    total = 0
    while total < length:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 14)))
        line = f"{rng.randrange(10**5):05d} {line}\r\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:length]


def build(path: Path, size: int, seed: int) -> dict[str, object]:
    """Write the image (streaming, 1 MiB at a time); return its recipe."""
    rng = random.Random(f"{seed}:{size}")
    path.unlink(missing_ok=True)
    subprocess.run(["truncate", "-s", str(size), str(path)], check=True)
    subprocess.run(
        ["sfdisk", "-q", "--no-reread", "--no-tell-kernel", str(path)],
        input=b"label: dos\nlabel-id: 0x50524e42\nunit: sectors\n\nstart=2048, type=83\n",
        check=True,
        capture_output=True,
    )
    written = 0
    with path.open("r+b") as fh:

        def put(offset: int, length: int, make: object) -> None:
            nonlocal written
            fh.seek(offset)
            done = 0
            while done < length:
                piece = min(MIB, length - done)
                fh.write(make(piece))  # type: ignore[operator]
                done += piece
            written += length

        for start, share in RANDOM_REGIONS:
            put(int(size * start) // MIB * MIB, int(size * share), rng.randbytes)
        start, share = TEXT_REGION
        put(int(size * start) // MIB * MIB, int(size * share), lambda n: text_bytes(rng, n))
        for _ in range(SCATTERED_TEXT_BLOCKS):
            offset = rng.randrange(MIB, size - 4096) // 4096 * 4096
            put(offset, 4096, lambda n: text_bytes(rng, n))
    return {"version": BUILD_VERSION, "seed": seed, "size": size, "bytes_written": written}


@dataclass
class Timing:
    label: str
    walls: list[float]
    internal: list[float]  # verify-wipe's own pass (read + classify), from --json
    output: str = ""

    def median(self) -> float:
        return statistics.median(self.walls)


def timed(command: list[str], shell: bool = False) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        " ".join(command) if shell else command,
        shell=shell,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return wall, proc.stdout.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--keep", action="store_true", help="keep the image")
    parser.add_argument("--reuse", action="store_true", help="reuse an image of the same recipe")
    args = parser.parse_args()
    size = parse_size(args.size)
    args.workdir.mkdir(parents=True, exist_ok=True)
    image = args.workdir / f"wipe-{args.size}.img"
    recipe_path = image.with_suffix(".json")
    started = time.perf_counter()
    recipe: dict[str, object] | None = None
    if args.reuse and image.exists() and recipe_path.exists():
        recipe = json.loads(recipe_path.read_text())
        if recipe != {**recipe, "version": BUILD_VERSION, "seed": args.seed, "size": size}:
            recipe = None
    if recipe is None:
        recipe = build(image, size, args.seed)
        recipe_path.write_text(json.dumps(recipe, indent=2) + "\n")
    build_seconds = time.perf_counter() - started
    subprocess.run(["sync"], check=False)
    pfa = [sys.executable, "-m", "forensics", "verify-wipe", str(image), "--json"]
    commands = {
        "cat": (["cat", str(image), ">", "/dev/null"], True),
        "full": (pfa, False),
        "sample": ([*pfa, "--sample", "10", "--seed", "1"], False),
    }
    labels = {
        "cat": "`cat IMAGE > /dev/null`",
        "full": "`pfa verify-wipe IMAGE` (every sector)",
        "sample": "`pfa verify-wipe IMAGE --sample 10 --seed 1`",
    }
    timed(commands["cat"][0], shell=True)  # warm the page cache
    timings = {key: Timing(labels[key], [], []) for key in commands}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for key, (command, shell) in commands.items():
            wall, out = timed(command, shell)
            timing = timings[key]
            timing.walls.append(wall)
            if key != "cat":
                doc = json.loads(out)
                timing.internal.append(doc["read"]["seconds"])
                counts = doc["counts"]
                timing.output = (
                    f"verdict {doc['verdict']['verdict']}; {doc['sampling']['sectors_read']} "
                    f"sectors read: {counts['zero']} zero, {counts['random']} random, "
                    f"{counts['structured']} structured; {doc['regions_total']} regions"
                )
    load_after = os.getloadavg()[0]
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "| command | wall s (median, best) | MB/s (wall) | pass s (median) | MB/s (pass) | output |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for timing in timings.values():
        wall = timing.median()
        mbs = size / 1e6 / wall
        if timing.internal:
            inner = statistics.median(timing.internal)
            inner_text, inner_mbs = f"{inner:.2f}", f"{size / 1e6 / inner:.0f}"
        else:
            inner_text, inner_mbs = "", ""
        lines.append(
            f"| {timing.label} | {wall:.2f} ({min(timing.walls):.2f}) | {mbs:.0f} | "
            f"{inner_text} | {inner_mbs} | {timing.output} |"
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"Date: {when}; machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
            f"Python {platform.python_version()}; pfa at commit {commit}.",
            f"Image: {size // MIB} MiB MBR disk, {int(recipe['bytes_written']) // MIB} MiB "  # type: ignore[call-overload]
            f"written (random and text regions, {SCATTERED_TEXT_BLOCKS} scattered 4 KiB text "
            f"blocks), the rest zero; built in {build_seconds:.1f} s. Page cache warm; "
            f"{args.repeat} interleaved runs; load average {load_before:.2f} before, "
            f"{load_after:.2f} after.",
            "MB/s (wall) = image bytes / 10^6 / median wall time of the whole process (start-up "
            "included); MB/s (pass) = the same over verify-wipe's own reading and classifying "
            "pass (`read.seconds` of --json). With --sample the whole image is still read "
            "(dense samples are read chunk by chunk), but only the sampled sectors are "
            "classified.",
            "",
            *lines,
        ]
    )
    (args.workdir / "wipe-results.md").write_text(report + "\n")
    print(report)
    if not args.keep:
        image.unlink(missing_ok=True)
        recipe_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
