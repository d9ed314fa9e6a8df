"""Turn bytes into Job records: identify by signature, parse, recurse into payloads, scan text.

The evidence layer hands over one object at a time (a file's content, a loose file) with its
evidence address; this module never opens an image. Each parsed object becomes a Job; its
embedded payloads (a PJL job's PCL XL, a PDF's streams) are identified and parsed in turn, up to
``MAX_DEPTH``; every decoded text is scanned by the same YARA rules and validators as raw bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing as mp
import re
import signal
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from forensics.carve import CarvedRegion
from forensics.detect.scanner import Detection, DetectionError, Detector
from forensics.evidence.address import EvidenceAddress, step
from forensics.evidence.image import Image as DiskImage
from forensics.evidence.image import read_runs
from forensics.formats.base import (
    MAX_DEPTH,
    MAX_EMBEDDED,
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    candidates,
    set_fields,
)
from forensics.progress import Progress
from forensics.records import ByteRun, Finding, Job, LocationClass, Problem
from forensics.render.base import (
    RenderedPage,
    iter_pages,
    preview,
    renderer_for,
    save_preview,
    thumbnail_png,
)
from forensics.render.ocr import (
    DEFAULT_LANGUAGE,
    OCR_TOLERANT_VALIDATORS,
    OcrResult,
    OcrUnavailable,
    digit_variant,
    ocr_page,
    text_likely,
)
from forensics.render.ocrqueue import (
    PRIORITY_IMAGE_JOB,
    PRIORITY_IMAGE_PAGE,
    PRIORITY_WITH_TEXT,
    OcrBudget,
    OcrRequest,
    OcrSpool,
    run_ocr,
)
from forensics.store import CaseStore

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
MAX_JOBS_PER_OBJECT = 1024  # a hostile container cannot make a million jobs


@dataclass(frozen=True)
class JobSource:
    """One object to identify: its bytes (bounded), where they came from, and how to map
    offsets in them back to the image (``runs``; empty for loose files or decoded data)."""

    data: bytes
    address: EvidenceAddress
    location_class: LocationClass
    name: str | None = None  # file name, for formats recognised by name (cNNNNN, cfA…)
    path: str | None = None
    inode: int | None = None
    file_id: int | None = None
    runs: tuple[ByteRun, ...] = ()
    truncated: bool = False  # the object was larger than MAX_PARSE_BYTES
    decoded: bool = False  # bytes produced by a decoder, not a slice of the file
    carved: CarvedRegion | None = None  # bytes carved from free space, slack, gaps or raw
    # Bytes still on the medium (``data`` is empty): the first ``unread`` bytes of the file laid
    # out in ``runs``, read by the process that extracts the source (see ``extract_all``).
    unread: int = 0


@dataclass
class Extracted:
    """Jobs from one source, with the findings in their decoded text and their texts."""

    jobs: list[Job] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    texts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # job id → (name, text)
    pair_keys: dict[str, str] = field(default_factory=dict)  # job id → pair key
    problems: list[Problem] = field(default_factory=list)
    ocr_requests: list[OcrRequest] = field(default_factory=list)  # pages left for the OCR stage
    unreadable: str | None = None  # the source's bytes could not be read: why
    # Seconds spent per step (wall time in the process that did the work, summed over jobs):
    # "parse", "text scan", "render", "page gate", "previews", "spool" (the per-stage profile).
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def timed(self, step_name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step_name] += time.perf_counter() - started


def image_offset_of(runs: tuple[ByteRun, ...], offset: int) -> int | None:
    """Image offset of byte ``offset`` of a file laid out in ``runs``."""
    for run in runs:
        if run.file_offset <= offset < run.file_offset + run.length:
            return run.image_offset + offset - run.file_offset
    return None


MAX_JOB_RUNS = 4096  # byte runs listed per job (a badly fragmented file lists the first ones)


def runs_slice(runs: tuple[ByteRun, ...], start: int, length: int) -> tuple[ByteRun, ...]:
    """The image runs of bytes ``[start, start + length)`` of a file laid out in ``runs``."""
    out: list[ByteRun] = []
    end = start + length
    for run in runs:
        lo = max(start, run.file_offset)
        hi = min(end, run.file_offset + run.length)
        if lo < hi:
            out.append(ByteRun(run.image_offset + lo - run.file_offset, hi - lo, lo - start))
            if len(out) >= MAX_JOB_RUNS:
                break
    return tuple(out)


def job_id_for(address: EvidenceAddress) -> str:
    """Stable id: the same evidence gives the same id on every run."""
    return "J" + hashlib.sha256(str(address).encode("utf-8")).hexdigest()[:12]


def identify(
    data: bytes, name: str | None, hint: str | None = None
) -> Iterator[type[FormatParser]]:
    """Formats to try, the hinted one first."""
    head = data[:SNIFF_BYTES]
    found = candidates(head, name)
    if hint and hint in FormatParser.registry:
        hinted = FormatParser.registry[hint]
        yield hinted
        found = [cls for cls in found if cls is not hinted]
    yield from found


def parse_object(
    data: bytes, name: str | None, depth: int, hint: str | None = None
) -> ParsedJob | None:
    """The first format that accepts ``data``; None when nothing does."""
    ctx = ParseContext(name=name, depth=depth)
    for cls in identify(data, name, hint):
        try:
            return cls().parse(data, ctx)
        except NotThisFormat:
            continue
        except Exception:
            log.debug("%s parser failed on %s", cls.name, name, exc_info=True)
            return ParsedJob(
                format=cls.name, complete=False, notes=[f"{cls.name} parser failed; see --debug"]
            )
    return None


def _carved_job(parsed: ParsedJob | None, data: bytes, region: CarvedRegion) -> ParsedJob | None:
    """A carved instance's job: fragments are incomplete; a headless tail is described by
    whatever its trailer says (a PJL EOJ names the job) even when its body cannot be parsed."""
    if parsed is None and region.headless and region.footer_offset is not None:
        trailer = parse_object(data[region.footer_offset :], None, 0, region.format)
        parsed = ParsedJob(
            format=region.format,
            metadata=trailer.metadata if trailer is not None else JobMetadata(),
            notes=["no parseable header: only the tail survives"],
        )
    if parsed is None:
        return None  # a signature in bytes that are not this format after all
    if not region.complete:
        parsed.complete = False
    if region.note:
        parsed.notes.append(region.note)
    return parsed


@dataclass(frozen=True)
class PageOptions:
    """Rendering and OCR of job pages (issue 5)."""

    render: bool = True
    ocr: bool = True  # OCR rendered pages; the caller turns it off when Tesseract is missing
    language: str = DEFAULT_LANGUAGE
    previews: Path | None = None  # folder to write PNG previews of rendered pages into
    # Render PostScript/PDF pages even when the job has text (extract/pages); a scan renders
    # them only for image-only pages or text-less jobs, where OCR is the only way to read them.
    all_pages: bool = False
    workers: int = 1  # Tesseract processes at once (one job's pages, or the OCR stage's)
    # When set, pages are not OCR'd where they are rendered: they are spooled and the caller
    # runs the OCR stage (``ocr_stage``): each distinct page once, image-only jobs first.
    spool: OcrSpool | None = None
    budget: OcrBudget | None = None  # --ocr-budget: what the OCR stage may spend


# Formats whose text is decoded from the data: rendering them is worth it (at scan time) only
# for pages without text.
_TEXT_FORMATS = frozenset({"postscript", "pdf"})
_MIN_TEXT_CHARS = 20


class JobExtractor:
    """Extracts jobs from sources, scans their decoded text, renders and OCRs their pages."""

    def __init__(self, detector: Detector, reveal: bool, pages: PageOptions | None = None):
        self.detector = detector
        self.reveal = reveal
        self.pages = pages

    def extract(self, source: JobSource) -> Extracted:
        out = Extracted()
        region = source.carved
        with out.timed("parse"):
            parsed = parse_object(source.data, source.name, 0, region.format if region else None)
        if region is not None:
            parsed = _carved_job(parsed, source.data, region)
        if parsed is None:
            return out
        if source.truncated:
            parsed.complete = False
            parsed.notes.append(f"only the first {MAX_PARSE_BYTES} bytes were parsed")
        self._add(
            out, source, parsed, source.data, 0, len(source.data), source.address, (), None, 0
        )
        return out

    def _add(
        self,
        out: Extracted,
        source: JobSource,
        parsed: ParsedJob,
        data: bytes,
        offset: int,
        length: int,
        address: EvidenceAddress,
        chain: tuple[str, ...],
        parent: str | None,
        depth: int,
    ) -> None:
        if len(out.jobs) >= MAX_JOBS_PER_OBJECT:
            if out.jobs and "job cap" not in " ".join(out.jobs[0].notes):
                first = out.jobs[0]
                out.jobs[0] = dataclasses.replace(
                    first,
                    complete=False,
                    notes=(*first.notes, f"job cap: only {MAX_JOBS_PER_OBJECT} jobs kept"),
                )
            return
        chain = (*chain, parsed.format)
        job_address = address.then(step("decoder", f"{parsed.format} job", format=parsed.format))
        job_id = job_id_for(job_address)
        # Image offset of the job's first byte: exact while the bytes are a slice of the file.
        image_offset = image_offset_of(source.runs, offset) if source.runs else None
        texts: list[tuple[str, str]] = []
        budget = MAX_TEXT_CHARS
        for decoded in parsed.texts:
            if budget <= 0:
                parsed.notes.append("decoded text cap reached")
                parsed.complete = False
                break
            text = decoded.text[:budget]
            budget -= len(text)
            heuristic = decoded.heuristic and "heuristic" not in decoded.name
            label = f"{decoded.name} (heuristic)" if heuristic else decoded.name
            texts.append((label, text))
        findings = 0
        stored: list[tuple[str, str]] = []
        with out.timed("text scan"):
            for label, text in texts:
                count, kept = self._scan_text(out, source, job_id, job_address, label, text)
                findings += count
                stored.append((label, kept))
        rendered: tuple[dict[str, object], ...] = ()
        if self.pages is not None and self._wants_pages(parsed, texts):
            page_dicts, page_findings = self._pages(
                out, source, parsed, data[offset : offset + length], job_id, job_address, stored
            )
            rendered = tuple(page_dicts)
            findings += page_findings
        meta = parsed.metadata.to_dict(reveal=self.reveal)
        job = Job(
            job_id=job_id,
            format=parsed.format,
            format_chain=chain,
            location_class=source.location_class,
            address=job_address,
            path=source.path,
            inode=source.inode,
            image_offset=image_offset,
            file_offset=offset
            if data is source.data and not source.decoded and source.carved is None
            else None,
            length=parsed.length if parsed.length is not None else length,
            sha256=hashlib.sha256(data[offset : offset + length]).hexdigest()
            if depth == 0
            else None,
            metadata=meta,
            pages=parsed.metadata.pages
            if parsed.metadata.pages is not None
            else (len(parsed.pages) or None),
            page_refs=tuple(_page_dict(p) for p in parsed.pages),
            texts=tuple({"name": label, "characters": len(text)} for label, text in stored),
            complete=parsed.complete,
            notes=tuple(parsed.notes),
            parent_job_id=parent,
            findings=findings,
            carved=source.carved is not None,
            rendered_pages=rendered,
            byte_runs=runs_slice(source.runs, offset, length) if depth == 0 else (),
            log_entries=tuple(entry.to_dict() for entry in parsed.log_entries),
        )
        out.jobs.append(job)
        out.texts[job_id] = stored
        pair_key = parsed.pair_key or (pair_key_from_name(source.name) if depth == 0 else None)
        if pair_key:
            out.pair_keys[job_id] = pair_key
        if depth + 1 > MAX_DEPTH:
            return
        for index, embedded in enumerate(parsed.embedded[:MAX_EMBEDDED]):
            if embedded.data is not None:
                child_data, child_offset, child_length = embedded.data, 0, len(embedded.data)
                child_source = JobSource(
                    decoded=True,
                    data=embedded.data,
                    address=source.address,
                    location_class=source.location_class,
                    path=source.path,
                    inode=source.inode,
                    file_id=source.file_id,
                )
            else:
                start = max(0, min(offset + embedded.offset, len(data)))
                end = max(start, min(start + embedded.length, len(data)))
                child_data, child_offset, child_length = data, start, end - start
                child_source = source
            payload = child_data[child_offset : child_offset + child_length]
            with out.timed("parse"):
                child = parse_object(payload, None, depth + 1, embedded.format_hint)
            if child is None:
                continue
            child_address = job_address.then(
                step("decoder", embedded.name or f"payload {index + 1}", offset=embedded.offset)
            )
            self._add(
                out,
                child_source,
                child,
                child_data,
                child_offset,
                child_length,
                child_address,
                chain,
                job_id,
                depth + 1,
            )

    def _wants_pages(self, parsed: ParsedJob, texts: list[tuple[str, str]]) -> bool:
        assert self.pages is not None
        if not self.pages.render or renderer_for(parsed.format) is None:
            return False
        if parsed.format not in _TEXT_FORMATS or self.pages.all_pages:
            return True
        characters = sum(len(text.strip()) for _, text in texts)
        return characters < _MIN_TEXT_CHARS or any(page.image_only for page in parsed.pages)

    def _pages(
        self,
        out: Extracted,
        source: JobSource,
        parsed: ParsedJob,
        data: bytes,
        job_id: str,
        job_address: EvidenceAddress,
        stored: list[tuple[str, str]],
    ) -> tuple[list[dict[str, object]], int]:
        """Render the job's pages, write previews, OCR them and scan the OCR text.

        Pages are taken one at a time from the renderer and let go once previewed, gated and
        spooled: a job holds one full page image at a time (a 600 dpi page is 35 MB as grey),
        not up to MAX_PAGES of them. Only pages waiting for OCR in this process are kept.
        """
        assert self.pages is not None
        options = self.pages
        results: dict[int, OcrResult | str] = {}
        inked: list[RenderedPage] = []  # pages to OCR here (no spool)
        records: list[dict[str, object]] = []
        # OCR priorities, worked out at the first page spooled for OCR (most jobs have none)
        pixels_only = False
        image_pages: set[int] | None = None
        notes: list[str] = []
        pages = iter_pages(parsed.format, data, notes)
        while True:
            with out.timed("render"):
                page = next(pages, None)
            if page is None:
                break
            record: dict[str, object] = {
                "number": page.number,
                "width": page.size[0],
                "height": page.size[1],
                "dpi": list(page.dpi) if page.dpi else None,
                "renderer": page.renderer,
                "complete": page.complete,
                "notes": list(page.notes),
                "preview": None,
                "thumbnail": None,
                "ocr": False,
                "ocr_confidence": None,
                "ocr_words": None,
            }
            records.append(record)
            # One reduced copy of the page (at most PREVIEW_DPI) serves as the written preview
            # and as what the OCR text gate looks at (it works at 150 dpi).
            small: Image.Image | None = None
            if (options.previews is not None or options.ocr) and page.size[0] > 1:
                with out.timed("reduce"):
                    small = preview(page)
            if options.ocr:
                with out.timed("page gate"):
                    worth, why = text_likely(_scaled_page(page, small) if small else page)
                if not worth:
                    results[page.number] = why
                elif options.spool is None:
                    inked.append(page)
                else:
                    with out.timed("spool"):
                        key, _dpi = options.spool.put(page)
                    if image_pages is None:
                        pixels_only, image_pages = _ocr_basis(parsed, stored)
                    if pixels_only:
                        priority = PRIORITY_IMAGE_JOB
                    elif page.number in image_pages:
                        priority = PRIORITY_IMAGE_PAGE
                    else:
                        priority = PRIORITY_WITH_TEXT
                    out.ocr_requests.append(
                        OcrRequest(
                            job_id=job_id,
                            page_number=page.number,
                            key=key,
                            priority=priority,
                            address=job_address,
                            location_class=source.location_class,
                            path=source.path,
                            inode=source.inode,
                            file_id=source.file_id,
                        )
                    )
            if options.previews is not None and small is not None:
                name = f"{job_id}-page{page.number:03d}.png"
                thumb = f"{job_id}-page{page.number:03d}-thumb.png"
                with out.timed("previews"):
                    save_preview(small, options.previews / name)
                    # report.html embeds thumbnails: made here, in the job workers, from the
                    # page in memory, not decoded again from the preview by the report writer
                    (options.previews / thumb).write_bytes(thumbnail_png(small))
                record["preview"] = f"{options.previews.name}/{name}"
                record["thumbnail"] = f"{options.previews.name}/{thumb}"
            del page, small  # let go before the next page is drawn
        parsed.notes.extend(notes)
        if inked:
            threads = 1 if _IN_WORKER else max(1, options.workers)  # workers: one page at a time
            with ThreadPoolExecutor(threads) as pool:
                # Tesseract runs in its own process: threads here give process parallelism.
                futures = {p.number: pool.submit(_ocr_or_error, p, options.language) for p in inked}
                results.update((number, future.result()) for number, future in futures.items())
        findings = 0
        for record in records:
            number = record["number"]
            assert isinstance(number, int)
            result = results.get(number)
            if isinstance(result, str):
                noted = record["notes"]
                assert isinstance(noted, list)
                record["notes"] = [*noted, result]
            elif result is not None:
                record.update(ocr=True, ocr_confidence=result.confidence, ocr_words=result.words)
                if result.text.strip():
                    label = f"page {number} (OCR)"
                    count, kept = self._scan_text(
                        out, source, job_id, job_address, label, result.text, result
                    )
                    findings += count
                    stored.append((label, kept))
        return records, findings

    def read_ocr(
        self, request: OcrRequest, result: OcrResult, known: set[str]
    ) -> tuple[Extracted, str | None]:
        """Scan the OCR text of one queued page; the findings (values in ``known`` — the job's
        and the raw pass's — are not reported again) and the text to keep, None if empty."""
        out = Extracted()
        if not result.text.strip():
            return out, None
        source = JobSource(
            data=b"",
            address=request.address,
            location_class=request.location_class,
            path=request.path,
            inode=request.inode,
            file_id=request.file_id,
        )
        label = f"page {request.page_number} (OCR)"
        _count, kept = self._scan_text(
            out, source, request.job_id, request.address, label, result.text, result, known
        )
        return out, kept

    def _scan_text(
        self,
        out: Extracted,
        source: JobSource,
        job_id: str,
        job_address: EvidenceAddress,
        label: str,
        text: str,
        ocr: OcrResult | None = None,
        known: set[str] | None = None,
    ) -> tuple[int, str]:
        """Scan one decoded text; return the findings count and the text to keep, in which
        every confirmed value is replaced by its masked form unless ``--reveal``.

        OCR text is also scanned with digit look-alikes corrected (``digit_variant``); such a
        detection counts only for validators that re-check the value (checksums, SSN rules),
        and values this job's other texts already gave are not reported again."""
        data = text.encode("utf-8", errors="replace")
        try:
            detections = self.detector.scan(data, utf8=True)
            corrected: list[Detection] = []
            variant = digit_variant(text) if ocr is not None else None
            if variant is not None:
                seen_spans = {(d.offset, d.length) for d in detections}
                corrected = [
                    d
                    for d in self.detector.scan(variant.encode("utf-8", "replace"), utf8=True)
                    if d.validator in OCR_TOLERANT_VALIDATORS
                    and (d.offset, d.length) not in seen_spans
                ]
        except DetectionError as exc:
            out.problems.append(
                Problem("detection-error", f"{source.path or job_id}: {label}: {exc}", "error")
            )
            return 0, text if self.reveal else ""
        if ocr is not None:
            known = (known or set()) | {f.value_sha256 for f in out.findings if f.job_id == job_id}
            detections = [d for d in detections if d.value_sha256 not in known]
            corrected = [d for d in corrected if d.value_sha256 not in known]
        stream = job_address.then(step("decoder", label, stream="decoded-text"))
        for d in detections + corrected:
            finding = d.to_finding(
                source.location_class,
                stream,
                reveal=self.reveal,
                stream_offset=d.offset,
                path=source.path,
                inode=source.inode,
                job_id=job_id,
            )
            if ocr is not None:
                finding = dataclasses.replace(
                    finding, ocr_confidence=ocr.confidence, ocr_corrected=d in corrected
                )
            out.findings.append(finding)
        detections = detections + corrected
        if self.reveal or not detections:
            return len(detections), text
        masked = bytearray(data)
        for d in sorted(detections, key=lambda d: d.offset, reverse=True):
            masked[d.offset : d.offset + d.length] = d.value_masked.encode("utf-8")
        return len(detections), masked.decode("utf-8", errors="replace")


def _ocr_basis(parsed: ParsedJob, stored: list[tuple[str, str]]) -> tuple[bool, set[int]]:
    """What a job's OCR priorities go by. OCR is the only reader of a page image format, of a
    job whose parser decoded no text, and of a page the parser saw only an image on: whether
    the job is one of the first two, and the numbers of such pages."""
    text_chars = sum(len(text.strip()) for _, text in stored)
    parser = FormatParser.registry.get(parsed.format)
    pixels_only = (parser is not None and parser.pixels_only) or text_chars < _MIN_TEXT_CHARS
    return pixels_only, {ref.number for ref in parsed.pages if ref.image_only}


def _scaled_page(page: RenderedPage, image: Image.Image) -> RenderedPage:
    """``page`` as ``image``, a reduced copy of it, with the resolution scaled to match."""
    if image.size == page.size:
        return page
    dpi = None
    if page.dpi:
        dpi = (
            page.dpi[0] * image.width / page.size[0],
            page.dpi[1] * image.height / page.size[1],
        )
    return RenderedPage(page.number, image, dpi, page.renderer, page.complete, page.notes)


def _ocr_or_error(page: RenderedPage, language: str) -> OcrResult | str:
    """OCR one page; a failure becomes a note on the page, never an exception."""
    try:
        return ocr_page(page, language)
    except (OcrUnavailable, OSError) as exc:
        return f"OCR failed: {exc}"


# Set in the parent before the worker processes fork, so workers share the compiled rules.
_WORKER_EXTRACTOR: JobExtractor | None = None
_WORKER_IMAGE: DiskImage | None = None  # the image sources with ``unread`` bytes are read from
_IN_WORKER = False
PARALLEL_MIN_SOURCES = 8  # below this, forking workers costs more than it saves
# Batches handed to the workers and not yet taken back (results are taken in order): a window
# of several per worker keeps the others busy while one works on a long job; the bytes bound
# keeps the sources held at once (each up to MAX_PARSE_BYTES) within memory.
MAX_IN_FLIGHT_PER_WORKER = 8
MIN_IN_FLIGHT_PER_WORKER = 2
MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
# Sources go to a worker in batches: each task costs the parent ~0.1 ms (pickling it, a result
# taken back by the pool's one manager thread, a future; 103 us for an empty task here), a
# tenth of a small job's parse, and while that thread unpickles a result it feeds no worker.
# A batch ends at BATCH_SOURCES or once it holds BATCH_BYTES (read, or left on the medium), so
# a large job goes alone and the last batch of a pass stays short.
BATCH_SOURCES = 8
BATCH_BYTES = 256 * 1024


def _extract_batch_in_worker(batch: list[JobSource]) -> list[Extracted]:
    global _IN_WORKER
    _IN_WORKER = True  # this process is one of the pool: OCR its pages one at a time
    assert _WORKER_EXTRACTOR is not None
    return [_read_and_extract(_WORKER_EXTRACTOR, source, _WORKER_IMAGE) for source in batch]


def _batches(sources: Iterable[JobSource]) -> Iterator[list[JobSource]]:
    """Consecutive sources in batches (BATCH_SOURCES, BATCH_BYTES), in order."""
    batch: list[JobSource] = []
    held = 0
    for source in sources:
        batch.append(source)
        held += len(source.data) + source.unread
        if len(batch) >= BATCH_SOURCES or held >= BATCH_BYTES:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _read_and_extract(
    extractor: JobExtractor, source: JobSource, image: DiskImage | None
) -> Extracted:
    """Extract from a source, reading first the bytes it left on the medium (``unread``)."""
    if not source.unread:
        return extractor.extract(source)
    if image is None:
        raise ValueError("a source left its bytes on the medium but no image was given")
    started = time.perf_counter()
    try:
        data = read_runs(image, source.runs, 0, source.unread)
    except OSError as exc:
        return Extracted(unreadable=f"{source.path}: {exc}")
    read_seconds = time.perf_counter() - started
    out = extractor.extract(dataclasses.replace(source, data=data, unread=0))
    out.seconds["read"] += read_seconds
    return out


def _ignore_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def extract_all(
    extractor: JobExtractor,
    sources: Iterable[JobSource],
    count: int,
    workers: int,
    image: DiskImage | None = None,
) -> Iterator[tuple[JobSource, Extracted]]:
    """Extract from every source, in order; in forked worker processes when it pays off.

    Parsing print languages is pure Python and CPU-bound: processes, not threads, use the
    other cores. Sources go in batches (``_batches``); at most ``workers *
    MAX_IN_FLIGHT_PER_WORKER`` batches wait at once, fewer (down to ``workers *
    MIN_IN_FLIGHT_PER_WORKER``) when they hold over MAX_IN_FLIGHT_BYTES.
    A source that left its bytes on the medium (``unread``) is read from ``image`` by the
    worker that extracts it: this process then neither reads nor sends them (at 1 GiB, 335 MB
    that were pickled and piped once each).
    """
    if workers <= 1 or count < PARALLEL_MIN_SOURCES or "fork" not in mp.get_all_start_methods():
        for source in sources:
            yield source, _read_and_extract(extractor, source, image)
        return
    global _WORKER_EXTRACTOR, _WORKER_IMAGE
    _WORKER_EXTRACTOR, _WORKER_IMAGE = extractor, image
    try:
        # Ctrl-C reaches the workers too (one process group): they ignore it and the parent,
        # which gets it as well, stops the pool without starting what waits.
        pool = ProcessPoolExecutor(
            workers, mp_context=mp.get_context("fork"), initializer=_ignore_interrupt
        )
        try:
            pending: deque[tuple[list[JobSource], Future[list[Extracted]]]] = deque()
            held = 0
            for batch in _batches(sources):
                pending.append((batch, pool.submit(_extract_batch_in_worker, batch)))
                held += sum(len(source.data) for source in batch)
                while len(pending) >= workers * MAX_IN_FLIGHT_PER_WORKER or (
                    held > MAX_IN_FLIGHT_BYTES
                    and len(pending) >= workers * MIN_IN_FLIGHT_PER_WORKER
                ):
                    done, future = pending.popleft()
                    held -= sum(len(source.data) for source in done)
                    yield from zip(done, future.result(), strict=True)
            while pending:
                done, future = pending.popleft()
                yield from zip(done, future.result(), strict=True)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _WORKER_EXTRACTOR, _WORKER_IMAGE = None, None


def record_extracted(
    store: CaseStore,
    image_id: int,
    extracted: Extracted,
    file_id: int | None,
    raw_values: set[str],
    raw_count: int,
) -> tuple[int, int]:
    """Store one source's jobs and decoded-text findings; return (findings, jobs) added.

    A value the raw pass already found in the same file (plain ASCII in a PJL/PCL job) is not
    reported again from the decoded text: the raw finding has the exact offset. Raw findings
    of the file count towards its top-level job's findings.
    """
    for problem in extracted.problems:
        store.add_problem(image_id, problem)
    added = 0
    decoded_per_job: dict[str, int] = defaultdict(int)
    for finding in extracted.findings:
        if finding.value_sha256 in raw_values:
            continue
        store.add_finding(image_id, finding, file_id)
        added += 1
        if finding.job_id is not None:
            decoded_per_job[finding.job_id] += 1
    for job in extracted.jobs:
        if not job.complete:
            # DESIGN.md: damage after a good header keeps the partial result and is a Problem.
            where = job.path or str(job.address)
            problem_notes = "; ".join(job.notes[:3]) or "incomplete"
            store.add_problem(
                image_id,
                Problem(
                    "damaged-job",
                    f"{job.format} job {job.job_id} in {where}: {problem_notes}"[:1000],
                    "warning",
                    image_offset=job.image_offset,
                    address=str(job.address),
                ),
            )
        count = decoded_per_job[job.job_id] + (raw_count if job.parent_job_id is None else 0)
        store.add_job(
            image_id,
            dataclasses.replace(job, findings=count),
            file_id,
            extracted.texts.get(job.job_id, []),
        )
    return added, len(extracted.jobs)


@dataclass
class OcrStageResult:
    """What the OCR stage did: page requests, distinct pages, Tesseract runs, findings, and the
    pages the budget left out."""

    requested: int = 0
    distinct: int = 0
    ocr_runs: int = 0
    findings: int = 0
    skipped_distinct: int = 0
    skipped: list[OcrRequest] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self, budget: OcrBudget | None) -> dict[str, object]:
        """The image record's ``ocr`` summary (docs/report-schema.md)."""
        return {
            "page_requests": self.requested,
            "distinct_pages": self.distinct,
            "tesseract_runs": self.ocr_runs,
            "pages_not_ocred": len(self.skipped),
            "distinct_pages_not_ocred": self.skipped_distinct,
            "findings": self.findings,
            "seconds": round(self.seconds, 3),
            "budget": budget.describe() if budget is not None else None,
        }

    def problem(self, budget: OcrBudget | None) -> Problem | None:
        """One line naming the pages not OCR'd, so nothing is skipped silently."""
        if not self.skipped:
            return None
        jobs = len({r.job_id for r in self.skipped})
        named = ", ".join(f"{r.job_id} page {r.page_number}" for r in self.skipped[:20])
        more = f" and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""
        spent = budget.describe() if budget is not None else "?"
        return Problem(
            "ocr-budget",
            f"OCR budget ({spent}) spent: {self.skipped_distinct} of {self.distinct} distinct "
            f"pages not OCR'd ({len(self.skipped)} pages of {jobs} jobs; pages of jobs without "
            f"decoded text went first): {named}{more}",
            "warning",
        )


