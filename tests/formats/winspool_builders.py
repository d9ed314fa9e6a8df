"""Byte builders for Windows spool formats that no Linux tool writes, as construct Structs.

The Structs below are written from the specifications, not from the parsers: they are an
independent oracle. Nothing here imports ``forensics.formats``, so a wrong offset or width in a
parser Struct is not mirrored by the bytes the tests feed it, and the test fails.

EMF records follow [MS-EMF] (§2.3.4.2 EMR_HEADER, §2.3.5.8 EMR_EXTTEXTOUTW with the §2.2.5 EmrText
object, §2.3.5.37 EMR_SMALLTEXTOUT, §2.3.7.8 EMR_EXTCREATEFONTINDIRECTW with the §2.2.13 LogFont
object, §2.3.8.5 EMR_SELECTOBJECT, §2.3.11.19 EMR_SETMAPMODE, §2.3.3 comments, §2.3.4.1 EMR_EOF);
spool files follow [MS-EMFSPOOL] §2.2.2 (header) and §2.2.3 (records); DEVMODE follows [MS-RPRN]
§2.2.2.1. Shadow files are undocumented: the 32-bit header is ReactOS localspl's ``SHD_HEADER``
(0x78 bytes), the 64-bit one SafeBreach's ``SHD.bt``/``ShadowFile64.py`` layout (0xE0 bytes) as
measured on a Windows 10 sample. SIDs and security descriptors follow [MS-DTYP] §2.4.2.2 and §2.4.6.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from construct import (
    Aligned,
    Array,
    Bytes,
    BytesInteger,
    Const,
    Construct,
    CString,
    Default,
    ExprAdapter,
    Float32l,
    GreedyBytes,
    GreedyString,
    If,
    IfThenElse,
    Int8ul,
    Int16sl,
    Int16ul,
    Int32sl,
    Int32ul,
    Int64ul,
    PaddedString,
    Padding,
    Prefixed,
    Rebuild,
    StringEncoded,
    Struct,
    len_,
    obj_,
    this,
)

# ----------------------------------------------------------------------------- shared pieces

# A NUL-terminated UTF-16LE string, the form every string in these formats takes.
Utf16z = CString("utf-16-le")
# MS-EMF §2.3 and MS-EMFSPOOL §2.2: every record is a multiple of 4 bytes long.
Aligned4Bytes = Aligned(4, GreedyBytes)
# A size field that counts the two DWORDs (type and size) before the data as well: EMF record Size
# (MS-EMF §2.3) and the EMFSPOOL header's cjSize (MS-EMFSPOOL §2.2.2).
SizeWithTypeAndSize = ExprAdapter(Int32ul, obj_ - 8, obj_ + 8)


def utf16z(text: str) -> bytes:
    return Utf16z.build(text)


def pad4(data: bytes) -> bytes:
    return Aligned4Bytes.build(data)


def wchar32(text: str) -> str:
    """What fits a WCHAR[32] field: 31 UTF-16 code units and the terminating NUL."""
    return text[:31]


# ----------------------------------------------------------------------------- EMF (MS-EMF)

# MS-EMF §2.1.1 RecordType
EMR_HEADER = 0x01
EMR_EOF = 0x0E
EMR_SETMAPMODE = 0x11
EMR_SELECTOBJECT = 0x25
EMR_GDICOMMENT = 0x46
EMR_EXTCREATEFONTINDIRECTW = 0x52
EMR_EXTTEXTOUTW = 0x54
EMR_SMALLTEXTOUT = 0x6C
# MS-EMF §2.1.11 ExtTextOutOptions
ETO_GLYPH_INDEX = 0x10
ETO_NO_RECT = 0x100
ETO_SMALL_CHARS = 0x200
# MS-EMF §2.2.9 Header: RecordSignature is ENHMETA_SIGNATURE (" EMF"), Version 0x00010000.
ENHMETA_SIGNATURE = 0x464D4520
EMF_VERSION = 0x00010000
# MS-EMF §2.3.3.2 and §2.3.3.4: comment identifiers.
EMR_COMMENT_EMFPLUS = 0x2B464D45  # "EMF+"
EMR_COMMENT_PUBLIC = 0x43494447  # "GDIC"
EMR_COMMENT_BEGINGROUP = 0x00000002  # §2.1.6 EmrComment public comment identifier
GM_COMPATIBLE = 1  # §2.1.16 GraphicsMode
FW_NORMAL = 400  # LogFont Weight

# MS-WMF §2.2.2.19 RectL, §2.2.2.15 PointL, §2.2.2.22 SizeL (used by MS-EMF)
RectL = Struct("left" / Int32sl, "top" / Int32sl, "right" / Int32sl, "bottom" / Int32sl)
PointL = Struct("x" / Int32sl, "y" / Int32sl)
SizeL = Struct("cx" / Int32sl, "cy" / Int32sl)


def emf_record_struct(record_type: int, body: Construct) -> Struct:
    """MS-EMF §2.3: Type, Size (the whole record), then the body padded to 4 bytes."""
    return Struct(
        "Type" / Const(record_type, Int32ul),
        "Body" / Prefixed(SizeWithTypeAndSize, Aligned(4, body)),
    )


EmfRecord = Struct("Type" / Int32ul, "Body" / Prefixed(SizeWithTypeAndSize, Aligned4Bytes))

# §2.3.4.2 EMR_HEADER holding the §2.2.9 Header object (88 bytes with Type and Size) and no
# header extension: the description, application and document name, follows at offset 88.
EMR_HEADER_FIXED_SIZE = 88
EmrHeader = emf_record_struct(
    EMR_HEADER,
    Struct(
        "Bounds" / RectL,  # device units
        "Frame" / RectL,  # .01 mm
        "RecordSignature" / Const(ENHMETA_SIGNATURE, Int32ul),
        "Version" / Const(EMF_VERSION, Int32ul),
        "Bytes" / Int32ul,
        "Records" / Int32ul,
        "Handles" / Int16ul,
        "Reserved" / Const(0, Int16ul),
        "nDescription" / Rebuild(Int32ul, len_(this.Description)),  # in UTF-16 characters
        "offDescription"
        / Rebuild(Int32ul, lambda ctx: EMR_HEADER_FIXED_SIZE if ctx.Description else 0),
        "nPalEntries" / Default(Int32ul, 0),
        "Device" / SizeL,  # pixels
        "Millimeters" / SizeL,
        "Description" / GreedyString("utf-16-le"),
    ),
)

# §2.2.5 EmrText. The Rectangle is absent under ETO_NO_RECT; EMR_EXTTEXTOUTW as built here always
# carries it.
EmrText = Struct(
    "Reference" / PointL,
    "Chars" / Int32ul,
    "offString" / Int32ul,  # from the start of the record
    "Options" / Int32ul,
    "Rectangle" / RectL,
    "offDx" / Int32ul,  # from the start of the record; 0 when there is no Dx buffer
)
ExtTextOutWFixed = Struct(
    "Bounds" / RectL,
    "iGraphicsMode" / Int32ul,
    "exScale" / Float32l,
    "eyScale" / Float32l,
    "aEmrText" / EmrText,
)
# The string follows the fixed part; Type and Size are the 8 bytes before it.
EXTTEXTOUTW_STRING_OFFSET = 8 + ExtTextOutWFixed.sizeof()
# §2.3.5.8 EMR_EXTTEXTOUTW: the UTF-16 string (or glyph indices) padded to 4, then one Dx per char.
EmrExtTextOutW = emf_record_struct(
    EMR_EXTTEXTOUTW,
    Struct(
        *ExtTextOutWFixed.subcons,
        "StringBuffer" / Aligned(4, Array(this.aEmrText.Chars, Int16ul)),
        "DxBuffer" / If(this.aEmrText.offDx != 0, Array(this.aEmrText.Chars, Int32sl)),
    ),
)

# §2.3.5.37 EMR_SMALLTEXTOUT: 8-bit characters under ETO_SMALL_CHARS, else UTF-16.
EmrSmallTextOut = emf_record_struct(
    EMR_SMALLTEXTOUT,
    Struct(
        "x" / Int32sl,
        "y" / Int32sl,
        "cChars" / Int32ul,
        "fuOptions" / Int32ul,
        "iGraphicsMode" / Int32ul,
        "exScale" / Float32l,
        "eyScale" / Float32l,
        "Bounds" / If((this.fuOptions & ETO_NO_RECT) == 0, RectL),
        "TextString"
        / IfThenElse(
            (this.fuOptions & ETO_SMALL_CHARS) != 0,
            StringEncoded(Bytes(this.cChars), "latin-1"),
            StringEncoded(Bytes(this.cChars * 2), "utf-16-le"),
        ),
    ),
)

# §2.2.13 LogFont, 92 bytes: FaceName is WCHAR[32].
LogFont = Struct(
    "Height" / Int32sl,
    "Width" / Default(Int32sl, 0),
    "Escapement" / Default(Int32sl, 0),
    "Orientation" / Default(Int32sl, 0),
    "Weight" / Default(Int32sl, FW_NORMAL),
    "Italic" / Default(Int8ul, 0),
    "Underline" / Default(Int8ul, 0),
    "StrikeOut" / Default(Int8ul, 0),
    "CharSet" / Default(Int8ul, 0),
    "OutPrecision" / Default(Int8ul, 0),
    "ClipPrecision" / Default(Int8ul, 0),
    "Quality" / Default(Int8ul, 0),
    "PitchAndFamily" / Default(Int8ul, 0),
    "FaceName" / PaddedString(64, "utf-16-le"),
)
# §2.3.7.8 EMR_EXTCREATEFONTINDIRECTW with a plain LogFont as elw.
EmrExtCreateFontIndirectW = emf_record_struct(
    EMR_EXTCREATEFONTINDIRECTW, Struct("ihFont" / Int32ul, "elw" / LogFont)
)
EmrSelectObject = emf_record_struct(EMR_SELECTOBJECT, Struct("ihObject" / Int32ul))  # §2.3.8.5
EmrSetMapMode = emf_record_struct(EMR_SETMAPMODE, Struct("MapMode" / Int32ul))  # §2.3.11.19

# §2.3.3.2 EMR_COMMENT_EMFPLUS: DataSize, then "EMF+" and the EMF+ records it counts.
EmrCommentEmfPlus = emf_record_struct(
    EMR_GDICOMMENT,
    Prefixed(
        Int32ul,  # DataSize
        Struct(
            "EmfPlusSignature" / Const(EMR_COMMENT_EMFPLUS, Int32ul),
            "EmfPlusRecords" / GreedyBytes,
        ),
    ),
)
# §2.3.3.4.1 EMR_COMMENT_BEGINGROUP, a public comment: DataSize, "GDIC", 2, Rectangle, description.
EmrCommentBeginGroup = emf_record_struct(
    EMR_GDICOMMENT,
    Prefixed(
        Int32ul,  # DataSize
        Struct(
            "CommentIdentifier" / Const(EMR_COMMENT_PUBLIC, Int32ul),
            "PublicCommentIdentifier" / Const(EMR_COMMENT_BEGINGROUP, Int32ul),
            "Rectangle" / RectL,
            "nDescription" / Rebuild(Int32ul, len_(this.Description)),  # in UTF-16 characters
            "Description" / GreedyString("utf-16-le"),
        ),
    ),
)
# §2.3.4.1 EMR_EOF without palette entries: offPalEntries (from the record start) is where the
# entries would begin, right after nPalEntries and itself, and SizeLast repeats the record size.
EmrEof = emf_record_struct(
    EMR_EOF,
    Struct(
        "nPalEntries" / Const(0, Int32ul),
        "offPalEntries" / Const(16, Int32ul),
        "SizeLast" / Const(20, Int32ul),
    ),
)


def _rect(values: tuple[int, int, int, int]) -> dict[str, int]:
    return dict(zip(("left", "top", "right", "bottom"), values, strict=True))


def emf_record(record_type: int, body: bytes) -> bytes:
    """Type, Size, body padded to 4 bytes (MS-EMF §2.3: Size is a multiple of 4)."""
    return EmfRecord.build({"Type": record_type, "Body": body})


def rect(left: int, top: int, right: int, bottom: int) -> bytes:
    return RectL.build(_rect((left, top, right, bottom)))


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
    # §2.2.9: the description is the application name and the document name, each NUL-terminated,
    # and one more NUL at the end.
    description = f"{application}\x00{document}\x00\x00" if application or document else ""
    return EmrHeader.build(
        {
            "Body": {
                "Bounds": _rect((0, 0, device[0] - 1, device[1] - 1)),
                "Frame": _rect(frame),
                "Bytes": nbytes,
                "Records": nrecords,
                "Handles": nhandles,
                "Device": {"cx": device[0], "cy": device[1]},
                "Millimeters": {"cx": millimeters[0], "cy": millimeters[1]},
                "Description": description,
            }
        }
    )


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
    assert not options & ETO_NO_RECT, "this builder always writes EmrText.Rectangle"
    if glyph_ids is not None:
        units = list(glyph_ids)
        options |= ETO_GLYPH_INDEX
    else:
        assert text is not None
        encoded = text.encode("utf-16-le")
        units = list(Array(len(encoded) // 2, Int16ul).parse(encoded))
    chars = len(units)
    string_size = len(pad4(bytes(2 * chars)))
    off_dx = EXTTEXTOUTW_STRING_OFFSET + string_size if advance is not None else 0
    return EmrExtTextOutW.build(
        {
            "Body": {
                "Bounds": _rect(bounds or (0, 0, -1, -1)),
                "iGraphicsMode": GM_COMPATIBLE,
                "exScale": 1.0,
                "eyScale": 1.0,
                "aEmrText": {
                    "Reference": {"x": x, "y": y},
                    "Chars": chars,
                    "offString": EXTTEXTOUTW_STRING_OFFSET,
                    "Options": options,
                    "Rectangle": _rect((0, 0, 0, 0)),
                    "offDx": off_dx,
                },
                "StringBuffer": units,
                "DxBuffer": [advance] * chars if advance is not None else None,
            }
        }
    )


def emr_smalltextout(text: str, x: int, y: int, *, small_chars: bool = True) -> bytes:
    """EMR_SMALLTEXTOUT without Bounds (ETO_NO_RECT), 8-bit characters under ETO_SMALL_CHARS."""
    return EmrSmallTextOut.build(
        {
            "Body": {
                "x": x,
                "y": y,
                "cChars": len(text),
                "fuOptions": ETO_NO_RECT | (ETO_SMALL_CHARS if small_chars else 0),
                "iGraphicsMode": GM_COMPATIBLE,
                "exScale": 1.0,
                "eyScale": 1.0,
                "Bounds": None,
                "TextString": text,
            }
        }
    )


def emr_font(handle: int, height: int, face: str) -> bytes:
    """EMR_EXTCREATEFONTINDIRECTW with a 92-byte LogFont."""
    return EmrExtCreateFontIndirectW.build(
        {"Body": {"ihFont": handle, "elw": {"Height": height, "FaceName": wchar32(face)}}}
    )


def emr_selectobject(handle: int) -> bytes:
    return EmrSelectObject.build({"Body": {"ihObject": handle}})


def emr_setmapmode(mode: int) -> bytes:
    return EmrSetMapMode.build({"Body": {"MapMode": mode}})


def emr_comment_emfplus(payload: bytes = b"\x01\x40\x00\x00" + b"\x00" * 12) -> bytes:
    """EMF+ comment; the default payload is an EmfPlusHeader record's first 16 bytes."""
    return EmrCommentEmfPlus.build({"Body": {"EmfPlusRecords": payload}})


