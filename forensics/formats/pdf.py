"""PDF documents: Info and XMP metadata, per-page text, revisions, encryption, scanned pages.

Reference: ISO 32000-1:2008 (cited "PDF"). pypdf reads well-formed files (text via
``extract_text``); when it cannot open a file at all (truncated, carved fragment, broken xref),
objects are found by scanning for ``n g obj`` and content streams are read with the minimal
tokenizer in postscript.py, the text marked heuristic.
"""

from __future__ import annotations

import bisect
import functools
import html
import io
import itertools
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from forensics.formats.base import (
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    yara_hex,
)
from forensics.formats.postscript import (
    DAMAGE_ERRORS,
    MAX_OBJECTS,
    Lexer,
    PdfObjectTable,
    PdfSyntaxError,
    Ref,
    clean_text,
    decode_text_bytes,
    loose_content_text,
    number_list,
    parse_date,
    raw_pages,
    read_value,
)

log = logging.getLogger(__name__)
# pypdf warns through logging about every font it cannot fully parse; without a handler of its
# own those warnings reach stderr via logging's last-resort handler. Applications that configure
# logging still receive them (propagation is unchanged).
logging.getLogger("pypdf").addHandler(logging.NullHandler())


@functools.cache
def load_pypdf() -> ModuleType | None:
    """pypdf, imported on the first PDF rather than at start-up (0.1 s every run would pay);
    None without it (a declared dependency: only a broken install lacks it, and then every
    file goes through the raw fallback)."""
    try:
        import pypdf
    except ImportError:  # pragma: no cover - only in a broken install
        return None
    return pypdf


# Limits.
MAX_PDF_PAGES = 2000  # pages whose text is extracted
MAX_PDF_SECONDS = 120.0  # wall time for pypdf page extraction (hostile files can be slow)
MAX_REVISIONS = 32  # earlier revisions whose Info dictionary is read
MAX_XMP_BYTES = 4 * 1024 * 1024
MAX_EXTRA = 64
HEADER_WINDOW = 1024  # PDF §7.5.2 / Acrobat: the %PDF- header may follow up to 1 KiB of junk
EXTENT_TAIL = 4096  # after a %%EOF, how far to look for an incremental update that follows

# PDF §7.5.2 header "%PDF-1.n"; §7.5.5 trailer ends with "startxref / offset / %%EOF".
_HEADER = re.compile(rb"%PDF-(\d\.\d)")
_EOF_MARK = re.compile(rb"%%EOF")
_XREF_TABLE = re.compile(rb"(?:^|[\r\n])xref[\r\n \t]")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_XREF_STREAM = re.compile(rb"/Type\s*/XRef\b")
_TRAILER = re.compile(rb"trailer[\x00\t\n\x0c\r ]*<<")
_UPDATE_FOLLOWS = re.compile(
    rb"[\x00\t\n\x0c\r ]*(?:\d{1,10}[\x00\t\n\x0c\r ]+\d{1,5}[\x00\t\n\x0c\r ]+obj\b|xref\b|%)"
)
_INFO_HINT = re.compile(rb"/(?:Producer|CreationDate|Author|Creator)\b")
MAX_INFO_CANDIDATES = 100_000  # objects looked at for a lost trailer's Info
_INFO_KEYS = (
    "Title",
    "Author",
    "Subject",
    "Keywords",
    "Creator",
    "Producer",
    "CreationDate",
    "ModDate",
)

