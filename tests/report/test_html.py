"""The HTML report: parsed back with html.parser, and opened in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from forensics.report.html import text
from tests.report.conftest import FORMULA_USER, SCRIPT_NAME, SSN, pfa


class Page(HTMLParser):
    """What a reader (and a browser) sees: text, scripts, tags with their attributes."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.chunks: list[str] = []
        self.by_id: dict[str, list[str]] = {}
        self._open: list[tuple[str, str | None]] = []
        self._in_script = False
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        self._in_script = tag == "script"
        if tag not in ("img", "meta", "br", "input", "rect"):
            self._open.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False
        while self._open:
            name, _ = self._open.pop()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
            return
        self.chunks.append(data)
        for _, element_id in self._open:
            if element_id:
                self.by_id.setdefault(element_id, []).append(data)

    def text(self, element_id: str | None = None) -> str:
        return "".join(self.chunks if element_id is None else self.by_id.get(element_id, []))


def read(path: Path) -> tuple[str, Page]:
    source = path.read_text(encoding="utf-8")
    return source, Page(source)


def test_summary_first_with_verdict_policy_hashes_and_provenance(demo_case: Path) -> None:
    source, page = read(demo_case / "report.html")
    assert page.text("verdict") == "sensitive"
    assert "validated finding" in page.text("reasons")
    assert "policy: sensitive: at least one validated finding of severity high" in page.text()
    assert source.index("id=summary") < source.index("id=jobs")
    assert "sha256" in page.text("hashes") and "md5" in page.text("hashes")
    provenance = page.text("provenance")
    for label in ("rule set sha256", "command line", "started (UTC)", "finished (UTC)"):
        assert label in provenance
    assert "pfa scan" in provenance
    assert page.text("by-severity").count("high") >= 1
    assert sum(1 for tag, _ in page.tags if tag == "rect") >= 2  # the disk-map strip


def test_job_table_with_thumbnails_and_details(demo_case: Path) -> None:
    _, page = read(demo_case / "report.html")
    job_rows = [a for tag, a in page.tags if tag == "tr" and a.get("class") == "job"]
    report = json.loads((demo_case / "report.json").read_text(encoding="utf-8"))
    assert len(job_rows) == len(report["print_jobs"]) >= 3  # one row per print job
    jobs_text = page.text("jobs")
    for job in report["print_jobs"]:
        assert job["print_job_id"] in jobs_text and job["user"] in jobs_text
    # Each job opens to its artefacts with the reason each was linked, and its sources.
    assert "embedded in" in jobs_text and "Metadata and its sources" in jobs_text
    assert "device artefacts" in page.text("artefacts").lower()
    thumbs = [a for tag, a in page.tags if tag == "img" and a.get("class") == "thumb"]
    assert thumbs, "rendered pages should show as thumbnails"
    assert all((a.get("src") or "").startswith("data:image/png;base64,") for a in thumbs)
    assert sum(1 for tag, _ in page.tags if tag == "details") >= len(job_rows)
    assert "evidence address" in page.text("jobs")


def _thumb_srcs(report_html: Path) -> list[str]:
    _, page = read(report_html)
    return [
        a.get("src") or "" for tag, a in page.tags if tag == "img" and a.get("class") == "thumb"
    ]


def test_thumbnails_are_the_files_the_scan_wrote(demo_case: Path) -> None:
    report = json.loads((demo_case / "report.json").read_text(encoding="utf-8"))
    pages = [p for job in report["jobs"] for p in job["rendered_pages"] if p["preview"]]
    assert pages
    written = set()
    for page in pages:
        thumb = demo_case / page["thumbnail"]
        assert thumb.parent == demo_case / "pages" and thumb.read_bytes().startswith(b"\x89PNG")
        with Image.open(thumb) as image:
            assert max(image.size) <= 160
        written.add("data:image/png;base64," + base64.b64encode(thumb.read_bytes()).decode())
    srcs = _thumb_srcs(demo_case / "report.html")
    assert srcs and set(srcs) <= written