def emr_comment_begingroup(description: str) -> bytes:
    """Public comment EMR_COMMENT_BEGINGROUP: Rectangle, nDescription, UTF-16 description."""
    return EmrCommentBeginGroup.build(
        {"Body": {"Rectangle": _rect((0, 0, 10, 10)), "Description": description}}
    )


def emr_eof() -> bytes:
    """EMR_EOF: nPalEntries 0, offPalEntries 16, SizeLast 20."""
    return EmrEof.build({"Body": {}})


def build_emf(records: Sequence[bytes], **header: Any) -> bytes:
    """A whole EMF: header (nBytes/nRecords computed), records, EMR_EOF."""
    body = b"".join(records) + emr_eof()
    probe = emr_header(nbytes=0, nrecords=0, **header)
    nbytes = len(probe) + len(body)
    nrecords = 1 + len(records) + 1
    return emr_header(nbytes=nbytes, nrecords=nrecords, **header) + body


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

# MS-RPRN §2.2.2.1 dmFields bits
DM_ORIENTATION, DM_PAPERSIZE, DM_COPIES = 0x1, 0x2, 0x100
DM_PRINTQUALITY, DM_COLOR, DM_DUPLEX = 0x400, 0x800, 0x1000
DM_YRESOLUTION, DM_COLLATE, DM_FORMNAME = 0x2000, 0x8000, 0x10000
DM_SPEC_VERSION = 0x0401
DEVMODE_SIZE = 220  # dmSize: the public fields, dmDeviceName to reserved8
DMBIN_FORMSOURCE = 15
DMTT_SUBDEV = 3
DMCOLLATE_TRUE = 1