# XMP (ISO 16684-1) properties, as elements or as attributes of rdf:Description; "xap" is the
# namespace prefix of XMP before 2004. Each is (literal start, pattern matched at that start within
# XMP_WINDOW bytes): a forward find, then a bounded match, so no pattern backtracks over the packet.
XMP_WINDOW = 64 * 1024
_XMP_PROPERTIES: dict[str, tuple[tuple[bytes, re.Pattern[bytes]], ...]] = {
    "title": ((b"<dc:title", re.compile(rb"<dc:title[^>]*>.*?<rdf:li[^>]*>(.*?)</rdf:li>", re.S)),),
    "creator": (
        (b"<dc:creator", re.compile(rb"<dc:creator[^>]*>.*?<rdf:li[^>]*>(.*?)</rdf:li>", re.S)),
    ),
    "creator_tool": (
        (b"<xmp:CreatorTool>", re.compile(rb"<xmp:CreatorTool>(.*?)</xmp:CreatorTool>", re.S)),
        (b"<xap:CreatorTool>", re.compile(rb"<xap:CreatorTool>(.*?)</xap:CreatorTool>", re.S)),
        (b"xmp:CreatorTool=", re.compile(rb"xmp:CreatorTool=\"([^\"]*)\"")),
        (b"xap:CreatorTool=", re.compile(rb"xap:CreatorTool=\"([^\"]*)\"")),
    ),
    "producer": (
        (b"<pdf:Producer>", re.compile(rb"<pdf:Producer>(.*?)</pdf:Producer>", re.S)),
        (b"pdf:Producer=", re.compile(rb"pdf:Producer=\"([^\"]*)\"")),
    ),
    "create_date": (
        (b"<xmp:CreateDate>", re.compile(rb"<xmp:CreateDate>(.*?)</xmp:CreateDate>", re.S)),
        (b"<xap:CreateDate>", re.compile(rb"<xap:CreateDate>(.*?)</xap:CreateDate>", re.S)),
        (b"xmp:CreateDate=", re.compile(rb"xmp:CreateDate=\"([^\"]*)\"")),
        (b"xap:CreateDate=", re.compile(rb"xap:CreateDate=\"([^\"]*)\"")),
    ),
    "modify_date": (
        (b"<xmp:ModifyDate>", re.compile(rb"<xmp:ModifyDate>(.*?)</xmp:ModifyDate>", re.S)),
        (b"<xap:ModifyDate>", re.compile(rb"<xap:ModifyDate>(.*?)</xap:ModifyDate>", re.S)),
        (b"xmp:ModifyDate=", re.compile(rb"xmp:ModifyDate=\"([^\"]*)\"")),
        (b"xap:ModifyDate=", re.compile(rb"xap:ModifyDate=\"([^\"]*)\"")),
    ),
}


@dataclass
class _Document:
    """What either reader (pypdf or the raw scan) found."""

    info: dict[str, str] = field(default_factory=dict)
    xmp: dict[str, str] = field(default_factory=dict)
    pages: list[PageRef] = field(default_factory=list)
    texts: list[DecodedText] = field(default_factory=list)
    page_count: int | None = None
    encrypted: bool = False
    notes: list[str] = field(default_factory=list)
    complete: bool = True


