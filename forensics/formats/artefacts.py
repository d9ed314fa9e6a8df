"""Device artefacts that hold people and secrets: address books, job logs, configuration files.

Printers and copiers keep scan/fax destinations (names, e-mail addresses, fax numbers, SMB/FTP
paths with their login and password), job accounting logs, and configuration (SMTP/LDAP bind
credentials, SNMP communities, Wi-Fi keys). They are parsed just enough to present each record
as ``key: value`` lines in its own DecodedText, with the record's offset, so a YARA finding
(``Password: …``, an e-mail address) points at the record and the file it came from.

Forms read: CSV/TSV with a header row (vendor exports such as Ricoh, Xerox, Konica Minolta),
LDIF (RFC 2849, base64 ``::`` values decoded), XML whose elements look like contacts, INI and
``key=value`` configuration, and XML configuration. Every sniff is conservative: a file is
claimed only when its header row, first entry or element names say what it is.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import functools
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.parsers import expat

from forensics.formats.base import (
    MAX_LOG_ENTRIES,
    MAX_TEXT_CHARS,
    DecodedText,
    FormatParser,
    JobMetadata,
    LogEntry,
    NotThisFormat,
    ParseContext,
    ParsedJob,
    clean_field,
)

log = logging.getLogger(__name__)

MAX_TEXT_BYTES = 32 * 1024 * 1024  # an address book or config file larger than this is cut
MAX_XML_BYTES = 16 * 1024 * 1024
MAX_RECORDS = 200_000
MAX_RECORD_TEXTS = 10_000  # one DecodedText per record up to here, then grouped
GROUP_SIZE = 500
MAX_COLUMNS = 512
MAX_CELL_CHARS = 4096
MAX_XML_DEPTH = 64
SNIFF_CHARS = 16 * 1024

# Column / key roles, tried in order: the first that matches a normalised key wins.
_ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "password",
        re.compile(
            r"pass(word|wd|phrase|code)?$|passw|pwd|^pin$|pincode|secret|kennwort|motdepasse|contrase|communit|psk$|presharedkey|bindpw|rootpw"
        ),
    ),
    ("email", re.compile(r"e?mail|smtpaddress")),
    ("fax", re.compile(r"fax|facsimile")),
    ("phone", re.compile(r"phone|^tel$|telephone|mobile|^cell")),
    ("user", re.compile(r"user|login|account|owner|^uid$|sender|^author$")),
    ("path", re.compile(r"path|folder|^smb|^ftp|share|directory|^url$|^host|server")),
    ("document", re.compile(r"document|filename|^file$|jobname|^title$|^job$")),
    ("date", re.compile(r"date|time|stamp|submitted|printed|received")),
    ("pages", re.compile(r"pages|sheets|impressions|pagecount|^count$")),
    (
        "name",
        re.compile(r"name$|^name|^cn$|^sn$|surname|givenname|displayname|fullname|^first|^last"),
    ),
)
_CONTACT_ROLES = {"email", "fax", "phone", "path"}
_SECRET_ROLE = "password"
_MASKED = re.compile(r"^[*\u2022\u25cf xX#]+$")
# Element names that say "this list holds contacts" (vendor address book exports).
_CONTACT_ELEMENT = re.compile(
    r"address|contact|destination|recipient|phone.?book|abbr|abk|person|people|speed.?dial|"
    r"one.?touch|fax.?number",
    re.I,
)
_CONFIG_VOCABULARY = re.compile(
    r"pass(word|wd|phrase)|pwd|secret|communit|smtp|ldap|bind.?(dn|pw|password)|snmp|psk|wpa|"
    r"radius|ssid|ftp|smb|proxy|credential",
    re.I,
)
_CONFIG_NAMES = re.compile(r".*\.(ini|conf|cfg|cnf|properties|prefs)$", re.I)
_INI_SECTION = re.compile(r"\s*\[([^\]\r\n]{1,128})\]\s*(?:[;#].*)?")
_KEY_VALUE = re.compile(r"\s*([A-Za-z_][\w.\-/ ]{0,127}?)\s*=\s*(.*?)\s*")
_KEY_COLON = re.compile(r"\s*([A-Za-z_][\w.\-/ ]{0,127}?)\s*:\s*(.*?)\s*")
_KEY_SPACE = re.compile(r"\s*([A-Za-z_][\w.\-/]{0,127})[ \t]+(\S.*?)\s*")
_COMMENT = re.compile(r"\s*(#|;|//|!)")
_LDIF_ATTRIBUTE = re.compile(r"([A-Za-z][\w\-]*(?:;[\w\-]+)*)(::?|:<)\s?(.*)")


def _normal(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


@functools.lru_cache(maxsize=4096)
def role(key: str) -> str | None:
    """What a column / attribute / element name holds (see ``_ROLE_PATTERNS``)."""
    normal = _normal(key.rsplit("}", 1)[-1])  # drop an XML namespace
    if not normal or len(normal) > 64:
        return None
    for name, pattern in _ROLE_PATTERNS:
        if pattern.search(normal):
            return name
    return None


def _is_secret_value(value: str) -> bool:
    return bool(value.strip()) and not _MASKED.fullmatch(value.strip())


# ------------------------------------------------------------------------------ text decoding

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass
class _Text:
    text: str
    codec: str
    bom: int  # bytes of byte order mark before the text

    _last_char: int = 0
    _last_byte: int = 0

    def byte_offset(self, char_offset: int) -> int:
        """Byte offset of a character offset; UTF-8 is counted on from the last query."""
        if self.codec == "cp1252":
            return self.bom + char_offset
        if self.codec.startswith("utf-16"):
            return self.bom + 2 * char_offset
        if char_offset < self._last_char:
            self._last_char = self._last_byte = 0
        piece = self.text[self._last_char : char_offset]
        self._last_byte += len(piece.encode("utf-8", "surrogatepass"))
        self._last_char = char_offset
        return self.bom + self._last_byte


def _decoded_or_refused(data: bytes, ctx: ParseContext) -> _Text:
    """The data as text within the read limit; binary data is not this format."""
    decoded = _decode(data, min(MAX_TEXT_BYTES, ctx.max_output))
    if decoded is None:
        raise NotThisFormat("not text")
    return decoded


def _text_job(name: str, data: bytes) -> ParsedJob:
    """A job for a text artefact, incomplete when the file is longer than the read limit."""
    job = ParsedJob(format=name)
    if len(data) > MAX_TEXT_BYTES:
        job.complete = False
        job.notes.append(f"longer than {MAX_TEXT_BYTES} bytes; the rest not read")
    return job


def _decode(data: bytes, limit: int) -> _Text | None:
    """The data as text, or None when it is binary."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) : len(bom) + limit]
            if codec.startswith("utf-16"):
                body = body[: len(body) // 2 * 2]
            text = body.decode(codec, "replace")
            return _Text(text, codec, len(bom)) if _textual(text) else None
    # UTF-16 without a BOM: every other byte zero in an ASCII-range head.
    head = data[:256]
    if len(head) >= 8 and head[1::2].count(0) > len(head) // 2 * 0.9 and head[0::2].count(0) < 4:
        body = data[: limit // 2 * 2]
        text = body.decode("utf-16-le", "replace")
        return _Text(text, "utf-16-le", 0) if _textual(text) else None
    body = data[:limit]
    if b"\x00" in body[:4096]:
        return None
    try:
        text = body.decode("utf-8")
        codec = "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(body) - 4:  # the head was cut inside a character
            text = body[: error.start].decode("utf-8")
            codec = "utf-8"
        else:
            text = body.decode("cp1252", "replace")
            codec = "cp1252"
    return _Text(text, codec, 0) if _textual(text) else None


# Control characters other than tab, CR, LF and FF, and the replacement character: deleted by
# str.translate, which counts them in a third of the time re.findall takes (6 against 17 us on
# a 4 KiB PCL head, where each escape sequence is one).
_NOT_TEXT = dict.fromkeys((*range(0x09), 0x0B, *range(0x0E, 0x20), 0xFFFD))


def _textual(text: str) -> bool:
    sample = text[:4096]
    if not sample.strip():
        return False
    return len(sample) - len(sample.translate(_NOT_TEXT)) <= len(sample) // 100


_sniffed: tuple[bytes | None, str | None] = (None, None)


def _sniff_text(head: bytes) -> str | None:
    """``head`` as text for the sniffers (None: binary), decoded once for all of them: the
    address-book, job-log and configuration sniffers are each asked about the same head in one
    ``candidates`` call, and every file and payload a scan identifies is sniffed."""
    global _sniffed
    held, text = _sniffed
    if held is not head or type(head) is not bytes:  # identity: the last head, still held here
        decoded = _decode(head, SNIFF_CHARS)
        text = None if decoded is None else decoded.text
        _sniffed = (head, text) if type(head) is bytes else (None, None)
    return text


def _lines_with_offsets(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for line in text.splitlines(keepends=True):
        yield offset, line.rstrip("\r\n")
        offset += len(line)


# ------------------------------------------------------------------------------ records


@dataclass
class Record:
    """One contact / log row / config section: its fields in order and where it starts."""

    fields: list[tuple[str, str]]
    char_offset: int
    label: str = ""

    def roles(self) -> set[str]:
        return {r for key, value in self.fields if value.strip() and (r := role(key))}

    def secrets(self) -> int:
        return sum(
            1 for key, value in self.fields if role(key) == _SECRET_ROLE and _is_secret_value(value)
        )

    def render(self) -> str:
        return "\n".join(f"{key}: {value}" for key, value in self.fields if value.strip())


def _is_contact(record: Record) -> bool:
    roles = record.roles()
    reach = roles & _CONTACT_ROLES
    return bool(reach and (roles & {"name", "user"} or len(reach) >= 2))


def _record_texts(records: list[Record], source: _Text, kind: str) -> list[DecodedText]:
    """One DecodedText per record (grouped past MAX_RECORD_TEXTS), within MAX_TEXT_CHARS."""
    texts: list[DecodedText] = []
    total = 0
    index = 0
    while index < len(records) and total < MAX_TEXT_CHARS:
        if len(texts) < MAX_RECORD_TEXTS:
            group = records[index : index + 1]
            name = f"{kind} {index + 1}" + (f" ({group[0].label})" if group[0].label else "")
        else:
            group = records[index : index + GROUP_SIZE]
            name = f"{kind} {index + 1}-{index + len(group)}"
        text = "\n\n".join(record.render() for record in group)[: MAX_TEXT_CHARS - total]
        if text:
            texts.append(
                DecodedText(name, text, source_offset=source.byte_offset(group[0].char_offset))
            )
            total += len(text)
        index += len(group)
    return texts


# ------------------------------------------------------------------------------ CSV


@dataclass
class _Table:
    header: list[str]
    records: list[Record] = field(default_factory=list)
    bad_rows: int = 0
    truncated: bool = False


_DELIMITERS = (",", ";", "\t", "|")
# A column name: words, spaces and a little punctuation (no quotes, braces, '@' or '=').
_COLUMN_NAME = re.compile(r"[^\W\d_][\w .:/()#&'\-+]{0,63}")


def _header_line(text: str) -> tuple[int, str] | None:
    """The first non-comment line (vendor exports start with ``#`` preamble lines)."""
    for count, (offset, line) in enumerate(_lines_with_offsets(text)):
        if count > 20:
            return None
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        return offset, line
    return None


def _split_header(line: str) -> tuple[str, list[str]] | None:
    best: tuple[str, list[str]] | None = None
    for delimiter in _DELIMITERS:
        if delimiter not in line:
            continue
        try:
            cells = next(csv.reader([line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if best is None or len(cells) > len(best[1]):
            best = (delimiter, cells)
    if best is None or not 2 <= len(best[1]) <= MAX_COLUMNS:
        return None
    cells = [cell.strip() for cell in best[1]]
    # A header row names columns: short, not numbers, not e-mail addresses.
    named = [
        c for c in cells if _COLUMN_NAME.fullmatch(c) and not re.fullmatch(r"[\d\s.,:/+\-]+", c)
    ]
    if len(named) < max(2, len(cells) * 0.8):
        return None
    return best[0], cells


def _csv_roles(text: str) -> tuple[str, list[str], set[str]] | None:
    """(delimiter, header cells, column roles) when the text starts like a CSV table: a header
    of column names and, after it, a row with about as many cells."""
    found = _header_line(text)
    if found is None or len(found[1]) > 8192:
        return None
    split = _split_header(found[1])
    if split is None:
        return None
    delimiter, header = split
    rest = text[found[0] + len(found[1]) :].lstrip("\r\n")
    row = next((line for _, line in _lines_with_offsets(rest) if line.strip()), None)
    if row is None:
        return None
    cut = rest.rstrip("\r\n").endswith(row) and not rest.endswith(("\n", "\r"))
    try:
        cells = next(csv.reader([row], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return None
    # A row cut by the end of the head may be short; a whole row has about the header's cells.
    if len(cells) > len(header) + 8 or (len(cells) < len(header) // 2 and not cut):
        return None
    return delimiter, header, {r for cell in header if (r := role(cell))}


def _address_book_columns(roles: set[str], named: bool = False) -> bool:
    """E-mail or fax columns with a name (or two destination columns); with an address-book
    file name, any destination column (phone, path) with a name will do."""
    reach = roles & _CONTACT_ROLES
    wanted = _CONTACT_ROLES if named else {"email", "fax"}
    return bool(reach & wanted and (roles & {"name", "user"} or len(reach) >= 2))


def _address_book_name(name: str | None) -> bool:
    base = _base_name(name).lower()
    return bool(
        re.search(r"address|abook|phonebook|contact|destination", base) or base.endswith(".ldif")
    )


def _job_log_columns(roles: set[str]) -> bool:
    return "user" in roles and len(roles & {"document", "date", "pages"}) >= 2


def _read_csv(text: str, delimiter: str) -> _Table:
    found = _header_line(text)
    assert found is not None  # the caller checked the header
    header_offset, header_line = found
    header = [cell.strip() for cell in next(csv.reader([header_line], delimiter=delimiter))]
    table = _Table(header)
    body_start = header_offset + len(header_line)
    pending: list[str] = []
    pending_offset = 0
    for offset, line in _lines_with_offsets(text[body_start:]):
        if len(table.records) >= MAX_RECORDS:
            table.truncated = True
            break
        if not pending:
            pending_offset = body_start + offset
        pending.append(line)
        joined = "\n".join(pending)
        if joined.count('"') % 2 and len(pending) < 64:  # a quoted cell goes on
            continue
        pending = []
        if not joined.strip() or joined.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([joined], delimiter=delimiter))
        except (csv.Error, StopIteration):
            table.bad_rows += 1
            continue
        if len(cells) > len(header) + 8 or len(cells) < 2:
            table.bad_rows += 1
            continue
        fields = [
            (
                header[i] if i < len(header) and header[i] else f"column {i + 1}",
                cell.strip()[:MAX_CELL_CHARS],
            )
            for i, cell in enumerate(cells)
        ]
        table.records.append(Record(fields, pending_offset))
    return table


# ------------------------------------------------------------------------------ LDIF


def _looks_ldif(text: str) -> bool:
    """RFC 2849: optional ``version: 1``, then entries starting with ``dn:`` / ``dn::``."""
    for count, (_, line) in enumerate(_lines_with_offsets(text)):
        if count > 40:
            return False
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.fullmatch(r"version:\s*\d+", stripped):
            continue
        if stripped.startswith("dn::"):
            return True
        return bool(re.match(r"dn:\s*[A-Za-z][\w\-]*\s*=", stripped) or stripped in ("dn:", "dn: "))
    return False


def _ldif_value(kind: str, value: str) -> str:
    if kind == "::":  # RFC 2849: base64 of the value (binary or not SAFE-STRING)
        try:
            raw = base64.b64decode(value.strip(), validate=False)
        except (binascii.Error, ValueError):
            return f"<bad base64 {value[:64]}>"
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"<binary {len(raw)} bytes>"
        if all(ch.isprintable() or ch in "\t\n" for ch in decoded):
            return decoded
        return f"<binary {len(raw)} bytes>"
    if kind == ":<":
        return f"<url {value.strip()}>"
    return value


def _read_ldif(text: str) -> tuple[list[Record], int]:
    records: list[Record] = []
    bad = 0
    logical: list[tuple[int, str]] = []  # unfolded lines of the current entry
    for offset, line in _lines_with_offsets(text):
        if line.startswith(" ") and logical:  # RFC 2849 folding: continuation of the last line
            start, previous = logical[-1]
            if len(previous) < MAX_CELL_CHARS * 16:
                logical[-1] = (start, previous + line[1:])
            continue
        if not line.strip():
            if logical:
                record, errors = _ldif_entry(logical)
                bad += errors
                if record is not None:
                    records.append(record)
                logical = []
                if len(records) >= MAX_RECORDS:
                    break
            continue
        if line.startswith("#"):
            continue
        logical.append((offset, line))
    if logical and len(records) < MAX_RECORDS:
        record, errors = _ldif_entry(logical)
        bad += errors
        if record is not None:
            records.append(record)
    return records, bad


def _ldif_entry(lines: list[tuple[int, str]]) -> tuple[Record | None, int]:
    fields: list[tuple[str, str]] = []
    errors = 0
    for _, line in lines:
        match = _LDIF_ATTRIBUTE.fullmatch(line)
        if not match:
            errors += 1
            continue
        name, kind, value = match.groups()
        if name.lower() == "version" and not fields:
            continue
        fields.append((name, _ldif_value(kind, value)[:MAX_CELL_CHARS]))
    if not fields:
        return None, errors
    dn = next((value for key, value in fields if key.lower() == "dn"), "")
    return Record(fields, lines[0][0], label=clean_field(dn, 120) or ""), errors


# ------------------------------------------------------------------------------ XML


@dataclass
class _XmlScan:
    contacts: list[Record] = field(default_factory=list)
    settings: list[Record] = field(default_factory=list)  # leaf values grouped by parent
    complete: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class _XmlFrame:
    tag: str
    offset: int  # byte offset of the start tag
    attributes: list[tuple[str, str]]
    text: list[str] = field(default_factory=list)
    text_length: int = 0
    fields: list[tuple[str, str]] = field(default_factory=list)  # from leaf children
    nested: list[tuple[str, str]] = field(default_factory=list)  # from grandchildren
    candidates: list[tuple[str, Record]] = field(default_factory=list)  # contact-like children
    has_children: bool = False


class _XmlStop(Exception):
    """Raised inside an expat handler to end the scan."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _strip_doctype(data: bytes) -> tuple[bytes, int, int]:
    """Drop a DOCTYPE (its entity declarations are never expanded); return where and how much."""
    match = re.search(rb"<!DOCTYPE[^\[>]*(\[.*?\]\s*)?>", data[:65536], re.S)
    if not match:
        return data, -1, 0
    return data[: match.start()] + data[match.end() :], match.start(), match.end() - match.start()


def _scan_xml(data: bytes) -> _XmlScan:
    """Walk the XML with expat: leaf elements become fields of their parent's record."""
    scan = _XmlScan()
    body, cut_at, cut_length = _strip_doctype(data[:MAX_XML_BYTES])
    if cut_length:
        scan.notes.append("DOCTYPE removed; entities are not expanded")
    if len(data) > MAX_XML_BYTES:
        scan.complete = False
        scan.notes.append(f"XML longer than {MAX_XML_BYTES} bytes; the rest not read")
    parser = expat.ParserCreate(namespace_separator="}")
    stack: list[_XmlFrame] = []

    def source_offset(index: int) -> int:
        return index + cut_length if cut_length and index >= cut_at else index

    def start(tag: str, attributes: dict[str, str]) -> None:
        if len(stack) >= MAX_XML_DEPTH:
            raise _XmlStop(f"XML nested deeper than {MAX_XML_DEPTH}")
        if stack:
            stack[-1].has_children = True
        pairs = [(_local(k), v.strip()[:MAX_CELL_CHARS]) for k, v in list(attributes.items())[:64]]
        stack.append(_XmlFrame(_local(tag), source_offset(parser.CurrentByteIndex), pairs))

    def characters(text: str) -> None:
        frame = stack[-1] if stack else None
        if frame is not None and frame.text_length < MAX_CELL_CHARS:
            frame.text.append(text)
            frame.text_length += len(text)

    def end(tag: str) -> None:
        frame = stack.pop()
        parent = stack[-1] if stack else None
        if not frame.has_children:
            _xml_leaf(frame, parent)
            return
        own = [(k, v) for k, v in frame.attributes + frame.fields + frame.nested if v]
        path = "/".join([f.tag for f in stack] + [frame.tag])[-200:]
        record = Record(own, frame.offset, label=path)
        repeated = Counter(tag for tag, _ in frame.candidates)
        if own and _is_contact(record):
            # A contact whose sub-elements also look like contacts (<Smb> with user and
            # password, <Email> with an address): one entry, so fold the unique ones in.
            for child_tag, child in frame.candidates:
                if repeated[child_tag] == 1:
                    record.fields.extend((f"{child_tag}/{k}", v) for k, v in child.fields)
                else:
                    scan.contacts.append(child)
            if parent is not None and len(parent.candidates) < MAX_RECORDS:
                parent.candidates.append((frame.tag, record))
            else:
                scan.contacts.append(record)
        else:
            scan.contacts.extend(child for _, child in frame.candidates)
            if frame.fields:
                settings = [(k, v) for k, v in frame.attributes + frame.fields if v]
                scan.settings.append(Record(settings, frame.offset, label=path))
            if parent is not None and own and len(parent.nested) < 256:
                parent.nested.extend((f"{frame.tag}/{k}", v) for k, v in own[:64])
        if len(scan.contacts) + len(scan.settings) >= MAX_RECORDS:
            raise _XmlStop(f"more than {MAX_RECORDS} records; the rest not read")

    def refuse_entities(*_: object) -> None:
        raise _XmlStop("XML declares entities; they are not expanded")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.EntityDeclHandler = refuse_entities
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except _XmlStop as stop:
        scan.complete = False
        scan.notes.append(str(stop))
        for frame in stack:  # contacts found before the stop are kept
            scan.contacts.extend(child for _, child in frame.candidates)
    except expat.ExpatError as error:
        scan.complete = False
        for frame in stack:  # a truncated file still gives the entries it holds
            scan.contacts.extend(child for _, child in frame.candidates)
        scan.notes.append(f"XML damaged: {error}"[:200])
    scan.contacts.sort(key=lambda record: record.char_offset)
    return scan


def _xml_leaf(frame: _XmlFrame, parent: _XmlFrame | None) -> None:
    """A leaf element: its text (or a name/value attribute pair) is a field of its parent."""
    if parent is None:
        return
    text = "".join(frame.text).strip()[:MAX_CELL_CHARS]
    attributes = {k.lower(): v for k, v in frame.attributes}
    # <Property name="Mail" value="…"/>: a name/value pair, common in device exports.
    key = attributes.get("name") or attributes.get("key") or attributes.get("id")
    value = attributes.get("value")
    if key and value is not None:
        parent.fields.append((key, value))
    elif text:
        parent.fields.append((frame.tag, text))
    elif frame.attributes and len(parent.fields) < 4096:
        parent.fields.extend((f"{frame.tag}/{k}", v) for k, v in frame.attributes)


# Document vocabularies whose person/e-mail elements are authors, not device contacts.
_DOCUMENT_XML = re.compile(
    r"DocBook|XHTML|<html|<svg|<rss|<feed|openxmlformats|schemas\.microsoft\.com/xps|"
    r"<office:document|<x:xmpmeta|<rdf:RDF",
    re.I,
)


def _looks_xml(text: str) -> bool:
    return (
        text.lstrip("\ufeff \t\r\n").startswith("<")
        and re.search(r"<[A-Za-z_][\w.\-:]*[\s/>]", text[:4096]) is not None
    )


def _xml_tag_names(text: str) -> list[str]:
    return [_local(name) for name in re.findall(r"<([A-Za-z_][\w.\-:]*)", text[:SNIFF_CHARS])]


def _xml_attribute_names(text: str) -> list[str]:
    return re.findall(r"\s([A-Za-z_][\w.\-:]*)\s*=\s*[\"']", text[:SNIFF_CHARS])


def _contactish_xml(text: str, named: bool = False) -> bool:
    """Contact-list element names, and e-mail/fax fields beside name/user/path ones: twice in
    the head (one DocBook ``<author>`` with an e-mail is not an address book), once when the
    file name says address book."""
    if _DOCUMENT_XML.search(text[:2048]):
        return False
    names = _xml_tag_names(text)
    keys = names + _xml_attribute_names(text)
    values = re.findall(r"(?:name|key)\s*=\s*[\"']([^\"']{1,64})[\"']", text[:SNIFF_CHARS], re.I)
    roles = [r for key in keys + values if (r := role(key))]
    destinations = sum(1 for r in roles if r in ("email", "fax"))
    container = any(_CONTACT_ELEMENT.search(name) for name in names[:64])
    return (
        container
        and destinations >= (1 if named else 2)
        and bool(set(roles) & {"name", "user", "path", "phone"})
    )


# ------------------------------------------------------------------------------ INI / key=value


def _config_line(line: str, loose: bool) -> tuple[str, str] | None:
    """``key = value`` (and, for files named like configuration, ``key: value``, ``key value``
    and indented keys); indented ``name=value,`` lines are program code, not settings."""
    if not loose and line[:1].isspace():
        return None
    match = _KEY_VALUE.fullmatch(line)
    if not match and loose:
        match = _KEY_COLON.fullmatch(line) or _KEY_SPACE.fullmatch(line)
    if not match:
        return None
    return match.group(1).strip(), match.group(2).strip().strip("\"'")


def _config_shape(text: str, loose: bool, minimum: int) -> tuple[int, int, bool]:
    """(key=value lines, other lines, vocabulary seen) over the first lines of the text."""
    pairs = other = 0
    vocabulary = False
    for count, (_, line) in enumerate(_lines_with_offsets(text)):
        if count > 400:
            break
        if not line.strip() or _COMMENT.match(line):
            continue
        if _INI_SECTION.fullmatch(line):
            vocabulary = vocabulary or bool(_CONFIG_VOCABULARY.search(line))
            continue
        pair = _config_line(line, loose)
        if pair is None:
            other += 1
            continue
        pairs += 1
        vocabulary = vocabulary or bool(_CONFIG_VOCABULARY.search(pair[0]))
    return pairs, other, vocabulary and pairs >= minimum


def _read_config(text: str, loose: bool) -> tuple[list[Record], int]:
    records: list[Record] = []
    current = Record([], 0, label="")
    skipped = 0
    for offset, line in _lines_with_offsets(text):
        if not line.strip() or _COMMENT.match(line):
            continue
        section = _INI_SECTION.fullmatch(line)
        if section:
            if current.fields:
                records.append(current)
            current = Record([], offset, label=f"[{section.group(1).strip()}]")
            if len(records) >= MAX_RECORDS:
                break
            continue
        pair = _config_line(line, loose)
        if pair is None:
            skipped += 1
            continue
        if not current.fields and not current.label:
            current.char_offset = offset
        if len(current.fields) < 10_000:
            current.fields.append((pair[0], pair[1][:MAX_CELL_CHARS]))
    if current.fields:
        records.append(current)
    return records, skipped


# ------------------------------------------------------------------------------ parsers


def _base_name(name: str | None) -> str:
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1]


def _count_role(records: list[Record], wanted: str) -> int:
    return sum(
        1
        for record in records
        for key, value in record.fields
        if value.strip() and role(key) == wanted
    )


def _credential_keys(records: list[Record]) -> str:
    keys = []
    for record in records:
        for key, value in record.fields:
            if role(key) == _SECRET_ROLE and _is_secret_value(value):
                full = f"{record.label} {key}".strip() if record.label.startswith("[") else key
                if full not in keys:
                    keys.append(full)
    return clean_field(", ".join(keys[:50])) or ""


class AddressBookParser(FormatParser):
    name = "address-book"
    role = "artefact"
    artefact_kind = "address book"
    description = (
        "Device address book (CSV, LDIF, XML): contacts, scan/fax destinations, credentials"
    )
    priority = 70

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        text = _sniff_text(head)
        if text is None:
            return False
        if _looks_ldif(text):
            return True
        if _looks_xml(text):
            return _contactish_xml(text, _address_book_name(name))
        found = _csv_roles(text)
        return found is not None and _address_book_columns(found[2], _address_book_name(name))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        decoded = _decoded_or_refused(data, ctx)
        job = _text_job(self.name, data)
        text = decoded.text
        if _looks_ldif(text):
            records, bad = _read_ldif(text)
            source = "ldif"
            if bad:
                job.notes.append(f"{bad} LDIF line(s) not in attribute form")
            contacts = [record for record in records if record.fields]
        elif _looks_xml(text):
            scan = _scan_xml(data)
            source = "xml"
            job.complete = job.complete and scan.complete
            job.notes.extend(scan.notes)
            records = contacts = scan.contacts
        else:
            found = _csv_roles(text)
            if found is None or not _address_book_columns(found[2], _address_book_name(ctx.name)):
                raise NotThisFormat("no address book header")
            table = _read_csv(text, found[0])
            source = "csv" if found[0] != "\t" else "tsv"
            if table.bad_rows:
                job.notes.append(f"{table.bad_rows} row(s) not read")
            if table.truncated:
                job.complete = False
                job.notes.append(f"more than {MAX_RECORDS} rows; the rest not read")
            records = table.records
            contacts = [record for record in records if _is_contact(record)]
            if not contacts:
                contacts = records  # the header said contacts; keep rows with partial data
        if not contacts:
            raise NotThisFormat("no contact")
        if source == "xml":  # expat gave byte offsets already
            texts = [
                DecodedText(
                    f"contact {i + 1}" + (f" ({record.label})" if record.label else ""),
                    record.render(),
                    source_offset=record.char_offset,
                )
                for i, record in enumerate(contacts[:MAX_RECORD_TEXTS])
            ]
        else:
            texts = _record_texts(contacts, decoded, "contact")
        job.texts.extend(texts)
        secrets = sum(record.secrets() for record in contacts)
        job.metadata = JobMetadata(
            document_format=f"address book ({source})",
            extra=(
                ("contacts", str(len(contacts))),
                ("credentials", str(secrets)),
                ("e-mail addresses", str(_count_role(contacts, "email"))),
                ("fax numbers", str(_count_role(contacts, "fax"))),
                ("paths", str(_count_role(contacts, "path"))),
                ("source", source),
                *((("credential fields", keys),) if (keys := _credential_keys(contacts)) else ()),
            ),
        )
        return job


class JobLogParser(FormatParser):
    name = "job-log"
    role = "log"
    artefact_kind = "job log"
    description = (
        "Device job log / accounting export (CSV with user, document, date, pages columns)"
    )
    priority = 70

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        text = _sniff_text(head)
        if text is None or _looks_xml(text) or _looks_ldif(text):
            return False
        found = _csv_roles(text)
        return (
            found is not None and _job_log_columns(found[2]) and not _address_book_columns(found[2])
        )

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        decoded = _decoded_or_refused(data, ctx)
        found = _csv_roles(decoded.text)
        if found is None or not _job_log_columns(found[2]):
            raise NotThisFormat("no job log header")
        table = _read_csv(decoded.text, found[0])
        if not table.records:
            raise NotThisFormat("job log without rows")
        job = ParsedJob(format=self.name)
        if table.bad_rows:
            job.notes.append(f"{table.bad_rows} row(s) not read")
        if table.truncated or len(data) > MAX_TEXT_BYTES:
            job.complete = False
            job.notes.append("job log longer than the read limit; the rest not read")
        columns: dict[str, str] = {}
        for cell in table.header:
            column_role = role(cell)
            if column_role:
                columns.setdefault(column_role, cell)

        def value(record: Record, wanted: str) -> str | None:
            column = columns.get(wanted)
            return next(
                (clean_field(v) for k, v in record.fields if k == column and v.strip()), None
            )

        first, last = table.records[0], table.records[-1]
        users = {value(record, "user") for record in table.records} - {None}
        documents = {value(record, "document") for record in table.records} - {None}
        pages_total = 0
        for record in table.records:
            pages = value(record, "pages")
            # isdigit() accepts "²", which int() refuses: only ASCII digits count.
            if pages and pages.isascii() and pages.isdigit():
                pages_total += int(pages)
        first_date, last_date = value(first, "date"), value(last, "date")
        submitted, zone = _log_time(first_date)
        completed, _ = _log_time(last_date)
        if first_date and not zone:
            job.notes.append("log dates carry no time zone; ISO values assume UTC")
        extra = [
            ("records", str(len(table.records))),
            ("users", clean_field(", ".join(sorted(u for u in users if u)[:100])) or ""),
            ("documents", str(len(documents))),
            ("pages-total", str(pages_total) if pages_total else ""),
            ("first-date", first_date or ""),
            ("last-date", last_date or ""),
            ("columns", clean_field(", ".join(table.header)) or ""),
        ]
        job.metadata = JobMetadata(
            user=value(first, "user"),
            document_name=value(first, "document"),
            submitted=submitted,
            completed=completed if len(table.records) > 1 else None,
            pages=pages_total or None,
            document_format="job log (csv)",
            extra=tuple((k, v) for k, v in extra if v),
        )
        job.log_entries = _job_log_entries(table, columns, decoded)
        job.texts.extend(_record_texts(table.records, decoded, "log record"))
        return job


# Job-log columns the generic roles do not name: the job's id, client, printer and outcome.
_LOG_COLUMNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("job_id", re.compile(r"^(job)?(id|no|number|nr)$|^jobid|^jobnumber|^jobno")),
    ("host", re.compile(r"host|computer|client|workstation|^pc$|machine|^ip")),
    ("printer", re.compile(r"printer|queue|device|^destination$")),
    ("state", re.compile(r"status|state|result|outcome")),
    ("copies", re.compile(r"^copies$|^copy$|^ncopies$")),
)


def _job_log_entries(table: _Table, columns: dict[str, str], decoded: _Text) -> list[LogEntry]:
    """One LogEntry per job-log row (the first MAX_LOG_ENTRIES)."""
    named = dict(columns)
    for heading in table.header:
        key = _normal(heading)
        for field_name, pattern in _LOG_COLUMNS:
            if field_name not in named and pattern.search(key):
                named[field_name] = heading
                break

    def cell(record: Record, wanted: str) -> str | None:
        column = named.get(wanted)
        if column is None:
            return None
        return next((clean_field(v) for k, v in record.fields if k == column and v.strip()), None)

    def number(text: str | None) -> int | None:
        return int(text) if text and text.isascii() and text.isdigit() and len(text) < 10 else None

    entries: list[LogEntry] = []
    for index, record in enumerate(table.records[:MAX_LOG_ENTRIES]):
        when, zone_known = _log_time(cell(record, "date"))
        entries.append(
            LogEntry(
                offset=decoded.byte_offset(record.char_offset),
                job_id=cell(record, "job_id"),
                user=cell(record, "user"),
                host=cell(record, "host"),
                document_name=cell(record, "document"),
                printer=cell(record, "printer"),
                time=when,
                time_field="printed",
                time_zone="from the log" if zone_known else None,
                pages=number(cell(record, "pages")),
                copies=number(cell(record, "copies")),
                state=cell(record, "state"),
                line=index + 1,
            )
        )
    return entries


def _log_time(text: str | None) -> tuple[str | None, bool]:
    """Year-first dates only (``2024-03-01 12:30:05``, ``2024/03/01 12:30``); others stay raw."""
    if not text:
        return None, False
    match = re.match(
        r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?",
        text.strip(),
    )
    if not match:
        return None, False
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        stamp = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None, False
    known = zone is not None
    if zone and zone != "Z":
        digits = zone.replace(":", "")
        delta = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
        stamp = stamp - delta if digits[0] == "+" else stamp + delta
    if not 1980 <= stamp.year <= 2100:
        return None, False
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), known


class ConfigParser(FormatParser):
    name = "config"
    role = "artefact"
    artefact_kind = "configuration"
    description = "Device configuration (INI, key=value, XML): SMTP/LDAP/SNMP/Wi-Fi credentials"
    priority = 80

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        text = _sniff_text(head)
        if text is None:
            return False
        by_name = bool(_CONFIG_NAMES.fullmatch(_base_name(name)))
        if _looks_xml(text):
            if _contactish_xml(text, _address_book_name(name)):
                return False
            if _DOCUMENT_XML.search(text[:2048]):
                return False
            keys = set(_xml_tag_names(text) + _xml_attribute_names(text))
            settings = {key for key in keys if _CONFIG_VOCABULARY.search(key)}
            # A credential-named element, or two settings from the vocabulary (SMTP + LDAP…).
            return any(role(key) == _SECRET_ROLE for key in settings) or len(settings) >= 2
        if _looks_ldif(text) or ((found := _csv_roles(text)) is not None and len(found[1]) >= 3):
            return False
        pairs, other, has_vocabulary = _config_shape(
            text, loose=by_name, minimum=1 if by_name else 3
        )
        if pairs == 0 or other > pairs // 3:  # at least three quarters of the lines are settings
            return False
        return by_name or has_vocabulary

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        decoded = _decoded_or_refused(data, ctx)
        job = _text_job(self.name, data)
        text = decoded.text
        if _looks_xml(text):
            scan = _scan_xml(data)
            job.complete = job.complete and scan.complete
            job.notes.extend(scan.notes)
            records = scan.settings + scan.contacts
            source = "xml"
            texts = [
                DecodedText(
                    record.label or f"settings {i + 1}",
                    record.render(),
                    source_offset=record.char_offset,
                )
                for i, record in enumerate(records[:MAX_RECORD_TEXTS])
            ]
        else:
            loose = bool(_CONFIG_NAMES.fullmatch(_base_name(ctx.name)))
            records, skipped = _read_config(text, loose)
            source = "ini" if any(record.label for record in records) else "key=value"
            if skipped:
                job.notes.append(f"{skipped} line(s) not in key=value form")
            texts = _record_texts(records, decoded, "settings")
        if not records:
            raise NotThisFormat("no settings")
        job.texts.extend(texts)
        secrets = sum(record.secrets() for record in records)
        settings = sum(len(record.fields) for record in records)
        notable: list[tuple[str, str]] = []
        for record in records:
            for key, value in record.fields:
                if len(notable) >= 20:
                    break
                if role(key) != _SECRET_ROLE and re.search(
                    r"smtp|ldap|bind.?dn|server|host|ssid|domain", key, re.I
                ):
                    cleaned = clean_field(value, 256)
                    label = f"{record.label} {key}" if record.label.startswith("[") else key
                    if cleaned:
                        notable.append((clean_field(label, 128) or key, cleaned))
        job.metadata = JobMetadata(
            document_format=f"configuration ({source})",
            extra=(
                ("settings", str(settings)),
                ("sections", str(len(records))),
                ("credentials", str(secrets)),
                *((("credential fields", keys),) if (keys := _credential_keys(records)) else ()),
                *notable,
            ),
        )
        return job