# §2.2.2.1 _DEVMODE (the wide form), then dmDriverExtra bytes of private driver data.
DevMode = Struct(
    "dmDeviceName" / PaddedString(64, "utf-16-le"),  # WCHAR[32]
    "dmSpecVersion" / Const(DM_SPEC_VERSION, Int16ul),
    "dmDriverVersion" / Default(Int16ul, 0x0001),
    "dmSize" / Const(DEVMODE_SIZE, Int16ul),
    "dmDriverExtra" / Rebuild(Int16ul, len_(this.DriverExtraData)),
    "dmFields" / Int32ul,
    "dmOrientation" / Int16sl,
    "dmPaperSize" / Int16sl,
    "dmPaperLength" / Int16sl,  # tenths of a millimetre
    "dmPaperWidth" / Int16sl,
    "dmScale" / Default(Int16sl, 100),  # percent
    "dmCopies" / Int16sl,
    "dmDefaultSource" / Default(Int16sl, DMBIN_FORMSOURCE),
    "dmPrintQuality" / Int16sl,  # dpi, or a negative DMRES_* value
    "dmColor" / Int16sl,
    "dmDuplex" / Int16sl,
    "dmYResolution" / Int16sl,
    "dmTTOption" / Default(Int16sl, DMTT_SUBDEV),
    "dmCollate" / Default(Int16sl, DMCOLLATE_TRUE),
    "dmFormName" / PaddedString(64, "utf-16-le"),  # WCHAR[32]
    "reserved0" / Padding(2),
    "reserved1" / Padding(4),
    "reserved2" / Padding(4),
    "reserved3" / Padding(4),
    "dmNup" / Default(Int32ul, 0),
    "reserved4" / Padding(4),
    "dmICMMethod" / Default(Int32ul, 0),
    "dmICMIntent" / Default(Int32ul, 0),
    "dmMediaType" / Default(Int32ul, 0),
    "dmDitherType" / Default(Int32ul, 0),
    "reserved5" / Padding(4),
    "reserved6" / Padding(4),
    "reserved7" / Padding(4),
    "reserved8" / Padding(4),
    "DriverExtraData" / GreedyBytes,
)


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
    return DevMode.build(
        {
            "dmDeviceName": wchar32(device_name),
            "dmFields": fields,
            "dmOrientation": orientation,
            "dmPaperSize": paper_size,
            "dmPaperLength": paper_length,
            "dmPaperWidth": paper_width,
            "dmCopies": copies,
            "dmPrintQuality": quality,
            "dmColor": color,
            "dmDuplex": duplex,
            "dmYResolution": y_resolution,
            "dmFormName": wchar32(form_name),
            "DriverExtraData": driver_extra,
        }
    )


