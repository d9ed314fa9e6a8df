"""End to end: a drive of look-alikes comes out clean; every positive is found in every form.

Both images are ext2 file systems made with ``mke2fs -d`` from fixtures/precision.py: raw text
files, ``enscript`` PostScript, Ghostscript PDF and a ``tiffg4`` fax page (OCR).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.precision import BANNER_POSITIVES, POSITIVES, build_lookalike, build_positive
from forensics.cli import main
from forensics.render.ocr import tesseract_path

SEVERITY_ORDER = ["critical", "high", "medium", "low"]
CONFIDENCE_ORDER = ["validated", "keyword-anchored", "pattern"]


def _scan(image: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    rc = main(["scan", str(image), "-o", str(out), "-q", *extra])
    return rc, json.loads((out / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision")
    return {"lookalike": build_lookalike(root), "positive": build_positive(root)}


def test_lookalike_drive_has_no_finding_and_passes_a_disposal_check(
    images: dict[str, Path], tmp_path: Path
) -> None:
    rc, report = _scan(images["lookalike"], tmp_path / "out", "--fail-on", "sensitive")
    assert report["findings"] == []
    assert report["verdict"]["verdict"] == "residual-data"  # files are left, nothing sensitive
    assert rc == 0
    # Under the default policy the files left are still worth an exit 1 (DESIGN.md).
    rc_default, report_default = _scan(images["lookalike"], tmp_path / "default")
    assert rc_default == 1 and report_default["findings"] == []


def test_every_positive_is_found_raw_and_in_postscript_and_pdf_text(
    images: dict[str, Path], tmp_path: Path
) -> None:
    rc, report = _scan(images["positive"], tmp_path / "out", "--reveal")
    assert rc == 1 and report["verdict"]["verdict"] == "sensitive"
    # A value the PostScript source holds as a string literal is found in its raw bytes and
    # not reported again from the decoded text; banner lines only exist in the decoded text.
    places = {
        "raw text": "/config/positives.txt",
        "PostScript": "/spool/00101.ps",
        "PDF text": "/spool/00102.pdf",
    }
    by_place = {
        place: {(f["category"], f["value"]) for f in report["findings"] if f["path"] == path}
        for place, path in places.items()
    }
    for place, found in by_place.items():
        missing = [p.line for p in POSITIVES if (p.category, p.value) not in found]
        assert not missing, f"{place}: {missing}"
    # Each credential names its service where the key says it, in every form.
    services = {
        (f["path"], f["value"]): f["service"]
        for f in report["findings"]
        if f["category"] == "credentials" and f["job_id"] is not None
    }
    banners_decoded = {
        f["value"] for f in report["findings"] if f["path"] == "/spool/00101.ps" and f["job_id"]
    }
    assert {"CUI", "SECRET", "CONTROLLED", "CONFIDENTIAL"} <= banners_decoded
    for sample in POSITIVES:
        if sample.service:
            assert services[("/spool/00102.pdf", sample.value)] == sample.service


@pytest.mark.skipif(tesseract_path() is None, reason="tesseract not installed")
def test_banners_are_found_in_ocr_text(images: dict[str, Path], tmp_path: Path) -> None:
    _, report = _scan(images["positive"], tmp_path / "out", "--reveal")
    ocr = {f["value"] for f in report["findings"] if f["path"] == "/fax/00103.tif"}
    assert {p.value for p in BANNER_POSITIVES[:3]} <= ocr


def test_report_sorts_by_severity_then_confidence(images: dict[str, Path], tmp_path: Path) -> None:
    _, report = _scan(images["positive"], tmp_path / "out", "--no-pages")
    keys = [
        (SEVERITY_ORDER.index(f["severity"]), CONFIDENCE_ORDER.index(f["confidence"]))
        for f in report["findings"]
    ]
    assert keys == sorted(keys)
    assert report["findings"][0]["severity"] == "critical"
