"""Report writers: one module per output format, registered by subclassing.

A writer reads records from the case store (never the image) and writes one file (or a
directory) at ``dest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from forensics.store import CaseStore

WRITERS: dict[str, type[ReportWriter]] = {}


@dataclass(frozen=True)
class ReportOptions:
    image_ids: tuple[int, ...] | None = None  # None: every image in the case
    banner: str | None = None  # --banner TEXT (classification or case-number line)
    bom: bool = False  # CSV: UTF-8 byte-order mark for spreadsheets


class ReportWriter:
    """Base of the report plug-ins; a subclass with a ``name`` registers itself."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            WRITERS[cls.name] = cls

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        raise NotImplementedError