# --------------------------------------------------------------------------- EMFSPOOL

# MS-EMFSPOOL §2.1.1 RecordType
EMRI_DEVMODE = 0x03
EMRI_PRESTARTPAGE = 0x05
EMRI_METAFILE_DATA = 0x0C
EMRI_METAFILE_EXT = 0x0D
EMRI_PS_JOB_DATA = 0x14
EMFSPOOL_VERSION = 0x00010000  # §2.2.2 dwVersion
ENCAPSULATED_POSTSCRIPT = 0x1014  # MS-WMF §2.1.1.17 MetafileEscapes

# §2.2.2 header: dwVersion, cjSize (the whole header, names and padding included), the two name
# offsets (from the start of the header, 0 when absent), then the names.
EmfSpoolHeaderFixed = Struct(
    "dwVersion" / Const(EMFSPOOL_VERSION, Int32ul),
    "cjSize" / Int32ul,
    "dpszDocName" / Int32ul,
    "dpszOutput" / Int32ul,
)
EMFSPOOL_HEADER_FIXED_SIZE = EmfSpoolHeaderFixed.sizeof()


def _output_name_offset(header: Any) -> int:
    """dpszOutput: the output device name follows the document name, if there is one."""
    if header.OutputDevice is None:
        return 0
    document = utf16z(header.DocName) if header.DocName is not None else b""
    return EMFSPOOL_HEADER_FIXED_SIZE + len(document)


