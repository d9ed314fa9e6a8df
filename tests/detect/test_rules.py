"""The shipped YARA rules compile strictly, carry their meta, and find every planted value.

Each positive goes through the real path: yara-python match -> decoded string instance ->
``confirm(meta["validator"], text)``, in ASCII and in UTF-16LE.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
import yara

from fixtures import secrets
from forensics.detect.validators import VALIDATORS, Confirmed, confirm

RULES_DIR = Path(__file__).resolve().parents[2] / "yara_rules"
RULE_FILES = sorted(RULES_DIR.glob("*.yar"))
CATEGORIES = {"pii", "financial", "health", "classification", "credentials", "printer"}
SEVERITIES = {"low", "medium", "high", "critical"}
MAX_MATCH_BYTES = 512

PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBZQ2nVbS1Wc3QxaXh3bGx6ZXJvY29weWRldGVjdGlvbnRlc3QAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----"
)

# Every positive of fixtures/secrets.py -> the value its validator must report. The ABA number
# is only reported after a routing keyword (a bare 9-digit run is far too common).
PLANTED: dict[str, str] = {
    secrets.SSN: secrets.SSN,
    secrets.CARD_VISA: secrets.CARD_VISA,
    secrets.CARD_VISA_SPACED: secrets.CARD_VISA_SPACED,
    secrets.CARD_MC: secrets.CARD_MC,
    secrets.CARD_AMEX: secrets.CARD_AMEX,
    secrets.IBAN: secrets.IBAN,
    f"ABA routing number: {secrets.ABA}": secrets.ABA,
    secrets.EMAIL: secrets.EMAIL,
    secrets.PHONE: secrets.PHONE,
    secrets.HOLDKEY_PJL: "4711",
    secrets.PASSWORD_LINE: "Spring2024!",
    secrets.MARKING: secrets.MARKING,
    secrets.PATIENT_LINE: "Jane Example",
}

# One line per rule so that every rule is exercised end to end.
RULE_SAMPLES: dict[str, tuple[str, str]] = {
    "pii_ssn_formatted": ("Employee 536-22-8714 hired", "536-22-8714"),
    "pii_ssn_keyword": ("SSN: 536 22 8714", "536 22 8714"),
    "pii_email": ("mailto:jane.example@clinic.example.org", secrets.EMAIL),
    "pii_phone": ("Tel +44 20 7946 0958.", "+44 20 7946 0958"),
    "financial_payment_card": ("Amex 3714 496353 98431 exp", "3714 496353 98431"),
    "financial_iban": ("IBAN DE89370400440532013000", "DE89370400440532013000"),
    "financial_aba_routing": ("RTN 011000015", secrets.ABA),
    "health_patient_name": ("PATIENT NAME: Jane Example", "Jane Example"),
    "health_date_of_birth": ("DOB: 03/14/1962", "03/14/1962"),
    "health_medical_record_number": ("MRN: 00123456", "00123456"),
    "health_diagnosis": ("ICD-10: E11.9", "E11.9"),
    "classification_top_secret": ("TOP SECRET//SI//NOFORN", "TOP SECRET//SI//NOFORN"),
    "classification_secret": ("SECRET//REL TO USA, FVEY", "SECRET//REL TO USA, FVEY"),
    "classification_confidential": ("CONFIDENTIAL//NOFORN", "CONFIDENTIAL//NOFORN"),
    "classification_portion": ("(S//NF) The plan", "(S//NF)"),
    "classification_cui": (" CUI//SP-PRVCY", "CUI//SP-PRVCY"),
    "classification_nato": ("NATO SECRET", "NATO SECRET"),
    "credentials_password_field": ("<AdminPassword>Pr1nt3r!</AdminPassword>", "Pr1nt3r!"),
    "credentials_private_key": (PEM, PEM.split("\n", 1)[0] + "\n" + PEM.split("\n")[1][:16]),
    "credentials_snmp_community": ("rocommunity s3cr3tcomm", "s3cr3tcomm"),
    "credentials_bind_secret": ("bindpw LdapBind!2024", "LdapBind!2024"),
    "credentials_shared_secret": ("wpa_passphrase=CorpWifi2024", "CorpWifi2024"),
    "printer_pjl_job_pin": ("@PJL SET JOBPASSWORD=12345678", "12345678"),
    "credentials_keyed_secret": ("smtp_auth_pass=M4ilRelay#7", "M4ilRelay#7"),
    "classification_banner_line_secret": ("\nSECRET\n", "SECRET"),
    "classification_banner_line": ("\nCUI\n", "CUI"),
}

# Look-alikes beyond secrets.NEGATIVES that no rule may confirm.
EXTRA_NEGATIVES = (
    "4111 1111 1111 1111",
    "4532 4533 1002 1001",
    "4556 7375 8689 9855 1234",
    "078-05-1120",
    "900-12-3456",
    "219-00-9999",
    "219-09-9999",  # SSA advertising number
    "(312) 555-0123",  # NANP fictional 555-0100..0199
    "Password: ________________",
    "Password: Username:",
    "smtp_password=<password>",
    "ldap_bind_pw=${LDAP_PW}",
    "password_min_length=8",
    "a secret recipe for the cui bono argument",
    "GB83 WEST 1234 5698 7654 32",
    "Routing 011000016",
    "x@x.x",
    "(222) 222-2222",
    "Password: null",
    "password=(none)",
    "</Password>",
    "Top Secret chili",
    "TOP SECRET CHILI RECIPE",
    "Patient Name: ______",
    "DOB: __/__/____",
    '@PJL SET HOLDKEY="12"',
    "-----BEGIN PRIVATE KEY-----",
    "Page 12 of 345, job 2024-03-14 10:22:31, 1,234,567 bytes",
)


@pytest.fixture(scope="module")
def rules() -> yara.Rules:
    return yara.compile(filepaths={p.stem: str(p) for p in RULE_FILES}, error_on_warning=True)


def decode(data: bytes) -> tuple[str, str]:
    """Text of a string instance and its encoding (UTF-16LE when every odd byte is zero)."""
    if len(data) >= 2 and len(data) % 2 == 0 and not any(data[1::2]):
        return data.decode("utf-16-le"), "utf-16le"
    return data.decode("latin-1"), "ascii"


def findings(rules: yara.Rules, lines: Iterable[str]) -> list[tuple[str, str, Confirmed]]:
    """(rule, encoding, confirmed) for every confirmed instance in ASCII and UTF-16LE copies."""
    text = "\n" + "\n".join(lines) + "\n"
    out: list[tuple[str, str, Confirmed]] = []
    for data in (text.encode("latin-1"), text.encode("utf-16-le")):
        for match in rules.match(data=data):
            for string in match.strings:
                for instance in string.instances:
                    assert instance.matched_length <= MAX_MATCH_BYTES * 2
                    decoded, encoding = decode(instance.matched_data)
                    found = confirm(match.meta.get("validator"), decoded)
                    if found is not None:
                        out.append((match.rule, encoding, found))
    return out


def test_rule_files_are_the_six_categories() -> None:
    assert {p.stem for p in RULE_FILES} == CATEGORIES


def test_rules_compile_without_warnings(rules: yara.Rules) -> None:
    assert not getattr(rules, "warnings", [])


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_rule_meta(path: Path) -> None:
    compiled = yara.compile(filepath=str(path), error_on_warning=True)
    names = []
    for rule in compiled:
        names.append(rule.identifier)
        meta = rule.meta
        assert {"category", "severity", "description"} <= set(meta), rule.identifier
        assert meta["category"] == path.stem, rule.identifier
        assert meta["severity"] in SEVERITIES, rule.identifier
        assert meta["description"], rule.identifier
        if "validator" in meta:
            assert meta["validator"] in VALIDATORS, rule.identifier
    assert names


def test_every_string_is_ascii_and_wide() -> None:
    for path in RULE_FILES:
        for line in path.read_text().splitlines():
            if line.strip().startswith("$"):
                assert line.rstrip().endswith("ascii wide"), line
                assert " nocase" not in line and ".*" not in line, line


def test_every_planted_positive_is_confirmed_in_both_encodings(rules: yara.Rules) -> None:
    got = {(found.value, encoding) for _, encoding, found in findings(rules, PLANTED)}
    for line, value in PLANTED.items():
        for encoding in ("ascii", "utf-16le"):
            assert (value, encoding) in got, f"{line!r} not confirmed in {encoding}"


@pytest.mark.parametrize("rule_name", sorted(RULE_SAMPLES))
def test_every_rule_confirms_its_sample(rules: yara.Rules, rule_name: str) -> None:
    line, value = RULE_SAMPLES[rule_name]
    got = {(rule, encoding, found.value) for rule, encoding, found in findings(rules, [line])}
    for encoding in ("ascii", "utf-16le"):
        assert (rule_name, encoding, value) in got, (encoding, got)


def test_every_rule_has_a_sample(rules: yara.Rules) -> None:
    assert {rule.identifier for rule in rules} == set(RULE_SAMPLES)


def test_negatives_yield_nothing(rules: yara.Rules) -> None:
    assert findings(rules, secrets.NEGATIVES) == []
    assert findings(rules, EXTRA_NEGATIVES) == []


def test_ssn_alone_on_a_line_is_reported_once_per_encoding(rules: yara.Rules) -> None:
    found = findings(rules, ["Memo", secrets.SSN, "end"])
    assert sorted((rule, enc, f.value) for rule, enc, f in found) == [
        ("pii_ssn_formatted", "ascii", secrets.SSN),
        ("pii_ssn_formatted", "utf-16le", secrets.SSN),
    ]


def test_top_secret_banner_is_not_also_a_secret_banner(rules: yara.Rules) -> None:
    found = findings(rules, [secrets.MARKING])
    # The banner-line rule confirms the same span (the marking is alone on its line); the
    # detector keeps one finding per span. No rule reports a shorter "SECRET//..." inside it.
    assert {rule for rule, _, _ in found} <= {
        "classification_top_secret",
        "classification_banner_line_secret",
    }
    assert {f.value for _, _, f in found} == {secrets.MARKING}


def test_lower_case_markings_do_not_match(rules: yara.Rules) -> None:
    data = b"\ntop secret chili recipe\nTop Secret chili\n"
    assert rules.match(data=data) == []
    assert rules.match(data=data.decode().encode("utf-16-le")) == []


@pytest.mark.parametrize(
    ("line", "rule", "value"),
    [
        ("+1 312-627-0147", "pii_phone", "+1 312-627-0147"),
        ("NATO SECRET//REL TO AUS", "classification_nato", "NATO SECRET//REL TO AUS"),
        ("COSMIC TOP SECRET//REL TO AUS", "classification_nato", "COSMIC TOP SECRET//REL TO AUS"),
        ("@PJL SET JOBPASSWORD=1234", "printer_pjl_job_pin", "1234"),
        ("SSN: 536-22-8714", "pii_ssn_formatted", secrets.SSN),
    ],
)
def test_overlapping_forms_give_one_finding(
    rules: yara.Rules, line: str, rule: str, value: str
) -> None:
    got = {(r, f.value) for r, enc, f in findings(rules, [line]) if enc == "ascii"}
    assert got == {(rule, value)}


@pytest.mark.parametrize(
    "value",
    [secrets.SSN, secrets.CARD_VISA, secrets.CARD_VISA_SPACED, "GB82WEST12345698765432"],
)
def test_values_at_the_edges_of_a_buffer(rules: yara.Rules, value: str) -> None:
    """No guard character exists at the start/end of a buffer: ^ and $ stand in for it."""
    for data in (value.encode(), value.encode("utf-16-le")):
        values = [
            found.value
            for match in rules.match(data=data)
            for string in match.strings
            for instance in string.instances
            if (found := confirm(match.meta.get("validator"), decode(instance.matched_data)[0]))
        ]
        assert values == [value]


def test_utf16_after_a_nul_terminator(rules: yara.Rules) -> None:
    """UTF-16 strings in binary records follow a NUL character, which becomes the guard."""
    data = b"\x00\x00" + f"{secrets.SSN}\x00".encode("utf-16-le")
    (match,) = rules.match(data=data)
    (instance,) = match.strings[0].instances
    text, encoding = decode(instance.matched_data)
    assert instance.matched_data[:2] == b"\x00\x00"
    assert encoding == "utf-16le"
    found = confirm(match.meta["validator"], text)
    assert found is not None and found.value == secrets.SSN
    assert found.span == (1, 12)  # the NUL guard is excluded from the value
