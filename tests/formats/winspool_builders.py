"""Byte builders for Windows spool formats that no Linux tool writes, field by field from the specs.

EMF records follow [MS-EMF] (§2.3.4.2 EMR_HEADER, §2.3.5 EMR_EXTTEXTOUTW and EMR_SMALLTEXTOUT,
§2.2.5 EmrText, §2.3.7 EMR_EXTCREATEFONTINDIRECTW, §2.3.3 comments); spool files follow
[MS-EMFSPOOL] §2.2.2/§2.2.3; DEVMODE follows [MS-RPRN] §2.2.2.1. Shadow files (undocumented) follow
the published structures: ReactOS localspl ``SHD_HEADER`` for the 32-bit layout, SafeBreach
``SHD.bt``/``ShadowFile64.py`` for the 64-bit one; SIDs and security descriptors follow [MS-DTYP].
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

# MS-EMF §2.1.1 RecordType
EMR_HEADER = 0x01
EMR_EOF = 0x0E
EMR_SETMAPMODE = 0x11
EMR_SELECTOBJECT = 0x25
EMR_GDICOMMENT = 0x46
EMR_EXTCREATEFONTINDIRECTW = 0x52
EMR_EXTTEXTOUTW = 0x54
EMR_SMALLTEXTOUT = 0x6C
ETO_GLYPH_INDEX = 0x10
ETO_NO_RECT = 0x100
ETO_SMALL_CHARS = 0x200


def utf16z(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


def pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def emf_record(record_type: int, body: bytes) -> bytes:
    """Type, Size, body padded to 4 bytes (MS-EMF §2.3: Size is a multiple of 4)."""
    body = pad4(body)
    return struct.pack("<II", record_type, 8 + len(body)) + body


def rect(left: int, top: int, right: int, bottom: int) -> bytes:
    return struct.pack("<iiii", left, top, right, bottom)


def emr_header(
    *,
    nbytes: int,
    nrecords: int,
    application: str = "",
    document: str = "",
    frame: tuple[int, int, int, int] = (0, 0, 21590, 27940),  # letter in .01 mm
    device: tuple[int, int] = (5100, 6600),  # 600 dpi letter
    millimeters: tuple[int, int] = (216, 279),
    nhandles: int = 1,
) -> bytes:
    """EMR_HEADER with the 88-byte Header object and a description after it."""
    description = b""
    ndescription = 0
    if application or document:
        text = f"{application}\x00{document}\x00\x00"
        description = text.encode("utf-16-le")
        ndescription = len(text)
    off_description = 88 if description else 0
    size = 88 + len(pad4(description))
    fixed = struct.pack("<II", EMR_HEADER, size)
    fixed += rect(0, 0, device[0] - 1, device[1] - 1)  # Bounds (device units)
    fixed += rect(*frame)  # Frame (.01 mm)
    fixed += struct.pack("<II", 0x464D4520, 0x00010000)  # " EMF", Version
    fixed += struct.pack("<IIHH", nbytes, nrecords, nhandles, 0)
    fixed += struct.pack("<III", ndescription, off_description, 0)
    fixed += struct.pack("<ii", *device) + struct.pack("<ii", *millimeters)
    assert len(fixed) == 88
    return fixed + pad4(description)


def emr_exttextoutw(
    text: str | None,
    x: int,
    y: int,
    *,
    glyph_ids: Sequence[int] | None = None,
    advance: int | None = 40,
    bounds: tuple[int, int, int, int] | None = None,
    options: int = 0,
) -> bytes:
    """EMR_EXTTEXTOUTW: Bounds, iGraphicsMode, scales, EmrText (Rectangle present), string, Dx."""
    if glyph_ids is not None:
        units = list(glyph_ids)
        options |= ETO_GLYPH_INDEX
    else:
        assert text is not None
        units = list(
            struct.unpack(f"<{len(text.encode('utf-16-le')) // 2}H", text.encode("utf-16-le"))
        )
    chars = len(units)
    string = pad4(struct.pack(f"<{chars}H", *units))
    off_string = 8 + 16 + 12 + 40
    off_dx = off_string + len(string) if advance is not None else 0
    dx = struct.pack(f"<{chars}i", *([advance] * chars)) if advance is not None else b""
    body = rect(*(bounds or (0, 0, -1, -1)))
    body += struct.pack("<Iff", 1, 1.0, 1.0)  # GM_COMPATIBLE, exScale, eyScale
    body += struct.pack("<iiIII", x, y, chars, off_string, options)
    body += rect(0, 0, 0, 0)  # EmrText.Rectangle
    body += struct.pack("<I", off_dx)
    body += string + dx
    return emf_record(EMR_EXTTEXTOUTW, body)


def emr_smalltextout(text: str, x: int, y: int, *, small_chars: bool = True) -> bytes:
    """EMR_SMALLTEXTOUT without Bounds (ETO_NO_RECT), 8-bit characters under ETO_SMALL_CHARS."""
    options = ETO_NO_RECT | (ETO_SMALL_CHARS if small_chars else 0)
    string = text.encode("latin-1") if small_chars else text.encode("utf-16-le")
    body = struct.pack("<iiIIIff", x, y, len(text), options, 1, 1.0, 1.0) + string
    return emf_record(EMR_SMALLTEXTOUT, body)


def emr_font(handle: int, height: int, face: str) -> bytes:
    """EMR_EXTCREATEFONTINDIRECTW with a 92-byte LogFont."""
    logfont = struct.pack("<iiiiiBBBBBBBB", height, 0, 0, 0, 400, 0, 0, 0, 0, 0, 0, 0, 0)
    logfont += face.encode("utf-16-le")[:62].ljust(64, b"\x00")
    return emf_record(EMR_EXTCREATEFONTINDIRECTW, struct.pack("<I", handle) + logfont)


def emr_selectobject(handle: int) -> bytes:
    return emf_record(EMR_SELECTOBJECT, struct.pack("<I", handle))


def emr_setmapmode(mode: int) -> bytes:
    return emf_record(EMR_SETMAPMODE, struct.pack("<I", mode))


def emr_comment_emfplus(payload: bytes = b"\x01\x40\x00\x00" + b"\x00" * 12) -> bytes:
    data = struct.pack("<I", 0x2B464D45) + payload
    return emf_record(EMR_GDICOMMENT, struct.pack("<I", len(data)) + data)


def emr_comment_begingroup(description: str) -> bytes:
    """Public comment EMR_COMMENT_BEGINGROUP: Rectangle, nDescription, UTF-16 description."""
    text = description.encode("utf-16-le")
    data = struct.pack("<II", 0x43494447, 0x00000002) + rect(0, 0, 10, 10)
    data += struct.pack("<I", len(description)) + text
    return emf_record(EMR_GDICOMMENT, struct.pack("<I", len(data)) + data)


def emr_eof() -> bytes:
    """EMR_EOF: nPalEntries 0, offPalEntries 16, SizeLast 20."""
    return emf_record(EMR_EOF, struct.pack("<III", 0, 16, 20))


def build_emf(records: Sequence[bytes], **header: object) -> bytes:
    """A whole EMF: header (nBytes/nRecords computed), records, EMR_EOF."""
    body = b"".join(records) + emr_eof()
    probe = emr_header(nbytes=0, nrecords=0, **header)  # type: ignore[arg-type]
    nbytes = len(probe) + len(body)
    nrecords = 1 + len(records) + 1
    return emr_header(nbytes=nbytes, nrecords=nrecords, **header) + body  # type: ignore[arg-type]


def text_page(lines: Sequence[str], *, line_height: int = 100, char_width: int = 40) -> list[bytes]:
    """EMR_EXTTEXTOUTW records for lines of text, one run per word, in scrambled order.

    Words are emitted last line first and right to left, so a correct reading order proves the
    parser sorts by position rather than trusting record order.
    """
    records: list[bytes] = [emr_font(1, -line_height, "Arial"), emr_selectobject(1)]
    placed: list[bytes] = []
    for row, line in enumerate(lines):
        x = 200
        for word in line.split(" "):
            y = 300 + row * line_height
            placed.append(emr_exttextoutw(word, x, y, advance=char_width))
            x += (len(word) + 1) * char_width
    return records + list(reversed(placed))


# --------------------------------------------------------------------------- DEVMODE (MS-RPRN)

DM_ORIENTATION, DM_PAPERSIZE, DM_COPIES = 0x1, 0x2, 0x100
DM_PRINTQUALITY, DM_COLOR, DM_DUPLEX = 0x400, 0x800, 0x1000
DM_YRESOLUTION, DM_COLLATE, DM_FORMNAME = 0x2000, 0x8000, 0x10000


def devmode(
    device_name: str,
    *,
    copies: int = 1,
    paper_size: int = 9,
    quality: int = 600,
    y_resolution: int = 600,
    color: int = 2,
    duplex: int = 2,
    orientation: int = 1,
    form_name: str = "A4",
    fields: int | None = None,
    driver_extra: bytes = b"",
    paper_length: int = 0,
    paper_width: int = 0,
) -> bytes:
    """DEVMODEW (220 bytes, dmSpecVersion 0x0401) plus private driver data."""
    if fields is None:
        fields = (
            DM_ORIENTATION
            | DM_PAPERSIZE
            | DM_COPIES
            | DM_PRINTQUALITY
            | DM_COLOR
            | DM_DUPLEX
            | DM_YRESOLUTION
            | DM_COLLATE
            | DM_FORMNAME
        )
    out = device_name.encode("utf-16-le")[:62].ljust(64, b"\x00")
    out += struct.pack("<HHHHI", 0x0401, 0x0001, 220, len(driver_extra), fields)
    out += struct.pack(
        "<hhhhhhhh", orientation, paper_size, paper_length, paper_width, 100, copies, 15, quality
    )
    out += struct.pack("<hhhhh", color, duplex, y_resolution, 3, 1)
    out += form_name.encode("utf-16-le")[:62].ljust(64, b"\x00")
    out += struct.pack("<HIIIIIIIIIIIII", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert len(out) == 220, len(out)
    return out + driver_extra


# --------------------------------------------------------------------------- EMFSPOOL

EMRI_DEVMODE = 0x03
EMRI_METAFILE_DATA = 0x0C
EMRI_METAFILE_EXT = 0x0D
EMRI_PS_JOB_DATA = 0x14


def spool_record(record_id: int, data: bytes) -> bytes:
    """ulID, cjSize, data padded to 4 bytes (MS-EMFSPOOL §2.2.3)."""
    data = pad4(data)
    return struct.pack("<II", record_id, len(data)) + data


def spool_header(document: str | None, output: str | None) -> bytes:
    """MS-EMFSPOOL §2.2.2: dwVersion, cjSize, dpszDocName, dpszOutput, then the names."""
    names = b""
    doc_offset = output_offset = 0
    if document is not None:
        doc_offset = 16
        names += utf16z(document)
    if output is not None:
        output_offset = 16 + len(names)
        names += utf16z(output)
    names = pad4(names)
    return struct.pack("<IIII", 0x00010000, 16 + len(names), doc_offset, output_offset) + names


def build_spool(
    document: str | None,
    output: str | None,
    pages: Sequence[bytes],
    *,
    devmode_record: bytes | None = None,
    extra_records: Sequence[bytes] = (),
) -> bytes:
    """Header, optional DEVMODE, then per page EMRI_METAFILE_DATA + EMRI_METAFILE_EXT."""
    out = bytearray(spool_header(document, output))
    out += b"".join(extra_records)
    if devmode_record is not None:
        out += spool_record(EMRI_DEVMODE, devmode_record)
    for page in pages:
        page_at = len(out)
        out += spool_record(EMRI_METAFILE_DATA, page)
        ext_at = len(out)
        out += spool_record(EMRI_METAFILE_EXT, struct.pack("<Q", ext_at - page_at))
    return bytes(out)


# --------------------------------------------------------------------------- SHD

SHD_32_HEADER_SIZE = 0x78  # Windows 2000/XP/2003 (ReactOS SHD_HEADER)
SHD_64_HEADER_SIZE = 0xE0  # Windows 7/10 x64


def build_shd(
    *,
    signature: int,
    wide: bool,
    job_id: int,
    strings: dict[str, str],
    submitted: tuple[int, int, int, int, int, int, int, int],
    pages: int,
    spl_size: int,
    devmode_blob: bytes | None = None,
    security: bytes | None = None,
    overrides: dict[str, int] | None = None,
) -> bytes:
    """A shadow file: header (32-bit DWORD or 64-bit QWORD offsets), then strings and blobs.

    ``strings`` keys: user, notify, document, port, printer, driver, processor, datatype,
    parameters, computer, sid (the last is 64-bit only, written as a string as Windows 10 does).
    ``overrides`` replaces an offset field by name after layout (for hostile inputs).
    """
    header_size = SHD_64_HEADER_SIZE if wide else SHD_32_HEADER_SIZE
    blobs = bytearray()
    offsets: dict[str, int] = {}

    def place(key: str, data: bytes) -> None:
        offsets[key] = header_size + len(blobs)
        blobs.extend(pad4(data))

    if devmode_blob is not None:
        place("devmode", devmode_blob)
    if security is not None:
        place("security", security)
    for key, value in strings.items():
        place(key, utf16z(value))
    offsets.update(overrides or {})

    def off(key: str) -> int:
        return offsets.get(key, 0)

    systemtime = struct.pack("<8H", *submitted)
    if wide:
        head = struct.pack("<IIHHIQ", signature, header_size, 0x0480, 0, job_id, 1)
        for key in (
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
        ):
            head += struct.pack("<Q", off(key))
        head += systemtime
        head += struct.pack("<IIII", 0, 0, spl_size, pages)
        head += struct.pack("<QQ", len(security or b""), off("security"))
        head += struct.pack("<IIQ", 0, 4, 0)
        head += struct.pack("<QQQ", off("computer"), spl_size, off("sid"))
        head = head.ljust(header_size, b"\x00")
    else:
        head = struct.pack("<IIHHII", signature, header_size, 0x0008, 0, job_id, 1)
        for key in (
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
        ):
            head += struct.pack("<I", off(key))
        head += systemtime
        head += struct.pack("<IIII", 0, 0, spl_size, pages)
        head += struct.pack("<II", len(security or b""), off("security"))
        head += struct.pack("<III", 0, 0, 0)
        head += struct.pack("<II", off("computer"), spl_size)
    assert len(head) == header_size, hex(len(head))
    return head + bytes(blobs)


def binary_sid(authority: int, *subauthorities: int) -> bytes:
    """MS-DTYP §2.4.2.2 SID: Revision 1, count, 48-bit big-endian authority, LE sub-authorities."""
    return (
        struct.pack("<BB", 1, len(subauthorities))
        + authority.to_bytes(6, "big")
        + struct.pack(f"<{len(subauthorities)}I", *subauthorities)
    )


def security_descriptor(owner: bytes, group: bytes, dacl_sids: Sequence[bytes]) -> bytes:
    """Self-relative SECURITY_DESCRIPTOR (MS-DTYP §2.4.6) with an ACCESS_ALLOWED DACL."""
    aces = b""
    for sid in dacl_sids:
        ace_body = struct.pack("<I", 0x000F0030) + sid  # Mask, Sid
        aces += struct.pack("<BBH", 0x00, 0x10, 4 + len(ace_body)) + ace_body
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), len(dacl_sids), 0) + aces
    dacl_at = 20
    owner_at = dacl_at + len(acl)
    group_at = owner_at + len(owner)
    head = struct.pack("<BBHIIII", 1, 0, 0x8004, owner_at, group_at, 0, dacl_at)
    return head + acl + owner + group