EmfSpoolHeader = Struct(
    "dwVersion" / Const(EMFSPOOL_VERSION, Int32ul),
    "Body"
    / Prefixed(
        SizeWithTypeAndSize,  # cjSize
        Aligned(
            4,
            Struct(
                "dpszDocName"
                / Rebuild(
                    Int32ul,
                    lambda ctx: EMFSPOOL_HEADER_FIXED_SIZE if ctx.DocName is not None else 0,
                ),
                "dpszOutput" / Rebuild(Int32ul, _output_name_offset),
                "DocName" / If(this.dpszDocName != 0, Utf16z),
                "OutputDevice" / If(this.dpszOutput != 0, Utf16z),
            ),
        ),
    ),
)
# §2.2.3: ulID, cjSize (the data only, a multiple of 4), data.
EmfSpoolRecordHeader = Struct("ulID" / Int32ul, "cjSize" / Int32ul)
EmfSpoolRecord = Struct("ulID" / Int32ul, "Data" / Prefixed(Int32ul, Aligned4Bytes))
# §2.2.3.4.1 EMRI_METAFILE_EXT: 8 bytes, the distance back to the page content record it follows.
EmriMetafileExt = Struct(
    "ulID" / Const(EMRI_METAFILE_EXT, Int32ul),
    "cjSize" / Const(8, Int32ul),
    "offset" / Int64ul,
)
# §2.2.3.6 EMRI_PRESTARTPAGE data: ulUnused MUST be 0xFFFFFFFF, bEPS.
EmriPrestartPageData = Struct("ulUnused" / Const(0xFFFFFFFF, Int32ul), "bEPS" / Int32ul)
# §2.2.3.7 EMRI_PS_JOB_DATA: one PostScript data record, padded to 4 (nAlignment).
PostScriptDataRecord = Aligned(
    4,
    Struct(
        "PostScriptDataRecordSize" / Rebuild(Int32ul, 16 + len_(this.PostScriptData)),
        "nEscape" / Int32ul,
        "nIgnore" / Int32ul,
        "PostScriptDataSize" / Rebuild(Int32ul, len_(this.PostScriptData)),
        "PostScriptData" / GreedyBytes,
    ),
)


def spool_record(record_id: int, data: bytes) -> bytes:
    """ulID, cjSize, data padded to 4 bytes (MS-EMFSPOOL §2.2.3)."""
    return EmfSpoolRecord.build({"ulID": record_id, "Data": data})


