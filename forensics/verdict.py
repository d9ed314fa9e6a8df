"""Per-image verdicts (DESIGN.md, "Verdicts and exit codes"; docs/verdict-policy.md).

``decide`` judges a whole scan (``pfa scan``), ``decide_wipe`` a sanitisation check (``pfa
verify-wipe``, which reads sectors but parses nothing, so it never says ``sensitive``).

A scan's verdict follows a :class:`VerdictPolicy`: ``sensitive`` needs at least one finding at
or above the policy's severity threshold (``high`` unless the user says otherwise); findings
below it (telephone numbers, e-mail addresses) are reported and counted, and on their own make
the verdict ``residual-data``. The policy also says which verdicts fail a script (exit 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    WIPED = "wiped"  # nothing but zeros, a constant or a known overwrite pattern
    ENCRYPTED = "encrypted"  # high entropy throughout, no plaintext structure
    RESIDUAL_DATA = "residual-data"  # recoverable files or data, nothing validated as sensitive
    SENSITIVE = "sensitive"  # validated findings at or above the policy's severity threshold

    @property
    def exit_code(self) -> int:
        """0: no residual data; 1: residual or sensitive data (DESIGN.md)."""
        return 1 if self in (Verdict.RESIDUAL_DATA, Verdict.SENSITIVE) else 0


SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_SENSITIVE_AT = "high"
# Which verdicts exit 1. "residual" is DESIGN.md's contract: data left on a medium that is about
# to leave the building fails the check even when none of it is sensitive (NIST SP 800-88 asks
# for sanitisation, not for the absence of secrets). "sensitive" is for scripts whose only
# question is whether anything sensitive is left.
FAIL_ON = ("residual", "sensitive")


def severity_rank(severity: str) -> int:
    """0 (low) .. 3 (critical); an unknown severity ranks as medium, as rule_meta reads it."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return 1


@dataclass(frozen=True)
class VerdictPolicy:
    """What makes an image ``sensitive``, and which verdicts make ``pfa scan`` exit 1."""

    sensitive_at: str = DEFAULT_SENSITIVE_AT  # lowest severity that counts as sensitive
    fail_on: str = "residual"

    def __post_init__(self) -> None:
        if self.sensitive_at not in SEVERITIES:
            raise ValueError(f"sensitive_at must be one of {SEVERITIES}, not {self.sensitive_at!r}")
        if self.fail_on not in FAIL_ON:
            raise ValueError(f"fail_on must be one of {FAIL_ON}, not {self.fail_on!r}")

    def is_sensitive(self, severity: str) -> bool:
        """True when a finding of ``severity`` makes the image sensitive under this policy."""
        return severity_rank(severity) >= severity_rank(self.sensitive_at)

    def exit_code(self, verdict: Verdict) -> int:
        """The exit status of ``pfa scan`` for ``verdict`` under this policy."""
        if self.fail_on == "sensitive":
            return int(verdict is Verdict.SENSITIVE)
        return verdict.exit_code

    def describe(self) -> str:
        """One line for reports: the rule that was applied."""
        counted = [s for s in SEVERITIES if self.is_sensitive(s)]
        below = [s for s in SEVERITIES if not self.is_sensitive(s)]
        text = f"sensitive: at least one validated finding of severity {'/'.join(counted)}"
        if below:
            text += f"; {'/'.join(below)} findings alone give residual-data"
        fails = "residual-data and sensitive" if self.fail_on == "residual" else "sensitive only"
        return f"{text}; exit 1 on {fails}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensitive_at": self.sensitive_at,
            "sensitive_severities": [s for s in SEVERITIES if self.is_sensitive(s)],
            "fail_on": self.fail_on,
            "description": self.describe(),
        }


# Share of non-constant units that must be high-entropy for "encrypted".
ENCRYPTED_SHARE = 0.90


@dataclass(frozen=True)
class Evidence:
    """The facts a verdict is drawn from."""

    findings: int
    user_files_with_content: int
    residual_units: int  # structured 64 KiB units outside allocated file-system metadata
    random_units: int
    structured_units: int
    constant_units: int
    zero_units: int
    unit_bytes: int
    # Units holding a repeated 2-16 byte fill (or a mix of fills); a default so that callers
    # written before the class existed still build an Evidence.
    pattern_units: int = 0
    # Findings counted by (severity, category). Empty with findings > 0: every finding counts
    # as critical (callers that do not break them down keep the old "any finding" rule).
    findings_by_severity: Mapping[tuple[str, str], int] = field(default_factory=dict)


