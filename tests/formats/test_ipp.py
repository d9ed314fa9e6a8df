"""The generic IPP decoder (RFC 8010 §3), against messages built here field by field.

No Linux tool writes a CUPS control file without a running cupsd, so ``encode_*`` below is an
IPP encoder written from RFC 8010 §3.1 (also used by test_cups.py).
"""

from __future__ import annotations

import random
import struct
import time

import pytest

from forensics.formats import ipp
from forensics.formats.base import NotThisFormat

# RFC 8010 §3.5 tags used by the encoder.
OPERATION, JOB, PRINTER, END = 0x01, 0x02, 0x04, 0x03
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
OCTET_STRING, DATE_TIME, RESOLUTION, RANGE = 0x30, 0x31, 0x32, 0x33
BEG_COLLECTION, END_COLLECTION, MEMBER_NAME = 0x34, 0x37, 0x4A
TEXT_WITH_LANGUAGE, NAME_WITH_LANGUAGE = 0x35, 0x36
TEXT, NAME, KEYWORD, URI, CHARSET, LANGUAGE, MIME = 0x41, 0x42, 0x44, 0x45, 0x47, 0x48, 0x49
NO_VALUE = 0x13

Value = tuple[int, bytes]  # (value-tag, encoded value)


def encode_attribute(tag: int, name: str, value: bytes) -> bytes:
    """RFC 8010 §3.1.4: value-tag, name-length, name, value-length, value."""
    raw_name = name.encode()
    return (
        bytes([tag])
        + struct.pack(">H", len(raw_name))
        + raw_name
        + struct.pack(">H", len(value))
        + value
    )


def encode_values(name: str, values: list[Value]) -> bytes:
    """RFC 8010 §3.1.5: the first value carries the name, additional values have name-length 0."""
    out = b""
    for index, (tag, value) in enumerate(values):
        out += encode_attribute(tag, name if index == 0 else "", value)
    return out


def encode_collection(name: str, members: list[tuple[str, list[Value | bytes]]]) -> bytes:
    """RFC 8010 §3.1.6: begCollection, then memberAttrName + value(s) per member, endCollection.

    A member value given as ``bytes`` is an already encoded nested collection (its name empty).
    """
    out = encode_attribute(BEG_COLLECTION, name, b"")
    for member, values in members:
        out += encode_attribute(MEMBER_NAME, "", member.encode())
        for value in values:
            out += value if isinstance(value, bytes) else encode_attribute(value[0], "", value[1])
    return out + encode_attribute(END_COLLECTION, "", b"")


def encode_message(
    groups: list[tuple[int, bytes]], version: tuple[int, int] = (2, 0), code: int = 0x0002
) -> bytes:
    """RFC 8010 §3.1.1: version, operation-id/status-code, request-id, groups, end tag."""
    out = bytes(version) + struct.pack(">HI", code, 1)
    for tag, attributes in groups:
        out += bytes([tag]) + attributes
    return out + bytes([END])


def integer(value: int) -> Value:
    return INTEGER, struct.pack(">i", value)


def text(tag: int, value: str) -> Value:
    return tag, value.encode()


def date_time(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    sign: str,
    zh: int,
    zm: int,
) -> Value:
    """RFC 2579 DateAndTime, 11 octets."""
    return DATE_TIME, struct.pack(
        ">HBBBBBBcBB", year, month, day, hour, minute, second, 0, sign.encode(), zh, zm
    )


def operation_group() -> tuple[int, bytes]:
    return OPERATION, encode_values("attributes-charset", [text(CHARSET, "utf-8")]) + encode_values(
        "attributes-natural-language", [text(LANGUAGE, "en")]
    )


def test_values_of_every_syntax() -> None:
    job = b"".join(
        [
            encode_values("copies", [integer(3)]),
            encode_values("job-state", [(ENUM, struct.pack(">i", 9))]),
            encode_values("collate", [(BOOLEAN, b"\x01")]),
            encode_values("job-password", [(OCTET_STRING, b"4711")]),
            encode_values("date-time-at-creation", [date_time(2023, 11, 15, 0, 13, 20, "+", 2, 0)]),
            encode_values("printer-resolution", [(RESOLUTION, struct.pack(">iib", 600, 1200, 3))]),
            encode_values(
                "page-ranges",
                [(RANGE, struct.pack(">ii", 1, 5)), (RANGE, struct.pack(">ii", 9, 9))],
            ),
            encode_values("job-name", [(NAME_WITH_LANGUAGE, b"\x00\x02de\x00\x07Bericht")]),
            encode_values("job-sheets", [text(KEYWORD, "none"), text(KEYWORD, "standard")]),
            encode_values("job-hold-until", [(NO_VALUE, b"")]),
            encode_values("printer-uri", [text(URI, "ipp://host/printers/q")]),
        ]
    )
    message = ipp.decode_message(encode_message([operation_group(), (JOB, job)]))
    assert message.complete and not message.notes
    assert [group.name for group in message.groups] == ["operation-attributes", "job-attributes"]
    assert message.value("copies") == 3
    assert message.value("job-state") == 9
    assert message.value("collate") is True
    assert message.value("job-password") == b"4711"
    stamp = message.value("date-time-at-creation")
    assert isinstance(stamp, ipp.DateTimeValue) and stamp.iso == "2023-11-14T22:13:20Z"
    assert str(message.value("printer-resolution")) == "600x1200 dpi"
    ranges = message.find("page-ranges")
    assert ranges is not None and [str(v.value) for v in ranges.values] == ["1-5", "9-9"]
    name = message.find("job-name")
    assert (
        name is not None and name.values[0].value == "Bericht" and name.values[0].language == "de"
    )
    sheets = message.find("job-sheets")
    assert sheets is not None and [v.value for v in sheets.values] == ["none", "standard"]
    assert isinstance(message.value("job-hold-until"), ipp.OutOfBand)
    rendered = ipp.render(message)
    assert "job-sheets: none, standard" in rendered
    assert "job-password: 4711" in rendered
    assert "job-hold-until: <no-value>" in rendered