def pdf_text_string(value: Any) -> str | None:
    """A PDF text string (PDF §7.9.2.2): UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding
    (Latin-1 is the same for the printable range)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if value[:2] == b"\xfe\xff":
            return value[2:].decode("utf-16-be", "replace")
        if value[:3] == b"\xef\xbb\xbf":
            return value[3:].decode("utf-8", "replace")
        return value.decode("latin-1")
    return str(value)


class PdfParser(FormatParser):
    name = "pdf"
    description = "PDF (Info/XMP metadata, page text, revisions, encryption, image-only pages)"
    signatures = (Signature(b"%PDF-"),)
    carve_patterns = (CarvePattern(yara_hex(b"%PDF-")),)  # ISO 32000-1 §7.5.2 file header

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if head.startswith(b"%PDF-"):
            return True
        at = head.find(b"%PDF-", 0, HEADER_WINDOW)
        # Junk before the header is tolerated (PDF Annex H.3 note), but not a PJL job: that is
        # the PJL parser's to unwrap.
        return at > 0 and b"@PJL" not in head[:at] and b"\x1b%-12345X" not in head[:at]

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        data = data[:MAX_PARSE_BYTES]
        header = _HEADER.search(data, 0, HEADER_WINDOW + 16)
        if header is None:
            raise NotThisFormat("no %PDF- header")
        job = ParsedJob(format=self.name)
        extra: list[tuple[str, str]] = [("PDF version", header.group(1).decode("ascii"))]
        body = data[header.start() :]
        try:
            document = self._read(body, ctx, extra)
        except DAMAGE_ERRORS as error:
            log.debug("PDF parse failed", exc_info=True)
            document = _Document(complete=False, notes=[f"parse stopped: {type(error).__name__}"])
        job.pages = document.pages
        job.texts = document.texts
        job.notes.extend(document.notes)
        job.complete = document.complete
        job.metadata = self._metadata(document, extra)
        length = self.extent(data, header.start())
        job.length = None if length is None else header.start() + length
        if length is None:
            job.complete = False
            job.notes.append("no %%EOF: the file is truncated")
        return job

    # ---------------------------------------------------------------- reading

    def _read(self, data: bytes, ctx: ParseContext, extra: list[tuple[str, str]]) -> _Document:
        eof_count = data.count(b"%%EOF")
        eofs = [
            match.end() for match in itertools.islice(_EOF_MARK.finditer(data), MAX_REVISIONS + 1)
        ]
        # A linearized file (PDF Annex F) has a first-page section with its own %%EOF.
        linearized = b"/Linearized" in data[:HEADER_WINDOW]
        updates = max(0, eof_count - 1 - (1 if linearized else 0))
        xref_sections = len(_XREF_TABLE.findall(data)) + len(_XREF_STREAM.findall(data))
        extra.append(("xref sections", str(xref_sections)))
        pypdf = load_pypdf()
        document = self._read_with_pypdf(pypdf, data) if pypdf is not None else None
        if document is None or (not document.pages and not document.encrypted):
            reason = document.notes[-1] if document and document.notes else "pypdf unavailable"
            fallback = self._read_raw(data, ctx, reason)
            if document is not None:  # keep what pypdf did read
                fallback.info = document.info or fallback.info
                fallback.xmp = document.xmp or fallback.xmp
            document = fallback
        if updates:
            document.notes.append(
                f"{updates} incremental update(s): earlier revisions are in the file"
            )
            extra.append(("incremental updates", str(updates)))
            if not document.encrypted:
                earlier = eofs[:-1] if eof_count <= MAX_REVISIONS + 1 else eofs
                extra.extend(self._revision_info(data, earlier))
        if document.encrypted and document.page_count is None:
            # Page dictionaries are not encrypted (PDF §7.6.2: only strings and streams are).
            count = len(_PAGE_OBJECT.findall(data))
            document.page_count = count or None
        return document

    def _read_with_pypdf(self, pypdf: ModuleType, data: bytes) -> _Document:
        """Everything pypdf can read; when it cannot open the file, the reason is the last note."""
        document = _Document()
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        except Exception as error:  # pypdf raises arbitrary exception types on hostile input
            log.debug("pypdf could not open the PDF", exc_info=True)
            document.notes.append(
                f"pypdf could not open the file ({type(error).__name__}: {error})"[:300]
            )
            return document
        try:
            if reader.is_encrypted:
                document.encrypted = True
                if not self._decrypt(reader, document):
                    return document
        except Exception as error:  # as above: pypdf must never end the parse
            log.debug("pypdf failed on the encryption dictionary", exc_info=True)
            document.notes.append(
                f"pypdf failed on encryption ({type(error).__name__}: {error})"[:300]
            )
            document.complete = False
            return document
        # Each part on its own, so that a failure in one keeps what the others found.
        for part, read in (
            ("Info", lambda: document.info.update(self._pypdf_info(reader))),
            ("XMP", lambda: document.xmp.update(self._pypdf_xmp(reader))),
            ("pages", lambda: self._pypdf_pages(reader, document)),
        ):
            try:
                read()
            except Exception as error:  # as above
                log.debug("pypdf failed reading %s", part, exc_info=True)
                document.notes.append(
                    f"pypdf failed reading {part} ({type(error).__name__}: {error})"[:300]
                )
                document.complete = False
        return document

    @staticmethod
    def _decrypt(reader: Any, document: _Document) -> bool:
        """PDF §7.6: try the empty user password, which opens files that only restrict rights."""
        encrypt = reader.trailer.get("/Encrypt")
        detail = ""
        try:
            encrypt = encrypt.get_object() if encrypt is not None else None
            if isinstance(encrypt, Mapping):
                detail = f" (filter {encrypt.get('/Filter')}, V {encrypt.get('/V')}, R {encrypt.get('/R')})"
        except Exception:  # pypdf object access on a damaged file
            log.debug("unreadable /Encrypt dictionary", exc_info=True)
        try:
            opened = bool(int(reader.decrypt("")))
        except Exception as error:  # e.g. DependencyError: AES needs a crypto library
            log.debug("decryption failed", exc_info=True)
            document.notes.append(
                f"encrypted{detail}: decryption failed ({type(error).__name__}: {error})"[:300]
            )
            document.complete = False
            return False
        if opened:
            document.notes.append(f"encrypted{detail}: opened with the empty user password")
            return True
        document.notes.append(
            f"encrypted{detail}: a user password is required; text and metadata not read"
        )
        document.complete = False
        return False

    @staticmethod
    def _pypdf_info(reader: Any) -> dict[str, str]:
        info: dict[str, str] = {}
        raw = reader.trailer.get("/Info")
        raw = raw.get_object() if raw is not None else None
        if not isinstance(raw, Mapping):
            return info
        for key in _INFO_KEYS:
            value = raw.get("/" + key)
            if value is None:
                continue
            value = value.get_object()
            text = clean_text(pdf_text_string(value) if isinstance(value, bytes) else str(value))
            if text:
                info[key] = text
        return info

    @staticmethod
    def _pypdf_xmp(reader: Any) -> dict[str, str]:
        root = reader.trailer.get("/Root")
        root = root.get_object() if root is not None else None
        if not isinstance(root, Mapping) or "/Metadata" not in root:
            return {}
        stream = root["/Metadata"].get_object()
        raw_length = len(getattr(stream, "_data", b"") or b"")
        if raw_length > MAX_XMP_BYTES:
            return {}
        return parse_xmp(stream.get_data()[:MAX_XMP_BYTES])

    def _pypdf_pages(self, reader: Any, document: _Document) -> None:
        count = len(reader.pages)
        document.page_count = count
        if count > MAX_PDF_PAGES:
            document.notes.append(
                f"{count} pages: text extracted from the first {MAX_PDF_PAGES} only"
            )
            document.complete = False
        started = time.monotonic()
        chars = 0
        image_only: list[int] = []
        failed: list[int] = []
        for index in range(min(count, MAX_PDF_PAGES)):
            if time.monotonic() - started > MAX_PDF_SECONDS:
                document.notes.append(
                    f"time limit ({MAX_PDF_SECONDS:.0f} s) reached after {index} pages"
                )
                document.complete = False
                break
            number = index + 1
            text = ""
            images = 0
            width = height = None
            try:
                page = reader.pages[index]
                box = page.mediabox
                width, height = round(abs(float(box.width))), round(abs(float(box.height)))
                images = _pypdf_image_count(page)
                if chars < MAX_TEXT_CHARS:
                    text = (page.extract_text() or "").strip()[: MAX_TEXT_CHARS - chars]
            except Exception:  # one bad page must not lose the others
                log.debug("pypdf failed on page %d", number, exc_info=True)
                failed.append(number)
            if text:
                chars += len(text)
                document.texts.append(DecodedText(f"page {number}", text))
            scanned = not text and (images > 0 or _pypdf_has_inline_image(reader, index))
            if scanned:
                image_only.append(number)
            document.pages.append(
                PageRef(number, width=width, height=height, unit="pt", image_only=scanned)
            )
        if image_only:
            document.notes.append(
                f"image-only page(s) {number_list(image_only)}: scanned? text needs OCR"
            )
        if failed:
            document.notes.append(f"text extraction failed on page(s) {number_list(failed)}")
            document.complete = False

    def _read_raw(self, data: bytes, ctx: ParseContext, reason: str) -> _Document:
        """Fallback for files pypdf cannot open: object scan, content-stream text (heuristic)."""
        document = _Document(complete=False)
        document.notes.append(reason)
        table = PdfObjectTable(data, ctx.max_output).scan()
        document.info = self._raw_info(data, len(data))
        document.xmp = self._raw_xmp(data, table)
        pages = raw_pages(table, MAX_TEXT_CHARS)
        image_only: list[int] = []
        for page in pages[:MAX_PDF_PAGES]:
            scanned = not page.text and page.images > 0
            if scanned:
                image_only.append(page.number)
            if page.text:
                document.texts.append(
                    DecodedText(f"page {page.number}", page.text, True, page.offset)
                )
            document.pages.append(
                PageRef(
                    page.number,
                    offset=page.offset,
                    width=None if page.width is None else round(page.width),
                    height=None if page.height is None else round(page.height),
                    unit="pt",
                    image_only=scanned,
                )
            )
        if not pages:
            for offset, text in loose_content_text(table, MAX_TEXT_CHARS):
                document.texts.append(DecodedText("content stream", text, True, offset))
        document.page_count = len(pages) or None
        document.notes.extend(table.notes)
        if image_only:
            document.notes.append(
                f"image-only page(s) {number_list(image_only)}: scanned? text needs OCR"
            )
        document.notes.append(
            f"recovered by object scan: {len(table.objects)} objects, {len(pages)} page(s), "
            f"{len(document.texts)} text block(s) (heuristic)"
        )
        return document

    # ---------------------------------------------------------------- Info without pypdf

    def _raw_info(self, data: bytes, end: int, index: _ObjectIndex | None = None) -> dict[str, str]:
        """Info of the revision ending at ``end``: the last trailer (or xref stream) before it
        names /Info (PDF §7.5.5, §7.5.8.2); the object is its last definition before ``end``.
        Without any trailer (a carved fragment), the last dictionary that looks like an Info."""
        index = index or _ObjectIndex(data)
        trailer = index.trailer_before(end)
        reference = trailer.get("Info") if trailer else None
        info_value: Any = None
        if isinstance(reference, dict):
            info_value = reference
        elif isinstance(reference, Ref):
            info_value = index.value_before(reference.number, end)
        elif trailer is None:
            info_value = index.info_like_before(end)
        if not isinstance(info_value, dict):
            return {}
        info: dict[str, str] = {}
        for key in _INFO_KEYS:
            value = info_value.get(key)
            if isinstance(value, Ref):
                value = index.value_before(value.number, end)
            text = clean_text(pdf_text_string(value)) if isinstance(value, bytes | str) else None
            if text:
                info[key] = text
        return info

    def _revision_info(self, data: bytes, ends: list[int]) -> list[tuple[str, str]]:
        """Info of each earlier revision (PDF §7.5.6), listed when it differs from the one before."""
        found: list[tuple[str, str]] = []
        previous: dict[str, str] | None = None
        index = _ObjectIndex(data)
        for number, end in enumerate(ends[:MAX_REVISIONS], start=1):
            info = self._raw_info(data, end, index)
            if info and info != previous:
                summary = "; ".join(f"{key}={value}" for key, value in info.items())
                found.append((f"revision {number} Info", clean_text(summary) or ""))
            previous = info
        return found

    @staticmethod
    def _raw_xmp(data: bytes, table: PdfObjectTable) -> dict[str, str]:
        start = data.find(b"<x:xmpmeta")
        if start >= 0:  # an uncompressed packet (most writers leave XMP unfiltered)
            return parse_xmp(data[start : start + MAX_XMP_BYTES])
        for obj in table.objects.values():
            if isinstance(obj.value, dict) and obj.value.get("Type") == "Metadata" and obj.stream:
                body, _, _ = table.stream_data(obj, MAX_XMP_BYTES)
                return parse_xmp(body)
        return {}

    # ---------------------------------------------------------------- metadata

    @staticmethod
    def _metadata(document: _Document, extra: list[tuple[str, str]]) -> JobMetadata:
        info, xmp = document.info, document.xmp
        created_raw = info.get("CreationDate") or xmp.get("create_date")
        created = parse_date(created_raw)
        if created_raw and not created:
            extra.append(("CreationDate", created_raw))
        modified_raw = info.get("ModDate") or xmp.get("modify_date")
        if modified_raw:
            extra.append(("ModDate", parse_date(modified_raw) or modified_raw))
        for key in ("Producer", "Subject", "Keywords"):
            if key in info:
                extra.append((key, info[key]))
        if "producer" in xmp and "Producer" not in info:
            extra.append(("Producer", xmp["producer"]))
        for key, label, info_key in (
            ("title", "XMP dc:title", "Title"),
            ("creator", "XMP dc:creator", "Author"),
            ("creator_tool", "XMP xmp:CreatorTool", "Creator"),
        ):
            if key in xmp and info.get(info_key) and xmp[key] != info[info_key]:
                extra.append((label, xmp[key]))  # disagreeing copies: both are evidence
        if document.encrypted:
            extra.append(("encrypted", "yes"))
        return JobMetadata(
            document_name=info.get("Title") or xmp.get("title"),
            user=info.get("Author") or xmp.get("creator"),
            application=info.get("Creator") or xmp.get("creator_tool"),
            document_format="application/pdf",
            created=created,
            pages=document.page_count
            if document.page_count is not None
            else (len(document.pages) or None),
            extra=tuple(extra[:MAX_EXTRA]),
        )

    # ---------------------------------------------------------------- carving

    def extent(self, buf: bytes, offset: int) -> int | None:
        """Up to the end of the last ``%%EOF`` of this file: after each %%EOF, an incremental
        update (``n g obj``, ``xref``) may follow within a short gap; anything else ends it."""
        window = buf[offset : offset + MAX_PARSE_BYTES]
        position = 0
        end: int | None = None
        while True:
            match = _EOF_MARK.search(window, position)
            if match is None:
                return end
            end = match.end()
            while end < len(window) and window[end] in b"\r\n":
                end += 1
            follower = _UPDATE_FOLLOWS.match(window, end, min(len(window), end + EXTENT_TAIL))
            if follower is None or window.startswith(b"%PDF-", follower.end() - 1):
                return end
            position = end


def parse_xmp(packet: bytes) -> dict[str, str]:
    """dc:title, dc:creator, xmp:CreatorTool, pdf:Producer, xmp:CreateDate/ModifyDate."""
    found: dict[str, str] = {}
    for key, forms in _XMP_PROPERTIES.items():
        for marker, pattern in forms:
            start = packet.find(marker)
            match = pattern.match(packet[start : start + XMP_WINDOW]) if start >= 0 else None
            if match:
                text = clean_text(html.unescape(decode_text_bytes(match.group(1))))
                if text:
                    found[key] = text
                    break
    return found


class _ObjectIndex:
    """Offsets of every ``n g obj`` header and trailer in the file, found in one pass each, so
    that each revision's objects are looked up without rescanning (PDF §7.5.6)."""

    _HEADER = re.compile(rb"(?<![0-9])(\d{1,10})[\x00\t\n\x0c\r ]+\d{1,5}[\x00\t\n\x0c\r ]+obj\b")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.headers: dict[int, list[tuple[int, int]]] = {}  # number → [(offset, body offset)]
        self.order: list[tuple[int, int]] = []  # (offset, number) in file order
        for count, match in enumerate(self._HEADER.finditer(data)):
            if count >= MAX_OBJECTS:
                break
            number = int(match.group(1))
            self.headers.setdefault(number, []).append((match.start(), match.end()))
            self.order.append((match.start(), number))
        self.trailers = [m.end() - 2 for m in _TRAILER.finditer(data)][:MAX_OBJECTS]
        for match in list(_XREF_STREAM.finditer(data))[:MAX_OBJECTS]:
            start = data.rfind(b"<<", max(0, match.start() - 4096), match.start())
            if start >= 0:
                self.trailers.append(start)
        self.trailers.sort()

    def _value_at(self, offset: int, end: int) -> Any:
        try:
            return read_value(Lexer(self.data, offset, end=end))
        except PdfSyntaxError:
            return None

    def trailer_before(self, end: int) -> dict[str, Any] | None:
        position = bisect.bisect_left(self.trailers, end) - 1
        while position >= 0:
            value = self._value_at(self.trailers[position], end)
            if isinstance(value, dict) and ("Info" in value or "Root" in value or "Size" in value):
                return value
            position -= 1
        return None

    def value_before(self, number: int, end: int) -> Any:
        """The last definition of object ``number`` that starts before ``end``."""
        candidates = [body for start, body in self.headers.get(number, []) if start < end]
        return self._value_at(candidates[-1], end) if candidates else None

    def info_like_before(self, end: int) -> dict[str, Any] | None:
        """A dictionary with Info keys and no /Type (PDF §14.3.3): the heuristic Info of a
        fragment whose trailer is lost."""
        for start, number in reversed(self.order[-MAX_INFO_CANDIDATES:]):
            if start >= end or not _INFO_HINT.search(self.data, start, min(end, start + 4096)):
                continue
            value = self.value_before(number, end)
            if (
                isinstance(value, dict)
                and "Type" not in value
                and any(k in value for k in _INFO_KEYS[:6])
            ):
                return value
        return None