def _breakdown(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _judge_findings(ev: Evidence, policy: VerdictPolicy) -> tuple[int, list[str]]:
    """(sensitive findings, reasons) under ``policy``."""
    by = dict(ev.findings_by_severity) or ({("critical", "unclassified"): ev.findings})
    sensitive: dict[str, int] = {}
    below: dict[str, int] = {}
    for (severity, category), count in by.items():
        if not count:
            continue
        if policy.is_sensitive(severity):
            sensitive[category] = sensitive.get(category, 0) + count
        else:
            below[severity] = below.get(severity, 0) + count
    reasons: list[str] = []
    total = sum(sensitive.values())
    if total:
        reasons.append(
            f"{total} validated finding(s) of severity {policy.sensitive_at} or above "
            f"({_breakdown(sensitive)})"
        )
    if below:
        reasons.append(
            f"{sum(below.values())} finding(s) below the sensitive threshold "
            f"({_breakdown(below)}): reported, not sensitive on their own"
        )
    return total, reasons


def decide(ev: Evidence, policy: VerdictPolicy | None = None) -> tuple[Verdict, list[str]]:
    """The verdict and the reasons an examiner can check (docs/verdict-policy.md)."""
    policy = policy or VerdictPolicy()
    reasons: list[str] = []
    if ev.findings:
        sensitive, reasons = _judge_findings(ev, policy)
        if sensitive:
            return Verdict.SENSITIVE, reasons
    varied = ev.random_units + ev.structured_units
    if ev.findings or ev.user_files_with_content or ev.residual_units:
        if not ev.findings:
            reasons.append(f"no finding of severity {policy.sensitive_at} or above")
        if ev.user_files_with_content:
            reasons.append(f"{ev.user_files_with_content} file(s) with recoverable content")
        if ev.residual_units:
            reasons.append(
                f"{ev.residual_units} block(s) of {ev.unit_bytes} bytes hold structured data outside "
                "file-system metadata (free space, gaps, slack or raw volumes)"
            )
        return Verdict.RESIDUAL_DATA, reasons
    if varied and ev.random_units / varied >= ENCRYPTED_SHARE:
        reasons.append(
            f"{ev.random_units} of {varied} non-constant block(s) are high-entropy; "
            f"{ev.structured_units} structured block(s) (boot/metadata area)"
        )
        return Verdict.ENCRYPTED, reasons
    if ev.random_units:
        reasons.append(f"{ev.random_units} high-entropy block(s) with no recognisable structure")
        return Verdict.RESIDUAL_DATA, reasons
    pattern = f", {ev.pattern_units} pattern" if ev.pattern_units else ""
    reasons.append(
        f"{ev.zero_units} zero{pattern} and {ev.constant_units} constant block(s); "
        f"{ev.structured_units} block(s) of file-system or partition metadata only"
    )
    return Verdict.WIPED, reasons


@dataclass(frozen=True)
class WipeEvidence:
    """What ``pfa verify-wipe`` saw, as counts of 512-byte sectors."""

    sectors_read: int
    zero: int
    constant: int
    pattern: int
    random: int
    structured: int
    table_sectors: int  # structured sectors that are partition tables (MBR/EBR/GPT)
    outside_sectors: int  # other structured sectors outside every boot/metadata area
    outside_regions: int  # the merged regions they form
    inside_sectors: int  # other structured sectors inside a boot/metadata area
    inside_areas: tuple[str, ...] = ()  # names of the areas holding them, e.g. "disk boot area"
    first_outside: str = ""  # where the first outside region lies, for the reason text
    unreadable_sectors: int = 0
    sample_percent: float | None = None  # None: every sector was read
    fills: tuple[str, ...] = field(default_factory=tuple)  # e.g. "0x97 (Xerox ...)"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "0 %"


def decide_wipe(ev: WipeEvidence) -> tuple[Verdict, list[str]]:
    """The sanitisation verdict and its reasons (docs/verify-wipe.md, "Verdict rules").

    1. structured sectors outside every boot/metadata area: ``residual-data``;
    2. otherwise high-entropy sectors: ``encrypted`` (structure only inside the named areas);
    3. otherwise structured sectors inside an area (a boot loader, a fresh file system's
       metadata, a volume header): ``residual-data`` — the medium was not left blank;
    4. otherwise ``wiped``: nothing but zero, constant and pattern sectors (and empty
       partition tables, which are not user data).
    """
    reasons: list[str] = []
    n = ev.sectors_read
    areas = ", ".join(ev.inside_areas)
    if ev.outside_sectors:
        where = f"; the first {ev.first_outside}" if ev.first_outside else ""
        reasons.append(
            f"{ev.outside_sectors} structured sector(s) outside any boot/metadata area, in "
            f"{ev.outside_regions} region(s){where}"
        )
        if ev.inside_sectors:
            reasons.append(f"{ev.inside_sectors} more in the boot/metadata area ({areas})")
        verdict = Verdict.RESIDUAL_DATA
    elif ev.random:
        reasons.append(
            f"{ev.random} of {n} sector(s) read are high-entropy ({_share(ev.random, n)})"
        )
        if ev.inside_sectors:
            reasons.append(
                f"plaintext structure only in the boot/metadata area: {ev.inside_sectors} "
                f"sector(s) in {areas}"
            )
        else:
            reasons.append("no plaintext structure anywhere")
        verdict = Verdict.ENCRYPTED
    elif ev.inside_sectors:
        reasons.append(
            f"{ev.inside_sectors} structured sector(s) in the boot/metadata area ({areas}) on an "
            "otherwise blank medium: it was not left wiped"
        )
        verdict = Verdict.RESIDUAL_DATA
    else:
        classes = [
            f"{count} {name}"
            for name, count in (
                ("zero", ev.zero),
                ("constant", ev.constant),
                ("pattern", ev.pattern),
            )
            if count
        ]
        fills = f" ({'; '.join(ev.fills)})" if ev.fills else ""
        reasons.append(
            f"{n} sector(s) read, nothing but fills: {', '.join(classes) or 'none'}{fills}"
        )
        verdict = Verdict.WIPED
    if ev.table_sectors:
        reasons.append(f"{ev.table_sectors} partition-table sector(s): not user data")
    if ev.unreadable_sectors:
        reasons.append(f"{ev.unreadable_sectors} sector(s) could not be read and are not verified")
    if ev.sample_percent is not None:
        reasons.append(
            f"a {ev.sample_percent:g} % sample was read: residual data in sectors not drawn "
            "can be missed"
        )
    return verdict, reasons
