"""Validators: decide whether a YARA hit is a real sensitive value.

The rules cast a cheap, bounded net; a validator re-parses the matched text, applies the
structure and checksum rules for its kind of value (Luhn, ISO 13616 mod-97, ABA 3-7-1, SSA
issuance rules, ...) and returns a :class:`Confirmed` record, or ``None`` to drop the hit.
Validators see only the decoded match, which may include a keyword prefix and one-character
guards; ``Confirmed.span`` always points at the value itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from forensics.detect.masking import (
    EMAIL_RE,
    SECRET_MASK,
    mask_email,
    mask_keep_last,
    mask_words,
)


@dataclass(frozen=True)
class Confirmed:
    """A validated value found in the text handed to a validator."""

    value: str  # exactly as it appears in the text
    normalised: str  # canonical form hashed for correlation
    masked: str  # safe to print
    span: tuple[int, int]  # [start, end) of ``value`` in the text
    key: str | None = None  # the field name a keyed secret was assigned to (``smtp_pass``)


Validator = Callable[[str], Confirmed | None]

VALIDATORS: dict[str, Validator] = {}

# How much a confirmed value can be trusted, strongest first (the report sorts by it after
# severity): "validated" — a checksum or a structure that random text does not satisfy (Luhn,
# mod-97, ABA, a PEM key body); "keyword-anchored" — a value in the slot a keyword or field
# label opens (Password:, SSN, HOLDKEY=, a banner line); "pattern" — the shape alone (e-mail,
# telephone, an unlabelled SSN), or a user rule without a validator.
CONFIDENCES = ("validated", "keyword-anchored", "pattern")
VALIDATOR_CONFIDENCE: dict[str, str] = {}


def validator(name: str, confidence: str) -> Callable[[Validator], Validator]:
    """Register the decorated function as the validator called ``name`` (a rule's meta value)."""
    if confidence not in CONFIDENCES:
        raise ValueError(f"unknown confidence {confidence!r}")

    def register(func: Validator) -> Validator:
        if name in VALIDATORS:
            raise ValueError(f"validator {name!r} is registered twice")
        VALIDATORS[name] = func
        VALIDATOR_CONFIDENCE[name] = confidence
        return func

    return register


def confidence_of(validator_name: str | None) -> str:
    """The confidence of a finding confirmed by ``validator_name`` (none: pattern only)."""
    return VALIDATOR_CONFIDENCE.get(validator_name or "", "pattern")


def confirm(validator_name: str | None, text: str) -> Confirmed | None:
    """Run the named validator on a decoded YARA match.

    With no validator the whole match is the value and is masked like a secret.
    An unknown name raises ``KeyError``: a rule naming a missing validator is a bug.
    """
    if validator_name is None:
        if not text:
            return None
        return Confirmed(text, text, SECRET_MASK, (0, len(text)))
    try:
        func = VALIDATORS[validator_name]
    except KeyError:
        raise KeyError(f"unknown validator {validator_name!r}") from None
    return func(text)


def _digits(text: str) -> str:
    # ASCII digits only: str.isdigit() is also true for "²" and other Unicode digits
    return "".join(ch for ch in text if ch in "0123456789")


def _secret(text: str, start: int, end: int) -> Confirmed:
    value = text[start:end]
    return Confirmed(value, value, SECRET_MASK, (start, end))


# --------------------------------------------------------------------------- payment cards


def _luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812-1 Annex B check digit (Luhn mod 10)."""
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = int(ch)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _issuer_length_ok(digits: str) -> bool:
    """IIN prefix and PAN length per issuer (ISO/IEC 7812 ranges, as bulk_extractor prefix_test)."""
    n = len(digits)
    p2, p3, p4 = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65:  # Discover
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):  # Diners Club
        return 14 <= n <= 16
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    if p2 == 62:  # UnionPay
        return 16 <= n <= 19
    return False


def _digit_pattern_ok(digits: str) -> bool:
    """bulk_extractor's sanity checks against filler, test and sequence numbers."""
    if len(set(digits)) == 1:
        return False
    if len(digits) == 16:
        # pattern_test: blocks a,b,c,d with b-a == c-d are "something fishy" (sequences)
        a, b, c, d = (int(digits[i : i + 4]) for i in range(0, 16, 4))
        if b - a == c - d:
            return False
    # histogram_test: one digit more than 7 times, or two digits more than 4 times each
    # (this is what rejects 4111 1111 1111 1111-style test numbers)
    counts = [digits.count(str(d)) for d in range(10)]
    return max(counts) <= 7 and sum(c > 4 for c in counts) < 2


def _pan_ok(digits: str) -> bool:
    return (
        13 <= len(digits) <= 19
        and _issuer_length_ok(digits)
        and _luhn_ok(digits)
        and _digit_pattern_ok(digits)
    )


_CARD_RUN_RE = re.compile(r"(?<![0-9])[0-9]+(?:[ -][0-9]+)*(?![0-9])")
# Printed groupings: 4-4-4-4 (16), 4-6-5 (Amex 15), 4-4-4-4-3 (19).
_CARD_GROUPS = {(4, 4, 4, 4), (4, 6, 5), (4, 4, 4, 4, 3)}
_HEX_LETTERS = frozenset("abcdefABCDEF")


def _card_candidates(run: str) -> list[str]:
    """Prefixes of a digit run that may be a PAN, longest first."""
    groups = re.split(r"[ -]", run)
    if len(groups[0]) >= 13:  # an unseparated number; what follows it is something else
        return [groups[0]]
    if len(set(re.findall(r"[ -]", run))) > 1:  # mixing space and dash: not a printed card
        return []
    sizes = tuple(len(group) for group in groups)
    if sizes not in _CARD_GROUPS:  # e.g. five 4-digit blocks: "definitely not a CCN"
        return []
    if sizes == (4, 4, 4, 4, 3):
        # a 16-digit card followed by an unrelated 3-digit group (CVV, amount)
        return [run, run[:19]]
    return [run]


@validator("luhn", confidence="validated")
def validate_card(text: str) -> Confirmed | None:
    """Payment card number: grouping, IIN/length table, Luhn, digit-pattern tests."""
    for match in _CARD_RUN_RE.finditer(text):
        start = match.start()
        # bulk_extractor drops numbers embedded in hex: a hex letter touching the digits
        if start > 0 and text[start - 1] in _HEX_LETTERS:
            continue
        for candidate in _card_candidates(match.group(0)):
            end = start + len(candidate)
            if end < len(text) and text[end] in _HEX_LETTERS:
                continue
            digits = _digits(candidate)
            if _pan_ok(digits):
                return Confirmed(candidate, digits, mask_keep_last(candidate), (start, end))
    return None


# --------------------------------------------------------------------------- SSN

_SSN_RE = re.compile(r"(?<![0-9])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9])")
_SSN_ANY_RE = re.compile(r"(?<![0-9])([0-9]{3})([- ]?)([0-9]{2})\2([0-9]{4})(?![0-9])")
_SSN_KEYWORD_RE = re.compile(
    r"(?<![A-Za-z])(?:SSN|SS#|S\.S\.N|social[ \t]+security)", re.IGNORECASE
)
# Numbers that circulate widely but identify nobody. SSA, "Social Security Numbers — Misuse"
# (ssa.gov/history/ssn/misused.html): 078-05-1120, printed on the 1938 Woolworth wallet
# insert, and 219-09-9999, printed in a 1940 SSA pamphlet advertisement; 123-45-6789 is the
# textbook example. SSA also reserves 987-65-4320..4329 for advertising (area 9xx: refused
# by _ssn_ok already).
_SSN_BLOCKLIST = frozenset({"078051120", "219099999", "123456789"})


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA issuance rules: area 000, 666 and 900-999, group 00 and serial 0000 never issued."""
    if area == "000" or area == "666" or area[0] == "9":
        return False
    if group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_BLOCKLIST


def _ssn_confirmed(match: re.Match[str]) -> Confirmed | None:
    area, _, group, serial = match.groups()
    if not _ssn_ok(area, group, serial):
        return None
    value = match.group(0)
    return Confirmed(value, area + group + serial, mask_keep_last(value), match.span())


@validator("ssn", confidence="pattern")
def validate_ssn(text: str) -> Confirmed | None:
    """US SSN written AAA-GG-SSSS or AAA GG SSSS (one separator kind), keyword prefix allowed."""
    for match in _SSN_RE.finditer(text):
        found = _ssn_confirmed(match)
        if found is not None:
            return found
    return None


@validator("ssn_bare", confidence="keyword-anchored")
def validate_ssn_keyword(text: str) -> Confirmed | None:
    """US SSN after an SSN / Social Security keyword; nine bare digits are accepted here."""
    keyword = _SSN_KEYWORD_RE.search(text)
    if keyword is None:
        return None
    for match in _SSN_ANY_RE.finditer(text, keyword.end()):
        found = _ssn_confirmed(match)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- IBAN

# ISO 13616 IBAN lengths per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip

_IBAN_START_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})[0-9]{2}")


def _iban_mod97_ok(compact: str) -> bool:
    """ISO 13616 / ISO 7064 MOD 97-10: rearranged, letters as 10-35, remainder must be 1."""
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _iban_end(text: str, start: int, length: int) -> int | None:
    """End of an IBAN of ``length`` characters starting at ``start``; paper format allowed.

    Either no spaces at all, or one space after every fourth character (ISO 13616 paper form).
    The character after the last one must not continue the alphanumeric run.
    """
    count = 0
    spaced: bool | None = None
    pos = start
    while count < length:
        if pos >= len(text):
            return None
        ch = text[pos]
        if ch == " ":
            if count % 4 or spaced is False or text[pos - 1] == " ":
                return None
            spaced = True
        elif ch.isascii() and ch.isalnum() and (ch.isdigit() or ch.isupper()):
            if count and count % 4 == 0 and spaced is None:
                spaced = False
            if count and count % 4 == 0 and spaced and text[pos - 1] != " ":
                return None
            count += 1
        else:
            return None
        pos += 1
    if pos < len(text) and text[pos].isalnum():
        return None
    return pos


@validator("iban", confidence="validated")
def validate_iban(text: str) -> Confirmed | None:
    """IBAN: known country, its registered length, ISO 7064 mod-97 check == 1."""
    for match in _IBAN_START_RE.finditer(text):
        length = IBAN_LENGTHS.get(match.group(1))
        if length is None:
            continue
        start = match.start()
        end = _iban_end(text, start, length)
        if end is None:
            continue
        value = text[start:end]
        compact = value.replace(" ", "").upper()
        if not _iban_mod97_ok(compact):
            continue
        return Confirmed(value, compact, _mask_iban(value), (start, end))
    return None


def _mask_iban(value: str) -> str:
    """Country code and last four characters kept, every other character '*', spaces kept."""
    alnum_positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    keep = set(alnum_positions[:2]) | set(alnum_positions[-4:])
    return "".join(ch if (i in keep or not ch.isalnum()) else "*" for i, ch in enumerate(value))


# --------------------------------------------------------------------------- ABA routing

_ABA_KEYWORD_RE = re.compile(r"(?<![A-Za-z])(?:ABA|RTN|routing)", re.IGNORECASE)
_NINE_DIGITS_RE = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def _aba_ok(digits: str) -> bool:
    """ABA routing number: Federal Reserve prefix ranges and the 3-7-1 weighted checksum."""
    if digits == "0" * 9:
        return False
    prefix = int(digits[:2])
    # 00 (government), 01-12 (Federal Reserve districts), 21-32 (thrifts), 61-72
    # (electronic), 80 (traveller's cheques)
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


@validator("aba", confidence="validated")
def validate_aba(text: str) -> Confirmed | None:
    """US routing transit number: nine digits after a routing/ABA/RTN keyword."""
    keyword = _ABA_KEYWORD_RE.search(text)
    if keyword is None:
        return None
    match = _NINE_DIGITS_RE.search(text, keyword.end())
    # a digit between keyword and number means the number belongs to something else
    if match is None or _digits(text[keyword.end() : match.start()]):
        return None
    value = match.group(0)
    if not _aba_ok(value):
        return None
    return Confirmed(value, value, mask_keep_last(value), match.span())


# --------------------------------------------------------------------------- e-mail

_EMAIL_LOCAL_RE = re.compile(r"[A-Za-z0-9%+_-]+(?:\.[A-Za-z0-9%+_-]+)*")
_DOMAIN_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_TLD_RE = re.compile(r"[A-Za-z]{2,24}")


def _email_ok(local: str, domain: str) -> bool:
    """RFC 5321 sizes; dot-atom local part; LDH labels; letters-only TLD of 2-24 characters.

    Junk filters for addresses conjured from binary data ("O@E.Ld", "i@bX.sE"): the label
    before the TLD has at least two characters, every label is written lower case, upper case
    or Capitalised ("John.Smith@Contoso.com"), and the TLD is not mixed-case.
    """
    if not 1 <= len(local) <= 64 or len(domain) > 253:
        return False
    if not _EMAIL_LOCAL_RE.fullmatch(local):  # no leading, trailing or doubled dots
        return False
    labels = domain.split(".")
    tld = labels[-1]
    if len(labels) < 2 or not _TLD_RE.fullmatch(tld) or len(labels[-2]) < 2:
        return False
    if len(local) + len(labels[-2]) < 4:  # "u@Lk.pk": both parts tiny
        return False
    if tld not in (tld.lower(), tld.upper()):
        return False
    return all(
        len(label) <= 63
        and _DOMAIN_LABEL_RE.fullmatch(label)
        and label[1:] in (label[1:].lower(), label.upper()[1:])
        for label in labels
    )


@validator("email", confidence="pattern")
def validate_email(text: str) -> Confirmed | None:
    """E-mail address: syntactic check strict enough to drop x@x.x junk from binary data."""
    for match in EMAIL_RE.finditer(text):
        value = match.group(0)
        local, _, domain = value.partition("@")
        if _email_ok(local, domain):
            return Confirmed(value, value.lower(), mask_email(value), match.span())
    return None


# --------------------------------------------------------------------------- telephone

_NANP = r"[2-9][0-9]{2}"  # NANP area code and exchange: first digit 2-9
_PHONE_FORMS = (
    re.compile(rf"(?<![0-9+])\+1[ .-]?{_NANP}[ .-]?{_NANP}[ .-]?[0-9]{{4}}(?![0-9])"),
    re.compile(r"(?<![0-9+])\+[2-9][0-9]{0,2}(?:[ .-]?[0-9]{1,4}){2,6}(?![0-9])"),
    re.compile(rf"\({_NANP}\) ?{_NANP}[-. ][0-9]{{4}}(?![0-9])"),
    re.compile(rf"(?<![0-9])({_NANP})([-.]){_NANP}\2[0-9]{{4}}(?![0-9])"),
)


def _nanp_fictional(value: str, national: str) -> bool:
    """NANPA reserves 555-0100 through 555-0199 for fictional use (films, books, examples):
    NANPA, "555 NXX Line Numbers" (nationalnanpa.com/number_resource_info/555_numbers.html)."""
    nanp = value.startswith("+1") or not value.startswith("+")
    return nanp and len(national) == 10 and national[3:6] == "555" and national[6:8] == "01"


@validator("phone", confidence="pattern")
def validate_phone(text: str) -> Confirmed | None:
    """NANP (area and exchange 2-9xx) or E.164 international (+CC, 8-15 digits)."""
    candidates = [m for form in _PHONE_FORMS for m in form.finditer(text)]
    candidates.sort(key=lambda m: (m.start(), -len(m.group(0))))
    for match in candidates:
        value = match.group(0)
        digits = _digits(value)
        if value.startswith("+") and not 8 <= len(digits) <= 15:  # ITU-T E.164 length
            continue
        national = digits[1:] if value.startswith("+1") else digits
        if len(set(national)) == 1:
            continue
        if _nanp_fictional(value, national):
            continue
        return Confirmed(value, digits, mask_keep_last(value), match.span())
    return None


# --------------------------------------------------------------------------- key = value secrets

# Characters that fill a blank or masked form field: "********", "xxxx", "____", "......".
_MASK_CHARS = frozenset("*•●·xX#_.-–—~ ")
# Words that stand where no value was set. Real default passwords ("changeme", "admin",
# "password", "1234") are NOT here: a device that still has one is a finding.
_PLACEHOLDERS = frozenset(
    {
        "null", "none", "(none)", "<none>", "undefined", "n/a", "na", "tbd", "unset", "empty",
        "(empty)", "hidden", "(hidden)", "redacted", "[redacted]", "removed", "required",
        "optional", "not set", "(not set)", "your_password", "yourpassword", "your password",
        "<your password>", "enter password", "example", "placeholder", "dummy",
        # switches, not secrets: "secret": false, "psk": "on"
        "true", "false", "yes", "no", "on", "off", "enabled", "disabled",
    }
)  # fmt: skip
# Template variables are not credentials: %s, %PASSWORD%, ${VAR}, {{ var }}, <password>,
# [password], @@PASS@@.
_TEMPLATE_RE = re.compile(
    r"""%s|%[A-Za-z_][A-Za-z0-9_]*%|\$\{[^}]*\}|\{\{[^}]*\}\}|\{[A-Za-z_]+\}
    |<[A-Za-z][A-Za-z0-9 _-]{0,40}>|\[[A-Za-z][A-Za-z0-9 _-]{0,40}\]|@@[A-Za-z_]+@@""",
    re.VERBOSE,
)
# The label of the next form field where the value was left blank: "Password: Username:".
_NEXT_LABEL_RE = re.compile(r"[A-Z][A-Za-z]*(?:[ _-][A-Za-z]+){0,3}[ \t]*:")
MAX_SECRET_LENGTH = 128
_ASSIGN_RE = re.compile(r"""["']?(?:[ \t]*[:=][ \t]*|>)""")
_SPACE_ASSIGN_RE = re.compile(r"""["']?[ \t]+""")
_BARE_VALUE_RE = re.compile(r"""[^\s;&<>"'\x00-\x1f\x7f]+""")
_XML_OPEN_RE = re.compile(r"<(?:[A-Za-z_][A-Za-z0-9_:.-]*)?\Z")


