"""Detector: decoding of YARA matches (ASCII and UTF-16LE), spans and offsets."""

from __future__ import annotations

import pytest

from fixtures import secrets
from forensics.detect.rules import load_rules
from forensics.detect.scanner import Detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())


def test_utf16_value_right_after_a_nul_terminator(detector: Detector) -> None:
    filler = b"\x80" * 64
    wide = "x\0".encode("utf-16-le") + secrets.SSN.encode("utf-16-le") + b"\0\0"
    found = detector.scan(filler + wide + filler, base=1000)
    assert [(d.value, d.encoding) for d in found] == [(secrets.SSN, "utf-16le")]
    assert found[0].offset == 1000 + 64 + 4 and found[0].length == 22


def test_accept_window_drops_matches_outside_it(detector: Detector) -> None:
    buf = b"\x80" * 10 + b" " + secrets.SSN.encode() + b" " + b"\x80" * 10
    assert len(detector.scan(buf)) == 1
    assert detector.scan(buf, accept_start=11) == []  # the match (guard at 10) starts earlier
    assert detector.scan(buf, accept_end=10) == []


def test_utf8_text_is_decoded_as_utf8(detector: Detector) -> None:
    text = "Benutzer: Jürgen\nPassword: Pässwörd2024\n".encode()
    found = detector.scan(text, utf8=True)
    (password,) = [d for d in found if d.category == "credentials"]
    assert password.value.startswith("P") and "Ã" not in password.value
    assert text[password.offset : password.offset + password.length].decode() == password.value
