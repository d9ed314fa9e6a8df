"""Per-image verdicts (DESIGN.md, "Verdicts and exit codes")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    WIPED = "wiped"  # nothing but zeros, a constant or a known overwrite pattern
    ENCRYPTED = "encrypted"  # high entropy throughout, no plaintext structure
    RESIDUAL_DATA = "residual-data"  # recoverable files or data, nothing validated as sensitive
    SENSITIVE = "sensitive"  # validated sensitive findings

    @property
    def exit_code(self) -> int:
        """0: no residual data; 1: residual or sensitive data."""
        return 1 if self in (Verdict.RESIDUAL_DATA, Verdict.SENSITIVE) else 0


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


def decide(ev: Evidence) -> tuple[Verdict, list[str]]:
    """The verdict and the reasons an examiner can check."""
    reasons: list[str] = []
    if ev.findings:
        reasons.append(f"{ev.findings} validated sensitive finding(s)")
        return Verdict.SENSITIVE, reasons
    varied = ev.random_units + ev.structured_units
    if ev.user_files_with_content or ev.residual_units:
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
    reasons.append(
        f"{ev.zero_units} zero and {ev.constant_units} constant block(s); "
        f"{ev.structured_units} block(s) of file-system or partition metadata only"
    )
    return Verdict.WIPED, reasons
