"""Generic IPP message decoder (RFC 8010 §3): the encoding CUPS uses for its job control files.

An IPP message is an 8-byte header (version, operation-id or status-code, request-id), then
attribute groups, each opened by a delimiter tag, closed by end-of-attributes (0x03), then
optional document data. Every attribute is ``value-tag name-length name value-length value``;
additional values of a 1setOf repeat with an empty name (RFC 8010 §3.1.4, §3.1.5) and
collections nest with begCollection / memberAttrName / endCollection (RFC 8010 §3.1.6).

Nothing here registers a format: ``forensics.formats.cups`` uses it for CUPS control files.
Decoding never raises on damage after a good header: it stops, records a note and clears
``complete``. Counts, depth and sizes are bounded by the limits below.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from construct import Bytes, Const, ConstructError, Int8ub, Int16ub, Int32sb, Int32ub, Struct

from forensics.formats.base import NotThisFormat

log = logging.getLogger(__name__)

# Limits: a real job's attribute set holds a few hundred values; these stop crafted input.
MAX_ATTRIBUTES = 20_000  # top-level attributes and collection members together
MAX_VALUES = 100_000
MAX_COLLECTION_DEPTH = 16  # RFC 8010 §3.1.6 sets no bound; CUPS-made files nest 2-3 deep
MAX_RENDERED_CHARS = 4 * 1024 * 1024

# RFC 8010 §3.1.1: version-number (major, minor), operation-id / status-code, request-id.
IPP_HEADER = Struct(
    "major" / Int8ub,
    "minor" / Int8ub,
    "code" / Int16ub,
    "request_id" / Int32ub,
)
IPP_HEADER_SIZE = 8

# RFC 2579 DateAndTime, the 11-octet form RFC 8010 §3.9 requires for dateTime.
DATE_AND_TIME = Struct(
    "year" / Int16ub,
    "month" / Int8ub,
    "day" / Int8ub,
    "hour" / Int8ub,
    "minute" / Int8ub,
    "second" / Int8ub,
    "deci_seconds" / Int8ub,
    "direction" / Bytes(1),
    "utc_hours" / Int8ub,
    "utc_minutes" / Int8ub,
)
# RFC 8010 §3.9: resolution = cross-feed (SIGNED-INTEGER), feed (SIGNED-INTEGER), units (SIGNED-BYTE).
RESOLUTION = Struct("cross_feed" / Int32sb, "feed" / Int32sb, "units" / Int8ub)
# RFC 8010 §3.9: rangeOfInteger = lower bound, upper bound (both SIGNED-INTEGER).
RANGE_OF_INTEGER = Struct("lower" / Int32sb, "upper" / Int32sb)
# RFC 8010 §3.9: integer and enum are 4-octet SIGNED-INTEGER; boolean is one SIGNED-BYTE.
INTEGER = Int32sb
# RFC 8010 §3.1.4 name-length / value-length prefix.
LENGTH = Int16ub
CHARSET_FIRST = Struct(
    "tag" / Const(b"\x47"),  # RFC 8011 §4.1.4: attributes-charset comes first, a charset value
    "name_length" / Const(b"\x00\x12"),
    "name" / Const(b"attributes-charset"),
)

# RFC 8010 §3.5.1 delimiter tags, plus the groups later specifications added to 0x06-0x0A.
GROUP_NAMES: dict[int, str] = {
    0x01: "operation-attributes",
    0x02: "job-attributes",
    0x04: "printer-attributes",
    0x05: "unsupported-attributes",
    0x06: "subscription-attributes",  # RFC 3995 §14
    0x07: "event-notification-attributes",  # RFC 3995 §14
    0x08: "resource-attributes",  # PWG 5100.22
    0x09: "document-attributes",  # PWG 5100.5
    0x0A: "system-attributes",  # PWG 5100.22
}
END_OF_ATTRIBUTES = 0x03
DELIMITER_MAX = 0x0F  # RFC 8010 §3.5.1: 0x00-0x0F are delimiter tags

# RFC 8010 §3.5.2 value tags.
TAG_INTEGER = 0x21
TAG_BOOLEAN = 0x22
TAG_ENUM = 0x23
TAG_OCTET_STRING = 0x30
TAG_DATE_TIME = 0x31
TAG_RESOLUTION = 0x32
TAG_RANGE = 0x33
TAG_BEG_COLLECTION = 0x34
TAG_TEXT_WITH_LANGUAGE = 0x35
TAG_NAME_WITH_LANGUAGE = 0x36
TAG_END_COLLECTION = 0x37
TAG_MEMBER_NAME = 0x4A
TAG_EXTENSION = 0x7F

VALUE_TAG_NAMES: dict[int, str] = {
    0x10: "unsupported",
    0x12: "unknown",
    0x13: "no-value",
    0x15: "not-settable",  # RFC 3380 §8.1
    0x16: "delete-attribute",  # RFC 3380 §8.2
    0x17: "admin-define",  # RFC 3380 §8.3
    TAG_INTEGER: "integer",
    TAG_BOOLEAN: "boolean",
    TAG_ENUM: "enum",
    TAG_OCTET_STRING: "octetString",
    TAG_DATE_TIME: "dateTime",
    TAG_RESOLUTION: "resolution",
    TAG_RANGE: "rangeOfInteger",
    TAG_BEG_COLLECTION: "collection",
    TAG_TEXT_WITH_LANGUAGE: "textWithLanguage",
    TAG_NAME_WITH_LANGUAGE: "nameWithLanguage",
    TAG_END_COLLECTION: "endCollection",
    0x41: "text",
    0x42: "name",
    0x44: "keyword",
    0x45: "uri",
    0x46: "uriScheme",
    0x47: "charset",
    0x48: "naturalLanguage",
    0x49: "mimeMediaType",
    TAG_MEMBER_NAME: "memberAttrName",
    TAG_EXTENSION: "extension",
}
# RFC 8010 §3.5.2 ranges: 0x10-0x1F out-of-band, 0x40-0x5F character-string types.
OUT_OF_BAND = range(0x10, 0x20)
CHARACTER_STRINGS = range(0x40, 0x60)
# RFC 8010 §3.9: resolution units 3 = dots per inch, 4 = dots per centimetre.
RESOLUTION_UNITS = {3: "dpi", 4: "dpcm"}


@dataclass(frozen=True)
class OutOfBand:
    """An out-of-band value (RFC 8010 §3.5.2): the attribute has no ordinary value."""

    tag: int

    def __str__(self) -> str:
        return f"<{VALUE_TAG_NAMES.get(self.tag, f'out-of-band 0x{self.tag:02x}')}>"


@dataclass(frozen=True)
class Resolution:
    cross_feed: int
    feed: int
    units: int

    def __str__(self) -> str:
        unit = RESOLUTION_UNITS.get(self.units, f"units {self.units}")
        return f"{self.cross_feed}x{self.feed} {unit}"


@dataclass(frozen=True)
class IntegerRange:
    lower: int
    upper: int

    def __str__(self) -> str:
        return f"{self.lower}-{self.upper}"


@dataclass(frozen=True)
class DateTimeValue:
    """An RFC 2579 DateAndTime; ``iso`` is the UTC instant, None if the fields are invalid."""

    iso: str | None
    raw: bytes

    def __str__(self) -> str:
        return self.iso or f"<invalid dateTime {self.raw.hex()}>"


@dataclass(frozen=True)
class Extension:
    """A 0x7F value: RFC 8010 §3.5.2 puts the real 4-octet type code first in the value."""

    type_code: int | None
    raw: bytes

    def __str__(self) -> str:
        code = "?" if self.type_code is None else f"0x{self.type_code:08x}"
        return f"<extension {code} {self.raw[:64].hex()}>"


@dataclass
class IppCollection:
    """A collection value (RFC 8010 §3.1.6): its member attributes in order."""

    members: list[IppAttribute] = field(default_factory=list)

    def get(self, name: str) -> IppAttribute | None:
        return next((member for member in self.members if member.name == name), None)


IppScalar = (
    int
    | bool
    | str
    | bytes
    | Resolution
    | IntegerRange
    | DateTimeValue
    | OutOfBand
    | Extension
    | IppCollection
)


@dataclass(frozen=True)
class IppValue:
    tag: int
    value: IppScalar
    language: str | None = None  # textWithLanguage / nameWithLanguage
    malformed: bool = False  # the value length did not fit its type; ``value`` is the raw bytes


@dataclass
class IppAttribute:
    name: str
    values: list[IppValue] = field(default_factory=list)
    offset: int = 0  # where its first value-tag is in the message

    @property
    def first(self) -> IppScalar | None:
        return self.values[0].value if self.values else None


@dataclass
class IppGroup:
    tag: int
    attributes: list[IppAttribute] = field(default_factory=list)
    offset: int = 0

    @property
    def name(self) -> str:
        return GROUP_NAMES.get(self.tag, f"group 0x{self.tag:02x}")


@dataclass
class IppMessage:
    major: int
    minor: int
    code: int  # operation-id in a request, status-code in a response
    request_id: int
    groups: list[IppGroup] = field(default_factory=list)
    complete: bool = True
    notes: list[str] = field(default_factory=list)
    end: int = IPP_HEADER_SIZE  # offset just after end-of-attributes (document data follows)

    def attributes(self) -> list[IppAttribute]:
        return [attribute for group in self.groups for attribute in group.attributes]

    def find(self, name: str) -> IppAttribute | None:
        """The first top-level attribute called ``name`` in any group."""
        for group in self.groups:
            for attribute in group.attributes:
                if attribute.name == name:
                    return attribute
        return None

    def value(self, name: str) -> IppScalar | None:
        attribute = self.find(name)
        return attribute.first if attribute is not None else None


def plausible_header(head: bytes) -> bool:
    """Version 1.0-2.2 (RFC 8010 §3.1.1, PWG 5100.12) and a group tag at offset 8."""
    if len(head) < IPP_HEADER_SIZE + 1:
        return False
    major, minor = head[0], head[1]
    if not (1 <= major <= 2 and minor <= 2):
        return False
    tag = head[IPP_HEADER_SIZE]
    return tag in GROUP_NAMES


def starts_with_charset(head: bytes) -> bool:
    """True when the first attribute is attributes-charset, as RFC 8011 §4.1.4 requires."""
    try:
        CHARSET_FIRST.parse(head[IPP_HEADER_SIZE + 1 :])
    except ConstructError:
        return False
    return True


def datetime_from_rfc2579(raw: bytes) -> str | None:
    """RFC 2579 DateAndTime (local time plus its UTC offset) to ISO UTC."""
    if len(raw) != DATE_AND_TIME.sizeof():
        return None
    fields = DATE_AND_TIME.parse(raw)
    if fields.direction not in (b"+", b"-") or fields.utc_hours > 13 or fields.utc_minutes > 59:
        return None
    try:
        local = datetime(
            fields.year,
            fields.month,
            fields.day,
            fields.hour,
            fields.minute,
            min(fields.second, 59),  # RFC 2579 allows 60 for a leap second
            fields.deci_seconds % 10 * 100_000,
            tzinfo=UTC,
        )
    except ValueError:
        return None
    offset = timedelta(hours=fields.utc_hours, minutes=fields.utc_minutes)
    stamp = local - offset if fields.direction == b"+" else local + offset
    if not 1980 <= stamp.year <= 2100:
        return None
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if stamp.microsecond:
        text += f".{stamp.microsecond // 100_000}"
    return text + "Z"


def _charset_codec(name: str) -> str:
    """Python codec for an IPP charset value (RFC 8011 §5.1.8), UTF-8 when unknown."""
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return "utf-8"


def _decode_value(tag: int, raw: bytes, codec: str) -> IppValue:
    """One value by its tag (RFC 8010 §3.9); a length that does not fit gives raw bytes."""
    if tag in OUT_OF_BAND:
        return IppValue(tag, OutOfBand(tag))
    if tag in (TAG_INTEGER, TAG_ENUM):
        if len(raw) == 4:
            return IppValue(tag, INTEGER.parse(raw))
        return IppValue(tag, raw, malformed=True)
    if tag == TAG_BOOLEAN:
        if len(raw) == 1:
            return IppValue(tag, raw[0] != 0)
        return IppValue(tag, raw, malformed=True)
    if tag == TAG_DATE_TIME:
        if len(raw) == DATE_AND_TIME.sizeof():
            return IppValue(tag, DateTimeValue(datetime_from_rfc2579(raw), raw))
        return IppValue(tag, raw, malformed=True)
    if tag == TAG_RESOLUTION:
        if len(raw) == RESOLUTION.sizeof():
            fields = RESOLUTION.parse(raw)
            return IppValue(tag, Resolution(fields.cross_feed, fields.feed, fields.units))
        return IppValue(tag, raw, malformed=True)
    if tag == TAG_RANGE:
        if len(raw) == RANGE_OF_INTEGER.sizeof():
            fields = RANGE_OF_INTEGER.parse(raw)
            return IppValue(tag, IntegerRange(fields.lower, fields.upper))
        return IppValue(tag, raw, malformed=True)
    if tag in (TAG_TEXT_WITH_LANGUAGE, TAG_NAME_WITH_LANGUAGE):
        # RFC 8010 §3.9: language length, language, text length, text inside the value.
        if len(raw) >= 4:
            language_length = int.from_bytes(raw[0:2], "big")
            text_at = 2 + language_length
            if text_at + 2 <= len(raw):
                text_length = int.from_bytes(raw[text_at : text_at + 2], "big")
                if text_at + 2 + text_length == len(raw):
                    language = raw[2:text_at].decode("ascii", "replace")
                    text = raw[text_at + 2 :].decode(codec, "replace")
                    return IppValue(tag, text, language=language)
        return IppValue(tag, raw, malformed=True)
    if tag == TAG_EXTENSION:
        if len(raw) >= 4:
            return IppValue(tag, Extension(int.from_bytes(raw[:4], "big"), raw[4:]))
        return IppValue(tag, Extension(None, raw), malformed=True)
    if tag in CHARACTER_STRINGS:
        return IppValue(tag, raw.decode(codec, "replace"))
    return IppValue(tag, raw)  # octetString and unassigned tags keep their bytes


@dataclass
class _CollectionFrame:
    collection: IppCollection
    member: IppAttribute | None = None


def decode_message(data: bytes) -> IppMessage:
    """Decode one IPP message; raise NotThisFormat unless the header and first group are IPP."""
    if not plausible_header(data):
        raise NotThisFormat("no IPP version / group tag")
    header = IPP_HEADER.parse(data)
    message = IppMessage(header.major, header.minor, header.code, header.request_id)
    codec = "utf-8"
    pos = IPP_HEADER_SIZE
    size = len(data)
    group: IppGroup | None = None
    current: IppAttribute | None = None  # top-level attribute receiving additional values
    stack: list[_CollectionFrame] = []
    attribute_count = value_count = 0

    def stop(note: str) -> None:
        message.complete = False
        message.notes.append(note)

    while True:
        if pos >= size:
            stop(f"IPP message truncated at offset {pos}: no end-of-attributes tag")
            break
        tag = data[pos]
        if tag <= DELIMITER_MAX:
            if stack:
                stop(f"group tag 0x{tag:02x} at offset {pos} inside an unterminated collection")
                stack.clear()
            pos += 1
            if tag == END_OF_ATTRIBUTES:
                message.end = pos
                break
            group = IppGroup(tag, offset=pos - 1)
            message.groups.append(group)
            current = None
            continue
        # value-tag name-length name value-length value (RFC 8010 §3.1.4)
        if pos + 3 > size:
            stop(f"attribute at offset {pos} truncated")
            break
        name_length = LENGTH.parse(data[pos + 1 : pos + 3])
        name_end = pos + 3 + name_length
        if name_end + 2 > size:
            stop(f"attribute name at offset {pos} runs past the end ({name_length} bytes)")
            break
        value_length = LENGTH.parse(data[name_end : name_end + 2])
        value_end = name_end + 2 + value_length
        if value_end > size:
            stop(f"attribute value at offset {pos} runs past the end ({value_length} bytes)")
            break
        name = data[pos + 3 : name_end].decode("utf-8", "replace")
        raw = data[name_end + 2 : value_end]
        attribute_offset = pos
        pos = value_end
        if group is None:  # unreachable: plausible_header saw a group tag first
            raise NotThisFormat("attribute before any group")
        value_count += 1
        if value_count > MAX_VALUES or attribute_count > MAX_ATTRIBUTES:
            stop(f"more than {MAX_VALUES} values or {MAX_ATTRIBUTES} attributes; rest not decoded")
            break

        if stack:
            frame = stack[-1]
            if tag == TAG_END_COLLECTION:
                stack.pop()
                continue
            if tag == TAG_MEMBER_NAME or name_length:
                # RFC 8010 §3.1.6: a member starts with memberAttrName whose value is its name.
                # Some old writers put the member name in the name field instead; accept both.
                member_name = name if name_length else raw.decode("utf-8", "replace")
                frame.member = IppAttribute(member_name, offset=attribute_offset)
                frame.collection.members.append(frame.member)
                attribute_count += 1
                if tag == TAG_MEMBER_NAME:
                    continue
            if frame.member is None:
                stop(f"collection value at offset {attribute_offset} has no member name")
                frame.member = IppAttribute("", offset=attribute_offset)
                frame.collection.members.append(frame.member)
            target = frame.member
        else:
            if tag in (TAG_END_COLLECTION, TAG_MEMBER_NAME):
                stop(f"{VALUE_TAG_NAMES[tag]} outside a collection at offset {attribute_offset}")
                continue
            if name_length:
                current = IppAttribute(name, offset=attribute_offset)
                group.attributes.append(current)
                attribute_count += 1
            elif current is None:
                stop(f"additional value at offset {attribute_offset} without an attribute")
                continue
            target = current

        if tag == TAG_BEG_COLLECTION:
            if len(stack) >= MAX_COLLECTION_DEPTH:
                stop(
                    f"collections nested deeper than {MAX_COLLECTION_DEPTH} at offset {attribute_offset}"
                )
                break
            collection = IppCollection()
            target.values.append(IppValue(tag, collection))
            stack.append(_CollectionFrame(collection))
            continue
        value = _decode_value(tag, raw, codec)
        if value.malformed:
            message.notes.append(
                f"{target.name or 'value'} at offset {attribute_offset}: {value_length}-byte "
                f"{VALUE_TAG_NAMES.get(tag, hex(tag))} value kept raw"
            )
        target.values.append(value)
        if (
            target is current
            and target.name == "attributes-charset"
            and isinstance(value.value, str)
        ):
            codec = _charset_codec(value.value)
    return message


def value_text(value: IppScalar, limit: int = 1024) -> str:
    """A one-line rendering of a scalar (collections are rendered by ``render``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return value[: limit // 2].hex()
        if all(ch.isprintable() for ch in text):
            return text[:limit]
        return value[: limit // 2].hex()
    if isinstance(value, IppCollection):
        return "{collection}"
    return str(value)[:limit]


def render(message: IppMessage, limit: int = MAX_RENDERED_CHARS) -> str:
    """The attributes as ``name: value`` lines (collections indented), for text scanning."""
    lines: list[str] = []
    total = 0

    def emit(line: str) -> bool:
        nonlocal total
        total += len(line) + 1
        if total > limit:
            return False
        lines.append(line)
        return True

    # Iterative walk over (indent, attribute or closing line), so deep nesting cannot recurse.
    for group in message.groups:
        if not emit(f"[{group.name}]"):
            break
        pending: list[tuple[int, IppAttribute | str]] = [(0, a) for a in reversed(group.attributes)]
        while pending:
            depth, item = pending.pop()
            if isinstance(item, str):
                if not emit(f"{'  ' * depth}{item}"):
                    return "\n".join(lines)
                continue
            scalars = [v for v in item.values if not isinstance(v.value, IppCollection)]
            collections = [v.value for v in item.values if isinstance(v.value, IppCollection)]
            text = ", ".join(value_text(v.value) for v in scalars)
            if collections:
                text = f"{text}, {{" if text else "{"
            if not emit(f"{'  ' * depth}{item.name}: {text}".rstrip()):
                return "\n".join(lines)
            # Push in reverse so members come out in order, each collection closed by "}".
            for index in range(len(collections) - 1, -1, -1):
                pending.append((depth, "}" if index == len(collections) - 1 else "}, {"))
                pending.extend((depth + 1, m) for m in reversed(collections[index].members))
    return "\n".join(lines)
