"""HP PCL 5: escape-sequence tokenizer, page text in reading order, raster pages, HP-GL/2 labels.

Reference: HP "PCL 5 Printer Language Technical Reference Manual" (bpl13210), cited as "PCL5 TRM".
A PCL 5 stream is printable data interleaved with escape sequences (PCL5 TRM ch. 2, "PCL Command
Syntax"): two-character ``ESC X`` commands (X in 48–126) and parameterised ``ESC ! g # p … T``
commands, where ``!`` is a parameterised character (33–47), ``g`` a group character (96–126),
``#`` a signed decimal value, ``p`` lower-case parameter characters that continue a combined
command and ``T`` an upper-case termination character (64–94). Commands ending in ``W`` (and
``ESC*b#V``, ``ESC&p#X``) are followed by ``#`` bytes of binary data, which are skipped by their
length (and read as text for transparent print data). Cursor moves become spaces and line breaks
so that typeset output (``groff -Tlj4``: one positioning command per word or kern) reads as words
and lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from forensics.formats.base import (
    MAX_FIELD_CHARS,
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    DecodedText,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    clean_field,
)

log = logging.getLogger(__name__)

ESC = 0x1B
UEL = b"\x1b%-12345X"  # PJL TRM ch. 4: ends the PCL context
SNIFF_WINDOW = 64  # bytes in which a plausible command sequence must appear (sniff)
PARSE_PROBE = 4096  # parse(): bytes in which at least one valid escape sequence must appear
MAX_COMBINED = 64  # parameters in one combined escape sequence
MAX_VALUE_CHARS = 32  # characters of one value field
MAX_PAGES = 100_000  # PageRefs kept (pages beyond are counted only)
MAX_FONT_NAMES = 32
MAX_SEQUENCE_PLANS = 1024  # distinct escape sequences whose reading is kept
PARTS_BLOCK = 4096  # TextLayout: output parts joined into one string at a time

# PCL5 TRM ch. 2: parameterised characters, group/parameter characters, termination characters.
PARAMETERISED = range(0x21, 0x30)
GROUP_OR_PARAMETER = range(0x60, 0x7F)
TERMINATION = range(0x40, 0x5F)
TWO_CHARACTER = range(0x30, 0x7F)

# Printable bytes between commands (PCL5 TRM ch. 2 "text parsing method" 0: one byte a character;
# 0x80–0xFF print in 8-bit symbol sets). ESC and the other C0 controls end a run.
TEXT_RUN = re.compile(rb"[\x20-\x7e\x80-\xff]+")
VALUE = re.compile(rb"[+-]?[0-9]*(?:\.[0-9]*)?")
MAX_LINES_TOKEN = 256  # CR LF ended lines read as one token
MAX_WORDS_TOKEN = 256  # word steps read as one token
MAX_ROW_LINES_TOKEN = 256  # row-positioned lines read as one token
# Value fields of the sequence forms below. A sequence of one command takes a sign, up to 16
# digits and a fraction; in a combined sequence each value is read as VALUE reads it within
# MAX_VALUE_CHARS, which holds for up to 15 digits before and after the point.
SHORT_VALUE = rb"[+-]?[0-9]{0,16}(?:\.[0-9]{0,15})?"
COMBINED_VALUE = rb"[+-]?[0-9]{0,15}(?:\.[0-9]{0,15})?"
# A well-formed parameterised sequence after its ESC (PCL5 TRM ch. 2): the parameterised char, a
# group char if one follows (possessive: never taken for a parameter), then 1 to MAX_COMBINED - 1
# value and lower-case parameter char pairs (possessive: fewer never end in a termination char)
# and a value, or one value; the termination char.
SEQUENCE = (
    rb"[\x21-\x2f][\x60-\x7e]?+"
    rb"(?:(?:" + COMBINED_VALUE + rb"[\x60-\x7e]){1,%d}+" % (MAX_COMBINED - 1) + COMBINED_VALUE
    + rb"|" + SHORT_VALUE + rb")"
    rb"[\x40-\x5e]"
)  # fmt: skip
# A word step after its ESC: a relative horizontal move in PCL units (ESC*p+#X, PCL5 TRM
# "Horizontal Cursor Positioning (PCL Units)") and the word printed after it, a whole text run
# (no text byte follows) of printable ASCII without spaces.
WORD_STEP = rb"\*p[+-][0-9]{1,16}X[\x21-\x7e]+(?![\x20-\x7e\x80-\xff])"
# A row line after its ESC: a move to a text row (ESC&a#R, PCL5 TRM "Vertical Cursor Positioning
# (Using Rows)", an unsigned whole number) and a text run (or none) ended by CR LF, the way
# line-oriented report generators place each line of a page.
ROW_LINE = rb"&a[0-9]{1,5}R[\x20-\x7e\x80-\xff]*\r\n"
# The token at a position of the stream: exactly one alternative matches wherever the stream
# goes on (see test_every_byte_starts_a_token), so the main loop takes whole runs and whole
# commands, never single bytes:
# - ``lines``: text runs (or none) each ended by CR LF, as plain text is sent;
# - ``text``: a text run; ``control``: a control code other than ESC (PCL5 TRM ch. 3);
# after an ESC, in this order, first the forms that make up most of driver output, each read
# without the general decoder (and each also a ``sequence``, read the same way):
# - ``words``: word steps one after another, the way ``groff -Tlj4`` sets a line;
# - ``move``: a cursor move in PCL units, ESC*p#X / ESC*p#Y (PCL5 TRM "Cursor Positioning");
# - ``position``: both, ESC*p#x#Y, where drivers start a line;
# - ``raster_row``: ESC*b#W (PCL5 TRM "Transfer Raster Data"), a row of Ghostscript ``ljet4``
#   output;
# - ``row_lines``: row lines one after another (ROW_LINE), each the same as a ``sequence`` and
#   a ``lines`` token;
# then the UEL (PJL TRM ch. 4; a ``sequence`` too), a two-character command, a ``sequence``,
# and last a lone ESC (``escape``): a sequence with data, a long value or a malformed one, or
# the end of the data, all for the general decoder (_parse_sequence).
TOKEN = re.compile(
    rb"(?P<lines>(?:[\x20-\x7e\x80-\xff]*\r\n){1,%d})" % MAX_LINES_TOKEN
    + rb"|(?P<text>[\x20-\x7e\x80-\xff]+)"  # same bytes as TEXT_RUN
    rb"|(?P<control>[\x00-\x1a\x1c-\x1f\x7f])"
    rb"|\x1b(?:"
    rb"(?P<words>" + WORD_STEP + rb"(?:\x1b" + WORD_STEP + rb"){0,%d})" % (MAX_WORDS_TOKEN - 1)
    + rb"|(?P<move>\*p(?P<move_value>" + SHORT_VALUE + rb")(?P<move_axis>[XY]))"
    rb"|(?P<position>\*p(?P<position_x>" + COMBINED_VALUE + rb")x"
    rb"(?P<position_y>" + COMBINED_VALUE + rb")Y)"
    rb"|(?P<raster_row>\*b(?P<row_length>[0-9]{0,16})W)"
    rb"|(?P<row_lines>" + ROW_LINE
    + rb"(?:\x1b" + ROW_LINE + rb"){0,%d})" % (MAX_ROW_LINES_TOKEN - 1)
    + rb"|(?P<uel>%-12345X)"
    rb"|(?P<two_character>[\x30-\x7e])"
    rb"|(?P<sequence>" + SEQUENCE + rb")"
    rb"|(?P<escape>)"
    rb")"
)  # fmt: skip
# The commands of a ``sequence`` token after its parameterised and group chars: value, letter.
SEQUENCE_COMMAND = re.compile(rb"(" + SHORT_VALUE + rb")([\x40-\x7e])")
# The steps of a ``words`` token, read from its text: (signed value, word).
WORD_STEPS = re.compile(r"\x1b\*p([+-][0-9]+)X([\x21-\x7e]+)")
# The rows of a ``row_lines`` token: (row, text before the CR LF), on bytes and on its text.
ROW_LINES = re.compile(rb"\x1b&a([0-9]+)R([^\r]*)\r\n")
ROW_LINES_TEXT = re.compile(r"\x1b&a([0-9]+)R([^\r]*)\r\n")
LINE_ENDS = re.compile(rb"\r\n")
SPACES = re.compile(" {2,}")

# Symbol sets (PCL5 TRM Appendix "Symbol Set Tables"; "ESC(#X" where # and X form the ID, e.g.
# 8U = Roman-8) → Python codecs for the high half. Unknown sets are read as Latin-1.
SYMBOL_SET_CODECS: dict[str, str] = {
    "0U": "ascii",
    "8U": "hp_roman8",
    "10U": "cp437",  # PC-8
    "12U": "cp850",  # PC-850
    "0N": "latin-1",  # ISO 8859-1 Latin 1
    "2N": "iso8859-2",
    "5N": "iso8859-9",
    "9N": "iso8859-15",
    "19U": "cp1252",  # Windows 3.1 Latin 1
    "9E": "cp1250",  # Windows 3.1 Latin 2
    "18N": "utf-16-be",  # Unicode (only meaningful with text parsing method 83/21)
}

# Codecs that read bytes 0x00–0x7F as ASCII: a run of such bytes decodes alike in all of them.
ASCII_SUPERSETS = frozenset(
    codec
    for codec in {*SYMBOL_SET_CODECS.values(), "latin-1", "utf-8"}
    if bytes(range(0x80)).decode(codec, errors="replace") == bytes(range(0x80)).decode("ascii")
)

# PCL5 TRM ch. 5 "Page Size" (ESC&l#A) values.
PAGE_SIZES: dict[int, str] = {
    1: "executive",
    2: "letter",
    3: "legal",
    6: "ledger",
    25: "a5",
    26: "a4",
    27: "a3",
    45: "jis-b5",
    46: "jis-b4",
    71: "hagaki",
    72: "oufuku-hagaki",
    80: "monarch-envelope",
    81: "com10-envelope",
    90: "dl-envelope",
    91: "c5-envelope",
    100: "b5-envelope",
    101: "custom",
}
ORIENTATIONS = {0: "portrait", 1: "landscape", 2: "reverse portrait", 3: "reverse landscape"}
DUPLEX = {0: "simplex", 1: "duplex long edge", 2: "duplex short edge"}
SIMPLE_COLOR = {-4: "kcmy", -3: "cmy", 1: "monochrome", 3: "rgb"}  # ESC*r#U (PCL5 Color TRM)

# HP-GL/2 instructions that put marks on the page (HP-GL/2 Reference, "Vector Group",
# "Polygon Group", "Character Group").
HPGL_MARKING = frozenset(
    (
        "PD",
        "PE",
        "LB",
        "RA",
        "RR",
        "EA",
        "ER",
        "WG",
        "EW",
        "CI",
        "AA",
        "AR",
        "AT",
        "RT",
        "BZ",
        "BR",
        "FP",
        "EP",
        "PM",
        "SR",
    )
)
HPGL_PARAMETERS = re.compile(rb"[0-9+\-., \t\r\n]*")
ETX = 0x03  # HP-GL/2 default label terminator (DT instruction)


def number(value: str | bytes) -> float:
    """A value field as a number: empty, a lone sign or point (and "+.") count as 0."""
    try:
        return float(value)
    except ValueError:
        return 0.0


@dataclass
class Command:
    """One command of an escape sequence: ``ESC & l 0 O`` → ('&', 'l', 'O', '0')."""

    parameterised: str
    group: str
    letter: str  # upper-cased parameter / termination character
    value: str  # as written, sign included
    offset: int

    @property
    def key(self) -> str:
        """Parameterised, group and (upper-case) letter: "&lO"."""
        return self.parameterised + self.group + self.letter

    @property
    def number(self) -> float:
        return number(self.value)


def _parse_sequence(data: bytes, pos: int) -> tuple[list[tuple[Command, bool]], int] | None:
    """Commands of the parameterised sequence at ``data[pos] == ESC`` and the offset after its
    last parameter; each command is paired with "carries data" resolved by the caller. Returns
    None when the bytes are not a well-formed sequence. Data commands stop the scan: the caller
    skips their data and calls ``_continue_sequence``."""
    if pos + 2 >= len(data) or data[pos + 1] not in PARAMETERISED:
        return None
    parameterised = chr(data[pos + 1])
    cursor = pos + 2
    group = ""
    if data[cursor] in GROUP_OR_PARAMETER:
        group = chr(data[cursor])
        cursor += 1
    return _continue_sequence(data, cursor, parameterised, group, pos)


def _continue_sequence(
    data: bytes, cursor: int, parameterised: str, group: str, start: int
) -> tuple[list[tuple[Command, bool]], int] | None:
    commands: list[tuple[Command, bool]] = []
    for _ in range(MAX_COMBINED):
        match = VALUE.match(data, cursor, min(len(data), cursor + MAX_VALUE_CHARS))
        value_end = match.end() if match else cursor
        if value_end >= len(data):
            return None if not commands else (commands, cursor)
        char = data[value_end]
        value = data[cursor:value_end].decode("ascii")
        if char in TERMINATION:
            command = Command(parameterised, group, chr(char), value, start)
            commands.append((command, False))
            return commands, value_end + 1
        if char in GROUP_OR_PARAMETER:
            command = Command(parameterised, group, chr(char).upper(), value, start)
            commands.append((command, True))  # True: a lower-case parameter, more may follow
            cursor = value_end + 1
            if carries_data(command.key, group):
                return commands, cursor
            continue
        return None if not commands else (commands, value_end)
    return commands, cursor


def carries_data(key: str, group: str) -> bool:
    """Whether the command ``key`` ("*bW", see Command.key) is followed by data. PCL5 TRM: the W
    termination marks "# bytes of data follow" (raster rows ESC*b#W, font headers ESC)s#W,
    characters ESC(s#W, patterns ESC*c#W, CID ESC*v#W, symbol sets ESC(f#W, alphanumeric IDs
    ESC&n#W, …); ESC*b#V carries a raster plane, ESC&p#X transparent data."""
    return (key[-1] == "W" and group != "") or key in ("*bV", "&pX")


@dataclass
class TextLayout:
    """Rebuilds reading order from printed characters and cursor moves (positions in inches)."""

    limit: int
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    x: float = 0.0
    y: float = 0.0
    point_size: float = 12.0  # PCL5 TRM default font: Courier 12 pt, 10 pitch
    pitch: float | None = 10.0  # characters per inch for fixed-pitch fonts, None proportional
    line_has_text: bool = False
    pending_space: bool = False
    full: bool = False
    run_chars: int = 0  # characters printed since the last cursor move
    # Earlier parts joined in blocks: megabytes of text are millions of parts, which would cost
    # far more memory as separate strings. ``parts`` keeps the newest ones (the last one is read).
    joined: list[str] = field(default_factory=list)

    @property
    def em(self) -> float:
        return self.point_size / 72.0

    def _emit(self, text: str) -> None:
        if self.full:
            return
        room = self.limit - self.chars
        if len(text) > room:
            text = text[: max(room, 0)]
            self.full = True
        parts = self.parts
        parts.append(text)
        self.chars += len(text)
        if len(parts) >= PARTS_BLOCK:
            self.joined.append("".join(parts[:-1]))
            del parts[:-1]

    def text(self, text: str) -> None:
        """Print a run of characters: runs of spaces become one pending space, words are kept.

        One call per run, not per character or word: print data is megabytes of text.
        """
        if not text or self.full:  # nothing more is written: the position no longer matters
            return
        length = len(text)
        spaces = text.count(" ")
        # The sums of advance(" ") and advance("x"), computed as advance() does.
        if self.pitch:
            step = 1.0 / self.pitch
            self.x += spaces * step + (length - spaces) * step
        else:
            em = self.point_size / 72.0
            self.x += spaces * (em * 0.25) + (length - spaces) * (em * 0.5)
        if spaces:
            # The words, one space between them: runs of spaces made one, none at the ends.
            words = SPACES.sub(" ", text).strip(" ") if "  " in text else text.strip(" ")
            if not words:
                if self.line_has_text:
                    self.pending_space = True
                return
            if text[0] == " " and self.line_has_text:
                self.pending_space = True
        else:
            words = text  # one word, most runs of typeset output
        if self.pending_space:
            self._emit(" ")
        self._emit(words)
        self.line_has_text = True
        self.pending_space = text[-1] == " "
        self.run_chars += length - spaces

    def moves_and_words(self, steps: list[tuple[float, str]]) -> None:
        """``move(dx=dx)`` then ``text(word)`` for each (dx, word) of ``steps``, in one loop: the
        same state changes and parts, computed the same way. Words are not empty and hold no
        spaces (typeset output: one relative move and one word after another)."""
        if not steps or self.full:  # nothing more is written: the position no longer matters
            return
        em = self.point_size / 72.0
        new_y = self.y + 0.0  # move(dx=…) adds dy=0.0
        if abs(new_y - self.y) > 0.4 * em:  # not with a finite y and a positive size
            for dx, word in steps:
                self.move(dx=dx)
                self.text(word)
            return
        self.y = new_y
        # move(): the gap of a relative move is dx; a space before the word when the line has
        # text and the gap is wider than a kern or goes back over the line.
        threshold = 0.15 * em
        back_threshold = -2.0 * em
        # text(): the advance of a word without spaces, as computed there.
        if self.pitch:
            space_advance = char_advance = 1.0 / self.pitch
        else:
            space_advance, char_advance = em * 0.25, em * 0.5
        no_spaces = 0 * space_advance
        pieces: list[str] = []
        add = pieces.append
        dx, word = steps[0]
        if self.pending_space or (self.line_has_text and (dx > threshold or dx < back_threshold)):
            add(" ")
        x = self.x + dx
        x += no_spaces + len(word) * char_advance
        add(word)
        for dx, word in steps[1:]:  # the line has text now and no space is pending
            if dx > threshold or dx < back_threshold:
                add(" ")
            x += dx
            x += no_spaces + len(word) * char_advance
            add(word)
        self.x = x
        self.line_has_text = True
        self.pending_space = False
        self.run_chars = len(word)
        self._emit_all(pieces)

    def _emit_all(self, pieces: list[str]) -> None:
        """``_emit`` for each of ``pieces``: at once while the output cap is not met."""
        if self.full:
            return
        length = sum(map(len, pieces))
        if self.chars + length > self.limit:
            for piece in pieces:
                self._emit(piece)
            return
        parts = self.parts
        parts.extend(pieces)
        self.chars += length
        if len(parts) >= PARTS_BLOCK:
            self.joined.append("".join(parts[:-1]))
            del parts[:-1]

    def ended_lines(self, lines: list[str], vmi: float, rows: list[str] | None = None) -> None:
        """Lines printed one after another, each ended by CR LF, from the start of an empty
        line (no text on it, no space pending, x = 0: as a CR LF leaves the layout); with
        ``rows``, each line moved to first (``move(y=float(row) * vmi)``). The same state
        and text as ``text(line)``, ``newline(hard=not line_has_text)``, ``y += vmi`` and
        ``x = 0.0`` per line, in one loop: from there a move to a row only sets y, and every
        line adds its words and one newline."""
        pieces: list[str] = []
        add = pieces.append
        run_chars = self.run_chars
        y = self.y
        for index, line in enumerate(lines):
            if rows is not None:
                y = float(rows[index]) * vmi
                run_chars = 0  # move() starts a new run
            if line:
                spaces = line.count(" ")
                if not spaces:
                    add(line)
                    run_chars += len(line)
                else:
                    words = SPACES.sub(" ", line).strip(" ") if "  " in line else line.strip(" ")
                    if words:
                        add(words)
                        run_chars += len(line) - spaces
            add("\n")
            y += vmi
        self.y = y
        self.x = 0.0
        self.run_chars = run_chars
        self.line_has_text = self.pending_space = False
        self._emit_all(pieces)

    def advance(self, char: str) -> float:
        if self.pitch:
            return 1.0 / self.pitch
        return self.em * (0.25 if char == " " else 0.5)  # average widths of proportional faces

    def newline(self, hard: bool = False) -> None:
        if self.line_has_text or hard:
            self._emit("\n")
        self.line_has_text = False
        self.pending_space = False

    def page_break(self) -> None:
        self.newline()
        if self.chars and not (self.parts and self.parts[-1].endswith("\n\n")):
            self._emit("\n")
        self.x = self.y = 0.0

    def move(
        self, x: float | None = None, y: float | None = None, dx: float = 0.0, dy: float = 0.0
    ) -> None:
        """Absolute (x, y) and/or relative (dx, dy) moves, in inches."""
        if self.full:  # nothing more is written: the position no longer matters
            return
        run_chars, self.run_chars = self.run_chars, 0
        new_y = (self.y if y is None else y) + dy
        if abs(new_y - self.y) > 0.4 * self.em:
            self.newline()
            self.y = new_y
            self.x = (self.x if x is None else x) + dx
            return
        self.y = new_y
        gap = dx if x is None else (x - self.x + dx)
        # A word space is ~0.25 em; kerning and rounding stay below 0.15 em. After an absolute
        # move the gap is measured from an estimated end of the text (average glyph widths): a
        # driver that placed a run of several characters places the next one after a word break,
        # so the estimate's error (about 0.12 em a character) is tolerated before a space is lost.
        threshold = 0.15 * self.em
        if x is not None and run_chars > 1:
            threshold = -0.12 * self.em * min(run_chars, 20)
        if self.line_has_text and (gap > threshold or gap < -2.0 * self.em):
            self.pending_space = True
        self.x += gap

    def result(self) -> str:
        return "".join([*self.joined, *self.parts]).strip("\n")


@dataclass
class PageState:
    start: int
    marked: bool = False
    has_text: bool = False  # printed characters other than white space
    raster_rows: int = 0


# The commands Pcl5Reader._command acts on, besides symbol sets ESC(#X (no group character).
COMMAND_KEYS = frozenset(
    (
        "&aC",
        "&aH",
        "&aR",
        "&aV",
        "*pX",
        "*pY",
        "&fS",
        "&uD",
        "&kH",
        "&lC",
        "&lD",
        "(sV",
        "(sH",
        "(sP",
        "&tP",
        "&pX",
        "&lX",
        "&lA",
        "&lO",
        "&lH",
        "&lS",
        "*tR",
        "*rS",
        "*rT",
        "*rU",
        "*rA",
        "*bY",
        "*bW",
        "*cP",
        ")sW",
    )
)


def enters_hpgl(key: str) -> bool:
    """ESC%#B, with any group char: HP-GL/2 mode follows (PCL5 TRM "Enter HP-GL/2 Mode")."""
    return key[0] == "%" and key[-1] == "B"


def acts_on(key: str) -> bool:
    """Whether Pcl5Reader._command does something for the command ``key``."""
    return key in COMMAND_KEYS or (len(key) == 2 and key[0] == "(")


@dataclass(frozen=True, slots=True)
class SequencePlan:
    """What a well-formed parameterised sequence without data does, worked out once for the
    same bytes: the commands it counts, the ones Pcl5Reader._command acts on, in order, as (key,
    value field), and whether HP-GL/2 mode follows it (an ESC%#B in it ends it)."""

    count: int
    effective: tuple[tuple[str, str], ...]
    hpgl: bool


def plan_sequence(sequence: bytes) -> SequencePlan | None:
    """The plan of a ``sequence`` token (ESC, parameterised char, …), read the way
    _parse_sequence reads it; None when a command of it carries data."""
    prefix = chr(sequence[1])
    group = chr(sequence[2]) if sequence[2] in GROUP_OR_PARAMETER else ""
    prefix += group
    commands = [
        (prefix + letter.decode().upper(), value.decode())
        for value, letter in SEQUENCE_COMMAND.findall(sequence, 2 + len(group))
    ]
    if any(carries_data(key, group) for key, _ in commands):
        return None
    hpgl = False
    for index, (key, _) in enumerate(commands):
        if enters_hpgl(key):  # the general decoder stops at it
            commands, hpgl = commands[: index + 1], True
            break
    effective = tuple(command for command in commands if acts_on(command[0]))
    return SequencePlan(len(commands), effective, hpgl)


class Pcl5Reader:
    """One pass over a PCL 5 stream."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.layout = TextLayout(limit=limit)
        self.hpgl_text: list[str] = []
        self.hpgl_chars = 0
        self.limit = limit
        self.notes: list[str] = []
        self.complete = True
        self.pages: list[PageRef] = []
        self.page_count = 0
        self.page = PageState(start=0)
        self.end = len(data)
        self.commands = 0
        self.malformed = 0
        self.soft_fonts: list[str] = []
        self.soft_font_downloads = 0
        self.raster_starts = 0
        self.raster_rows = 0
        self.copies: int | None = None
        self.media: str | None = None
        self.orientation: str | None = None
        self.duplex: str | None = None
        self.resolution: int | None = None
        self.color: str | None = None
        self.raster_width: int | None = None
        self.raster_height: int | None = None
        self.units_per_inch = 300.0  # PCL5 TRM ch. 4: PCL unit default 1/300 inch (ESC&u#D)
        self.hmi = 0.1  # column width, inches (10 pitch)
        self.vmi = 1.0 / 6.0  # row height, inches (6 lines per inch)
        self.cursor_stack: list[tuple[float, float]] = []
        self.codec = "latin-1"
        self.symbol_set: str | None = None
        self.high_bytes_unmapped = False
        self.utf8_text = False
        self.sequence_plans: dict[bytes, SequencePlan | None] = {}

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> None:
        """Reads the stream token by token (TOKEN) up to its end or a UEL."""
        data = self.data
        pos = 0
        size = len(data)
        next_token = TOKEN.match
        while pos < size:
            token = next_token(data, pos)
            assert token is not None  # TOKEN matches any byte
            kind = token.lastgroup
            if kind == "text":
                self._text(token.group())
                pos = token.end()
            elif kind == "words":
                self._word_steps(token.group())
                pos = token.end()
            elif kind == "move":
                self.commands += 1
                self._move_pcl_units(token.group("move_value"), token.group("move_axis"))
                pos = token.end()
            elif kind == "position":
                self.commands += 2
                self._move_pcl_units(token.group("position_x"), b"X")
                self._move_pcl_units(token.group("position_y"), b"Y")
                pos = token.end()
            elif kind == "raster_row":
                pos = self._raster_row(token.group("row_length"), pos, token.end())
            elif kind == "row_lines":
                self._row_lines(token.group(), pos)
                pos = token.end()
            elif kind == "control":
                self._control(data[pos], pos)
                pos += 1
            elif kind == "lines":
                self._lines(token.group(), pos)
                pos = token.end()
            elif kind == "two_character":
                pos = self._two_character(data[pos + 1], pos)
            elif kind == "sequence":
                pos = self._sequence(token.group(), pos, token.end())
            elif kind == "escape":
                pos = self._escape(pos)
            else:  # the UEL
                self.end = pos
                if data[pos + len(UEL) :].strip(b"\r\n\t \x00"):
                    self.notes.append(f"UEL at {pos} ends the PCL stream")
                break
        self._eject(self.end, final=True)

    def _text(self, raw: bytes) -> None:
        if self.utf8_text:
            codec = "utf-8"
        else:
            codec = self.codec
            if self.symbol_set is None and not raw.isascii():
                self.high_bytes_unmapped = True
        page = self.page
        if page.has_text and self.layout.full:
            return  # the text is no longer kept and the page is known to hold some
        if codec in ASCII_SUPERSETS and raw.isascii():
            text = raw.decode("ascii")  # the same characters, without the codec's lookup
        else:
            text = raw.decode(codec, errors="replace")
        self.layout.text(text)
        if not page.has_text and text.strip():
            page.marked = page.has_text = True

    def _lines(self, block: bytes, pos: int) -> None:
        """A ``lines`` token at ``pos``: text runs (or none), each ended by CR LF, as plain text
        is sent. The same as a ``text`` token and the two control codes for each line."""
        codec = "utf-8" if self.utf8_text else self.codec
        if codec not in ASCII_SUPERSETS or not block.isascii():
            start = 0
            for line_end in LINE_ENDS.finditer(block):
                if line_end.start() > start:
                    self._text(block[start : line_end.start()])
                self._control(0x0D, pos + line_end.start())
                self._control(0x0A, pos + line_end.start() + 1)
                start = line_end.end()
            return
        layout = self.layout
        page = self.page
        if layout.full and page.has_text:
            return  # nothing more is written and the page is known to hold text
        first, *rest = block.decode("ascii").split("\r\n")[:-1]
        self._ended_line(first)
        if rest:  # the first line's CR LF left an empty line: the rest in one loop
            self._ended_lines(rest, None)

    def _ended_line(self, line: str) -> None:
        """An ASCII text run (or none) and the CR LF after it, wherever the layout stands."""
        layout = self.layout
        if line:
            layout.text(line)
            if not self.page.has_text and line.strip():
                self.page.marked = self.page.has_text = True
        # CR before LF returns the carriage, LF (PCL5 TRM ch. 3) ends the line too.
        layout.newline(hard=not layout.line_has_text)
        layout.y += self.vmi
        layout.x = 0.0

    def _ended_lines(self, lines: list[str], rows: list[str] | None) -> None:
        """TextLayout.ended_lines, and the page marked as holding text if a line holds some.
        The layout may be full (the text cap reached): then only the page is marked."""
        page = self.page
        if not page.has_text and any(not line.isspace() for line in lines if line):
            page.marked = page.has_text = True
        if not self.layout.full:
            self.layout.ended_lines(lines, self.vmi, rows)

    def _row_lines(self, block: bytes, pos: int) -> None:
        """A ``row_lines`` token at ``pos``: for each row line, what a ``sequence`` token of its
        ESC&a#R and a ``lines`` token of its text do, in one loop when the symbol set reads
        ASCII as ASCII and the text is ASCII."""
        codec = "utf-8" if self.utf8_text else self.codec
        if codec not in ASCII_SUPERSETS or not block.isascii():
            for row in ROW_LINES.finditer(block):
                self.commands += 1
                self._move_y(number(row.group(1)) * self.vmi, False)
                self._lines(block[row.start(2) : row.end()], pos + row.start(2))
            return
        layout = self.layout
        page = self.page
        if layout.full and page.has_text:  # nothing more is written: the commands are counted
            self.commands += block.count(ESC)  # one a row line: text holds no ESC
            return
        (row, first), *rest = ROW_LINES_TEXT.findall(block.decode("ascii"))
        self.commands += 1 + len(rest)
        layout.move(y=float(row) * self.vmi)  # &aR, as _command moves: rows of VMI
        self._ended_line(first)
        if rest:  # the first line's CR LF left an empty line: the rest in one loop
            self._ended_lines([line for _, line in rest], [row for row, _ in rest])

    def _control(self, byte: int, offset: int) -> None:
        """PCL5 TRM ch. 3 "Control Codes"."""
        layout = self.layout
        if byte == 0x0D:  # CR: to the left margin
            following = self.data[offset + 1 : offset + 2]
            if following != b"\n":
                layout.newline()
            layout.x = 0.0
        elif byte == 0x0A:  # LF: next line
            layout.newline(hard=not layout.line_has_text)
            layout.y += self.vmi
            layout.x = 0.0
        elif byte == 0x0C:  # FF: eject the page
            self._eject(offset + 1, final=False, force=True)
        elif byte == 0x09:  # HT: next tab stop (every 8 columns)
            layout.text(" ")
        # BS (overstrike), SO/SI (secondary/primary font), NUL and others change no text.

    def _two_character(self, second: int, pos: int) -> int:
        """ESC X: the command at ``pos``; returns the offset after it."""
        self.commands += 1
        if second == 0x45:  # E, PCL5 TRM ch. 4 "Printer Reset": ejects a marked page, resets
            self._eject(pos, final=False)
            self.units_per_inch = 300.0
            self.hmi, self.vmi = 0.1, 1.0 / 6.0
            self.layout.point_size, self.layout.pitch = 12.0, 10.0
            self.codec, self.symbol_set = "latin-1", None
        elif second == 0x3D:  # =, half line feed
            self.layout.move(dy=self.vmi / 2)
        elif second == 0x59:  # Y, display functions: bytes print as-is until ESC Z
            stop = self.data.find(b"\x1bZ", pos + 2)
            return len(self.data) if stop < 0 else stop
        return pos + 2

    def _word_steps(self, run: bytes) -> None:
        """A ``words`` token: ESC*p+#X and a word, again and again; the same as a ``move`` and a
        ``text`` token each, in one call to the layout when the symbol set reads ASCII as ASCII
        (all but UTF-16)."""
        if ("utf-8" if self.utf8_text else self.codec) not in ASCII_SUPERSETS:
            for value, word in WORD_STEPS.findall(run.decode("ascii")):
                self.commands += 1
                self._move_pcl_units(value.encode(), b"X")
                self._text(word.encode())
            return
        page = self.page
        page.marked = page.has_text = True  # words are printable characters
        if self.layout.full:  # nothing more is written: the commands are only counted
            self.commands += run.count(ESC)  # one a step: words hold no ESC
            return
        steps = WORD_STEPS.findall(run.decode("ascii"))
        self.commands += len(steps)
        units = self.units_per_inch
        self.layout.moves_and_words([(float(value) / units, word) for value, word in steps])

    def _move_pcl_units(self, raw_value: bytes, axis: bytes) -> None:
        """ESC*p#X / ESC*p#Y (PCL5 TRM "Cursor Positioning"): position in PCL units."""
        amount = number(raw_value) / self.units_per_inch
        relative = raw_value[:1] in (b"+", b"-")
        if axis == b"X":
            self._move_x(amount, relative)
        else:
            self._move_y(amount, relative)

    def _raster_row(self, raw_length: bytes, pos: int, cursor: int) -> int:
        """ESC*b#W (PCL5 TRM "Transfer Raster Data"): a row of ``#`` bytes, skipped; returns the
        offset after it."""
        self.commands += 1
        self.raster_rows += 1
        self.page.raster_rows += 1
        self.page.marked = True
        length = number(raw_length)
        return cursor + self._payload_length(
            int(length) if length > 0 else 0, "*b", "W", pos, cursor
        )

    def _payload_length(self, length: int, prefix: str, letter: str, pos: int, cursor: int) -> int:
        """The bytes a data command announces, cut to the bytes present (with a note)."""
        remaining = len(self.data) - cursor
        if length > remaining:
            self.notes.append(
                f"ESC{prefix}…{letter} at {pos} announces {length} bytes, {remaining} remain"
            )
            self.complete = False
            return remaining
        return length

    def _sequence(self, sequence: bytes, pos: int, end: int) -> int:
        """A ``sequence`` token ``data[pos:end]``; a sequence with data takes the general
        decoder. Returns the offset after it."""
        plans = self.sequence_plans
        if sequence in plans:
            plan = plans[sequence]
        else:
            plan = plan_sequence(sequence)
            if len(plans) >= MAX_SEQUENCE_PLANS:
                plans.clear()  # bounded; the sequences in use come back at once
            plans[sequence] = plan
        if plan is None:
            return self._escape(pos)
        self.commands += plan.count
        for key, value in plan.effective:
            self._command(key, value, pos, b"")
        return self._hpgl(end) if plan.hpgl else end

    def _escape(self, pos: int) -> int:
        """A combined sequence, a data command, a malformed sequence or an ESC at the end of the
        data, at ``pos``; returns the offset after it."""
        data = self.data
        if pos + 1 >= len(data):
            self.notes.append(f"stream ends inside an escape sequence at {pos}")
            self.complete = False
            return len(data)
        parsed = _parse_sequence(data, pos)
        if parsed is None:
            self.malformed += 1
            return pos + 1
        commands, cursor = parsed
        parameterised, group = commands[0][0].parameterised, commands[0][0].group
        while True:
            for command, _lower in commands:
                self.commands += 1
                key = command.key
                if carries_data(key, group):
                    length = int(command.number) if command.number > 0 else 0
                    length = self._payload_length(length, key[:-1], command.letter, pos, cursor)
                    self._command(key, command.value, pos, data[cursor : cursor + length])
                    cursor += length
                else:
                    self._command(key, command.value, pos, b"")
                if enters_hpgl(key):
                    return self._hpgl(cursor)
            last = commands[-1]
            # A data command written in lower case continues the sequence after its data.
            if not (last[1] and carries_data(last[0].key, group)) or cursor >= len(data):
                return cursor
            more = _continue_sequence(data, cursor, parameterised, group, pos)
            if more is None:
                return cursor
            commands, cursor = more

    # -- commands ----------------------------------------------------------------------------

    def _command(self, key: str, raw_value: str, offset: int, payload: bytes) -> None:
        """The command ``key`` (see Command.key) with the value field ``raw_value``, from the
        sequence at ``offset``; ``payload``: the data of a data command."""
        if not acts_on(key):
            return  # a command that changes nothing read here (most font and raster settings)
        value = number(raw_value)
        relative = raw_value[:1] in ("+", "-")
        layout = self.layout
        if key == "&aC":  # horizontal cursor position, columns
            self._move_x(value * self.hmi, relative)
        elif key == "&aH":  # decipoints
            self._move_x(value / 720.0, relative)
        elif key == "&aR":  # vertical position, rows
            self._move_y(value * self.vmi, relative)
        elif key == "&aV":
            self._move_y(value / 720.0, relative)
        elif key == "*pX":  # PCL units
            self._move_x(value / self.units_per_inch, relative)
        elif key == "*pY":
            self._move_y(value / self.units_per_inch, relative)
        elif key == "&fS":  # push (0) / pop (1) cursor position
            if value == 0 and len(self.cursor_stack) < 20:  # PCL5 TRM: 20 levels
                self.cursor_stack.append((layout.x, layout.y))
            elif value == 1 and self.cursor_stack:
                x, y = self.cursor_stack.pop()
                layout.move(x=x, y=y)
        elif key == "&uD" and value > 0:
            self.units_per_inch = value
        elif key == "&kH" and value > 0:  # HMI in 1/120 inch
            self.hmi = value / 120.0
        elif key == "&lC" and value > 0:  # VMI in 1/48 inch
            self.vmi = value / 48.0
        elif key == "&lD" and value > 0:  # lines per inch
            self.vmi = 1.0 / value
        elif key == "(sV" and value > 0:  # primary font height, points
            layout.point_size = value
        elif key == "(sH" and value > 0:  # primary font pitch, characters per inch
            if layout.pitch is not None:  # only fixed-spaced fonts have a pitch
                layout.pitch = value
                layout.point_size = 120.0 / value  # Courier: 10 pitch = 12 pt
        elif key == "(sP":  # spacing: 0 fixed, 1 proportional
            layout.pitch = None if value == 1 else (layout.pitch or 10.0)
        elif len(key) == 2 and key[0] == "(" and key[1] not in "X@":
            # Primary symbol set "ESC(#X": value and letter form the ID, e.g. "8U", "19U".
            ident = f"{raw_value.lstrip('+')}{key[1]}"
            self.symbol_set = ident
            self.codec = SYMBOL_SET_CODECS.get(ident, "latin-1")
        elif key == "&tP":  # text parsing method: 83 = UTF-8 (PCL5 TRM, Asian/Unicode)
            self.utf8_text = value == 83
        elif key == "&pX":  # transparent print data: printed as characters
            printable = bytes(b for b in payload if b >= 0x20)
            if printable:
                self._text(printable)
        elif key == "&lX" and value >= 1:
            self.copies = int(min(value, 9999))
        elif key == "&lA":
            self._eject(offset, final=False)
            self.media = PAGE_SIZES.get(int(value), f"page size {int(value)}")
        elif key == "&lO":
            self._eject(offset, final=False)
            self.orientation = ORIENTATIONS.get(int(value))
        elif key == "&lH" and value != 0:  # paper source: ejects a marked page
            self._eject(offset, final=False)
        elif key == "&lS":
            self.duplex = DUPLEX.get(int(value))
        elif key == "*tR" and value > 0:
            self.resolution = int(min(value, 100_000))
        elif key == "*rS" and value > 0:
            self.raster_width = int(min(value, 1_000_000))
        elif key == "*rT" and value > 0:
            self.raster_height = int(min(value, 1_000_000))
        elif key == "*rU":
            self.color = SIMPLE_COLOR.get(int(value), self.color)
        elif key == "*rA":
            self.raster_starts += 1
        elif key == "*bY" and value > 0:  # y offset: skipped (blank) raster rows
            self.page.raster_rows += int(min(value, 1_000_000))
        elif key == "*bW":
            self.raster_rows += 1
            self.page.raster_rows += 1
            self.page.marked = True
        elif key == "*cP":  # fill rectangular area
            self.page.marked = True
        elif key == ")sW" and len(payload) >= 64:
            # PCL5 TRM ch. 11 font descriptor: bytes 48–63 hold the font name.
            self.soft_font_downloads += 1
            name = clean_field(payload[48:64].decode("latin-1"), 16)
            if name and name not in self.soft_fonts and len(self.soft_fonts) < MAX_FONT_NAMES:
                self.soft_fonts.append(name)
        elif key == ")sW":
            self.soft_font_downloads += 1

    def _move_x(self, amount: float, relative: bool) -> None:
        if relative:
            self.layout.move(dx=amount)
        else:
            self.layout.move(x=amount)

    def _move_y(self, amount: float, relative: bool) -> None:
        if relative:
            self.layout.move(dy=amount)
        else:
            self.layout.move(y=amount)

    # -- HP-GL/2 -----------------------------------------------------------------------------

    def _hpgl(self, pos: int) -> int:
        """HP-GL/2 mode after ESC%#B, up to the next ESC (ESC%#A returns to PCL): labels (LB)
        become text; drawing instructions mark the page (HP-GL/2 Reference Guide)."""
        data = self.data
        size = len(data)
        terminator = ETX
        label_lines: list[str] = []
        while pos < size:
            byte = data[pos]
            if byte == ESC:
                break
            if not (0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A):
                pos += 1  # separators, ';' and stray bytes
                continue
            if pos + 1 >= size:
                break
            mnemonic = data[pos : pos + 2].decode("latin-1").upper()
            if not mnemonic[1].isalpha():
                pos += 1
                continue
            pos += 2
            if mnemonic in HPGL_MARKING:
                self.page.marked = True
            if mnemonic == "LB":
                stop = pos
                while stop < size and data[stop] != terminator and data[stop] != ESC:
                    stop += 1
                label = data[pos:stop].decode("latin-1")
                label_lines.append(label)
                pos = stop + 1 if stop < size and data[stop] == terminator else stop
            elif mnemonic == "DT":
                # DT t[,mode]; — "DT;" restores ETX.
                if pos < size and data[pos] != ord(";") and data[pos] != ESC:
                    terminator = data[pos]
                    pos += 1
                else:
                    terminator = ETX
                pos = HPGL_PARAMETERS.match(data, pos).end()  # type: ignore[union-attr]
            elif mnemonic in ("PE", "CO", "BP", "DL", "SM"):
                # Encoded polylines, comments, plot names, downloaded characters and symbols
                # may hold letters: skip to the ';' (or a closing quote pair) before reading on.
                stop = data.find(b";", pos)
                esc = data.find(b"\x1b", pos)
                candidates = [value for value in (stop, esc) if value >= 0]
                stop = min(candidates) if candidates else size
                pos = stop + 1 if stop < size and data[stop] == ord(";") else stop
            else:
                pos = HPGL_PARAMETERS.match(data, pos).end()  # type: ignore[union-attr]
        for label in label_lines:
            text = "\n".join(part for part in re.split(r"[\r\n]+", label) if part)
            text = clean_label(text)
            if text and self.hpgl_chars < self.limit:
                text = text[: self.limit - self.hpgl_chars]
                self.hpgl_text.append(text)
                self.hpgl_chars += len(text) + 1
        return pos

    # -- pages -------------------------------------------------------------------------------

    def _eject(self, offset: int, final: bool, force: bool = False) -> None:
        """Close the current page when it carries marks (or on a form feed)."""
        page = self.page
        if not (page.marked or force):
            return
        self.page_count += 1
        if len(self.pages) < MAX_PAGES:
            # Raster dimensions only where the job states them (ESC*r#S / ESC*r#T); the rows
            # transferred are no page height (blank rows are skipped by ESC*b#Y or omitted).
            width = self.raster_width
            height = self.raster_height
            self.pages.append(
                PageRef(
                    number=self.page_count,
                    offset=page.start,
                    length=max(offset - page.start, 0),
                    width=width if page.raster_rows else None,
                    height=height if page.raster_rows else None,
                    unit="px",
                    resolution=f"{self.resolution} dpi" if self.resolution else None,
                    color=self.color,
                    image_only=page.raster_rows > 0 and not page.has_text,
                )
            )
        self.layout.page_break()
        self.page = PageState(start=offset)


def clean_label(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text).strip()


# -- the command stream, for other readers (the page renderer) ------------------------------------

# Keys of the items iter_commands yields besides parameterised commands (Command.key, "*bW") and
# two-character commands (the character after the ESC, "E").
TEXT = "text"  # printable bytes (payload)
CONTROL = "control"  # one control code other than ESC (payload)
HPGL = "hpgl"  # HP-GL/2 instructions after ESC%#B, up to the next ESC (payload)
MALFORMED = "malformed"  # an ESC that starts no well-formed sequence: skipped
CUT = "cut"  # the data ends inside an escape sequence
# The start of a parameterised sequence without its termination character, up to the data's end.
SEQUENCE_START = re.compile(rb"\x1b[\x21-\x2f][\x60-\x7e]?(?:[+-]?[0-9.]*[\x60-\x7e])*[+-]?[0-9.]*")
SEQUENCE_START_CHARS = MAX_COMBINED * (MAX_VALUE_CHARS + 1) + 3
WORD_STEP_BYTES = re.compile(rb"\x1b\*p([+-][0-9]+)X([\x21-\x7e]+)")  # WORD_STEPS on bytes


class StreamItem(NamedTuple):
    """One thing of a PCL 5 stream in order: a command, a text run, a control code.

    A NamedTuple, not a frozen dataclass: a renderer reads one item for every command and text
    run of a page, and a tuple is built in half the time (0.33 against 0.71 us)."""

    offset: int  # of the escape sequence (all commands of a combined one share it) or the bytes
    key: str
    value: str = ""  # the value field as written, sign included
    payload: bytes = b""  # data of a data command, cut to the bytes present; text; control

    @property
    def number(self) -> float:
        return number(self.value)


def iter_commands(data: bytes) -> Iterator[StreamItem]:
    """The commands, text runs and control codes of a PCL 5 stream up to its end or a UEL, read
    as Pcl5Reader reads them (the same TOKEN forms, the same general decoder, data commands
    skipped by their length), for readers that act on commands the parser does not keep.

    A data command whose data the stream cuts short has a payload shorter than its value."""
    pos = 0
    size = len(data)
    next_token = TOKEN.match
    plans: dict[bytes, tuple[tuple[str, str], ...] | None] = {}
    while pos < size:
        token = next_token(data, pos)
        assert token is not None  # TOKEN matches any byte
        kind = token.lastgroup
        end = token.end()
        if kind == "raster_row":
            length = number(token.group("row_length"))
            stop = min(end + (int(length) if length > 0 else 0), size)
            yield StreamItem(pos, "*bW", token.group("row_length").decode(), data[end:stop])
            pos = stop
        elif kind == "text":
            yield StreamItem(pos, TEXT, payload=token.group())
            pos = end
        elif kind == "move":
            axis = token.group("move_axis").decode()
            yield StreamItem(pos, "*p" + axis, token.group("move_value").decode())
            pos = end
        elif kind == "position":
            yield StreamItem(pos, "*pX", token.group("position_x").decode())
            yield StreamItem(pos, "*pY", token.group("position_y").decode())
            pos = end
        elif kind == "words":
            for step in WORD_STEP_BYTES.finditer(token.group()):
                yield StreamItem(pos + step.start(), "*pX", step.group(1).decode())
                yield StreamItem(pos + step.start(2), TEXT, payload=step.group(2))
            pos = end
        elif kind == "row_lines":
            block = token.group()
            for row in ROW_LINES.finditer(block):
                yield StreamItem(pos + row.start(), "&aR", row.group(1).decode())
                if row.end(2) > row.start(2):
                    yield StreamItem(pos + row.start(2), TEXT, payload=row.group(2))
                yield StreamItem(pos + row.end(2), CONTROL, payload=b"\r")
                yield StreamItem(pos + row.end(2) + 1, CONTROL, payload=b"\n")
            pos = end
        elif kind == "lines":
            block = token.group()
            start = 0
            for line_end in LINE_ENDS.finditer(block):
                if line_end.start() > start:
                    yield StreamItem(pos + start, TEXT, payload=block[start : line_end.start()])
                yield StreamItem(pos + line_end.start(), CONTROL, payload=b"\r")
                yield StreamItem(pos + line_end.start() + 1, CONTROL, payload=b"\n")
                start = line_end.end()
            pos = end
        elif kind == "control":
            yield StreamItem(pos, CONTROL, payload=data[pos : pos + 1])
            pos = end
        elif kind == "two_character":
            second = chr(data[pos + 1])
            yield StreamItem(pos, second)
            pos += 2
            if second == "Y":  # display functions: bytes print as-is up to ESC Z
                stop = data.find(b"\x1bZ", pos)
                stop = size if stop < 0 else stop
                if stop > pos:
                    yield StreamItem(pos, TEXT, payload=data[pos:stop])
                pos = stop
        elif kind == "sequence":
            sequence = token.group()
            if sequence in plans:
                plan = plans[sequence]
            else:
                plan = _sequence_commands(sequence)
                if len(plans) >= MAX_SEQUENCE_PLANS:
                    plans.clear()
                plans[sequence] = plan
            if plan is None:  # a data command: the general decoder
                pos = yield from _iter_escape(data, pos)
                continue
            for key, value in plan:
                yield StreamItem(pos, key, value)
                if enters_hpgl(key):
                    pos = yield from _iter_hpgl(data, end)
                    break
            else:
                pos = end
        elif kind == "escape":
            pos = yield from _iter_escape(data, pos)
        else:  # the UEL ends the PCL stream
            return


def _sequence_commands(sequence: bytes) -> tuple[tuple[str, str], ...] | None:
    """(key, value field) of each command of a ``sequence`` token, as plan_sequence reads them;
    None when one carries data."""
    prefix = chr(sequence[1])
    group = chr(sequence[2]) if sequence[2] in GROUP_OR_PARAMETER else ""
    commands = tuple(
        (prefix + group + letter.decode().upper(), value.decode())
        for value, letter in SEQUENCE_COMMAND.findall(sequence, 2 + len(group))
    )
    if any(carries_data(key, group) for key, _ in commands):
        return None
    return commands


def _iter_hpgl(data: bytes, pos: int) -> Generator[StreamItem, None, int]:
    """HP-GL/2 mode from ``pos`` to the next ESC (Pcl5Reader._hpgl stops there too)."""
    stop = data.find(b"\x1b", pos)
    stop = len(data) if stop < 0 else stop
    if stop > pos:
        yield StreamItem(pos, HPGL, payload=data[pos:stop])
    return stop


def _iter_escape(data: bytes, pos: int) -> Generator[StreamItem, None, int]:
    """The general decoder (Pcl5Reader._escape) at ``data[pos] == ESC``: yields the items,
    returns the offset after them."""
    size = len(data)
    if pos + 1 >= size:
        yield StreamItem(pos, CUT)
        return size
    parsed = _parse_sequence(data, pos)
    if parsed is None:
        if size - pos <= SEQUENCE_START_CHARS and SEQUENCE_START.fullmatch(data, pos):
            yield StreamItem(pos, CUT)  # a sequence that only the end of the data cuts short
            return size
        yield StreamItem(pos, MALFORMED)
        return pos + 1
    commands, cursor = parsed
    parameterised, group = commands[0][0].parameterised, commands[0][0].group
    while True:
        for command, _lower in commands:
            key = command.key
            payload = b""
            if carries_data(key, group):
                length = int(command.number) if command.number > 0 else 0
                payload = data[cursor : cursor + length]
                cursor += len(payload)
            yield StreamItem(pos, key, command.value, payload)
            if enters_hpgl(key):
                return (yield from _iter_hpgl(data, cursor))
        last = commands[-1]
        if not (last[1] and carries_data(last[0].key, group)) or cursor >= size:
            return cursor
        more = _continue_sequence(data, cursor, parameterised, group, pos)
        if more is None:
            return cursor
        commands, cursor = more


def _valid_sequences(head: bytes, need: int) -> int:
    """How many well-formed escape sequences ``head`` starts with (stops at the first bad one)."""
    pos = 0
    found = 0
    size = len(head)
    while pos < size and found < need:
        if head[pos] != ESC:
            run = TEXT_RUN.match(head, pos)
            if run is None and head[pos] not in b"\r\n\t\x0c\x00":
                return found
            pos = run.end() if run else pos + 1
            continue
        if head.startswith(UEL, pos):
            return found
        if pos + 1 < size and head[pos + 1] in TWO_CHARACTER:
            found += 1
            pos += 2
            continue
        parsed = _parse_sequence(head, pos)
        if parsed is None:
            return found if pos + 3 < size else found + 1  # cut off by the window: give credit
        commands, cursor = parsed
        found += 1
        last = commands[-1][0]
        if carries_data(last.key, last.group):
            cursor += int(last.number) if last.number > 0 else 0
        pos = cursor
    return found


class Pcl5Parser(FormatParser):
    name = "pcl5"
    description = "HP PCL 5 job (escape sequences, text, raster, HP-GL/2 labels)"
    priority = 60  # after formats with real magic numbers

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if head[:1] != b"\x1b" or head.startswith(UEL):
            return False
        if head[:2] == b"\x1bE":  # PCL5 TRM ch. 4: jobs start with a printer reset
            return True
        window = head[:SNIFF_WINDOW]
        return _valid_sequences(window, 2) >= min(2, max(1, len(window) // 8))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        data = data[:MAX_PARSE_BYTES]
        probe = data[:PARSE_PROBE]
        first_escape = probe.find(b"\x1b")
        if first_escape < 0 or _valid_sequences(probe[first_escape:], 1) < 1:
            raise NotThisFormat("no PCL escape sequence near the start")
        limit = min(MAX_TEXT_CHARS, ctx.max_output)
        reader = Pcl5Reader(data, limit)
        job = ParsedJob(format=self.name)
        try:
            reader.run()
        except (ValueError, IndexError, UnicodeError, OverflowError) as error:
            log.debug("PCL 5 parse failed", exc_info=True)
            reader.complete = False
            reader.notes.append(f"PCL 5 parse stopped: {type(error).__name__}: {error}")
        self._finish(job, reader)
        return job

    def extent(self, buf: bytes, offset: int) -> int | None:
        """PCL 5 has no end marker; a UEL (PJL framing) ends it when present."""
        stop = buf.find(UEL, offset + 1, offset + MAX_PARSE_BYTES)
        return stop - offset if stop > offset else None

    @staticmethod
    def _finish(job: ParsedJob, reader: Pcl5Reader) -> None:
        job.length = reader.end
        job.pages = reader.pages
        job.complete = reader.complete
        job.notes.extend(reader.notes)
        if reader.page_count > len(reader.pages):
            job.notes.append(f"{reader.page_count} pages; only {len(reader.pages)} listed")
        if reader.malformed:
            job.notes.append(f"{reader.malformed} malformed escape sequences skipped")
        if reader.high_bytes_unmapped:
            job.notes.append(
                "bytes 0x80–0xFF read as Latin-1: no symbol set was selected (printer default "
                "is usually Roman-8 or PC-8, which differ in the high half)"
            )
        heuristic = reader.soft_font_downloads > 0
        if heuristic:
            job.notes.append(
                "downloaded soft fonts: character codes may be driver-assigned, text is heuristic"
            )
        text = reader.layout.result()
        if text.strip():
            job.texts.append(
                DecodedText(name="text", text=text, heuristic=heuristic, source_offset=0)
            )
        if reader.hpgl_text:
            job.texts.append(DecodedText(name="HP-GL/2 labels", text="\n".join(reader.hpgl_text)))
        if reader.layout.full:
            job.notes.append("text output cap reached")
            job.complete = False
        extra: list[tuple[str, str]] = [("pcl_commands", str(reader.commands))]
        if reader.orientation:
            extra.append(("orientation", reader.orientation))
        if reader.duplex:
            extra.append(("duplex", reader.duplex))
        if reader.symbol_set:
            extra.append(("symbol_set", reader.symbol_set))
        if reader.raster_starts:
            extra.append(("raster_graphics_blocks", str(reader.raster_starts)))
        if reader.raster_rows:
            extra.append(("raster_rows", str(reader.raster_rows)))
        if reader.soft_fonts:
            extra.append(("soft_fonts", ", ".join(reader.soft_fonts)[:MAX_FIELD_CHARS]))
        job.metadata = replace(
            JobMetadata(),
            pages=reader.page_count,
            copies=reader.copies,
            media=reader.media,
            resolution=f"{reader.resolution} dpi" if reader.resolution else None,
            document_format="application/vnd.hp-PCL",
            extra=tuple(extra),
        )
