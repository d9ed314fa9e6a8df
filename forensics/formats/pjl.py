"""HP Printer Job Language (PJL): job headers, accounting attributes, hold PINs, language switches.

Reference: HP "Printer Job Language Technical Reference Manual" (bpl13208), cited below as
"PJL TRM". A PJL stream is framed by the Universal Exit Language (UEL) ``ESC%-12345X`` (PJL TRM
ch. 4, "Universal Exit Language Command"); ``@PJL`` command lines follow, each ending in LF
(optionally CR LF, PJL TRM ch. 2 "PJL Command Syntax"); ``@PJL ENTER LANGUAGE=x`` hands the bytes
up to the next UEL to a page description language (PJL TRM ch. 5, "ENTER"). A job is delimited
by ``@PJL JOB`` … ``@PJL EOJ`` (PJL TRM ch. 6) and a stream may hold several jobs and several
language switches; each payload becomes an ``Embedded``, each job's ``@PJL`` lines a
``DecodedText`` (with PINs masked) so that the YARA rules see them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from forensics.formats.base import (
    MAX_EMBEDDED,
    MAX_FIELD_CHARS,
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    Embedded,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    ParseContext,
    ParsedJob,
    Signature,
    clean_field,
    yara_hex,
)

log = logging.getLogger(__name__)

# PJL TRM ch. 4: the Universal Exit Language command, "<ESC>%-12345X".
UEL = b"\x1b%-12345X"
PJL_PREFIX = b"@PJL"

# Limits: one header line, lines per job header, jobs per stream, attributes kept per job.
MAX_LINE_BYTES = 4096  # PJL TRM ch. 2 allows 255 characters a line; drivers exceed it rarely
MAX_HEADER_LINES = 4096
MAX_JOBS = 1024
MAX_EXTRA_FIELDS = 64
MASK = "********"

# ENTER LANGUAGE personalities (PJL TRM ch. 5 and vendor aliases) → registry names.
LANGUAGE_FORMATS: dict[str, str] = {
    "PCL": "pcl5",
    "PCL5": "pcl5",
    "PCL5E": "pcl5",
    "PCL5C": "pcl5",
    "PCL3": "pcl5",
    "PCL3GUI": "pcl5",
    "HPGL2": "pcl5",
    "RTL": "pcl5",
    "PCLXL": "pclxl",
    "PCL6": "pclxl",
    "PCL-XL": "pclxl",
    "PCL_XL": "pclxl",
    "PCLXL2": "pclxl",
    "XL": "pclxl",
    "POSTSCRIPT": "postscript",
    "POSTSCRIPT2": "postscript",
    "POSTSCRIPT3": "postscript",
    "PS": "postscript",
    "BR-SCRIPT": "postscript",
    "BR-SCRIPT3": "postscript",
    "KPDL": "postscript",  # Kyocera's PostScript emulation
    "PDF": "pdf",
    "PDF2": "pdf",
}

# PJL TRM "STRINGCODESET" values → Python codecs for quoted values.
CODESETS: dict[str, str] = {
    "UTF8": "utf-8",
    "UTF-8": "utf-8",
    "ROMAN8": "hp_roman8",
    "ISOL1": "latin-1",
    "ISOL2": "iso8859-2",
    "ISOL5": "iso8859-9",
    "WINL1": "cp1252",
    "WINL2": "cp1250",
    "PC8": "cp437",
    "PC850": "cp850",
    "CP932": "cp932",
    "SJIS": "cp932",
    "SHIFTJIS": "cp932",
    "EUCJP": "euc_jp",
    "GB2312": "gb2312",
    "BIG5": "big5",
}

# Keys whose value is a job-storage PIN or password. HOLDKEY: PJL TRM ch. 6 "Job Retention"
# (HP forces four digits); JOBPASSWORD / PASSWORD: PJL security password and vendor locked-print
# passwords (Ricoh, Kyocera, Xerox use variants ending in PASSWORD / PIN).
PIN_KEYS_FIRST = ("HOLDKEY", "JOBPASSWORD", "JOBPASSWORD2")
PIN_KEY_PATTERN = re.compile(r"(PASSWORD|PASSCODE|PIN|HOLDKEY)$")

# JOBATTR attribute names with a known meaning. JobAcct1..4: HP UPD accounting (user, machine,
# domain, time YYYYMMDDhhmmss), see /work/shared/reference/printer-formats.md §2.2; @LUNA (logon
# user name), @OWNR (owner), @UACN (document name), @HOAD (host address), @JOAU (job owner/auth):
# Fuji Xerox / Dell drivers.
USER_ATTRS = ("JOBACCT1", "@LUNA", "@OWNR")
HOST_ATTRS = ("JOBACCT2", "@HOAD")
DOCUMENT_ATTRS = ("@UACN", "@DOCN")

# name[=value] pairs of a PJL command; values quoted (spaces allowed) or bare words.
PAIR = re.compile(rb'\s*([^\s="]+)\s*(?:=\s*("[^"]*"?|[^\s"]*))?')
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

Put = Callable[[str, str | None], None]  # records a field once (first value wins)
ToText = Callable[[bytes], str | None]  # decodes and cleans one raw value


def unquote(raw: bytes) -> bytes:
    raw = raw.strip()
    if raw.startswith(b'"'):
        raw = raw[1:]
        if raw.endswith(b'"'):
            raw = raw[:-1]
    return raw


@dataclass
class PjlCommand:
    """One ``@PJL`` line: command word, options and name=value pairs (keys upper-cased)."""

    offset: int
    raw: bytes
    command: str = ""
    words: list[str] = field(default_factory=list)
    pairs: list[tuple[str, bytes]] = field(default_factory=list)
    rest: bytes = b""  # text after the command word (COMMENT, ECHO: free text)


def parse_command(line: bytes, offset: int) -> PjlCommand:
    """Split one line (PJL TRM ch. 2: "@PJL command [modifiers] [option[=value]]...")."""
    body = line[len(PJL_PREFIX) :].strip()
    cmd = PjlCommand(offset=offset, raw=line)
    if not body:
        return cmd  # "@PJL" alone is a valid no-op (PJL TRM ch. 4)
    parts = re.split(rb"\s+", body, maxsplit=1)
    head, rest = parts[0], (parts[1] if len(parts) == 2 else b"")
    cmd.command = head.decode("latin-1").upper()
    cmd.rest = rest.strip()
    if cmd.command in ("COMMENT", "ECHO"):
        return cmd
    position = 0
    for _ in range(256):  # a line holds at most a few pairs; bound the loop anyway
        match = PAIR.match(cmd.rest, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        key = match.group(1).decode("latin-1").upper()
        if match.group(2) is None:
            cmd.words.append(key)
        else:
            cmd.pairs.append((key, match.group(2)))
    return cmd


@dataclass
class PjlJob:
    """What one job's header said."""

    number: int
    start: int
    lines: list[PjlCommand] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    has_job_command: bool = False
    ended: bool = False
    end: int = 0  # offset after the job's last byte seen so far