def ocr_stage(
    extractor: JobExtractor,
    store: CaseStore,
    image_id: int,
    requests: list[OcrRequest],
    progress: Progress | None = None,
) -> OcrStageResult:
    """OCR the pages the job pass spooled (each distinct page once, within the budget), scan
    the text and add it, its findings and the OCR fields to each job's page in the store."""
    options = extractor.pages
    assert options is not None and options.spool is not None
    progress = progress or Progress()
    outcome_of = OcrStageResult(requested=len(requests), distinct=len({r.key for r in requests}))
    started = time.monotonic()
    progress.start(outcome_of.distinct, "OCR", unit="pages")
    try:
        outcomes = run_ocr(
            options.spool,
            requests,
            options.language,
            options.workers,
            options.budget,
            on_page=lambda: progress.advance(1),
        )
        for outcome in outcomes:
            if outcome.skipped or outcome.failure is not None:
                outcome_of.skipped_distinct += int(outcome.skipped)
                outcome_of.ocr_runs += int(not outcome.skipped)
                if outcome.skipped:
                    outcome_of.skipped.extend(outcome.requests)
                spent = options.budget.describe() if options.budget else ""
                note = outcome.failure or f"not OCR'd: the OCR budget ({spent}) was spent"
                for request in outcome.requests:
                    store.update_job_page(image_id, request.job_id, request.page_number, {}, note)
                continue
            result = outcome.result
            assert result is not None
            outcome_of.ocr_runs += 1
            fields = {"ocr": True, "ocr_confidence": result.confidence, "ocr_words": result.words}
            for request in outcome.requests:
                known = store.known_values(image_id, request.job_id, request.file_id)
                extracted, kept = extractor.read_ocr(request, result, known)
                for problem in extracted.problems:
                    store.add_problem(image_id, problem)
                for finding in extracted.findings:
                    store.add_finding(image_id, finding, request.file_id)
                outcome_of.findings += len(extracted.findings)
                store.update_job_page(
                    image_id,
                    request.job_id,
                    request.page_number,
                    fields,
                    text=(f"page {request.page_number} (OCR)", kept) if kept is not None else None,
                    findings=len(extracted.findings),
                )
    finally:
        progress.stop()
    outcome_of.seconds = time.monotonic() - started
    return outcome_of