def spool_header(document: str | None, output: str | None) -> bytes:
    """MS-EMFSPOOL §2.2.2: dwVersion, cjSize, dpszDocName, dpszOutput, then the names."""
    return EmfSpoolHeader.build({"Body": {"DocName": document, "OutputDevice": output}})


def postscript_job_data(postscript: bytes, escape: int = ENCAPSULATED_POSTSCRIPT) -> bytes:
    """The data of an EMRI_PS_JOB_DATA record holding one PostScript data record."""
    return PostScriptDataRecord.build(
        {"nEscape": escape, "nIgnore": 0, "PostScriptData": postscript}
    )


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
        out += EmriMetafileExt.build({"offset": len(out) - page_at})
    return bytes(out)


# --------------------------------------------------------------------------- SHD

SHD_32_HEADER_SIZE = 0x78  # Windows 2000/XP/2003 (ReactOS SHD_HEADER)
SHD_32_SID_HEADER_SIZE = 0x7C  # the same with offSID appended (Windows 10 x86)
SHD_64_HEADER_SIZE = 0xE0  # Windows 7/10 x64
SHD_LEGACY_HEADER_SIZE = 0x60  # Windows 9x/NT4: no cbHeader, no offComputerName
SHD_32_STATUS = 0x0008  # wStatus the 32-bit builder writes (JOB_STATUS_SPOOLING)
SHD_64_STATUS = 0x0480  # wStatus of the measured Windows 10 sample
SHD_64_UNKNOWN4 = 4  # the DWORD at 0x9C as the 64-bit builder writes it

# MS-DTYP §2.3.13 SYSTEMTIME
SystemTime = Struct(
    "wYear" / Int16ul,
    "wMonth" / Int16ul,
    "wDayOfWeek" / Int16ul,
    "wDay" / Int16ul,
    "wHour" / Int16ul,
    "wMinute" / Int16ul,
    "wSecond" / Int16ul,
    "wMilliseconds" / Int16ul,
)

# The string and blob offsets, in header order, by the keys build_shd takes.
SHD_OFFSET_FIELDS = {
    "user": "offUserName",
    "notify": "offNotifyName",
    "document": "offDocumentName",
    "port": "offPort",
    "printer": "offPrinterName",
    "driver": "offDriverName",
    "devmode": "offDevMode",
    "processor": "offPrintProcessor",
    "datatype": "offDatatype",
    "parameters": "offPrintParameters",
}
SHD_TRAILING_OFFSETS = {
    "security": "offSecurityDescriptor",
    "computer": "offComputerName",
    "sid": "offSID",
}


def _offsets(width: Construct) -> list[Construct]:
    return [name / Default(width, 0) for name in SHD_OFFSET_FIELDS.values()]


# ReactOS SHD_HEADER: every field a DWORD, offsets from the start of the file.
ShdHeader32 = Struct(
    "dwSignature" / Int32ul,
    "cbHeader" / Int32ul,
    "wStatus" / Int16ul,
    "wUnknown1" / Default(Int16ul, 0),
    "dwJobID" / Int32ul,
    "dwPriority" / Int32ul,
    *_offsets(Int32ul),
    "stSubmitted" / SystemTime,
    "dwStartTime" / Default(Int32ul, 0),
    "dwUntilTime" / Default(Int32ul, 0),
    "dwSplSize" / Int32ul,
    "dwTotalPages" / Int32ul,
    "cbSecurityDescriptor" / Int32ul,
    "offSecurityDescriptor" / Default(Int32ul, 0),
    "dwUnknown3" / Default(Int32ul, 0),
    "dwUnknown4" / Default(Int32ul, 0),
    "dwUnknown5" / Default(Int32ul, 0),
    "offComputerName" / Default(Int32ul, 0),
    "dwSplSize2" / Int32ul,
)
ShdHeader32WithSid = Struct(*ShdHeader32.subcons, "offSID" / Default(Int32ul, 0))
# Windows 7/10 x64: QWORD offsets and sizes, so a DWORD of padding after dwPriority aligns them.
ShdHeader64 = Struct(
    "dwSignature" / Int32ul,
    "cbHeader" / Int32ul,
    "wStatus" / Int16ul,
    "wUnknown1" / Default(Int16ul, 0),
    "dwJobID" / Int32ul,
    "dwPriority" / Int32ul,
    Padding(4),
    *_offsets(Int64ul),
    "stSubmitted" / SystemTime,
    "dwStartTime" / Default(Int32ul, 0),
    "dwUntilTime" / Default(Int32ul, 0),
    "dwSplSize" / Int32ul,
    "dwTotalPages" / Int32ul,
    "cbSecurityDescriptor" / Int64ul,
    "offSecurityDescriptor" / Default(Int64ul, 0),
    "dwUnknown3" / Default(Int32ul, 0),
    "dwUnknown4" / Default(Int32ul, SHD_64_UNKNOWN4),
    "qwUnknown5" / Default(Int64ul, 0),
    "offComputerName" / Default(Int64ul, 0),
    "qwSplSize2" / Int64ul,
    "offSID" / Default(Int64ul, 0),
    Padding(0x10),
    "cbPrintTicket" / Default(Int64ul, 0),  # the PSF blob of the real sample; none built here
    "offPrintTicket" / Default(Int64ul, 0),
)
# Windows 9x/NT4: the 32-bit layout without cbHeader, ending after the security descriptor.
ShdHeaderLegacy = Struct(
    "dwSignature" / Int32ul,
    "wStatus" / Default(Int16ul, 0),
    "wUnknown1" / Default(Int16ul, 0),
    "dwJobID" / Int32ul,
    "dwPriority" / Int32ul,
    *_offsets(Int32ul),
    "stSubmitted" / SystemTime,
    "dwStartTime" / Default(Int32ul, 0),
    "dwUntilTime" / Default(Int32ul, 0),
    "dwSplSize" / Int32ul,
    "dwTotalPages" / Int32ul,
    "cbSecurityDescriptor" / Default(Int32ul, 0),
    "offSecurityDescriptor" / Default(Int32ul, 0),
)
assert ShdHeader32.sizeof() == SHD_32_HEADER_SIZE
assert ShdHeader32WithSid.sizeof() == SHD_32_SID_HEADER_SIZE
assert ShdHeader64.sizeof() == SHD_64_HEADER_SIZE
assert ShdHeaderLegacy.sizeof() == SHD_LEGACY_HEADER_SIZE


