"""Evidence addresses: where a byte came from, as a chain of steps (DESIGN.md, "Evidence address").

An address is serialisable both as a structured list (``to_list``) and as a compact string
(``str(address)``), e.g.::

    printer.dd > p2@1048576 > ext4 inode 12 /spool/job.prn (deleted) > @0x10b00c+11

For hits in undecoded bytes the final step carries the exact absolute image offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One link of an evidence chain.

    ``kind`` is one of: ``image``, ``partition``, ``gap``, ``volume``, ``file``, ``slack``,
    ``unallocated``, ``fs-metadata``, ``raw``, ``decoder``, ``offset``.
    """

    kind: str
    label: str
    attrs: tuple[tuple[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "label": self.label}
        out.update(dict(self.attrs))
        return out

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.attrs).get(key, default)


def step(kind: str, label: str, **attrs: Any) -> Step:
    """Build a Step with keyword attributes (kept in a stable order)."""
    return Step(kind, label, tuple(attrs.items()))


@dataclass(frozen=True)
class EvidenceAddress:
    """An immutable chain of steps from the image to a byte range."""

    steps: tuple[Step, ...] = ()

    def then(self, nxt: Step) -> EvidenceAddress:
        return EvidenceAddress((*self.steps, nxt))

    def at(
        self, image_offset: int | None, length: int, stream_offset: int | None = None
    ) -> EvidenceAddress:
        """Terminate the chain with the offset step (absolute image offset where exact)."""
        attrs: dict[str, Any] = {"length": length}
        if image_offset is not None:
            attrs["image_offset"] = image_offset
        if stream_offset is not None:
            attrs["stream_offset"] = stream_offset
        if image_offset is not None:
            label = f"@{image_offset:#x}+{length}"
        else:
            label = f"stream@{stream_offset:#x}+{length}"
        return self.then(step("offset", label, **attrs))

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]

    def __str__(self) -> str:
        return " > ".join(s.label for s in self.steps)
