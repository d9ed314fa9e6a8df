"""The format plug-in contract: every print-job or spool format is one self-registering class.

A format module subclasses ``FormatParser``, names itself and its signatures, and implements
``parse``. Defining the class registers it (``FormatParser.registry``); nothing else is edited when
a format is added. Parsers never open images: they get the bytes of one object (a file, a PJL
payload, a carved run) and a ``ParseContext``.

Rules every parser follows (DESIGN.md, "Formats"):
- header mismatch → raise ``NotThisFormat`` (silent);
- damage after a good header → return what was parsed, ``complete=False``, a note saying why;
- every length or count read from the data is checked against the bytes present and against
  the limits below; every decoder stops at ``ctx.max_output`` bytes; nothing loops unbounded.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from forensics.records import field_names

# Limits shared by all parsers.
MAX_PARSE_BYTES = 64 * 1024 * 1024  # bytes of one object handed to a parser
MAX_DECODED_BYTES = 64 * 1024 * 1024  # output of one decoder (Flate, LZW, ...)
MAX_TEXT_CHARS = 8 * 1024 * 1024  # decoded text kept per job
MAX_EMBEDDED = 256  # embedded payloads per job (PJL languages, EMF pages, ZIP parts)
MAX_DEPTH = 4  # recursion: PJL → PCL XL → ...
MAX_FIELD_CHARS = 1024  # one metadata string (user, document name, ...)

_WHITESPACE_CONTROLS = re.compile(r"[\t\n\v\f\r]+")
_OTHER_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0 and C1, DEL


def clean_field(value: object, limit: int = MAX_FIELD_CHARS) -> str | None:
    """A metadata string as JobMetadata wants it: line breaks and tabs as spaces, other control
    characters removed (a NUL-padded or misdecoded name keeps its letters together), stripped,
    at most ``limit`` characters; None when nothing is left."""
    if value is None:
        return None
    text = _OTHER_CONTROLS.sub("", _WHITESPACE_CONTROLS.sub(" ", str(value)))
    text = text.strip()[:limit].strip()
    return text or None


class NotThisFormat(Exception):
    """The data does not start like this format; the caller tries the next one."""


@dataclass(frozen=True)
class Signature:
    """Magic bytes at a fixed offset of the object (offset 0 for most formats)."""

    magic: bytes
    offset: int = 0

    def matches(self, head: bytes) -> bool:
        return head[self.offset : self.offset + len(self.magic)] == self.magic


@dataclass(frozen=True)
class CarvePattern:
    """Where a carver looks for an instance of a format in unallocated or raw bytes.

    ``yara`` is a YARA string expression (hex string, text string or regular expression) whose
    match marks a candidate; the instance starts ``start_delta`` bytes before the match (a
    signature found after a fixed header, such as IPP's first attribute name). A ``footer``
    pattern marks the end of an instance whose head may be lost: the carver keeps the tail.
    """

    yara: str
    start_delta: int = 0
    footer: bool = False


def yara_hex(*alternatives: bytes) -> str:
    """A YARA hex string matching any of ``alternatives`` (byte strings of equal length)."""
    rendered = [" ".join(f"{byte:02X}" for byte in alternative) for alternative in alternatives]
    if len(rendered) == 1:
        return "{ " + rendered[0] + " }"
    return "{ ( " + " | ".join(rendered) + " ) }"


@dataclass(frozen=True)
class JobMetadata:
    """Who printed what, from where, when: every field optional, as formats carry different sets.

    Times are ISO 8601 UTC strings ending in ``Z``. ``pin`` is the raw job-storage PIN/password;
    reports show ``pin_masked`` unless ``--reveal``.
    """

    user: str | None = None
    host: str | None = None  # originating host / computer name
    job_name: str | None = None
    document_name: str | None = None
    application: str | None = None  # creator / producer / driver application
    printer: str | None = None  # printer or queue name, device URI
    port: str | None = None
    driver: str | None = None
    data_type: str | None = None  # spooler data type (RAW, NT EMF 1.008, ...)
    document_format: str | None = None  # MIME type where the format states one
    job_id: str | None = None
    state: str | None = None
    submitted: str | None = None
    created: str | None = None
    completed: str | None = None
    pages: int | None = None
    copies: int | None = None
    media: str | None = None
    resolution: str | None = None
    hold: str | None = None  # hold / job-storage type (e.g. "PRIVATE", "STORE")
    pin: str | None = None
    pin_masked: str | None = None
    sid: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # other named fields worth showing

    def to_dict(self, reveal: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "pin" and not reveal:
                continue
            if name == "extra":
                value = dict(value)
            out[name] = value
        return out


@dataclass(frozen=True)
class DecodedText:
    """Text recovered from a job, with where it came from."""

    name: str  # e.g. "text", "page 2", "PostScript strings", "EMF page 1 glyph indices"
    text: str
    heuristic: bool = False  # e.g. glyph indices mapped by the standard TrueType order
    source_offset: int | None = None  # offset in the parsed bytes of the object it came from


@dataclass(frozen=True)
class Embedded:
    """A payload inside a job, to be identified and parsed in turn (depth-bounded).

    Either a slice of the parsed bytes (``offset``/``length``, ``data`` None) or decoded bytes
    (``data``, e.g. a decompressed stream) that came from that slice.
    """

    name: str  # e.g. "PJL job 1 payload"
    offset: int
    length: int
    format_hint: str | None = None  # registry name expected, e.g. "pclxl"
    data: bytes | None = None


@dataclass(frozen=True)
class PageRef:
    """A page of the job: where it is and what it looks like (rendering comes later)."""

    number: int
    offset: int | None = None
    length: int | None = None
    width: int | None = None  # pixels or points, see ``unit``
    height: int | None = None
    unit: str = "px"
    resolution: str | None = None
    color: str | None = None
    image_only: bool = False


MAX_LOG_ENTRIES = 20_000  # job entries kept from one log (the text keeps the rest for detection)


def set_fields(record: Any) -> dict[str, Any]:
    """The fields of a dataclass of scalars (PageRef, LogEntry) that are not None, in order.

    What ``dataclasses.asdict`` gives for such a record, without its deep copy of every value
    (11.6 against 0.54 us a page; made for each page and log entry of every job)."""
    return {
        name: value for name in field_names(record) if (value := getattr(record, name)) is not None
    }


@dataclass(frozen=True)
class LogEntry:
    """One job a log names (a CUPS page_log job, a device job-log row): it feeds the print job
    it describes, or stands as a metadata-only job when the content is gone.

    ``time`` is ISO 8601 UTC; ``time_field`` says which job time it is ("printed", "submitted",
    "completed"); ``offset`` is the entry's first byte in the parsed log.
    """

    offset: int
    job_id: str | None = None
    user: str | None = None
    host: str | None = None
    job_name: str | None = None
    document_name: str | None = None
    printer: str | None = None
    time: str | None = None
    time_field: str = "printed"
    last_time: str | None = None  # the entry's last line (page_log: the last page)
    time_zone: str | None = None  # "UTC", "+0100", or None when the log does not say
    pages: int | None = None
    copies: int | None = None
    state: str | None = None
    line: int | None = None  # 1-based line (or record) number in the log

    def to_dict(self) -> dict[str, Any]:
        return set_fields(self)


@dataclass
class ParsedJob:
    """What a parser returns."""

    format: str
    metadata: JobMetadata = field(default_factory=JobMetadata)
    texts: list[DecodedText] = field(default_factory=list)
    embedded: list[Embedded] = field(default_factory=list)
    pages: list[PageRef] = field(default_factory=list)
    complete: bool = True
    notes: list[str] = field(default_factory=list)  # damage and limits met, one line each
    pair_key: str | None = None  # joins halves of one job: "winspool:00002", "cups:12345"
    length: int | None = None  # bytes of the object this job occupies (carving, framing)
    log_entries: list[LogEntry] = field(default_factory=list)  # jobs a log names


@dataclass(frozen=True)
class ParseContext:
    name: str | None = None  # file name (CUPS cNNNNN, LPD cfA…, .SHD/.SPL), for pairing
    depth: int = 0
    max_output: int = MAX_DECODED_BYTES


class FormatParser(ABC):
    """Base of every format; subclasses with a ``name`` register themselves."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    signatures: ClassVar[tuple[Signature, ...]] = ()
    # Patterns the carver searches for in unallocated, slack, gap and raw space (forensics/carve.py).
    carve_patterns: ClassVar[tuple[CarvePattern, ...]] = ()
    # Lower runs first when several formats claim the same head (a more specific one first).
    priority: ClassVar[int] = 100
    # What an object of this format is to a print job (forensics/printjobs): "content" holds
    # pages (PDLs, rasters, documents); "wrapper" frames content (PJL); "control" describes a
    # job beside its data (CUPS c-files, LPD cf-files, .SHD); "log" names jobs (page_log);
    # "artefact" is device state, not a job (address books, configuration).
    role: ClassVar[str] = "content"
    # For "log" and "artefact" formats: what the device record is ("address book", "job log").
    artefact_kind: ClassVar[str | None] = None
    # The format holds page images only (faxes, scans, raster jobs): its text, if any, can only
    # be read by OCR, so its pages are OCR'd first when an OCR budget is set.
    pixels_only: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[FormatParser]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in FormatParser.registry:
                raise ValueError(f"format {cls.name!r} registered twice")
            FormatParser.registry[cls.name] = cls

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        """Cheap test on the first bytes (and file name); ``parse`` decides for certain."""
        return any(sig.matches(head) for sig in cls.signatures)

    @abstractmethod
    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        """Parse one object; raise NotThisFormat when the header does not match."""

    def extent(self, buf: bytes, offset: int) -> int | None:
        """Length of the instance starting at ``buf[offset]`` (carving), None if unknown."""
        return None

    @classmethod
    def carve_start(cls, buf: bytes, match: int, pattern: CarvePattern) -> int | None:
        """First byte of the instance whose ``pattern`` matched at ``buf[match]``; formats
        without a fixed signature (LPD control lines) override this to search backwards."""
        start = match - pattern.start_delta
        return start if start >= 0 else None


def candidates(head: bytes, name: str | None = None) -> list[type[FormatParser]]:
    """Registered formats whose signature matches ``head``, most specific first."""
    _load_all()
    found = [cls for cls in FormatParser.registry.values() if cls.sniff(head, name)]
    return sorted(found, key=lambda cls: (cls.priority, cls.name))


def registered_formats() -> dict[str, type[FormatParser]]:
    """Every format of this package, by name (importing the modules registers them)."""
    _load_all()
    return FormatParser.registry


_loaded = False


def _load_all() -> None:
    """Import every module of this package once, so each format registers itself."""
    global _loaded
    if _loaded:
        return
    import forensics.formats as package
    from forensics.plugins import import_submodules

    import_submodules(package, skip=("base",))
    _loaded = True