def _secret_ok(value: str) -> bool:
    """Reject empty, masked (********), placeholder, over-long and binary values."""
    stripped = value.strip()
    if not stripped or len(value) > MAX_SECRET_LENGTH:
        return False
    # binary junk after a keyword: control characters, or mostly non-ASCII bytes
    if not value.isprintable() or 2 * sum(ch.isascii() for ch in value) < len(value):
        return False
    if set(stripped) <= _MASK_CHARS or len(set(stripped)) == 1:
        return False
    if stripped.lower() in _PLACEHOLDERS:
        return False
    if _NEXT_LABEL_RE.fullmatch(stripped):
        return False
    return _TEMPLATE_RE.fullmatch(stripped) is None


def _assigned_value(text: str, key: re.Match[str], space_separator: bool) -> tuple[int, int] | None:
    """Span of the value assigned to ``key`` (a match in ``text``).

    Accepts ``key: v``, ``key = v``, ``"key": "v"``, ``key='v'``, ``<key>v</key>`` and, when
    ``space_separator``, config-file ``key v``.
    """
    sep = _ASSIGN_RE.match(text, key.end())
    if sep is None and space_separator:
        sep = _SPACE_ASSIGN_RE.match(text, key.end())
    if sep is None:
        return None
    start = sep.end()
    if sep.group(0).endswith(">"):  # XML element content runs to the next tag
        if not _XML_OPEN_RE.search(text, 0, key.start()):  # </Password> closes, it assigns nothing
            return None
        end = start
        while end < len(text) and text[end] not in "<\r\n":
            end += 1
        while end > start and text[end - 1] in " \t":
            end -= 1
        return (start, end)
    if start < len(text) and text[start] in "\"'":
        close = text.find(text[start], start + 1)
        if close < 0:
            return None
        return (start + 1, close)
    bare = _BARE_VALUE_RE.match(text, start)
    return (start, bare.end()) if bare else (start, start)


