"""PostScript and PDF pages through Ghostscript (``gs``), an optional external renderer; without
it, the pictures of image-only PDF pages (scans, faxes) taken out with pypdf.

Ghostscript runs as a subprocess, never in our process, and is treated as hostile-input exposed:

- a private temporary directory is its working and output directory, and the only place named on
  its command line: the job is written there as ``job.ps``/``job.pdf``; its pages come back as
  ``page-NNNNN.png``; its stdout and stderr go to a file there (bounded when read);
- ``-dSAFER`` (no file access outside what the command line names, no ``%pipe%``; Ghostscript has
  no network access of its own), ``-dBATCH -dNOPAUSE -dNOPROMPT -dQUIET``;
- the environment is replaced (no ``GS_OPTIONS``/``GS_LIB``/``GS_FONTPATH`` of the user: those
  inject options and search paths), ``TMPDIR`` and ``HOME`` point into the directory;
- its own process group, killed as a whole at the time limit (derived from ``limits``); resource
  limits on the child: file size (no page file beyond ``limits.max_pixels``), address space, no
  core files;
- ``-dFirstPage=1 -dLastPage=limits.max_pages``; a page whose PNG header is beyond
  ``limits.max_pixels`` stops Ghostscript as soon as the header appears (a job can ask for a
  200-inch page, which takes seconds of rendering; refused pages are not worth that time).

Device: ``pnggray`` by default. OCR (Tesseract) binarises the page anyway, and the ink check
works on gray; gray is a third of the memory, disk and decode time of ``png16m``; knowing that a
job is colour would take a second Ghostscript pass (``inkcov``) over hostile input. Pass
``colour=True`` for ``png16m`` previews. Text and line art are anti-aliased (``TextAlphaBits``,
``GraphicsAlphaBits``): at the 150 dpi default, 10-point text is about 20 pixels high, and
anti-aliased glyphs keep their shape for the eye and for OCR.

PostScript runs inside ``stopped`` (PLRM §3.11.1) so that an error, or the end of a truncated
job, still leaves the page being drawn: after the job, the wrapper reports the error and the
count of pages shown (``PageCount``, PLRM §6.2.5) and calls ``showpage`` once more. That extra
page is kept, ``complete=False``, when it has ink (a page the job never finished); it is dropped
when blank (the job ended cleanly with its own ``showpage``). The report lines carry a random
per-run marker, so a job cannot forge them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from construct import Const, ConstructError, Int32ub, Struct
from PIL import Image

from forensics.formats.base import MAX_PARSE_BYTES
from forensics.formats.pdf import HEADER_WINDOW, load_pypdf
from forensics.formats.postscript import NAME, NUMBER, Lexer, number_list
from forensics.render.base import (
    PREVIEW_DPI,
    PageRenderer,
    RenderedPage,
    RenderError,
    RenderLimits,
    check_page_size,
)

log = logging.getLogger(__name__)
# As in formats/pdf.py: pypdf's warnings about damaged files go to logging; without a handler of
# its own they would reach stderr through logging's last-resort handler.
if not logging.getLogger("pypdf").handlers:
    logging.getLogger("pypdf").addHandler(logging.NullHandler())

DEFAULT_DPI = PREVIEW_DPI  # pages come out at preview resolution: no scaling afterwards
# A page bitmap up to this size is rendered in memory; beyond it Ghostscript bands the page
# (display list in TMPDIR), so a huge page costs time, not memory. A letter page at 150 dpi is
# 2 MB gray, 6 MB RGB.
GS_MAX_BITMAP = 32 * 1024 * 1024
GS_BUFFER_SPACE = 8 * 1024 * 1024  # band buffer when banding
GS_ADDRESS_SPACE = 2 * 1024 * 1024 * 1024  # RLIMIT_AS of the child: a PS job can allocate
MIN_FILE_SIZE = 64 * 1024 * 1024  # RLIMIT_FSIZE floor (display-list files of a busy page)
POLL_SECONDS = 0.05  # how often the running child's output is looked at
# Of the time left to the job, Ghostscript gets all but this share, so that its pages are read
# back before ``limits`` expire (render_pages stops at expiry).
RESERVE_SHARE = 0.2
MAX_RESERVE_SECONDS = 2.0
MIN_GS_SECONDS = 0.5  # less than this left: not worth starting Ghostscript
MESSAGE_WINDOW = 32 * 1024  # bytes read from the head and from the tail of Ghostscript's output
MAX_MESSAGES = 5  # Ghostscript message lines kept as notes
MAX_MESSAGE_CHARS = 200
MAX_CONTENT_TOKENS = 2_000_000  # tokens of a content stream looked at for text operators
MAX_XOBJECTS = 1024  # XObject entries looked at per resource dictionary
ASPECT_TOLERANCE = 0.03  # picture and page agree this closely: the picture is the page

JOB_STEM = "job"
PAGE_PREFIX = "page-"
PAGE_PATTERN = PAGE_PREFIX + "%05d.png"  # Ghostscript's OutputFile template (one file a page)
MESSAGES_FILE = "gs-messages.txt"
_PAGE_FILE = re.compile(re.escape(PAGE_PREFIX) + r"(\d{5})\.png")

# PNG §5.2 signature, then §11.2.2 IHDR, always the first chunk: 13 data bytes, width and height
# first. Enough of a page file to know its size before it is complete.
PNG_HEADER = Struct(
    "signature" / Const(b"\x89PNG\r\n\x1a\n"),
    "length" / Int32ub,
    "type" / Const(b"IHDR"),
    "width" / Int32ub,
    "height" / Int32ub,
)
PNG_HEADER_SIZE = PNG_HEADER.sizeof()

# PDF §9.3.6 table 106: text rendering mode 3 is "neither fill nor stroke" (invisible text, the
# OCR layer of a searchable scan). §9.4.3 table 109: the text-showing operators.
INVISIBLE_TEXT = 3
_TEXT_SHOWING = frozenset({"Tj", "TJ", "'", '"'})
# PDF §7.7.3.3 table 30: /Rotate is a multiple of 90, clockwise. PIL's ROTATE_n is anticlockwise.
_ROTATIONS = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}
_CONTROL = re.compile(r"[^\x20-\x7e]+")
# Ghostscript's own diagnostics ("Error: /undefined in foo", "   **** Error: ... repaired"); the
# operand/execution stack dumps that follow an error, and what the job prints, are left out.
_DIAGNOSTIC = re.compile(r"\berror\b|\bwarning\b|^\s*\*\*\*\*", re.IGNORECASE)


def find_ghostscript() -> str | None:
    """The ``gs`` executable on PATH, or None (looked up at each render, never cached)."""
    return shutil.which("gs")


@dataclass
class _GsRun:
    """What one Ghostscript run left behind."""

    directory: Path
    shown: int | None = None  # pages the PostScript job showed itself (wrapper report)
    job_error: str | None = None  # the PostScript error that stopped the job
    stopped: str | None = None  # why Ghostscript was stopped or failed
    refused: int | None = None  # the page whose size stopped Ghostscript
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


class GhostscriptRenderer(PageRenderer):
    """Shared Ghostscript machinery; the two subclasses below register the formats."""

    name = "ghostscript"
    language: ClassVar[str] = ""  # "postscript" or "pdf": how the job is handed to Ghostscript

    def __init__(self, dpi: int = DEFAULT_DPI, colour: bool = False) -> None:
        self.dpi = dpi
        self.colour = colour

    @property
    def device(self) -> str:
        return "png16m" if self.colour else "pnggray"

    # ------------------------------------------------------------------ running Ghostscript

    def _render_with_gs(
        self, executable: str, data: bytes, limits: RenderLimits
    ) -> Iterator[RenderedPage]:
        budget = _gs_budget(limits)
        if budget < MIN_GS_SECONDS:
            raise RenderError("time cap reached before Ghostscript could start")
        with tempfile.TemporaryDirectory(prefix="pfa-gs-") as name:
            run = self._run(executable, data, limits, Path(name), budget)
            yield from self._read_pages(run, limits)

    def _arguments(self, executable: str, limits: RenderLimits, marker: str) -> list[str]:
        arguments = [
            executable,
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-dNOPROMPT",
            "-dQUIET",
            f"-sDEVICE={self.device}",
            f"-r{self.dpi}",
            "-dTextAlphaBits=4",
            "-dGraphicsAlphaBits=4",
            f"-dMaxBitmap={GS_MAX_BITMAP}",
            f"-dBufferSpace={GS_BUFFER_SPACE}",
            "-dFirstPage=1",
            f"-dLastPage={max(1, limits.max_pages)}",
            f"-sOutputFile={PAGE_PATTERN}",
        ]
        job = f"{JOB_STEM}.{'ps' if self.language == 'postscript' else 'pdf'}"
        if self.language != "postscript":
            return [*arguments, job]
        # The job runs from a file object inside `stopped`; SAFER lets PostScript open only the
        # files it is told it may read, here the job itself (relative to the private cwd).
        wrapper = (
            f"({job}) (r) file cvx stopped {{"
            f" (\\n{marker} ERROR ) print"
            " $error /errorname get dup type /nametype eq { ==only } { pop (unknown) print } ifelse"
            " $error /command get dup type dup /nametype eq exch /operatortype eq or"
            " { ( in ) print ==only } { pop } ifelse (\\n) print"
            " } if clear cleardictstack"
            f" (\\n{marker} SHOWN ) print currentpagedevice /PageCount get == flush"
            " showpage"
        )
        return [*arguments, f"--permit-file-read={job}", "-c", wrapper]

    def _run(
        self, executable: str, data: bytes, limits: RenderLimits, directory: Path, budget: float
    ) -> _GsRun:
        run = _GsRun(directory)
        marker = f"PFA-{secrets.token_hex(8)}"
        suffix = "ps" if self.language == "postscript" else "pdf"
        (directory / f"{JOB_STEM}.{suffix}").write_bytes(data)
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(directory),
            "TMPDIR": str(directory),  # display-list (banding) files stay in the sandbox
            "LC_ALL": "C",
        }
        channels = 3 if self.colour else 1
        file_limit = max(MIN_FILE_SIZE, limits.max_pixels * channels + 1024 * 1024)
        started = time.monotonic()
        with open(directory / MESSAGES_FILE, "wb") as messages:
            try:
                process = subprocess.Popen(
                    self._arguments(executable, limits, marker),
                    cwd=directory,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=messages,
                    stderr=messages,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            except OSError as exc:
                raise RenderError(f"Ghostscript could not be started: {exc}") from exc
            try:
                _limit_child(process.pid, file_limit)
                self._watch(process, run, limits, started + budget)
            finally:
                if process.poll() is None:
                    _kill_group(process)
        run.seconds = time.monotonic() - started
        if run.stopped is None and process.returncode != 0:
            run.stopped = _exit_reason(process.returncode)
        _read_messages(run, marker)
        log.debug("Ghostscript %s: %.2f s, status %s", self.language, run.seconds, run.stopped)
        return run

    def _watch(
        self, process: subprocess.Popen[bytes], run: _GsRun, limits: RenderLimits, deadline: float
    ) -> None:
        """Wait for Ghostscript; stop it at the deadline or at a page beyond the limits."""
        checked: set[str] = set()
        while True:
            try:
                process.wait(timeout=POLL_SECONDS)
                return
            except subprocess.TimeoutExpired:
                pass
            refused = _oversized_page(run.directory, checked, limits)
            if refused is not None:
                _kill_group(process)
                run.refused, reason = refused
                run.stopped = f"page {run.refused}: {reason}; Ghostscript was stopped"
                return
            if time.monotonic() > deadline:
                _kill_group(process)
                run.stopped = "Ghostscript did not finish within the time limit and was stopped"
                return

    # ------------------------------------------------------------------ reading pages back

    def _read_pages(self, run: _GsRun, limits: RenderLimits) -> Iterator[RenderedPage]:
        files = _page_files(run.directory, limits.max_pages)
        if run.refused in files:  # its note is run.stopped
            files.pop(run.refused).unlink(missing_ok=True)
        extra: int | None = None  # the PostScript wrapper's own showpage
        if run.shown is not None and run.shown + 1 in files:
            extra = run.shown + 1
        wanted = list(files)
        partial = False
        if extra is not None:
            partial = _file_has_ink(files[extra], limits)
            if not partial:
                wanted = [number for number in wanted if number != extra]
                files.pop(extra).unlink(missing_ok=True)
        trouble = self._job_notes(run, partial)
        if not wanted:
            for path in files.values():
                path.unlink(missing_ok=True)
            raise RenderError("; ".join(trouble) if trouble else "Ghostscript drew no page")
        failed = run.stopped is not None or run.job_error is not None
        last = wanted[-1]
        leftover: list[str] = []
        for number in wanted:
            path = files[number]
            try:
                image = _load_page(path, limits)
            except RenderError as exc:
                note = f"page {number}: {exc}"
                if number == last:
                    leftover.extend([note, *trouble])
                else:
                    leftover.append(note)
                continue
            finally:
                path.unlink(missing_ok=True)
            page = RenderedPage(
                number=number,
                image=image,
                dpi=(float(self.dpi), float(self.dpi)),
                renderer=self.name,
            )
            if number == extra:
                page.complete = False
            if number == last:
                page.notes.extend(trouble)
                page.complete = page.complete and not failed
            yield page
        for path in files.values():
            path.unlink(missing_ok=True)
        if leftover:
            raise RenderError("; ".join(leftover))

    def _job_notes(self, run: _GsRun, partial: bool) -> list[str]:
        notes: list[str] = []
        if partial:
            if run.job_error is not None:
                notes.append(f"page drawn until the job stopped with {run.job_error}")
            else:
                notes.append("the job ended without showpage: page as drawn so far")
        elif run.job_error is not None:
            notes.append(f"the job stopped with {run.job_error}; later pages were not drawn")
        if run.stopped is not None:
            notes.append(f"{run.stopped} after {run.seconds:.1f} s; later pages were not drawn")
        notes.extend(f"Ghostscript: {line}" for line in run.messages)
        return notes


class PostScriptRenderer(GhostscriptRenderer):
    """PostScript jobs, through Ghostscript only."""

    formats = ("postscript",)
    language = "postscript"

    @classmethod
    def available(cls) -> bool:
        return find_ghostscript() is not None

    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        executable = find_ghostscript()
        if executable is None:
            raise RenderError("Ghostscript (gs) is not installed; PostScript pages need it")
        yield from self._render_with_gs(executable, data, limits)


class PdfRenderer(GhostscriptRenderer):
    """PDF documents: every page through Ghostscript when installed, otherwise the picture of
    each image-only page (the largest image on it, as pypdf decodes it)."""

    formats = ("pdf",)
    language = "pdf"
    images_name: ClassVar[str] = "pdf-images"

    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        executable = find_ghostscript()
        if executable is None:
            yield from self._image_pages(data, limits)
            return
        produced = 0
        try:
            if b"%PDF-" not in data[:HEADER_WINDOW]:
                # Ghostscript runs what is not PDF as PostScript: never hand it such bytes.
                raise RenderError(f"no %PDF- header in the first {HEADER_WINDOW} bytes")
            for page in self._render_with_gs(executable, data, limits):
                produced += 1
                yield page
        except RenderError as exc:
            # Nothing from Ghostscript (a file it cannot repair): pypdf may still find pictures.
            if produced or limits.expired() or load_pypdf() is None:
                raise
            try:
                yield from self._image_pages(data, limits)
            except RenderError as fallback:
                raise RenderError(f"{exc}; without Ghostscript: {fallback}") from exc

    # ------------------------------------------------------------------ pypdf fallback

    def _image_pages(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        pypdf = load_pypdf()
        if pypdf is None:
            raise RenderError("neither Ghostscript (gs) nor pypdf is available")
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                reader.decrypt("")  # PDF §7.6.4: the empty user password opens most files
            count = len(reader.pages)
        except Exception as exc:  # pypdf raises arbitrary exception types on hostile input
            log.debug("pypdf could not open the PDF", exc_info=True)
            raise RenderError(_bounded(f"pypdf could not open the PDF ({exc})")) from exc
        not_image_only: list[int] = []
        problems: list[str] = []
        yielded = 0
        for index in range(min(count, limits.max_pages)):
            if limits.expired():
                problems.append(f"time cap reached at page {index + 1}")
                break
            number = index + 1
            try:
                page = reader.pages[index]
                if _shows_text(page):
                    not_image_only.append(number)
                    continue
                picture = _largest_picture(page, limits)
                if picture is None:
                    not_image_only.append(number)
                    continue
                image = _decode_picture(page, picture, limits)
                dpi = _picture_dpi(page, image.size)
                rotation = _rotation(page)
            except RenderError as exc:
                problems.append(f"page {number}: {exc}")
                continue
            except Exception as exc:  # pypdf on a damaged page or image stream
                log.debug("pypdf failed on page %d", number, exc_info=True)
                problems.append(_bounded(f"page {number}: {type(exc).__name__}: {exc}"))
                continue
            if rotation in _ROTATIONS:
                image = image.transpose(_ROTATIONS[rotation])
                if rotation != 180 and dpi is not None:
                    dpi = (dpi[1], dpi[0])
            yielded += 1
            yield RenderedPage(
                number=number,
                image=image,
                dpi=dpi,
                renderer=self.images_name,
                notes=["picture of an image-only page (Ghostscript not installed)"],
            )
        if not_image_only:
            problems.insert(
                0,
                f"page(s) {number_list(not_image_only)} have text or drawing, not a page picture; "
                "install Ghostscript (gs) to render them",
            )
        if problems or not yielded:
            raise RenderError("; ".join(problems) if problems else "the PDF has no pages")


# ---------------------------------------------------------------------- Ghostscript helpers


def _gs_budget(limits: RenderLimits) -> float:
    remaining = limits.max_seconds - (time.monotonic() - limits.started)
    return remaining - min(MAX_RESERVE_SECONDS, max(0.0, remaining) * RESERVE_SHARE)


def _limit_child(pid: int, file_limit: int) -> None:
    """Resource limits on the running child (prlimit from the parent: a preexec_fn is unsafe in a
    threaded process). Ghostscript is still starting up when they land."""
    limits = (
        (resource.RLIMIT_FSIZE, file_limit),
        (resource.RLIMIT_AS, GS_ADDRESS_SPACE),
        (resource.RLIMIT_CORE, 0),
    )
    for kind, value in limits:
        try:
            resource.prlimit(pid, kind, (value, value))
        except (OSError, ValueError):  # the child already ended, or a limit the kernel refuses
            log.debug("could not limit Ghostscript (%s)", kind, exc_info=True)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _exit_reason(code: int) -> str:
    if code == -signal.SIGXFSZ:
        return "Ghostscript exceeded the output size limit and was stopped"
    if code < 0:
        return f"Ghostscript was killed by signal {-code}"
    return f"Ghostscript failed (exit status {code})"


def _oversized_page(
    directory: Path, checked: set[str], limits: RenderLimits
) -> tuple[int, str] | None:
    """(number, reason) of a page file whose PNG header already says it is beyond the limits."""
    for entry in os.scandir(directory):
        if entry.name in checked or not _PAGE_FILE.fullmatch(entry.name):
            continue
        with open(entry.path, "rb") as handle:
            head = handle.read(PNG_HEADER_SIZE)
        if len(head) < PNG_HEADER_SIZE:
            continue  # still being written; looked at again at the next poll
        checked.add(entry.name)
        try:
            header = PNG_HEADER.parse(head)
            check_page_size(header.width, header.height, limits)
        except ConstructError:
            continue  # not a PNG after all: reading it back says so
        except RenderError as exc:
            match = _PAGE_FILE.fullmatch(entry.name)
            assert match is not None  # filtered above
            return int(match.group(1)), str(exc)
    return None


def _read_messages(run: _GsRun, marker: str) -> None:
    """The wrapper's reports and the first few other lines Ghostscript printed."""
    path = run.directory / MESSAGES_FILE
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(MESSAGE_WINDOW)
        tail = b""
        if size > MESSAGE_WINDOW:
            handle.seek(max(MESSAGE_WINDOW, size - MESSAGE_WINDOW))
            tail = handle.read(MESSAGE_WINDOW)
    path.unlink()
    lines = head.decode("latin-1").splitlines()
    if tail:
        lines += tail.decode("latin-1").splitlines()[1:]  # its first line is cut
    for line in lines:
        if line.startswith(f"{marker} SHOWN "):
            shown = line.split()[-1]
            run.shown = int(shown) if shown.isdigit() else None
        elif line.startswith(f"{marker} ERROR "):
            run.job_error = _bounded(line[len(marker) + 7 :].strip() or "an error")
        elif _DIAGNOSTIC.search(line):
            text = _bounded(line)
            if text not in run.messages and len(run.messages) < MAX_MESSAGES:
                run.messages.append(text)