def guess_payload_format(head: bytes) -> str | None:
    """Registry name for a payload that came without (or with an unknown) ENTER LANGUAGE."""
    stripped = head.lstrip(b"\r\n\t \x00\x04")
    if stripped.startswith(b"%!") or stripped.startswith(b"\xc5\xd0\xd3\xc6"):
        return "postscript"
    if stripped.startswith(b"%PDF-"):
        return "pdf"
    if stripped[1:11] == b" HP-PCL XL" and stripped[:1] in (b")", b"(", b"'"):
        return "pclxl"
    if stripped.startswith(b"\x1b") and not stripped.startswith(UEL):
        return "pcl5"
    return None


class PjlParser(FormatParser):
    name = "pjl"
    role = "wrapper"
    description = "HP PJL job stream (UEL framing, @PJL header, embedded PDL payloads)"
    signatures = (Signature(UEL), Signature(PJL_PREFIX))
    # A job starts at a UEL (PJL Technical Reference §2.3); "UEL @PJL EOJ" ends one, so a job
    # whose head was overwritten can still be recovered from its tail.
    carve_patterns = (
        CarvePattern(yara_hex(UEL)),
        CarvePattern(yara_hex(UEL + b"@PJL EOJ"), footer=True),
    )
    priority = 10  # PJL wraps the other languages: try it before them

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if super().sniff(head, name):
            return True
        # Some drivers put blank lines or NULs before the first UEL.
        stripped = head[:64].lstrip(b"\r\n\t \x00")
        return stripped.startswith(UEL) or stripped[:4].upper() == PJL_PREFIX

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        data = data[:MAX_PARSE_BYTES]
        start = self._start(data)
        if start is None:
            raise NotThisFormat("no UEL or @PJL at the start")
        job = ParsedJob(format=self.name)
        try:
            jobs, end = self._walk(data, start, job, False, len(data))
            self._finish(job, jobs, data, end)
        except (ValueError, IndexError, LookupError, UnicodeError) as error:
            log.debug("PJL parse failed", exc_info=True)
            job.complete = False
            job.notes.append(f"PJL parse stopped: {type(error).__name__}: {error}")
        return job

    def extent(self, buf: bytes, offset: int) -> int | None:
        """End of the first job (UEL … @PJL EOJ … UEL), or of the stream when jobs are unnamed."""
        start = self._start(buf, offset)
        if start is None:
            return None
        size = min(len(buf), offset + MAX_PARSE_BYTES)  # no copy of the carving buffer
        try:
            _, end = self._walk(buf, start, ParsedJob(format=self.name), True, size)
        except (ValueError, IndexError, LookupError, UnicodeError):
            log.debug("PJL extent failed", exc_info=True)
            return None
        return (end - offset) or None

    # -- framing -----------------------------------------------------------------------------

    @staticmethod
    def _start(data: bytes, offset: int = 0) -> int | None:
        head = data[offset : offset + 64]
        lead = offset + len(head) - len(head.lstrip(b"\r\n\t \x00"))
        if data.startswith(UEL, lead) or data[lead : lead + 4].upper() == PJL_PREFIX:
            return lead
        return None

    def _walk(
        self, data: bytes, pos: int, out: ParsedJob, stop_after_first: bool, size: int
    ) -> tuple[list[PjlJob], int]:
        """Walk UELs, @PJL lines and payloads in ``data[pos:size]``; returns the jobs and the
        offset after the last."""
        jobs: list[PjlJob] = []
        current: PjlJob | None = None
        end = pos
        limit_noted = False

        def new_job(offset: int) -> PjlJob | None:
            nonlocal limit_noted
            if len(jobs) >= MAX_JOBS:
                if not limit_noted:
                    out.notes.append(f"more than {MAX_JOBS} PJL jobs; the rest were not parsed")
                    out.complete = False
                    limit_noted = True
                return None
            job = PjlJob(number=len(jobs) + 1, start=offset)
            jobs.append(job)
            return job

        while pos < size:
            if data.startswith(UEL, pos):
                pos += len(UEL)
                end = pos
                if stop_after_first and current is not None and current.ended:
                    break
                continue
            # Whitespace between commands is ignored in PJL mode (PJL TRM ch. 2).
            if data[pos] in b"\r\n\t \x00":
                pos += 1
                continue
            # Payloads end at a UEL, so here the printer is in PJL mode (PJL TRM ch. 4).
            if data[pos : pos + 4].upper() == PJL_PREFIX:
                line_end = data.find(b"\n", pos, min(size, pos + MAX_LINE_BYTES + 1))
                uel_inside = data.find(
                    UEL, pos, line_end if line_end >= 0 else min(size, pos + MAX_LINE_BYTES)
                )
                if uel_inside >= 0:  # a UEL may follow a line without its LF
                    line_end = uel_inside
                    next_pos = uel_inside
                elif line_end < 0:
                    if size - pos > MAX_LINE_BYTES:
                        out.notes.append(f"PJL line at {pos} longer than {MAX_LINE_BYTES} bytes")
                        out.complete = False
                        line_end = pos + MAX_LINE_BYTES
                        next_pos = line_end
                    else:
                        line_end = size
                        next_pos = size
                else:
                    next_pos = line_end + 1
                line = data[pos:line_end].rstrip(b"\r")
                command = parse_command(line, pos)
                if (
                    command.command == "JOB"
                    and current is not None
                    and (current.has_job_command or current.ended)
                ):
                    if stop_after_first:
                        return jobs, end
                    current = None
                # A bare "@PJL" or a repeated EOJ after EOJ still belongs to the ended job.
                if current is not None and current.ended and command.command not in ("", "EOJ"):
                    if stop_after_first:
                        return jobs, end
                    current = None
                if current is None:
                    current = new_job(pos)
                    if current is None:
                        return jobs, end
                if len(current.lines) < MAX_HEADER_LINES:
                    current.lines.append(command)
                elif len(current.lines) == MAX_HEADER_LINES:
                    current.lines.append(command)  # one marker past the limit, noted once
                    out.notes.append(
                        f"PJL job {current.number}: more than {MAX_HEADER_LINES} lines"
                    )
                    out.complete = False
                if command.command == "JOB":
                    current.has_job_command = True
                elif command.command == "EOJ":
                    current.ended = True
                pos = next_pos
                end = pos
                current.end = end
                if command.command == "ENTER":
                    language = dict(command.pairs).get("LANGUAGE", b"").strip(b'" ')
                    pos = end = self._payload(
                        data, pos, size, language.decode("latin-1").upper(), current, out
                    )
                    current.end = end
                continue
            # Not a PJL line: the printer switches language by itself (PJL TRM ch. 5, "implicit
            # switching") — accept it only when the bytes look like a known language.
            if guess_payload_format(data[pos : min(size, pos + 64)]) is None:
                break
            if current is None or current.ended:
                if stop_after_first and current is not None:
                    return jobs, end
                current = new_job(pos)
                if current is None:
                    return jobs, end
            pos = end = self._payload(data, pos, size, "", current, out)
            current.end = end
        return jobs, end

    def _payload(
        self, data: bytes, start: int, size: int, language: str, job: PjlJob, out: ParsedJob
    ) -> int:
        """Record the bytes from ``start`` to the next UEL as one payload; returns its end."""
        stop = data.find(UEL, start, size)
        if stop < 0:
            stop = size
            if stop > start:
                out.notes.append(
                    f"PJL job {job.number}: {language or 'implicit'} payload at {start} "
                    "not closed by a UEL (truncated?)"
                )
                out.complete = False
        hint = LANGUAGE_FORMATS.get(language)
        if hint is None:
            hint = guess_payload_format(data[start : min(size, start + 64)])
        label = language or (hint or "unknown").upper()
        job.languages.append(label)
        if stop > start:
            if len(out.embedded) < MAX_EMBEDDED:
                out.embedded.append(
                    Embedded(
                        name=f"PJL job {job.number} {label} payload",
                        offset=start,
                        length=stop - start,
                        format_hint=hint,
                    )
                )
            elif len(out.embedded) == MAX_EMBEDDED:
                out.notes.append(f"more than {MAX_EMBEDDED} payloads; the rest are not listed")
                out.complete = False
        return stop

    # -- metadata ----------------------------------------------------------------------------

    def _finish(self, out: ParsedJob, jobs: list[PjlJob], data: bytes, end: int) -> None:
        out.length = end
        if not jobs:
            out.notes.append("no PJL command found")
            out.complete = False
            return
        metas = [self._job_metadata(job) for job in jobs]
        first = metas[0]
        extra = list(first.extra)
        if len(jobs) > 1:
            extra.append(("pjl_jobs", str(len(jobs))))
            for job, meta in zip(jobs[1:], metas[1:], strict=False):
                summary = ", ".join(
                    f"{key}={value}"
                    for key, value in (
                        ("name", meta.job_name),
                        ("user", meta.user),
                        ("host", meta.host),
                        ("document", meta.document_name),
                        ("hold", meta.hold),
                        ("pin", MASK if meta.pin else None),
                    )
                    if value
                )
                if len(extra) < MAX_EXTRA_FIELDS:
                    extra.append(
                        (f"pjl_job_{job.number}", summary[:MAX_FIELD_CHARS] or "(no fields)")
                    )
                out.notes.append(f"PJL job {job.number} at {job.start}: {summary or 'no metadata'}")
        # Missing fields of the first job are filled from later jobs (a job split in two headers).
        merged = first
        for meta in metas[1:]:
            for name in ("user", "host", "job_name", "document_name", "pin", "hold", "copies"):
                if getattr(merged, name) is None and getattr(meta, name) is not None:
                    merged = replace(merged, **{name: getattr(meta, name)})
        if merged.pin and not merged.pin_masked:
            merged = replace(merged, pin_masked=MASK)
        out.metadata = replace(merged, extra=tuple(extra[:MAX_EXTRA_FIELDS]))
        budget = MAX_TEXT_CHARS
        for job in jobs:
            text = self._header_text(job)
            if not text or budget <= 0:
                continue
            text = text[:budget]
            budget -= len(text)
            out.texts.append(
                DecodedText(name=f"PJL header job {job.number}", text=text, source_offset=job.start)
            )
        for job in jobs:
            if job.has_job_command and not job.ended:
                out.notes.append(f"PJL job {job.number}: JOB without EOJ")

    @staticmethod
    def _codec(job: PjlJob) -> str:
        for command in job.lines:
            for key, value in command.pairs:
                if key == "STRINGCODESET":
                    name = unquote(value).decode("latin-1").upper()
                    codec = CODESETS.get(name)
                    if codec:
                        return codec
        return "utf-8"  # falls back to latin-1 per value below

    @staticmethod
    def _decode(raw: bytes, codec: str) -> str:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def _header_text(self, job: PjlJob) -> str:
        """The job's @PJL lines as text, PIN values replaced by the mask."""
        codec = self._codec(job)
        lines = []
        for command in job.lines[:MAX_HEADER_LINES]:
            text = self._decode(command.raw, codec)
            for key, value in command.pairs:
                secret_raw = unquote(value)
                if key == "JOBATTR" and b"=" in secret_raw:
                    name, _, secret_raw = secret_raw.partition(b"=")
                    key = name.strip().lstrip(b"@").upper().decode("latin-1")
                if self._is_pin_key(key) and secret_raw.strip():
                    secret = self._decode(secret_raw.strip(), codec)
                    text = text.replace(secret, MASK)
            lines.append(CONTROL.sub(" ", text).rstrip())
        return "\n".join(lines)

    @staticmethod
    def _is_pin_key(key: str) -> bool:
        return key in PIN_KEYS_FIRST or PIN_KEY_PATTERN.search(key) is not None

    def _job_metadata(self, job: PjlJob) -> JobMetadata:
        codec = self._codec(job)
        fields: dict[str, str] = {}  # from explicit PJL variables (SET USERNAME, JOB NAME)
        hints: dict[str, str] = {}  # from accounting attributes and comments: used when no variable
        extra: list[tuple[str, str]] = []
        pins: dict[str, str] = {}

        def text(raw: bytes) -> str | None:
            return clean_field(self._decode(unquote(raw), codec))

        def put(name: str, value: str | None) -> None:
            if value and name not in fields:
                fields[name] = value

        def put_hint(name: str, value: str | None) -> None:
            if value and name not in hints:
                hints[name] = value

        def put_extra(name: str, value: str | None) -> None:
            if value and len(extra) < MAX_EXTRA_FIELDS and (name, value) not in extra:
                extra.append((name, value))

        for command in job.lines[:MAX_HEADER_LINES]:
            pairs = command.pairs
            if command.command == "JOB":
                for key, value in pairs:
                    if key == "NAME":
                        put("job_name", text(value))
                    elif key == "DISPLAY":
                        put_extra("display", text(value))
                    elif key in ("START", "END"):
                        put_extra(f"job_{key.lower()}_page", text(value))
                    elif key == "PASSWORD":
                        pins.setdefault("PASSWORD", text(value) or "")
            elif command.command == "EOJ":
                for key, value in pairs:
                    if key == "NAME":
                        put("job_name", text(value))
            elif command.command == "COMMENT":
                self._comment(self._decode(command.rest, codec), put_hint, put_extra)
            elif command.command in ("SET", "DEFAULT"):
                for key, value in pairs:
                    self._setting(key, value, text, put, put_hint, put_extra, pins)
            elif command.command.startswith("FS") or command.command in (
                "INFO",
                "INQUIRE",
                "DINQUIRE",
                "DMCMD",
                "DMINFO",
                "INITIALIZE",
                "RESET",
            ):
                # File-system and device queries: evidence of how data reached or left the device.
                put_extra("pjl_command", clean_field(self._decode(command.raw, codec), 200))
        pin_key = next((key for key in PIN_KEYS_FIRST if pins.get(key)), None)
        if pin_key is None:
            pin_key = next((key for key, value in pins.items() if value), None)
        pin = pins.get(pin_key) if pin_key else None
        if pin_key:
            put_extra("pin_source", pin_key)
        for name, hint in hints.items():
            fields.setdefault(name, hint)
        hold = fields.get("holdtype") or (
            fields.get("hold") if fields.get("hold", "OFF").upper() != "OFF" else None
        )
        if job.languages:
            put_extra("languages", ",".join(job.languages)[:MAX_FIELD_CHARS])
        copies = None
        if fields.get("copies", "").isascii() and fields.get("copies", "").isdigit():
            copies = int(fields["copies"][:9])
        return JobMetadata(
            user=fields.get("user"),
            host=fields.get("host"),
            job_name=fields.get("job_name"),
            document_name=fields.get("document_name"),
            application=fields.get("application"),
            copies=copies,
            media=fields.get("media"),
            resolution=fields.get("resolution"),
            hold=hold,
            pin=pin,
            pin_masked=MASK if pin else None,
            extra=tuple(extra),
        )

    def _setting(
        self,
        key: str,
        value: bytes,
        text: ToText,
        put: Put,
        put_hint: Put,
        put_extra: Put,
        pins: dict[str, str],
    ) -> None:
        """One SET/DEFAULT variable (PJL TRM ch. 6 and 7 variable tables, vendor extensions)."""
        if self._is_pin_key(key):
            pins.setdefault(key, text(value) or "")
            return
        if key == "JOBATTR":
            attr = text(value) or ""
            name, _, secret = attr.partition("=")
            if secret.strip() and self._is_pin_key(name.strip().lstrip("@").upper()):
                # Vendor locked-print PINs travel as JOBATTR="@PIN=4321" (and @PASSWORD=…).
                pins.setdefault(name.strip().upper(), secret.strip())
                return
            self._jobattr(attr, put_hint, put_extra)
        elif key == "USERNAME" or key in ("KUSERNAME", "USERID"):
            put("user", text(value))
        elif key in ("JOBNAME", "KJOBNAME"):
            put("job_name", text(value))
        elif key in ("HOSTNAME", "COMPUTERNAME"):
            put("host", text(value))
        elif key == "HOLD":
            put("hold", text(value))
        elif key == "HOLDTYPE":
            put("holdtype", text(value))
        elif key in ("QTY", "COPIES"):
            put("copies", text(value))
        elif key in ("PAPER", "PAGESIZE"):
            put("media", text(value))
        elif key == "RESOLUTION":
            put("resolution", text(value))
        elif key in ("DATE", "TIME", "JOBTIME", "DUPLEX", "BINDING", "RENDERMODE", "USERCODE"):
            put_extra(key.lower(), text(value))

    @staticmethod
    def _jobattr(attr: str | None, put: Put, put_extra: Put) -> None:
        """``SET JOBATTR="name=value"``: HP JobAcctN and vendor @XXXX accounting attributes."""
        if not attr or "=" not in attr:
            return
        name, _, value = attr.partition("=")
        name, value = name.strip(), value.strip()
        upper = name.upper()
        if upper in USER_ATTRS:
            put("user", clean_field(value))
        elif upper in HOST_ATTRS:
            put("host", clean_field(value))
        elif upper in DOCUMENT_ATTRS:
            put("document_name", clean_field(value))
        elif upper == "JOBACCT3":
            put_extra("domain", clean_field(value))
        elif upper == "JOBACCT4" and re.fullmatch(r"\d{14}", value):
            # YYYYMMDDhhmmss in the client's local time: kept as given, no zone is known.
            put_extra(
                "client_time_local",
                f"{value[:4]}-{value[4:6]}-{value[6:8]}T{value[8:10]}:{value[10:12]}:{value[12:]}",
            )
        put_extra(f"jobattr {name}"[:64], clean_field(value))

    @staticmethod
    def _comment(comment: str, put: Put, put_extra: Put) -> None:
        """HP drivers: ``COMMENT "Username: u; App Filename: f; 12-13-2003"``."""
        body = comment.strip().strip('"')
        if "username:" not in body.lower() and "app filename:" not in body.lower():
            put_extra("comment", clean_field(body, 200))
            return
        for part in body.split(";"):
            label, sep, value = part.partition(":")
            label = label.strip().lower()
            if not sep:
                if re.fullmatch(r"\s*[\d/.\-]{6,10}\s*", part):
                    put_extra("comment_date", clean_field(part))
                continue
            if label == "username":
                put("user", clean_field(value))
            elif label in ("app filename", "app file name", "filename"):
                put("document_name", clean_field(value))
            else:
                put_extra(f"comment {label}"[:64], clean_field(value))
