"""OCR of rendered pages, end to end through the job pipeline: a sentence printed by a real
producer (Ghostscript's fax, scan and raster devices) is read back by Tesseract, and the SSN in
it is reported as a finding of that job and page, with the OCR confidence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from fixtures.tools import ghostscript
from forensics.detect.rules import load_rules
from forensics.detect.scanner import Detector
from forensics.evidence.address import EvidenceAddress
from forensics.jobs import Extracted, JobExtractor, JobSource, PageOptions
from forensics.records import LocationClass
from forensics.render import ocr
from forensics.render.base import RenderedPage, render_pages

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
PAGE = f"""%!PS
/Helvetica findfont 14 scalefont setfont
72 700 moveto ({SENTENCE}) show
72 670 moveto (Referral for cardiology review) show
showpage
"""

needs_tools = pytest.mark.skipif(
    shutil.which("gs") is None or shutil.which("tesseract") is None,
    reason="Ghostscript and Tesseract are installed by make setup",
)

# (Ghostscript device, extra arguments, format the job must be parsed as)
PRODUCERS = [
    ("tiffg4", ["-r204x196"], "tiff"),
    ("tiffg3", ["-r204x98"], "tiff"),
    ("jpeggray", ["-r200"], "jpeg"),
    ("pwgraster", ["-r300"], "pwg-raster"),
    ("urf", ["-r300"], "urf"),
    ("ljet4", ["-r300"], "pcl5"),  # PCL 5 raster graphics
    # Ghostscript's PCL XL: text as downloaded bitmap glyphs with no character codes, so OCR
    # is the only way to read it; the pages belong to the PCL XL job inside the PJL job.
    ("pxlmono", ["-r300"], "pclxl"),
    ("pxlcolor", ["-r300"], "pclxl"),
]


def produce(device: str, extra: list[str], tmp_path: Path, source: str = PAGE) -> bytes:
    return ghostscript(device, source, tmp_path, *extra)


def extract(data: bytes, name: str, options: PageOptions) -> Extracted:
    extractor = JobExtractor(Detector(load_rules()), True, options)
    source = JobSource(
        data=data, address=EvidenceAddress(), location_class=LocationClass.ALLOCATED, name=name
    )
    return extractor.extract(source)


@needs_tools
@pytest.mark.parametrize(("device", "extra", "fmt"), PRODUCERS, ids=[p[0] for p in PRODUCERS])
def test_sentence_read_back_and_ssn_reported_with_job_and_page(
    device: str, extra: list[str], fmt: str, tmp_path: Path
) -> None:
    data = produce(device, extra, tmp_path)
    previews = tmp_path / "pages"
    previews.mkdir()
    out = extract(data, f"scan.{device}", PageOptions(previews=previews))
    (job,) = [j for j in out.jobs if j.rendered_pages]
    assert job.format == fmt
    (page,) = job.rendered_pages
    assert page["number"] == 1 and page["ocr"] is True
    assert isinstance(page["ocr_confidence"], float) and page["ocr_confidence"] > 60
    texts = dict(out.texts[job.job_id])
    assert SENTENCE in texts["page 1 (OCR)"]
    ssn = [f for f in out.findings if f.rule == "pii_ssn_formatted"]
    assert [f.value for f in ssn] == ["536-22-8714"]
    assert ssn[0].job_id == job.job_id
    assert ssn[0].ocr_confidence == page["ocr_confidence"]
    assert "page 1 (OCR)" in str(ssn[0].address)
    # The preview is written, at no more than 150 dpi.
    written = Image.open(tmp_path / str(page["preview"]))
    dpi = page["dpi"]
    if dpi:
        assert written.width <= round(page["width"] * 150 / dpi[0]) + 1


@needs_tools
def test_multi_page_fax_pages_numbered(tmp_path: Path) -> None:
    two_pages = PAGE + PAGE.replace(SENTENCE, "Page two: account 4711").replace("%!PS", "")
    data = produce("tiffg4", ["-r204x196"], tmp_path, two_pages)
    out = extract(data, "fax.tif", PageOptions())
    job = out.jobs[0]
    assert [p["number"] for p in job.rendered_pages] == [1, 2]
    texts = dict(out.texts[job.job_id])
    assert "Page two" in texts["page 2 (OCR)"]


@needs_tools
def test_ocr_look_alikes_corrected_only_where_a_rule_rechecks(tmp_path: Path) -> None:
    """OCR reading 'O' for '0' in an SSN: the digit-corrected text gives the finding (SSN
    rules confirm it), marked ocr_corrected."""
    extractor = JobExtractor(Detector(load_rules()), True, PageOptions())
    out = Extracted()
    source = JobSource(data=b"", address=EvidenceAddress(), location_class=LocationClass.ALLOCATED)
    result = ocr.OcrResult("SSN 536-22-87l4 printed", 71.5, 3, "eng")
    count, _ = extractor._scan_text(
        out, source, "J1", EvidenceAddress(), "page 1 (OCR)", result.text, result
    )
    assert count == 1
    (finding,) = out.findings
    assert finding.value == "536-22-8714" and finding.ocr_corrected
    assert finding.ocr_confidence == 71.5


def test_digit_variant_leaves_words_alone() -> None:
    assert ocr.digit_variant("Patient Name: Jane Example") is None
    assert ocr.digit_variant("Invoice SOLD BOLD 2024") is None
    fixed = ocr.digit_variant("card 4111 1111 1l11 1111 ok")
    assert fixed == "card 4111 1111 1111 1111 ok"


def test_tesseract_tsv_rebuilds_lines_and_confidence() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello",
        "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tworld",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tagain",
        "4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t",
    ]
    result = ocr.parse_tsv("\n".join([header, *rows]))
    assert result.text == "Hello world\nagain"
    assert result.confidence == 80.0 and result.words == 3


def test_without_tesseract_pages_still_render_and_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("gs") is None:
        pytest.skip("Ghostscript is installed by make setup")
    data = produce("tiffg4", ["-r204x196"], tmp_path)
    monkeypatch.setattr(ocr, "tesseract_path", lambda: None)
    out = extract(data, "fax.tif", PageOptions())
    (page,) = out.jobs[0].rendered_pages
    assert page["ocr"] is False
    assert any("tesseract is not installed" in note for note in page["notes"])
    with pytest.raises(ocr.OcrUnavailable, match="apt install tesseract-ocr"):
        ocr.check_available()


def test_blank_page_has_no_ink() -> None:
    blank = RenderedPage(1, Image.new("1", (100, 100), 1), (100.0, 100.0), "test")
    assert not blank.has_ink()
    inked = Image.new("L", (100, 100), 255)
    inked.putpixel((50, 50), 0)
    assert RenderedPage(1, inked, None, "test").has_ink()


def test_pictures_and_noise_are_not_sent_to_tesseract() -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    noise = Image.fromarray((rng.random((800, 600)) * 255).astype("uint8"), "L")
    worth, why = ocr.text_likely(RenderedPage(1, noise, (100.0, 100.0), "test"))
    assert not worth and "picture" in why
    blank = RenderedPage(1, Image.new("L", (600, 800), 255), None, "test")
    assert ocr.text_likely(blank) == (False, "blank page: not OCR'd")
    text = Image.new("L", (600, 800), 255)
    draw = ImageDraw.Draw(text)
    for line in range(30):
        draw.text((40, 40 + 24 * line), SENTENCE, fill=0)
    assert ocr.text_likely(RenderedPage(1, text, None, "test"))[0]
    picture = Image.new("L", (600, 800), 255)
    picture.paste(30, (100, 100, 500, 400))  # a dark photograph on a white page
    worth, why = ocr.text_likely(RenderedPage(1, picture, None, "test"))
    assert not worth and "inked area" in why


BARS = """%!PS
% A barcode-like strip and a bar chart: ink in bands whose pixel rows repeat unchanged.
0 1 59 { 9 mul 72 add 600 4 120 rectfill } for
0 1 7 { /i exch def i 50 mul 72 add 200 30 i 1 add 25 mul rectfill } for
0 1 3 { 40 mul 420 add 72 exch 450 6 rectfill } for
"""
HEADING = "/Helvetica-Bold findfont 72 scalefont setfont 72 480 moveto (CONFIDENTIAL) show\n"
CAPTION = "/Helvetica findfont 9 scalefont setfont 72 150 moveto (Q3 totals, account 4111) show\n"


@needs_tools
@pytest.mark.parametrize(
    ("extra", "expect_text"),
    [("", False), (HEADING, True), (CAPTION, True)],
    ids=["bars-only", "bars-and-72pt-heading", "bars-and-9pt-caption"],
)
def test_bar_graphics_are_not_ocred_but_text_beside_them_is(
    tmp_path: Path, extra: str, expect_text: bool
) -> None:
    # Rendered as a printer would get it: Ghostscript's ljet4 raster, drawn by our PCL 5 renderer.
    data = produce("ljet4", ["-r300"], tmp_path, BARS + extra + "showpage\n")
    pages, _notes = render_pages("pcl5", data)
    assert len(pages) == 1 and pages[0].has_ink()
    worth, why = ocr.text_likely(pages[0])
    assert worth is expect_text, why
    if not expect_text:
        assert "no lines of text" in why
