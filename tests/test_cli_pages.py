"""The page commands from a user's seat: pfa scan renders and OCRs pages (previews in
OUT/pages), --no-ocr / --no-pages turn that off, pfa pages and pfa extract write page PNGs, and
pfa extract gives a carved job's bytes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fixtures import carving
from fixtures.tools import ghostscript
from forensics.cli import main

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"

pytestmark = pytest.mark.skipif(
    shutil.which("gs") is None or shutil.which("tesseract") is None,
    reason="Ghostscript and Tesseract are installed by make setup",
)


@pytest.fixture(scope="module")
def fax_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spool")
    source = folder.parent / "fax.ps"
    source.write_text(
        f"%!PS\n/Helvetica findfont 14 scalefont setfont 72 700 moveto ({SENTENCE}) show showpage\n"
    )
    (folder / "fax0001.tif").write_bytes(
        ghostscript("tiffg4", source.read_bytes(), folder.parent, "-r204x196")
    )
    return folder


def _scan(target: Path, out: Path, *extra: str) -> dict[str, Any]:
    assert main(["scan", str(target), "-o", str(out), "-q", *extra]) in (0, 1)
    return json.loads((out / "report.json").read_text())


def test_scan_renders_ocrs_and_writes_previews(fax_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "case"
    report = _scan(fax_folder, out)
    (job,) = report["jobs"]
    (page,) = job["rendered_pages"]
    assert page["ocr"] is True and page["ocr_confidence"] > 60
    preview = out / page["preview"]
    assert preview.is_file() and preview.parent == out / "pages"
    assert Image.open(preview).width <= 1728 * 150 // 204 + 1  # at most 150 dpi
    thumbnail = out / page["thumbnail"]  # what report.html embeds
    assert thumbnail.parent == out / "pages" and max(Image.open(thumbnail).size) <= 160
    ssn = [f for f in report["findings"] if f["rule"] == "pii_ssn_formatted"]
    assert len(ssn) == 1 and ssn[0]["job_id"] == job["job_id"]
    assert ssn[0]["ocr_confidence"] == page["ocr_confidence"]
    assert ssn[0]["value"] is None and "219" not in ssn[0]["value_masked"]  # masked by default
    assert report["verdict"]["verdict"] == "sensitive"
    assert report["run"]["options"]["ocr"] == "eng"


def test_no_ocr_and_no_pages(fax_folder: Path, tmp_path: Path) -> None:
    report = _scan(fax_folder, tmp_path / "a", "--no-ocr")
    (page,) = report["jobs"][0]["rendered_pages"]
    assert page["ocr"] is False
    assert not [f for f in report["findings"] if f["rule"] == "pii_ssn_formatted"]
    report = _scan(fax_folder, tmp_path / "b", "--no-pages")
    assert report["jobs"][0]["rendered_pages"] == []
    assert report["run"]["options"]["pages"] is False


def test_pfa_pages_writes_full_and_reduced_pages(fax_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "case"
    report = _scan(fax_folder, out, "--no-ocr")
    job_id = report["jobs"][0]["job_id"]
    assert main(["pages", str(out), "--job", job_id, "-o", str(tmp_path / "full")]) == 0
    (full,) = sorted((tmp_path / "full").glob("*.png"))
    assert Image.open(full).size == (1728, 2292)  # 8.5 x 11.7 in at 204 x 196 dpi
    assert main(["pages", str(out), "--job", job_id, "-o", str(tmp_path / "small"),
                 "--dpi", "100"]) == 0  # fmt: skip
    (small,) = sorted((tmp_path / "small").glob("*.png"))
    assert Image.open(small).width == round(1728 * 100 / 204)


def test_pfa_pages_rejects_unknown_job(fax_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "case"
    _scan(fax_folder, out, "--no-ocr")
    assert main(["pages", str(out), "--job", "J000000000000", "-o", str(tmp_path / "x")]) == 2


def test_extract_carved_job_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = carving.build_ext4_carving(tmp_path / "img")
    out = tmp_path / "case"
    report = _scan(built.path, out)
    placed = built.jobs["nofile"]
    (job,) = [j for j in report["jobs"] if j["image_offset"] == placed.image_offset]
    assert main(["extract", str(out), "--job", job["job_id"], "-o", str(tmp_path / "x")]) == 0
    (raw,) = (tmp_path / "x").glob("*.bin")
    assert raw.read_bytes() == placed.data
    capsys.readouterr()
    assert main(["jobs", str(out)]) == 0
    assert "unallocated (carved)" in capsys.readouterr().out


LONG_JOB = "%!PS\n/Courier findfont 10 scalefont setfont\n" + "".join(
    f"0 1 60 {{ 12 mul 40 add 72 exch moveto (Page {n}: line of a long report) show }} for "
    "showpage\n"
    for n in range(1, 25)
)
# The child's own peak: VmHWM of its memory map (getrusage's ru_maxrss carries the parent's
# peak across fork and exec on Linux, and pytest's is large by the end of the suite).
PEAK_RSS = """
import re, sys
from pathlib import Path
from forensics.cli import main
code = main(["scan", sys.argv[1], "-o", sys.argv[2], "-q", "--no-ocr"])
peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
print(code, int(peak.group(1)) // 1024)
"""


def test_a_long_600_dpi_job_is_previewed_a_page_at_a_time(tmp_path: Path) -> None:
    """24 pages of PCL XL at 600 dpi (Ghostscript pxlmono): each page is 35 MB as grey, ~830
    MB for the job. Pages are previewed and let go one at a time, so the scan's peak memory
    stays near one page's, and every page still gets its preview."""
    job = tmp_path / "long.pxl"
    job.write_bytes(ghostscript("pxlmono", LONG_JOB, tmp_path, "-r600", "-sPAPERSIZE=letter"))
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(job), str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    code, peak_mib = (int(word) for word in run.stdout.split())
    assert code in (0, 1)
    report = json.loads((out / "report.json").read_text())
    (top,) = [j for j in report["jobs"] if j["format"] == "pclxl"]
    pages = top["rendered_pages"]
    assert [page["number"] for page in pages] == list(range(1, 25))
    assert all((out / page["preview"]).is_file() for page in pages)
    assert (pages[0]["width"], pages[0]["height"]) == (5100, 6600)
    assert peak_mib < 400, f"peak RSS {peak_mib} MiB"
