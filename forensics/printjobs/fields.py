"""What each artefact says about its job: field values with their sources.

Parsers already put the common fields into ``metadata`` (JobMetadata). This module adds the
vendor conventions that parsers keep as named extras, each from its documentation:

- HP job accounting (PJL ``SET JOBATTR="JobAcctN=…"``, HP UPD; printer-formats.md):
  1 user, 2 machine, 3 domain, 4 client time ``YYYYMMDDhhmmss`` in the client's local time
  (no zone: kept as "unknown"), 5 job GUID. The PJL parser maps 1, 2 and 4; 3 and 5 come here.
- ``@PJL COMMENT`` lines of HP drivers ("Username: …; App Filename: …") are mapped by the PJL
  parser into user and document name.
- IPP job attributes (RFC 8011 §5.3): ``time-at-processing`` (printing started), ``job-uuid``
  (RFC 8011 §5.3.2), ``sides`` and ``print-color-mode`` (PWG 5100.13 §5.2.3).
- Windows spooler shadow files: the submitted SYSTEMTIME (UTC) and JOB_STATUS bits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from forensics.records import FieldSource, FieldValue

# Metadata key → print-job field.
METADATA_FIELDS = (
    ("user", "user"),
    ("host", "host"),
    ("job_name", "job_name"),
    ("document_name", "document_name"),
    ("application", "application"),
    ("driver", "driver"),
    ("printer", "printer"),
    ("port", "port"),
    ("job_id", "job_number"),
    ("submitted", "submitted"),
    ("created", "document_created"),
    ("completed", "completed"),
    ("pages", "pages"),
    ("copies", "copies"),
    ("media", "media"),
    ("resolution", "resolution"),
    ("hold", "hold"),
    ("pin_masked", "pin_masked"),
    ("pin", "pin"),  # only present in cases scanned with --reveal
    ("state", "state"),
    ("data_type", "data_type"),
    ("document_format", "document_format"),
    ("sid", "sid"),
)
TIME_FIELDS = ("submitted", "printed", "completed", "document_created")

# Named extras (metadata.extra) → field, with the time zone when the value is a time.
_EXTRA_FIELDS: tuple[tuple[re.Pattern[str], str, str | None], ...] = (
    (re.compile(r"^domain$"), "domain", None),
    (re.compile(r"^jobattr jobacct3$", re.I), "domain", None),
    (re.compile(r"^jobattr jobacct5$", re.I), "job_uuid", None),
    (re.compile(r"^client_time_local$"), "submitted", "unknown (client local time)"),
    (re.compile(r"^time-at-processing$"), "printed", "UTC"),
    (re.compile(r"^job-uuid$"), "job_uuid", None),
    (re.compile(r"^(sides|duplex|pjl duplex|jobattr duplex)$", re.I), "duplex", None),
    (
        re.compile(r"^(print-color-mode|color-mode|colormode|rendermode|pjl rendermode)$", re.I),
        "colour",
        None,
    ),
)
_LOG_FIELDS = (
    ("job_id", "job_number"),
    ("user", "user"),
    ("host", "host"),
    ("job_name", "job_name"),
    ("document_name", "document_name"),
    ("printer", "printer"),
    ("pages", "pages"),
    ("copies", "copies"),
    ("state", "state"),
)


def _usable(name: str, value: Any) -> bool:
    if value is None or value == "" or isinstance(value, dict | list):
        return False
    # A spooler's 0 pages means "not counted yet", not "no pages".
    return name not in ("pages", "copies") or (isinstance(value, int) and value > 0)


def job_fields(row: dict[str, Any]) -> Iterator[tuple[str, FieldValue]]:
    """(field, value) pairs one parsed job row states about its print job."""
    job_id = str(row.get("job_id"))
    fmt = str(row.get("format"))
    address = _address_text(row)
    meta = row.get("metadata") or {}

    seen: set[tuple[str, str]] = set()  # one artefact states a value once (JobAcct3 = domain)

    def source(name: str) -> FieldSource:
        return FieldSource(job_id, fmt, name, address)

    for key, name in METADATA_FIELDS:
        value = meta.get(key)
        if _usable(name, value):
            zone = "UTC" if name in TIME_FIELDS else None
            seen.add((name, normalised(name, value)))
            yield name, FieldValue(value, source(f"metadata.{key}"), zone)
    extra = meta.get("extra") or {}
    if isinstance(extra, dict):
        for key, value in extra.items():
            for pattern, name, zone in _EXTRA_FIELDS:
                if pattern.match(str(key)) and _usable(name, value):
                    if (name, normalised(name, value)) not in seen:
                        seen.add((name, normalised(name, value)))
                        yield name, FieldValue(value, source(f"metadata.extra[{key}]"), zone)
                    break


def log_entry_fields(
    row: dict[str, Any], entry: dict[str, Any]
) -> Iterator[tuple[str, FieldValue]]:
    """(field, value) pairs a log entry states about the job it names."""
    where = f"line {entry['line']}" if entry.get("line") else f"offset {entry.get('offset')}"
    label = where
    address = _address_text(row)
    if address is not None and entry.get("offset") is not None:
        address = f"{address} @ {entry['offset']}"

    def source(key: str) -> FieldSource:
        return FieldSource(
            str(row.get("job_id")), str(row.get("format")), f"{label}: {key}", address
        )

    for key, name in _LOG_FIELDS:
        value = entry.get(key)
        if _usable(name, value):
            yield name, FieldValue(value, source(key))
    zone = entry.get("time_zone") and "UTC"
    if entry.get("time"):
        time_field = str(entry.get("time_field") or "printed")
        yield time_field, FieldValue(entry["time"], source("time"), zone or "unknown")
    if entry.get("last_time"):
        yield "completed", FieldValue(entry["last_time"], source("last time"), zone or "unknown")


def _address_text(row: dict[str, Any]) -> str | None:
    address = row.get("address")
    if isinstance(address, dict):
        return str(address.get("text")) if address.get("text") is not None else None
    return None if address is None else str(address)


def normalised(name: str, value: Any) -> str:
    """The form two values of a field are compared in (conflicts are real differences)."""
    text = str(value).strip().casefold()
    if name == "host":
        text = text.lstrip("\\")
    if name in TIME_FIELDS:
        text = text.removesuffix("z")[:19]  # to the second: a log keeps no milliseconds
    if name == "printer":
        text = text.rstrip("/").rsplit("/", 1)[-1]  # ipp://host/printers/q and q are one queue
    return text


# Job states, normalised from IPP job-state (RFC 8011 §5.3.7), Windows JOB_STATUS bits
# (.SHD) and device logs.
_STATE_WORDS = (
    (re.compile(r"cancel|deleted|deleting"), "cancelled"),
    (re.compile(r"abort|error"), "aborted"),
    (re.compile(r"held|hold|paused|retained|stored"), "held"),
    (re.compile(r"complete|printed|done|finished|success|^ok$"), "printed"),
    (re.compile(r"printing|processing|rendering"), "processing"),
    (re.compile(r"pending|spooling|queued|waiting"), "pending"),
)


def job_state(value: str) -> str | None:
    """A normalised job state for a stated one, or None when the words are unknown."""
    text = value.casefold()
    for pattern, state in _STATE_WORDS:
        if pattern.search(text):
            return state
    return None
