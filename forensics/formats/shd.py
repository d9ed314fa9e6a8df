"""Windows spooler shadow files (.SHD): who printed which document, when, to which printer.

The format is undocumented. Layouts (all little-endian, string offsets from the file start to
NUL-terminated UTF-16LE):

- 0x4966 (NT 4) and 0x494B (Windows 9x): no header-size field; 32-bit offsets start at 0x10.
  Source: Lindemann's structures as carried by SHDViewer and ReadSHDFile.
- 0x4967 (2000/XP), 0x4968 (2003/Vista/7), 0x5123 (8/10/11) with a 32-bit header (size 0x78):
  DWORD offsets; 0x38 is the print-processor parameters (ReactOS localspl ``SHD_HEADER``).
- 0x4968/0x5123 with a 64-bit header (size ≥ 0xC0, 0xE0 on Windows 10 x64): QWORD offsets;
  SID string at 0xB8, PSF print ticket size/offset at 0xD0/0xD8 (SafeBreach ``SHD.bt`` and
  ``ShadowFile64.py``; measured on SafeBreach ``Spooler_DoS/00002.SHD``).

The layout is chosen by the header-size field and confirmed by where the offsets lead. Binary
structures referenced from the header: DEVMODE ([MS-RPRN] §2.2.2.1), self-relative
SECURITY_DESCRIPTOR and SIDs ([MS-DTYP] §2.4.6, §2.4.2.2, §2.4.5 ACL, §2.4.4.2 ACCESS_ALLOWED_ACE),
SYSTEMTIME ([MS-DTYP] §2.3.13). Job status bits: JOB_STATUS_* of the JOB_INFO_1 Status field
(winspool.h; the same flags as printerextension.h PrintJobStatus).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

import construct
from construct import Int16ul, Int32ul, Int64ul, Struct

from forensics.formats.base import (
    CarvePattern,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    ParseContext,
    ParsedJob,
    clean_field,
)
from forensics.formats.emfspool import DevMode, parse_devmode, read_utf16z, winspool_pair_key
from forensics.formats.times import from_systemtime

log = logging.getLogger(__name__)

SIGNATURE_WIN9X = 0x494B
SIGNATURE_NT4 = 0x4966
SIGNATURE_WIN2000 = 0x4967
SIGNATURE_WIN2003 = 0x4968
SIGNATURE_WIN10 = 0x5123
SIGNATURES = {
    SIGNATURE_WIN9X: "Windows 9x",
    SIGNATURE_NT4: "Windows NT 4",
    SIGNATURE_WIN2000: "Windows 2000/XP",
    SIGNATURE_WIN2003: "Windows Server 2003/Vista/7",
    SIGNATURE_WIN10: "Windows 8/10/11",
}
HEADER_SIZE_32 = 0x78  # through dwSPLSize2 (ReactOS SHD_HEADER)
HEADER_SIZE_64 = 0xC0  # through offSID
HEADER_SIZE_64_PSF = 0xE0  # Windows 10 x64, with the print ticket fields
MIN_HEADER_SIZE, MAX_HEADER_SIZE = 0x60, 0x1000
MAX_SHD_BYTES = 1024 * 1024  # a shadow file is a few KiB; extent() looks no further
MAX_ACES = 256
PSF_SIGNATURE = b"\x89PSF\r\n\x1a\n"  # "Printer Serialization Format" blob (observed, 00002.SHD)

_OFFSET_NAMES = (
    "user",
    "notify",
    "document",
    "port",
    "printer",
    "driver",
    "devmode",
    "processor",
    "datatype",
    "parameters",
)
# MS-DTYP §2.3.13 SYSTEMTIME.
SYSTEMTIME = Struct(
    "year" / Int16ul,
    "month" / Int16ul,
    "day_of_week" / Int16ul,
    "day" / Int16ul,
    "hour" / Int16ul,
    "minute" / Int16ul,
    "second" / Int16ul,
    "milliseconds" / Int16ul,
)
_OFFSETS_32 = Struct(*[name / Int32ul for name in _OFFSET_NAMES])
_OFFSETS_64 = Struct(*[name / Int64ul for name in _OFFSET_NAMES])
# NT 4 / 9x: dwSignature, wStatus, wUnknown1, dwJobID, dwPriority, offsets, SYSTEMTIME, ...
SHD_NT4 = Struct(
    "signature" / Int32ul,
    "status" / Int16ul,
    "unknown1" / Int16ul,
    "job_id" / Int32ul,
    "priority" / Int32ul,
    "offsets" / _OFFSETS_32,
    "submitted" / SYSTEMTIME,
    "start_time" / Int32ul,
    "until_time" / Int32ul,
    "spl_size" / Int32ul,
    "pages" / Int32ul,
    "security_size" / Int32ul,
    "security_offset" / Int32ul,
)
# 2000/XP/2003 and 32-bit Vista..11: as NT 4 with dwHeaderSize at 4 and three more fields.
SHD_32 = Struct(
    "signature" / Int32ul,
    "header_size" / Int32ul,
    "status" / Int16ul,
    "unknown1" / Int16ul,
    "job_id" / Int32ul,
    "priority" / Int32ul,
    "offsets" / _OFFSETS_32,
    "submitted" / SYSTEMTIME,
    "start_time" / Int32ul,
    "until_time" / Int32ul,
    "spl_size" / Int32ul,
    "pages" / Int32ul,
    "security_size" / Int32ul,
    "security_offset" / Int32ul,
    "unknown3" / Int32ul,
    "unknown4" / Int32ul,
    "unknown5" / Int32ul,
    "computer" / Int32ul,
    "spl_size2" / Int32ul,
)
SID_OFFSET_32 = 0x78  # written after dwSPLSize2 when the header is longer (ShadowFile32.py)
# 64-bit Windows 7..11: QWORD priority and offsets.
SHD_64 = Struct(
    "signature" / Int32ul,
    "header_size" / Int32ul,
    "status" / Int16ul,
    "unknown1" / Int16ul,
    "job_id" / Int32ul,
    "priority" / Int64ul,
    "offsets" / _OFFSETS_64,
    "submitted" / SYSTEMTIME,
    "start_time" / Int32ul,
    "until_time" / Int32ul,
    "spl_size" / Int32ul,
    "pages" / Int32ul,
    "security_size" / Int64ul,
    "security_offset" / Int64ul,
    "unknown3" / Int32ul,
    "unknown4" / Int32ul,
    "unknown5" / Int64ul,
    "computer" / Int64ul,
    "spl_size2" / Int64ul,
    "sid" / Int64ul,
)
_PSF_FIELDS = Struct("size" / Int64ul, "offset" / Int64ul)
PSF_FIELDS_OFFSET = 0xD0
# MS-DTYP §2.4.6 SECURITY_DESCRIPTOR (self-relative) and §2.4.5 ACL headers.
SECURITY_DESCRIPTOR = Struct(
    "revision" / construct.Int8ul,
    "sbz1" / construct.Int8ul,
    "control" / Int16ul,
    "owner" / Int32ul,
    "group" / Int32ul,
    "sacl" / Int32ul,
    "dacl" / Int32ul,
)
ACL_HEADER = Struct(
    "revision" / construct.Int8ul,
    "sbz1" / construct.Int8ul,
    "size" / Int16ul,
    "count" / Int16ul,
    "sbz2" / Int16ul,
)
ACE_HEADER = Struct("type" / construct.Int8ul, "flags" / construct.Int8ul, "size" / Int16ul)
# MS-DTYP §2.4.4.1: ACCESS_ALLOWED/DENIED (0, 1) and their callback/object-less forms carry
# Mask then SID right after the 4-byte header.
SIMPLE_ACE_TYPES = frozenset({0x00, 0x01, 0x09, 0x0A})
# JOB_INFO_1 Status: JOB_STATUS_* bits (winspool.h).
JOB_STATUS = (
    (0x0001, "paused"),
    (0x0002, "error"),
    (0x0004, "deleting"),
    (0x0008, "spooling"),
    (0x0010, "printing"),
    (0x0020, "offline"),
    (0x0040, "paper out"),
    (0x0080, "printed"),
    (0x0100, "deleted"),
    (0x0200, "blocked"),
    (0x0400, "user intervention"),
    (0x0800, "restart"),
    (0x1000, "complete"),
    (0x2000, "retained"),
    (0x4000, "rendering locally"),
)
# Fields the spooler always fills (ReactOS reads them unconditionally); others are optional.
MANDATORY_STRINGS = frozenset({"printer", "processor", "datatype"})
FIELD_LABELS = {
    "user": "user name",
    "notify": "notify name",
    "document": "document name",
    "port": "port",
    "printer": "printer name",
    "driver": "driver name",
    "processor": "print processor",
    "datatype": "data type",
    "parameters": "print processor parameters",
    "computer": "computer name",
    "sid": "SID",
    "devmode": "DEVMODE",
}


@dataclass(frozen=True)
class _Layout:
    kind: str  # "9x", "nt4", "32", "64"
    struct: construct.Struct
    size: int  # bytes the fixed header occupies


LAYOUT_9X = _Layout("9x", SHD_NT4, 0x10)
LAYOUT_NT4 = _Layout("nt4", SHD_NT4, 0x60)
LAYOUT_32 = _Layout("32", SHD_32, HEADER_SIZE_32)
LAYOUT_64 = _Layout("64", SHD_64, HEADER_SIZE_64)


def sid_to_string(raw: bytes) -> str | None:
    """MS-DTYP §2.4.2.2 binary SID → "S-1-5-…" (§2.4.2.1 string form), None if not a SID."""
    if len(raw) < 8 or raw[0] != 1 or raw[1] > 15 or len(raw) < 8 + 4 * raw[1]:
        return None
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack_from(f"<{raw[1]}I", raw, 8)
    auth_text = str(authority) if authority < 2**32 else f"0x{authority:012X}"
    return "-".join(["S", "1", auth_text, *map(str, subs)])


def sid_length(raw: bytes) -> int:
    return 8 + 4 * raw[1] if len(raw) >= 2 else 0


def job_status_text(status: int) -> str | None:
    names = [name for bit, name in JOB_STATUS if status & bit]
    return ", ".join(names) if names else None


@dataclass
class _Reader:
    """Reads referenced items of one shadow file, with a note for every bad reference."""

    data: bytes
    header_size: int
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    end: int = 0  # furthest byte referenced and read

    def reach(self, position: int) -> None:
        self.end = max(self.end, min(position, len(self.data)))

    def check(self, key: str, offset: int) -> bool:
        """Whether ``offset`` may be followed; notes why not (0 is "absent", not damage)."""
        label = FIELD_LABELS.get(key, key)
        if offset == 0:
            if key == "port" or key in MANDATORY_STRINGS:
                self.notes.append(f"{label} offset is 0: no {label} recorded")
            return False
        if offset >= len(self.data):
            self.notes.append(f"{label} offset 0x{offset:x} outside the {len(self.data)}-byte file")
            self.complete = False
            return False
        if offset < self.header_size:
            self.notes.append(f"{label} offset 0x{offset:x} points into the header")
            self.complete = False
            return False
        return True

    def string(self, key: str, offset: int) -> str | None:
        if not self.check(key, offset):
            return None
        text, terminated = read_utf16z(self.data, offset)
        if not terminated:
            label = FIELD_LABELS.get(key, key)
            self.notes.append(f"{label} at 0x{offset:x} is not NUL-terminated")
            self.complete = False
            self.reach(len(self.data))
        else:
            self.reach(offset + 2 * (len(text or "") + 1))
        return text

    def sid(self, offset: int) -> str | None:
        """Windows 10 writes the SID as a string; a binary SID is accepted as well."""
        if not self.check("sid", offset):
            return None
        if self.data[offset : offset + 4] == b"S\x00-\x00":
            return self.string("sid", offset)
        raw = self.data[offset : offset + 68]
        text = sid_to_string(raw)
        if text is None:
            self.notes.append(f"SID at 0x{offset:x} is neither a SID string nor a binary SID")
            self.complete = False
        else:
            self.reach(offset + sid_length(raw))
        return text

    def devmode(self, offset: int) -> DevMode | None:
        if not self.check("devmode", offset):
            return None
        devmode, notes = parse_devmode(self.data, offset, len(self.data) - offset)
        self.notes.extend(notes)
        if notes:
            self.complete = False
        if devmode is not None and offset + 72 <= len(self.data):
            size, extra = struct.unpack_from("<HH", self.data, offset + 68)  # dmSize, dmDriverExtra
            self.reach(offset + size + extra)
        return devmode

    def security(self, offset: int, size: int) -> tuple[str | None, list[str]]:
        """Owner SID and the SIDs granted access in the DACL of a self-relative descriptor."""
        if not self.check("security descriptor", offset):
            return None, []
        end = min(len(self.data), offset + size) if size else len(self.data)
        if end - offset < 20:
            self.notes.append(f"security descriptor at 0x{offset:x} truncated")
            self.complete = False
            return None, []
        self.reach(end)
        descriptor = SECURITY_DESCRIPTOR.parse(self.data[offset : offset + 20])
        owner = None
        if descriptor.owner and offset + descriptor.owner < end:
            owner = sid_to_string(self.data[offset + descriptor.owner : end])
        sids: list[str] = []
        acl_at = offset + descriptor.dacl
        if descriptor.dacl and acl_at + 8 <= end:
            acl = ACL_HEADER.parse(self.data[acl_at : acl_at + 8])
            cursor = acl_at + 8
            acl_end = min(end, acl_at + acl.size)
            for _ in range(min(acl.count, MAX_ACES)):
                if cursor + 8 > acl_end:
                    break
                ace = ACE_HEADER.parse(self.data[cursor : cursor + 4])
                if ace.size < 8 or cursor + ace.size > acl_end:
                    break
                if ace.type in SIMPLE_ACE_TYPES:
                    sid = sid_to_string(self.data[cursor + 8 : cursor + ace.size])
                    if sid and sid not in sids:
                        sids.append(sid)
                cursor += ace.size
        return owner, sids


def _header_size(data: bytes) -> int:
    return struct.unpack_from("<I", data, 4)[0] if len(data) >= 8 else 0


def _layout_for(data: bytes, signature: int, name: str | None) -> tuple[_Layout, list[str]]:
    """Pick the layout by signature and header size; NotThisFormat when neither fits."""
    notes: list[str] = []
    if signature in (SIGNATURE_WIN9X, SIGNATURE_NT4):
        # No header-size field to check: the job id (which names the file) must be plausible,
        # and an NT 4 header must lead to at least one of its strings.
        if not _valid_job_id(struct.unpack_from("<I", data, 8)[0]):
            raise NotThisFormat("implausible job id")
        if signature == SIGNATURE_NT4 and _score(data, LAYOUT_NT4) == 0:
            raise NotThisFormat("NT 4 shadow header leads to no strings")
        return (LAYOUT_9X if signature == SIGNATURE_WIN9X else LAYOUT_NT4), notes
    header_size = _header_size(data)
    if signature not in SIGNATURES:
        # An unlisted signature (a newer Windows) is taken only from a file named *.SHD.
        if not (name and name.lower().endswith(".shd") and signature < 0x10000):
            raise NotThisFormat("unknown shadow file signature")
        notes.append(f"unrecognised signature 0x{signature:x}: layout chosen by the header size")
    if not MIN_HEADER_SIZE <= header_size <= MAX_HEADER_SIZE:
        raise NotThisFormat("implausible shadow file header size")
    by_size = LAYOUT_64 if header_size >= HEADER_SIZE_64 else LAYOUT_32
    other = LAYOUT_32 if by_size is LAYOUT_64 else LAYOUT_64
    if _score(data, by_size) == 0 and _score(data, other) >= 3:
        notes.append(
            f"header size 0x{header_size:x} suggests the {by_size.kind}-bit layout, "
            f"but only the {other.kind}-bit offsets lead to strings: using {other.kind}-bit"
        )
        return other, notes
    return by_size, notes


def _score(data: bytes, layout: _Layout) -> int:
    """How many mandatory string offsets of ``layout`` lead to a terminated UTF-16 string."""
    if len(data) < layout.size:
        return 0
    header = layout.struct.parse(data[: layout.size])
    score = 0
    for key in ("printer", "processor", "datatype", "user", "document"):
        offset = header.offsets[key]
        if layout.size <= offset < len(data):
            text, terminated = read_utf16z(data, offset, max_chars=260)
            score += bool(terminated and text)
    return score


class ShdParser(FormatParser):
    """Windows spooler shadow file (.SHD), the job ticket beside an .SPL spool file."""

    name = "shd"
    role = "control"
    description = "Windows print spooler shadow file (.SHD): job owner, document, printer, time"
    priority = 60
    # Signature dword (0x4966 NT 4, 0x4967 2000, 0x4968 XP/2003, 0x5123 Vista+) then a header
    # size below 64 KiB (the sniff then asks for MIN_HEADER_SIZE..MAX_HEADER_SIZE).
    carve_patterns = (CarvePattern("{ ( 66 49 | 67 49 | 68 49 | 23 51 ) 00 00 ?? ?? 00 00 }"),)

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        if len(head) < 16:
            return False
        signature = struct.unpack_from("<I", head)[0]
        if signature in (SIGNATURE_WIN9X, SIGNATURE_NT4):
            return _valid_job_id(struct.unpack_from("<I", head, 8)[0])
        header_size = _header_size(head)
        if signature in SIGNATURES:
            return MIN_HEADER_SIZE <= header_size <= MAX_HEADER_SIZE
        return bool(
            name
            and name.lower().endswith(".shd")
            and signature < 0x10000
            and MIN_HEADER_SIZE <= header_size <= MAX_HEADER_SIZE
        )

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        if len(data) < 16:
            raise NotThisFormat("too short for a shadow file")
        signature = struct.unpack_from("<I", data)[0]
        layout, layout_notes = _layout_for(data, signature, ctx.name)
        job = ParsedJob(format=self.name, notes=list(layout_notes))
        if layout is LAYOUT_9X:
            return self._win9x(data, ctx, job)
        try:
            self._parse_layout(data, layout, signature, ctx, job)
        except (
            construct.ConstructError,
            ValueError,
            IndexError,
            struct.error,
            OverflowError,
        ) as exc:
            log.debug("shadow file parse failed", exc_info=True)
            job.notes.append(f"shadow file could not be decoded ({exc.__class__.__name__})")
            job.complete = False
        return job

    def _win9x(self, data: bytes, ctx: ParseContext, job: ParsedJob) -> ParsedJob:
        """Windows 9x shadow files: layout unverified, so only the job id is read."""
        job_id = struct.unpack_from("<I", data, 8)[0]
        job.metadata = JobMetadata(job_id=str(job_id))
        job.notes.append("Windows 9x shadow file (0x494B): layout unverified, fields not decoded")
        job.pair_key = winspool_pair_key(ctx.name) or _job_pair_key(job_id)
        job.length = len(data)
        return job

    def _parse_layout(
        self, data: bytes, layout: _Layout, signature: int, ctx: ParseContext, job: ParsedJob
    ) -> None:
        padded = data
        if len(data) < layout.size:
            job.notes.append(
                f"shadow file truncated: {len(data)} bytes, the header needs {layout.size}"
            )
            job.complete = False
            padded = data + b"\x00" * (layout.size - len(data))
        header = layout.struct.parse(padded[: layout.size])
        header_size = layout.size if layout.kind == "nt4" else header.header_size
        if header_size > len(data):
            job.notes.append(f"header size 0x{header_size:x} larger than the {len(data)}-byte file")
            job.complete = False
        if not _valid_job_id(header.job_id):
            job.notes.append(f"job id {header.job_id} outside 1..99999")
        reader = _Reader(data, min(header_size, len(data)))
        reader.reach(min(header_size, len(data)))
        offsets = header.offsets
        strings = {
            key: reader.string(key, offsets[key]) for key in _OFFSET_NAMES if key != "devmode"
        }
        devmode = reader.devmode(offsets.devmode)
        computer = sid = None
        extra: list[tuple[str, str]] = [
            (
                "shd_layout",
                f"{SIGNATURES.get(signature, 'unknown')} (0x{signature:x}, "
                f"{'64' if layout.kind == '64' else '32'}-bit offsets)",
            ),
            ("priority", str(header.priority)),
            ("spool_size", str(header.spl_size)),
        ]
        if layout.kind in ("32", "64"):
            computer = reader.string("computer", header.computer)
            if header.spl_size2 != header.spl_size:
                extra.append(("spool_size_2", str(header.spl_size2)))
        if layout.kind == "64":
            sid = reader.sid(header.sid)
            self._print_ticket(data, header_size, reader, extra)
        elif (
            layout.kind == "32"
            and header_size >= SID_OFFSET_32 + 4
            and len(data) >= SID_OFFSET_32 + 4
        ):
            sid = reader.sid(struct.unpack_from("<I", data, SID_OFFSET_32)[0])
        owner: str | None = None
        dacl_sids: list[str] = []
        if header.security_offset:
            owner, dacl_sids = reader.security(header.security_offset, header.security_size)
        if owner:
            extra.append(("owner_sid", owner))
        if dacl_sids:
            extra.append(("dacl_sids", ", ".join(dacl_sids)))
        for key, label in (
            ("notify", "notify_name"),
            ("processor", "print_processor"),
            ("parameters", "parameters"),
        ):
            if strings.get(key):
                extra.append((label, strings[key] or ""))
        if devmode is not None:
            if devmode.device_name and devmode.device_name != strings["printer"]:
                extra.append(("devmode_printer", devmode.device_name))
            extra.extend(devmode.extra())
        submitted = header.submitted
        job.metadata = JobMetadata(
            user=strings["user"],
            # The spooler stores the client as a UNC machine name ("\\\\P-B0X"): host is the name.
            host=clean_field(computer.lstrip("\\")) if computer else None,
            document_name=strings["document"],
            printer=strings["printer"] or (devmode.device_name if devmode else None),
            port=strings["port"],
            driver=strings["driver"],
            data_type=strings["datatype"],
            job_id=str(header.job_id),
            state=job_status_text(header.status),
            submitted=from_systemtime(
                submitted.year,
                submitted.month,
                submitted.day,
                submitted.hour,
                submitted.minute,
                submitted.second,
                submitted.milliseconds,
            ),
            pages=header.pages,
            copies=devmode.copies if devmode else None,
            media=devmode.media if devmode else None,
            resolution=devmode.resolution if devmode else None,
            sid=sid or owner,
            extra=tuple(extra),
        )
        if submitted.year and job.metadata.submitted is None:
            job.notes.append(
                "submit time is not a valid date "
                f"({submitted.year}-{submitted.month}-{submitted.day} "
                f"{submitted.hour}:{submitted.minute}:{submitted.second})"
            )
        job.notes.extend(reader.notes)
        job.complete = job.complete and reader.complete
        job.pair_key = winspool_pair_key(ctx.name) or _job_pair_key(header.job_id)
        job.length = max(reader.end, min(header_size, len(data)))

    @staticmethod
    def _print_ticket(
        data: bytes, header_size: int, reader: _Reader, extra: list[tuple[str, str]]
    ) -> None:
        """The PSF print ticket a Windows 10 x64 header points at (0xD0 size, 0xD8 offset)."""
        if header_size < HEADER_SIZE_64_PSF or len(data) < PSF_FIELDS_OFFSET + 16:
            return
        psf = _PSF_FIELDS.parse(data[PSF_FIELDS_OFFSET : PSF_FIELDS_OFFSET + 16])
        if not psf.offset or not psf.size:
            return
        if psf.offset >= len(data) or data[psf.offset : psf.offset + 8] != PSF_SIGNATURE:
            reader.notes.append(f"print ticket offset 0x{psf.offset:x} does not lead to a PSF blob")
            return
        reader.reach(psf.offset + psf.size)
        extra.append(("print_ticket", f"PSF, {psf.size} bytes at 0x{psf.offset:x}"))

    def extent(self, buf: bytes, offset: int) -> int | None:
        """The furthest byte the header references (strings, DEVMODE, descriptor, ticket)."""
        try:
            job = self.parse(buf[offset : offset + MAX_SHD_BYTES], ParseContext())
        except NotThisFormat:
            return None
        return job.length


def _valid_job_id(job_id: int) -> bool:
    """Spool files are named after the job id in five digits (ReactOS IS_VALID_JOB_ID)."""
    return 0 < job_id <= 99999


def _job_pair_key(job_id: int) -> str | None:
    """Windows names the pair after the job id: job 2 → 00002.SHD / 00002.SPL."""
    return f"winspool:{job_id:05d}" if _valid_job_id(job_id) else None
