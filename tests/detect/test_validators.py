"""Validators accept the planted values, reject look-alikes, mask and locate values exactly."""

from __future__ import annotations

import hashlib

import pytest

from fixtures import secrets
from forensics.detect.masking import (
    SECRET_MASK,
    mask_context,
    mask_email,
    printable,
    sha256_normalised,
)
from forensics.detect.validators import VALIDATORS, Confirmed, confirm

EXPECTED_VALIDATORS = {
    "luhn",
    "ssn",
    "ssn_bare",
    "iban",
    "aba",
    "email",
    "phone",
    "password_field",
    "credential_value",
    "private_key",
    "pjl_holdkey",
    "classification",
    "phi",
}

PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}{PEM_BODY}-----END RSA PRIVATE KEY-----\n"


def confirmed(name: str, text: str) -> Confirmed:
    """Run a validator that must accept ``text``; check the span points at the value."""
    found = confirm(name, text)
    assert found is not None, f"{name} rejected {text!r}"
    assert text[found.span[0] : found.span[1]] == found.value
    return found


# --------------------------------------------------------------------------- registry


def test_registry_holds_every_rule_validator() -> None:
    assert set(VALIDATORS) >= EXPECTED_VALIDATORS


def test_no_validator_means_whole_text_is_a_secret() -> None:
    found = confirm(None, "hunter2")
    assert found == Confirmed("hunter2", "hunter2", SECRET_MASK, (0, 7))
    assert confirm(None, "") is None


def test_unknown_validator_is_an_error() -> None:
    with pytest.raises(KeyError):
        confirm("no-such-validator", "x")


@pytest.mark.parametrize("name", sorted(EXPECTED_VALIDATORS))
@pytest.mark.parametrize("negative", secrets.NEGATIVES)
def test_no_validator_accepts_a_negative_control(name: str, negative: str) -> None:
    assert confirm(name, negative) is None
    assert confirm(name, f"\n{negative}\n") is None


# --------------------------------------------------------------------------- payment cards


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        (secrets.CARD_VISA, secrets.CARD_VISA, "************9855"),
        (secrets.CARD_VISA_SPACED, secrets.CARD_VISA_SPACED, "**** **** **** 9855"),
        ("4556-7375-8689-9855", "4556-7375-8689-9855", "****-****-****-9855"),
        (secrets.CARD_MC, secrets.CARD_MC, "************0179"),
        (secrets.CARD_AMEX, secrets.CARD_AMEX, "***********8431"),
        ("3714 496353 98431", "3714 496353 98431", "**** ****** *8431"),
        # a grouped card followed by an unrelated 3-digit group
        ("4556 7375 8689 9855 123", secrets.CARD_VISA_SPACED, "**** **** **** 9855"),
    ],
)
def test_luhn_accepts_cards(text: str, value: str, masked: str) -> None:
    found = confirmed("luhn", f"\n{text}\n")
    assert found.value == value
    assert found.masked == masked
    assert found.normalised == "".join(ch for ch in value if ch.isdigit())
    assert found.span == (1, 1 + len(value))


@pytest.mark.parametrize(
    "text",
    [
        "4556737586899856",  # Luhn-invalid
        "4111 1111 1111 1111",  # Luhn-valid test number: histogram test
        "4111111111111111",
        "4532 4533 1002 1001",  # Luhn-valid, b-a == c-d: pattern test
        "4444444444444448",
        "4556-7375 8689-9855",  # mixed separators
        "45567 375 8689 9855",  # not a printed grouping
        "4556 7375 8689 9855 1234",  # five 4-digit blocks
        "3714496353984310",  # Amex prefix with 16 digits
        "9556737586899855",  # no such issuer
        "5378149226350",  # Mastercard prefix, 13 digits
        "deadbeef4556737586899855",  # inside a hex run
        "45567375868998551",  # longer digit run
    ],
)
def test_luhn_rejects_look_alikes(text: str) -> None:
    assert confirm("luhn", f"\n{text}\n") is None


# --------------------------------------------------------------------------- SSN


def test_ssn_plain_and_masked() -> None:
    found = confirmed("ssn", f"\n{secrets.SSN}\n")
    assert found == Confirmed("536-22-8714", "536228714", "***-**-8714", (1, 12))


def test_ssn_span_skips_keyword_prefix() -> None:
    found = confirmed("ssn", "SSN: 536-22-8714 ")
    assert found.span == (5, 16)
    assert confirmed("ssn", "x536 22 8714x").masked == "*** ** 8714"