def _pypdf_image_count(page: Any) -> int:
    """Image XObjects of a page and of its form XObjects, one level deep (PDF §8.9.5)."""
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    if not isinstance(resources, Mapping):
        return 0
    xobjects = resources.get("/XObject")
    xobjects = xobjects.get_object() if xobjects is not None else None
    if not isinstance(xobjects, Mapping):
        return 0
    count = 0
    for reference in list(xobjects.values())[:1024]:
        xobject = reference.get_object()
        subtype = xobject.get("/Subtype") if isinstance(xobject, Mapping) else None
        if subtype == "/Image":
            count += 1
        elif subtype == "/Form":
            inner = xobject.get("/Resources")
            inner = inner.get_object() if inner is not None else None
            inner_x = inner.get("/XObject") if isinstance(inner, Mapping) else None
            inner_x = inner_x.get_object() if inner_x is not None else None
            if isinstance(inner_x, Mapping):
                count += sum(
                    1
                    for ref in list(inner_x.values())[:1024]
                    if isinstance(ref.get_object(), Mapping)
                    and ref.get_object().get("/Subtype") == "/Image"
                )
    return count


def _pypdf_has_inline_image(reader: Any, index: int) -> bool:
    """Inline images (BI … ID … EI, PDF §8.9.7) in a page that showed no text."""
    try:
        contents = reader.pages[index].get_contents()
        if contents is None:
            return False
        body = contents.get_data()
    except Exception:  # pypdf on a damaged content stream
        log.debug("unreadable content stream", exc_info=True)
        return False
    return re.search(rb"(?:^|\s)BI\s", body[:MAX_PARSE_BYTES]) is not None
