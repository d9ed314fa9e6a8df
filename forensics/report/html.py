"""``--format html``: one self-contained report file an examiner can hand on.

Self-contained means no fetch of any kind: CSS and the little JavaScript are inline, page
thumbnails are ``data:`` URIs, and a Content-Security-Policy of ``default-src 'none'`` keeps a
browser from loading anything even if some string slipped through. Every string that comes from
the evidence (file and job names, metadata, masked values and context, problem messages) goes
through :func:`text`: control characters (ANSI escape sequences in a file name) are shown as
``\\xNN`` and the rest is HTML-escaped, so ``<script>alert(1)</script>`` is shown, not run.

Layout, summary first: verdict per image with its reasons and policy, counts, the disk-map
strip, hashes and provenance; then the job table (sortable and filterable with JavaScript,
complete without it), each job opening to its metadata, findings and pages; then findings,
device artefacts, problems and the timeline when the case holds them. ``@media print`` opens
every detail and drops the controls.
"""

from __future__ import annotations

import base64
import bisect
import html
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from forensics import __version__
from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    atomic_file,
    image_ids,
    image_run,
    per_image_path,
    revealed,
    table_records,
)
from forensics.report.json_report import summarise
from forensics.store import CaseStore

log = logging.getLogger("forensics.report.html")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_THUMB_BYTES = 256 * 1024  # a 160-pixel PNG is a few KiB; anything larger is not ours
# What the table of parsed objects shows of each job row.
_OBJECT_FIELDS = (
    "job_id",
    "format",
    "format_chain",
    "location_class",
    "carved",
    "path",
    "pages",
    "findings",
    "parent_job_id",
)
THUMBS_PER_JOB = 4  # pages shown when a job is opened (the first one also in its row)
MAX_THUMBS = 400  # per report: a page-heavy case stays a file a mail system accepts
MAX_FINDINGS_LISTED = 5000  # in the findings section (all of them are in report.json)
MAX_PROBLEMS_LISTED = 2000
MAX_TIMELINE = 5000
MAP_WIDTH = 1000  # viewBox units of the disk-map strip

CLASS_COLOURS = {
    "zero": "#e8e8e8",
    "constant": "#bdbdbd",
    "pattern": "#8fa8c8",
    "random": "#6a3d9a",
    "structured": "#e6550d",
}
SEVERITIES = ("critical", "high", "medium", "low")


# Control characters (Unicode category Cc) and the invisible format characters (Cf) that can
# reorder or hide text (bidirectional overrides, zero-width characters, BOM, tag characters).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0001"
    "\U000e0020-\U000e007f]"
)


