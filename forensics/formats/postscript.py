"""PostScript print jobs: DSC metadata, shown text, decoded ``currentfile`` filter sections.

References: Adobe "PostScript Language Reference Manual", 3rd ed. (PLRM); Adobe "Document
Structuring Conventions Specification" v3.0 (DSC, Technical Note 5001); Adobe "Encapsulated
PostScript File Format Specification" v3.0 (EPSF, Technical Note 5002); Adobe Glyph List
Specification (AGL). PDF-syntax objects (which Ghostscript's ps2write embeds in its PostScript and
interprets with its opdfread procset) are read with the PDF 32000-1:2008 rules (cited as "PDF").

The parser is not an interpreter: it scans the token stream once, learns which procedures wrap
the show operators (``/S {show} def``, ``/A /show load def``), which fonts carry which encoding
vectors, and records the string operand of every show. ``currentfile … filter cvx exec`` sections
are decoded (filters.py) and scanned again, depth-bounded. The lexer, the PDF object reader and the
PDF content-stream text extractor live here because PostScript is the language they come from;
pdf.py reuses them for its fallback on damaged files.
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import construct
from construct import Bytes, Int16ul, Int32ul, Struct

from forensics.formats import filters
from forensics.formats.base import (
    MAX_DEPTH,
    MAX_FIELD_CHARS,
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    Embedded,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    yara_hex,
)
from forensics.formats.times import from_unix

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- limits

MAX_TOKENS = 6_000_000  # tokens scanned per job, all decoded sections included
MAX_OBJECTS = 200_000  # PDF-syntax objects indexed per buffer
MAX_TABLE_DECODED = 256 * 1024 * 1024  # stream bytes decoded per buffer, all streams together
MAX_NESTING = 32  # nested arrays/dictionaries/procedures in one value
MAX_COLLECTION = 100_000  # elements of one array or dictionary
MAX_DEFINITIONS = 50_000  # procedure aliases, string bindings, encodings remembered
MAX_CALLS = 256  # names remembered per procedure body
MAX_STRING_DEFINITIONS = 4096  # "/name (string) def" pairs kept from the document body
MAX_PAGES = 100_000
MAX_HEADER_BYTES = 256 * 1024  # DSC header comments are read from this much of the start
MAX_SECTIONS = 256  # currentfile sections decoded per job
MAX_EXTRA = 64
MASK = "********"

# --------------------------------------------------------------------------- text helpers


def clean_text(value: str | bytes | None, limit: int = MAX_FIELD_CHARS) -> str | None:
    """Metadata value: decoded, control characters removed, stripped, bounded; None if empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = decode_text_bytes(value)
    value = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value[: limit * 4])
    value = " ".join(value.split())[:limit]
    return value or None


