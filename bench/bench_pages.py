"""Benchmark: pages per second for rendering and for OCR (issue 5).

Builds, with Ghostscript, a 20-page G4 fax (``tiffg4``, 204×196 dpi) and a 10-page PCL XL job
(``pxlmono``, 600 dpi) of text pages, then times the renderers (``render_pages``) and Tesseract
OCR of the rendered pages, one process and ``--workers`` at once.

    .venv/bin/python bench/bench_pages.py [--workers N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.tools import ghostscript
from forensics.render.base import RenderedPage, RenderLimits, render_pages
from forensics.render.ocr import check_available, ocr_page

LINES = [
    "Patient Name: Jane Example, SSN 219-09-9999",
    "Referral for cardiology review, Dr. A. Smith",
    "Account 4711-0815, balance due 1,234.56 USD",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
]


def document(pages: int, image: bool = False) -> str:
    """``pages`` pages of 30 text lines; with ``image``, a 128×128 grey image on each (raster
    data the way a driver sends a picture)."""
    out = ["%!PS", "/Helvetica findfont 12 scalefont setfont", "/row 128 string def"]
    for number in range(1, pages + 1):
        y = 740
        out.append(f"72 {y} moveto (Page {number}) show")
        for line in range(30):
            y -= 14
            out.append(f"72 {y} moveto ({LINES[(line + number) % len(LINES)]}) show")
        if image:
            out.append(
                f"/y {number} def gsave 72 60 translate 300 220 scale 128 128 8 "
                "[128 0 0 -128 0 128] { /y y 3 add def 0 1 127 { dup dup mul 7 idiv 1 index "
                "2 mul add y add 255 and row 3 1 roll put } for row } image grestore"
            )
        out.append("showpage")
    return "\n".join(out) + "\n"


def pclxl_payload(data: bytes) -> bytes:
    """The PCL XL stream inside Ghostscript's PJL wrapper (what the job pipeline renders)."""
    start = data.index(b") HP-PCL XL;")
    end = data.rindex(b"\x1b%-12345X")
    return data[start:end]


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def ocr_all(pages: list[RenderedPage], workers: int) -> None:
    with ThreadPoolExecutor(workers) as pool:  # each thread drives one tesseract process
        list(pool.map(ocr_page, pages))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    check_available()
    with tempfile.TemporaryDirectory(prefix="pfa-bench-pages-") as work_dir:
        work = Path(work_dir)
        jobs = {
            "tiff (20-page G4 fax, 204x196 dpi)": (
                "tiff",
                ghostscript("tiffg4", document(20), work, "-r204x196"),
            ),
            "pclxl (10-page pxlmono, 600 dpi, text + grey image)": (
                "pclxl",
                pclxl_payload(ghostscript("pxlmono", document(10, True), work, "-r600")),
            ),
            "pcl5 (10-page ljet4 raster, 600 dpi)": (
                "pcl5",
                ghostscript("ljet4", document(10), work, "-r600"),
            ),
        }
        print(
            f"| job | pages | render pages/s | OCR pages/s (1 process) | OCR pages/s ({args.workers} processes) |"
        )
        print("|---|---|---|---|---|")
        for label, (fmt, data) in jobs.items():
            pages, notes = render_pages(fmt, data, RenderLimits(max_seconds=600))
            if not pages:
                print(f"| {label} | 0 | not rendered: {'; '.join(notes) or 'no renderer'} | | |")
                continue
            limits = RenderLimits(max_seconds=600)
            render_s = best(args.repeat, partial(render_pages, fmt, data, limits))
            ocr_one = best(1, partial(ocr_all, pages, 1))
            ocr_many = best(1, partial(ocr_all, pages, args.workers))
            count = len(pages)
            print(
                f"| {label} | {count} | {count / render_s:.1f} | {count / ocr_one:.2f} | {count / ocr_many:.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