def _systemtime(submitted: tuple[int, int, int, int, int, int, int, int]) -> dict[str, int]:
    return dict(zip((field.name for field in SystemTime.subcons), submitted, strict=True))


def _lay_out(header_size: int, blobs: Sequence[tuple[str, bytes]]) -> tuple[dict[str, int], bytes]:
    """Place blobs one after another from the end of the header, each padded to 4 bytes."""
    offsets: dict[str, int] = {}
    out = bytearray()
    for key, data in blobs:
        offsets[key] = header_size + len(out)
        out += pad4(data)
    return offsets, bytes(out)


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
    binary_sid: bytes | None = None,
) -> bytes:
    """A shadow file: header (32-bit DWORD or 64-bit QWORD offsets), then strings and blobs.

    ``strings`` keys: user, notify, document, port, printer, driver, processor, datatype,
    parameters, computer, sid (the last is 64-bit only, written as a string as Windows 10 does).
    ``binary_sid`` (32-bit only) appends offSID to the header (0x7C bytes) and the SID after the
    strings, the Windows 10 x86 form. ``overrides`` replaces an offset field by name after layout
    (for hostile inputs).
    """
    assert not (wide and binary_sid is not None), "the 64-bit header keeps the SID as a string"
    if wide:
        header: Struct = ShdHeader64
    elif binary_sid is not None:
        header = ShdHeader32WithSid
    else:
        header = ShdHeader32
    header_size = header.sizeof()
    blobs: list[tuple[str, bytes]] = []
    if devmode_blob is not None:
        blobs.append(("devmode", devmode_blob))
    if security is not None:
        blobs.append(("security", security))
    blobs += [(key, utf16z(value)) for key, value in strings.items()]
    if binary_sid is not None:
        blobs.append(("sid", binary_sid))
    offsets, tail = _lay_out(header_size, blobs)
    offsets.update(overrides or {})
    fields: dict[str, Any] = {
        name: offsets.get(key, 0)
        for key, name in (SHD_OFFSET_FIELDS | SHD_TRAILING_OFFSETS).items()
    }
    fields |= {
        "dwSignature": signature,
        "cbHeader": header_size,
        "wStatus": SHD_64_STATUS if wide else SHD_32_STATUS,
        "dwJobID": job_id,
        "dwPriority": 1,
        "stSubmitted": _systemtime(submitted),
        "dwSplSize": spl_size,
        "dwTotalPages": pages,
        "cbSecurityDescriptor": len(security or b""),
        "dwSplSize2": spl_size,  # 32-bit name
        "qwSplSize2": spl_size,  # 64-bit name
    }
    # Keys a header lacks (offSID in the 0x78-byte one) are not written.
    return header.build(fields) + tail


