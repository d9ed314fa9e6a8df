"""CUPS spool artefacts: job control files (``cNNNNN``) and the ``page_log`` accounting log.

The scheduler keeps each job's attributes in ``RequestRoot/c%05d`` (``/var/spool/cups``) as a
complete IPP message written by ``ippWriteIO`` (CUPS ``scheduler/job.c``, cupsdSaveJob): the
encoding is RFC 8010 §3, decoded by ``forensics.formats.ipp``. Its documents are
``d%05d-%03d``; both halves share the pair key ``cups:<job number>``.

``page_log`` (``/var/log/cups/page_log``, cupsd-logs(5)) has one line per page printed:
``printer user job-id [date] page-number num-copies job-billing`` in CUPS 1.1 and, since the
PageLogFormat default of CUPS 1.5, ``... job-originating-host-name job-name media sides``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from construct import ConstructError

from forensics.formats import ipp, times
from forensics.formats.base import (
    MAX_LOG_ENTRIES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    Embedded,
    FormatParser,
    JobMetadata,
    LogEntry,
    NotThisFormat,
    ParseContext,
    ParsedJob,
    clean_field,
    yara_hex,
)

log = logging.getLogger(__name__)

MAX_CONTROL_FILE_BYTES = 1024 * 1024  # the attributes of one job; CUPS' own are a few KiB

# scheduler/job.c names control files "c%05d"; saves go through "c%05d.N" and keep "c%05d.O".
_CONTROL_NAME = re.compile(r"c(\d{5,})(?:\.[NO])?")
# RFC 8011 §5.3.7 job-state enum.
JOB_STATES = {
    3: "pending",
    4: "pending-held",
    5: "processing",
    6: "processing-stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}
# Attributes copied to metadata.extra as they are (when present).
_EXTRA_ATTRIBUTES = (
    "job-uuid",
    "job-printer-uri",
    "printer-uri",
    "document-format-supplied",
    "document-format-detected",
    "number-of-documents",
    "job-k-octets",
    "job-impressions",
    "job-impressions-completed",
    "job-media-sheets-completed",
    "job-priority",
    "job-sheets",
    "job-hold-until",
    "job-state-reasons",
    "job-printer-state-message",
    "job-printer-state-reasons",
    "sides",  # RFC 8011 §5.2.8
    "print-color-mode",  # PWG 5100.13 §5.2.3
    "job-account-id",  # PWG 5100.7
    "job-accounting-user-id",  # PWG 5100.7
    "job-password-encryption",  # PWG 5100.11
    "requesting-user-name",
    "requesting-user-uri",
    "job-originating-user-uri",
    "DestinationPrinterID",  # macOS
    "com.apple.print.JobInfo.PMJobOwner",  # macOS: the user's full name
)


def _job_number_from_name(name: str | None) -> str | None:
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    match = _CONTROL_NAME.fullmatch(base)
    return match.group(1) if match else None


def _strip_zeros(number: str | None) -> str | None:
    return (number.lstrip("0") or "0") if number else None


def _text(message: ipp.IppMessage, name: str) -> str | None:
    value = message.value(name)
    if value is None or isinstance(value, ipp.OutOfBand | ipp.IppCollection):
        return None
    return clean_field(ipp.value_text(value))


def _integer(message: ipp.IppMessage, name: str) -> int | None:
    value = message.value(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _time(message: ipp.IppMessage, name: str) -> str | None:
    """time-at-* are integer seconds (RFC 8011 §5.3.14); date-time-at-* are dateTime."""
    seconds = _integer(message, f"time-at-{name}")
    if seconds is not None and seconds > 0:
        return times.from_unix(seconds)
    stamp = message.value(f"date-time-at-{name}")
    if isinstance(stamp, ipp.DateTimeValue):
        return stamp.iso
    return None


def _printer_name(uri: str | None) -> str | None:
    """The queue name from ``ipp://host/printers/NAME`` (or ``/classes/NAME``)."""
    if not uri:
        return None
    match = re.search(r"/(?:printers|classes)/([^/?#]+)", uri)
    return clean_field(match.group(1)) if match else None


def _media(message: ipp.IppMessage) -> str | None:
    media = _text(message, "media")
    if media:
        return media
    media_col = message.value("media-col")  # PWG 5100.3 media-col / media-size-name
    if isinstance(media_col, ipp.IppCollection):
        size_name = media_col.get("media-size-name")
        if size_name is not None and isinstance(size_name.first, str):
            return clean_field(size_name.first)
        size = media_col.get("media-size")
        if size is not None and isinstance(size.first, ipp.IppCollection):
            x = size.first.get("x-dimension")
            y = size.first.get("y-dimension")
            if (
                x is not None
                and y is not None
                and isinstance(x.first, int)
                and isinstance(y.first, int)
            ):
                return f"{x.first}x{y.first} (1/100 mm)"  # PWG 5100.3: hundredths of mm
    return None