_PASSWORD_KEY_RE = re.compile(r"pass(?:word|wd)|pwd", re.IGNORECASE)
_PATH_RE = re.compile(r"[/~]|[A-Za-z]:\\")


@validator("password_field", confidence="keyword-anchored")
def validate_password(text: str) -> Confirmed | None:
    """Value of a password field (``Password: x``, ``passwd=x``, ``<Password>x</Password>``...)."""
    for key in _PASSWORD_KEY_RE.finditer(text):
        span = _assigned_value(text, key, space_separator=False)
        if span is None:
            continue
        value = text[span[0] : span[1]]
        if not _secret_ok(value):
            continue
        # PWD=/home/user is the shell's working directory, not a password
        if key.group(0).lower() == "pwd" and _PATH_RE.match(value):
            continue
        return _secret(text, *span)
    return None


_CREDENTIAL_KEY_RE = re.compile(
    r"""(?ix)
    (?P<spaced> (?:ro|rw)?community | bind[ ]?pw | root[ ]?pw )
    (?P<suffix> [-_ ]?(?:name|string) )?
    | (?: passphrase | wpa_psk | pre-?shared-?key | psk | key_?material | shared_?secret
        | client_secret | secret_?key | api_?key )
    """
)
_SNMP_ACCESS = frozenset({"ro", "rw"})