@pytest.mark.parametrize(
    "text",
    [
        "000-00-0000",
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "987-65-4321",
        "219-00-9999",
        "219-09-0000",
        "078-05-1120",
        "219-09-9999",  # SSA pamphlet advertisement (1940)
        "123-45-6789",
        "219-09 9999",
        "536228714",  # bare digits need a keyword (ssn_bare)
        "1536-22-8714",
    ],
)
def test_ssn_rejects(text: str) -> None:
    assert confirm("ssn", f" {text} ") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("SSN 536228714 ", "536228714"),
        ("Social Security Number: 536 22 8714\n", "536 22 8714"),
        ("SS# 536-22-8714.", "536-22-8714"),
    ],
)
def test_ssn_bare_needs_keyword(text: str, value: str) -> None:
    found = confirmed("ssn_bare", text)
    assert found.value == value
    assert found.normalised == "536228714"
    assert found.masked.endswith("8714") and "536" not in found.masked


@pytest.mark.parametrize("text", ["536228714", "Account 536228714", "SSN 666123456 "])
def test_ssn_bare_rejects(text: str) -> None:
    assert confirm("ssn_bare", text) is None


# --------------------------------------------------------------------------- IBAN


def test_iban_paper_format() -> None:
    found = confirmed("iban", f" {secrets.IBAN}\n")
    assert found.value == secrets.IBAN
    assert found.normalised == "GB82WEST12345698765432"
    assert found.masked == "GB** **** **** **** **54 32"
    assert found.span == (1, 1 + len(secrets.IBAN))


@pytest.mark.parametrize("text", ["GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00"])
def test_iban_accepts(text: str) -> None:
    assert confirmed("iban", f"IBAN: {text}.").value == text


@pytest.mark.parametrize(
    "text",
    [
        "GB83 WEST 1234 5698 7654 32",  # mod-97 fails
        "GB82 WEST 1234 5698 7654 3",  # too short for GB
        "GB82 WEST 1234 5698 7654 321",  # too long for GB
        "ZZ82 WEST 1234 5698 7654 32",  # no such country
        "GB82 WE ST12 3456 9876 5432",  # irregular grouping
        "GB82 WEST12345698765432",  # spaces used inconsistently
    ],
)
def test_iban_rejects(text: str) -> None:
    assert confirm("iban", f" {text}\n") is None


# --------------------------------------------------------------------------- ABA


def test_aba_after_keyword() -> None:
    text = f"Routing number: {secrets.ABA}\n"
    found = confirmed("aba", text)
    assert found.value == secrets.ABA
    assert found.masked == "*****0015"
    assert found.normalised == secrets.ABA
    assert found.span == (16, 25)


@pytest.mark.parametrize(
    "text",
    [
        "ABA 011000016 ",  # checksum
        "ABA 131000018 ",  # checksum fine, prefix 13 unassigned
        "ABA 000000000 ",
        f"{secrets.ABA} ",  # no keyword
        f"Routing 12 {secrets.ABA} ",  # digits between keyword and number
    ],
)
def test_aba_rejects(text: str) -> None:
    assert confirm("aba", text) is None


# --------------------------------------------------------------------------- e-mail


def test_email_masked_and_lower_cased() -> None:
    found = confirmed("email", f"<{secrets.EMAIL}>")
    assert found.value == secrets.EMAIL
    assert found.masked == "j***@c***.example.org"
    assert found.span == (1, 1 + len(secrets.EMAIL))
    assert confirmed("email", " Jane@CLINIC.EXAMPLE.ORG ").normalised == "jane@clinic.example.org"
    assert confirmed("email", " John.Smith@Contoso.com ").masked == "J***@C***.com"


@pytest.mark.parametrize(
    "text",
    [
        " x@x.x ",
        " a@b ",
        " user@host.c0m ",
        " a..b@example.com ",
        " user@-bad.example.com ",
        # conjured from random bytes: one-letter label before the TLD, mixed-case domain
        "\x9eJ@w.Rh",
        "\xe8q@l.dc",
        "\xf9i@bX.sE",
        "\xadu@Lk.pk",
    ],
)
def test_email_rejects(text: str) -> None:
    assert confirm("email", text) is None


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (secrets.PHONE, "(***) ***-0147"),
        ("312-627-0147", "***-***-0147"),
        ("312.627.0147", "***.***.0147"),
        ("+1 312 627 0147", "+* *** *** 0147"),
        ("+44 20 7946 0958", "+** ** **** 0958"),
    ],
)
def test_phone_accepts(text: str, masked: str) -> None:
    found = confirmed("phone", f" {text}\n")
    assert found.value == text
    assert found.masked == masked
    assert found.normalised == "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize(
    "text",
    [
        "(222) 222-2222",
        "(123) 627-0147",
        "(312) 155-0147",
        "+44 12",
        "312-627 0147",
        "+1 111 111 1111",
    ],
)
def test_phone_rejects(text: str) -> None:
    assert confirm("phone", f" {text}\n") is None


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (secrets.PASSWORD_LINE, "Spring2024!"),
        ('password="changeme"', "changeme"),  # a default password is still a credential
        ("<Password>s3cr3t!</Password>", "s3cr3t!"),
        ("<SMTPAuthPassword>mail pw</SMTPAuthPassword>", "mail pw"),
        ("bindPassword: Ldap#2024", "Ldap#2024"),
        ("smb_password = hunter2", "hunter2"),
        ("SMTPAuthPassword=abc123", "abc123"),
        ('{"password": "pa ss"}', "pa ss"),
        ("passwd=foo;user=bob", "foo"),
        ("pwd:bar", "bar"),
        (" PASSWORD=Winter1", "Winter1"),
    ],
)
def test_password_field_extracts_value(text: str, value: str) -> None:
    found = confirmed("password_field", text)
    assert found.value == value
    assert found.normalised == value
    assert found.masked == SECRET_MASK


