"""Masking helpers: what a report may print about a sensitive value and its surroundings.

Reports show masked values and masked context by default; the raw value is kept only with
``--reveal``. The SHA-256 of the normalised value lets examiners correlate the same secret
across images without disclosing it.
"""

from __future__ import annotations

import hashlib
import re

SECRET_MASK = "*" * 8  # fixed width: the real length of a secret is not disclosed
NEWLINE_MARK = "⏎"
_ASCII_DIGITS = frozenset("0123456789")

# Candidate address shape (RFC 5321 part sizes); the email validator adds syntax/junk checks.
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
)

# A password-like key, its separator, and the value up to whitespace or a quote/tag.
_SECRET_ASSIGNMENT_RE = re.compile(
    r"""(?ix)
    ( pass(?:word|wd|phrase)? | pwd | secret | community | holdkey | @?pin | psk
    | api_?key | bindpw | rootpw | token )
    ( ["']? [ \t]* [:=>] [ \t]* ["']? )
    ( [^\s"'<]+ )
    """
)
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")


# C0/C1 controls and the soft hyphen: what latin-1-decoded binary context is full of.
_CONTROLS_RE = re.compile("[\x00-\x1f\x7f-\xa0\xad]")


def printable(text: str) -> str:
    """``text`` with every non-printable character shown as '.'."""
    text = _CONTROLS_RE.sub(".", text)  # the common case, in C
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else "." for ch in text)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks shown as '⏎', tabs as a space, other controls as '.'."""
    return printable(_LINE_BREAK_RE.sub(NEWLINE_MARK, text).replace("\t", " "))


def mask_keep_last(value: str, keep: int = 4) -> str:
    """Replace every digit but the last ``keep`` with '*'; separators stay (PCI DSS 3.4 style)."""
    total = sum(ch in _ASCII_DIGITS for ch in value)
    out: list[str] = []
    seen = 0
    for ch in value:
        if ch in _ASCII_DIGITS:
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_email(address: str) -> str:
    """``jane@clinic.example.org`` -> ``j***@c***.example.org``.

    The first character of the local part and of the first domain label are kept, and the rest
    of the domain (usually the organisation and TLD) stays readable for triage.
    """
    local, _, domain = address.partition("@")
    first, dot, rest = domain.partition(".")
    masked_local = (local[:1] + "***") if local else ""
    masked_first = (first[:1] + "***") if first else ""
    return f"{masked_local}@{masked_first}{dot}{rest}"


def mask_words(value: str) -> str:
    """First character of each whitespace-separated word kept, the rest '*' (PHI values)."""
    return re.sub(r"\S+", lambda m: m.group(0)[0] + "*" * (len(m.group(0)) - 1), value)


def _scrub(text: str) -> str:
    """Mask secrets after password-like keys, then e-mail addresses, then every digit."""
    text = _SECRET_ASSIGNMENT_RE.sub(lambda m: m.group(1) + m.group(2) + SECRET_MASK, text)
    text = EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return re.sub(r"[0-9]", "*", text)


def mask_context(before: str, masked_value: str, after: str) -> str:
    """One printable line: scrubbed ``before`` + ``masked_value`` + scrubbed ``after``.

    Context may hold other secrets (a card's expiry, a neighbouring password), so digits,
    e-mail addresses and keyed secrets around the value are masked too.
    """
    return one_line(_scrub(before)) + one_line(masked_value) + one_line(_scrub(after))


def sha256_normalised(normalised: str) -> str:
    """Hex SHA-256 of the UTF-8 bytes of a normalised value (correlation without disclosure)."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