@validator("credential_value", confidence="keyword-anchored")
def validate_credential(text: str) -> Confirmed | None:
    """SNMP community, LDAP bindpw/rootpw, Wi-Fi passphrase, PSK, client secret or API key."""
    for key in _CREDENTIAL_KEY_RE.finditer(text):
        # config files write "rocommunity public" and "bindpw secret" with a space only
        space_ok = key.group("spaced") is not None and key.group("suffix") is None
        span = _assigned_value(text, key, space_separator=space_ok)
        if span is None:
            continue
        value = text[span[0] : span[1]]
        if not _secret_ok(value) or value.lower() in _SNMP_ACCESS:
            continue
        return _secret(text, *span)
    return None


# --------------------------------------------------------------------------- keyed secrets
#
# Device configuration and address-book exports name secrets in many spellings: smtp_pass,
# SmtpPassword, ldap_bind_pw, bindPassword, wifi.psk, auth_token, client_secret... A key is a
# credential key when, split into words (at "_", "-", ".", spaces and lower→upper camel-case
# humps), its LAST word is one of SECRET_WORDS, or a PREFIX word glued to one ("bindpw",
# "smtppass", "rocommunity"). So "password_min_length", "token_expiry", "bypass" and
# "compass" are not credential keys. The other words name the service (SERVICE_WORDS), as does
# the INI section the key sits in ([SMTP], [LDAP]); docs/detection.md has the tables.

