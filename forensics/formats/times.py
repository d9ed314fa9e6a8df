"""Timestamps found in job formats, as ISO 8601 UTC strings ending in ``Z`` (or None)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# FILETIME counts 100 ns intervals since 1601-01-01 UTC (MS-DTYP §2.3.3).
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_MIN_YEAR, _MAX_YEAR = 1980, 2100  # outside this, a stamp from a printer drive is garbage


def _iso(stamp: datetime) -> str | None:
    if not _MIN_YEAR <= stamp.year <= _MAX_YEAR:
        return None
    text = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if stamp.microsecond:
        text += f".{stamp.microsecond:06d}".rstrip("0")
    return text + "Z"


def from_unix(seconds: float | int | None) -> str | None:
    """POSIX seconds (CUPS time-at-creation, page_log) to ISO UTC."""
    if seconds is None or seconds <= 0:
        return None
    try:
        return _iso(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def from_filetime(value: int | None) -> str | None:
    """Windows FILETIME (100 ns since 1601, UTC) to ISO UTC."""
    if not value or value < 0:
        return None
    try:
        return _iso(_FILETIME_EPOCH + timedelta(microseconds=value // 10))
    except OverflowError:
        return None


def from_systemtime(
    year: int, month: int, day: int, hour: int, minute: int, second: int, millis: int = 0
) -> str | None:
    """Windows SYSTEMTIME fields (MS-DTYP §2.3.13; the spooler writes them in UTC)."""
    try:
        stamp = datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError:
        return None
    return _iso(stamp)