def _shown(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


# What ``text`` changes: the invisible characters above and the five HTML-special ones.
_CHANGED = re.compile(_INVISIBLE.pattern[:-1] + "&<>\"']")


def text(value: object) -> str:
    """Evidence text made inert: control characters shown as ``\\xNN``, then HTML-escaped."""
    if value is None:
        return ""
    raw = str(value)
    # One C-level scan; most strings (ids, dates, labels, numbers) have nothing to change.
    if _CHANGED.search(raw) is None:
        return raw
    return html.escape(_INVISIBLE.sub(_shown, raw), quote=True)


def _dl(items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(f"<dt>{text(k)}</dt><dd>{text(v)}</dd>" for k, v in items)
    return f"<dl>{rows}</dl>" if rows else "<p class=muted>none</p>"


class _Thumbs:
    """Page thumbnails as data: URIs, read from the files the scan wrote beside the case.

    A page record names its thumbnail (made by the job workers); for a case written before
    they were, the thumbnail is made here from the page's preview. Each page is embedded once
    per report and a thumbnail that is not a small PNG inside the case folder is never used.
    """

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.made = 0
        self._uris: dict[tuple[str | None, str | None], str | None] = {}

    def uri(self, page: dict[str, Any]) -> str | None:
        preview, thumbnail = page.get("preview"), page.get("thumbnail")
        key = (preview, thumbnail)
        if key in self._uris:
            return self._uris[key]
        if self.made >= MAX_THUMBS:
            return None
        png = self._read(thumbnail) or self._from_preview(preview)
        uri = None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()
        self.made += uri is not None
        self._uris[key] = uri
        return uri

    def _inside(self, name: object) -> Path | None:
        if not name or not isinstance(name, str):
            return None
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None  # a page path is ours, but never follow one out of the case folder
        return path

    def _read(self, thumbnail: object) -> bytes | None:
        path = self._inside(thumbnail)
        if path is None:
            return None
        try:
            with path.open("rb") as handle:
                png = handle.read(MAX_THUMB_BYTES + 1)
        except OSError as exc:
            log.debug("thumbnail %s: %s", path, exc)
            return None
        if len(png) > MAX_THUMB_BYTES or not png.startswith(PNG_SIGNATURE):
            return None
        return png

    def _from_preview(self, preview: object) -> bytes | None:
        path = self._inside(preview)
        if path is None:
            return None
        from PIL import Image, UnidentifiedImageError

        from forensics.render.base import thumbnail_png

        try:
            with Image.open(path) as image:
                return thumbnail_png(image)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            log.debug("thumbnail of %s: %s", path, exc)
            return None


STYLE = """
:root{--fg:#1d1d1f;--muted:#666;--line:#d0d0d0;--bg:#fff;--accent:#0b57d0}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1200px;padding:0 16px 32px}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid
var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.banner{background:#222;color:#fff;text-align:center;font-weight:600;padding:6px;letter-spacing:.05em}
.muted{color:var(--muted)}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;
overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid var(--line);
padding:3px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}td.n,th.n{text-align:right}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:700;color:#fff}
.v-sensitive{background:#b3261e}.v-residual-data{background:#b26a00}.v-wiped,.v-encrypted{background:#1e7b34}
.sev-critical,.sev-high{color:#b3261e;font-weight:600}.sev-medium{color:#b26a00}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}details{margin:4px 0}summary{cursor:pointer;color:var(--accent)}
.map{width:100%;height:28px;border:1px solid var(--line)}.legend span{display:inline-block;
margin-right:12px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;
vertical-align:-1px;border:1px solid #999}
img.thumb{border:1px solid var(--line);max-width:160px;max-height:160px;background:#fff}
.pages{display:flex;flex-wrap:wrap;gap:8px}.pages figure{margin:0}.pages figcaption{font-size:12px}
#filter{padding:4px 8px;width:320px;max-width:100%}th.sortable{cursor:pointer}
th.sortable::after{content:" \\2195";color:var(--muted)}tr.detail>td{background:#fafafa}
@media print{.controls,.noprint{display:none}details>summary{list-style:none}
details:not([open])>*:not(summary){display:block}body{max-width:none}
a{color:inherit;text-decoration:none}tbody{break-inside:avoid}.banner{border:2px solid #000;color:#000;background:none}}
"""

# Sorting and filtering of the job table. Each job is one <tbody> (its row and its detail row),
# so sorting moves a job with its details. Without JavaScript the table is simply complete.
SCRIPT = """
(function(){
var table=document.getElementById('jobs');if(!table){return;}
var filter=document.getElementById('filter');
document.querySelectorAll('.controls').forEach(function(c){c.hidden=false;});
if(filter){filter.addEventListener('input',function(){
var q=filter.value.toLowerCase();var shown=0;
table.querySelectorAll('tbody').forEach(function(b){
var hit=b.textContent.toLowerCase().indexOf(q)>=0;b.hidden=!hit;if(hit){shown++;}});
document.getElementById('shown').textContent=shown;});}
table.querySelectorAll('th.sortable').forEach(function(th,i){
th.addEventListener('click',function(){
var col=+th.dataset.col,numeric=th.classList.contains('n');
var dir=th.dataset.dir==='asc'?-1:1;th.dataset.dir=dir>0?'asc':'desc';
var bodies=Array.prototype.slice.call(table.tBodies);
bodies.sort(function(a,b){
var x=a.rows[0].cells[col].dataset.v||a.rows[0].cells[col].textContent;
var y=b.rows[0].cells[col].dataset.v||b.rows[0].cells[col].textContent;
if(numeric){x=parseFloat(x)||0;y=parseFloat(y)||0;return (x-y)*dir;}
return x.localeCompare(y)*dir;});
bodies.forEach(function(b){table.appendChild(b);});});});
window.addEventListener('beforeprint',function(){
document.querySelectorAll('details').forEach(function(d){d.open=true;});});
})();
"""

JOB_COLUMNS = (
    ("id", False),
    ("time (UTC)", False),
    ("format", False),
    ("user", False),
    ("host", False),
    ("document", False),
    ("pages", True),
    ("location", False),
    ("findings", True),
    ("preview", None),
)


PRINT_JOB_COLUMNS = (
    ("id", False),
    ("time (UTC)", False),
    ("user", False),
    ("host", False),
    ("document", False),
    ("printer", False),
    ("pages", True),
    ("state", False),
    ("recoverable", False),
    ("location", False),
    ("findings", True),
    ("preview", None),
)
MAX_FINDINGS_PER_JOB = 200


class HtmlWriter(ReportWriter):
    name = "html"
    description = (
        "report.html: one self-contained file (summary, jobs with page previews, findings)"
    )
    default_name = "report.html"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        ids = image_ids(case, options)
        written = []
        for image_id in ids:
            path = per_image_path(dest, image_id, len(ids) > 1)
            with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
                _Report(case, image_id, options, out).write()
            written.append(path)
        if len(ids) > 1:
            # A case of many images (pfa batch): the fleet page, one row per device, links
            # into each image's report beside it.
            with atomic_file(dest) as tmp, open(tmp, "w", encoding="utf-8") as out:
                _Fleet(case, ids, dest, options, out).write()
            written.insert(0, dest)
        return written


class _FindingIndex:
    """Finding ids of one image by job id, and raw findings by image offset (sorted)."""

    def __init__(self, case: CaseStore, image_id: int):
        self.by_job: dict[str, list[int]] = {}
        self.raw: list[tuple[int, int]] = []
        for finding_id, job_id, offset in case.db.execute(
            "SELECT finding_id, job_id, image_offset FROM findings WHERE image_id = ?",
            (image_id,),
        ):
            if job_id is not None:
                self.by_job.setdefault(str(job_id), []).append(int(finding_id))
            elif offset is not None:
                self.raw.append((int(offset), int(finding_id)))
        self.raw.sort()

    def of(self, links: list[dict[str, Any]]) -> list[int]:
        found: set[int] = set()
        for link in links:
            found.update(self.by_job.get(str(link.get("artefact_id")), ()))
            start, length = link.get("image_offset"), link.get("length")
            if start is not None and length:
                lo = bisect.bisect_left(self.raw, (int(start), -1))
                hi = bisect.bisect_left(self.raw, (int(start) + int(length), -1))
                found.update(fid for _, fid in self.raw[lo:hi])
        return sorted(found)


class _Report:
    def __init__(self, case: CaseStore, image_id: int, options: ReportOptions, out: IO[str]):
        self.case, self.image_id, self.options, self.out = case, image_id, options, out
        self.run = image_run(case, image_id)
        self.reveal = revealed(self.run)
        self.image = case.image(image_id)
        self.thumbs = _Thumbs(case.path.parent)
        self._finding_index: _FindingIndex | None = None
        self._finding_rows: dict[int, str] = {}

    def w(self, *parts: str) -> None:
        self.out.write("".join(parts))

    def write(self) -> None:
        paths = self.image.get("paths") or ["(unknown image)"]
        self.w(
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
            # Nothing may be fetched: not a font, not an image, not a beacon.
            "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
            "<meta name=viewport content='width=device-width,initial-scale=1'>",
            f"<title>pfa report: {text(paths[0])}</title><style>{STYLE}</style></head><body>\n",
        )
        self.banner()
        self.w(
            f"<h1>Printer forensics report: <span class=mono>{text(paths[0])}</span></h1>",
            "<p class=muted>",
            "values <strong>UNMASKED</strong> (the case was scanned with --reveal): "
            "handle as the evidence itself"
            if self.reveal
            else "sensitive values are masked (scan with --reveal to keep them)",
            f" · printer-forensics {text(__version__)}</p>\n",
        )
        self.summary()
        if self.case.has_table("print_jobs"):
            self.print_jobs()
            self.objects()
        else:
            self.jobs()  # a case from before print jobs were consolidated
        self.findings()
        self.artefacts()
        self.problems()
        self.timeline()
        self.banner()
        self.w(f"<script>{SCRIPT}</script></body></html>\n")

    def banner(self) -> None:
        if self.options.banner:
            self.w(f"<div class=banner>{text(self.options.banner)}</div>\n")

    # --- summary ----------------------------------------------------------------------

    def summary(self) -> None:
        image, run = self.image, self.run
        verdict = str(image.get("verdict") or "unknown")
        policy = image.get("verdict_policy") or {}
        self.w(
            "<section id=summary><h2>Summary</h2>",
            f"<p>verdict: <span class='verdict v-{text(verdict)}' id=verdict>{text(verdict)}</span></p>",
            "<ul id=reasons>",
            *(f"<li>{text(r)}</li>" for r in image.get("verdict_reasons") or []),
            "</ul>",
            f"<p>policy: {text(policy.get('description') or 'default')}</p>",
        )
        counts = summarise(self.case, self.image_id)
        by_sev: dict[str, Counter[str]] = {}
        for (severity, category), n in self.case.finding_counts(self.image_id).items():
            by_sev.setdefault(category, Counter())[severity] += n
        self.w(
            "<h3>Findings by category and severity</h3><table id=by-severity><tr><th>category</th>"
        )
        self.w(*(f"<th class=n>{s}</th>" for s in SEVERITIES), "<th class=n>total</th></tr>")
        for category in sorted(by_sev):
            row = by_sev[category]
            self.w(f"<tr><td>{text(category)}</td>")
            self.w(*(f"<td class=n>{row.get(s, 0) or ''}</td>" for s in SEVERITIES))
            self.w(f"<td class=n>{sum(row.values())}</td></tr>")
        if not by_sev:
            self.w("<tr><td colspan=6 class=muted>no findings</td></tr>")
        self.w("</table>")
        locations = counts["findings_by_location_class"]
        self.w("<h3>Findings by location</h3><table id=by-location><tr>")
        self.w(*(f"<th class=n>{text(k)}</th>" for k in sorted(locations)), "</tr><tr>")
        self.w(*(f"<td class=n>{locations[k]}</td>" for k in sorted(locations)), "</tr></table>")
        self.w(
            "<p>"
            + (
                f"print jobs: {counts['print_jobs']} · device artefacts: "
                f"{counts['device_artefacts']} · parsed objects: {counts['jobs']}"
                if counts.get("print_jobs") is not None
                else f"jobs: {counts['jobs']}"
            )
            + f" · files: {counts['files']} ({counts['files_deleted']} "
            f"deleted) · findings: {counts['findings']} · problems: {counts['problems']}</p>"
        )
        self.disk_map()
        self.w("<h3>Evidence</h3>")
        hashes = image.get("hashes") or {}
        stored = image.get("stored_hashes") or {}
        rows = [
            ("path", ", ".join(image.get("paths") or [])),
            ("format", image.get("format")),
            ("size", f"{image.get('size')} bytes"),
            ("partition scheme", image.get("partition_scheme")),
            *((name, value) for name, value in hashes.items()),
            *((f"{name} (stored in container)", value) for name, value in stored.items()),
            ("hash verified", image.get("hash_verified")),
        ]
        self.w("<div id=hashes class=mono>", _dl(rows), "</div>")
        self.w("<h3>Run</h3>")
        provenance = [
            ("tool", f"{run.get('tool', 'printer-forensics')} {run.get('tool_version', '')}"),
            ("rule set sha256", run.get("rules_sha256")),
            ("rule files", ", ".join(run.get("rule_files") or [])),
            ("command line", run.get("command_line")),
            ("host", run.get("host")),
            ("platform", run.get("platform")),
            ("started (UTC)", run.get("started")),
            ("finished (UTC)", image.get("finished") or run.get("finished")),
            ("report written by", f"printer-forensics {__version__}"),
        ]
        self.w("<div id=provenance>", _dl(provenance), "</div></section>\n")

    def disk_map(self) -> None:
        disk_map = self.image.get("disk_map") or {}
        cells = disk_map.get("cells") or []
        size = int(self.image.get("size") or 0)
        if not cells or size <= 0:
            return
        # Adjacent cells of one class become one rectangle: a mostly empty disk is a few shapes.
        runs: list[list[Any]] = []
        for cell in cells:
            if (
                runs
                and runs[-1][2] == cell["class"]
                and runs[-1][0] + runs[-1][1] == cell["offset"]
            ):
                runs[-1][1] += cell["length"]
            else:
                runs.append([cell["offset"], cell["length"], cell["class"]])
        scale = MAP_WIDTH / size
        rects = "".join(
            f"<rect x='{o * scale:.3f}' width='{max(n * scale, 0.3):.3f}' height='10' "
            f"fill='{CLASS_COLOURS.get(c, '#000')}'><title>{text(c)}: offset {o}, "
            f"{n} bytes</title></rect>"
            for o, n, c in runs
        )
        self.w(
            "<h3>Disk map</h3><svg id=diskmap class=map viewBox='0 0 "
            f"{MAP_WIDTH} 10' preserveAspectRatio=none role=img aria-label='disk map'>{rects}</svg>",
            "<p class=legend>",
            *(f"<span><i style='background:{c}'></i>{n}</span>" for n, c in CLASS_COLOURS.items()),
            "</p>",
        )

    # --- print jobs -------------------------------------------------------------------

    def print_jobs(self) -> None:
        jobs = list(self.case.print_jobs(self.image_id))
        self.w(
            f"<section id=print-jobs><h2>Print jobs ({len(jobs)})</h2>",
            "<p class=muted>one row per job: its wrapper, payload, control file, carved copies "
            "and log lines together; open a job for its artefacts, metadata sources, findings "
            "and pages</p>",
            "<p class=controls hidden>filter: <input id=filter type=search "
            "placeholder='user, document, printer…'> showing <span id=shown>"
            f"{len(jobs)}</span> · click a column heading to sort</p>",
            "<table id=jobs><thead><tr>",
        )
        for i, (name, numeric) in enumerate(PRINT_JOB_COLUMNS):
            if numeric is None:
                self.w(f"<th>{name}</th>")
            else:
                cls = "sortable n" if numeric else "sortable"
                self.w(f"<th class='{cls}' data-col={i}>{name}</th>")
        self.w("</tr></thead>\n")
        for job in jobs:
            self.print_job(job)
        if not jobs:
            self.w(
                f"<tbody><tr><td colspan={len(PRINT_JOB_COLUMNS)} class=muted>no print jobs"
                "</td></tr></tbody>"
            )
        self.w("</table></section>\n")

    def print_job(self, job: dict[str, Any]) -> None:
        pages = job.get("rendered_pages") or []
        thumbs = [(p, self.thumbs.uri(p)) for p in pages[:THUMBS_PER_JOB]]
        first = next((uri for _, uri in thumbs if uri), None)
        counts = job.get("findings") or {}
        total = sum(int(n) for n in counts.values())
        by_severity = " ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s))
        document = str(job.get("document") or "")
        if job.get("conflicts"):
            document += " ⚠"
        cells = [
            f"<td class=mono>{text(job.get('print_job_id'))}</td>",
            f"<td>{text(str(job.get('time') or '').replace('T', ' ').removesuffix('Z'))}</td>",
            f"<td>{text(job.get('user'))}</td>",
            f"<td>{text(job.get('host'))}</td>",
            f"<td>{text(document)}</td>",
            f"<td>{text(job.get('printer'))}</td>",
            f"<td class=n>{text(job.get('pages'))}</td>",
            f"<td>{text(job.get('state'))}</td>",
            f"<td>{text(job.get('recoverable'))}</td>",
            f"<td>{text(job.get('location'))}</td>",
            f"<td class=n data-v={total}>{text(by_severity or '0')}</td>",
            "<td>" + (f'<img class=thumb alt=page src="{first}">' if first else "") + "</td>",
        ]
        self.w("<tbody><tr class=job>", *cells, "</tr>")
        self.w(
            f"<tr class=detail><td colspan={len(PRINT_JOB_COLUMNS)}><details>"
            "<summary>artefacts, sources, findings, pages</summary>"
        )
        facts = [
            ("evidence address", job.get("address")),
            ("state", job.get("state")),
            ("recoverable", job.get("recoverable")),
            ("copies", job.get("copies")),
            ("hold", job.get("hold")),
            ("PIN", job.get("pin_masked")),
            ("conflicting fields", ", ".join(job.get("conflicts") or [])),
        ]
        self.w("<h3>Job</h3>", _dl((k, v) for k, v in facts if v not in (None, "")))
        links = job.get("artefacts") or []
        self.w(
            f"<h3>Artefacts ({len(links)})</h3><table class=artefacts><tr><th>role</th>"
            "<th>format</th><th>linked because</th><th>location</th><th>path</th>"
            "<th>evidence address</th></tr>"
        )
        for link in links:
            chain = ">".join(link.get("format_chain") or []) or link.get("format")
            where = link.get("location_class") or ""
            if link.get("carved"):
                where += " (carved)"
            address = link.get("address") or ""
            if link.get("image_offset") is not None:
                address += f" (image offset {link['image_offset']})"
            self.w(
                f"<tr><td>{text(link.get('role'))}</td><td>{text(chain)}</td>",
                f"<td>{text(link.get('reason'))}</td><td>{text(where)}</td>",
                f"<td class=mono>{text(link.get('path'))}</td>",
                f"<td class=mono>{text(address)}</td></tr>",
            )
        self.w("</table>")
        self.field_sources(job)
        findings = self.job_findings(links)
        if findings:
            self.w(f"<h3>Findings ({len(findings)})</h3>")
            self.finding_table(findings)
        if pages:
            self.w(f"<h3>Pages ({len(pages)} with previews)</h3><div class=pages>")
            for page, uri in thumbs:
                caption = f"page {page.get('number')}: {page.get('width')}×{page.get('height')}"
                if page.get("ocr"):
                    caption += f", OCR confidence {page.get('ocr_confidence')}"
                image = (
                    f"<img class=thumb alt='page {text(page.get('number'))}' src=\"{uri}\">"
                    if uri
                    else ""
                )
                self.w(f"<figure>{image}<figcaption>{text(caption)}</figcaption></figure>")
            if len(pages) > THUMBS_PER_JOB:
                self.w(f"<p class=muted>{len(pages) - THUMBS_PER_JOB} more pages: pfa pages</p>")
            self.w("</div>")
        self.w("</details></td></tr></tbody>\n")

    def field_sources(self, job: dict[str, Any]) -> None:
        fields = job.get("fields") or {}
        if not fields:
            return
        conflicts = set(job.get("conflicts") or [])
        self.w(
            "<h3>Metadata and its sources</h3><table class=sources><tr><th>field</th>"
            "<th>value</th><th>source</th><th>time zone</th></tr>"
        )
        for name, values in fields.items():
            if name == "pin" and not self.reveal:
                continue  # never in a masked case's store; belt and braces
            for n, value in enumerate(values):
                source = value.get("source") or {}
                label = name if n == 0 else ""
                if n == 0 and name in conflicts:
                    label += " (sources disagree)"
                shown = value.get("value")
                self.w(
                    f"<tr><td>{text(label)}</td><td>{text(shown)}</td>",
                    f"<td class=mono>{text(source.get('format'))} {text(source.get('field'))}"
                    f" · {text(source.get('address'))}</td>",
                    f"<td>{text(value.get('time_zone'))}</td></tr>",
                )
        self.w("</table>")

    def job_findings(self, links: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """Findings in a print job's artefacts: in their decoded text (by job id) or in their
        bytes on the medium (by image range). The index is read once per report."""
        if self._finding_index is None:
            self._finding_index = _FindingIndex(self.case, self.image_id)
        ids = self._finding_index.of(links)[:MAX_FINDINGS_PER_JOB]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.case.db.execute(
            f"SELECT finding_id, data FROM findings WHERE finding_id IN ({marks})"
            " ORDER BY image_offset, finding_id",
            ids,
        )
        return [(int(fid), str(data)) for fid, data in rows]

    def objects(self) -> None:
        """The parsed objects the print jobs were built from (``pfa jobs --artefacts``)."""
        # Only the fields the table shows: whole rows (page references, metadata, the address
        # chain) are ten times the bytes to parse.
        fields = ", ".join(f"'{key}', json_extract(data, '$.{key}')" for key in _OBJECT_FIELDS)
        jobs = [
            json.loads(row)
            for (row,) in self.case.db.execute(
                f"SELECT json_object({fields}) FROM jobs WHERE image_id = ? ORDER BY rowid",
                (self.image_id,),
            )
        ]
        self.w(
            f"<section id=objects><h2>Parsed objects ({len(jobs)})</h2><details>"
            "<summary>every object parsed: wrappers and payloads, control files, logs, "
            "device artefacts</summary><table><tr><th>id</th><th>format</th><th>location</th>"
            "<th>path</th><th class=n>pages</th><th class=n>findings</th><th>parent</th></tr>"
        )
        for job in jobs:
            location = str(job.get("location_class") or "") + (
                " (carved)" if job.get("carved") else ""
            )
            self.w(
                f"<tr><td class=mono>{text(job.get('job_id'))}</td>",
                f"<td>{text('>'.join(job.get('format_chain') or [job.get('format')]))}</td>",
                f"<td>{text(location)}</td><td class=mono>{text(job.get('path'))}</td>",
                f"<td class=n>{text(job.get('pages'))}</td>",
                f"<td class=n>{text(job.get('findings'))}</td>",
                f"<td class=mono>{text(job.get('parent_job_id'))}</td></tr>",
            )
        self.w("</table></details></section>\n")

    # --- jobs (cases without print jobs) -----------------------------------------------

    def jobs(self) -> None:
        findings_by_job: dict[str, list[dict[str, Any]]] = {}
        for job_id, data in self.case.db.execute(
            "SELECT job_id, data FROM findings WHERE image_id = ? AND job_id IS NOT NULL"
            " ORDER BY image_offset, finding_id",
            (self.image_id,),
        ):
            findings_by_job.setdefault(str(job_id), []).append(json.loads(data))
        jobs = list(self.case.jobs(self.image_id))
        self.w(
            f"<section><h2>Jobs ({len(jobs)})</h2>",
            "<p class=controls hidden>filter: <input id=filter type=search "
            "placeholder='user, document, format…'> showing <span id=shown>"
            f"{len(jobs)}</span> · click a column heading to sort</p>",
            "<table id=jobs><thead><tr>",
        )
        for i, (name, numeric) in enumerate(JOB_COLUMNS):
            if numeric is None:
                self.w(f"<th>{name}</th>")
            else:
                cls = "sortable n" if numeric else "sortable"
                self.w(f"<th class='{cls}' data-col={i}>{name}</th>")
        self.w("</tr></thead>\n")
        for job in jobs:
            self.job(job, findings_by_job.get(job.get("job_id") or "", []))
        if not jobs:
            self.w(
                f"<tbody><tr><td colspan={len(JOB_COLUMNS)} class=muted>no jobs</td></tr></tbody>"
            )
        self.w("</table></section>\n")

    def job(self, job: dict[str, Any], findings: list[dict[str, Any]]) -> None:
        meta = job.get("metadata") or {}
        when = meta.get("submitted") or meta.get("created") or meta.get("completed") or ""
        document = meta.get("document_name") or meta.get("job_name") or ""
        pages = job.get("rendered_pages") or []
        thumbs = [(p, self.thumbs.uri(p)) for p in pages[:THUMBS_PER_JOB]]
        first = next((uri for _, uri in thumbs if uri), None)
        location = str(job.get("location_class") or "") + (" (carved)" if job.get("carved") else "")
        cells = [
            f"<td class=mono>{text(job.get('job_id'))}</td>",
            f"<td>{text(when.replace('T', ' ').removesuffix('Z'))}</td>",
            f"<td>{text('>'.join(job.get('format_chain') or [job.get('format')]))}</td>",
            f"<td>{text(meta.get('user'))}</td>",
            f"<td>{text(meta.get('host'))}</td>",
            f"<td>{text(document)}</td>",
            f"<td class=n>{text(job.get('pages'))}</td>",
            f"<td>{text(location)}</td>",
            f"<td class=n>{text(job.get('findings'))}</td>",
            "<td>" + (f'<img class=thumb alt=page src="{first}">' if first else "") + "</td>",
        ]
        self.w("<tbody><tr class=job>", *cells, "</tr>")
        self.w(
            f"<tr class=detail><td colspan={len(JOB_COLUMNS)}><details><summary>details</summary>"
        )
        address = job.get("address") or {}
        facts = [
            ("evidence address", address.get("text") if isinstance(address, dict) else address),
            ("path", job.get("path")),
            ("inode", job.get("inode")),
            ("image offset", job.get("image_offset")),
            ("length", job.get("length")),
            ("sha256", job.get("sha256")),
            ("complete", job.get("complete")),
            ("parent job", job.get("parent_job_id")),
            ("paired with", ", ".join(job.get("paired_with") or [])),
        ]
        if job.get("deleted_file"):
            facts.append(("deleted file", job["deleted_file"].get("path")))
        self.w("<h3>Job</h3>", _dl((k, v) for k, v in facts if v not in (None, "")))
        shown = [(k, v) for k, v in meta.items() if v not in (None, "", {}, []) and k != "extra"]
        shown += [(f"extra: {k}", v) for k, v in (meta.get("extra") or {}).items()]
        self.w("<h3>Metadata</h3>", _dl(shown))
        for note in job.get("notes") or []:
            self.w(f"<p class=muted>note: {text(note)}</p>")
        if findings:
            self.w("<h3>Findings</h3>")
            self.finding_table(findings)
        if pages:
            self.w(f"<h3>Pages ({len(pages)} rendered)</h3><div class=pages>")
            for page, uri in thumbs:
                caption = f"page {page.get('number')}: {page.get('width')}×{page.get('height')}"
                if page.get("ocr"):
                    caption += f", OCR confidence {page.get('ocr_confidence')}"
                image = (
                    f"<img class=thumb alt='page {text(page.get('number'))}' src=\"{uri}\">"
                    if uri
                    else ""
                )
                self.w(f"<figure>{image}<figcaption>{text(caption)}</figcaption></figure>")
            if len(pages) > THUMBS_PER_JOB:
                self.w(f"<p class=muted>{len(pages) - THUMBS_PER_JOB} more pages: pfa pages</p>")
            self.w("</div>")
        self.w("</details></td></tr></tbody>\n")

    # --- findings, artefacts, problems, timeline -------------------------------------

    def finding_table(self, findings: Iterable[dict[str, Any] | tuple[int, str]]) -> int:
        """A table of findings: records, or (finding id, JSON) rows whose HTML is rendered
        once per report (a finding shows in its job and again in the findings section)."""
        head = [
            "rule",
            "category",
            "severity",
            "confidence",
            "value",
            "context",
            "location",
            "evidence address",
        ]
        self.w("<table class=findings><tr>", *(f"<th>{h}</th>" for h in head), "</tr>")
        count = 0
        for finding in findings:
            if isinstance(finding, tuple):
                finding_id, data = finding
                row = self._finding_rows.get(finding_id)
                if row is None:
                    row = self._finding_rows[finding_id] = self.finding_row(json.loads(data))
            else:
                row = self.finding_row(finding)
            self.w(row)
            count += 1
        self.w("</table>")
        return count

    def finding_row(self, finding: dict[str, Any]) -> str:
        value = finding.get("value") if self.reveal and finding.get("value") else None
        context = finding.get("context") if self.reveal and finding.get("context") else None
        address = finding.get("address") or {}
        where = address.get("text") if isinstance(address, dict) else address
        severity = str(finding.get("severity") or "")
        offset = finding.get("image_offset")
        return (
            f"<tr><td>{text(finding.get('rule'))}</td><td>{text(finding.get('category'))}</td>"
            f"<td class='sev-{text(severity)}'>{text(severity)}</td>"
            f"<td>{text(finding.get('confidence'))}</td>"
            f"<td class=mono>{text(value or finding.get('value_masked'))}</td>"
            f"<td class=mono>{text(context or finding.get('context_masked'))}</td>"
            f"<td>{text(finding.get('location_class'))}</td>"
            f"<td class=mono>{text(where)}"
            + (f" (image offset {text(offset)})" if offset is not None else "")
            + "</td></tr>"
        )

    def findings(self) -> None:
        total = self.case.count("findings", self.image_id)
        self.w(f"<section><h2>Findings ({total})</h2>")
        if total:
            rows = self.case.db.execute(
                "SELECT finding_id, data FROM findings WHERE image_id = ?"
                " ORDER BY image_offset, finding_id LIMIT ?",
                (self.image_id, MAX_FINDINGS_LISTED),
            )
            self.finding_table((int(fid), str(data)) for fid, data in rows)
            if total > MAX_FINDINGS_LISTED:
                self.w(f"<p class=muted>first {MAX_FINDINGS_LISTED} listed; all in report.json</p>")
        else:
            self.w("<p class=muted>none</p>")
        self.w("</section>\n")

    def artefacts(self) -> None:
        records = list(table_records(self.case, "artefacts", self.image_id))
        if not records:
            return
        self.w(f"<section id=artefacts><h2>Device artefacts ({len(records)})</h2>")
        for record in records:
            title = record.get("kind") or record.get("format") or "artefact"
            where = record.get("path") or (record.get("address") or {})
            if isinstance(where, dict):
                where = where.get("text")
            self.w(f"<details><summary>{text(title)}: {text(where)}</summary>")
            self.w(_dl((k, v) for k, v in sorted(record.items()) if v not in (None, "", [], {})))
            self.w("</details>")
        self.w("</section>\n")

    def problems(self) -> None:
        total = self.case.count("problems", self.image_id)
        self.w(f"<section id=problems><h2>Problems ({total})</h2>")
        if not total:
            self.w("<p class=muted>none</p></section>\n")
            return
        self.w("<table><tr><th>severity</th><th>code</th><th>message</th><th>where</th></tr>")
        for n, problem in enumerate(self.case.problems(self.image_id)):
            if n >= MAX_PROBLEMS_LISTED:
                self.w(f"<tr><td colspan=4 class=muted>… {total - n} more in report.json</td></tr>")
                break
            where = problem.get("address") or problem.get("image_offset")
            self.w(
                f"<tr><td>{text(problem.get('severity'))}</td><td>{text(problem.get('code'))}</td>"
                f"<td>{text(problem.get('message'))}</td><td class=mono>{text(where)}</td></tr>"
            )
        self.w("</table></section>\n")

    def timeline(self) -> None:
        events = []
        for event in table_records(self.case, "timeline", self.image_id):
            events.append(event)
            if len(events) >= MAX_TIMELINE:
                break
        if not events:
            return
        self.w(f"<section id=timeline><h2>Timeline ({len(events)})</h2><table>")
        self.w("<tr><th>time (UTC)</th><th>what</th><th>message</th><th>evidence address</th></tr>")
        for event in events:
            address = event.get("address")
            if isinstance(address, dict):
                address = address.get("text")
            self.w(
                f"<tr><td>{text(event.get('datetime') or event.get('time'))}</td>"
                f"<td>{text(event.get('timestamp_desc') or event.get('kind'))}</td>"
                f"<td>{text(event.get('message'))}</td><td class=mono>{text(address)}</td></tr>"
            )
        self.w("</table></section>\n")


FLEET_COLUMNS = (
    ("asset tag", False),
    ("make / model", False),
    ("serial", False),
    ("image", False),
    ("verdict", False),
    ("print jobs", True),
    ("findings", True),
    ("by category", False),
    ("first job (UTC)", False),
    ("last job (UTC)", False),
    ("device secrets", True),
    ("report", None),
)


class _Fleet:
    """The fleet page of a many-image case: one sortable row per device."""

    def __init__(
        self, case: CaseStore, ids: list[int], dest: Path, options: ReportOptions, out: IO[str]
    ):
        self.case, self.ids, self.dest, self.options, self.out = case, ids, dest, options, out

    def w(self, *parts: str) -> None:
        self.out.write("".join(parts))

    def write(self) -> None:
        from forensics.batch.fleet import fleet_rows

        rows = [row for row in fleet_rows(self.case) if row["image_id"] in self.ids]
        verdicts = Counter(str(row["verdict"]) for row in rows)
        self.w(
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
            "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
            "<meta name=viewport content='width=device-width,initial-scale=1'>",
            f"<title>pfa fleet report: {len(rows)} devices</title><style>{STYLE}</style>"
            "</head><body>\n",
        )
        if self.options.banner:
            self.w(f"<div class=banner>{text(self.options.banner)}</div>\n")
        self.w(
            f"<h1>Printer forensics fleet report: {len(rows)} devices</h1>",
            f"<p class=muted>printer-forensics {text(__version__)} · case "
            f"<span class=mono>{text(self.case.path)}</span></p>",
            "<section id=summary><h2>Summary</h2><ul id=verdicts>",
            *(f"<li>{text(v)}: {n}</li>" for v, n in sorted(verdicts.items())),
            "</ul></section>\n<section id=fleet><h2>Devices</h2>",
            "<p class=controls hidden>filter: <input id=filter type=search "
            f"placeholder='asset, model, serial…'> showing <span id=shown>{len(rows)}</span>"
            " · click a column heading to sort</p><table id=jobs><thead><tr>",
        )
        for i, (name, numeric) in enumerate(FLEET_COLUMNS):
            if numeric is None:
                self.w(f"<th>{name}</th>")
            else:
                cls = "sortable n" if numeric else "sortable"
                self.w(f"<th class='{cls}' data-col={i}>{name}</th>")
        self.w("</tr></thead>\n")
        for row in rows:
            detail = per_image_path(self.dest, row["image_id"], True).name
            verdict = str(row["verdict"] or "")
            categories = ", ".join(f"{k} {v}" for k, v in row["findings_by_category"].items())
            self.w(
                "<tbody><tr class=device>",
                f"<td>{text(row['asset_tag'])}</td><td>{text(row['make_model'])}</td>",
                f"<td class=mono>{text(row['serial'])}</td>",
                f"<td class=mono>{text(row['image'])}</td>",
                f"<td><span class='verdict v-{text(verdict)}'>{text(verdict)}</span></td>",
                f"<td class=n>{row['jobs']}</td><td class=n>{row['findings']}</td>",
                f"<td>{text(categories)}</td>",
                f"<td>{text(str(row['first_job_time']).replace('T', ' '))}</td>",
                f"<td>{text(str(row['last_job_time']).replace('T', ' '))}</td>",
                f"<td class=n>{row['device_secrets']}</td>",
                # Our own file name (report-imageN.html), never a string from the evidence.
                f'<td><a href="{text(detail)}">details</a></td></tr></tbody>\n',
            )
        self.w("</table></section>\n")
        if self.options.banner:
            self.w(f"<div class=banner>{text(self.options.banner)}</div>\n")
        self.w(f"<script>{SCRIPT}</script></body></html>\n")
