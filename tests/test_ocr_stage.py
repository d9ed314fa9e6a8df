"""The scan's OCR stage from a user's seat: copies of the same page are OCR'd once and each copy
still reports its finding; ``--ocr-budget`` spends itself on jobs without decoded text first,
and every page it leaves out is named (on the page and as a problem), never skipped silently."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fixtures.tools import ghostscript
from forensics.cli import main
from forensics.evidence.address import EvidenceAddress
from forensics.records import LocationClass
from forensics.render.base import RenderedPage
from forensics.render.ocr import OcrResult
from forensics.render.ocrqueue import (
    OcrBudget,
    OcrBudgetError,
    OcrRequest,
    OcrSpool,
    run_ocr,
)

pytestmark = pytest.mark.skipif(
    shutil.which("gs") is None or shutil.which("tesseract") is None,
    reason="Ghostscript and Tesseract are installed by make setup",
)

FAX_LINE = "Patient Name: Jane Example, SSN 536-22-8714"
LETTER_LINE = "Invoice for Mr Example, card 4556 7375 8689 9855"


def _page(line: str) -> str:
    return f"%!PS\n/Helvetica findfont 14 scalefont setfont 72 700 moveto ({line}) show showpage\n"


def _scan(target: Path, out: Path, *extra: str) -> dict[str, Any]:
    assert main(["scan", str(target), "-o", str(out), "-q", *extra]) in (0, 1)
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spool folder: a PCL 5 job with a text line and a raster page of text (a job with
    decoded text), and the same G4 fax three times (a retained copy and a resend)."""
    work = tmp_path_factory.mktemp("producers")
    folder = tmp_path_factory.mktemp("spool")
    raster = ghostscript("ljet4", _page(LETTER_LINE).encode(), work, "-r300")
    text = b"\x1bEAccount statement for the billing department, March 2024\r\n"
    (folder / "a-letter.pcl").write_bytes(text + raster)  # first in the walk order
    fax = ghostscript("tiffg4", _page(FAX_LINE).encode(), work, "-r204x196")
    for name in ("fax0001.tif", "fax0002.tif", "resend/fax0001.tif"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(fax)
    return folder


def _pages_by_path(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        job["path"]: job["rendered_pages"] for job in report["jobs"] if job.get("rendered_pages")
    }


def test_copies_of_a_page_are_ocred_once_and_each_keeps_its_finding(
    spool: Path, tmp_path: Path
) -> None:
    report = _scan(spool, tmp_path / "case")
    # The prepared pages were spooled in the case folder while the scan ran; none is left.
    assert not list((tmp_path / "case").glob(".pfa-ocr-spool-*"))
    ocr = report["image"]["ocr"]
    assert ocr["page_requests"] == 4 and ocr["distinct_pages"] == 2
    assert ocr["tesseract_runs"] == 2 and ocr["pages_not_ocred"] == 0
    pages = _pages_by_path(report)
    assert set(pages) == {"/a-letter.pcl", "/fax0001.tif", "/fax0002.tif", "/resend/fax0001.tif"}
    for path, rendered in pages.items():
        # The letter's first page holds only its text line, which the renderer leaves to the
        # parser: a blank page, not OCR'd; its raster page is.
        assert [page["ocr"] for page in rendered][-1] is True, path
    ssn = [f for f in report["findings"] if f["rule"] == "pii_ssn_formatted"]
    assert sorted(f["path"] for f in ssn) == ["/fax0001.tif", "/fax0002.tif", "/resend/fax0001.tif"]
    assert all(f["ocr_confidence"] for f in ssn)
    cards = [f for f in report["findings"] if f["rule"] == "financial_payment_card"]
    assert [f["path"] for f in cards] == ["/a-letter.pcl"]
    # The OCR text is stored with the job, masked like every other text.
    (letter,) = [j for j in report["jobs"] if j["path"] == "/a-letter.pcl"]
    (ocr_text,) = [t for t in letter["texts"] if t["name"].endswith("(OCR)")]
    assert ocr_text["characters"] > 30


def test_budget_goes_to_image_only_jobs_first_and_names_what_it_left_out(
    spool: Path, tmp_path: Path
) -> None:
    report = _scan(spool, tmp_path / "case", "--ocr-budget", "1p")
    ocr = report["image"]["ocr"]
    assert ocr["budget"] == "1 page" and ocr["tesseract_runs"] == 1
    assert ocr["distinct_pages_not_ocred"] == 1 and ocr["pages_not_ocred"] == 1
    pages = _pages_by_path(report)
    # A fax is a page image: only OCR reads it, so it goes first, although the letter came
    # first on the disk and its raster page is an image too (the letter has decoded text).
    assert all(pages[p][0]["ocr"] for p in ("/fax0001.tif", "/fax0002.tif", "/resend/fax0001.tif"))
    (letter_page,) = [p for p in pages["/a-letter.pcl"] if any("budget" in n for n in p["notes"])]
    assert letter_page["ocr"] is False
    assert "not OCR'd: the OCR budget (1 page) was spent" in letter_page["notes"]
    (problem,) = [p for p in report["problems"] if p["code"] == "ocr-budget"]
    (letter,) = [j for j in report["jobs"] if j["path"] == "/a-letter.pcl"]
    assert f"{letter['job_id']} page {letter_page['number']}" in problem["message"]
    assert not [f for f in report["findings"] if f["rule"] == "financial_payment_card"]
    assert report["run"]["options"]["ocr_budget"] == "1 page"


def test_time_budget_stops_starting_pages_once_spent(tmp_path: Path) -> None:
    # Scheduling only: a stand-in for Tesseract that takes 0.3 s a page, a 0.1 s budget.
    page = RenderedPage(1, Image.new("L", (300, 300), 255), (300.0, 300.0), "test")
    spool = OcrSpool(tmp_path)
    key, _dpi = spool.put(page)
    requests = [
        OcrRequest(f"J{n}", 1, key if n == 0 else f"{n:064x}", n, EvidenceAddress(),
                   LocationClass.ALLOCATED)
        for n in range(4)
    ]  # fmt: skip

    def slow(image: Image.Image, dpi: int, language: str) -> OcrResult:
        time.sleep(0.3)
        return OcrResult("text", 90.0, 1, language)

    outcomes = list(run_ocr(spool, requests, "eng", 1, OcrBudget(seconds=0.1), ocr=slow))
    assert [o.requests[0].job_id for o in outcomes] == ["J0", "J1", "J2", "J3"]  # by priority
    assert outcomes[0].result is not None and not outcomes[0].skipped
    assert [o.skipped for o in outcomes[1:]] == [True, True, True]
    spool.close()
    assert not spool.path.exists()


def test_budget_values() -> None:
    assert OcrBudget.parse("120") == OcrBudget(seconds=120)
    assert OcrBudget.parse("10m") == OcrBudget(seconds=600)
    assert OcrBudget.parse("1h") == OcrBudget(seconds=3600)
    assert OcrBudget.parse("500p") == OcrBudget(pages=500)
    assert OcrBudget.parse("2 pages") == OcrBudget(pages=2)
    for bad in ("soon", "-5", "1.5p", ""):
        with pytest.raises(OcrBudgetError):
            OcrBudget.parse(bad)


def test_bad_budget_is_a_one_line_error(
    spool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(spool), "-o", str(tmp_path / "case"), "--ocr-budget", "soon"]) == 2
    err = capsys.readouterr().err
    assert "--ocr-budget" in err and "Traceback" not in err