def _bounded(text: str) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _page_files(directory: Path, most: int) -> dict[int, Path]:
    """Page number → page file, in order, for numbers up to ``most``."""
    files: dict[int, Path] = {}
    for entry in os.scandir(directory):
        match = _PAGE_FILE.fullmatch(entry.name)
        if match and 1 <= int(match.group(1)) <= most:
            files[int(match.group(1))] = Path(entry.path)
    return dict(sorted(files.items()))


def _load_page(path: Path, limits: RenderLimits) -> Image.Image:
    """A page file as an "L" or "RGB" image, its size checked before its pixels are decoded."""
    with open(path, "rb") as handle:
        head = handle.read(PNG_HEADER_SIZE)
    try:
        header = PNG_HEADER.parse(head)
    except ConstructError as exc:
        raise RenderError("page image missing or not a PNG") from exc
    check_page_size(header.width, header.height, limits)
    try:
        with Image.open(path) as picture:
            picture.load()
            return picture if picture.mode in ("1", "L", "RGB") else picture.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # Typically the page Ghostscript was writing when it was stopped.
        raise RenderError(f"page image incomplete or unreadable ({exc})") from exc


def _file_has_ink(path: Path, limits: RenderLimits) -> bool:
    try:
        image = _load_page(path, limits)
    except RenderError:
        return False
    return RenderedPage(0, image, None, "").has_ink()


