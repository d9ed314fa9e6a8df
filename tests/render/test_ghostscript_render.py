"""PostScript and PDF pages through Ghostscript, and image-only PDF pages without it.

Inputs come from real producers: Ghostscript's ps2write, pdfwrite and pdfimage8 devices, groff
-Tps, Pillow's PDF writer, and the samples in ../shared/samples. Hostile inputs (an endless
PostScript loop, a page of 200 × 200 inches, a PDF whose forms nest to 10⁹ drawings, garbage,
an image with a 100000 × 100000 header) are built here: no producer makes them on purpose.

Page content is checked two ways: against Ghostscript's own ``pnggray`` rendering of the same
file at the same resolution (ink IoU after binarising) and, when Tesseract is installed, by
reading the sentence back with OCR.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from forensics.render import ghostscript
from forensics.render.base import (
    RenderedPage,
    RenderLimits,
    render_pages,
    renderer_for,
)
from forensics.render.ghostscript import PdfRenderer, PostScriptRenderer

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
DPI = 150
# Ink IoU of our page against Ghostscript's plain pnggray rendering at the same dpi. Both come
# from the same interpreter; ours anti-aliases text (TextAlphaBits=4), which moves glyph edges
# by at most a pixel after binarising: 0.94 measured on 14-point text. A page drawn wrongly
# (shifted, scaled, another page) scores far below 0.5.
MIN_INK_IOU = 0.9
# The time limit for hostile input, and the slack allowed over it (Python and process start-up,
# reading back and deleting files).
HOSTILE_SECONDS = 3.0
SLACK_SECONDS = 1.5

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) not installed")

SENTENCE_PS = f"""%!PS-Adobe-3.0
%%Pages: 1
%%EndComments
/Helvetica findfont 14 scalefont setfont
72 700 moveto ({SENTENCE}) show
showpage
%%EOF
"""


# ---------------------------------------------------------------------- helpers


def gs(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", *args],
        check=True,
        cwd=cwd,
        capture_output=True,
        timeout=120,
    )


def gs_reference(path: Path, first_page: int = 1) -> Image.Image:
    """Ghostscript's own rendering of one page, the way the brief names it."""
    out = path.with_name(f"{path.name}-reference.png")
    gs(
        "-sDEVICE=pnggray",
        f"-r{DPI}",
        f"-dFirstPage={first_page}",
        f"-dLastPage={first_page}",
        f"-sOutputFile={out.name}",
        path.name,
        cwd=path.parent,
    )
    with Image.open(out) as image:
        return image.convert("L")


def ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < 128


def ink_iou(ours: Image.Image, reference: Image.Image, max_shift: int = 0) -> float:
    """Intersection over union of the ink pixels, the best over shifts of up to ``max_shift``
    pixels each way (a page picture is placed by the page's matrix, not pixel-exactly)."""
    assert ours.size == reference.size
    a, b = ink(ours), ink(reference)
    best = 0.0
    m = max_shift
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            shifted = np.roll(a, (dy, dx), axis=(0, 1))
            union = int((shifted | b).sum())
            best = max(best, int((shifted & b).sum()) / union if union else 1.0)
    return best


