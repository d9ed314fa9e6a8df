"""XPS spool files and documents: OPC parts, interleaved pieces, PrintTicket, hostile ZIPs and XML.

No Linux tool writes XPS, so packages are built here with ``zipfile`` using the part names and
XML vocabularies of XPS 1.0 / ECMA-388 and the Print Schema, as the Windows XPS spooler writes them
(``FixedDocumentSequence.fdseq``, ``Documents/1/Pages/N.fpage``, ``Metadata/Job_PT.xml``, pieces
``[0].piece`` … ``[n].last.piece``).
"""

from __future__ import annotations

import io
import random
import time
import zipfile

import pytest

from forensics.formats.base import NotThisFormat, ParseContext, candidates
from forensics.formats.xps import XpsParser

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
XPS_NS = "http://schemas.microsoft.com/xps/2005/06"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="fdseq" ContentType="application/vnd.ms-package.xps-fixeddocumentsequence+xml"/>
<Default Extension="fdoc" ContentType="application/vnd.ms-package.xps-fixeddocument+xml"/>
<Default Extension="fpage" ContentType="application/vnd.ms-package.xps-fixedpage+xml"/>
<Default Extension="xml" ContentType="application/vnd.ms-printing.printticket+xml"/>
</Types>"""
ROOT_RELS = f"""<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="{REL_NS}">
<Relationship Id="R0" Type="{XPS_NS}/fixedrepresentation" Target="/FixedDocumentSequence.fdseq"/>
<Relationship Id="R1" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/docProps/core.xml"/>
</Relationships>"""
SEQUENCE = f"""<FixedDocumentSequence xmlns="{XPS_NS}">
<DocumentReference Source="/Documents/1/FixedDocument.fdoc"/></FixedDocumentSequence>"""
SEQUENCE_RELS = f"""<Relationships xmlns="{REL_NS}">
<Relationship Id="PT" Type="{XPS_NS}/printticket" Target="/Metadata/Job_PT.xml"/></Relationships>"""
DOCUMENT = f"""<FixedDocument xmlns="{XPS_NS}">
<PageContent Source="Pages/1.fpage"/><PageContent Source="Pages/2.fpage"/></FixedDocument>"""
# Line 2 is written before line 1, and words of line 1 right to left: order comes from positions.
PAGE_ONE = f"""<FixedPage Width="816" Height="1056" xmlns="{XPS_NS}" xml:lang="en-US">
<Canvas RenderTransform="1,0,0,1,48,48">
<Glyphs OriginX="0" OriginY="40" FontRenderingEmSize="12" FontUri="/Resources/F0.odttf"
 UnicodeString="Ward 7, bed 12" Fill="#ff000000"/>
<Glyphs OriginX="96" OriginY="20" FontRenderingEmSize="12" FontUri="/Resources/F0.odttf"
 UnicodeString="Jane Example, SSN 536-22-8714" Fill="#ff000000"/>
<Glyphs OriginX="0" OriginY="20" FontRenderingEmSize="12" FontUri="/Resources/F0.odttf"
 UnicodeString="Patient Name:" Indices="{";".join([",50"] * 13)}" Fill="#ff000000"/>
<Glyphs OriginX="0" OriginY="60" FontRenderingEmSize="12" FontUri="/Resources/F0.odttf"
 Indices="43;72;79;79;82" Fill="#ff000000"/>
</Canvas></FixedPage>"""
PAGE_TWO = f"""<FixedPage Width="793.76" Height="1122.56" xmlns="{XPS_NS}">
<Canvas><Canvas.RenderTransform><MatrixTransform Matrix="1,0,0,1,0,500"/></Canvas.RenderTransform>
<Glyphs OriginX="10" OriginY="10" FontRenderingEmSize="10" UnicodeString="{{}}{{Diagnosis}} confidential"/>
</Canvas>
<Glyphs OriginX="10" OriginY="100" FontRenderingEmSize="10" UnicodeString="Header line"/>
</FixedPage>"""
TICKET = """<?xml version="1.0" encoding="UTF-8"?>
<psf:PrintTicket xmlns:psf="http://schemas.microsoft.com/windows/2003/08/printing/printschemaframework"
 xmlns:psk="http://schemas.microsoft.com/windows/2003/08/printing/printschemakeywords"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 version="1">
