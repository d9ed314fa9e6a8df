"""JPEG images (ITU-T T.81 Annex B) from scan-to-file and copy jobs, with their EXIF metadata.

A JPEG is a chain of marker segments: ``FF D8`` SOI, then ``FF xx`` markers each followed by a
2-byte big-endian length that counts itself (T.81 §B.1.1.4); after SOS the entropy-coded data
runs until the next marker that is not a stuffed ``FF 00`` or a restart ``FF D0-D7``
(T.81 §B.1.1.5, §B.2.1); ``FF D9`` EOI ends the image. EXIF (CIPA DC-008, Exif 2.32 §4.5.4) is
an APP1 segment ``Exif\\0\\0`` holding a TIFF structure, read with the TIFF module's IFD walker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from construct import Bytes, ConstructError, Int8ub, Int16ub, Struct

from forensics.formats.base import (
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    clean_field,
)
from forensics.formats.tiff import (
    TAG_NAMES,
    TiffStructure,
    exif_datetime,
    resolution_text,
    tag_lines,
    walk_tiff,
)

log = logging.getLogger(__name__)

MAX_SEGMENTS = 65_536

# T.81 Table B.1 marker codes.
SOI, EOI, SOS, DHT, DAC, JPG, COM = 0xD8, 0xD9, 0xDA, 0xC4, 0xCC, 0xC8, 0xFE
APP0, APP1, APP2, APP13, APP14 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE
RST = range(0xD0, 0xD8)
STANDALONE = {0x01, *RST}  # TEM and RSTn carry no length (T.81 §B.1.1.3)
SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
SOF_NAMES = {
    0xC0: "baseline",
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC9: "arithmetic sequential",
    0xCA: "arithmetic progressive",
}

# T.81 §B.2.2 frame header (after the length): precision, lines, samples per line, components.
FRAME_HEADER = Struct(
    "precision" / Int8ub, "height" / Int16ub, "width" / Int16ub, "components" / Int8ub
)
# JFIF 1.02 APP0: identifier, version, density units (0 aspect, 1 dpi, 2 dpcm), densities.
JFIF_HEADER = Struct(
    "identifier" / Bytes(5),
    "major" / Int8ub,
    "minor" / Int8ub,
    "units" / Int8ub,
    "x_density" / Int16ub,
    "y_density" / Int16ub,
)
# Adobe APP14 (Adobe Technical Note 5116): "Adobe", version, flags0, flags1, transform.
ADOBE_HEADER = Struct(
    "identifier" / Bytes(5),
    "version" / Int16ub,
    "flags0" / Int16ub,
    "flags1" / Int16ub,
    "transform" / Int8ub,
)
EXIF_IDENTIFIER = b"Exif\x00\x00"
XMP_IDENTIFIER = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_IDENTIFIER = b"ICC_PROFILE\x00"
COMPONENT_NAMES = {1: "gray", 3: "YCbCr", 4: "CMYK"}

# Exif 2.32 §4.6.5 UserComment character codes (first 8 bytes of the value).
USER_COMMENT_CODES = {
    b"ASCII\x00\x00\x00": "ascii",
    b"UNICODE\x00": "utf-16",
    b"JIS\x00\x00\x00\x00\x00": "shift_jis",
    b"\x00" * 8: "utf-8",
}
GPS_TAGS = {1: "GPSLatitudeRef", 2: "GPSLatitude", 3: "GPSLongitudeRef", 4: "GPSLongitude"}


@dataclass
class Segment:
    marker: int
    offset: int  # of the FF byte
    length: int  # bytes after the marker (including the 2 length bytes); 0 for standalone


@dataclass
class JpegStructure:
    segments: list[Segment] = field(default_factory=list)
    end: int | None = None  # just after EOI (absolute), None without one
    scans: int = 0
    complete: bool = True
    notes: list[str] = field(default_factory=list)


def _skip_entropy_data(data: bytes, pos: int, stop: int) -> int | None:
    """Offset of the first marker after entropy-coded data, None if the data runs out."""
    while True:
        at = data.find(b"\xff", pos, stop)
        if at < 0 or at + 1 >= stop:
            return None
        following = data[at + 1]
        if following == 0x00 or following in RST:  # stuffed byte or restart marker
            pos = at + 2
        elif following == 0xFF:  # fill byte before a marker (T.81 §B.1.1.2)
            pos = at + 1
        else:
            return at


def walk_markers(data: bytes, start: int = 0, stop: int | None = None) -> JpegStructure:
    """Follow the marker chain from the SOI at ``data[start]`` up to EOI (bounded)."""
    stop = len(data) if stop is None else min(stop, len(data))
    if data[start : start + 3] != b"\xff\xd8\xff":
        raise NotThisFormat("no JPEG SOI")
    structure = JpegStructure()
    pos = start + 2
    while len(structure.segments) < MAX_SEGMENTS:
        if pos + 2 > stop:
            structure.complete = False
            structure.notes.append(f"data ends at offset {pos - start} before EOI")
            return structure
        if data[pos] != 0xFF:
            structure.complete = False
            structure.notes.append(f"no marker at offset {pos - start} (0x{data[pos]:02x})")
            return structure
        while pos + 1 < stop and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if pos + 1 >= stop:
            continue
        marker = data[pos + 1]
        if marker == EOI:
            structure.segments.append(Segment(marker, pos, 0))
            structure.end = pos + 2
            return structure
        if marker in STANDALONE or marker == SOI:
            structure.segments.append(Segment(marker, pos, 0))
            pos += 2
            continue
        if pos + 4 > stop:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > stop:
            structure.complete = False
            structure.notes.append(
                f"segment 0x{marker:02x} at offset {pos - start} runs past the end"
            )
            return structure
        structure.segments.append(Segment(marker, pos, length))
        pos += 2 + length
        if marker == SOS:
            structure.scans += 1
            following = _skip_entropy_data(data, pos, stop)
            if following is None:
                structure.complete = False
                structure.notes.append("entropy-coded data runs to the end: no EOI")
                return structure
            pos = following
    structure.complete = False
    structure.notes.append(f"more than {MAX_SEGMENTS} segments; the rest not read")
    return structure


def _user_comment(raw: bytes | str | tuple[object, ...]) -> str | None:
    if isinstance(raw, str):
        return clean_field(raw)
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    codec = USER_COMMENT_CODES.get(raw[:8], "latin-1")
    body = raw[8:]
    if codec == "utf-16":
        # Exif leaves the UCS-2 byte order to the writer; guess from where the zero bytes are.
        codec = "utf-16-le" if body[1:2] == b"\x00" else "utf-16-be"
    return clean_field(body.decode(codec, "replace").rstrip("\x00 "))


def _gps_text(structure: TiffStructure) -> str | None:
    gps = structure.sub_ifds.get("gps")
    if gps is None:
        return None
    parts = []
    for ref_tag, value_tag in ((1, 2), (3, 4)):
        entry = gps.get(value_tag)
        ref = gps.text(ref_tag) or ""
        if entry is not None and isinstance(entry.values, tuple) and len(entry.values) == 3:
            degrees, minutes, seconds = (float(v) for v in entry.values)
            value = degrees + minutes / 60 + seconds / 3600
            if ref.upper() in ("S", "W"):
                value = -value
            parts.append(f"{value:.6f}")
    return ", ".join(parts) if len(parts) == 2 else "present"


class JpegParser(FormatParser):
    name = "jpeg"
    pixels_only = True
    description = "JPEG image (scan/copy): markers, frame size, JFIF/Adobe, EXIF"
    signatures = (Signature(b"\xff\xd8\xff"),)
    # SOI then the first marker: APPn (JFIF/EXIF/Adobe), DQT, SOF0, DHT or COM (ITU T.81 §B.1).
    carve_patterns = (
        CarvePattern("{ FF D8 FF ( E0 | E1 | E2 | E8 | ED | EE | DB | C0 | C4 | FE ) }"),
    )
    priority = 60

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        if data[:3] != b"\xff\xd8\xff":
            raise NotThisFormat("no JPEG SOI")
        structure = walk_markers(data, 0, MAX_PARSE_BYTES)
        if not structure.segments:
            raise NotThisFormat("no JPEG segment")
        job = ParsedJob(format=self.name, complete=structure.complete, notes=list(structure.notes))
        if structure.scans == 0:
            job.complete = False
            job.notes.append("no SOS: the image has no scan")
        try:
            self._describe(data, structure, job)
        except (ConstructError, ValueError, TypeError, IndexError, OverflowError):
            log.debug("JPEG segments not all read", exc_info=True)
            job.complete = False
            job.notes.append("JPEG segments not all read (malformed values)")
        return job

    def _describe(self, data: bytes, structure: JpegStructure, job: ParsedJob) -> None:
        extra: list[tuple[str, str]] = []
        width = height = components = None
        resolution: str | None = None
        exif: TiffStructure | None = None
        comments: list[str] = []
        for segment in structure.segments:
            body = data[segment.offset + 4 : segment.offset + 2 + segment.length]
            marker = segment.marker
            if marker in SOF and width is None and len(body) >= FRAME_HEADER.sizeof():
                frame = FRAME_HEADER.parse(body)
                width, height, components = frame.width, frame.height, frame.components
                extra.append(("coding", SOF_NAMES.get(marker, f"SOF{marker - 0xC0}")))
                extra.append(("precision", str(frame.precision)))
            elif (
                marker == APP0
                and body.startswith(b"JFIF\x00")
                and len(body) >= JFIF_HEADER.sizeof()
            ):
                jfif = JFIF_HEADER.parse(body)
                extra.append(("jfif", f"{jfif.major}.{jfif.minor:02d}"))
                unit = {1: "dpi", 2: "dpcm"}.get(jfif.units)
                if unit and jfif.x_density and jfif.y_density:
                    density = (
                        f"{jfif.x_density}"
                        if jfif.x_density == jfif.y_density
                        else f"{jfif.x_density}x{jfif.y_density}"
                    )
                    resolution = f"{density} {unit}"
            elif marker == APP1 and body.startswith(EXIF_IDENTIFIER) and exif is None:
                base = segment.offset + 4 + len(EXIF_IDENTIFIER)
                try:
                    exif = walk_tiff(data, base, segment.offset + 2 + segment.length)
                except NotThisFormat:
                    job.notes.append("APP1 Exif block without a TIFF header")
                    continue
                job.notes.extend(f"EXIF: {note}" for note in exif.notes)
            elif marker == APP1 and body.startswith(XMP_IDENTIFIER):
                xmp = body[len(XMP_IDENTIFIER) :].decode("utf-8", "replace")
                job.texts.append(
                    DecodedText("XMP", xmp[:MAX_TEXT_CHARS], source_offset=segment.offset)
                )
            elif marker == APP2 and body.startswith(ICC_IDENTIFIER):
                if not any(key == "icc-profile" for key, _ in extra):
                    extra.append(("icc-profile", "present"))
            elif (
                marker == APP14 and body.startswith(b"Adobe") and len(body) >= ADOBE_HEADER.sizeof()
            ):
                adobe = ADOBE_HEADER.parse(body)
                extra.append(("adobe-transform", str(adobe.transform)))
            elif marker == APP13 and body.startswith(b"Photoshop 3.0\x00"):
                extra.append(("photoshop-irb", "present"))
            elif marker == COM:
                comment = body.decode("utf-8", "replace")
                comments.append(comment)
                job.texts.append(
                    DecodedText(
                        "JPEG comment", comment[:MAX_TEXT_CHARS], source_offset=segment.offset
                    )
                )

        user = host = application = document = None
        created = None
        if exif is not None and exif.ifds:
            ifd0 = exif.ifds[0]
            sub = exif.sub_ifds.get("exif")
            make, model = clean_field(ifd0.text(271)), clean_field(ifd0.text(272))
            application = clean_field(ifd0.text(305))
            user = clean_field(ifd0.text(315))
            host = clean_field(ifd0.text(316))
            document = clean_field(ifd0.text(269))
            for key, value in (("make", make), ("model", model)):
                if value:
                    extra.append((key, value))
            description = clean_field(ifd0.text(270))
            if description:
                extra.append(("image-description", description))
            original = sub.text(36867) if sub is not None else None
            offset = None
            if sub is not None:
                offset = sub.text(36881) or sub.text(36880)
            raw_time = original or ifd0.text(306)
            created, zone_known = exif_datetime(raw_time, offset)
            if raw_time:
                extra.append(
                    ("datetime-original" if original else "datetime", clean_field(raw_time) or "")
                )
            if offset:
                extra.append(("offset-time", clean_field(offset) or ""))
            if created and not zone_known:
                job.notes.append(
                    "EXIF date has no OffsetTime: the zone is unknown, shown as if UTC"
                )
            comment_entry = sub.get(37510) if sub is not None else None
            user_comment = (
                _user_comment(comment_entry.values) if comment_entry is not None else None
            )
            if user_comment:
                extra.append(("user-comment", user_comment))
            gps = _gps_text(exif)
            if gps:
                extra.append(("gps", gps))
            if resolution is None:
                resolution = resolution_text(ifd0)
            lines = tag_lines(ifd0)
            if sub is not None:
                lines.extend(tag_lines(sub))
            if user_comment:
                lines.append(f"{TAG_NAMES[37510]}: {user_comment}")
            if lines:
                job.texts.insert(0, DecodedText("EXIF", "\n".join(lines)[:MAX_TEXT_CHARS]))
        if comments:
            extra.append(("comment", clean_field(comments[0]) or ""))
        if width is not None and height is not None:
            job.pages.append(
                PageRef(
                    number=1,
                    offset=0,
                    length=structure.end,
                    width=width,
                    height=height,
                    resolution=resolution,
                    color=COMPONENT_NAMES.get(components or 0, f"{components} components"),
                    image_only=True,
                )
            )
        job.metadata = JobMetadata(
            user=user,
            host=host,
            document_name=document,
            application=application,
            created=created,
            pages=1 if job.pages else None,
            resolution=resolution,
            document_format="image/jpeg",
            extra=tuple((key, value) for key, value in extra if value),
        )
        job.length = structure.end

    def extent(self, buf: bytes, offset: int) -> int | None:
        if buf[offset : offset + 3] != b"\xff\xd8\xff":
            return None
        try:
            structure = walk_markers(buf, offset, offset + MAX_PARSE_BYTES)
        except NotThisFormat:
            return None
        if structure.end is None or structure.scans == 0:
            return None
        return structure.end - offset