# ---------------------------------------------------------------------- pypdf helpers


@dataclass(frozen=True)
class _Picture:
    key: str | tuple[str, str]  # pypdf's ``page.images`` key: a name, or (form, name)
    width: int
    height: int


def _resolved(value: Any) -> Any:
    return value.get_object() if value is not None and hasattr(value, "get_object") else value


def _xobjects(owner: Any) -> Mapping[str, Any]:
    resources = _resolved(owner.get("/Resources")) if isinstance(owner, Mapping) else None
    xobjects = _resolved(resources.get("/XObject")) if isinstance(resources, Mapping) else None
    return xobjects if isinstance(xobjects, Mapping) else {}


def _dimension(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _largest_picture(page: Any, limits: RenderLimits) -> _Picture | None:
    """The image XObject of the page (PDF §8.9.5), or of a form on it one level down, with the
    most pixels within ``limits``; sizes come from the dictionaries, nothing is decoded."""
    found: list[_Picture] = []
    refused: list[str] = []

    def consider(key: str | tuple[str, str], xobject: Any) -> None:
        width = _dimension(xobject.get("/Width"))
        height = _dimension(xobject.get("/Height"))
        try:
            check_page_size(width, height, limits)
        except RenderError as exc:
            refused.append(str(exc))
            return
        found.append(_Picture(key, width, height))

    for name, reference in list(_xobjects(page).items())[:MAX_XOBJECTS]:
        xobject = _resolved(reference)
        if not isinstance(xobject, Mapping):
            continue
        if xobject.get("/Subtype") == "/Image":
            consider(str(name), xobject)
        elif xobject.get("/Subtype") == "/Form":
            for inner, inner_ref in list(_xobjects(xobject).items())[:MAX_XOBJECTS]:
                inner_object = _resolved(inner_ref)
                if isinstance(inner_object, Mapping) and inner_object.get("/Subtype") == "/Image":
                    consider((str(name), str(inner)), inner_object)
    if not found:
        if refused:
            raise RenderError(f"its picture is not decoded: {refused[0]}")
        return None
    return max(found, key=lambda picture: picture.width * picture.height)


def _decode_picture(page: Any, picture: _Picture, limits: RenderLimits) -> Image.Image:
    image = page.images[picture.key].image
    if image is None:
        raise RenderError("its picture did not decode")
    # The stream itself may disagree with /Width and /Height (a JPEG says its own size).
    check_page_size(image.width, image.height, limits)
    if image.mode in ("1", "L", "RGB"):
        return image
    if image.mode in ("LA", "I;16", "I;16B", "I;16L", "I", "F"):
        if image.mode.startswith("I;16"):
            image = image.point(lambda value: value * (1 / 256))  # 16-bit gray to 8 bits
        return image.convert("L")
    return image.convert("RGB")


def _shows_text(page: Any) -> bool:
    """Whether the page's content shows visible text (PDF §9.4.3; the OCR layer of a searchable
    scan, rendering mode 3, does not count). Read with the PostScript module's lexer."""
    contents = page.get_contents()
    if contents is None:
        return False
    body = contents.get_data()[:MAX_PARSE_BYTES]
    lexer = Lexer(body)
    mode = 0
    last_number: int | float | None = None
    for _ in range(MAX_CONTENT_TOKENS):
        token = lexer.next()
        if token is None:
            return False
        if token.kind == NUMBER:
            last_number = token.value
            continue
        if token.kind == NAME:
            if token.value == "Tr" and last_number is not None:
                mode = int(last_number)
            elif token.value in _TEXT_SHOWING and mode != INVISIBLE_TEXT:
                return True
        last_number = None
    return True  # too long to read through: not a simple scanned page


def _page_size_points(page: Any) -> tuple[float, float] | None:
    try:
        box = page.mediabox
        width, height = abs(float(box.width)), abs(float(box.height))
    except Exception:  # pypdf on a malformed box
        log.debug("unreadable MediaBox", exc_info=True)
        return None
    return (width, height) if width > 0 and height > 0 else None


def _picture_dpi(page: Any, size: tuple[int, int]) -> tuple[float, float] | None:
    """The picture's resolution when it covers the page (a scan): pixels over page inches (PDF
    §8.3.2.3: 72 units to the inch). None when the picture's shape is not the page's."""
    points = _page_size_points(page)
    if points is None:
        return None
    width, height = size
    page_aspect = points[0] / points[1]
    if abs(width / height - page_aspect) > ASPECT_TOLERANCE * page_aspect:
        return None
    return (round(width * 72 / points[0], 1), round(height * 72 / points[1], 1))


def _rotation(page: Any) -> int:
    value = _resolved(page.get("/Rotate"))
    return int(value) % 360 if isinstance(value, int) and not isinstance(value, bool) else 0
