"""Measure what a call costs: wall time and peak Python allocation (tracemalloc)."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def measured(call: Callable[[], T]) -> tuple[T, float, int]:
    """``call()``'s result, its wall seconds and its peak traced allocation in bytes."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, time.monotonic() - started, peak