@pytest.mark.parametrize(
    "text",
    [
        "Password: \n",
        "Password: ********",
        "Password: ******",
        "Password: •••••",
        "password=xxxx",
        "Password: null",
        "password=(none)",
        "Password: None",
        "Password: undefined",
        'password="${DB_PASSWORD}"',
        "password=" + "a" * 129,
        "</Password> trailing text",
        "<Password></Password>",
        "PWD=/home/user",
        "Password is required",
        "Pwd=\x9a\x1b",  # binary junk
        "Password: \xca\xfe\xe9a",
        'password="unterminated',
    ],
)
def test_password_field_rejects(text: str) -> None:
    assert confirm("password_field", text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("rocommunity public", "public"),
        ("snmp-server community s3cret RO ", "s3cret"),
        ("get-community-name: private", "private"),
        ("CommunityName=corp-snmp", "corp-snmp"),
        ("bindpw Secret123", "Secret123"),
        ("rootpw: {SSHA}abcdef", "{SSHA}abcdef"),
        ("wpa_psk=LetMeIn2024", "LetMeIn2024"),
        ("<keyMaterial>wifi-pass</keyMaterial>", "wifi-pass"),
    ],
)
def test_credential_value_extracts_value(text: str, value: str) -> None:
    found = confirmed("credential_value", text)
    assert found.value == value
    assert found.masked == SECRET_MASK


@pytest.mark.parametrize(
    "text", ["community: ****", "rocommunity ", "wpa_psk=", "psk = null", "snmp community RO"]
)
def test_credential_value_rejects(text: str) -> None:
    assert confirm("credential_value", text) is None


# --------------------------------------------------------------------------- private keys


def test_private_key() -> None:
    found = confirmed("private_key", PEM)
    header = "-----BEGIN RSA PRIVATE KEY-----"
    assert found.value == f"{header}\n{PEM_BODY[:16]}"
    assert found.masked == f"{header} [...]"
    assert found.span == (0, len(header) + 17)
    assert found.normalised.startswith(header + "\n" + PEM_BODY[:64])


def test_private_key_with_rfc1421_headers() -> None:
    text = (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        f"DEK-Info: AES-128-CBC,0123456789ABCDEF\n\n{PEM_BODY}{PEM_BODY}"
    )
    assert confirmed("private_key", text).value.endswith(PEM_BODY[:16])


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN RSA PRIVATE KEY-----\n",
        f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY[:40]}\n-----END PRIVATE KEY-----",
        f"-----BEGIN PUBLIC KEY-----\n{PEM_BODY}{PEM_BODY}",
    ],
)
def test_private_key_rejects(text: str) -> None:
    assert confirm("private_key", text) is None


# --------------------------------------------------------------------------- PJL PINs


@pytest.mark.parametrize(
    ("text", "pin"),
    [
        (secrets.HOLDKEY_PJL, "4711"),
        ("@PJL SET HOLDKEY=1234\r\n", "1234"),
        ("@PJL SET JOBPASSWORD=12345678", "12345678"),
        ('@PJL SET JOBATTR="@PIN=0042"', "0042"),
    ],
)
def test_pjl_pin(text: str, pin: str) -> None:
    found = confirmed("pjl_holdkey", text)
    assert (found.value, found.masked) == (pin, SECRET_MASK)


@pytest.mark.parametrize(
    "text", ['HOLDKEY="12"', 'HOLDKEY="abcd"', "HOLDKEY=12345678901", 'HOLDKEY=""', "HOLDKEY=12ab"]
)
def test_pjl_pin_rejects(text: str) -> None:
    assert confirm("pjl_holdkey", text) is None


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    "marking",
    [
        secrets.MARKING,
        "TOP SECRET//SI//NOFORN",
        "SECRET//NOFORN",
        "SECRET//REL TO USA, FVEY",
        "CONFIDENTIAL//REL TO USA, GBR",
        "CUI//SP-PRVCY",
        "(TS//SI)",
        "(S//NF)",
        "NATO SECRET",
        "COSMIC TOP SECRET",
        "NATO CONFIDENTIAL",
        "NATO RESTRICTED",
        "COSMIC TOP SECRET ATOMAL",
        "ATOMAL",
    ],
)
def test_classification_accepts(marking: str) -> None:
    found = confirmed("classification", f"\n{marking}\n")
    assert found.value == marking
    assert found.masked == marking  # a marking is not secret
    assert found.normalised == marking


