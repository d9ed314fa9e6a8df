"""Small helpers the report writers share (reading stored records, never the image)."""

from __future__ import annotations

from typing import Any


def volume_index(record: dict[str, Any]) -> int | None:
    """The volume index named in a stored record's evidence address (its partition/gap step)."""
    for step in (record.get("address") or {}).get("chain") or []:
        if isinstance(step, dict) and step.get("kind") in {"partition", "volume", "gap"}:
            index = step.get("index")
            return int(index) if isinstance(index, int) else None
    return None
