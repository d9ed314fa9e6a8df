"""XPS documents and XPS spool files (.SPL of XPSDrv print paths, .xps, .oxps).

An XPS package is an OPC ZIP (XML Paper Specification 1.0 / ECMA-388 OpenXPS, on the Open
Packaging Conventions of ECMA-376 Part 2 / ISO/IEC 29500-2). The package relationship
``…/fixedrepresentation`` names the FixedDocumentSequence, which lists FixedDocuments
(``DocumentReference``), which list FixedPages (``PageContent``); page text is the
``UnicodeString`` of ``<Glyphs>`` elements. The spooler streams parts as interleaved pieces
``name/[0].piece`` … ``name/[n].last.piece`` (ECMA-376-2 1st ed. §9.1.4), joined here in index
order; ZIP item names map to part names by adding "/" (§9.2.4). Relationships live in
``_rels/<part>.rels`` (ISO/IEC 29500-2:2012 §9.3). The job PrintTicket (Print Schema,
``psf:``/``psk:``) is the ``…/printticket`` relationship of the FixedDocumentSequence, usually
``/Metadata/Job_PT.xml``; document properties are the OPC core properties part (29500-2 §11,
usually ``docProps/core.xml``). ZIP structures: PKWARE APPNOTE.TXT 6.3.x.

Hostile input: ZIP member count and total decompressed size are capped, each member is read in
bounded chunks (zip bombs stop at the cap), and XML with a DTD or entity declaration is refused
before it reaches the parser (no entity expansion, no external fetch).
"""

from __future__ import annotations

import io
import logging
import lzma
import math
import posixpath
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import unquote

from forensics.formats.base import (
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
    clean_field,
    yara_hex,
)
from forensics.formats.emf import TextRun, format_dpi, layout_text
from forensics.formats.emfspool import winspool_pair_key

log = logging.getLogger(__name__)

ZIP_LOCAL_HEADER = b"PK\x03\x04"  # APPNOTE.TXT §4.3.7
ZIP_END_OF_CENTRAL_DIRECTORY = b"PK\x05\x06"  # APPNOTE.TXT §4.3.16
ZIP64_END_LOCATOR = b"PK\x06\x07"  # APPNOTE.TXT §4.3.15
ZIP_DATA_DESCRIPTOR = b"PK\x07\x08"  # APPNOTE.TXT §4.3.9 (optional signature)
MAX_MEMBERS = 10_000
MAX_XML_PART = 32 * 1024 * 1024  # one XML part, decompressed
MAX_XML_EVENTS = 2_000_000  # start/end events of one XML part
MAX_PAGES = 10_000
READ_CHUNK = 64 * 1024
# What zipfile and the decompressors raise on damaged or unsupported members: bad headers and CRCs,
# version/method not implemented, encryption (RuntimeError), bad names (UnicodeDecodeError is a
# ValueError), corrupt deflate/bzip2/LZMA streams.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
    EOFError,
    struct.error,
    KeyError,
    IndexError,
    zlib.error,
    lzma.LZMAError,
)
# ECMA-388 / XPS 1.0 relationship types.
REL_FIXED_REPRESENTATION = (
    "http://schemas.microsoft.com/xps/2005/06/fixedrepresentation",
    "http://schemas.openxps.org/oxps/v1.0/fixedrepresentation",
)
REL_PRINT_TICKET = (
    "http://schemas.microsoft.com/xps/2005/06/printticket",
    "http://schemas.openxps.org/oxps/v1.0/printticket",
)
REL_CORE_PROPERTIES = (
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
    "http://schemas.openxps.org/oxps/v1.0/core-properties",
)
OPENXPS_NAMESPACE = "http://schemas.openxps.org/oxps/v1.0"
_PIECE = re.compile(r"^(?P<part>.+)/\[(?P<index>\d{1,9})\](?P<last>\.last)?\.piece$", re.I)
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SPOOL_HINTS = (
    b".fpage",
    b".fdseq",
    b".fdoc",
    b"FixedDocumentSequence",
    b"FixedDocSeq",
    b"[Content_Types].xml",
    b"Metadata/Job_PT",
    b".piece",
)
# Print Schema keyword names (psk:) mapped to media names an examiner reads.
MEDIA_NAMES = {
    "ISOA3": "a3",
    "ISOA4": "a4",
    "ISOA5": "a5",
    "ISOA6": "a6",
    "ISOB4": "b4 (iso)",
    "ISOB5Envelope": "envelope b5",
    "JISB4": "b4 (jis)",
    "JISB5": "b5 (jis)",
    "NorthAmericaLetter": "letter",
    "NorthAmericaLegal": "legal",
    "NorthAmericaExecutive": "executive",
    "NorthAmericaTabloid": "tabloid",
    "NorthAmericaNumber10Envelope": "envelope #10",
    "ISODLEnvelope": "envelope dl",
    "ISOC5Envelope": "envelope c5",
}