def test_classification_stops_at_the_end_of_the_marking() -> None:
    found = confirmed("classification", f"BANNER {secrets.MARKING} END")
    assert found.value == secrets.MARKING
    assert found.span == (7, 7 + len(secrets.MARKING))
    assert confirmed("classification", "SECRET//SI/TK//NOFORN page 2").value == (
        "SECRET//SI/TK//NOFORN"
    )


@pytest.mark.parametrize(
    "text",
    [
        "top secret chili recipe",
        "Top Secret chili",
        "TOP SECRET CHILI RECIPE",
        "Secret//NOFORN",
        "SECRET//",
        "SECRET//noforn",
        "SECRET//NOFORNing",
    ],
)
def test_classification_rejects(text: str) -> None:
    assert confirm("classification", f"\n{text}\n") is None


# --------------------------------------------------------------------------- PHI


@pytest.mark.parametrize(
    ("text", "value", "masked", "normalised"),
    [
        (secrets.PATIENT_LINE, "Jane Example", "J*** E******", "Jane Example"),
        ("Patient Name: EXAMPLE, JANE DOB: 1", "EXAMPLE, JANE", "E******* J***", "EXAMPLE, JANE"),
        ("DOB: 03/14/1962", "03/14/1962", "0*********", "1962-03-14"),
        ("Date of Birth: 1962-03-14", "1962-03-14", "1*********", "1962-03-14"),
        ("D.O.B. 14 March 1962", "14 March 1962", "1* M**** 1***", "1962-03-14"),
        ("MRN: 00123456", "00123456", "0*******", "00123456"),
        ("Medical Record Number: MR-0012345", "MR-0012345", "M*********", "MR0012345"),
        ("Diagnosis: Type 2 diabetes", "Type 2 diabetes", "T*** 2 d*******", "Type 2 diabetes"),
        ("ICD-10: E11.9", "E11.9", "E****", "E11.9"),
    ],
)
def test_phi_accepts(text: str, value: str, masked: str, normalised: str) -> None:
    found = confirmed("phi", text)
    assert (found.value, found.masked, found.normalised) == (value, masked, normalised)


@pytest.mark.parametrize(
    "text",
    [
        "Patient Name: ______",
        "Patient Name: ",
        "Patient Name: N/A",
        "DOB: __/__/____",
        "DOB: 02/30/1962",
        "MRN: 12",
        "MRN: ABCDEFG1",
        "ICD-10: 123",
        "Diagnosis: ",
        "Diagnosis: N/A",
        "Adobe: 03/14/1962",
        "Dx=\xe6$Td\xbb\xb6\x86L",  # binary junk after a label
        "Dx:FÕ\x0e",
    ],
)
def test_phi_rejects(text: str) -> None:
    assert confirm("phi", text) is None


# --------------------------------------------------------------------------- masking


def test_mask_email() -> None:
    assert mask_email("jane.example@clinic.example.org") == "j***@c***.example.org"
    assert mask_email("a@example.com") == "a***@e***.com"


def test_mask_context_masks_digits_emails_and_keyed_secrets() -> None:
    before = "Card for jane@clinic.example.org\tpwd=hunter2 exp 12/27: "
    after = "\r\nCVV 123\x00"
    line = mask_context(before, "**** **** **** 9855", after)
    assert line == (
        "Card for j***@c***.example.org pwd=******** exp **/**: **** **** **** 9855⏎CVV ***."
    )
    assert "\n" not in line and "hunter2" not in line


def test_printable_and_hash() -> None:
    assert printable("a\x00b\nc") == "a.b.c"
    assert sha256_normalised("536228714") == hashlib.sha256(b"536228714").hexdigest()


def test_patient_name_stops_at_the_next_field() -> None:
    from forensics.detect.validators import confirm

    found = confirm("phi", "Patient Name: Jane Example, SSN 536-22-8714 was admitted")
    assert found is not None and found.value == "Jane Example"
    last_first = confirm("phi", "Patient Name: EXAMPLE, JANE")
    assert last_first is not None and last_first.value == "EXAMPLE, JANE"
    three = confirm("phi", "Patient Name: Jane Q Example, admitted")
    assert three is not None and three.value == "Jane Q Example"