def _password(message: ipp.IppMessage) -> str | None:
    """job-password (PWG 5100.11 octetString): clear text when it decodes, else hex."""
    value = message.value("job-password")
    if isinstance(value, bytes | str) and value:
        return clean_field(ipp.value_text(value))
    return None


class CupsControlParser(FormatParser):
    name = "cups-control"
    role = "control"
    description = "CUPS job control file (cNNNNN): the job's IPP attributes (RFC 8010)"
    priority = 40
    # RFC 8010 §3.1.1: version, operation/status and request id (8 bytes), then the operation
    # attributes group (0x01) whose first attribute is attributes-charset (0x47, name length 18).
    carve_patterns = (CarvePattern(yara_hex(b"\x01\x47\x00\x12attributes-charset"), start_delta=8),)

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if not ipp.plausible_header(head):
            return False
        if _job_number_from_name(name) is not None:
            return True
        # Without the file name, ask for RFC 8011 §4.1.4's first attribute, attributes-charset.
        return ipp.starts_with_charset(head)

    def extent(self, buf: bytes, offset: int) -> int | None:
        """A control file is one IPP message: it ends after its end-of-attributes tag."""
        try:
            message = ipp.decode_message(bytes(buf[offset : offset + MAX_CONTROL_FILE_BYTES]))
        except (ConstructError, ValueError, IndexError):
            return None
        return message.end if message.complete and message.attributes() else None

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        try:
            message = ipp.decode_message(data)
        except (ConstructError, ValueError, IndexError) as error:
            log.debug("IPP header not decoded", exc_info=True)
            raise NotThisFormat(str(error)) from error
        if not message.attributes():
            raise NotThisFormat("IPP message without attributes")
        job = ParsedJob(format=self.name, complete=message.complete, notes=list(message.notes))
        try:
            self._describe(message, data, ctx, job)
        except (ConstructError, ValueError, IndexError, TypeError):
            log.debug("CUPS control file fields not all read", exc_info=True)
            job.complete = False
            job.notes.append("control file fields not all read (malformed values)")
        return job

    def _describe(
        self, message: ipp.IppMessage, data: bytes, ctx: ParseContext, job: ParsedJob
    ) -> None:
        job_number = _job_number_from_name(ctx.name)
        job_id = _integer(message, "job-id")
        if job_number is None and job_id is not None and 0 < job_id < 10**9:
            job_number = f"{job_id:05d}"  # the c%05d / d%05d-%03d spelling
        job.pair_key = f"cups:{job_number}" if job_number else None

        printer_uri = _text(message, "job-printer-uri") or _text(message, "printer-uri")
        state = _integer(message, "job-state")
        hold = _text(message, "job-hold-until")
        password = _password(message)
        document_format = _text(message, "document-format") or _text(
            message, "document-format-supplied"
        )
        pages = _integer(message, "job-media-sheets-completed")
        if pages is None:
            pages = _integer(message, "job-impressions-completed")
        resolution = message.value("printer-resolution")
        created = _time(message, "creation")

        extra: list[tuple[str, str]] = [
            ("ipp-version", f"{message.major}.{message.minor}"),
            ("ipp-code", f"0x{message.code:04x}"),
        ]
        for attribute_name in _EXTRA_ATTRIBUTES:
            attribute = message.find(attribute_name)
            if attribute is None:
                continue
            text = clean_field(", ".join(ipp.value_text(v.value) for v in attribute.values))
            if text:
                extra.append((attribute_name, text))
        processing = _time(message, "processing")
        if processing:
            extra.append(("time-at-processing", processing))
        if state is not None and state not in JOB_STATES:
            extra.append(("job-state-value", str(state)))

        job.metadata = JobMetadata(
            user=_text(message, "job-originating-user-name")
            or _text(message, "requesting-user-name"),
            host=_text(message, "job-originating-host-name"),
            job_name=_text(message, "job-name"),
            document_name=_text(message, "document-name-supplied")
            or _text(message, "document-name"),
            application=_text(message, "com.apple.print.JobInfo.PMApplicationName"),
            printer=_printer_name(printer_uri)
            or _text(message, "DestinationPrinterID")
            or printer_uri,
            document_format=document_format,
            job_id=str(job_id) if job_id is not None else _strip_zeros(job_number),
            state=JOB_STATES.get(state) if state is not None else None,
            submitted=created,
            created=created,
            completed=_time(message, "completed"),
            pages=pages,
            copies=_integer(message, "copies"),
            media=_media(message),
            resolution=str(resolution) if isinstance(resolution, ipp.Resolution) else None,
            hold=hold if hold and hold != "no-hold" else None,
            pin=password,
            pin_masked="********" if password else None,
            extra=tuple(extra),
        )
        rendered = ipp.render(message, limit=min(MAX_TEXT_CHARS, ipp.MAX_RENDERED_CHARS))
        if rendered:
            job.texts.append(DecodedText("IPP attributes", rendered, source_offset=0))
        # An IPP request (not a CUPS control file) may carry its document after the attributes.
        if message.complete and message.end < len(data):
            trailing = len(data) - message.end
            if any(data[message.end : message.end + 512]):
                job.embedded.append(Embedded("IPP document data", message.end, trailing))
        job.length = message.end if message.complete else None