def ocr(image: Image.Image, tmp_path: Path) -> str | None:
    """Tesseract's reading of the page, whitespace collapsed; None when it is not installed."""
    if shutil.which("tesseract") is None:
        return None
    path = tmp_path / "ocr.png"
    image.save(path)
    result = subprocess.run(
        ["tesseract", str(path), "-", "--psm", "6"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        # One OpenMP thread: several are much slower on a small machine, not faster.
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return " ".join(result.stdout.split())


def assert_reads_sentence(page: RenderedPage, tmp_path: Path) -> None:
    text = ocr(page.image, tmp_path)
    if text is not None:  # the OCR assertion only where Tesseract exists
        assert SENTENCE in text, text


def render(fmt: str, data: bytes, **limits: Any) -> tuple[list[RenderedPage], list[str], float]:
    started = time.monotonic()
    pages, notes = render_pages(fmt, data, RenderLimits(**limits))
    return pages, notes, time.monotonic() - started


def all_notes(pages: list[RenderedPage], notes: list[str]) -> str:
    return " | ".join([*notes, *(note for page in pages for note in page.notes)])


@pytest.fixture
def without_gs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ghostscript missing: the renderer's own lookup finds nothing (the tool is absent, nothing
    of ours is replaced)."""
    monkeypatch.setattr(ghostscript, "find_ghostscript", lambda: None)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary directories go here, so a test can see that none is left behind."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.fixture(scope="module")
def sentence_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sentence page through Ghostscript's ps2write, pdfwrite and pdfimage8 devices."""
    if shutil.which("gs") is None:
        pytest.skip("Ghostscript (gs) not installed")
    folder = tmp_path_factory.mktemp("producers")
    (folder / "source.ps").write_text(SENTENCE_PS)
    files: dict[str, Path] = {}
    for device, name in (
        ("ps2write", "sentence.ps"),
        ("pdfwrite", "sentence.pdf"),
        ("pdfimage8", "scan.pdf"),
    ):
        gs(f"-sDEVICE={device}", f"-r{DPI}", f"-sOutputFile={name}", "source.ps", cwd=folder)
        files[device] = folder / name
    return files


def groff_ps(text: str, folder: Path) -> bytes:
    if shutil.which("groff") is None:
        pytest.skip("groff not installed")
    result = subprocess.run(
        ["groff", "-Tps"], input=text.encode(), capture_output=True, check=True, timeout=60
    )
    assert result.stdout.startswith(b"%!PS")
    return result.stdout


GROFF_TWO_PAGES = f""".ps 14
.vs 18
{SENTENCE}
.bp
Second page.
.br
{SENTENCE}
"""


# ---------------------------------------------------------------------- registration


def test_registered_for_postscript_and_pdf() -> None:
    assert isinstance(renderer_for("pdf"), PdfRenderer)
    expected = PostScriptRenderer if shutil.which("gs") else type(None)
    assert isinstance(renderer_for("postscript"), expected)


def test_without_gs_postscript_is_unavailable_and_skipped(without_gs: None) -> None:
    assert not PostScriptRenderer.available()
    assert renderer_for("postscript") is None
    assert render_pages("postscript", SENTENCE_PS.encode()) == ([], [])
    assert PdfRenderer.available()  # image-only pages still come out


# ---------------------------------------------------------------------- real producers


@needs_gs
def test_ps2write_page(sentence_files: dict[str, Path], tmp_path: Path) -> None:
    path = sentence_files["ps2write"]
    pages, notes, seconds = render("postscript", path.read_bytes())
    assert notes == []
    assert [page.number for page in pages] == [1]
    page = pages[0]
    assert page.complete and page.notes == []
    assert page.renderer == "ghostscript"
    assert page.image.mode == "L" and page.dpi == (DPI, DPI)
    assert ink_iou(page.image, gs_reference(path)) >= MIN_INK_IOU
    assert_reads_sentence(page, tmp_path)
    assert seconds < 10


@needs_gs
def test_pdfwrite_page(sentence_files: dict[str, Path], tmp_path: Path) -> None:
    path = sentence_files["pdfwrite"]
    pages, notes, _ = render("pdf", path.read_bytes())
    assert notes == []
    assert len(pages) == 1 and pages[0].complete and pages[0].renderer == "ghostscript"
    assert ink_iou(pages[0].image, gs_reference(path)) >= MIN_INK_IOU
    assert_reads_sentence(pages[0], tmp_path)


@needs_gs
def test_groff_postscript(tmp_path: Path) -> None:
    data = groff_ps(GROFF_TWO_PAGES, tmp_path)
    (tmp_path / "groff.ps").write_bytes(data)
    pages, notes, _ = render("postscript", data)
    assert notes == []
    assert [page.number for page in pages] == [1, 2]
    assert all(page.complete and page.has_ink() for page in pages)
    for number, page in enumerate(pages, 1):
        assert ink_iou(page.image, gs_reference(tmp_path / "groff.ps", number)) >= MIN_INK_IOU
    assert_reads_sentence(pages[1], tmp_path)


@needs_gs
def test_sample_lorem_ps(tmp_path: Path) -> None:
    path = SAMPLES / "pret" / "lorem.ps"
    if not path.exists():
        pytest.skip(f"{path} absent")
    pages, notes, _ = render("postscript", path.read_bytes())
    assert notes == []
    assert len(pages) == 1 and pages[0].complete and pages[0].has_ink()
    shutil.copy(path, tmp_path / "lorem.ps")
    assert ink_iou(pages[0].image, gs_reference(tmp_path / "lorem.ps")) >= MIN_INK_IOU
    top = pages[0].image.crop((0, 0, pages[0].image.width, pages[0].image.height // 4))
    text = ocr(top, tmp_path)
    if text is not None:
        assert "Lorem ipsum dolor sit amet" in text


@needs_gs
def test_sample_cups_testfile_pdf(tmp_path: Path) -> None:
    path = SAMPLES / "cups" / "testfile.pdf"
    if not path.exists():
        pytest.skip(f"{path} absent")
    import pypdf

    expected = len(pypdf.PdfReader(path).pages)
    pages, notes, _ = render("pdf", path.read_bytes())
    assert [page.number for page in pages] == list(range(1, expected + 1))
    assert all(page.complete and page.has_ink() for page in pages)
    assert not any("not rendered" in note or "failed" in note for note in notes)
    shutil.copy(path, tmp_path / "testfile.pdf")
    assert ink_iou(pages[0].image, gs_reference(tmp_path / "testfile.pdf")) >= MIN_INK_IOU


@needs_gs
def test_colour_device(sentence_files: dict[str, Path]) -> None:
    data = b"%!PS\n1 0 0 setrgbcolor 72 72 200 200 rectfill showpage\n"
    pages = list(PostScriptRenderer(colour=True).render(data, RenderLimits()))
    assert len(pages) == 1 and pages[0].image.mode == "RGB"
    red = np.asarray(pages[0].image)[pages[0].image.height - 2 * DPI, 2 * DPI]
    assert tuple(red) == (255, 0, 0)
    gray = list(PdfRenderer(dpi=72).render(sentence_files["pdfwrite"].read_bytes(), RenderLimits()))
    assert gray[0].image.mode == "L" and gray[0].dpi == (72, 72)


# ---------------------------------------------------------------------- image-only PDF without gs


@needs_gs
def test_image_only_pdf_without_gs(
    sentence_files: dict[str, Path], tmp_path: Path, without_gs: None
) -> None:
    path = sentence_files["pdfimage8"]
    pages, notes, seconds = render("pdf", path.read_bytes())
    assert notes == []
    assert len(pages) == 1
    page = pages[0]
    assert page.renderer == "pdf-images" and page.complete
    assert page.image.mode == "L"
    assert page.dpi is not None and all(abs(value - DPI) < 1 for value in page.dpi)
    # The picture is Ghostscript's own 150 dpi raster: it matches gs rendering the PDF, up to
    # where the page puts it (pdfimage8 places 1754 rows in 841 of the page's 841.92 points:
    # Ghostscript's page has the text 2 pixels lower).
    assert ink_iou(page.image, gs_reference(path), max_shift=3) >= MIN_INK_IOU
    assert_reads_sentence(page, tmp_path)
    assert seconds < 5


def pillow_scan_pdf(rotate: int | None = None) -> bytes:
    """An image-only PDF written by Pillow (a scan-like page: one picture, 100 dpi)."""
    page = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(page)
    draw.text((60, 80), SENTENCE, fill=0, font=ImageFont.load_default(size=28))
    out = io.BytesIO()
    page.save(out, "PDF", resolution=100)
    data = out.getvalue()
    if rotate is not None:  # PDF §7.7.3.3: /Rotate on the page dictionary
        data = data.replace(b"/Type /Page\n", f"/Type /Page\n/Rotate {rotate}\n".encode(), 1)
        assert b"/Rotate" in data
    return data


def test_pillow_scan_pdf_without_gs(tmp_path: Path, without_gs: None) -> None:
    pages, notes, _ = render("pdf", pillow_scan_pdf())
    assert notes == []
    assert len(pages) == 1 and pages[0].image.size == (850, 1100)
    assert pages[0].dpi == (100.0, 100.0)
    assert_reads_sentence(pages[0], tmp_path)


def test_rotated_scan_turns_like_the_page(tmp_path: Path, without_gs: None) -> None:
    pages, notes, _ = render("pdf", pillow_scan_pdf(rotate=90))
    assert notes == []
    assert pages[0].image.size == (1100, 850)  # turned clockwise, as a viewer shows it
    top_right = np.asarray(pages[0].image)[:, -200:]
    assert (top_right < 128).any()  # the text line, at the top of the upright page, is now right


@needs_gs
def test_pdf_with_text_without_gs(sentence_files: dict[str, Path], without_gs: None) -> None:
    pages, notes, _ = render("pdf", sentence_files["pdfwrite"].read_bytes())
    assert pages == []
    assert len(notes) == 1 and "page(s) 1 have text" in notes[0] and "Ghostscript" in notes[0]


# ---------------------------------------------------------------------- damaged and partial jobs


@needs_gs
def test_error_midway_keeps_pages_and_the_page_being_drawn() -> None:
    job = (
        SENTENCE_PS.replace("%%EOF\n", "")
        + "72 600 moveto (Second page before the error) show\nfoo_undefined_operator\n"
        + "72 500 moveto (never drawn) show showpage\n"
    )
    pages, notes, _ = render("postscript", job.encode())
    assert notes == []
    assert [page.number for page in pages] == [1, 2]
    assert pages[0].complete and pages[0].notes == []
    assert not pages[1].complete and pages[1].has_ink()
    assert "/undefined" in pages[1].notes[0] and "foo_undefined_operator" in pages[1].notes[0]


@needs_gs
def test_truncated_groff_job_keeps_the_partial_page(tmp_path: Path) -> None:
    data = groff_ps(GROFF_TWO_PAGES, tmp_path)
    cut = data.rindex(b" EP")  # the last page's end-of-page procedure (its showpage)
    pages, notes, _ = render("postscript", data[:cut])
    assert notes == []
    assert [page.number for page in pages] == [1, 2]
    assert pages[0].complete
    assert not pages[1].complete and pages[1].has_ink()
    assert "without showpage" in pages[1].notes[0]
    assert_reads_sentence(pages[1], tmp_path)


@needs_gs
def test_endless_loop_stops_at_the_time_limit(private_tmp: Path) -> None:
    pages, notes, seconds = render("postscript", b"%!PS\n{} loop\n", max_seconds=HOSTILE_SECONDS)
    assert pages == []
    assert len(notes) == 1 and "time limit" in notes[0]
    assert seconds < HOSTILE_SECONDS + SLACK_SECONDS
    assert list(private_tmp.iterdir()) == []  # the sandbox is gone with its files


@needs_gs
def test_loop_after_two_pages_keeps_them() -> None:
    job = SENTENCE_PS.replace("%%EOF\n", "") + "72 700 moveto (two) show showpage\n{} loop\n"
    pages, notes, seconds = render("postscript", job.encode(), max_seconds=HOSTILE_SECONDS)
    assert notes == []
    assert [page.number for page in pages] == [1, 2]
    assert pages[0].complete and not pages[1].complete
    assert "time limit" in pages[1].notes[0]
    assert seconds < HOSTILE_SECONDS + SLACK_SECONDS


@needs_gs
def test_page_count_bounded_by_max_pages() -> None:
    job = "%!PS\n/Helvetica findfont 14 scalefont setfont\n" + "".join(
        f"72 700 moveto (page {n}) show showpage\n" for n in range(1, 11)
    )
    pages, notes, _ = render("postscript", job.encode(), max_pages=3)
    assert [page.number for page in pages] == [1, 2, 3]
    assert all(page.complete for page in pages)
    assert notes == ["page cap: only the first 3 pages rendered"]


@needs_gs
def test_huge_page_refused_quickly() -> None:
    job = b"%!PS\n<< /PageSize [14400 14400] >> setpagedevice 72 72 moveto 400 400 lineto stroke"
    job += b" showpage\n"  # 200 x 200 inches: 30000 x 30000 pixels at 150 dpi
    pages, notes, seconds = render("postscript", job)
    assert pages == []
    assert len(notes) == 1 and "30000x30000 exceeds" in notes[0]
    assert seconds < 3  # Ghostscript needs about 9 s to draw that page; it is stopped at once


def minimal_pdf(objects: list[bytes], streams: dict[int, bytes] | None = None) -> bytes:
    """A PDF with a correct xref table (PDF §7.5.4); object 1 is the catalog."""
    streams = streams or {}
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body
        if number in streams:
            out += b"\nstream\n" + streams[number] + b"\nendstream"
        out += b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def nested_forms_pdf(levels: int = 9, fan_out: int = 10) -> bytes:
    """A PDF 'bomb': form k draws form k-1 ten times, so the page makes 10^9 line drawings."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"]
    first_form = 5
    last_form = first_form + levels
    objects.append(
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /XObject << /X %d 0 R >> >> >>" % last_form
    )
    streams: dict[int, bytes] = {4: b"/X Do"}
    objects.append(b"<< /Length %d >>" % len(streams[4]))
    for number in range(first_form, last_form + 1):
        body = b"0 0 m 612 792 l S" if number == first_form else b"/X Do " * fan_out
        resources = b"" if number == first_form else b" /Resources << /XObject << /X %d 0 R >> >>"
        resources = resources % (number - 1) if resources else b""
        streams[number] = body
        objects.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792]%s /Length %d >>"
            % (resources, len(body))
        )
    return minimal_pdf(objects, streams)


@needs_gs
def test_pdf_bomb_stops_at_the_time_limit() -> None:
    pages, notes, seconds = render("pdf", nested_forms_pdf(), max_seconds=HOSTILE_SECONDS)
    assert seconds < HOSTILE_SECONDS + SLACK_SECONDS
    assert pages == []
    assert "time limit" in all_notes(pages, notes)


def image_pdf(width: int, height: int, data: bytes, filters: bytes = b"") -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /XObject << /Im0 5 0 R >> >> >>",
        b"<< /Length 32 >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8%s /Length %d >>" % (width, height, filters, len(data)),
    ]
    return minimal_pdf(objects, {4: b"612 0 0 792 0 0 cm /Im0 Do      ", 5: data})


def test_huge_image_header_refused_without_decoding(without_gs: None) -> None:
    pages, notes, seconds = render("pdf", image_pdf(100000, 100000, b"\x00" * 100))
    assert pages == []
    assert len(notes) == 1 and "100000x100000 exceeds" in notes[0]
    assert seconds < 1


def flate_bomb_pdf() -> bytes:
    """2000 x 2000 pixels declared, 96 MB of zeros inside 100 KB of Flate (PDF §7.4.4): beyond
    the 75 MB pypdf 7 inflates at most."""
    packer = zlib.compressobj(9)
    block = bytes(16 * 1024 * 1024)
    bomb = b"".join(packer.compress(block) for _ in range(6)) + packer.flush()
    return image_pdf(2000, 2000, bomb, b" /Filter /FlateDecode")


def test_image_flate_bomb_without_gs(without_gs: None) -> None:
    pages, notes, seconds = render("pdf", flate_bomb_pdf())
    assert seconds < 5
    assert pages == []
    assert len(notes) == 1 and "page 1: LimitReachedError" in notes[0]


@needs_gs
def test_image_flate_bomb_with_gs() -> None:
    # Ghostscript inflates as it draws: the first 4 M zero bytes are the (black) picture.
    pages, notes, seconds = render("pdf", flate_bomb_pdf(), max_seconds=HOSTILE_SECONDS)
    assert seconds < HOSTILE_SECONDS + SLACK_SECONDS
    assert notes == [] and len(pages) == 1 and pages[0].has_ink()


@pytest.mark.parametrize("fmt", ["postscript", "pdf"])
def test_garbage_is_a_note(fmt: str) -> None:
    if fmt == "postscript" and shutil.which("gs") is None:
        pytest.skip("Ghostscript (gs) not installed")
    garbage = random.Random(5).randbytes(20000)
    for data in (garbage, b"%PDF-1.7\n" + garbage, b"%!PS\n" + garbage, b""):
        pages, notes, seconds = render(fmt, data, max_seconds=HOSTILE_SECONDS)
        assert len(notes) >= 1 or pages
        assert seconds < HOSTILE_SECONDS + SLACK_SECONDS


# ---------------------------------------------------------------------- sandbox and evidence


@needs_gs
def test_ghostscript_runs_sandboxed(
    sentence_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, private_tmp: Path
) -> None:
    # Options injected through the user's environment must not reach Ghostscript.
    monkeypatch.setenv("GS_OPTIONS", "-dNOSAFER")
    monkeypatch.setenv("GS_LIB", str(sentence_files["ps2write"].parent))
    calls: list[tuple[list[str], dict[str, Any]]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        calls.append((list(args), dict(kwargs)))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(ghostscript.subprocess, "Popen", recording_popen)
    for fmt, device in (("postscript", "ps2write"), ("pdf", "pdfwrite")):
        pages, notes, _ = render(fmt, sentence_files[device].read_bytes())
        assert notes == [] and len(pages) == 1
    assert len(calls) == 2
    for args, kwargs in calls:
        options = {"-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOPROMPT", "-dQUIET", "-sDEVICE=pnggray"}
        assert options <= set(args)
        assert f"-r{DPI}" in args and "-dFirstPage=1" in args
        cwd = Path(kwargs["cwd"])
        assert cwd.parent == private_tmp and cwd.name.startswith("pfa-gs-")
        # No path outside the sandbox: every argument is an option or a bare name inside it.
        for argument in args[1:]:
            value = argument.split("=", 1)[-1]
            assert not value.startswith("/") and ".." not in value, argument
        assert set(kwargs["env"]) <= {"PATH", "HOME", "TMPDIR", "LC_ALL"}
        assert kwargs["env"]["TMPDIR"] == str(cwd)
        assert kwargs["start_new_session"] is True
    assert list(private_tmp.iterdir()) == []


@needs_gs
def test_evidence_file_untouched(
    sentence_files: dict[str, Path], tmp_path: Path, private_tmp: Path
) -> None:
    evidence = tmp_path / "evidence" / "job.ps"
    evidence.parent.mkdir()
    shutil.copy(sentence_files["ps2write"], evidence)
    evidence.chmod(0o444)
    before = (hashlib.sha256(evidence.read_bytes()).hexdigest(), evidence.stat().st_mtime_ns)
    data = evidence.read_bytes()
    pages, notes, _ = render("postscript", data)
    assert notes == [] and len(pages) == 1
    after = (hashlib.sha256(evidence.read_bytes()).hexdigest(), evidence.stat().st_mtime_ns)
    assert after == before
    assert sorted(os.listdir(evidence.parent)) == ["job.ps"]
    assert list(private_tmp.iterdir()) == []


# ---------------------------------------------------------------------- fuzz


class Hang(BaseException):
    """Raised by the alarm: derives from BaseException so no ``except Exception`` hides it."""


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"render_pages still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(data)))
        data[start:start] = draw(st.binary(max_size=64))
    return bytes(data[: draw(st.integers(1, len(data)))])


def check_no_escape(fmt: str, data: bytes, seconds: float) -> None:
    with alarm(int(seconds + 10)):
        started = time.monotonic()
        pages, notes = render_pages(fmt, data, RenderLimits(max_pages=4, max_seconds=seconds))
    assert time.monotonic() - started < seconds + SLACK_SECONDS + 1
    for page in pages:
        assert page.image.mode in ("1", "L", "RGB")
        assert page.image.width * page.image.height <= RenderLimits().max_pixels
    assert all(isinstance(note, str) for note in notes)


SCAN_SEED = pillow_scan_pdf()
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@settings(FUZZ, max_examples=200)
@given(data=st.one_of(mutated(SCAN_SEED), st.binary(max_size=2048)))
def test_fuzz_image_pages_without_gs(data: bytes, without_gs: None) -> None:
    check_no_escape("pdf", data, 5.0)


FUZZ_PS_SEED = SENTENCE_PS.encode()


@needs_gs
@settings(FUZZ, max_examples=25)
@given(data=mutated(FUZZ_PS_SEED))
def test_fuzz_postscript_through_gs(data: bytes) -> None:
    check_no_escape("postscript", data, 3.0)


@needs_gs
@settings(FUZZ, max_examples=25)
@given(data=mutated(SCAN_SEED))
def test_fuzz_pdf_through_gs(data: bytes) -> None:
    check_no_escape("pdf", data, 3.0)


def test_notes_are_bounded() -> None:
    """Ghostscript's output can be anything a job prints: notes stay short and printable."""
    run = ghostscript._GsRun(Path("."))
    noisy = "\n".join(f"Error {n}: {'x' * 5000}\x00\x1b" for n in range(50))
    folder = Path(tempfile.mkdtemp())
    try:
        run.directory = folder
        (folder / ghostscript.MESSAGES_FILE).write_text(noisy + "\nPFA-1 SHOWN 3\n")
        ghostscript._read_messages(run, "PFA-1")
    finally:
        shutil.rmtree(folder)
    assert run.shown == 3
    assert len(run.messages) == ghostscript.MAX_MESSAGES
    assert all(len(m) <= ghostscript.MAX_MESSAGE_CHARS for m in run.messages)
    assert all(re.fullmatch(r"[\x20-\x7e…]*", m) for m in run.messages)