SECRET_WORDS = frozenset(
    {"pass", "password", "passwd", "passphrase", "passcode", "pwd", "pw", "secret", "token",
     "psk", "community", "credential", "credentials"}
)  # fmt: skip
# Words that may be glued in front of a secret word without a separator ("bindpw").
_GLUED_PREFIXES = ("bind", "root", "smtp", "ldap", "ftp", "smb", "cifs", "snmp", "wpa", "wifi",
                   "wlan", "admin", "user", "login", "auth", "mail", "ro", "rw", "db", "proxy")  # fmt: skip
# A bare "pw" or "pass" is too short to trust alone; it counts after another word.
_SHORT_SECRET_WORDS = frozenset({"pw", "pass"})
SERVICE_WORDS: dict[str, str] = {
    "smtp": "SMTP", "mail": "SMTP", "email": "SMTP", "sendmail": "SMTP", "pop": "POP3",
    "pop3": "POP3", "imap": "IMAP", "ldap": "LDAP", "ldaps": "LDAP", "bind": "LDAP",
    "ad": "LDAP", "smb": "SMB", "cifs": "SMB", "share": "SMB", "netbios": "SMB", "ftp": "FTP",
    "ftps": "FTP", "sftp": "SFTP", "snmp": "SNMP", "community": "SNMP", "rocommunity": "SNMP",
    "rwcommunity": "SNMP", "wifi": "Wi-Fi", "wlan": "Wi-Fi", "wireless": "Wi-Fi", "wpa": "Wi-Fi",
    "wpa2": "Wi-Fi", "psk": "Wi-Fi", "ssid": "Wi-Fi", "radius": "RADIUS", "webdav": "WebDAV",
    "http": "HTTP", "https": "HTTP", "proxy": "proxy", "sql": "database", "db": "database",
    "kerberos": "Kerberos", "krb": "Kerberos", "vnc": "VNC", "telnet": "Telnet", "ssh": "SSH",
}  # fmt: skip
MIN_TOKEN_LENGTH = 8
_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_KEY_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
_TRAILING_QUALIFIERS = frozenset(
    {"1", "2", "enc", "encrypted", "crypt", "b64", "base64", "value", "str"}
)


def key_words(key: str) -> list[str]:
    """``key`` split into lower-case words: ``ldap_bindPW`` → ``["ldap", "bind", "pw"]``."""
    words: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", key):
        words.extend(w.lower() for w in _CAMEL_RE.findall(part))
    return words


def _glued_secret(word: str) -> bool:
    return any(
        word.startswith(prefix) and word[len(prefix) :] in SECRET_WORDS
        for prefix in _GLUED_PREFIXES
    )


def is_credential_key(key: str) -> bool:
    """Whether a field name names a secret (see the word rules above)."""
    words = key_words(key)
    while len(words) > 1 and words[-1] in _TRAILING_QUALIFIERS:
        words.pop()
    if not words:
        return False
    last = words[-1]
    if last in SECRET_WORDS:
        # "Pass: 2 of 4" in a job log is not a password: a bare "pass"/"pw" needs a qualifier.
        return last not in _SHORT_SECRET_WORDS or len(words) > 1
    return _glued_secret(last)


