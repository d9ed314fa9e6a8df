"""LPD control files (RFC 1179 §7): one command letter and its operand per line.

BSD lpd, LPRng, CUPS' lpd backend, Windows LPR and printers' own LPD servers keep the job as a
control file ``cfA<3-digit job number><host>`` beside its data files ``dfA…``; the control file
names the user (``P``), host (``H``), job (``J``), source file (``N``) and each data file to
print with the letter that says how (``f`` text, ``l`` literal, ``o`` PostScript, …).
"""

from __future__ import annotations

import logging
import re

from forensics.formats.base import (
    CarvePattern,
    DecodedText,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    ParseContext,
    ParsedJob,
    clean_field,
)

log = logging.getLogger(__name__)

MAX_CONTROL_BYTES = 256 * 1024  # RFC 1179 control files are a few hundred bytes
MAX_LINES = 10_000
CARVE_LOOKBACK = 4096  # a control file's lines before the data-file name

# RFC 1179 §7.2-§7.27: control lines that describe the job.
ATTRIBUTE_LINES = {
    "C": "class",  # §7.2, class for banner page
    "H": "host",  # §7.3
    "I": "indent",  # §7.4
    "J": "job name",  # §7.5
    "L": "banner user",  # §7.6, print banner page
    "M": "mail to",  # §7.7
    "N": "source file",  # §7.8
    "P": "user",  # §7.9
    "S": "symbolic link data",  # §7.10, device and inode
    "T": "title",  # §7.11, title for pr
    "U": "unlink",  # §7.12, data file to remove after printing
    "W": "width",  # §7.13
    "1": "troff R font",  # §7.14
    "2": "troff I font",  # §7.15
    "3": "troff B font",  # §7.16
    "4": "troff S font",  # §7.17
}
# RFC 1179 §7.18-§7.27: print the named data file as ...
PRINT_LINES = {
    "c": "CIF file",  # §7.18
    "d": "DVI file",  # §7.19
    "f": "formatted file",  # §7.20
    "g": "plot file",  # §7.21
    "l": "file leaving control characters",  # §7.22
    "n": "ditroff output file",  # §7.23
    "o": "PostScript file",  # §7.24
    "p": "file with pr format",  # §7.25
    "r": "file with FORTRAN carriage control",  # §7.26
    "t": "troff output file",  # §7.27
    "v": "raster file",  # §7.28
}
# RFC 1179 §7: 'k' and 'z' are reserved (Kerberized / Palladium) but valid lines.
RESERVED_LINES = {"k", "z"}
VALID_LETTERS = set(ATTRIBUTE_LINES) | set(PRINT_LINES) | RESERVED_LINES
DOCUMENT_FORMATS = {"o": "application/postscript", "f": "text/plain"}
# RFC 1179 §7.2-§7.9 operand limits (class, host, user 31; job name 99; source file 131),
# used only to bound what a strict sniff accepts; parse keeps longer operands with a note.
_OPERAND_LIMITS = {"C": 31, "H": 31, "P": 31, "J": 99, "N": 131, "T": 79, "L": 31}
_SNIFF_OPERAND_LIMIT = 1024

# RFC 1179 §6.2/§6.3: control "cfA" and data "dfA" + 3-digit job number + host name.
_FILE_NAME = re.compile(r"([cd])f[A-Za-z](\d{3})(.*)")
_DATA_FILE = re.compile(r"df[A-Za-z]\d{3}\S*")


def _base_name(name: str | None) -> str:
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1]


def _pair_key(file_name: str) -> str | None:
    match = _FILE_NAME.fullmatch(file_name)
    if not match or not match.group(3):
        return None
    return f"lpd:{match.group(2)}{match.group(3)}"


def _lines(data: bytes) -> list[str] | None:
    """The control file's lines, or None when it is not 7-bit/8-bit text."""
    if b"\x00" in data:
        # A spool file may be padded with NULs by the file system; only trailing ones are ok.
        data = data.rstrip(b"\x00")
        if b"\x00" in data:
            return None
    text = data.decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _strict_line(line: str) -> bool:
    """A control line as RFC 1179 §7 writes it: a command letter and a printable operand."""
    if not line or line[0] not in VALID_LETTERS or len(line) > _SNIFF_OPERAND_LIMIT:
        return False
    operand = line[1:]
    if any(ord(ch) < 0x20 and ch != "\t" for ch in operand):
        return False
    if line[0] in PRINT_LINES or line[0] == "U":
        return bool(_DATA_FILE.fullmatch(operand))
    if line[0] in "HP":
        return bool(operand) and " " not in operand
    return True