# --------------------------------------------------------------------------------- page_log

# cupsd-logs(5): printer user job-id [dd/Mon/yyyy:hh:mm:ss +zzzz] page-number num-copies ...
_PAGE_LINE = re.compile(
    r"(?P<printer>\S+) (?P<user>\S+) (?P<job>\d{1,10}) "
    r"\[(?P<date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r"(?P<page>\d{1,9}|total) (?P<copies>\d{1,9})(?: (?P<rest>.*))?"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_SIDES = {"one-sided", "two-sided-long-edge", "two-sided-short-edge", "-"}
_PAGE_LOG_NAME = re.compile(r"page_log(?:\.\d+|\.O)?")
MAX_LOG_LINES = 1_000_000


def _clf_time(text: str) -> str | None:
    """Common Log Format ``20/May/1999:19:21:05 +0000`` (cupsd-logs(5)) to ISO UTC."""
    try:
        day, month, rest = text.split("/", 2)
        year, hour, minute, second_zone = rest.split(":", 3)
        second, zone = second_zone.split(" ")
        local = datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    except (ValueError, KeyError, IndexError):
        return None
    stamp = local - offset if zone[0] == "+" else local + offset
    return times.from_unix(stamp.timestamp())


class _PageLine:
    """One parsed page_log line."""

    __slots__ = (
        "billing",
        "copies",
        "host",
        "job",
        "job_name",
        "media",
        "page",
        "printer",
        "sides",
        "time",
        "user",
    )

    def __init__(self, match: re.Match[str]) -> None:
        self.printer = match["printer"]
        self.user = match["user"]
        self.job = match["job"]
        self.time = _clf_time(match["date"])
        self.page = match["page"]
        self.copies = int(match["copies"])
        tokens = (match["rest"] or "").split(" ")
        tokens = [token for token in tokens if token]
        self.billing = tokens[0] if tokens else None
        self.host: str | None = None
        self.job_name: str | None = None
        self.media: str | None = None
        self.sides: str | None = None
        if len(tokens) >= 5 and tokens[-1] in _SIDES:
            # Default PageLogFormat since CUPS 1.5: billing host job-name media sides; the job
            # name is not quoted and may hold spaces, so it is everything in between.
            self.host, self.media, self.sides = tokens[1], tokens[-2], tokens[-1]
            self.job_name = " ".join(tokens[2:-2])
        elif len(tokens) >= 2:
            self.host = tokens[1]  # CUPS 1.2-1.4: billing host
            if len(tokens) > 2:
                self.job_name = " ".join(tokens[2:])


def _value(text: str | None) -> str | None:
    """cupsd writes "-" for an attribute the job does not have."""
    return None if text in (None, "-", "") else clean_field(text)


class CupsPageLogParser(FormatParser):
    name = "cups-page-log"
    role = "log"
    artefact_kind = "page log"
    description = "CUPS page_log: one line per printed page (cupsd-logs(5))"
    priority = 60

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
        try:
            text = first_line.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if _PAGE_LINE.fullmatch(text):
            return True
        base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
        # By name only when the head is text: a gzip-rotated page_log.1.gz is not ours.
        return bool(_PAGE_LOG_NAME.fullmatch(base)) and b"\x00" not in head[:4096]

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        text = data[: ctx.max_output].decode("utf-8", "replace")
        entries: list[_PageLine] = []
        bad_lines = 0
        offset = 0
        first_offset: int | None = None
        lines = text.split("\n")
        cut = len(data) > ctx.max_output or len(lines) > MAX_LOG_LINES
        del lines[MAX_LOG_LINES:]
        starts: list[tuple[int, int]] = []  # (byte offset, line number) of each entry
        byte_offset = 0
        for number, line in enumerate(lines, 1):
            stripped = line.rstrip("\r")
            match = _PAGE_LINE.fullmatch(stripped) if len(stripped) < 4096 else None
            if match:
                entries.append(_PageLine(match))
                starts.append((byte_offset, number))
                if first_offset is None:
                    first_offset = offset
            elif stripped.strip():
                bad_lines += 1
            offset += len(line) + 1
            byte_offset += len(line.encode("utf-8")) + 1
        if not entries:
            raise NotThisFormat("no page_log line")
        if first_offset and first_offset > 4096:
            raise NotThisFormat("page_log lines do not start the file")
        job = ParsedJob(format=self.name)
        if bad_lines:
            job.notes.append(f"{bad_lines} line(s) not in page_log form skipped")
        if cut:
            job.complete = False
            job.notes.append("page_log longer than the decode limit; the rest was not read")

        first, last = entries[0], entries[-1]
        jobs = Counter(entry.job for entry in entries)
        users = Counter(entry.user for entry in entries)
        printers = Counter(entry.printer for entry in entries)
        hosts = Counter(entry.host for entry in entries if _value(entry.host))
        page_lines = [entry for entry in entries if entry.page != "total"]
        totals = [entry for entry in entries if entry.page == "total"]
        pages = sum(entry.copies for entry in page_lines) if page_lines else None
        if not page_lines and totals:
            pages = sum(entry.copies for entry in totals)  # "total" lines carry the impressions
        single_job = len(jobs) == 1
        extra = [
            ("lines", str(len(entries))),
            ("jobs", str(len(jobs))),
            ("users", clean_field(", ".join(sorted(users))) or ""),
            ("printers", clean_field(", ".join(sorted(printers))) or ""),
            ("first-time", first.time or ""),
            ("last-time", last.time or ""),
        ]
        if hosts:
            extra.append(("hosts", clean_field(", ".join(sorted(str(h) for h in hosts))) or ""))
        if totals:
            extra.append(("total-lines", str(len(totals))))
        if _value(first.billing):
            extra.append(("job-billing", _value(first.billing) or ""))
        job.metadata = JobMetadata(
            user=clean_field(first.user),
            host=_value(first.host),
            job_name=_value(first.job_name),
            printer=clean_field(first.printer),
            job_id=first.job if single_job else None,
            submitted=first.time,
            completed=last.time,
            pages=pages,
            copies=first.copies if single_job and first.page != "total" else None,
            media=_value(first.media),
            extra=tuple((key, value) for key, value in extra if value),
        )
        job.texts.append(DecodedText("page_log", text[:MAX_TEXT_CHARS], source_offset=0))
        first_of_job: dict[str, _PageLine] = {}
        for entry in entries:
            first_of_job.setdefault(entry.job, entry)
        job.log_entries = _page_log_jobs(entries, starts)
        summary = []
        for job_id, row in list(first_of_job.items())[:10_000]:
            summary.append(
                f"job {job_id}: user {row.user} printer {row.printer} host {_value(row.host) or '-'} "
                f"name {_value(row.job_name) or '-'} lines {jobs[job_id]} first {row.time or '-'}"
            )
        job.texts.append(DecodedText("page_log jobs", "\n".join(summary)[:MAX_TEXT_CHARS]))
        return job


def _page_log_jobs(entries: list[_PageLine], starts: list[tuple[int, int]]) -> list[LogEntry]:
    """One LogEntry per (printer, job id): cupsd numbers jobs per server, and a page_log may
    hold several servers' lines after a move, so the printer is part of the key."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for index, entry in enumerate(entries):
        members = grouped.setdefault((entry.printer, entry.job), [])
        if len(members) < MAX_LOG_LINES:
            members.append(index)
    out: list[LogEntry] = []
    for members in list(grouped.values())[:MAX_LOG_ENTRIES]:
        lines = [entries[i] for i in members]
        first, last = lines[0], lines[-1]
        page_lines = [line for line in lines if line.page != "total"]
        totals = [line for line in lines if line.page == "total"]
        if page_lines:
            pages: int | None = sum(line.copies for line in page_lines)
        else:
            pages = sum(line.copies for line in totals) or None
        byte_offset, number = starts[members[0]]
        out.append(
            LogEntry(
                offset=byte_offset,
                job_id=first.job,
                user=clean_field(first.user),
                host=_value(first.host),
                job_name=_value(first.job_name),
                printer=clean_field(first.printer),
                time=first.time,
                time_field="printed",
                last_time=last.time if last is not first else None,
                time_zone="from the log line" if first.time else None,
                pages=pages,
                copies=first.copies if first.page != "total" else None,
                state="printed",
                line=number,
            )
        )
    return out