class _Refused(Exception):
    """An XML part that is not parsed (DTD, too large, not well-formed)."""


# --------------------------------------------------------------------------- the archive


@dataclass
class _Member:
    name: str
    info: zipfile.ZipInfo | None = None  # when the central directory was read
    method: int = 0  # local-header scan: compression method
    data_start: int = 0
    data_end: int = 0


@dataclass
class _Archive:
    """ZIP members by OPC part name, read with a shared decompression budget."""

    data: bytes
    budget: int
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    parts: dict[str, list[tuple[int, _Member]]] = field(default_factory=dict)
    zip: zipfile.ZipFile | None = None

    def open(self) -> None:
        members = self._central_directory()
        if members is None:
            members = self._scan_local_headers()
        for member in members:
            self._add(member)

    def _central_directory(self) -> list[_Member] | None:
        declared = _declared_member_count(self.data)
        if declared is None:
            self.notes.append("no ZIP central directory: members recovered from local headers")
            self.complete = False
            return None
        if declared > MAX_MEMBERS:
            self.notes.append(
                f"ZIP declares {declared} members (cap {MAX_MEMBERS}): local headers scanned instead"
            )
            self.complete = False
            return None
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(self.data))
            infos = self.zip.infolist()
        except ZIP_ERRORS as exc:
            log.debug("zip central directory unreadable", exc_info=True)
            self.notes.append(
                f"ZIP central directory unreadable ({exc.__class__.__name__}): local headers scanned"
            )
            self.complete = False
            self.zip = None
            return None
        return [_Member(name=info.filename, info=info) for info in infos[:MAX_MEMBERS]]

    def _scan_local_headers(self) -> list[_Member]:
        """Members found by their local headers (APPNOTE §4.3.7): truncated or carved packages."""
        starts: list[int] = []
        position = self.data.find(ZIP_LOCAL_HEADER)
        while position >= 0 and len(starts) < MAX_MEMBERS:
            starts.append(position)
            position = self.data.find(ZIP_LOCAL_HEADER, position + 4)
        members: list[_Member] = []
        for index, start in enumerate(starts):
            if start + 30 > len(self.data):
                break
            (_, _, flags, method, _, _, _, compressed, _, name_length, extra_length) = (
                struct.unpack_from("<IHHHHHIIIHH", self.data, start)
            )
            data_start = start + 30 + name_length + extra_length
            if data_start > len(self.data):
                continue
            name = self.data[start + 30 : start + 30 + name_length].decode(
                "utf-8" if flags & 0x800 else "cp437", "replace"
            )
            following = starts[index + 1] if index + 1 < len(starts) else len(self.data)
            sized = not flags & 0x08 and compressed and data_start + compressed <= len(self.data)
            data_end = data_start + compressed if sized else following
            if not sized and method == 0:
                # Stored data of unknown size ends at its data descriptor (APPNOTE §4.3.9).
                descriptor = self.data.rfind(ZIP_DATA_DESCRIPTOR, data_start, following)
                data_end = descriptor if descriptor >= 0 else following
            members.append(_Member(name, None, method, data_start, max(data_start, data_end)))
        return members

    def _add(self, member: _Member) -> None:
        name = unquote(member.name).lstrip("/")
        piece = _PIECE.match(name)
        if piece:
            key, index = piece.group("part").lower(), int(piece.group("index"))
        else:
            key, index = name.lower(), 0
        if not key or key.endswith("/"):
            return
        self.parts.setdefault(key, []).append((index, member))

    def has(self, part: str) -> bool:
        return _part_key(part) in self.parts

    def names(self) -> list[str]:
        return list(self.parts)

    def read(self, part: str, limit: int) -> bytes | None:
        """The whole part (pieces joined), at most ``limit`` bytes and within the budget."""
        pieces = self.parts.get(_part_key(part))
        if not pieces:
            return None
        cap = min(limit, self.budget)
        out = bytearray()
        for _, member in sorted(pieces, key=lambda item: item[0]):
            if len(out) > cap:
                break
            out += self._read_member(member, cap + 1 - len(out))
        if len(out) > cap:
            why = f"the {cap}-byte part cap" if cap == limit else "the decompression budget"
            self.notes.append(f"part /{_shown(part.lstrip('/'))} cut at {why}")
            self.complete = False
            del out[cap:]
        self.budget -= len(out)
        return bytes(out)

    def _read_member(self, member: _Member, limit: int) -> bytes:
        out = bytearray()
        try:
            if member.info is not None and self.zip is not None:
                with self.zip.open(member.info) as stream:
                    while len(out) < limit:
                        chunk = stream.read(min(READ_CHUNK, limit - len(out)))
                        if not chunk:
                            break
                        out += chunk
            elif member.method == 0:  # stored
                out += self.data[
                    member.data_start : min(member.data_end, member.data_start + limit)
                ]
            elif member.method == 8:  # deflate (APPNOTE §4.4.5), raw stream
                inflater = zlib.decompressobj(-15)
                cursor = member.data_start
                while cursor < member.data_end and len(out) < limit and not inflater.eof:
                    chunk = self.data[cursor : min(member.data_end, cursor + READ_CHUNK)]
                    cursor += len(chunk)
                    out += inflater.decompress(chunk, limit - len(out))
                    while inflater.unconsumed_tail and len(out) < limit:
                        out += inflater.decompress(inflater.unconsumed_tail, limit - len(out))
            else:
                self.notes.append(
                    f"member {_shown(member.name)}: compression method {member.method}"
                )
                self.complete = False
        except ZIP_ERRORS as exc:
            log.debug("zip member %s unreadable", member.name, exc_info=True)
            self.notes.append(f"member {_shown(member.name)} damaged ({exc.__class__.__name__})")
            self.complete = False
        return bytes(out)