def build_shd_legacy(
    *,
    signature: int,
    job_id: int,
    strings: dict[str, str],
    submitted: tuple[int, int, int, int, int, int, int, int],
    pages: int,
    spl_size: int,
) -> bytes:
    """A Windows 9x/NT4 shadow file: the 0x60-byte header without cbHeader, then the strings."""
    offsets, tail = _lay_out(
        SHD_LEGACY_HEADER_SIZE, [(key, utf16z(value)) for key, value in strings.items()]
    )
    fields: dict[str, Any] = {name: offsets.get(key, 0) for key, name in SHD_OFFSET_FIELDS.items()}
    fields |= {
        "dwSignature": signature,
        "dwJobID": job_id,
        "dwPriority": 1,
        "stSubmitted": _systemtime(submitted),
        "dwSplSize": spl_size,
        "dwTotalPages": pages,
    }
    return ShdHeaderLegacy.build(fields) + tail


# --------------------------------------------------------------------------- SID, SD (MS-DTYP)

SID_REVISION = 1
ACL_REVISION = 2
ACCESS_ALLOWED_ACE_TYPE = 0x00
INHERITED_ACE = 0x10
JOB_ALL_ACCESS = 0x000F0030  # STANDARD_RIGHTS_REQUIRED | JOB_ACCESS_ADMINISTER | JOB_ACCESS_READ
SE_DACL_PRESENT = 0x0004
SE_SELF_RELATIVE = 0x8000

# §2.4.2.2 SID: Revision 1, the count, a 48-bit big-endian authority, little-endian sub-authorities.
Sid = Struct(
    "Revision" / Const(SID_REVISION, Int8ul),
    "SubAuthorityCount" / Rebuild(Int8ul, len_(this.SubAuthority)),
    "IdentifierAuthority" / BytesInteger(6),  # §2.4.1 SID_IDENTIFIER_AUTHORITY, big-endian
    "SubAuthority" / Array(this.SubAuthorityCount, Int32ul),
)
# §2.4.4.2 ACCESS_ALLOWED_ACE: the §2.4.4.1 ACE_HEADER, whose AceSize counts the whole ACE.
AccessAllowedAce = Struct(
    "AceType" / Const(ACCESS_ALLOWED_ACE_TYPE, Int8ul),
    "AceFlags" / Int8ul,
    "Body"
    / Prefixed(ExprAdapter(Int16ul, obj_ - 4, obj_ + 4), Struct("Mask" / Int32ul, "Sid" / Sid)),
)
ACL_HEADER_SIZE = 8
# §2.4.5 ACL: AclSize counts the header and every ACE.
Acl = Struct(
    "AclRevision" / Const(ACL_REVISION, Int8ul),
    "Sbz1" / Const(0, Int8ul),
    "AclSize"
    / Rebuild(
        Int16ul,
        lambda ctx: ACL_HEADER_SIZE + sum(len(AccessAllowedAce.build(ace)) for ace in ctx.Aces),
    ),
    "AceCount" / Rebuild(Int16ul, len_(this.Aces)),
    "Sbz2" / Const(0, Int16ul),
    "Aces" / Array(this.AceCount, AccessAllowedAce),
)
SECURITY_DESCRIPTOR_HEADER_SIZE = 20
# §2.4.6 SECURITY_DESCRIPTOR in self-relative form: the DACL right after the header, then the
# owner and group SIDs; offsets are from the start of the descriptor, 0 when absent.
SecurityDescriptor = Struct(
    "Revision" / Const(1, Int8ul),
    "Sbz1" / Const(0, Int8ul),
    "Control" / Const(SE_SELF_RELATIVE | SE_DACL_PRESENT, Int16ul),
    "OffsetOwner"
    / Rebuild(Int32ul, lambda ctx: SECURITY_DESCRIPTOR_HEADER_SIZE + len(Acl.build(ctx.Dacl))),
    "OffsetGroup" / Rebuild(Int32ul, lambda ctx: ctx.OffsetOwner + len(Sid.build(ctx.OwnerSid))),
    "OffsetSacl" / Const(0, Int32ul),
    "OffsetDacl" / Const(SECURITY_DESCRIPTOR_HEADER_SIZE, Int32ul),
    "Dacl" / Acl,
    "OwnerSid" / Sid,
    "GroupSid" / Sid,
)


def binary_sid(authority: int, *subauthorities: int) -> bytes:
    """MS-DTYP §2.4.2.2 SID: Revision 1, count, 48-bit big-endian authority, LE sub-authorities."""
    return Sid.build({"IdentifierAuthority": authority, "SubAuthority": list(subauthorities)})


def security_descriptor(owner: bytes, group: bytes, dacl_sids: Sequence[bytes]) -> bytes:
    """Self-relative SECURITY_DESCRIPTOR (MS-DTYP §2.4.6) with an ACCESS_ALLOWED DACL."""
    aces = [
        {"AceFlags": INHERITED_ACE, "Body": {"Mask": JOB_ALL_ACCESS, "Sid": Sid.parse(sid)}}
        for sid in dacl_sids
    ]
    return SecurityDescriptor.build(
        {"Dacl": {"Aces": aces}, "OwnerSid": Sid.parse(owner), "GroupSid": Sid.parse(group)}
    )
