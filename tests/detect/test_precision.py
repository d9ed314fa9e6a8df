"""Every labelled positive is found (with its service), no look-alike is, in both encodings."""

from __future__ import annotations

import pytest

from fixtures.precision import LOOKALIKES, POSITIVES, Positive
from forensics.detect.rules import load_rules
from forensics.detect.scanner import Detector
from forensics.detect.validators import credential_service, is_credential_key


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())


@pytest.mark.parametrize("encoding", ["ascii", "utf-16-le"])
@pytest.mark.parametrize("sample", POSITIVES, ids=lambda p: p.line)
def test_positive_found(detector: Detector, sample: Positive, encoding: str) -> None:
    found = detector.scan(f"\n{sample.line}\n".encode(encoding))
    hits = [d for d in found if d.value == sample.value and d.category == sample.category]
    assert hits, [(d.rule, d.value) for d in found]
    if sample.service:
        assert {d.service for d in hits} == {sample.service}


@pytest.mark.parametrize("encoding", ["ascii", "utf-16-le"])
@pytest.mark.parametrize("line", LOOKALIKES)
def test_lookalike_not_found(detector: Detector, line: str, encoding: str) -> None:
    assert detector.scan(f"\n{line}\n".encode(encoding)) == []


def test_ini_section_names_the_service(detector: Detector) -> None:
    data = b"[SMTP]\nServer=mail.example.org\nPassword=Rel4yPass\n[SMB]\nPassword=Sh4rePass\n"
    services = {d.value: d.service for d in detector.scan(data)}
    assert services == {"Rel4yPass": "SMTP", "Sh4rePass": "SMB"}


def test_binary_between_section_and_key_ends_the_section(detector: Detector) -> None:
    data = b"[SMTP]\n" + bytes(range(0, 8)) * 4 + b"\nPassword=Zz9zz9zz\n"
    (found,) = detector.scan(data)
    assert found.service is None


def test_binary_before_the_section_leaves_it_in_force(detector: Detector) -> None:
    data = bytes(range(0, 8)) * 4 + b"\n[SMTP]\nServer=mail.example.org\nPassword=Zz9zz9zz\n"
    (found,) = detector.scan(data)
    assert found.service == "SMTP"


def test_undecodable_utf16_between_section_and_key_ends_the_section(detector: Detector) -> None:
    # A lone surrogate decodes to U+FFFD: another file's bytes, not the section's text.
    head = "[SMTP]\n".encode("utf-16-le") + b"\x00\xd8"
    data = head + "\nPassword=Zz9zz9zz\n".encode("utf-16-le")
    (found,) = detector.scan(data)
    assert found.service is None
    (kept,) = detector.scan("[SMTP]\n\nPassword=Zz9zz9zz\n".encode("utf-16-le"))
    assert kept.service == "SMTP"


@pytest.mark.parametrize(
    ("key", "credential", "service"),
    [
        ("smtp_pass", True, "SMTP"),
        ("SmtpPassword", True, "SMTP"),
        ("ldap_bind_pw", True, "LDAP"),
        ("bindPassword", True, "LDAP"),
        ("rootpw", True, None),
        ("passwd", True, None),
        ("auth_token", True, None),
        ("rocommunity", True, "SNMP"),
        ("wpa_psk", True, "Wi-Fi"),
        ("FtpPassword2", True, "FTP"),
        ("password_min_length", False, None),
        ("token_expiry", False, None),
        ("bypass", False, None),
        ("compass", False, None),
        ("passport", False, None),
        ("pw", False, None),
    ],
)
def test_credential_key_family(key: str, credential: bool, service: str | None) -> None:
    assert is_credential_key(key) is credential
    if credential:
        assert credential_service(key) == service


def test_confidence_orders_checksum_over_keyword_over_pattern(detector: Detector) -> None:
    data = b"Card 4556737586899855\nPassword: Kq7mZp2x\nmail jane.example@clinic.example.org\n"
    confidence = {d.category: d.confidence for d in detector.scan(data)}
    assert confidence == {
        "financial": "validated",
        "credentials": "keyword-anchored",
        "pii": "pattern",
    }