def decode_text_bytes(raw: bytes) -> str:
    """Bytes of a comment or string: UTF-16 with BOM, UTF-8 if valid, else cp1252/Latin-1."""
    if raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return raw.decode("utf-16", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace").replace("\ufffd", "")


def _strip_controls(text: str) -> str:
    """Shown text keeps newlines and tabs; other control characters are dropped."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


# --------------------------------------------------------------------------- dates

# PDF §7.9.4: D:YYYYMMDDHHmmSSOHH'mm' with every field after the year optional; O is Z, + or -.
_PDF_DATE = re.compile(
    r"^\(?D?:?\s*(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*"
    r"(?:(Z)|([+-])(\d{2})'?(\d{2})?'?)?"
)
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})$"
)


def parse_date(raw: str | None) -> str | None:
    """A date string from DSC or PDF metadata as ISO 8601 UTC, or None when no zone is stated.

    Accepted: PDF dates (PDF §7.9.4; ``Z00'00'`` as Ghostscript writes it), RFC 2822 / ctime forms
    with a numeric zone or a zone name that RFC 2822 defines (UT, GMT, EST…), ISO 8601 with offset.
    """
    if not raw:
        return None
    text = raw.strip().strip("()").strip()
    match = _PDF_DATE.match(text)
    if match and (text.startswith("D:") or re.fullmatch(r"\d{8,14}.*", text)):
        return _pdf_date(match)
    if _ISO_DATE.match(text):
        try:
            stamp = datetime.fromisoformat(text.replace(" Z", "Z").replace("Z", "+00:00"))
        except ValueError:
            return None
        return _to_iso(stamp)
    try:
        stamp = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return _to_iso(stamp)


def _pdf_date(match: re.Match[str]) -> str | None:
    year, month, day, hour, minute, second, zulu, sign, zone_h, zone_m = match.groups()
    if not (zulu or sign):
        return None  # local time of an unknown zone
    try:
        offset = timedelta(0)
        if sign:
            offset = timedelta(hours=int(zone_h), minutes=int(zone_m or 0))
            if sign == "-":
                offset = -offset
        stamp = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone(offset),
        )
    except (ValueError, OverflowError):
        return None
    return _to_iso(stamp)


def _to_iso(stamp: datetime) -> str | None:
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        return None
    return from_unix(stamp.astimezone(UTC).timestamp())


# --------------------------------------------------------------------------- glyph names


# AGL: glyph names of printable ASCII, code 0x20 upwards ("quotesingle" and "grave" are the AGL
# names of ' and `; "quoteright"/"quoteleft" are the typographic quotes, added below).
def _names(text: str) -> list[str]:
    return text.split()


_ASCII_GLYPHS = _names(
    "space exclam quotedbl numbersign dollar percent ampersand quotesingle parenleft parenright "
    "asterisk plus comma hyphen period slash zero one two three four five six seven eight nine "
    "colon semicolon less equal greater question at A B C D E F G H I J K L M N O P Q R S T U V W "
    "X Y Z bracketleft backslash bracketright asciicircum underscore grave a b c d e f g h i j k l "
    "m n o p q r s t u v w x y z braceleft bar braceright asciitilde"
)
# AGL names of Latin-1 Supplement U+00A1..U+00FF, in code order.
_LATIN1_GLYPHS = _names(
    "exclamdown cent sterling currency yen brokenbar section dieresis copyright ordfeminine "
    "guillemotleft logicalnot sfthyphen registered macron degree plusminus twosuperior "
    "threesuperior acute mu paragraph periodcentered cedilla onesuperior ordmasculine "
    "guillemotright onequarter onehalf threequarters questiondown Agrave Aacute Acircumflex Atilde "
    "Adieresis Aring AE Ccedilla Egrave Eacute Ecircumflex Edieresis Igrave Iacute Icircumflex "
    "Idieresis Eth Ntilde Ograve Oacute Ocircumflex Otilde Odieresis multiply Oslash Ugrave Uacute "
    "Ucircumflex Udieresis Yacute Thorn germandbls agrave aacute acircumflex atilde adieresis aring "
    "ae ccedilla egrave eacute ecircumflex edieresis igrave iacute icircumflex idieresis eth ntilde "
    "ograve oacute ocircumflex otilde odieresis divide oslash ugrave uacute ucircumflex udieresis "
    "yacute thorn ydieresis"
)
# AGL names in the Windows-1252 range 0x80-0x9F and other common Latin punctuation/ligatures.
# Ligatures are expanded to their letters so that decoded text stays searchable.
_OTHER_GLYPHS = {
    "Euro": "€",
    "quotesinglbase": "‚",
    "florin": "ƒ",
    "quotedblbase": "„",
    "ellipsis": "…",
    "dagger": "†",
    "daggerdbl": "‡",
    "circumflex": "ˆ",
    "perthousand": "‰",
    "guilsinglleft": "‹",
    "guilsinglright": "›",
    "quoteleft": "‘",
    "quoteright": "’",
    "quotedblleft": "“",
    "quotedblright": "”",
    "bullet": "•",
    "endash": "–",
    "emdash": "—",
    "tilde": "˜",
    "trademark": "™",
    "OE": "Œ",
    "oe": "œ",
    "Scaron": "Š",
    "scaron": "š",
    "Zcaron": "Ž",
    "zcaron": "ž",
    "Ydieresis": "Ÿ",
    "fraction": "⁄",
    "minus": "−",
    "dotlessi": "ı",
    "Lslash": "Ł",
    "lslash": "ł",
    "Dcroat": "Đ",
    "dcroat": "đ",
    "Hbar": "Ħ",
    "hbar": "ħ",
    "Tbar": "Ŧ",
    "tbar": "ŧ",
    "ring": "˚",
    "breve": "˘",
    "dotaccent": "˙",
    "hungarumlaut": "˝",
    "ogonek": "˛",
    "caron": "ˇ",
    "nbspace": " ",
    "nonbreakingspace": " ",
    "space": " ",
    "hyphen": "-",
    "softhyphen": "-",
    "sfthyphen": "-",
    "mu": "µ",
    "fi": "fi",
    "fl": "fl",
    "ff": "ff",
    "ffi": "ffi",
    "ffl": "ffl",
    "dotlessj": "ȷ",
    "Delta": "Δ",
    "Omega": "Ω",
    "pi": "π",
    "mu1": "µ",
    "Ohm": "Ω",
    "increment": "∆",
    "lessequal": "≤",
    "greaterequal": "≥",
    "notequal": "≠",
    "infinity": "∞",
}
# Diacritic words of Unicode character names → AGL suffixes, to name Latin Extended-A letters
# (U+0100..U+017F) the way the AGL does: "LATIN SMALL LETTER C WITH CARON" → "ccaron".
_ACCENT_SUFFIX = {
    "GRAVE": "grave",
    "ACUTE": "acute",
    "CIRCUMFLEX": "circumflex",
    "TILDE": "tilde",
    "DIAERESIS": "dieresis",
    "RING ABOVE": "ring",
    "CEDILLA": "cedilla",
    "CARON": "caron",
    "MACRON": "macron",
    "BREVE": "breve",
    "OGONEK": "ogonek",
    "DOT ABOVE": "dotaccent",
    "DOUBLE ACUTE": "hungarumlaut",
}


def _build_glyph_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for offset, name in enumerate(_ASCII_GLYPHS):
        table[name] = chr(0x20 + offset)
    for offset, name in enumerate(_LATIN1_GLYPHS):
        table[name] = chr(0xA1 + offset)
    for code in range(0x100, 0x180):
        char = chr(code)
        unicode_name = unicodedata.name(char, "")
        match = re.fullmatch(r"LATIN (CAPITAL|SMALL) LETTER (\w) WITH (.+)", unicode_name)
        if match and match.group(3) in _ACCENT_SUFFIX:
            base = match.group(2) if match.group(1) == "CAPITAL" else match.group(2).lower()
            table.setdefault(base + _ACCENT_SUFFIX[match.group(3)], char)
            if match.group(3) == "CEDILLA":  # AGL 2.0 renamed g/k/l/n/r/s/t cedilla → commaaccent
                table.setdefault(base + "commaaccent", char)
    table.update(_OTHER_GLYPHS)
    return table


GLYPH_TO_TEXT = _build_glyph_table()
_UNI_NAME = re.compile(r"uni((?:[0-9A-F]{4})+)$")
_U_NAME = re.compile(r"u([0-9A-F]{4,6})$")


def glyph_text(name: str) -> str | None:
    """Text of a glyph name (AGL specification §2: base name, ``uniXXXX``, ``uXXXX[XX]``,
    ``a_b`` ligatures, ``.suffix`` variants); None when the name carries no meaning (``g12``)."""
    known = GLYPH_TO_TEXT.get(name)
    if known is not None:
        return known
    base = name.split(".", 1)[0]
    if not base:
        return None
    if "_" in base:  # AGL §2: f_f_i is the ligature of f, f and i
        texts: list[str] = []
        for part in base.split("_")[:8]:
            text = glyph_text(part)
            if text is None:
                return None
            texts.append(text)
        return "".join(texts)
    known = GLYPH_TO_TEXT.get(base)
    if known is not None:
        return known
    match = _UNI_NAME.match(base)
    if match:
        hexes = match.group(1)
        chars = [int(hexes[i : i + 4], 16) for i in range(0, min(len(hexes), 32), 4)]
        if all(c < 0xD800 or c > 0xDFFF for c in chars):
            return "".join(chr(c) for c in chars)
        return None
    match = _U_NAME.match(base)
    if match:
        value = int(match.group(1), 16)
        if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
            return chr(value)
    return None


# PLRM Appendix E.6: StandardEncoding above 0x7E (codes not listed are undefined). 0x27 and 0x60
# are quoteright/quoteleft there.
_STANDARD_HIGH = {
    0xA1: "exclamdown", 0xA2: "cent", 0xA3: "sterling", 0xA4: "fraction", 0xA5: "yen",
    0xA6: "florin", 0xA7: "section", 0xA8: "currency", 0xA9: "quotesingle",
    0xAA: "quotedblleft", 0xAB: "guillemotleft", 0xAC: "guilsinglleft", 0xAD: "guilsinglright",
    0xAE: "fi", 0xAF: "fl", 0xB1: "endash", 0xB2: "dagger", 0xB3: "daggerdbl",
    0xB4: "periodcentered", 0xB6: "paragraph", 0xB7: "bullet", 0xB8: "quotesinglbase",
    0xB9: "quotedblbase", 0xBA: "quotedblright", 0xBB: "guillemotright", 0xBC: "ellipsis",
    0xBD: "perthousand", 0xBF: "questiondown", 0xC1: "grave", 0xC2: "acute", 0xC3: "circumflex",
    0xC4: "tilde", 0xC5: "macron", 0xC6: "breve", 0xC7: "dotaccent", 0xC8: "dieresis",
    0xCA: "ring", 0xCB: "cedilla", 0xCD: "hungarumlaut", 0xCE: "ogonek", 0xCF: "caron",
    0xD0: "emdash", 0xE1: "AE", 0xE3: "ordfeminine", 0xE8: "Lslash", 0xE9: "Oslash", 0xEA: "OE",
    0xEB: "ordmasculine", 0xF1: "ae", 0xF5: "dotlessi", 0xF8: "lslash", 0xF9: "oslash",
    0xFA: "oe", 0xFB: "germandbls",
}  # fmt: skip


def _standard_encoding() -> list[str | None]:
    names: list[str | None] = [None] * 256
    for offset, name in enumerate(_ASCII_GLYPHS):
        names[0x20 + offset] = name
    names[0x27], names[0x60] = "quoteright", "quoteleft"
    for code, name in _STANDARD_HIGH.items():
        names[code] = name
    return names


def _codec_encoding(codec: str) -> list[str | None]:
    """A base encoding given as a Python codec, as per-code text (not glyph names)."""
    table: list[str | None] = [None] * 256
    for code in range(0x20, 256):
        try:
            table[code] = bytes([code]).decode(codec)
        except UnicodeDecodeError:
            table[code] = None
    return table


def _names_to_text(names: list[str | None]) -> list[str | None]:
    return [glyph_text(name) if name else None for name in names]


# Base encodings by name, as per-code text. PDF Annex D: WinAnsi is Windows-1252, MacRoman is Mac
# OS Roman; PLRM Appendix E: StandardEncoding, ISOLatin1Encoding (Latin-1 with ’ ‘ at 0x27/0x60,
# kept as ASCII quotes here: searchable text matters more than the glyph shape).
BASE_ENCODINGS: dict[str, list[str | None]] = {
    "StandardEncoding": _names_to_text(_standard_encoding()),
    "WinAnsiEncoding": _codec_encoding("cp1252"),
    "MacRomanEncoding": _codec_encoding("mac_roman"),
    "ISOLatin1Encoding": _codec_encoding("latin-1"),
    "PDFDocEncoding": _codec_encoding("latin-1"),
}


# --------------------------------------------------------------------------- lexer

# Token kinds.
NUMBER, STRING, NAME, LITERAL, IMMEDIATE = 0, 1, 2, 3, 4
PROC_OPEN, PROC_CLOSE, ARRAY_OPEN, ARRAY_CLOSE, DICT_OPEN, DICT_CLOSE = 5, 6, 7, 8, 9, 10


class Token(NamedTuple):
    kind: int
    value: Any
    offset: int


# PLRM §3.2.2: white space is NUL, TAB, LF, FF, CR, SP; % starts a comment to end of line.
_SKIP = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)+")
# Regular characters: everything except white space and the delimiters ( ) < > [ ] { } / %.
_REGULAR = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]+")
_NAME_AFTER_SLASH = re.compile(rb"/{1,2}([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
_HEX_STRING = re.compile(rb"<([0-9A-Fa-f\x00\t\n\x0c\r ]*)>")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_RADIX = re.compile(rb"(\d{1,2})#([0-9A-Za-z]{1,64})")
_STRING_SPECIAL = re.compile(rb"\(+|\)+|\\")  # runs of parentheses are taken at once
# PLRM §3.2.2 table 3.2: escape sequences in literal strings.
_ESCAPES = {
    0x6E: 0x0A,
    0x72: 0x0D,
    0x74: 0x09,
    0x62: 0x08,
    0x66: 0x0C,
    0x5C: 0x5C,
    0x28: 0x28,
    0x29: 0x29,
}
_SINGLE = {0x5B: ARRAY_OPEN, 0x5D: ARRAY_CLOSE, 0x7B: PROC_OPEN, 0x7D: PROC_CLOSE}


def read_literal_string(data: bytes, start: int, end: int | None = None) -> tuple[bytes, int, bool]:
    """Literal string body from ``start`` (just after '(') to at most ``end``:
    (bytes, end offset, closed)."""
    out = bytearray()
    depth = 1
    position = start
    length = len(data) if end is None else min(end, len(data))
    while True:
        match = _STRING_SPECIAL.search(data, position, length)
        if match is None:
            out += _normalise_eol(data[position:length])
            return bytes(out), length, False
        at = match.start()
        out += _normalise_eol(data[position:at])
        char = data[at]
        if char == 0x5C:
            if at + 1 >= length:
                return bytes(out), length, False
            escaped = data[at + 1]
            if escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
                position = at + 2
            elif 0x30 <= escaped <= 0x37:  # \ddd: one to three octal digits, high bits dropped
                digits_end = at + 1
                while digits_end < min(at + 4, length) and 0x30 <= data[digits_end] <= 0x37:
                    digits_end += 1
                out.append(int(data[at + 1 : digits_end], 8) & 0xFF)
                position = digits_end
            elif escaped == 0x0D:  # backslash + end-of-line: line continuation
                position = at + 3 if data[at + 2 : min(at + 3, length)] == b"\n" else at + 2
            elif escaped == 0x0A:
                position = at + 2
            else:  # PLRM: the backslash of an unknown escape is ignored
                out.append(escaped)
                position = at + 2
        elif char == 0x28:  # balanced parentheses are part of the string (PLRM §3.2.2)
            run = match.end() - at
            depth += run
            out += match.group()
            position = match.end()
        else:
            run = match.end() - at
            if run >= depth:  # the closing parenthesis is in this run
                out += data[at : at + depth - 1]
                return bytes(out), at + depth, True
            depth -= run
            out += match.group()
            position = match.end()


def _normalise_eol(chunk: bytes) -> bytes:
    """PLRM §3.2.2: an unescaped CR or CR LF inside a string stands for one LF."""
    if b"\r" not in chunk:
        return chunk
    return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _parse_number(text: bytes) -> int | float | None:
    if _NUMBER.fullmatch(text):
        try:
            if b"." in text or b"e" in text or b"E" in text:
                return float(text)
            return int(text)
        except (ValueError, OverflowError):
            return None
    match = _RADIX.fullmatch(text)
    if match:
        base = int(match.group(1))
        if 2 <= base <= 36:
            try:
                return int(match.group(2), base)
            except ValueError:
                return None
    return None


class Lexer:
    """PostScript tokens (PLRM §3.2), which also covers PDF object and content syntax (PDF §7.2).

    ``skips`` are byte ranges to jump over (binary sections announced by DSC comments); ``end``
    bounds the bytes read (no copy of ``data`` is made).
    """

    def __init__(
        self,
        data: bytes,
        position: int = 0,
        skips: list[tuple[int, int]] | None = None,
        end: int | None = None,
    ):
        self.data = data
        self.end = len(data) if end is None else max(0, min(end, len(data)))
        self.position = position
        self.unterminated = False
        self._pushed: list[Token] = []
        self._skips = sorted(skips or [])
        self._skip_index = 0

    def push(self, token: Token) -> None:
        self._pushed.append(token)

    def next(self) -> Token | None:
        if self._pushed:
            return self._pushed.pop()
        data = self.data
        length = self.end
        while True:
            skip = _SKIP.match(data, self.position, length)
            if skip:
                self.position = skip.end()
            if self._skips:
                self._apply_skips()
            position = self.position
            if position >= length:
                return None
            char = data[position]
            follower = data[position + 1 : position + 2] if position + 1 < length else b""
            if char == 0x28:  # (
                value, end, closed = read_literal_string(data, position + 1, length)
                self.position = end
                self.unterminated = self.unterminated or not closed
                return Token(STRING, value, position)
            if char == 0x2F:  # /
                match = _NAME_AFTER_SLASH.match(data, position, length)
                assert match is not None  # a lone "/" still matches (empty name)
                self.position = match.end()
                kind = IMMEDIATE if follower == b"/" else LITERAL
                return Token(kind, match.group(1).decode("latin-1"), position)
            if char == 0x3C:  # <
                if follower == b"<":
                    self.position = position + 2
                    return Token(DICT_OPEN, None, position)
                if follower == b"~":  # PLRM §3.2.2: ASCII base-85 string literal
                    end = data.find(b"~>", position + 2, length)
                    stop = length if end < 0 else end + 2
                    value, _ = filters.decode_ascii85(data[position:stop], stop - position)
                    self.position = stop
                    return Token(STRING, value, position)
                match = _HEX_STRING.match(data, position, length)
                if match:
                    self.position = match.end()
                    value, _ = filters.decode_asciihex(match.group(1) + b">", len(match.group(1)))
                    return Token(STRING, value, position)
                self.position = position + 1
                continue
            if char == 0x3E:  # >
                if follower == b">":
                    self.position = position + 2
                    return Token(DICT_CLOSE, None, position)
                self.position = position + 1
                continue
            single = _SINGLE.get(char)
            if single is not None:
                self.position = position + 1
                return Token(single, None, position)
            if char == 0x29:  # stray ")"
                self.position = position + 1
                continue
            match = _REGULAR.match(data, position, length)
            if match is None:  # cannot happen: every other byte is regular
                self.position = position + 1
                continue
            self.position = match.end()
            text = match.group()
            # A number longer than any real one (PLRM limits reals to ~1e38) stays a name, so
            # that huge digit runs never become ints too large to convert.
            number = (
                _parse_number(text) if text[0] in b"+-.0123456789" and len(text) <= 40 else None
            )
            if number is not None:
                return Token(NUMBER, number, position)
            return Token(NAME, text.decode("latin-1"), position)

    def _apply_skips(self) -> None:
        while self._skip_index < len(self._skips):
            start, end = self._skips[self._skip_index]
            if self.position < start:
                return
            if self.position < end:
                self.position = end
            self._skip_index += 1


# --------------------------------------------------------------------------- object values


class Ref(NamedTuple):
    """An indirect reference ``n g R`` (PDF §7.3.10)."""

    number: int
    generation: int


class Operator(str):
    """An executable name met where a value was expected (``R``, ``obj``, a procedure body word)."""


class PdfSyntaxError(Exception):
    """The value syntax ran out or nested too deep (caught by callers)."""


# What hostile or damaged PostScript/PDF raises in the lexers and object readers: the parse
# stops there and the job keeps what was read (DESIGN.md: damage after a good header).
DAMAGE_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    OverflowError,
    RecursionError,
    PdfSyntaxError,
    zlib.error,
)


def read_value(lexer: Lexer, depth: int = 0) -> Any:
    """One object: number, bytes (string), str (name), list, dict, Ref, bool, None, Operator."""
    if depth > MAX_NESTING:
        raise PdfSyntaxError("nesting too deep")
    token = lexer.next()
    if token is None:
        raise PdfSyntaxError("end of data")
    kind, value, _ = token
    if kind == NUMBER:
        if isinstance(value, int) and value >= 0:
            second = lexer.next()
            if second is not None and second.kind == NUMBER and isinstance(second.value, int):
                third = lexer.next()
                if third is not None and third.kind == NAME and third.value == "R":
                    return Ref(value, second.value)
                if third is not None:
                    lexer.push(third)
            if second is not None:
                lexer.push(second)
        return value
    if kind in (STRING, LITERAL, IMMEDIATE):
        return value
    if kind == NAME:
        if value == "true":
            return True
        if value == "false":
            return False
        if value == "null":
            return None
        return Operator(value)
    if kind == DICT_OPEN:
        result: dict[str, Any] = {}
        while len(result) < MAX_COLLECTION:
            key = lexer.next()
            if key is None:
                raise PdfSyntaxError("unterminated dictionary")
            if key.kind == DICT_CLOSE:
                return result
            if key.kind != LITERAL:
                continue  # damaged: skip the stray token and resynchronise on the next key
            result[key.value] = read_value(lexer, depth + 1)
        return result
    if kind in (ARRAY_OPEN, PROC_OPEN):
        closing = ARRAY_CLOSE if kind == ARRAY_OPEN else PROC_CLOSE
        items: list[Any] = []
        while len(items) < MAX_COLLECTION:
            item = lexer.next()
            if item is None:
                raise PdfSyntaxError("unterminated array")
            if item.kind == closing:
                return items
            if item.kind in (ARRAY_CLOSE, PROC_CLOSE, DICT_CLOSE):
                continue
            lexer.push(item)
            items.append(read_value(lexer, depth + 1))
        return items
    return Operator({ARRAY_CLOSE: "]", PROC_CLOSE: "}", DICT_CLOSE: ">>"}.get(kind, "?"))


# --------------------------------------------------------------------------- PDF-syntax objects

_ENDOBJ = re.compile(rb"endobj\b")
_OBJ_HEADER = re.compile(rb"(?<![0-9])(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+obj\b")
_STREAM_KEYWORD = re.compile(rb"[\x00\t\n\x0c\r ]*stream(?:\r\n|\n|\r)?")


@dataclass
class PdfObject:
    number: int
    generation: int
    offset: int
    value: Any
    stream: bytes | None = None
    stream_truncated: bool = False


@dataclass
class PdfObjectTable:
    """Objects found by scanning for ``n g obj`` headers (PDF §7.3.10), no xref table needed.

    Works on whole PDFs, carved fragments and the PDF objects inside ps2write PostScript. A later
    definition of the same number replaces an earlier one (incremental updates, PDF §7.5.6).
    """

    data: bytes
    limit: int
    objects: dict[int, PdfObject] = field(default_factory=dict)
    headers: list[tuple[int, int]] = field(default_factory=list)  # (number, offset), all versions
    notes: list[str] = field(default_factory=list)
    decoded: int = 0  # bytes decoded so far, against MAX_TABLE_DECODED
    content_tokens: int = 0  # content-stream tokens read by ContentText, against MAX_TOKENS

    def scan(self) -> PdfObjectTable:
        """Index every object. Each object's value is read only up to the next ``endobj`` and
        scanning resumes after what it consumed, so the scan stays linear on hostile input
        (unterminated strings, nested brackets, headers inside headers)."""
        data = self.data
        endobjs = [match.start() for match in _ENDOBJ.finditer(data)]
        position = 0
        while len(self.headers) < MAX_OBJECTS:
            match = _OBJ_HEADER.search(data, position)
            if match is None:
                break
            number, generation = int(match.group(1)), int(match.group(2))
            following = bisect.bisect_left(endobjs, match.end())
            bound = endobjs[following] if following < len(endobjs) else len(data)
            parsed, end = self._read_object(number, generation, match.start(), match.end(), bound)
            self.headers.append((number, match.start()))
            self.objects[number] = parsed
            position = max(match.end(), end)
        else:
            self.notes.append(f"more than {MAX_OBJECTS} objects: the rest not indexed")
        self._expand_object_streams()
        return self

    def _read_object(
        self, number: int, generation: int, offset: int, body: int, bound: int
    ) -> tuple[PdfObject, int]:
        """The object whose header ends at ``body``, and where scanning may resume."""
        lexer = Lexer(self.data, body, end=bound)
        try:
            value = read_value(lexer)
        except PdfSyntaxError:
            return PdfObject(number, generation, offset, None), lexer.position
        obj = PdfObject(number, generation, offset, value)
        if isinstance(value, dict):
            keyword = _STREAM_KEYWORD.match(self.data, lexer.position)
            if keyword:
                return obj, self._attach_stream(obj, keyword.end())
        return obj, lexer.position

    def _attach_stream(self, obj: PdfObject, start: int) -> int:
        """Stream data after ``stream`` EOL (PDF §7.3.8.1): /Length if it checks out, else up to
        the ``endstream`` keyword. Returns the offset after the stream."""
        data = self.data
        declared = self.resolve(obj.value.get("Length"))
        if (
            isinstance(declared, int)
            and 0 <= declared <= len(data) - start
            and data[start + declared : start + declared + 40].lstrip().startswith(b"endstream")
        ):
            obj.stream = data[start : start + declared]
            return start + declared
        end = data.find(b"endstream", start)
        if end < 0:
            obj.stream = data[start:]
            obj.stream_truncated = True
            return len(data)
        stop = end
        if data[stop - 2 : stop] == b"\r\n":
            stop -= 2
        elif data[stop - 1 : stop] in (b"\n", b"\r"):
            stop -= 1
        obj.stream = data[start : max(start, stop)]
        return end + len(b"endstream")

    def _expand_object_streams(self) -> None:
        """Objects stored in object streams (PDF §7.5.7), as PDF 1.5+ writers do."""
        containers = [
            obj
            for obj in list(self.objects.values())
            if isinstance(obj.value, dict) and obj.value.get("Type") == "ObjStm" and obj.stream
        ]
        for container in containers[:MAX_OBJECTS]:
            count = self.resolve(container.value.get("N"))
            first = self.resolve(container.value.get("First"))
            if not isinstance(count, int) or not isinstance(first, int) or count < 0 or first < 0:
                continue
            body, _, _ = self.stream_data(container)
            lexer = Lexer(body)
            pairs: list[tuple[int, int]] = []
            for _ in range(min(count, MAX_COLLECTION)):
                number_token, offset_token = lexer.next(), lexer.next()
                if number_token is None or offset_token is None:
                    break
                if isinstance(number_token.value, int) and isinstance(offset_token.value, int):
                    pairs.append((number_token.value, offset_token.value))
            for number, offset in pairs:
                if number in self.objects or len(self.objects) >= MAX_OBJECTS:
                    continue
                try:
                    value = read_value(Lexer(body, first + offset))
                except PdfSyntaxError:
                    continue
                self.objects[number] = PdfObject(number, 0, container.offset, value)

    def resolve(self, value: Any) -> Any:
        for _ in range(16):  # chains of references are short; cycles must not hang
            if not isinstance(value, Ref):
                return value
            target = self.objects.get(value.number)
            value = target.value if target is not None else None
        return None

    def get(self, value: Any) -> PdfObject | None:
        return self.objects.get(value.number) if isinstance(value, Ref) else None

    def stream_data(
        self, obj: PdfObject, limit: int | None = None
    ) -> tuple[bytes, bool, list[str]]:
        """Decoded stream of an object (PDF §7.3.8.2: /Filter and /DecodeParms, in order)."""
        if obj.stream is None or not isinstance(obj.value, dict):
            return b"", False, []
        cap = min(self.limit if limit is None else limit, MAX_TABLE_DECODED - self.decoded)
        if cap <= 0:
            note = f"decode budget ({MAX_TABLE_DECODED} bytes) spent: later streams not decoded"
            if note not in self.notes:
                self.notes.append(note)
            return b"", False, []
        names_value = self.resolve(obj.value.get("Filter"))
        parms_value = self.resolve(obj.value.get("DecodeParms", obj.value.get("DP")))
        names = [names_value] if isinstance(names_value, str) else list(names_value or [])
        names = [str(self.resolve(name)) for name in names if isinstance(self.resolve(name), str)]
        parms_list = parms_value if isinstance(parms_value, list) else [parms_value]
        parms: list[Mapping[str, Any] | None] = [self._parm_dict(p) for p in parms_list]
        if not names:
            self.decoded += min(len(obj.stream), cap)
            return obj.stream[:cap], not obj.stream_truncated, []
        out, complete, steps = filters.decode_chain(obj.stream, names, parms, cap)
        self.decoded += len(out)
        return out, complete and not obj.stream_truncated, steps

    def _parm_dict(self, value: Any) -> dict[str, Any] | None:
        value = self.resolve(value)
        if not isinstance(value, dict):
            return None
        return {key: self.resolve(item) for key, item in value.items()}


# --------------------------------------------------------------------------- PDF fonts


class PdfFont:
    """How a PDF font's codes become text and how far they advance (PDF §9.6-9.10)."""

    def __init__(self, table: PdfObjectTable, font: Mapping[str, Any]) -> None:
        self.code_bytes = 1
        self.to_unicode: dict[int, str] = {}
        self.per_code: list[str | None] | None = None
        self.unicode_codes = False  # Type0 with a UCS-2/UTF-16 CMap: codes are the text
        self.widths: dict[int, float] = {}
        self.default_width = 500.0
        self.scale = 0.001  # glyph space → text space (PDF §9.2.4; Type 3 uses its FontMatrix)
        self.trusted = True
        subtype = table.resolve(font.get("Subtype"))
        encoding = table.resolve(font.get("Encoding"))
        to_unicode = table.get(font.get("ToUnicode"))
        if to_unicode is not None:
            self._read_to_unicode(table, to_unicode)
        if subtype == "Type0":
            self.code_bytes = 2
            if isinstance(encoding, str) and ("UCS2" in encoding or "UTF16" in encoding):
                self.unicode_codes = True
            self.trusted = bool(self.to_unicode) or self.unicode_codes
            self._read_cid_widths(table, font)
            return
        if subtype == "Type3":
            matrix = table.resolve(font.get("FontMatrix"))
            if isinstance(matrix, list) and matrix and isinstance(matrix[0], int | float):
                self.scale = float(matrix[0])
        self.per_code = self._simple_encoding(table, encoding, subtype)
        self._read_simple_widths(table, font)

    def _simple_encoding(
        self, table: PdfObjectTable, encoding: Any, subtype: Any
    ) -> list[str | None]:
        # PDF §9.6.6: a simple font's encoding is a base encoding plus /Differences.
        default = "StandardEncoding" if subtype in ("Type1", "MMType1") else "WinAnsiEncoding"
        if isinstance(encoding, str):
            return list(BASE_ENCODINGS.get(encoding, BASE_ENCODINGS[default]))
        if not isinstance(encoding, dict):
            if subtype == "Type3":
                self.trusted = False
            return list(BASE_ENCODINGS[default])
        base_name = table.resolve(encoding.get("BaseEncoding"))
        codes = list(BASE_ENCODINGS.get(base_name if isinstance(base_name, str) else default, []))
        codes = codes or list(BASE_ENCODINGS[default])
        differences = table.resolve(encoding.get("Differences"))
        code = 0
        unknown = 0
        for item in differences if isinstance(differences, list) else []:
            item = table.resolve(item)
            if isinstance(item, int):
                code = item
            elif isinstance(item, str) and 0 <= code < 256:
                text = glyph_text(item)
                codes[code] = "" if text is None else text  # "": named, but the name means nothing
                unknown += text is None
                code += 1
        if unknown and not self.to_unicode:
            self.trusted = False
        return codes

    def _read_simple_widths(self, table: PdfObjectTable, font: Mapping[str, Any]) -> None:
        first = table.resolve(font.get("FirstChar"))
        widths = table.resolve(font.get("Widths"))
        if isinstance(first, int) and isinstance(widths, list):
            for index, width in enumerate(widths[:256]):
                width = table.resolve(width)
                if isinstance(width, int | float) and width > 0:
                    self.widths[first + index] = float(width)
        descriptor = table.resolve(font.get("FontDescriptor"))
        if isinstance(descriptor, dict):
            missing = table.resolve(descriptor.get("MissingWidth"))
            if isinstance(missing, int | float) and missing > 0:
                self.default_width = float(missing)

    def _read_cid_widths(self, table: PdfObjectTable, font: Mapping[str, Any]) -> None:
        # PDF §9.7.4.3: /W [c [w1 w2 ...] c_first c_last w ...], /DW default (1000).
        descendants = table.resolve(font.get("DescendantFonts"))
        cid_font = (
            table.resolve(descendants[0]) if isinstance(descendants, list) and descendants else None
        )
        if not isinstance(cid_font, dict):
            self.default_width = 1000.0
            return
        default = table.resolve(cid_font.get("DW"))
        self.default_width = float(default) if isinstance(default, int | float) else 1000.0
        spec = table.resolve(cid_font.get("W"))
        items = [table.resolve(item) for item in spec] if isinstance(spec, list) else []
        index = 0
        while index < len(items) and len(self.widths) < MAX_COLLECTION:
            first = items[index]
            following = items[index + 1] if index + 1 < len(items) else None
            if isinstance(first, int) and isinstance(following, list):
                for offset, width in enumerate(following[:MAX_COLLECTION]):
                    if isinstance(width, int | float):
                        self.widths[first + offset] = float(width)
                index += 2
            elif isinstance(first, int) and isinstance(following, int) and index + 2 < len(items):
                width = items[index + 2]
                if isinstance(width, int | float) and 0 <= following - first < MAX_COLLECTION:
                    for code in range(first, following + 1):
                        self.widths[code] = float(width)
                index += 3
            else:
                index += 1

    def _read_to_unicode(self, table: PdfObjectTable, stream: PdfObject) -> None:
        """ToUnicode CMap (PDF §9.10.3): bfchar and bfrange entries, codespace width."""
        body, _, _ = table.stream_data(stream, 4 * 1024 * 1024)
        parse_to_unicode(body, self.to_unicode)
        widths = re.search(rb"begincodespacerange\s*<([0-9A-Fa-f]+)>", body)
        if widths:
            self.code_bytes = max(1, min(4, (len(widths.group(1)) + 1) // 2))

    def decode(self, raw: bytes) -> tuple[str, float, int]:
        """(text, advance in text-space units per unit font size, count of word spaces)."""
        step = self.code_bytes
        parts: list[str] = []
        advance = 0.0
        spaces = 0
        for index in range(0, len(raw) - step + 1, step):
            code = int.from_bytes(raw[index : index + step], "big")
            text = self.to_unicode.get(code)
            if text is None:
                if self.unicode_codes:
                    text = chr(code) if not 0xD800 <= code <= 0xDFFF else ""
                elif self.per_code is not None and code < 256:
                    text = self.per_code[code]
                    if text is None and not self.to_unicode and 0x20 <= code < 0x7F:
                        text = chr(code)  # undefined in the encoding: the byte's ASCII meaning
                else:
                    text = ""
            parts.append(text or "")
            advance += self.widths.get(code, self.default_width) * self.scale
            if step == 1 and code == 0x20:
                spaces += 1
        return "".join(parts), advance, spaces


_CMAP_HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>|\[([^\]]*)\]")


def _utf16_hex(hex_text: bytes) -> str:
    raw = bytes.fromhex(re.sub(rb"\s", b"", hex_text).decode("ascii") or "")
    if len(raw) % 2:
        raw = raw + b"\x00"
    return raw.decode("utf-16-be", "replace")


def _cmap_blocks(body: bytes, begin: bytes, end: bytes) -> Iterator[bytes]:
    """Bodies of ``begin … end`` blocks, found in one forward pass."""
    position = 0
    while True:
        start = body.find(begin, position)
        if start < 0:
            return
        stop = body.find(end, start)
        if stop < 0:
            return
        yield body[start + len(begin) : stop]
        position = stop + len(end)


def parse_to_unicode(body: bytes, mapping: dict[int, str]) -> None:
    """Fill ``mapping`` from a ToUnicode CMap body (Adobe TN 5411 bfchar/bfrange syntax)."""
    try:
        for block in _cmap_blocks(body, b"beginbfchar", b"endbfchar"):
            hexes = re.findall(rb"<([0-9A-Fa-f\s]*)>", block)
            for source, target in zip(hexes[0::2], hexes[1::2], strict=False):
                if len(mapping) >= MAX_COLLECTION:
                    return
                mapping[int(re.sub(rb"\s", b"", source) or b"0", 16)] = _utf16_hex(target)
        for block in _cmap_blocks(body, b"beginbfrange", b"endbfrange"):
            items = _CMAP_HEX.findall(block)
            for index in range(0, len(items) - 2, 3):
                low_hex, high_hex, target = items[index][0], items[index + 1][0], items[index + 2]
                low = int(re.sub(rb"\s", b"", low_hex) or b"0", 16)
                high = int(re.sub(rb"\s", b"", high_hex) or b"0", 16)
                if not 0 <= high - low < 65536 or len(mapping) + high - low >= MAX_COLLECTION:
                    continue
                if target[1]:  # [<dst1> <dst2> ...]
                    for offset, dst in enumerate(re.findall(rb"<([0-9A-Fa-f\s]*)>", target[1])):
                        if low + offset > high:
                            break
                        mapping[low + offset] = _utf16_hex(dst)
                else:
                    start = _utf16_hex(target[0])
                    if not start:
                        continue
                    for offset in range(high - low + 1):
                        last = ord(start[-1]) + offset
                        if last > 0x10FFFF or 0xD800 <= last <= 0xDFFF:
                            break
                        mapping[low + offset] = start[:-1] + chr(last)
    except ValueError:
        log.debug("bad ToUnicode CMap", exc_info=True)


# --------------------------------------------------------------------------- PDF content text

_INLINE_IMAGE_END = re.compile(rb"[\x00\t\n\x0c\r ]EI(?=[\x00\t\n\x0c\r ]|$)")


@dataclass
class _TextState:
    """The part of the PDF text state (§9.3) that decides spacing and line breaks."""

    font: PdfFont | None = None
    size: float = 0.0
    char_space: float = 0.0
    word_space: float = 0.0
    horizontal: float = 1.0
    leading: float = 0.0
    line_x: float = 0.0
    line_y: float = 0.0
    scale_x: float = 1.0
    scale_y: float = 1.0
    x: float = 0.0


class ContentText:
    """Text of PDF content streams (PDF §9.4): Tj, TJ, ', " with their fonts, and the positioning
    operators used to decide where spaces and line breaks go (a gap over ~1/4 em is a space, a
    change of baseline a new line)."""

    def __init__(self, table: PdfObjectTable, budget: int = MAX_TEXT_CHARS) -> None:
        self.table = table
        self.budget = budget
        self.untrusted_fonts = False
        self.missing_fonts = False
        self.images = 0
        self.shown = 0  # strings shown, to tell "no text" from "text we cannot read"
        self._font_cache: dict[int, PdfFont] = {}
        self._parts: list[str] = []
        self._chars = 0
        self._pen: tuple[float, float] | None = None

    def run(self, content: bytes, resources: Any, depth: int = 0) -> None:
        fonts = self._fonts(resources)
        xobjects = self.table.resolve(self._resource(resources, "XObject"))
        state = _TextState()
        lexer = Lexer(content)
        operands: list[Any] = []
        table = self.table
        while self._chars < self.budget:
            if table.content_tokens >= MAX_TOKENS:
                note = f"content token limit ({MAX_TOKENS}) reached: later text not extracted"
                if note not in table.notes:
                    table.notes.append(note)
                break
            table.content_tokens += 1
            token = lexer.next()
            if token is None:
                break
            if token.kind != NAME or token.value in ("true", "false", "null"):
                lexer.push(token)
                try:
                    operands.append(read_value(lexer))
                except PdfSyntaxError:
                    break
                if len(operands) > 64:
                    del operands[:32]
                continue
            self._operator(token.value, operands, state, fonts, xobjects, resources, depth, lexer)
            operands = []

    def text(self) -> str:
        return "".join(self._parts).strip()

    def _operator(
        self,
        op: str,
        operands: list[Any],
        state: _TextState,
        fonts: Mapping[str, PdfFont],
        xobjects: Any,
        resources: Any,
        depth: int,
        lexer: Lexer,
    ) -> None:
        numbers = [
            float(v) for v in operands if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if op == "BT":
            state.line_x = state.line_y = state.x = 0.0
            state.scale_x = state.scale_y = 1.0
        elif op == "Tf" and len(operands) >= 2:
            name = operands[-2]
            state.font = fonts.get(name) if isinstance(name, str) else None
            if state.font is None:
                self.missing_fonts = True
            state.size = numbers[-1] if numbers else state.size
        elif op == "Tc" and numbers:
            state.char_space = numbers[-1]
        elif op == "Tw" and numbers:
            state.word_space = numbers[-1]
        elif op == "Tz" and numbers:
            state.horizontal = numbers[-1] / 100.0
        elif op == "TL" and numbers:
            state.leading = numbers[-1]
        elif op in ("Td", "TD") and len(numbers) >= 2:
            if op == "TD":
                state.leading = -numbers[-1]
            state.line_x += numbers[-2] * state.scale_x
            state.line_y += numbers[-1] * state.scale_y
            state.x = state.line_x
        elif op == "Tm" and len(numbers) >= 6:
            a, b, c, d, e, f = numbers[-6:]
            state.scale_x = (a * a + b * b) ** 0.5 or 1.0
            state.scale_y = (c * c + d * d) ** 0.5 or 1.0
            state.line_x, state.line_y, state.x = e, f, e
        elif op == "T*":
            self._next_line(state)
        elif op in ("Tj", "'", '"'):
            if op != "Tj":
                if op == '"' and len(numbers) >= 2:
                    state.word_space, state.char_space = numbers[0], numbers[1]
                self._next_line(state)
            if operands and isinstance(operands[-1], bytes):
                self._show(operands[-1], state)
        elif op == "TJ" and operands and isinstance(operands[-1], list):
            for item in operands[-1]:
                if isinstance(item, bytes):
                    self._show(item, state)
                elif isinstance(item, int | float):
                    state.x -= item / 1000.0 * state.size * state.horizontal * state.scale_x
        elif op == "Do" and operands and isinstance(operands[-1], str):
            self._do(operands[-1], xobjects, resources, depth)
        elif op == "BI":
            end = _INLINE_IMAGE_END.search(lexer.data, lexer.position)
            lexer.position = len(lexer.data) if end is None else end.end()
            self.images += 1

    def _next_line(self, state: _TextState) -> None:
        state.line_y -= state.leading * state.scale_y
        state.x = state.line_x

    def _show(self, raw: bytes, state: _TextState) -> None:
        self.shown += 1
        font = state.font
        if font is None:
            text, advance, spaces = raw.decode("latin-1"), 0.5 * len(raw), raw.count(b" ")
            self.untrusted_fonts = True
        else:
            text, advance, spaces = font.decode(raw)
            self.untrusted_fonts = self.untrusted_fonts or not font.trusted
        size = abs(state.size) or 1.0
        em_x = size * state.scale_x * state.horizontal
        em_y = size * state.scale_y
        if self._pen is not None:
            pen_x, pen_y = self._pen
            if abs(state.line_y - pen_y) > 0.5 * em_y:
                self._emit("\n")
            elif state.x - pen_x > 0.25 * em_x or state.x < pen_x - 2 * em_x:
                self._emit(" ")
        self._emit(_strip_controls(text))
        count = len(raw) // (font.code_bytes if font else 1)
        state.x += (advance * size + state.char_space * count + state.word_space * spaces) * (
            state.horizontal * state.scale_x
        )
        self._pen = (state.x, state.line_y)

    def _emit(self, text: str) -> None:
        if not text:
            return
        if text in (" ", "\n") and (not self._parts or self._parts[-1].endswith((" ", "\n"))):
            if text == "\n" and self._parts and self._parts[-1].endswith(" "):
                self._parts[-1] = self._parts[-1].rstrip(" ") + "\n"
            return
        room = self.budget - self._chars
        self._parts.append(text[:room])
        self._chars += min(len(text), room)

    def _do(self, name: str, xobjects: Any, resources: Any, depth: int) -> None:
        if not isinstance(xobjects, dict):
            return
        target = self.table.get(xobjects.get(name))
        if target is None or not isinstance(target.value, dict):
            return
        subtype = target.value.get("Subtype")
        if subtype == "Image":
            self.images += 1
        elif subtype == "Form" and depth < MAX_DEPTH:
            body, _, _ = self.table.stream_data(target)
            inner = self.table.resolve(target.value.get("Resources")) or resources
            self.run(body, inner, depth + 1)

    def _resource(self, resources: Any, key: str) -> Any:
        resources = self.table.resolve(resources)
        return resources.get(key) if isinstance(resources, dict) else None

    def _fonts(self, resources: Any) -> dict[str, PdfFont]:
        fonts: dict[str, PdfFont] = {}
        entries = self.table.resolve(self._resource(resources, "Font"))
        if not isinstance(entries, dict):
            return fonts
        for name, reference in list(entries.items())[:4096]:
            number = reference.number if isinstance(reference, Ref) else -1
            cached = self._font_cache.get(number)
            if cached is None:
                font_dict = self.table.resolve(reference)
                if not isinstance(font_dict, dict):
                    continue
                cached = PdfFont(self.table, font_dict)
                if number >= 0:
                    self._font_cache[number] = cached
            fonts[name] = cached
        return fonts


@dataclass
class RawPage:
    """A page found by the object scan."""

    number: int
    offset: int
    text: str
    heuristic: bool
    images: int
    shown: int  # strings the content streams show (0: a page without any text operator)
    width: float | None = None
    height: float | None = None


def _inherited(table: PdfObjectTable, page: dict[str, Any], key: str) -> Any:
    """Resources and MediaBox are inheritable from the page tree (PDF §7.7.3.4)."""
    node: Any = page
    for _ in range(32):
        if not isinstance(node, dict):
            return None
        if key in node:
            return table.resolve(node[key])
        node = table.resolve(node.get("Parent"))
    return None


def raw_pages(table: PdfObjectTable, budget: int = MAX_TEXT_CHARS) -> list[RawPage]:
    """Pages (``/Type /Page`` objects in file order) with the text of their content streams."""
    pages: list[RawPage] = []
    page_objects = sorted(
        (
            obj
            for obj in table.objects.values()
            if isinstance(obj.value, dict) and obj.value.get("Type") == "Page"
        ),
        key=lambda obj: obj.offset,
    )
    remaining = budget
    for obj in page_objects[:MAX_PAGES]:
        extractor = ContentText(table, max(0, remaining))
        contents = table.resolve(obj.value.get("Contents"))
        streams = contents if isinstance(contents, list) else [obj.value.get("Contents")]
        resources = _inherited(table, obj.value, "Resources")
        body = bytearray()
        for reference in streams[:1024]:
            target = table.get(reference)
            if target is not None:
                data, _, _ = table.stream_data(target)
                body += data + b"\n"
                if len(body) > table.limit:
                    break
        extractor.run(bytes(body), resources)
        text = extractor.text()
        remaining -= len(text)
        box = _inherited(table, obj.value, "MediaBox")
        width = height = None
        if isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box):
            width, height = abs(box[2] - box[0]), abs(box[3] - box[1])
        pages.append(
            RawPage(
                len(pages) + 1,
                obj.offset,
                text,
                extractor.untrusted_fonts or extractor.missing_fonts,
                extractor.images,
                extractor.shown,
                width,
                height,
            )
        )
    return pages


def loose_content_text(
    table: PdfObjectTable, budget: int = MAX_TEXT_CHARS
) -> list[tuple[int, str]]:
    """Text of streams that look like content (BT … Tj/TJ … ET) when no page objects survive."""
    found: list[tuple[int, str]] = []
    remaining = budget
    for obj in sorted(table.objects.values(), key=lambda o: o.offset):
        if obj.stream is None or remaining <= 0:
            continue
        value = obj.value if isinstance(obj.value, dict) else {}
        if value.get("Subtype") in ("Image", "Type1C", "CIDFontType0C", "XML") or value.get(
            "Type"
        ) in (
            "XRef",
            "ObjStm",
            "Metadata",
        ):
            continue
        body, _, _ = table.stream_data(obj)
        if b"BT" not in body or not re.search(rb"(?:Tj|TJ|')", body):
            continue
        extractor = ContentText(table, remaining)
        extractor.run(body, None)
        text = extractor.text()
        if text:
            found.append((obj.offset, text))
            remaining -= len(text)
    return found


# --------------------------------------------------------------------------- DSC comments

# DSC 3.0 §4: header comments start at the first line and end at %%EndComments (or the first line
# that is not a comment); values given as (atend) are repeated after %%Trailer.
_DSC_LINE = re.compile(rb"^%%([A-Za-z+][\w+-]*):?[ \t]*([^\r\n]*)", re.M)
_TRAILER = re.compile(rb"^%%Trailer\b", re.M)
_PAGE_LINE = re.compile(rb"^%%Page:[ \t]*([^\r\n]*)", re.M)
_PAGE_BBOX = re.compile(
    rb"^%%PageBoundingBox:[ \t]*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)", re.M
)
_NESTED_DOC = re.compile(rb"^%%(BeginDocument|EndDocument|Trailer|EOF)\b", re.M)
_BINARY_SECTION = re.compile(
    rb"^%%(?:BeginBinary:[ \t]*(\d{1,12})|BeginData:[ \t]*(\d{1,12})[ \t]*(Hex|Binary|ASCII)?[ \t]*(Bytes|Lines)?)[^\r\n]*(?:\r\n|\r|\n)",
    re.M,
)
_PROLOG = re.compile(
    rb"^%%(BeginProlog|EndProlog|BeginResource|EndResource|BeginProcSet|EndProcSet)\b", re.M
)
UEL = b"\x1b%-12345X"
# Copies (PLRM §8.2 /#copies; PLRM §6.2.3 setpagedevice /NumCopies; DSC §5 %%Requirements
# numcopies(n); PPD-derived %%BeginFeature: *Copies / *NumCopies).
_COPIES_PATTERNS = (
    re.compile(rb"/#copies\s+(\d{1,6})\s+def"),
    re.compile(rb"/NumCopies\s+(\d{1,6})\b"),
    re.compile(
        rb"%%(?:BeginFeature|IncludeFeature|BeginNonPPDFeature):\s*\*?(?:Num)?Copies\s+(\d{1,6})",
        re.I,
    ),
    re.compile(rb"%%Requirements:[^\r\n]*numcopies\((\d{1,6})\)", re.I),
)
# PJL-style job attributes that drivers leave in PostScript comments, e.g. "%@PJL SET USERNAME=".
_PJL_COMMENT = re.compile(
    rb"^%+[ \t]*@PJL[ \t]+(?:SET[ \t]+|JOB[ \t]+|COMMENT[ \t]+)?([A-Za-z_]+)[ \t]*=[ \t]*(\"[^\"\r\n]*\"|[^\r\n]*)",
    re.M | re.I,
)
_PIN_KEYS = {
    "HOLDKEY",
    "JOBPASSWORD",
    "PIN",
    "USERPIN",
    "JOBPIN",
    "PASSWORD",
    "LOCKEDPRINTPASSWORD",
}
# PPD features and setpagedevice keys that carry job-storage PINs (digits only, 4-16 long).
_PIN_FEATURE = re.compile(
    rb"(?:%%BeginFeature:\s*\*(?:HP)?(?:PIN|PinNumber|JobPIN|UserPIN|LockedPrintPassword|Password)\s+|/(?:JobPassword|LockedPrintPassword|UserPIN|HoldKey)\s*\(?)(\d{4,16})\b",
    re.I,
)
_CTRL_D = b"\x04"

# DOS EPS binary header (EPSF 3.0 spec, Technical Note 5002, "Windows Metafile or TIFF"): 30 bytes,
# little-endian offsets and lengths of the PostScript, WMF and TIFF sections, then a checksum.
DOS_EPS_MAGIC = b"\xc5\xd0\xd3\xc6"
DOS_EPS_HEADER = Struct(
    "magic" / Bytes(4),
    "ps_offset" / Int32ul,
    "ps_length" / Int32ul,
    "wmf_offset" / Int32ul,
    "wmf_length" / Int32ul,
    "tiff_offset" / Int32ul,
    "tiff_length" / Int32ul,
    "checksum" / Int16ul,
)
DOS_EPS_HEADER_SIZE = 30


@dataclass
class _Dsc:
    """Header and trailer comments, last value of each key wins in the trailer."""

    header: dict[str, str] = field(default_factory=dict)
    trailer: dict[str, str] = field(default_factory=dict)
    continued: dict[str, list[str]] = field(default_factory=dict)

    def value(self, key: str) -> str | None:
        value = self.header.get(key)
        if value is None or value.strip().lower() == "(atend)":
            return self.trailer.get(key, value)
        return value


def _read_dsc(data: bytes, trailer_at: int | None) -> _Dsc:
    dsc = _Dsc()
    head = data[:MAX_HEADER_BYTES]
    end = len(head)
    for match in re.finditer(rb"^(?:%%EndComments|[^%\r\n])", head, re.M):
        end = match.start()
        break
    last_key: str | None = None
    for match in _DSC_LINE.finditer(head, 0, end):
        key = match.group(1).decode("latin-1")
        value = decode_text_bytes(match.group(2)).strip()
        if key == "+":
            if last_key:
                dsc.continued.setdefault(last_key, []).append(value)
            continue
        last_key = key
        dsc.header.setdefault(key, value)
    if trailer_at is not None:
        for match in _DSC_LINE.finditer(
            data, trailer_at, min(len(data), trailer_at + MAX_HEADER_BYTES)
        ):
            key = match.group(1).decode("latin-1")
            if key != "+":
                dsc.trailer[key] = decode_text_bytes(match.group(2)).strip()
    return dsc


def _dsc_text(value: str | None) -> str | None:
    """A DSC <text> value: a PostScript string in parentheses is unescaped (DSC §3.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("(") and value.endswith(")"):
        raw, _, _ = read_literal_string(value.encode("latin-1", "replace"), 1)
        return clean_text(raw)
    return clean_text(value)


def _top_level_marker(data: bytes, name: bytes) -> list[int]:
    """Offsets of ``%%Trailer``/``%%EOF`` lines outside embedded documents (DSC §5.3)."""
    depth = 0
    found: list[int] = []
    for match in _NESTED_DOC.finditer(data):
        word = match.group(1)
        if word == b"BeginDocument":
            depth += 1
        elif word == b"EndDocument":
            depth = max(0, depth - 1)
        elif depth == 0 and word == name:
            found.append(match.start())
    return found


# --------------------------------------------------------------------------- the scanner

# PLRM §5.2/§8.2 show-family operators: each takes the string as its last operand except kshow/cshow
# (proc string) and the x/y/xyshow family (string numarray), so "the most recent string" holds.
SHOW_OPERATORS = frozenset(
    {"show", "ashow", "widthshow", "awidthshow", "kshow", "xshow", "yshow", "xyshow", "cshow"}
)
# Operators that consume a string without showing it: pending strings are dropped.
_CONSUMERS = frozenset(
    {"def", "put", "store", "stringwidth", "print", "=", "==", "cvn", "token", "search",
     "anchorsearch", "length", "get", "readstring", "readhexstring", "readline", "writestring",
     "exec", "pop", "findfont", "run", "file", "cvi", "cvr", "known", "eq", "ne", "charpath",
     "definefont", "where", "string", "restore"}
)  # fmt: skip
_FONT_SELECTORS = frozenset({"setfont", "selectfont"})
# Words between a procedure body and its "def" that keep it a procedure (PLRM §8.2).
_RETAINING = frozenset({"bind", "readonly", "executeonly", "noaccess", "cvx"})


@dataclass
class _Piece:
    offset: int  # offset in the top-level data
    text: str
    break_before: bool
    page_hint: int
    heuristic: bool = False


@dataclass
class _Frame:
    """A procedure body being read: which operators it uses (to recognise wrappers)."""

    key: str | None
    shows: bool = False
    moves: bool = False
    moves_first: bool = False  # an absolute moveto before any show: each call starts a new line
    currentpoint: bool = False  # positions relative to the current point: not a new line
    pages: bool = False
    selects_font: bool = False
    calls: set[str] = field(default_factory=set)  # names it executes (bounded), see _propagate


@dataclass
class _ScanState:
    """Per-buffer state of one scan (the learned vocabulary is shared in ``_Scanner``)."""

    frames: list[_Frame] = field(default_factory=list)
    untracked: int = 0  # procedure bodies opened beyond the tracked depth
    pending: list[bytes] = field(default_factory=list)  # string operands not yet consumed
    recent: list[Token] = field(default_factory=list)  # the last few tokens
    arrays: list[list[str]] = field(default_factory=list)  # literal names of open [ ... ]
    array_prefix: list[str] = field(default_factory=list)  # literal names just before "["
    last_array: list[str | None] | None = None
    last_array_prefix: list[str] = field(default_factory=list)
    proc_done: _Frame | None = None  # a procedure just closed, waiting for its "def"
    building: list[str | None] | None = None  # "N array" being filled by "dup c /name put"
    font_encoding: list[str | None] | None = None  # /Encoding of the font dict being built
    font_key: str | None = None
    findfont_name: str | None = None


class _Scanner:
    """One pass over PostScript tokens, shared by the top level and its decoded sections.

    It learns procedure wrappers of show, moveto, showpage and setfont, named strings, encoding
    vectors and which font uses which; it records every shown string as a ``_Piece``.
    """

    def __init__(self, limit: int, budget: int, prolog: list[tuple[int, int]]) -> None:
        self.limit = limit
        self.budget = budget
        self.prolog = sorted(prolog)
        self._prolog_starts = [start for start, _ in self.prolog]
        self.tokens = 0
        self.pieces: list[_Piece] = []
        self.chars = 0
        self.notes: list[str] = []
        self.complete = True
        self.sections = 0
        self.decoded_total = 0  # bytes decoded from all sections, against MAX_TABLE_DECODED
        self.decoded_sections: list[bytes] = []
        self.showpages = 0
        self.show_ops: set[str] = set(SHOW_OPERATORS)
        self.breaking_shows: set[str] = set()
        self.move_ops: set[str] = {"moveto"}
        self.page_ops: set[str] = {"showpage"}
        self.font_procs: set[str] = set()
        self.user_procs: set[str] = set()
        self.strings: dict[str, bytes] = {}
        self.encodings: dict[str, list[str | None]] = {}
        self.font_encodings: dict[str, list[str | None]] = {}
        self.font_alias: dict[str, str] = {}
        self.definitions: list[tuple[int, str]] = []  # (offset, "name: string") in the body
        self._definition_set: set[str] = set()
        self.callers: dict[str, set[str]] = {}  # name → procedures that execute it
        self.call_edges = 0
        self.current_encoding: list[str | None] | None = None
        self.pending_break = True

    # ---------------------------------------------------------------- driving

    def scan(self, data: bytes, depth: int, base: int | None, skips: list[tuple[int, int]]) -> None:
        """Scan ``data``; ``base`` is the top-level offset that decoded data is attributed to."""
        lexer = Lexer(data, 0, skips)
        state = _ScanState()
        while True:
            if self.tokens >= MAX_TOKENS:
                self._note(f"token limit ({MAX_TOKENS}) reached: the rest was not scanned")
                self.complete = False
                return
            token = lexer.next()
            if token is None:
                break
            self.tokens += 1
            state.recent.append(token)
            if len(state.recent) > 16:
                del state.recent[:8]
            where = token.offset if base is None else base
            if token.kind == NAME:
                self._operator(token.value, state, lexer, data, depth, where)
            else:
                self._operand(token, state)
        if lexer.unterminated:
            self._note("unterminated string at the end of the data")
            self.complete = False

    def _operand(self, token: Token, state: _ScanState) -> None:
        kind = token.kind
        if kind == STRING:
            state.pending.append(token.value)
            if len(state.pending) > 16:
                del state.pending[:8]
        elif kind == PROC_OPEN:
            if len(state.frames) >= MAX_NESTING * 8:  # deeper bodies are not tracked one by one
                state.untracked += 1
                return
            before = state.recent[-2] if len(state.recent) >= 2 else None
            key = before.value if before is not None and before.kind == LITERAL else None
            state.frames.append(_Frame(key))
            state.pending = []
            state.proc_done = None
        elif kind == PROC_CLOSE:
            if state.untracked:
                state.untracked -= 1
            elif state.frames:
                done = state.frames.pop()
                if state.frames:  # a procedure that holds one that shows, shows
                    parent = state.frames[-1]
                    parent.moves_first |= done.moves_first and not parent.shows
                    parent.shows |= done.shows
                    parent.moves |= done.moves
                    parent.currentpoint |= done.currentpoint
                    parent.pages |= done.pages
                    parent.selects_font |= done.selects_font
                    if len(parent.calls) < MAX_CALLS:
                        parent.calls |= set(list(done.calls)[: MAX_CALLS - len(parent.calls)])
                state.proc_done = done
            state.pending = []
        elif kind == ARRAY_OPEN:
            if not state.arrays:
                state.array_prefix = [t.value for t in state.recent[-6:-1] if t.kind == LITERAL]
            state.arrays.append([])
        elif kind == ARRAY_CLOSE:
            names: list[str | None] = list(state.arrays.pop()) if state.arrays else []
            state.last_array = (names + [None] * 256)[:256] if names else None
            if not state.arrays:
                state.last_array_prefix = state.array_prefix
        elif kind == LITERAL and state.arrays and len(state.arrays[-1]) < 256:
            state.arrays[-1].append(token.value)

    def _operator(
        self, name: str, state: _ScanState, lexer: Lexer, data: bytes, depth: int, where: int
    ) -> None:
        recent = state.recent
        in_proc = bool(state.frames)
        if in_proc:
            frame = state.frames[-1]
            if name in self.move_ops and not frame.shows and name != "rmoveto":
                frame.moves_first = True
            frame.currentpoint |= name == "currentpoint"
            if len(frame.calls) < MAX_CALLS:
                frame.calls.add(name)
            frame.shows |= name in self.show_ops
            frame.moves |= name in self.move_ops or name in self.breaking_shows
            frame.pages |= name in self.page_ops
            frame.selects_font |= (
                name in _FONT_SELECTORS or name == "findfont" or name in self.font_procs
            )
        if name in _RETAINING:
            return
        proc_done, state.proc_done = state.proc_done, None
        if name == "def":
            if not in_proc and depth == 0:
                self._remember_definition(recent, where)
            self._def(state, proc_done)
            return
        if name == "load":
            self._load(state, lexer)
            return
        if name == "array":
            count = recent[-2].value if len(recent) >= 2 and recent[-2].kind == NUMBER else None
            if isinstance(count, int) and 0 < count <= 256:
                state.building = [None] * 256
                state.last_array = state.building
            return
        if name == "put":
            code = recent[-3].value if len(recent) >= 3 and recent[-3].kind == NUMBER else None
            glyph = recent[-2].value if len(recent) >= 2 and recent[-2].kind == LITERAL else None
            if state.building is not None and isinstance(code, int) and 0 <= code < 256 and glyph:
                state.building[code] = glyph
            state.pending = []
            return
        if name == "definefont":
            label = next((t.value for t in reversed(recent[:-1]) if t.kind == LITERAL), None)
            for candidate in (label, state.font_key):
                if (
                    candidate
                    and state.font_encoding is not None
                    and len(self.font_encodings) < MAX_DEFINITIONS
                ):
                    self.font_encodings[candidate] = state.font_encoding
            state.font_encoding, state.font_key = None, None
            return
        if name == "findfont":
            before = recent[-2] if len(recent) >= 2 else None
            state.findfont_name = (
                before.value if before is not None and before.kind == LITERAL else None
            )
            state.pending = []
            return
        if name in _FONT_SELECTORS:
            self._select_font(name, state)
            return
        if name == "glyphshow":
            before = recent[-2] if len(recent) >= 2 else None
            if before is not None and before.kind == LITERAL:
                self._emit(glyph_text(before.value) or "", where, False, in_proc, depth == 0)
            return
        if name in self.show_ops:
            if state.pending:
                raw = state.pending.pop()
                self._emit(
                    self._decode_shown(raw), where, name in self.breaking_shows, in_proc, depth == 0
                )
            if name not in self.move_ops:
                return
        if name in self.move_ops:
            if not in_proc:
                self.pending_break = True
            return
        if name in self.page_ops:
            if not in_proc:
                self.showpages += 1
                self.pending_break = True
            return
        if name == "currentfile" and not in_proc:
            self._currentfile(lexer, data, depth, where)
            state.pending = []
            return
        if name == "stream" and len(recent) >= 2 and recent[-2].kind == DICT_CLOSE:
            # A PDF stream object (ps2write): its data is not PostScript; raw_pages reads it.
            end = data.find(b"endstream", lexer.position)
            lexer.position = len(data) if end < 0 else end + len(b"endstream")
            return
        if not in_proc:
            if name in self.user_procs:
                self._reencode_call(recent)
                self._font_from_array(state)
            if name in self.font_procs:
                self._select_font_by_proc(recent)
            elif name in self.font_alias:
                self.current_encoding = self.font_encodings.get(self.font_alias[name])
        if name in self.strings:
            state.pending.append(self.strings[name])
            return
        if name in _CONSUMERS:
            state.pending = []

    # ---------------------------------------------------------------- definitions

    def _remember_definition(self, recent: list[Token], where: int) -> None:
        """``/fname (report.txt) def`` in the document body (enscript's file name and date,
        driver job variables): kept as text even when a procset shows it."""
        if len(recent) < 3 or recent[-2].kind != STRING or recent[-3].kind != LITERAL:
            return
        if self._in_prolog(where) or len(self.definitions) >= MAX_STRING_DEFINITIONS:
            return
        value = clean_text(recent[-2].value)
        if value and any(ch.isalnum() for ch in value):
            entry = f"{recent[-3].value}: {value}"
            if entry not in self._definition_set:
                self._definition_set.add(entry)
                self.definitions.append((where, entry))

    def _def(self, state: _ScanState, proc_done: _Frame | None) -> None:
        recent = state.recent
        if proc_done is not None and proc_done.key is not None:
            self._define_procedure(proc_done)
        else:
            key = self._definition_key(recent)
            if recent[-2:-1] and recent[-2].kind == ARRAY_CLOSE and state.last_array_prefix:
                key = state.last_array_prefix[-1]  # /Name [ ...long array... ] def
            if key is not None:
                self._define_value(key, state)
                if key == "Encoding":
                    state.font_encoding = self._encoding_operand(recent, state.last_array)
                elif key == "FontName" and len(recent) >= 3 and recent[-2].kind == LITERAL:
                    state.font_key = recent[-2].value
                state.last_array = None
        state.pending = []

    @staticmethod
    def _definition_key(recent: list[Token]) -> str | None:
        """The literal name a ``def`` defines: ``/key value def``, value one object."""
        depth = 0
        for token in reversed(recent[:-1]):
            if token.kind in (PROC_CLOSE, ARRAY_CLOSE, DICT_CLOSE):
                depth += 1
            elif token.kind in (PROC_OPEN, ARRAY_OPEN, DICT_OPEN):
                depth -= 1
            elif token.kind == LITERAL and depth <= 0:
                return str(token.value)
        return None

    def _define_procedure(self, frame: _Frame) -> None:
        key = frame.key
        if key is None or len(self.user_procs) >= MAX_DEFINITIONS:
            return
        self.user_procs.add(key)
        self.strings.pop(key, None)
        for vocabulary in (
            self.show_ops,
            self.breaking_shows,
            self.move_ops,
            self.page_ops,
            self.font_procs,
        ):
            if key not in SHOW_OPERATORS and key not in ("moveto", "showpage"):
                vocabulary.discard(key)  # a redefinition replaces the old meaning
        if frame.shows:
            self.show_ops.add(key)
            if frame.moves_first and not frame.currentpoint:
                self.breaking_shows.add(key)
        elif frame.moves:
            self.move_ops.add(key)
        if frame.pages:
            self.page_ops.add(key)
        if frame.selects_font:
            self.font_procs.add(key)
        for callee in frame.calls:
            if self.call_edges < MAX_DEFINITIONS * 4:
                self.callers.setdefault(callee, set()).add(key)
                self.call_edges += 1
        if frame.shows:
            self._propagate_show(key)

    def _propagate_show(self, name: str) -> None:
        """Procedures defined earlier that call ``name`` show too (xpdf's Tj calls Tj1, defined
        after it, which calls awidthshow)."""
        queue = [name]
        visited = 0
        while queue and visited < MAX_DEFINITIONS:
            callee = queue.pop()
            visited += 1
            for caller in self.callers.get(callee, ()):
                if caller not in self.show_ops and caller in self.user_procs:
                    self.show_ops.add(caller)
                    queue.append(caller)

    def _font_from_array(self, state: _ScanState) -> None:
        """``/F4_0 /BaseFont 1 1 [/names ...] pdfMakeFont`` (xpdf): a procedure called right after
        an encoding vector, with font names before it, builds fonts with that encoding."""
        recent = state.recent
        vector = state.last_array
        if len(recent) < 2 or recent[-2].kind != ARRAY_CLOSE or vector is None:
            return
        if sum(1 for item in vector if item) < 8:
            return
        for label in state.last_array_prefix[:2]:
            if len(self.font_encodings) < MAX_DEFINITIONS:
                self.font_encodings[label] = vector

    def _define_value(self, key: str, state: _ScanState) -> None:
        if len(self.strings) + len(self.encodings) + len(self.font_alias) >= MAX_DEFINITIONS:
            return
        recent = state.recent
        previous = recent[-2] if len(recent) >= 2 else None
        if previous is None:
            return
        if previous.kind == STRING:
            self.strings[key] = previous.value  # /name (text) def: "name show" shows it later
        elif previous.kind in (ARRAY_CLOSE, NAME) and state.last_array is not None:
            if sum(1 for item in state.last_array if item) >= 8:  # an encoding vector
                self.encodings[key] = state.last_array
        elif previous.kind == NAME and previous.value in self.encodings:
            self.encodings[key] = self.encodings[previous.value]
        if state.findfont_name and any(
            t.kind == NAME and t.value in ("findfont", "scalefont", "makefont") for t in recent[-6:]
        ):
            self.font_alias[key] = state.findfont_name  # /F1 /Helvetica findfont 12 scalefont def

    def _encoding_operand(
        self, recent: list[Token], last_array: list[str | None] | None
    ) -> list[str | None] | None:
        previous = recent[-2] if len(recent) >= 2 else None
        if previous is not None and previous.kind == NAME:
            if previous.value in self.encodings:
                return self.encodings[previous.value]
            if previous.value == "StandardEncoding":
                return _standard_encoding()
        return last_array

    def _load(self, state: _ScanState, lexer: Lexer) -> None:
        """``/A /show load def``: A becomes another name of show (grops writes this)."""
        recent = state.recent
        if len(recent) < 3 or recent[-2].kind != LITERAL or recent[-3].kind != LITERAL:
            return
        following = lexer.next()
        if following is None:
            return
        if following.kind != NAME or following.value != "def":
            lexer.push(following)
            return
        alias, target = recent[-3].value, recent[-2].value
        if len(self.user_procs) >= MAX_DEFINITIONS:
            return
        self.user_procs.add(alias)
        for vocabulary in (
            self.show_ops,
            self.breaking_shows,
            self.move_ops,
            self.page_ops,
            self.font_procs,
        ):
            if target in vocabulary:
                vocabulary.add(alias)
        state.pending = []

    # ---------------------------------------------------------------- fonts

    def _select_font(self, operator: str, state: _ScanState) -> None:
        recent = state.recent
        label: str | None
        if operator == "selectfont":
            label = next((t.value for t in reversed(recent[:-1]) if t.kind == LITERAL), None)
        else:
            previous = recent[-2] if len(recent) >= 2 else None
            if previous is not None and previous.kind == NAME and previous.value in self.font_alias:
                label = self.font_alias[previous.value]
            else:
                label = state.findfont_name
        self.current_encoding = self.font_encodings.get(label) if label else None

    def _select_font_by_proc(self, recent: list[Token]) -> None:
        """A procedure that selects a font (grops ``/F0 10 /Times-Roman@0 SF``)."""
        window = recent[-6:-1]
        literals = [t.value for t in window if t.kind == LITERAL]
        names = [t.value for t in window if t.kind == NAME]
        label = next((n for n in reversed(literals) if n in self.font_encodings), None)
        if label is None:
            label = next(
                (self.font_alias[n] for n in reversed(names) if n in self.font_alias), None
            )
        if label is None and literals:
            label = literals[-1]
        if label is None:
            return
        if len(literals) >= 2 and len(self.font_alias) < MAX_DEFINITIONS:
            self.font_alias[literals[0]] = label  # SF also defines F0 as "select this font"
        self.current_encoding = self.font_encodings.get(label)

    def _reencode_call(self, recent: list[Token]) -> None:
        """A re-encoding procedure call: ``/NewFont ENCODING /BaseFont RE`` (grops and others)."""
        window = recent[-5:-1]
        for index, token in enumerate(window):
            if token.kind == NAME and token.value in self.encodings and index > 0:
                new = window[index - 1]
                if new.kind == LITERAL and len(self.font_encodings) < MAX_DEFINITIONS:
                    self.font_encodings[new.value] = self.encodings[token.value]
                return

    def _decode_shown(self, raw: bytes) -> str:
        encoding = self.current_encoding
        if encoding is None:
            return _strip_controls(raw.decode("cp1252", "replace").replace("\ufffd", ""))
        parts = []
        for byte in raw:
            name = encoding[byte]
            if name is None:  # not in the vector: the byte's ASCII meaning is the best guess
                parts.append(chr(byte) if 0x20 <= byte < 0x7F else "")
            else:
                parts.append(glyph_text(name) or "")
        return _strip_controls("".join(parts))

    # ---------------------------------------------------------------- output

    def _in_prolog(self, where: int) -> bool:
        index = bisect.bisect_right(self._prolog_starts, where) - 1
        return index >= 0 and where < self.prolog[index][1]

    def _emit(self, text: str, where: int, breaks: bool, in_proc: bool, top: bool) -> None:
        """Record shown text. A show inside a procedure body counts only in the top-level data
        outside the prolog (document procedures like print.ps's, not procsets' error handlers)."""
        if not text or self.chars >= self.budget:
            return
        if in_proc and (not top or self._in_prolog(where)):
            return
        text = text[: self.budget - self.chars]
        self.chars += len(text)
        self.pieces.append(_Piece(where, text, self.pending_break or breaks, self.showpages))
        self.pending_break = False

    def _note(self, note: str) -> None:
        if note not in self.notes and len(self.notes) < 64:
            self.notes.append(note)

    # ---------------------------------------------------------------- currentfile sections

    def _currentfile(self, lexer: Lexer, data: bytes, depth: int, where: int) -> None:
        """``currentfile [params] /F1 filter [params] /F2 filter … cvx exec`` (PLRM §3.13)."""
        chain: list[str] = []
        parms: list[Mapping[str, Any] | None] = []
        operands: list[Any] = []
        executes = False
        for _ in range(64):
            token = lexer.next()
            if token is None:
                return
            self.tokens += 1
            if token.kind == NAME and token.value == "filter":
                name = operands[-1] if operands else None
                if isinstance(name, str) and not isinstance(name, Operator):
                    chain.append(filters.canonical_filter_name(name))
                    parms.append(self._filter_parms(chain[-1], operands[:-1]))
                operands = []
                continue
            if token.kind == NAME and token.value in ("cvx", "bind"):
                continue
            if token.kind == NAME and token.value == "exec":
                executes = True
                break
            if token.kind in (LITERAL, NUMBER, STRING, DICT_OPEN):
                lexer.push(token)
                try:
                    operands.append(read_value(lexer))
                except PdfSyntaxError:
                    return
                continue
            lexer.push(token)  # an operator that reads the data itself (image, readstring, ...)
            break
        if not chain:
            return
        start = lexer.position
        if executes and start < len(data) and data[start] in b"\x00\t\n\x0c\r ":
            start += 1  # PLRM §3.8.2: the scanner consumes one white-space character after exec
        end = self._section_end(data, start, chain, parms)
        if not executes:
            if end is not None:
                lexer.position = end  # image data: skip it, do not read it as tokens
            return
        if self.sections >= MAX_SECTIONS or depth + 1 > MAX_DEPTH:
            self._note("currentfile section not decoded: nesting or section limit reached")
            if end is not None:
                lexer.position = end
            return
        self.sections += 1
        encoded = data[start:end] if end is not None else data[start:]
        budget = min(self.limit, MAX_TABLE_DECODED - self.decoded_total)
        decoded, complete, steps = filters.decode_chain(encoded, chain, parms, max(0, budget))
        self.decoded_total += len(decoded)
        if not complete:
            self._note(
                f"currentfile section at offset {where}: {' → '.join(steps)} incomplete or capped"
            )
            self.complete = False
        if end is None and chain[0] == "FlateDecode":
            length = _zlib_stream_length(encoded, self.limit)
            end = None if length is None else start + length
        if end is not None:
            lexer.position = end
        if len(self.decoded_sections) < MAX_SECTIONS:
            self.decoded_sections.append(decoded[:MAX_HEADER_BYTES])
        self.scan(decoded, depth + 1, where, [])

    @staticmethod
    def _filter_parms(name: str, operands: list[Any]) -> Mapping[str, Any] | None:
        if operands and isinstance(operands[-1], dict):
            return operands[-1]
        if name == "SubFileDecode" and len(operands) >= 2:  # count string /SubFileDecode filter
            count, marker = operands[-2], operands[-1]
            if isinstance(count, int) and isinstance(marker, bytes):
                return {"EODCount": count, "EODString": marker}
        return None

    @staticmethod
    def _section_end(
        data: bytes, start: int, chain: list[str], parms: list[Mapping[str, Any] | None]
    ) -> int | None:
        """Where the encoded data of a section ends, for filters whose end marker is visible."""
        first = chain[0]
        # Without its EOD marker the filter would read to the end of the file: so does the scan.
        if first == "ASCII85Decode":  # PLRM §3.13.3: "~>" is EOD
            end = data.find(b"~>", start)
            return len(data) if end < 0 else end + 2
        if first == "ASCIIHexDecode":  # ">" is EOD
            end = data.find(b">", start)
            return len(data) if end < 0 else end + 1
        if first == "SubFileDecode" and parms and parms[0]:
            marker = parms[0].get("EODString", b"")
            count = parms[0].get("EODCount", 0)
            if isinstance(marker, bytes) and marker and isinstance(count, int):
                position = start
                for _ in range(max(0, min(count, 1 << 16)) + 1):
                    found = data.find(marker, position)
                    if found < 0:
                        return len(data)
                    position = found + len(marker)
                return position
        return None


def _zlib_stream_length(encoded: bytes, limit: int) -> int | None:
    """Bytes a zlib stream occupies (``unused_data`` tells where it ended), decoding ≤ limit."""
    inflater = zlib.decompressobj()
    produced = 0
    position = 0
    try:
        while position < len(encoded) and produced < limit:
            chunk = encoded[position : position + 65536]
            position += len(chunk)
            produced += len(inflater.decompress(chunk, limit))
            while inflater.unconsumed_tail and produced < limit:
                produced += len(inflater.decompress(inflater.unconsumed_tail, limit))
            if inflater.eof:
                return position - len(inflater.unused_data)
    except zlib.error:
        return None
    return None


def _prolog_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of %%BeginProlog/%%BeginResource/%%BeginProcSet … End (DSC §5.2)."""
    ranges: list[tuple[int, int]] = []
    opened: list[int] = []
    for match in _PROLOG.finditer(data):
        if match.group(1).startswith(b"Begin"):
            opened.append(match.start())
        elif opened:
            start = opened.pop()
            if not opened:
                ranges.append((start, match.end()))
        if len(ranges) >= MAX_COLLECTION:
            break
    if opened:
        ranges.append((opened[0], len(data)))
    return ranges


# --------------------------------------------------------------------------- the parser


def _start_of_postscript(data: bytes) -> int:
    """Offset of ``%!`` after at most a Ctrl-D and white space (Windows drivers send ^D first)."""
    index = 0
    while index < min(len(data), 16) and data[index] in b"\x04\t\n\r \x00":
        index += 1
    return index


class PostScriptParser(FormatParser):
    name = "postscript"
    description = "PostScript (DSC 3.0 metadata, shown text, decoded currentfile sections, EPS)"
    # PLRM §3.2 / DSC §2.4: "%!" (conforming files "%!PS-Adobe-3.0") at offset 0; EPSF spec: the
    # DOS EPS binary header C5 D0 D3 C6. sniff() also allows a leading ^D (Windows drivers).
    signatures = (Signature(b"%!PS"), Signature(b"%!"), Signature(DOS_EPS_MAGIC))
    # DSC 3.0 §4: conforming files begin "%!PS-Adobe-"; bare "%!PS" is common in drivers' output.
    # The DOS EPS binary header (EPSF 3.0 §5.3) wraps PostScript with a TIFF/WMF preview.
    carve_patterns = (CarvePattern(yara_hex(b"%!PS")), CarvePattern(yara_hex(DOS_EPS_MAGIC)))

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if head[:4] == DOS_EPS_MAGIC:
            return True
        start = _start_of_postscript(head)
        return head[start : start + 2] == b"%!"

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        data = data[:MAX_PARSE_BYTES]
        job = ParsedJob(format=self.name)
        base = 0
        if data[:4] == DOS_EPS_MAGIC:
            data, base = self._dos_eps(data, job)
        start = _start_of_postscript(data)
        if data[start : start + 2] != b"%!":
            raise NotThisFormat("no %! header")
        try:
            self._parse_postscript(data, start, ctx, job)
        except DAMAGE_ERRORS as error:
            log.debug("PostScript parse failed", exc_info=True)
            job.complete = False
            job.notes.append(f"parse stopped: {type(error).__name__}: {error}"[:200])
        if base:  # offsets in the DOS EPS file, not in its PostScript section
            job.texts = [
                replace(
                    t, source_offset=None if t.source_offset is None else t.source_offset + base
                )
                for t in job.texts
            ]
            job.pages = [
                PageRef(
                    p.number,
                    None if p.offset is None else p.offset + base,
                    p.length,
                    p.width,
                    p.height,
                    p.unit,
                )
                for p in job.pages
            ]
        return job

    def _dos_eps(self, data: bytes, job: ParsedJob) -> tuple[bytes, int]:
        try:
            header = DOS_EPS_HEADER.parse(data[:DOS_EPS_HEADER_SIZE])
        except construct.ConstructError as error:
            raise NotThisFormat("short DOS EPS header") from error
        ps_offset, ps_length = header.ps_offset, header.ps_length
        if ps_offset < DOS_EPS_HEADER_SIZE or ps_offset >= len(data):
            raise NotThisFormat("DOS EPS PostScript offset outside the data")
        if ps_offset + ps_length > len(data):
            job.complete = False
            job.notes.append(
                f"DOS EPS PostScript section truncated ({len(data) - ps_offset} of {ps_length} bytes)"
            )
        for label, offset, length, hint in (
            ("EPS TIFF preview", header.tiff_offset, header.tiff_length, "tiff"),
            ("EPS WMF preview", header.wmf_offset, header.wmf_length, None),
        ):
            if offset and length and offset + length <= len(data):
                job.embedded.append(Embedded(label, offset, length, hint))
        job.length = max(
            ps_offset + ps_length,
            header.tiff_offset + header.tiff_length,
            header.wmf_offset + header.wmf_length,
        )
        job.length = min(job.length, len(data))
        return data[ps_offset : ps_offset + ps_length], ps_offset

    def _parse_postscript(self, data: bytes, start: int, ctx: ParseContext, job: ParsedJob) -> None:
        trailers = _top_level_marker(data, b"Trailer")
        eofs = _top_level_marker(data, b"EOF")
        trailer_at = trailers[0] if trailers else None
        dsc = _read_dsc(data[start:], None if trailer_at is None else trailer_at - start)
        conforming = data.startswith(b"%!PS-Adobe-", start)
        if conforming and trailer_at is None and not eofs:
            job.complete = False
            job.notes.append("no %%Trailer or %%EOF: the job may be truncated")

        skips = self._binary_skips(data)
        scanner = _Scanner(ctx.max_output, MAX_TEXT_CHARS, _prolog_ranges(data))
        table_text: list[_Piece] = []
        try:  # text first, guarded on its own: damage there must not cost the DSC metadata
            table_text = self._embedded_pdf_objects(data, ctx, scanner)
            scanner.budget = max(0, MAX_TEXT_CHARS - sum(len(piece.text) for piece in table_text))
            scanner.scan(data, 0, None, skips)
        except (
            ValueError,
            IndexError,
            KeyError,
            TypeError,
            OverflowError,
            PdfSyntaxError,
        ) as error:
            log.debug("PostScript text scan failed", exc_info=True)
            scanner.complete = False
            scanner.notes.append(f"text scan stopped: {type(error).__name__}: {error}"[:200])
        scanner.pieces.extend(table_text)
        job.notes.extend(scanner.notes)
        job.complete = job.complete and scanner.complete

        page_offsets = [m.start() for m in _PAGE_LINE.finditer(data)][:MAX_PAGES]
        job.pages = self._pages(data, page_offsets, scanner.showpages, dsc)
        job.texts = self._texts(scanner.pieces, page_offsets)
        if scanner.definitions:
            job.texts.append(
                DecodedText(
                    "PostScript string definitions",
                    "\n".join(entry for _, entry in scanner.definitions),
                    heuristic=True,
                    source_offset=scanner.definitions[0][0],
                )
            )
        job.metadata = self._metadata(data, dsc, scanner, len(job.pages), job)
        declared = job.metadata.pages
        if declared is not None and page_offsets and declared != len(page_offsets):
            job.notes.append(
                f"%%Pages says {declared} but {len(page_offsets)} %%Page comments found"
            )
        if job.length is None:
            job.length = self.extent(data, 0)

    @staticmethod
    def _binary_skips(data: bytes) -> list[tuple[int, int]]:
        """DSC §5.2 %%BeginBinary / %%BeginData byte counts: raw data the lexer must not read."""
        skips: list[tuple[int, int]] = []
        for match in _BINARY_SECTION.finditer(data):
            count = match.group(1) or match.group(2)
            if match.group(4) == b"Lines" or count is None:
                continue
            skips.append((match.end(), min(len(data), match.end() + int(count))))
            if len(skips) >= MAX_COLLECTION:
                break
        return skips

    @staticmethod
    def _embedded_pdf_objects(data: bytes, ctx: ParseContext, scanner: _Scanner) -> list[_Piece]:
        """ps2write/opdfread PostScript carries its pages as PDF objects: extract their text."""
        if b" obj" not in data and b"\nobj" not in data:
            return []
        if not re.search(rb"/Type\s*/Page\b", data):
            return []
        table = PdfObjectTable(data, ctx.max_output).scan()
        pieces: list[_Piece] = []
        unreadable: list[int] = []
        for page in raw_pages(table, MAX_TEXT_CHARS):
            if page.text:
                pieces.append(_Piece(page.offset, page.text, True, 0, page.heuristic))
            elif page.shown:
                unreadable.append(page.number)
        scanner.notes.extend(table.notes)
        if unreadable:
            scanner.notes.append(
                f"embedded PDF page(s) {number_list(unreadable)}: text drawn with fonts whose glyph "
                "names carry no meaning (e.g. Type 3 bitmap glyphs): not recoverable without OCR"
            )
        return pieces

    @staticmethod
    def _pages(data: bytes, offsets: list[int], showpages: int, dsc: _Dsc) -> list[PageRef]:
        width = height = None
        box = dsc.value("BoundingBox")
        numbers = re.findall(r"-?\d+(?:\.\d+)?", box or "")
        if len(numbers) == 4:
            width = round(abs(float(numbers[2]) - float(numbers[0])))
            height = round(abs(float(numbers[3]) - float(numbers[1])))
        pages: list[PageRef] = []
        if offsets:
            ends = [*offsets[1:], len(data)]
            for index, (start, end) in enumerate(zip(offsets, ends, strict=True)):
                page_width, page_height = width, height
                local = _PAGE_BBOX.search(data, start, min(end, start + 4096))
                if local:
                    values = [float(v) for v in local.groups()]
                    page_width = round(abs(values[2] - values[0]))
                    page_height = round(abs(values[3] - values[1]))
                pages.append(
                    PageRef(index + 1, start, end - start, page_width, page_height, unit="pt")
                )
            return pages
        return [
            PageRef(i + 1, width=width, height=height, unit="pt")
            for i in range(min(showpages, MAX_PAGES))
        ]

    @staticmethod
    def _texts(pieces: list[_Piece], page_offsets: list[int]) -> list[DecodedText]:
        groups: dict[int, list[_Piece]] = {}
        for piece in sorted(pieces, key=lambda p: p.offset):
            # Pages by %%Page comment when the document has them, else by showpage count.
            index = _page_index(page_offsets, piece.offset) if page_offsets else piece.page_hint + 1
            groups.setdefault(index, []).append(piece)
        texts: list[DecodedText] = []
        for index in sorted(groups):
            parts: list[str] = []
            for piece in groups[index]:
                if parts and piece.break_before:
                    parts.append("\n")
                parts.append(piece.text)
            text = "".join(parts).strip()
            if not text:
                continue
            name = f"page {index}" if index > 0 else "document setup"
            heuristic = any(p.heuristic for p in groups[index])
            texts.append(DecodedText(name, text, heuristic, groups[index][0].offset))
        return texts

    def _metadata(
        self, data: bytes, dsc: _Dsc, scanner: _Scanner, page_count: int, job: ParsedJob
    ) -> JobMetadata:
        extra: list[tuple[str, str]] = []
        created_raw = _dsc_text(dsc.value("CreationDate"))
        created = parse_date(created_raw)
        if created_raw and not created:
            extra.append(("CreationDate", created_raw))
        pages_value = dsc.value("Pages")
        pages = _leading_int(pages_value)
        if pages is None and page_count:
            pages = page_count
        media = None
        document_media = dsc.value("DocumentMedia")
        if document_media:  # DSC §5.1: name width height weight color type
            words = document_media.split()
            media = clean_text(
                f"{words[0]} {words[1]}x{words[2]}" if len(words) >= 3 else document_media
            )
        for key in ("BoundingBox", "Routing", "Requirements", "LanguageLevel", "DocumentData", "Orientation",
                    "Invocation", "Version", "Copyright", "DocumentPaperSizes", "PageOrder"):  # fmt: skip
            value = _dsc_text(dsc.value(key))
            if value:
                extra.append((key, value))
        fields: dict[str, str | None] = {
            "document_name": _dsc_text(dsc.value("Title")),
            "user": _dsc_text(dsc.value("For")),
            "application": _dsc_text(dsc.value("Creator")),
            "job_name": _dsc_text(dsc.value("JobName")),
            "host": _dsc_text(dsc.value("HostName") or dsc.value("Host")),
        }
        if not fields["user"]:
            fields["user"] = _dsc_text(dsc.value("UserName") or dsc.value("User"))
        haystacks = [data, *scanner.decoded_sections]
        copies = _copies(haystacks)
        if copies is None:
            copies = _leading_int(
                next((c for c in dsc.continued.get("Requirements", []) if "numcopies" in c), None)
            )
        pin: str | None = None
        hold: str | None = None
        for key, value in _pjl_comments(data):
            upper = key.upper()
            if upper in _PIN_KEYS and value.isdigit():
                pin = pin or value
            elif upper in ("USERNAME", "USER", "OWNER", "DOCOWNER") and not fields["user"]:
                fields["user"] = clean_text(value)
            elif upper in ("JOBNAME", "NAME") and not fields["job_name"]:
                fields["job_name"] = clean_text(value)
            elif upper in ("HOST", "HOSTNAME", "COMPUTERNAME") and not fields["host"]:
                fields["host"] = clean_text(value)
            elif upper in ("HOLD", "HOLDTYPE"):
                hold = clean_text(value)
            elif len(extra) < MAX_EXTRA:
                cleaned = clean_text(value)
                if cleaned:
                    extra.append((f"PJL {upper}", cleaned))
        for haystack in haystacks:
            match = _PIN_FEATURE.search(haystack)
            if match and pin is None:
                pin = match.group(1).decode("ascii")
        if pin:
            job.notes.append("job-storage PIN found in the PostScript")
        return JobMetadata(
            user=fields["user"],
            host=fields["host"],
            job_name=fields["job_name"],
            document_name=fields["document_name"],
            application=fields["application"],
            document_format="application/postscript",
            created=created,
            pages=pages,
            copies=copies,
            media=media,
            hold=hold,
            pin=pin,
            pin_masked=MASK if pin else None,
            extra=tuple(extra[:MAX_EXTRA]),
        )

    def extent(self, buf: bytes, offset: int) -> int | None:
        """End of ``%%EOF`` after ``%%Trailer`` (DSC §5.3), or the next UEL, whichever is first."""
        window = buf[offset : offset + MAX_PARSE_BYTES]
        if window[:4] == DOS_EPS_MAGIC and len(window) >= DOS_EPS_HEADER_SIZE:
            try:
                header = DOS_EPS_HEADER.parse(window[:DOS_EPS_HEADER_SIZE])
            except construct.ConstructError:
                return None
            end = max(header.ps_offset + header.ps_length, header.tiff_offset + header.tiff_length,
                      header.wmf_offset + header.wmf_length)  # fmt: skip
            return min(end, len(window))
        uel = window.find(UEL, 1)
        scope = window if uel < 0 else window[:uel]
        trailers = _top_level_marker(scope, b"Trailer")
        eofs = _top_level_marker(scope, b"EOF")
        # The first %%EOF after the first top-level %%Trailer; without a trailer (allowed by
        # DSC §5.3 when nothing is (atend)) the first top-level %%EOF.
        eof = (
            next((e for e in eofs if e > trailers[0]), None)
            if trailers
            else (eofs[0] if eofs else None)
        )
        if eof is not None:
            end = eof + len(b"%%EOF")
            while end < len(scope) and scope[end] in b"\r\n\x04":  # EOL and a closing ^D
                end += 1
            return end
        return uel if uel >= 0 else None


def _page_index(offsets: list[int], position: int) -> int:
    """1-based page whose %%Page comment precedes ``position``; 0 before the first page."""
    low, high = 0, len(offsets)
    while low < high:
        middle = (low + high) // 2
        if offsets[middle] <= position:
            low = middle + 1
        else:
            high = middle
    return low


def number_list(numbers: list[int], shown: int = 20) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" … ({len(numbers)} in all)" if len(numbers) > shown else "")


def _leading_int(value: str | None) -> int | None:
    if not value:
        return None
    match = re.search(r"\d{1,7}", value)
    return int(match.group()) if match else None


def _copies(haystacks: list[bytes]) -> int | None:
    """The copy count set last in the document (the interpreter applies the last setting);
    the top-level data first, then decoded sections."""
    for haystack in haystacks:
        found: tuple[int, int] | None = None
        for pattern in _COPIES_PATTERNS:
            for match in pattern.finditer(haystack):
                value = int(match.group(1))
                if 1 <= value <= 99_999 and (found is None or match.start() > found[0]):
                    found = (match.start(), value)
        if found is not None:
            return found[1]
    return None


def _pjl_comments(data: bytes) -> Iterator[tuple[str, str]]:
    for count, match in enumerate(_PJL_COMMENT.finditer(data)):
        if count >= 256:
            return
        key = match.group(1).decode("latin-1")
        value = decode_text_bytes(match.group(2)).strip().strip('"')
        yield key, value
