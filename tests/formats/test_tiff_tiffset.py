"""A real Ghostscript G4 fax whose descriptive tags were written by libtiff's ``tiffset``.

``gs -sDEVICE=tiffg4`` renders a two-page document; ``tiffset -s TAG VALUE`` then sets
ImageDescription (270), Make (271), Model (272), DateTime (306) and Artist (315) on the first
directory. libtiff rewrites that directory at the end of the file, so IFD 0 now sits after the
strips and points back to IFD 1 near the start: the parser must follow the chain, not the file
order. The values must come out exactly, through the parser and through ``pfa scan`` on the loose
file. Pillow (an independent TIFF reader) confirms what tiffset wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, TiffImagePlugin

from forensics.formats.base import ParseContext, candidates
from forensics.formats.tiff import TiffParser

PROJECT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("gs") is None or shutil.which("tiffset") is None,
    reason="needs Ghostscript (gs) and libtiff-tools (tiffset)",
)

TWO_PAGES = b"""%!PS
/Helvetica findfont 24 scalefont setfont
72 700 moveto (Referral for Jane Example, page one) show showpage
72 700 moveto (Referral for Jane Example, page two) show showpage
"""

DESCRIPTION = "Fax from Dr. Example to Clinic"
MAKE = "Brother"
MODEL = "MFC-L2750DW"
DATETIME = "2024:03:01 10:30:05"
ARTIST = "Jane Example"
TAGS = {270: DESCRIPTION, 271: MAKE, 272: MODEL, 306: DATETIME, 315: ARTIST}


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def fax(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("tiffset")
    (work / "doc.ps").write_bytes(TWO_PAGES)
    _run(
        "gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=tiffg4",
        "-sOutputFile=fax.tif", "doc.ps", cwd=work,
    )  # fmt: skip
    for tag, value in TAGS.items():
        _run("tiffset", "-s", str(tag), value, "fax.tif", cwd=work)
    return work / "fax.tif"


def test_tiffset_wrote_the_tags(fax: Path) -> None:
    """Pillow reads back what tiffset wrote: the oracle the parser is held to."""
    with Image.open(fax) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        assert image.n_frames == 2
        assert image.info["compression"] == "group4"
        for tag, value in TAGS.items():
            assert image.tag_v2[tag] == value
    # libtiff appended the rewritten first directory: IFD 0 lies after IFD 1 in the file.
    data = fax.read_bytes()
    assert int.from_bytes(data[4:8], "little" if data[:2] == b"II" else "big") > len(data) // 2


def test_parser_extracts_the_tiffset_tags(fax: Path) -> None:
    data = fax.read_bytes()
    assert TiffParser in candidates(data[:4096], fax.name)
    job = TiffParser().parse(data, ParseContext(name=fax.name))
    assert job.format == "tiff" and job.complete and job.length == len(data)

    meta = job.metadata
    assert meta.user == ARTIST  # Artist (315)
    assert meta.created == "2024-03-01T10:30:05Z"  # DateTime (306), no zone: read as UTC
    assert meta.pages == 2 and len(job.pages) == 2
    assert [page.number for page in job.pages] == [1, 2]
    assert meta.document_format == "image/tiff"
    assert meta.resolution == "204x196 dpi"
    assert meta.application is not None and meta.application.startswith("GPL Ghostscript")

    extra = dict(meta.extra)
    assert extra["image-description"] == DESCRIPTION  # ImageDescription (270)
    assert extra["make"] == MAKE  # Make (271)
    assert extra["model"] == MODEL  # Model (272)
    assert extra["datetime-raw"] == DATETIME
    assert extra["compression"] == "CCITT T.6 (G4 fax)"
    assert extra["compression-code"] == "4"
    assert extra["fax-resolution"] == "fine"
    assert extra["pages-decoded"] == "2"
    assert any("no time zone" in note for note in job.notes)
    for page in job.pages:
        assert (page.width, page.height) == (1728, 2292)
        assert page.color == "WhiteIsZero 1-bit" and page.image_only

    (tags,) = [text for text in job.texts if text.name == "TIFF tags"]
    page_one, page_two = tags.text.split("[page 2]\n")
    assert page_one.startswith("[page 1]\n")
    lines = page_one.splitlines()
    for line in (
        f"ImageDescription: {DESCRIPTION}",
        f"Make: {MAKE}",
        f"Model: {MODEL}",
        f"DateTime: {DATETIME}",
        f"Artist: {ARTIST}",
    ):
        assert line in lines
    # tiffset changed the first directory only.
    assert DESCRIPTION not in page_two and ARTIST not in page_two and MAKE not in page_two


def _pfa() -> list[str]:
    script = Path(sys.executable).with_name("pfa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "forensics"]


def test_cli_scan_of_the_loose_fax(fax: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [*_pfa(), "scan", str(fax), "-o", str(out), "-q", "--reveal"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert done.returncode in (0, 1), done.stderr  # 1: residual data (the fax) found
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["image"]["format"] == "file"
    tiff_jobs = [job for job in report["jobs"] if job["format"] == "tiff"]
    assert len(tiff_jobs) == 1, report["jobs"]
    (job,) = tiff_jobs
    assert job["format_chain"] == ["tiff"] and job["complete"]
    assert job["path"].endswith("fax.tif") and job["file_offset"] == 0
    assert job["length"] == fax.stat().st_size
    assert job["pages"] == 2 and len(job["page_refs"]) == 2
    meta = job["metadata"]
    assert meta["user"] == ARTIST
    assert meta["created"] == "2024-03-01T10:30:05Z"
    assert meta["extra"]["image-description"] == DESCRIPTION
    assert meta["extra"]["make"] == MAKE
    assert meta["extra"]["model"] == MODEL
    assert meta["extra"]["datetime-raw"] == DATETIME
    assert meta["extra"]["compression"] == "CCITT T.6 (G4 fax)"
    assert report["summary"]["jobs_by_format_and_location"]["tiff"] == {"allocated": 1}
