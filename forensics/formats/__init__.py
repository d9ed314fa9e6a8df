"""Print-job and spool formats: one self-registering module each (see ``base.FormatParser``)."""

from __future__ import annotations

from forensics.formats.base import (
    DecodedText,
    Embedded,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    candidates,
)

__all__ = [
    "DecodedText",
    "Embedded",
    "FormatParser",
    "JobMetadata",
    "NotThisFormat",
    "PageRef",
    "ParseContext",
    "ParsedJob",
    "Signature",
    "candidates",
]