<psf:ParameterInit name="psk:JobCopiesAllDocuments"><psf:Value xsi:type="xsd:integer">2</psf:Value></psf:ParameterInit>
<psf:Feature name="psk:PageMediaSize"><psf:Option name="psk:ISOA4">
<psf:ScoredProperty name="psk:MediaSizeWidth"><psf:Value xsi:type="xsd:integer">210000</psf:Value></psf:ScoredProperty>
</psf:Option></psf:Feature>
<psf:Feature name="psk:PageResolution"><psf:Option>
<psf:ScoredProperty name="psk:ResolutionX"><psf:Value xsi:type="xsd:integer">600</psf:Value></psf:ScoredProperty>
<psf:ScoredProperty name="psk:ResolutionY"><psf:Value xsi:type="xsd:integer">600</psf:Value></psf:ScoredProperty>
</psf:Option></psf:Feature>
<psf:Feature name="psk:JobDuplexAllDocumentsContiguously"><psf:Option name="psk:TwoSidedLongEdge"/></psf:Feature>
</psf:PrintTicket>"""
CORE = """<?xml version="1.0" encoding="UTF-8"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<dc:title>Discharge summary</dc:title><dc:creator>Dr. A. Nurse</dc:creator>
<cp:lastModifiedBy>records-clerk</cp:lastModifiedBy>
<dcterms:created xsi:type="dcterms:W3CDTF">2024-03-01T12:30:05Z</dcterms:created>
</cp:coreProperties>"""


def _parts(page_one: str = PAGE_ONE) -> list[tuple[str, bytes]]:
    return [
        ("[Content_Types].xml", CONTENT_TYPES.encode()),
        ("_rels/.rels", ROOT_RELS.encode()),
        ("FixedDocumentSequence.fdseq", SEQUENCE.encode()),
        ("_rels/FixedDocumentSequence.fdseq.rels", SEQUENCE_RELS.encode()),
        ("Documents/1/FixedDocument.fdoc", DOCUMENT.encode()),
        ("Documents/1/Pages/1.fpage", page_one.encode("utf-16")),  # XPS allows UTF-16 parts
        ("Documents/1/Pages/2.fpage", PAGE_TWO.encode()),
        ("Metadata/Job_PT.xml", TICKET.encode()),
        ("docProps/core.xml", CORE.encode()),
    ]


def _zip(
    members: list[tuple[str, bytes]],
    stream: io.RawIOBase | io.BytesIO | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    target = stream or io.BytesIO()
    with zipfile.ZipFile(target, "w", compression) as package:
        for name, data in members:
            package.writestr(name, data)
    assert isinstance(target, io.BytesIO | _Unseekable)
    return target.getvalue()


def _interleaved(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Each part split in two pieces; all first pieces, then all last pieces (OPC interleaving)."""
    first = [(f"{name}/[0].piece", data[: len(data) // 2]) for name, data in members]
    last = [(f"{name}/[1].last.piece", data[len(data) // 2 :]) for name, data in members]
    return first + list(reversed(last))


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors (APPNOTE §4.3.9), as spoolers do."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)

    def getvalue(self) -> bytes:
        return bytes(self.buffer)


def _check_job(data: bytes, name: str | None = "00005.SPL") -> None:
    job = XpsParser().parse(data, ParseContext(name=name))
    meta = job.metadata
    assert meta.pages == 2
    assert meta.copies == 2 and meta.media == "a4" and meta.resolution == "600 dpi"
    assert meta.document_name == "Discharge summary"
    assert meta.user is None  # the author is not who printed
    assert dict(meta.extra)["creator"] == "Dr. A. Nurse"
    assert meta.created == "2024-03-01T12:30:05Z"
    assert meta.document_format == "application/vnd.ms-xpsdocument"
    extra = dict(meta.extra)
    assert extra["lastModifiedBy"] == "records-clerk"
    assert extra["ticket_JobDuplexAllDocumentsContiguously"] == "TwoSidedLongEdge"
    texts = {text.name: text.text for text in job.texts}
    assert texts["XPS page 1"] == f"{SENTENCE}\nWard 7, bed 12"
    assert texts["XPS page 2"] == "Header line\n{Diagnosis} confidential"
    assert (job.pages[0].width, job.pages[0].height, job.pages[0].unit) == (612, 792, "pt")
    assert any("glyph indices only" in note for note in job.notes)
    assert job.pair_key == ("winspool:00005" if name else None)


def test_package_with_ticket_and_properties() -> None:
    data = _zip(_parts())
    assert XpsParser.sniff(data[:4096])
    assert XpsParser in candidates(data[:4096], "00005.SPL")
    _check_job(data)
    job = XpsParser().parse(data, ParseContext())
    assert job.complete, job.notes
    assert job.length == len(data)


def test_interleaved_pieces() -> None:
    data = _zip(_interleaved(_parts()))
    assert b"[0].piece" in data
    _check_job(data)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_streamed_spool_without_central_directory(compression: int) -> None:
    """An XPS spool still being written: data descriptors and no central directory yet."""
    whole = _zip(_interleaved(_parts()), _Unseekable(), compression)
    data = whole[: whole.index(b"PK\x01\x02")]  # cut before the central directory
    job = XpsParser().parse(data, ParseContext(name="00005.SPL"))
    assert not job.complete
    assert any("local headers" in note for note in job.notes)
    _check_job(data)


def test_plain_zip_is_not_xps() -> None:
    data = _zip([("readme.txt", b"hello"), ("word/document.xml", b"<w:document/>")])
    with pytest.raises(NotThisFormat):
        XpsParser().parse(data, ParseContext())
    assert not XpsParser.sniff(data[:4096])
    with pytest.raises(NotThisFormat):
        XpsParser().parse(b"PK\x03\x04" + b"\x00" * 100, ParseContext())


def test_zip_bomb_member_stops_at_cap() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in _parts():
            if not name.endswith("2.fpage"):
                package.writestr(name, data)
        with package.open("Documents/1/Pages/2.fpage", "w", force_zip64=True) as member:
            member.write(b'<FixedPage xmlns="' + XPS_NS.encode() + b'">')
            chunk = b" " * (1 << 20)
            for _ in range(256):  # 256 MiB of spaces, ~250 KiB compressed
                member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 2 << 20
    start = time.monotonic()
    job = XpsParser().parse(data, ParseContext(max_output=4 << 20))
    assert time.monotonic() - start < 10.0
    assert any("cut at the decompression budget" in note for note in job.notes)
    assert not job.complete
    assert job.texts[0].text.startswith(SENTENCE)


def test_dtd_and_entities_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        f'<FixedPage xmlns="{XPS_NS}"><Glyphs UnicodeString="&lol2;"/></FixedPage>'
    )
    data = _zip(_parts(page_one=bomb))
    job = XpsParser().parse(data, ParseContext())
    assert any("DTD" in note for note in job.notes)
    assert {text.name for text in job.texts} == {"XPS page 2"}
    assert not job.complete


def test_member_count_cap() -> None:
    parts = _parts() + [(f"Resources/junk{index}.bin", b"") for index in range(10_001)]
    data = _zip(parts)
    start = time.monotonic()
    job = XpsParser().parse(data, ParseContext())
    assert time.monotonic() - start < 20.0
    assert any("10001" in note or "10010" in note for note in job.notes)
    assert job.texts and job.texts[0].text.startswith(SENTENCE)


def test_extent_in_carved_buffer() -> None:
    data = _zip(_parts())
    buf = b"\x00" * 512 + data + b"\x77" * 1000
    assert XpsParser().extent(buf, 512) == len(data)
    assert XpsParser().extent(buf, 0) is None


def _must_finish(data: bytes) -> None:
    start = time.monotonic()
    try:
        job = XpsParser().parse(data, ParseContext(max_output=8 << 20))
    except NotThisFormat:
        return
    assert job.format == "xps"
    assert time.monotonic() - start < 3.0


def test_hostile_truncation_and_garbage() -> None:
    data = _zip(_interleaved(_parts()))
    for cut in range(0, len(data), 97):
        _must_finish(data[:cut])
    rng = random.Random(5)
    for _ in range(60):
        garbled = bytearray(data)
        for _ in range(30):
            garbled[rng.randrange(4, len(garbled))] = rng.randrange(256)
        _must_finish(bytes(garbled))
        _must_finish(data[:30] + rng.randbytes(rng.randrange(0, 5000)))


def test_deep_nesting_is_bounded() -> None:
    deep = (
        "<Canvas>" * 5000
        + '<Glyphs OriginX="1" OriginY="1" UnicodeString="deep"/>'
        + "</Canvas>" * 5000
    )
    page = f'<FixedPage xmlns="{XPS_NS}" Width="96" Height="96">{deep}</FixedPage>'
    data = _zip(_parts(page_one=page))
    start = time.monotonic()
    job = XpsParser().parse(data, ParseContext())
    assert time.monotonic() - start < 5.0
    assert job.texts[0].text == "deep"
