"""Timestamp conversions used by job formats."""

from __future__ import annotations

from forensics.formats.times import from_filetime, from_systemtime, from_unix


def test_unix() -> None:
    assert from_unix(1700000000) == "2023-11-14T22:13:20Z"
    assert from_unix(0) is None and from_unix(None) is None
    assert from_unix(10**15) is None  # far beyond any plausible printer clock


def test_filetime() -> None:
    # 2023-11-14T22:13:20Z = (1700000000 + 11644473600) * 10^7 in 100 ns since 1601
    assert from_filetime((1700000000 + 11644473600) * 10_000_000) == "2023-11-14T22:13:20Z"
    assert from_filetime(0) is None


def test_systemtime() -> None:
    assert from_systemtime(2024, 3, 1, 12, 30, 5, 250) == "2024-03-01T12:30:05.25Z"
    assert from_systemtime(2024, 13, 1, 0, 0, 0) is None
    assert from_systemtime(1601, 1, 1, 0, 0, 0) is None