def test_nested_collections_and_member_values() -> None:
    media_size = encode_collection(
        "", [("x-dimension", [integer(21000)]), ("y-dimension", [integer(29700)])]
    )
    media_col = encode_collection(
        "media-col",
        [
            ("media-size", [media_size]),
            ("media-type", [text(KEYWORD, "stationery")]),
            ("media-source", [text(KEYWORD, "tray-2")]),
        ],
    )
    second = encode_collection("", [("media-type", [text(KEYWORD, "labels")])])
    message = ipp.decode_message(
        encode_message(
            [operation_group(), (JOB, media_col + second + encode_values("copies", [integer(1)]))]
        )
    )
    assert message.complete, message.notes
    col = message.find("media-col")
    assert col is not None and len(col.values) == 2  # the second collection is an additional value
    first = col.values[0].value
    assert isinstance(first, ipp.IppCollection)
    size = first.get("media-size")
    assert size is not None and isinstance(size.first, ipp.IppCollection)
    x = size.first.get("x-dimension")
    assert x is not None and x.first == 21000
    assert message.value("copies") == 1  # decoding goes on after the collections
    rendered = ipp.render(message)
    assert "media-col: {\n  media-size: {\n    x-dimension: 21000" in rendered
    assert "media-type: labels" in rendered


def test_charset_decides_the_text_codec() -> None:
    group = OPERATION, encode_values("attributes-charset", [text(CHARSET, "iso-8859-1")])
    job = JOB, encode_values("job-name", [(NAME, "Übersicht".encode("latin-1"))])
    message = ipp.decode_message(encode_message([group, job]))
    assert message.value("job-name") == "Übersicht"


def test_header_checks() -> None:
    good = encode_message([operation_group()])
    assert ipp.plausible_header(good) and ipp.starts_with_charset(good)
    with pytest.raises(NotThisFormat):
        ipp.decode_message(b"\x09\x00" + good[2:])  # version 9.0
    with pytest.raises(NotThisFormat):
        ipp.decode_message(good[:8] + b"\x41")  # a value tag where a group tag belongs
    assert not ipp.plausible_header(b"%PDF-1.7\n")


def test_deep_nesting_is_bounded() -> None:
    depth = 5000
    body = encode_attribute(BEG_COLLECTION, "media-col", b"")
    body += (
        encode_attribute(MEMBER_NAME, "", b"m") + encode_attribute(BEG_COLLECTION, "", b"")
    ) * depth
    started = time.monotonic()
    message = ipp.decode_message(encode_message([operation_group(), (JOB, body)]))
    assert time.monotonic() - started < 2
    assert not message.complete
    assert any("nested deeper" in note for note in message.notes)
    assert len(ipp.render(message)) < 100_000


def test_lengths_past_the_end_and_truncation() -> None:
    good = encode_message(
        [operation_group(), (JOB, encode_values("job-name", [text(NAME, "report")]))]
    )
    bad = good[:9] + b"\x42\xff\xff"  # name-length 65535 with nothing after it
    message = ipp.decode_message(bad)
    assert not message.complete and "past the end" in message.notes[0]
    for cut in range(9, len(good)):
        message = ipp.decode_message(good[:cut])
        assert not message.complete  # no end-of-attributes tag


def test_random_bytes_after_a_good_header() -> None:
    rng = random.Random(8010)
    for _ in range(300):
        data = (
            encode_message([operation_group()])[:-1]
            + bytes([JOB])
            + rng.randbytes(rng.randint(0, 2000))
        )
        started = time.monotonic()
        try:
            message = ipp.decode_message(data)
        except NotThisFormat:
            continue
        ipp.render(message)
        assert time.monotonic() - started < 1


def test_value_count_limit() -> None:
    body = encode_values("job-name", [text(NAME, "x")]) + encode_attribute(NAME, "", b"y") * (
        ipp.MAX_VALUES + 10
    )
    message = ipp.decode_message(encode_message([operation_group(), (JOB, body)]))
    assert not message.complete
    assert any("values" in note for note in message.notes)


def test_extension_tag() -> None:
    # RFC 8010 §3.5.2: 0x7F puts the 4-octet type code first in the value.
    body = encode_attribute(0x7F, "vendor-thing", struct.pack(">I", 0x40000001) + b"\x01\x02")
    message = ipp.decode_message(encode_message([operation_group(), (JOB, body)]))
    value = message.value("vendor-thing")
    assert (
        isinstance(value, ipp.Extension)
        and value.type_code == 0x40000001
        and value.raw == b"\x01\x02"
    )
