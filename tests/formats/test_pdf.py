"""PDF parser: Ghostscript pdfwrite/pdfimage8 output, the CUPS sample PDFs, a hand-appended
incremental update, encrypted output, truncated files (raw fallback) and hostile input."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from forensics.formats.base import NotThisFormat, ParseContext, ParsedJob, candidates
from forensics.formats.pdf import PdfParser

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"


def parse(data: bytes, max_output: int = 64 * 1024 * 1024) -> ParsedJob:
    return PdfParser().parse(data, ParseContext(max_output=max_output))


def all_text(job: ParsedJob) -> str:
    return "\n".join(text.text for text in job.texts)


def sample(*parts: str) -> bytes:
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample {path} not present")
    return path.read_bytes()


def gs(*args: str) -> None:
    if shutil.which("gs") is None:
        pytest.skip("gs not installed")
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def groff_ps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("groff") is None:
        pytest.skip("groff not installed")
    folder = tmp_path_factory.mktemp("pdf")
    source = folder / "doc.ms"
    source.write_text(
        f".TL\nQuarterly Report\n.PP\n{SENTENCE} was seen.\n.bp\n.PP\nSecond page text.\n"
    )
    out = folder / "doc.ps"
    with out.open("wb") as handle:
        subprocess.run(
            ["groff", "-ms", "-Tps", str(source)], check=True, stdout=handle, timeout=120
        )
    return out


@pytest.fixture(scope="module")
def groff_pdf(groff_ps: Path) -> bytes:
    """pdfwrite with a DOCINFO pdfmark, as an application printing to PDF sets Title/Author."""
    out = groff_ps.parent / "doc.pdf"
    mark = groff_ps.parent / "docinfo.ps"
    mark.write_text("[ /Title (Quarterly Report) /Author (Jane Examiner) /DOCINFO pdfmark\n")
    gs("-sDEVICE=pdfwrite", f"-sOutputFile={out}", str(groff_ps), str(mark))
    return out.read_bytes()


# --------------------------------------------------------------------------- real producers


def test_pdfwrite(groff_pdf: bytes) -> None:
    job = parse(groff_pdf)
    meta = job.metadata
    assert meta.document_name == "Quarterly Report"
    assert meta.user == "Jane Examiner"
    assert meta.application is not None and meta.application.startswith("groff version")
    assert meta.created is not None and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta.created
    )
    assert meta.pages == 2 and [p.number for p in job.pages] == [1, 2]
    assert job.pages[0].width == 595 and job.pages[0].unit == "pt"
    extra = dict(meta.extra)
    assert extra["Producer"].startswith("GPL Ghostscript")
    assert extra["PDF version"].startswith("1.")
    assert [t.name for t in job.texts] == ["page 1", "page 2"]
    assert f"{SENTENCE} was seen." in job.texts[0].text
    assert "Second page text." in job.texts[1].text  # after grops' "-2-" page header
    assert not any(t.heuristic for t in job.texts)
    assert job.complete and job.length == len(groff_pdf)


def test_image_only_pdf(groff_ps: Path) -> None:
    out = groff_ps.parent / "scan.pdf"
    gs("-sDEVICE=pdfimage8", "-r100", f"-sOutputFile={out}", str(groff_ps))
    job = parse(out.read_bytes())
    assert job.metadata.pages == 2
    assert all(page.image_only for page in job.pages)
    assert all_text(job) == ""
    assert any(note.startswith("image-only page(s) 1, 2") for note in job.notes)


def test_cups_testfile_pdf() -> None:
    job = parse(sample("cups", "testfile.pdf"))
    meta = job.metadata
    assert meta.document_name == "An Overview of the Common UNIX Printing System"
    assert meta.user == "Michael Sweet"
    assert meta.created == "2019-05-15T15:19:09Z"  # D:20190515111909-04'00'
    assert meta.pages == 8 and len(job.texts) == 8
    assert dict(meta.extra)["Producer"] == "GPL Ghostscript 9.27"
    assert "This whitepaper describes the Common UNIX Printing System" in job.texts[0].text


def test_cups_onepage_a4() -> None:
    job = parse(sample("cups", "onepage-a4.pdf"))
    assert job.metadata.application == "Scribus 1.4.0.rc5"
    assert job.metadata.pages == 1 and job.pages[0].width == 595 and job.pages[0].height == 842
    assert all_text(job).startswith("Lorem ipsum dolor sit amet, consectetur adipiscing elit.")


# --------------------------------------------------------------------------- revisions


def append_update(original: bytes, title: bytes, author: bytes) -> bytes:
    """An incremental update written by hand as PDF §7.5.6 describes: a new Info object, an xref
    section for it, a trailer with /Prev and /Info, startxref and %%EOF."""
    previous = int(re.findall(rb"startxref\s+(\d+)", original)[-1])
    size = int(re.findall(rb"/Size (\d+)", original)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", original)[-1]
    data = original if original.endswith(b"\n") else original + b"\n"
    info_at = len(data)
    data += b"%d 0 obj\n<</Title (%s) /Author (%s) /ModDate (D:20240102030405Z)>>\nendobj\n" % (
        size,
        title,
        author,
    )
    xref_at = len(data)
    data += (
        b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n"
        b"trailer\n<</Size %d /Root %s /Info %d 0 R /Prev %d>>\nstartxref\n%d\n%%%%EOF\n"
        % (size, info_at, size + 1, root, size, previous, xref_at)
    )
    return data


def test_incremental_update(groff_pdf: bytes) -> None:
    updated = append_update(groff_pdf, b"Revised Title", b"Mallory")
    job = parse(updated)
    meta = job.metadata
    assert meta.document_name == "Revised Title" and meta.user == "Mallory"
    extra = dict(meta.extra)
    assert extra["incremental updates"] == "1"
    assert extra["xref sections"] == "2"
    assert extra["ModDate"] == "2024-01-02T03:04:05Z"
    revision = extra["revision 1 Info"]
    assert "Title=Quarterly Report" in revision and "Author=Jane Examiner" in revision
    assert "1 incremental update(s): earlier revisions are in the file" in job.notes
    assert f"{SENTENCE} was seen." in all_text(job)
    assert job.length == len(updated)


# --------------------------------------------------------------------------- encryption


def test_encrypted_with_owner_password_only(groff_ps: Path) -> None:
    out = groff_ps.parent / "owner.pdf"
    gs(
        "-sDEVICE=pdfwrite",
        "-sOwnerPassword=owner",
        "-dEncryptionR=3",
        "-dKeyLength=128",
        f"-sOutputFile={out}",
        str(groff_ps),
    )
    job = parse(out.read_bytes())
    assert any("opened with the empty user password" in note for note in job.notes)
    assert dict(job.metadata.extra)["encrypted"] == "yes"
    assert f"{SENTENCE} was seen." in all_text(job)


def test_encrypted_with_user_password(groff_ps: Path) -> None:
    out = groff_ps.parent / "user.pdf"
    gs(
        "-sDEVICE=pdfwrite",
        "-sOwnerPassword=owner",
        "-sUserPassword=secret",
        "-dEncryptionR=3",
        "-dKeyLength=128",
        f"-sOutputFile={out}",
        str(groff_ps),
    )
    job = parse(out.read_bytes())
    assert any("a user password is required" in note for note in job.notes)
    assert job.metadata.pages == 2  # page dictionaries are not encrypted
    assert not job.complete
    assert "Patient" not in all_text(job)


# --------------------------------------------------------------------------- damaged files


def test_truncated_falls_back_to_object_scan(groff_pdf: bytes) -> None:
    # Cut in the middle: the xref, the trailer and %%EOF are gone, the first page survives.
    data = groff_pdf[: len(groff_pdf) // 2]
    assert b"/Type/Page" in data
    job = parse(data)
    assert not job.complete
    assert any("pypdf could not open" in note or "object scan" in note for note in job.notes)
    assert "no %%EOF: the file is truncated" in job.notes
    text = all_text(job)
    assert f"{SENTENCE} was seen." in text
    assert all(t.heuristic for t in job.texts)
    assert job.length is None


def test_truncated_cups_sample() -> None:
    data = sample("cups", "testfile.pdf")
    job = parse(data[: len(data) // 2])
    assert not job.complete
    assert "Common UNIX Printing System" in all_text(job)


def test_fragment_without_page_objects() -> None:
    """A content stream alone (the page objects are lost): text from the stream itself."""
    content = (
        b"BT /F1 12 Tf 72 700 Td ("
        + SENTENCE.encode()
        + b") Tj 0 -14 Td [(Second)-300(line)] TJ ET"
    )
    stream = zlib.compress(content)
    data = (
        b"%%PDF-1.4\n7 0 obj\n<</Length %d /Filter /FlateDecode>>\nstream\n" % len(stream)
        + stream
        + b"\nendstream\nendobj\n"
    )
    job = parse(data)
    assert job.texts and job.texts[0].heuristic
    assert job.texts[0].text == f"{SENTENCE}\nSecond line"


# --------------------------------------------------------------------------- extent and registry


def test_extent(groff_pdf: bytes) -> None:
    parser = PdfParser()
    updated = append_update(groff_pdf, b"T", b"A")
    assert parser.extent(b"junk" + updated + b"\x00" * 100, 4) == len(updated)
    # Two files back to back: the first ends at its own %%EOF.
    assert parser.extent(groff_pdf + groff_pdf, 0) == len(groff_pdf)
    assert parser.extent(groff_pdf[:1000], 0) is None


def test_registered_and_sniffed() -> None:
    assert PdfParser in candidates(b"%PDF-1.7\n")
    assert PdfParser.sniff(b"\r\n\x00junk%PDF-1.4\n")
    assert not PdfParser.sniff(b"\x1b%-12345X@PJL ENTER LANGUAGE=PDF\r\n%PDF-1.4\n")
    with pytest.raises(NotThisFormat):
        parse(b"%!PS-Adobe-3.0\n")


# --------------------------------------------------------------------------- hostile input


def _check(data: bytes, seconds: float = 30.0) -> ParsedJob | None:
    started = time.monotonic()
    try:
        job = parse(data, max_output=1 << 22)
    except NotThisFormat:
        return None
    assert time.monotonic() - started < seconds
    assert isinstance(job, ParsedJob)
    return job


def test_truncated_everywhere() -> None:
    data = sample("cups", "onepage-a4.pdf")
    for cut in range(0, len(data), 1499):
        _check(data[:cut])


def test_random_bytes_after_header() -> None:
    rng = random.Random(4242)
    for size in (10, 1000, 50_000):
        for _ in range(4):
            _check(b"%PDF-1.7\n" + bytes(rng.getrandbits(8) for _ in range(size)))


def test_hostile_structures() -> None:
    packer = zlib.compressobj(9)
    bomb = (
        b"".join(packer.compress(b"BT (A) Tj ET\n" * 100_000) for _ in range(200)) + packer.flush()
    )
    bomb_pdf = (
        b"%%PDF-1.4\n1 0 obj <</Type/Page/Contents 2 0 R>> endobj\n"
        b"2 0 obj <</Length %d /Filter /FlateDecode>>\nstream\n"
        % len(bomb)
        + bomb
        + b"\nendstream\nendobj\n"
    )
    cases = [
        bomb_pdf,
        b"%PDF-1.4\n1 0 obj " + b"[" * 100_000 + b"\nendobj\n",
        b"%PDF-1.4\n1 0 obj " + b"<<" * 100_000 + b"\nendobj\n",
        b"%PDF-1.4\n1 0 obj <</Length 99999999999999>>\nstream\nabc\nendstream\nendobj\n%%EOF\n",
        b"%PDF-1.4\n1 0 obj <</Type/ObjStm/N 999999999/First 5/Length 3>>\nstream\n1 2\nendstream\nendobj\n",
        b"%PDF-1.4\n1 0 obj <</Type/Page/Parent 1 0 R/Contents 1 0 R>> endobj\n",  # cycles
        b"%PDF-1.4\ntrailer <</Info 1 0 R /Root 2 0 R>>\n" + b"%%EOF\n" * 5000,
        b"%PDF-1.4\n" + b"1 0 obj (" * 50_000,
        b"%PDF-1.4\n1 0 obj <</Type/Font/Subtype/Type0/ToUnicode 2 0 R>> endobj\n"
        b"2 0 obj <</Length 60>> stream\nbeginbfrange <0000> <FFFF> <0041> endbfrange\nendstream endobj\n"
        b"3 0 obj <</Type/Page/Resources<</Font<</F1 1 0 R>>>>/Contents 4 0 R>> endobj\n"
        b"4 0 obj <</Length 30>> stream\nBT /F1 1 Tf <00410042> Tj ET\nendstream endobj\n",
    ]
    for case in cases:
        job = _check(case)
        assert job is not None
    bomb_job = parse(bomb_pdf, max_output=1 << 20)
    assert len(all_text(bomb_job)) <= 1 << 20
