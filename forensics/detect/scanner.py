"""Run YARA over byte buffers, decode each string instance, and confirm it with its validator.

YARA finds candidates fast (C, long literal atoms); the Python validators decide. Buffers are
scanned as large chunks with an overlap: a hit whose match starts inside the overlap is left to
the next chunk, so every hit is counted exactly once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import yara

from forensics.detect.masking import mask_context, printable, sha256_normalised
from forensics.detect.rules import RuleSet, rule_meta
from forensics.detect.validators import confidence_of, confirm, credential_service
from forensics.evidence.address import EvidenceAddress
from forensics.records import Finding, LocationClass

log = logging.getLogger(__name__)

CONTEXT_CHARS = 32
SCAN_TIMEOUT_SECONDS = 600
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Detection:
    """A confirmed hit in one buffer; offsets are absolute (``base`` + position in the buffer)."""

    rule: str
    category: str
    severity: str
    description: str
    offset: int  # first byte of the sensitive value
    length: int  # bytes of the value in the buffer's encoding
    encoding: str  # "ascii" | "utf-16le"
    value: str
    normalised: str
    value_sha256: str
    value_masked: str
    context_masked: str
    context: str
    validator: str = ""  # the rule's validator ("" when none): OCR text trusts only some
    confidence: str = "pattern"  # "validated" | "keyword-anchored" | "pattern"
    service: str | None = None  # credentials: SMTP, LDAP, SMB, FTP, SNMP, Wi-Fi... when known

    def to_finding(
        self,
        location_class: LocationClass,
        address: EvidenceAddress,
        *,
        reveal: bool,
        image_offset: int | None = None,
        stream_offset: int | None = None,
        path: str | None = None,
        inode: int | None = None,
        job_id: str | None = None,
    ) -> Finding:
        """The Finding record of this detection; ``address`` ends before the offset step,
        which is added here from ``image_offset`` (exact) or ``stream_offset``."""
        return Finding(
            rule=self.rule,
            category=self.category,
            severity=self.severity,
            description=self.description,
            value_masked=self.value_masked,
            value_sha256=self.value_sha256,
            context_masked=self.context_masked,
            location_class=location_class,
            image_offset=image_offset,
            length=self.length,
            encoding=self.encoding,
            address=address.at(image_offset, self.length, stream_offset=stream_offset),
            path=path,
            inode=inode,
            value=self.value if reveal else None,
            context=self.context if reveal else None,
            job_id=job_id,
            stream_offset=stream_offset,
            confidence=self.confidence,
            service=self.service,
        )


_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_SECTION_WINDOW = 4096  # bytes looked back for the INI section a key sits in
# Characters that end the look-back: control codes below TAB, and bytes UTF-16 could not decode.
_BINARY_CHARS = (*map(chr, range(9)), "\ufffd")
_SECTION_RE = re.compile(r"(?m)^[ \t]*\[([A-Za-z][A-Za-z0-9 _.\-]{0,40})\][ \t]*\r?$")


def _key_lead(buf: bytes, start: int, width: int) -> str:
    """Identifier characters just before a match: the front of a key the rule began inside
    (``Smtp`` of ``SmtpPassword``), at most 48 characters."""
    pos = start
    while pos - width >= 0 and start - pos < 48 * width:
        unit = buf[pos - width : pos]
        if unit[0] not in _KEY_CHARS or any(unit[1:]):
            break
        pos -= width
    return buf[pos:start:width].decode("ascii")


def _ini_section(buf: bytes, start: int, width: int) -> str | None:
    """The ``[Section]`` header heading the text a match sits in, within the last 4 KiB of
    plain text (a NUL or other binary byte ends the search: that is another file's data)."""
    lo = max(0, start - _SECTION_WINDOW * width)
    lo += (start - lo) % width
    raw = buf[lo:start]
    text = raw.decode("utf-16-le", errors="replace") if width == 2 else raw.decode("latin-1")
    binary = max(text.rfind(char) for char in _BINARY_CHARS)  # -1 when there is none
    headers = list(_SECTION_RE.finditer(text, binary + 1))
    return headers[-1].group(1) if headers else None


class DetectionError(Exception):
    """YARA could not scan a buffer; the scan records a Problem and goes on."""


def match_rules(rules: yara.Rules, buf: bytes, base: int) -> list[yara.Match]:
    """``rules`` over ``buf`` (at absolute offset ``base``), a YARA failure as DetectionError."""
    try:
        return rules.match(data=buf, timeout=SCAN_TIMEOUT_SECONDS)  # type: ignore[no-any-return]
    except yara.Error as exc:
        raise DetectionError(f"YARA failed on {len(buf)} bytes at offset {base}: {exc}") from exc


def _is_wide(data: bytes) -> bool:
    """A match of an ``ascii wide`` string in its UTF-16LE form: every high byte is zero.

    The first code unit may itself be NUL (a guard character after a string terminator, as in
    .SHD records); an ASCII-form match can never have zeros in every odd position.
    """
    return len(data) >= 2 and len(data) % 2 == 0 and not any(data[1::2]) and any(data[0::2])


class Detector:
    """Scans buffers with one compiled rule set."""

    def __init__(self, ruleset: RuleSet, context_chars: int = CONTEXT_CHARS):
        self.ruleset = ruleset
        self.context_chars = context_chars

    def scan(
        self,
        buf: bytes,
        base: int = 0,
        accept_start: int = 0,
        accept_end: int | None = None,
        utf8: bool = False,
        matches: Iterable[yara.Match] | None = None,
    ) -> list[Detection]:
        """Confirmed detections in ``buf``, whose first byte is at absolute offset ``base``.

        Only matches starting in ``[accept_start, accept_end)`` of ``buf`` are kept: the bytes
        before belong to the previous chunk (read again as a lead, so that no rule sees an
        artificial start of data), the bytes after are the overlap of the next chunk.
        ``matches``: the rule set's matches over ``buf`` when the caller ran YARA itself (with
        these rules joined to others); otherwise they are made here.
        Raises DetectionError when YARA fails (time-out, internal error).
        """
        if not buf:
            return []
        limit = len(buf) if accept_end is None else accept_end
        if matches is None:
            matches = match_rules(self.ruleset.rules, buf, base)
        best: dict[tuple[int, int], Detection] = {}
        for match in matches:
            meta = rule_meta(match.meta)
            for string in match.strings:
                for instance in string.instances:
                    if not accept_start <= instance.offset < limit:
                        continue
                    found = self._confirm(
                        buf, base, match.rule, meta, instance.offset, instance.matched_data, utf8
                    )
                    if found is None:
                        continue
                    key = (found.offset, found.length)
                    held = best.get(key)
                    if (
                        held is None
                        or _SEVERITY_RANK[found.severity] > _SEVERITY_RANK[held.severity]
                    ):
                        best[key] = found
        return sorted(best.values(), key=lambda d: (d.offset, d.rule))

    def _confirm(
        self,
        buf: bytes,
        base: int,
        rule: str,
        meta: dict[str, str],
        start: int,
        data: bytes,
        utf8: bool = False,
    ) -> Detection | None:
        wide = _is_wide(data)
        if wide:
            text = data.decode("utf-16-le", errors="replace")
        elif utf8:  # decoded job text is handed over as UTF-8: é is one character, not two
            text = data.decode("utf-8", errors="replace")
        else:
            text = data.decode("latin-1")
        confirmed = confirm(meta["validator"] or None, text)
        if confirmed is None:
            return None
        width = 2 if wide else 1
        if utf8 and not wide:
            value_start = start + len(text[: confirmed.span[0]].encode("utf-8"))
            value_end = start + len(text[: confirmed.span[1]].encode("utf-8"))
        else:
            value_start = start + confirmed.span[0] * width
            value_end = start + confirmed.span[1] * width
        before, after = self._context(buf, value_start, value_end, width, utf8)
        service = None
        if meta["category"] == "credentials":
            key = confirmed.key or text[: confirmed.span[0]]
            lead = _key_lead(buf, start, width)
            service = credential_service(lead + key, _ini_section(buf, start, width))
        return Detection(
            rule=rule,
            category=meta["category"],
            severity=meta["severity"],
            description=meta["description"],
            offset=base + value_start,
            length=value_end - value_start,
            encoding="utf-16le" if wide else ("utf-8" if utf8 else "ascii"),
            value=confirmed.value,
            normalised=confirmed.normalised,
            value_sha256=sha256_normalised(confirmed.normalised),
            value_masked=confirmed.masked,
            context_masked=mask_context(before, confirmed.masked, after),
            context=printable(before + confirmed.value + after),
            validator=meta["validator"],
            confidence=confidence_of(meta["validator"] or None),
            service=service,
        )

    def _context(
        self, buf: bytes, start: int, end: int, width: int, utf8: bool = False
    ) -> tuple[str, str]:
        span = self.context_chars * width
        lo = max(0, start - span)
        lo += (start - lo) % width  # keep UTF-16 code units aligned with the value
        hi = min(len(buf), end + span)
        hi -= (hi - end) % width
        codec = "utf-16-le" if width == 2 else ("utf-8" if utf8 else "latin-1")
        return (
            buf[lo:start].decode(codec, errors="replace"),
            buf[end:hi].decode(codec, errors="replace"),
        )