def _shown(name: str, limit: int = 200) -> str:
    """A name from the package as it may appear in notes and metadata: cleaned and bounded."""
    return clean_field(name, limit) or "?"


def _part_key(part: str) -> str:
    return unquote(part).lstrip("/").lower()


def _declared_member_count(data: bytes) -> int | None:
    """Entries the end-of-central-directory record declares (APPNOTE §4.3.16, §4.3.14)."""
    position = data.rfind(ZIP_END_OF_CENTRAL_DIRECTORY, max(0, len(data) - 65_557))
    if position < 0 or position + 22 > len(data):
        return None
    total = struct.unpack_from("<H", data, position + 10)[0]
    locator = position - 20
    if total == 0xFFFF and locator >= 0 and data[locator : locator + 4] == ZIP64_END_LOCATOR:
        record = struct.unpack_from("<Q", data, locator + 8)[0]
        if record + 40 <= len(data) and data[record : record + 4] == b"PK\x06\x06":
            return int(struct.unpack_from("<Q", data, record + 32)[0])
    return int(total)


# --------------------------------------------------------------------------- XML


def _xml_text(raw: bytes) -> str:
    """Decode an XML part by its BOM (XML 1.0 Appendix F), refusing DTDs and entities."""
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", "replace")
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16", "replace")
    elif raw.startswith(b"<\x00"):
        text = raw.decode("utf-16-le", "replace")
    elif raw.startswith(b"\x00<"):
        text = raw.decode("utf-16-be", "replace")
    else:
        text = raw.decode("utf-8", "replace")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise _Refused("DTD or entity declaration")
    return text