def pair_jobs(pair_keys: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Job id → the ids of the other halves of the same job (SHD↔SPL, CUPS c↔d, LPD cf↔df)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for job_id, key in pair_keys.items():
        groups[key].append(job_id)
    return {
        job_id: tuple(other for other in members if other != job_id)
        for members in groups.values()
        if len(members) > 1
        for job_id in members
    }


def _page_dict(page: PageRef) -> dict[str, object]:
    return set_fields(page)


# Spool file names that tie a data file to its control/shadow file.
_PAIR_NAMES = (
    (re.compile(r"^[cd](\d{5,})(?:-\d{3})?$"), "cups:{0}"),  # CUPS c00017 / d00017-001
    (re.compile(r"^[cd]f[A-Za-z](\d{3})(.+)$"), "lpd:{0}{1}"),  # RFC 1179 cfA017host / dfA017host
    (
        re.compile(r"^(?:FP)?(\d{5})\.(?:SHD|SPL)$", re.IGNORECASE),
        "winspool:{0}",
    ),  # 00002.SHD / FP00002.SPL
)


def pair_key_from_name(name: str | None) -> str | None:
    """The pairing key a spool file's name implies, if any."""
    if not name:
        return None
    for pattern, template in _PAIR_NAMES:
        match = pattern.match(name)
        if match:
            return template.format(*match.groups())
    return None