def test_thumbnails_of_a_case_without_them_and_of_a_tampered_one(
    demo_case: Path, tmp_path: Path
) -> None:
    """A case written before thumbnails were (or whose thumbnail is not a small PNG) still
    shows pages: the thumbnail is made from the preview."""
    case = tmp_path / "case"
    shutil.copytree(demo_case, case)
    thumbs = sorted((case / "pages").glob("*-thumb.png"))
    assert thumbs
    thumbs[0].write_bytes(b"<svg onload=alert(1)>")  # not a PNG: never embedded
    for thumb in thumbs[1:]:
        thumb.unlink()
    (case / "report.html").unlink()
    done = pfa("report", str(case), "--format", "html")
    assert done.returncode == 0, done.stderr
    srcs = _thumb_srcs(case / "report.html")
    assert len(srcs) == len(_thumb_srcs(demo_case / "report.html"))
    for src in srcs:
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        with Image.open(io.BytesIO(png)) as image:
            assert max(image.size) <= 160


def test_self_contained(demo_case: Path) -> None:
    _, page = read(demo_case / "report.html")
    for tag, attributes in page.tags:
        for name in ("src", "href"):
            value = attributes.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, value)
        assert tag != "link"
    csp = next(a for t, a in page.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in (csp.get("content") or "")


def test_hostile_names_are_inert_text(hostile_case: Path) -> None:
    source, page = read(hostile_case / "report.html")
    # One script only: ours. The evidence's <script> and <img onerror> are text.
    assert len([t for t, _ in page.tags if t == "script"]) == 1
    assert not any(k.startswith("on") for _, attributes in page.tags for k in attributes), (
        "no event handler attribute may come from evidence"
    )
    assert not any(t == "img" and (a.get("src") == "x") for t, a in page.tags)
    visible = page.text()
    assert SCRIPT_NAME in visible  # shown as it is, as text
    assert FORMULA_USER in visible
    assert "\x1b" not in source
    assert "\\x1b[31mevil<b>.pjl" in visible


def test_text_escapes_markup_and_shows_control_characters() -> None:
    assert text("../../etc/passwd\x1b[31mRED<b>") == "../../etc/passwd\\x1b[31mRED&lt;b&gt;"
    assert text("\"a\" & 'b'") == "&quot;a&quot; &amp; &#x27;b&#x27;"
    assert text("\u202eevil") == "\\x202eevil"  # right-to-left override: a format character
    assert text(None) == ""


def test_masked_unless_revealed(hostile_case: Path, revealed_case: Path) -> None:
    masked, page = read(hostile_case / "report.html")
    assert SSN not in masked and "5378 1492 2635 0179" not in masked
    assert "***-**-" + SSN[-4:] in page.text()
    assert "masked" in page.text()
    _, page = read(revealed_case / "report.html")
    assert SSN in page.text()
    assert "UNMASKED" in page.text()


def test_banner_top_and_bottom(demo_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.html"
    banner = "CASE 2026-117 <SECRET> & co"
    done = pfa("report", str(demo_case), "-f", "html", "-o", str(out), "--banner", banner)
    assert done.returncode == 0, done.stderr
    _, page = read(out)
    texts = [c for c in page.chunks if c == banner]
    assert len(texts) == 2
    assert page.chunks.index(banner) < page.chunks.index("Summary")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_opens_in_headless_chromium(demo_case: Path, tmp_path: Path) -> None:
    browser = _chromium()
    assert browser is not None
    report = (demo_case / "report.html").resolve()
    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    common = [
        browser,
        "--headless",
        "--no-sandbox",  # tests run as root in a container
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run(
        [*common, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Page(dom.stdout)
    assert page.text("verdict") == "sensitive"
    assert any(tag == "table" and a.get("id") == "jobs" for tag, a in page.tags)
    # The script ran: it shows the filter controls that are hidden without JavaScript.
    controls = [a for tag, a in page.tags if a.get("class") == "controls"]
    assert controls and all("hidden" not in a for a in controls)
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    done = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, done.stderr[
        -2000:
    ]
    print(f"screenshot: {shot}")