def _events(raw: bytes) -> Iterator[tuple[str, ET.Element]]:
    """(event, element) of a size-checked part; elements are cleared by the caller."""
    text = _xml_text(raw)
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    count = 0
    try:
        for first in range(0, len(text) + 1, READ_CHUNK):
            if first < len(text):
                parser.feed(text[first : first + READ_CHUNK])
            else:
                parser.close()
            for item in parser.read_events():
                count += 1
                if count > MAX_XML_EVENTS:
                    raise _Refused(f"more than {MAX_XML_EVENTS} XML events")
                event, element = cast("tuple[str, ET.Element]", item)
                yield event, element
    except ET.ParseError as exc:
        raise _Refused(f"not well-formed XML ({exc})") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attribute(element: ET.Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace."""
    if name in element.attrib:
        return element.attrib[name]
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _relationships(raw: bytes) -> list[tuple[str, str]]:
    """(type, target) of an OPC .rels part (ISO/IEC 29500-2:2012 §9.3)."""
    out: list[tuple[str, str]] = []
    for event, element in _events(raw):
        if event == "end" and _local(element.tag) == "Relationship":
            if (_attribute(element, "TargetMode") or "Internal") == "Internal":
                out.append((element.get("Type", ""), element.get("Target", "")))
            element.clear()
    return out


def _resolve(base_part: str, target: str) -> str:
    """A relative part reference resolved against the part that holds it (RFC 3986 §5.2)."""
    target = target.split("#", 1)[0].strip()
    if target.startswith("/"):
        return posixpath.normpath(target).lstrip("/")
    directory = posixpath.dirname("/" + base_part.lstrip("/"))
    return posixpath.normpath(posixpath.join(directory, target)).lstrip("/")


def _rels_part(part: str) -> str:
    """The relationships of /a/b.x are in /a/_rels/b.x.rels (ISO/IEC 29500-2:2012 §9.3)."""
    directory, name = posixpath.split(part.lstrip("/"))
    return posixpath.join(directory, "_rels", name + ".rels")


# --------------------------------------------------------------------------- page geometry

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _matrix(value: str | None) -> Matrix | None:
    """Matrix abbreviated syntax "m11,m12,m21,m22,offsetX,offsetY" (XPS RenderTransform)."""
    if not value or value.lstrip().startswith("{"):
        return None  # a resource reference ("{StaticResource …}") is not followed
    numbers = [float(number) for number in _NUMBER.findall(value)]
    if len(numbers) != 6 or not all(math.isfinite(number) for number in numbers):
        return None
    m11, m12, m21, m22, dx, dy = numbers
    return (m11, m12, m21, m22, dx, dy)


def _multiply(inner: Matrix, outer: Matrix) -> Matrix:
    """inner then outer (row-vector convention of XPS/WPF)."""
    a, b, c, d, e, f = inner
    p, q, r, s, t, u = outer
    return (
        a * p + b * r,
        a * q + b * s,
        c * p + d * r,
        c * q + d * s,
        e * p + f * r + t,
        e * q + f * s + u,
    )


def _int(value: str | None) -> int:
    """An integer from text, 0 when absent or not finite (int(inf) would raise)."""
    number = _number(value)
    return int(number) if math.isfinite(number) and abs(number) < 2**31 else 0


def _number(value: str | None, default: float = 0.0) -> float:
    if value is None:
        return default
    match = _NUMBER.search(value)
    number = float(match.group()) if match else default
    return number if math.isfinite(number) else default


def _advance(indices: str | None, count: int, em_size: float) -> float:
    """Width of a run from its Indices advances, else about half an em per character.

    Indices entries are ``[(cluster)][GlyphIndex][,[Advance][,uOffset[,vOffset]]]`` separated by
    ";", with Advance in hundredths of the em size (XPS Glyphs element, Indices syntax).
    """
    total = 0.0
    known = 0
    if indices:
        for entry in indices.split(";")[:count]:
            if entry.startswith("("):
                entry = entry.partition(")")[2]  # cluster map "(c:g)" before the glyph index
            fields = entry.split(",")
            if len(fields) >= 2 and fields[1].strip():
                total += _number(fields[1]) * em_size / 100.0
                known += 1
    return total + (count - known) * em_size * 0.5


@dataclass
class _PageText:
    runs: list[TextRun] = field(default_factory=list)
    indices_only: int = 0
    width: float | None = None
    height: float | None = None


def _page_text(raw: bytes, budget: int) -> _PageText:
    """Glyphs of one FixedPage, positioned through Canvas/Glyphs transforms.

    A transform is either the RenderTransform attribute (abbreviated matrix) or a
    ``<X.RenderTransform><MatrixTransform Matrix=…/>`` property element;
    transforms of brushes and paths do not move text and are ignored.
    """
    page = _PageText()
    canvases: list[Matrix] = [IDENTITY]
    names: list[str] = []
    glyph_transform: Matrix | None = None
    for event, element in _events(raw):
        name = _local(element.tag)
        if event == "start":
            names.append(name)
            if name == "FixedPage":
                page.width = _number(element.get("Width"), 0.0) or None
                page.height = _number(element.get("Height"), 0.0) or None
            elif name == "Canvas":
                local = _matrix(element.get("RenderTransform")) or IDENTITY
                canvases.append(_multiply(local, canvases[-1]))
            elif name == "Glyphs":
                glyph_transform = None
            continue
        if names:
            names.pop()
        parent = names[-1] if names else ""
        if name == "MatrixTransform":
            transform = _matrix(element.get("Matrix"))
            if transform is not None and parent == "Canvas.RenderTransform" and len(canvases) > 1:
                canvases[-1] = _multiply(transform, canvases[-1])
            elif transform is not None and parent == "Glyphs.RenderTransform":
                glyph_transform = transform
        elif name == "Canvas" and len(canvases) > 1:
            canvases.pop()
            element.clear()
        elif name == "Glyphs":
            budget -= _glyph_run(element, glyph_transform, canvases[-1], page, budget)
            element.clear()
    return page


def _glyph_run(
    element: ET.Element, child_transform: Matrix | None, outer: Matrix, page: _PageText, budget: int
) -> int:
    """Add one Glyphs element's text to the page; returns the characters used."""
    text = element.get("UnicodeString")
    if not text:
        if element.get("Indices"):
            page.indices_only += 1
        return 0
    if text.startswith("{}"):
        text = text[2:]  # a leading "{}" escapes a UnicodeString that starts with "{"
    if budget <= 0 or not text:
        return 0
    text = text[:budget]
    local = _matrix(element.get("RenderTransform")) or child_transform
    matrix = _multiply(local, outer) if local is not None else outer
    x0, y0 = _number(element.get("OriginX")), _number(element.get("OriginY"))
    em = abs(_number(element.get("FontRenderingEmSize"), 0.0))
    width = _advance(element.get("Indices"), len(text), em)
    a, b, c, d, e, f = matrix
    x, y = x0 * a + y0 * c + e, x0 * b + y0 * d + f
    end_x = (x0 + width) * a + y0 * c + e
    scale = abs(d) if d else 1.0
    page.runs.append(TextRun(x=x, y=y, text=text, height=em * scale, end_x=end_x))
    return len(text)


# --------------------------------------------------------------------------- PrintTicket


@dataclass
class _Ticket:
    job_name: str | None = None
    user: str | None = None
    copies: int | None = None
    media: str | None = None
    resolution: str | None = None
    extra: list[tuple[str, str]] = field(default_factory=list)


def _keyword(value: str | None) -> str:
    """ "psk:ISOA4" → "ISOA4" (Print Schema keywords are QNames)."""
    return (value or "").rsplit(":", 1)[-1]


def _print_ticket(raw: bytes) -> _Ticket:
    """Print Schema PrintTicket: ParameterInit values and the chosen Feature options."""
    ticket = _Ticket()
    stack: list[ET.Element] = []
    resolution: dict[str, int] = {}
    for event, element in _events(raw):
        if event == "start":
            stack.append(element)
            continue
        if stack:
            stack.pop()
        name = _local(element.tag)
        if name == "Value" and stack:
            owner = stack[-1]
            owner_kind = _local(owner.tag)
            key = _keyword(owner.get("name"))
            value = clean_field(element.text)
            if value is None:
                continue
            if owner_kind in ("ParameterInit", "Property"):
                _ticket_value(ticket, key, value)
            elif owner_kind == "ScoredProperty" and key in ("ResolutionX", "ResolutionY"):
                resolution[key] = _int(value)
        elif name == "Option" and stack and _local(stack[-1].tag) == "Feature":
            feature = _keyword(stack[-1].get("name"))
            option = _keyword(element.get("name"))
            if feature == "PageMediaSize" and option:
                ticket.media = MEDIA_NAMES.get(option) or _shown(option, 128)
            elif feature and option and len(ticket.extra) < 64:
                ticket.extra.append((f"ticket_{_shown(feature, 64)}", _shown(option)))
    if resolution.get("ResolutionX", 0) > 0:
        x = resolution["ResolutionX"]
        ticket.resolution = format_dpi(x, resolution.get("ResolutionY", x) or x)
    return ticket


def _ticket_value(ticket: _Ticket, key: str, value: str) -> None:
    if key in ("JobCopiesAllDocuments", "DocumentCopiesAllPages", "PageCopies"):
        copies = _int(value)
        if 1 <= copies <= 9999 and ticket.copies is None:
            ticket.copies = copies
    elif key == "JobName":
        ticket.job_name = value
    elif key in ("JobOwner", "JobOriginatingUserName", "UserName"):
        ticket.user = value
    elif len(ticket.extra) < 64:
        ticket.extra.append((f"ticket_{_shown(key, 64)}", value))


# --------------------------------------------------------------------------- core properties


def _core_properties(raw: bytes) -> dict[str, str]:
    """OPC core properties (ISO/IEC 29500-2 §11): title, creator, lastModifiedBy, created, …."""
    wanted = {
        "title",
        "creator",
        "lastModifiedBy",
        "created",
        "modified",
        "subject",
        "keywords",
        "description",
        "category",
    }
    found: dict[str, str] = {}
    for event, element in _events(raw):
        if event == "end":
            name = _local(element.tag)
            value = clean_field(element.text)
            if name in wanted and value and name not in found:
                found[name] = value
            element.clear()
    return found


def _w3c_date(value: str | None) -> str | None:
    """W3CDTF (dcterms:created) to the ISO "…Z" form when it is UTC, else as written."""
    if not value:
        return None
    value = value.strip()
    if value.endswith("+00:00"):
        value = value[:-6] + "Z"
    return value


# --------------------------------------------------------------------------- the format


class XpsParser(FormatParser):
    """XPS spool file or XPS/OpenXPS document (OPC ZIP with FixedPage parts)."""

    name = "xps"
    description = "XPS / OpenXPS package, including XPSDrv spool files with interleaved pieces"
    signatures = (Signature(ZIP_LOCAL_HEADER, 0),)
    carve_patterns = (CarvePattern(yara_hex(ZIP_LOCAL_HEADER)),)
    priority = 50  # before any generic ZIP handling

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if not head.startswith(ZIP_LOCAL_HEADER):
            return False
        if name and name.lower().endswith((".spl", ".xps", ".oxps")):
            return True
        return any(hint in head for hint in _SPOOL_HINTS)

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        if not data.startswith(ZIP_LOCAL_HEADER):
            raise NotThisFormat("not a ZIP")
        archive = _Archive(data, budget=max(0, ctx.max_output))
        archive.open()
        sequence = self._sequence_part(archive)
        pages_named = sorted(
            (name for name in archive.names() if name.endswith(".fpage")), key=_natural
        )
        if sequence is None and not pages_named:
            raise NotThisFormat("a ZIP without XPS parts")
        job = ParsedJob(format=self.name, pair_key=winspool_pair_key(ctx.name))
        try:
            self._fill(job, archive, sequence, pages_named, ctx)
        except (
            ValueError,
            IndexError,
            KeyError,
            struct.error,
            OverflowError,
            ET.ParseError,
        ) as exc:
            log.debug("XPS parse failed", exc_info=True)
            job.notes.append(f"XPS package could not be decoded ({exc.__class__.__name__})")
            job.complete = False
        job.notes[:0] = archive.notes
        job.complete = job.complete and archive.complete
        job.length = _last_zip_end(data) or len(data)
        return job

    def _fill(
        self,
        job: ParsedJob,
        archive: _Archive,
        sequence: str | None,
        pages_named: list[str],
        ctx: ParseContext,
    ) -> None:
        """Pages, text, PrintTicket and properties of a package known to be XPS."""
        state = _State(archive, job, text_budget=min(MAX_TEXT_CHARS, max(0, ctx.max_output)))
        page_order = state.page_order(sequence) if sequence else []
        referenced = set(page_order)
        unreferenced = [name for name in pages_named if name not in referenced]
        if unreferenced and page_order:
            job.notes.append(f"{len(unreferenced)} FixedPage parts not referenced by the documents")
        page_order.extend(unreferenced)
        if len(page_order) > MAX_PAGES:
            job.notes.append(f"{len(page_order)} pages: the first {MAX_PAGES} decoded")
        state.read_pages(page_order[:MAX_PAGES])
        ticket = state.ticket(sequence)
        core = state.core_properties()
        extra = list(ticket.extra)
        for key in (
            "creator",
            "lastModifiedBy",
            "modified",
            "subject",
            "keywords",
            "description",
            "category",
        ):
            if key in core:
                extra.append((key, core[key]))
        if state.indices_only:
            job.notes.append(
                f"{state.indices_only} Glyphs carry glyph indices only (no UnicodeString): not decoded"
            )
        job.metadata = JobMetadata(
            job_name=ticket.job_name,
            document_name=core.get("title"),
            user=ticket.user,  # dc:creator is the author, not who printed: kept in extra
            created=_w3c_date(core.get("created")),
            copies=ticket.copies,
            media=ticket.media,
            resolution=ticket.resolution,
            pages=len(page_order),
            document_format="application/oxps"
            if state.openxps
            else "application/vnd.ms-xpsdocument",
            extra=tuple((key, value) for key, value in extra if value),
        )

    @staticmethod
    def _sequence_part(archive: _Archive) -> str | None:
        """The FixedDocumentSequence named by the root relationship, or the first .fdseq part."""
        raw = archive.read("_rels/.rels", MAX_XML_PART)
        if raw:
            try:
                for rel_type, target in _relationships(raw):
                    if rel_type in REL_FIXED_REPRESENTATION:
                        part = _resolve("", target)
                        if archive.has(part):
                            return part
            except _Refused as exc:
                archive.notes.append(f"/_rels/.rels not parsed: {exc}")
        candidates = sorted(name for name in archive.names() if name.endswith(".fdseq"))
        return candidates[0] if candidates else None

    def extent(self, buf: bytes, offset: int) -> int | None:
        """End of the first end-of-central-directory record after ``offset``."""
        if buf[offset : offset + 4] != ZIP_LOCAL_HEADER:
            return None
        end = _zip_end(buf, offset)
        return end - offset if end else None


def _zip_end(buf: bytes, offset: int) -> int | None:
    """Offset just past the EOCD record (with its comment) that follows ``offset``."""
    position = buf.find(ZIP_END_OF_CENTRAL_DIRECTORY, offset)
    if position < 0 or position + 22 > len(buf):
        return None
    comment = struct.unpack_from("<H", buf, position + 20)[0]
    return min(len(buf), position + 22 + comment)


def _last_zip_end(data: bytes) -> int | None:
    """Offset just past the last EOCD record (the one a ZIP reader uses, APPNOTE §4.3.16)."""
    position = data.rfind(ZIP_END_OF_CENTRAL_DIRECTORY, max(0, len(data) - 65_557))
    if position < 0 or position + 22 > len(data):
        return None
    comment = struct.unpack_from("<H", data, position + 20)[0]
    return min(len(data), position + 22 + comment)


def _natural(name: str) -> list[object]:
    # ASCII digits only: "\d" and isdigit() also take "²", which int() refuses.
    return [
        int(part) if part.isascii() and part.isdigit() else part
        for part in re.split(r"([0-9]+)", name)
    ]


class _State:
    """Walks the document structure of one package and fills the ParsedJob."""

    def __init__(self, archive: _Archive, job: ParsedJob, text_budget: int) -> None:
        self.archive = archive
        self.job = job
        self.indices_only = 0
        self.openxps = False
        self.text_budget = text_budget

    def _xml(self, part: str) -> bytes | None:
        return self.archive.read(part, MAX_XML_PART)

    def page_order(self, sequence: str) -> list[str]:
        """FixedDocumentSequence → DocumentReference → FixedDocument → PageContent."""
        order: list[str] = []
        for document in self._references(sequence, "DocumentReference"):
            order.extend(self._references(document, "PageContent"))
            if len(order) > MAX_PAGES:
                break
        return order

    def _references(self, part: str, element_name: str) -> list[str]:
        raw = self._xml(part)
        if raw is None:
            self.job.notes.append(f"/{_shown(part)} missing")
            self.job.complete = False
            return []
        found: list[str] = []
        try:
            for event, element in _events(raw):
                if event == "start" and OPENXPS_NAMESPACE in element.tag:
                    self.openxps = True
                if event == "end" and _local(element.tag) == element_name:
                    source = element.get("Source")
                    if source and len(found) <= MAX_PAGES:
                        found.append(_resolve(part, source).lower())
                    element.clear()
        except _Refused as exc:
            self.job.notes.append(f"/{_shown(part)} not parsed: {exc}")
            self.job.complete = False
        return found

    def read_pages(self, pages: list[str]) -> None:
        for number, part in enumerate(pages, start=1):
            raw = self._xml(part)
            if raw is None:
                self.job.notes.append(f"page {number}: /{_shown(part)} missing")
                self.job.complete = False
                self.job.pages.append(PageRef(number=number))
                continue
            try:
                page = _page_text(raw, self.text_budget)
            except _Refused as exc:
                self.job.notes.append(f"page {number}: /{_shown(part)} not parsed: {exc}")
                self.job.complete = False
                self.job.pages.append(PageRef(number=number))
                continue
            self.indices_only += page.indices_only
            text = layout_text(page.runs)
            if text:
                self.text_budget -= len(text)
                self.job.texts.append(DecodedText(f"XPS page {number}", text))
            # FixedPage Width/Height are in 1/96 inch (XPS units): reported in points.
            self.job.pages.append(
                PageRef(
                    number=number,
                    width=round(page.width * 72 / 96) if page.width else None,
                    height=round(page.height * 72 / 96) if page.height else None,
                    unit="pt",
                    image_only=not text,
                )
            )
        if self.text_budget <= 0:
            self.job.notes.append("text limit reached: later pages not kept")

    def ticket(self, sequence: str | None) -> _Ticket:
        """The job PrintTicket: the sequence's printticket relationship, else Metadata/Job_PT.xml."""
        candidates: list[str] = []
        if sequence:
            raw = self._xml(_rels_part(sequence))
            if raw:
                try:
                    candidates += [
                        _resolve(sequence, target)
                        for rel_type, target in _relationships(raw)
                        if rel_type in REL_PRINT_TICKET
                    ]
                except _Refused as exc:
                    self.job.notes.append(f"/{_shown(_rels_part(sequence))} not parsed: {exc}")
        candidates.append("Metadata/Job_PT.xml")
        for part in candidates:
            raw = self._xml(part)
            if raw:
                try:
                    return _print_ticket(raw)
                except _Refused as exc:
                    self.job.notes.append(f"/{_shown(part)} not parsed: {exc}")
        return _Ticket()

    def core_properties(self) -> dict[str, str]:
        candidates: list[str] = []
        raw = self._xml("_rels/.rels")
        if raw:
            try:
                candidates += [
                    _resolve("", target)
                    for rel_type, target in _relationships(raw)
                    if rel_type in REL_CORE_PROPERTIES
                ]
            except _Refused:
                log.debug("root relationships refused")  # noted when the sequence was looked up
        candidates.append("docProps/core.xml")
        for part in candidates:
            raw = self._xml(part)
            if raw:
                try:
                    return _core_properties(raw)
                except _Refused as exc:
                    self.job.notes.append(f"/{_shown(part)} not parsed: {exc}")
        return {}