def credential_service(key: str | None, section: str | None = None) -> str | None:
    """The service a credential belongs to, from its key's words or else its INI section."""
    for source in (key, section):
        if not source:
            continue
        for word in key_words(source):
            if word in SERVICE_WORDS:
                return SERVICE_WORDS[word]
            for prefix in _GLUED_PREFIXES:
                glued = word.startswith(prefix) and word[len(prefix) :] in SECRET_WORDS
                if glued and prefix in SERVICE_WORDS:
                    return SERVICE_WORDS[prefix]
    return None


@validator("credential_key", confidence="keyword-anchored")
def validate_credential_key(text: str) -> Confirmed | None:
    """A value assigned to a credential key (``smtp_pass=x``, ``"bindPassword": "x"``,
    ``<SmtpPassword>x</SmtpPassword>``, ``password="x"``); the key is kept for the service."""
    for key in _KEY_TOKEN_RE.finditer(text):
        name = key.group(0).rstrip(".-")
        if not is_credential_key(name):
            continue
        glued = key_words(name)[-1]
        space_ok = glued.endswith(("pw", "community")) and len(key_words(name)) == 1
        span = _assigned_value(text, key, space_separator=space_ok)
        if span is None:
            continue
        value = text[span[0] : span[1]]
        if not _secret_ok(value) or value.lower() in _SNMP_ACCESS:
            continue
        last = key_words(name)[-1]
        if last == "pwd" and _PATH_RE.match(value):
            continue
        if last == "token" and len(value) < MIN_TOKEN_LENGTH:
            continue  # "token: 3" counts something; bearer and API tokens are long
        return Confirmed(value, value, SECRET_MASK, span, key=name)
    return None


# --------------------------------------------------------------------------- private keys

_PEM_HEADER_RE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_LINE_RE = re.compile(r"(.*?)(?:\r?\n|\\n|\Z)", re.DOTALL)
_BASE64_LINE_RE = re.compile(r"[A-Za-z0-9+/=]+")
MIN_KEY_BASE64 = 64  # one full PEM line: a bare header is not a key
_KEY_VALUE_BASE64 = 16
_KEY_NORMALISED_BASE64 = 256


@validator("private_key", confidence="validated")
def validate_private_key(text: str) -> Confirmed | None:
    """PEM/OpenSSH/PGP private key header followed by at least 64 base64 characters."""
    header = _PEM_HEADER_RE.search(text)
    if header is None:
        return None
    body: list[str] = []
    first_body_end: int | None = None  # end of the 16th base64 character in the text
    pos = header.end()
    while pos < len(text):
        line = _PEM_LINE_RE.match(text, pos)
        if line is None or line.end() == pos:
            break
        content = line.group(1).rstrip(" ")
        if content and _BASE64_LINE_RE.fullmatch(content):
            needed = _KEY_VALUE_BASE64 - len("".join(body))
            if first_body_end is None and len(content) >= needed:
                first_body_end = line.start(1) + needed
            body.append(content)
        elif content and not body and ": " in content:
            pass  # RFC 1421 / OpenPGP armour header (Proc-Type, DEK-Info, Version)
        elif content:
            break  # -----END ... or anything else ends the body
        pos = line.end()
    joined = "".join(body)
    if len(joined) < MIN_KEY_BASE64 or first_body_end is None:
        return None
    start = header.start()
    normalised = header.group(0) + "\n" + joined[:_KEY_NORMALISED_BASE64]
    masked = header.group(0) + " [...]"
    return Confirmed(text[start:first_body_end], normalised, masked, (start, first_body_end))


# --------------------------------------------------------------------------- printer job PINs

_PJL_PIN_RE = re.compile(r'(?:HOLDKEY|JOBPASSWORD|@PIN)[ \t]*=[ \t]*"?([0-9A-Za-z]*)')


@validator("pjl_holdkey", confidence="keyword-anchored")
def validate_pjl_pin(text: str) -> Confirmed | None:
    """Stored-job PIN in a PJL header: HP's HOLDKEY is 4 digits; 4-10 digits are accepted."""
    for match in _PJL_PIN_RE.finditer(text):
        pin = match.group(1)
        if pin.isdigit() and 4 <= len(pin) <= 10:
            return _secret(text, *match.span(1))
    return None


# --------------------------------------------------------------------------- classification

# CAPCO-style caveats: "//" separates categories, "/" controls within one; words are joined
# by spaces only inside REL TO / DISPLAY ONLY country lists, so "TOP SECRET//NOFORN END"
# stops after NOFORN. ([ ] because the pattern below is VERBOSE.)
_MARK_TOKEN = r"[A-Z0-9][A-Z0-9-]*"
_MARK_ITEM = (
    rf"(?:(?:REL[ ]TO|DISPLAY[ ]ONLY)[ ]{_MARK_TOKEN}(?:,[ ]?{_MARK_TOKEN})*|{_MARK_TOKEN})"
)
_MARK_BLOCK = rf"{_MARK_ITEM}(?:/(?!/){_MARK_ITEM})*"
_MARK_CAVEATS = rf"{_MARK_BLOCK}(?://{_MARK_BLOCK})*"
# ISOO CUI Registry / ICD 710 banner and portion forms, NATO C-M(2002)49 levels.
_MARKING_RE = re.compile(
    rf"""
    (?:COSMIC[ ]TOP[ ]SECRET|NATO[ ]SECRET|NATO[ ]CONFIDENTIAL|NATO[ ]RESTRICTED)
        (?:[ ]ATOMAL)?(?://{_MARK_CAVEATS})?
    | (?<![A-Z])(?:TOP[ ]SECRET|SECRET|CONFIDENTIAL|CUI)//{_MARK_CAVEATS}
    | \((?:TS|S|C)//{_MARK_CAVEATS}\)
    | (?<![A-Z])ATOMAL
    """,
    re.VERBOSE,
)