class LpdControlParser(FormatParser):
    name = "lpd-control"
    role = "control"
    description = "LPD control file (RFC 1179 §7): host, user, job name, data files to print"
    priority = 60
    # Control files have no magic; every one names its data files "dfA<3 digits><host>" (RFC
    # 1179 §6.2) on a print or unlink line. The carver finds that name, then the file's first line.
    carve_patterns = (CarvePattern("/[a-zU]dfA[0-9]{3}/"),)

    @classmethod
    def carve_start(cls, buf: bytes, match: int, pattern: CarvePattern) -> int | None:
        """Back from the matched line, line by line, while each is a strict control line; the
        control file starts at the earliest ``H`` (host) line, which lpr writes first. The
        bytes before a carved control file are not a line: its ``H`` may follow them directly."""
        reach = _SNIFF_OPERAND_LIMIT + 2
        position = buf.rfind(b"\n", max(0, match - reach), match) + 1  # the matched line
        floor = max(0, match - CARVE_LOOKBACK)
        first_host: int | None = None
        while True:
            line_end = buf.find(b"\n", position, position + reach)
            if line_end < 0:
                break
            if not _strict_line(buf[position:line_end].decode("latin-1")):
                host = buf.rfind(b"H", position, line_end)
                if host >= 0 and _strict_line(buf[host:line_end].decode("latin-1")):
                    first_host = host  # garbage, then the file's first line
                break
            if buf[position : position + 1] == b"H":
                first_host = position
            if position <= floor:
                break
            # The line before ends at position - 1 and starts after the newline before that, or
            # (no newline within reach: the first line after other bytes) within reach of it.
            low = max(0, position - reach)
            newline = buf.rfind(b"\n", low, position - 1)
            position = newline + 1 if newline >= 0 else low
        return first_host

    def extent(self, buf: bytes, offset: int) -> int | None:
        """Forward over strict control lines; the file ends at the first line that is not one."""
        position = offset
        limit = min(len(buf), offset + MAX_CONTROL_BYTES)
        while position < limit:
            line_end = buf.find(b"\n", position, min(limit, position + _SNIFF_OPERAND_LIMIT + 2))
            if line_end < 0 or not _strict_line(buf[position:line_end].decode("latin-1")):
                break
            position = line_end + 1
        return (position - offset) or None

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        base = _base_name(name)
        match = _FILE_NAME.fullmatch(base)
        if match and match.group(1) == "c":
            return head[:1].isalnum() and b"\x00" not in head[:64]
        if not head.startswith(b"H"):
            return False
        # Without the name, be strict: every complete line in the head must be a valid command.
        lines = _lines(head[: head.rfind(b"\n") + 1] if b"\n" in head else b"")
        if not lines or len(lines) < 2:
            return False
        if not all(_strict_line(line) for line in lines):
            return False
        letters = {line[0] for line in lines}
        return "P" in letters or bool(letters & set(PRINT_LINES))

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        base = _base_name(ctx.name)
        name_match = _FILE_NAME.fullmatch(base)
        by_name = bool(name_match and name_match.group(1) == "c")
        window = data[:MAX_CONTROL_BYTES]
        lines = _lines(window)
        if not lines:
            raise NotThisFormat("not a text control file")
        if len(lines) > MAX_LINES:
            lines = lines[:MAX_LINES]
        if not by_name and not (
            lines[0].startswith("H") and all(_strict_line(line) for line in lines)
        ):
            raise NotThisFormat("not every line is an RFC 1179 control line")
        if not any(line[:1] in VALID_LETTERS for line in lines):
            raise NotThisFormat("no RFC 1179 control line")

        job = ParsedJob(format=self.name, length=min(len(data), MAX_CONTROL_BYTES))
        if len(data) > MAX_CONTROL_BYTES:
            job.complete = False
            job.notes.append(f"control file longer than {MAX_CONTROL_BYTES} bytes; rest not read")
        values: dict[str, list[str]] = {}
        prints: list[tuple[str, str]] = []
        unknown = 0
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            letter, operand = line[0], line[1:]
            if letter not in VALID_LETTERS:
                unknown += 1
                if unknown <= 5:
                    job.notes.append(f"line {number}: command {letter!r} is not in RFC 1179")
                continue
            limit = _OPERAND_LIMITS.get(letter)
            if limit is not None and len(operand) > limit:
                job.notes.append(
                    f"line {number}: {ATTRIBUTE_LINES[letter]} longer than RFC 1179's {limit}"
                )
            if letter in PRINT_LINES:
                prints.append((letter, operand))
            else:
                values.setdefault(letter, []).append(operand)
        if unknown > 5:
            job.notes.append(
                f"{unknown} lines with commands not in RFC 1179 (LPRng or vendor extensions)"
            )

        def first(letter: str) -> str | None:
            found = values.get(letter)
            return clean_field(found[0]) if found else None

        data_files = list(dict.fromkeys(operand for _, operand in prints))
        pair_key = _pair_key(base) if by_name else None
        if pair_key is None and data_files:
            pair_key = _pair_key(_base_name(data_files[0]))
        job.pair_key = pair_key

        extra: list[tuple[str, str]] = []
        for letter in ("C", "L", "T", "M", "I", "W", "S", "1", "2", "3", "4"):
            for operand in values.get(letter, [])[:16]:
                cleaned = clean_field(operand)
                if cleaned:
                    extra.append((ATTRIBUTE_LINES[letter], cleaned))
        for data_file in data_files[:64]:
            letters = sorted({letter for letter, operand in prints if operand == data_file})
            kinds = ", ".join(f"{PRINT_LINES[letter]} ({letter})" for letter in letters)
            extra.append(("data file", clean_field(f"{data_file}: {kinds}") or data_file))
        for unlinked in values.get("U", [])[:64]:
            cleaned = clean_field(unlinked)
            if cleaned:
                extra.append(("unlink", cleaned))

        # CUPS' lpd backend and BSD lpr repeat the print line once per copy (lpr -#N).
        copies = None
        if data_files:
            copies = max(sum(1 for _, operand in prints if operand == f) for f in data_files)
        print_letter = prints[0][0] if prints else None
        job.metadata = JobMetadata(
            user=first("P") or first("L"),
            host=first("H"),
            job_name=first("J"),
            document_name=first("N") or first("T"),
            data_type=f"{PRINT_LINES[print_letter]} ({print_letter})" if print_letter else None,
            document_format=DOCUMENT_FORMATS.get(print_letter or ""),
            job_id=name_match.group(2) if by_name and name_match else None,
            copies=copies,
            extra=tuple(extra),
        )
        if "P" not in values or "H" not in values:
            job.notes.append("mandatory H or P line missing (RFC 1179 §7.3, §7.9)")
        text = "\n".join(lines)
        job.texts.append(DecodedText("LPD control file", text, source_offset=0))
        return job
