#!/usr/bin/env python3
"""Benchmark the PCL 5 renderer (``forensics.render.pcl5``): pages per second.

Builds a 10-page PostScript document (30 lines of 12 pt Helvetica and a gray photo-like image
per page), prints it with Ghostscript's ``ljet4`` device at 600 dpi (raster rows in compression
modes 2 and 3, the image halftoned), and times ``render_pages("pcl5", …)`` over the whole job:
best of ``--repeat`` runs, in this process. Run it from the repository root::

    .venv/bin/python bench/bench_render_pcl5.py [--dpi 600] [--pages 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from forensics.render.base import RenderLimits, render_pages  # noqa: E402

LINES = (
    "Patient Name: Jane Example, SSN 219-09-9999",
    "Referral for cardiology review, Dr. A. Smith, ward 4 east",
    "Account 4711-0815, balance due 1,234.56 USD, due on receipt",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.",
)


def document(pages: int) -> str:
    """Text and a 128 × 128 gray image (a smooth ramp with a pattern) on every page."""
    out = ["%!PS", "/Helvetica findfont 12 scalefont setfont", "/row 128 string def"]
    for number in range(1, pages + 1):
        y = 740
        out.append(f"72 {y} moveto (Page {number} of {pages}) show")
        for index in range(30):
            y -= 14
            out.append(f"72 {y} moveto ({LINES[(index + number) % len(LINES)]}) show")
        out.append(
            f"/y {number} def gsave 72 60 translate 300 220 scale 128 128 8 "
            "[128 0 0 -128 0 128] { /y y 3 add def 0 1 127 { dup dup mul 7 idiv 1 index "
            "2 mul add y add 255 and row 3 1 roll put } for row } image grestore"
        )
        out.append("showpage")
    return "\n".join(out) + "\n"


def build_job(pages: int, dpi: int, work: Path) -> bytes:
    source = work / "doc.ps"
    target = work / "doc.pcl"
    source.write_text(document(pages))
    subprocess.run(
        [
            *("gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=ljet4", f"-r{dpi}"),
            *("-sPAPERSIZE=letter", f"-sOutputFile={target}", str(source)),
        ],
        check=True,
        timeout=600,
    )
    return target.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--dpi", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pcl5-") as folder:
        job = build_job(args.pages, args.dpi, Path(folder))
    best = float("inf")
    rendered = 0
    size = (0, 0)
    for _ in range(args.repeat):
        started = time.perf_counter()
        pages, notes = render_pages("pcl5", job, RenderLimits(max_seconds=600.0))
        elapsed = time.perf_counter() - started
        if notes or len(pages) != args.pages or not all(p.complete for p in pages):
            print(f"rendering problem: {len(pages)} pages, notes {notes}", file=sys.stderr)
            return 1
        rendered = len(pages)
        size = pages[0].image.size
        del pages
        best = min(best, elapsed)
    print(
        f"pcl5 render: {rendered} ljet4 pages at {args.dpi} dpi ({size[0]}x{size[1]}), "
        f"{len(job) / 1e6:.2f} MB job: best of {args.repeat} {best:.2f} s = "
        f"{rendered / best:.1f} pages/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