@validator("classification", confidence="keyword-anchored")
def validate_classification(text: str) -> Confirmed | None:
    """Upper-case US banner/portion marking, CUI banner or NATO marking."""
    for match in _MARKING_RE.finditer(text):
        end = match.end()
        if end < len(text) and text[end].isalnum():  # "SECRET//NOFORNing" is not a marking
            continue
        value = match.group(0)
        caveats = value.partition("//")[2]
        if "//" in value and sum(ch.isalpha() for ch in caveats) < 2:
            continue
        return Confirmed(value, value, value, match.span())
    return None


# A banner line: the marking alone on its line, as printed centred at the top and bottom of
# each page (DoDM 5200.01 Vol. 2 Encl. 3 §2 for TOP SECRET/SECRET/CONFIDENTIAL banners;
# 32 CFR 2002.20(b)(2) for the CUI banner "CUI" or "CONTROLLED"). The same word inside running
# prose ("a secret recipe", "the cui bono argument") is not on a line of its own, and markings
# are upper case, so neither matches.
_BANNER_RE = re.compile(
    rf"(?:TOP[ ]SECRET|SECRET|CONFIDENTIAL|CUI|CONTROLLED)(?://{_MARK_CAVEATS})?", re.VERBOSE
)
_LINE_BREAKS = "\r\n\f\x00"


@validator("classification_banner", confidence="keyword-anchored")
def validate_classification_banner(text: str) -> Confirmed | None:
    """A classification or CUI banner that is the only text on its line."""
    start = 0
    while start < len(text) and text[start] in _LINE_BREAKS + " \t":
        start += 1
    end = len(text)
    while end > start and text[end - 1] in _LINE_BREAKS + " \t":
        end -= 1
    line = text[start:end]
    if any(ch in _LINE_BREAKS for ch in line) or not _BANNER_RE.fullmatch(line):
        return None
    caveats = line.partition("//")[2]
    if "//" in line and sum(ch.isalpha() for ch in caveats) < 2:
        return None
    return Confirmed(line, line, line, (start, end))


# --------------------------------------------------------------------------- PHI

_PHI_LABEL_RE = re.compile(
    r"""(?ix)
    (?P<name> patient(?:'s)?[ \t]*name )
    | (?<![A-Za-z]) (?P<dob> d\.?o\.?b\.? | date[ \t]+of[ \t]+birth | birth[ \t]*date ) (?![A-Za-z])
    | (?<![A-Za-z]) (?P<mrn> mrn | mr\# | medical[ \t]+record[ \t]+(?:number|no\.?|\#) )
    | (?<![A-Za-z]) (?P<dx> diagnos[ie]s | dx ) (?![A-Za-z])
    | (?<![A-Za-z]) (?P<icd> icd[- ]?(?:10|9)(?:-cm)? (?:[ \t]+code)? )
    """
)
_PHI_SEPARATOR_RE = re.compile(r"[ \t]*[:=#]?[ \t]*")
_PHI_STRICT_SEPARATOR_RE = re.compile(r"[ \t]*[:=][ \t]*")
_NAME_TOKEN_RE = re.compile(r"[A-Z][A-Za-z'’-]*\.?")
_NAME_GAP_RE = re.compile(r",? ")
# Labels that follow a name on forms and must not be taken as part of it.
_NAME_STOP_WORDS = frozenset(
    {"SSN", "DOB", "MRN", "ID", "DX", "ICD", "SEX", "AGE", "DATE", "PHONE", "TEL", "FAX", "ADDRESS"}
)
_PHI_PLACEHOLDERS = frozenset(
    {"n/a", "na", "none", "null", "unknown", "tbd", "pending", "name", "patient", "first last"}
)
_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ),
        start=1,
    )
    for m in names.split()
}
_DATE_FORMS = (
    ("ymd", re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})(?![0-9])")),
    ("mdy", re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})(?![0-9])")),
    ("dMy", re.compile(r"([0-9]{1,2})( )([A-Za-z]{3,9})\.?,? ([0-9]{4})(?![0-9])")),
    ("Mdy", re.compile(r"([A-Za-z]{3,9})\.?( )([0-9]{1,2}),? ([0-9]{4})(?![0-9])")),
)
_ICD10_RE = re.compile(r"[A-TV-Z][0-9][0-9AB](?:\.[0-9A-TV-Z]{1,4})?(?![A-Za-z0-9])")
_ICD9_RE = re.compile(r"(?:[0-9]{3}|V[0-9]{2}|E[0-9]{3})(?:\.[0-9]{1,2})?(?![A-Za-z0-9])")
_MRN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?![A-Za-z0-9])")
_WORD_RE = re.compile(r"[A-Za-z]{3,}")


def _date(year: int, month: int, day: int) -> dt.date | None:
    if not 1880 <= year <= 2099:  # a plausible birth year
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _parse_dob(text: str, pos: int) -> tuple[int, dt.date] | None:
    """End position and date of a calendar date starting at ``pos``."""
    for kind, form in _DATE_FORMS:
        m = form.match(text, pos)
        if m is None:
            continue
        a, _, b, c = m.groups()
        found: dt.date | None = None
        if kind == "ymd":
            found = _date(int(a), int(b), int(c))
        elif kind == "mdy":
            year = int(c) if len(c) == 4 else 1900 + int(c) if int(c) > 30 else 2000 + int(c)
            # US month-first first, then day-first
            found = _date(year, int(a), int(b)) or _date(year, int(b), int(a))
        elif kind == "dMy" and b.lower() in _MONTHS:
            found = _date(int(c), _MONTHS[b.lower()], int(a))
        elif kind == "Mdy" and a.lower() in _MONTHS:
            found = _date(int(c), _MONTHS[a.lower()], int(b))
        if found is not None:
            return m.end(), found
    return None


def _phi(text: str, start: int, end: int, normalised: str) -> Confirmed:
    value = text[start:end]
    return Confirmed(value, normalised, mask_words(value), (start, end))


def _phi_name(text: str, pos: int) -> Confirmed | None:
    """1-4 capitalised words ("Jane Example", "EXAMPLE, JANE"); stops before the next label."""
    spans: list[tuple[int, int]] = []
    while len(spans) < 4:
        token = _NAME_TOKEN_RE.match(text, pos)
        if token is None:
            break
        after = token.end()
        if after < len(text) and (text[after] in ":#" or text[after].isalnum()):
            break
        if token.group(0).rstrip(".").upper() in _NAME_STOP_WORDS:
            break  # "Jane Example, SSN 219-…": the next field's label, not a name
        spans.append(token.span())
        gap = _NAME_GAP_RE.match(text, after)
        if gap is None:
            break
        if "," in gap.group(0) and len(spans) > 1:
            break  # a comma only separates "LAST, FIRST"; after two words it ends the name
        pos = gap.end()
    if not spans:
        return None
    start, end = spans[0][0], spans[-1][1]
    value = text[start:end]
    if sum(ch.isalpha() for ch in text[slice(*spans[0])]) < 2:
        return None
    if value.lower() in _PHI_PLACEHOLDERS:
        return None
    return _phi(text, start, end, " ".join(value.split()))


def _phi_dob(text: str, pos: int) -> Confirmed | None:
    parsed = _parse_dob(text, pos)
    if parsed is None:
        return None
    end, date = parsed
    return _phi(text, pos, end, date.isoformat())


def _phi_mrn(text: str, pos: int) -> Confirmed | None:
    """5-12 alphanumerics (hyphens allowed) with at least 5 digits."""
    m = _MRN_RE.match(text, pos)
    if m is None:
        return None
    compact = m.group(0).replace("-", "")
    if not 5 <= len(compact) <= 12 or len(_digits(compact)) < 5:
        return None
    return _phi(text, m.start(), m.end(), compact.upper())


def _phi_icd(text: str, pos: int, icd9: bool) -> Confirmed | None:
    m = (_ICD9_RE if icd9 else _ICD10_RE).match(text, pos)
    if m is None and icd9:
        m = _ICD10_RE.match(text, pos)
    if m is None:
        return None
    return _phi(text, m.start(), m.end(), m.group(0))


def _phi_diagnosis(text: str, pos: int) -> Confirmed | None:
    """An ICD-10 code, or free text with at least three letters."""
    coded = _phi_icd(text, pos, icd9=False)
    if coded is not None:
        return coded
    end = pos
    while end < len(text) and text[end].isprintable() and end - pos < 80:
        end += 1
    value = text[pos:end].rstrip()
    if value.strip("_ .-").lower() in _PHI_PLACEHOLDERS or not _WORD_RE.search(value):
        return None
    # clinical text is mostly letters and spaces; binary junk after "Dx:" is not
    if 5 * sum(ch.isascii() and (ch.isalpha() or ch == " ") for ch in value) < 3 * len(value):
        return None
    return _phi(text, pos, pos + len(value), value)


@validator("phi", confidence="keyword-anchored")
def validate_phi(text: str) -> Confirmed | None:
    """A PHI label (patient name, DOB, MRN, diagnosis, ICD code) followed by a plausible value."""
    for label in _PHI_LABEL_RE.finditer(text):
        kind = label.lastgroup
        strict = kind in ("name", "dx")  # "Patient Name"/"Diagnosis" need ':' or '='
        sep = (_PHI_STRICT_SEPARATOR_RE if strict else _PHI_SEPARATOR_RE).match(text, label.end())
        if sep is None:
            continue
        pos = sep.end()
        if kind == "name":
            found = _phi_name(text, pos)
        elif kind == "dob":
            found = _phi_dob(text, pos)
        elif kind == "mrn":
            found = _phi_mrn(text, pos)
        elif kind == "icd":
            found = _phi_icd(text, pos, icd9="10" not in label.group(0))
        else:
            found = _phi_diagnosis(text, pos)
        if found is not None:
            return found
    return None
