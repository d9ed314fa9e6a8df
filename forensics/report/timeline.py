"""Timeline exports: a TSK 3.x body file (``mactime -b``) and Timesketch JSONL.

Both are rendered from the case's ``timeline`` table (forensics/printjobs): every recovered
timestamp — file MAC times, print jobs submitted/printed/completed, log lines, document
creation dates — with its evidence address, so printer activity merges into an examiner's
existing timeline.

Body file (TSK 3.x, ``MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime``,
whole seconds since the epoch, 0 for "not known"): each file is one line with its four times,
as ``fls -m`` writes it (the volume ``pN:`` before the path as fls puts the mount point there,
``(deleted)`` after a deleted file's name); every other event is one
line whose name starts ``pfa:`` and whose time is in the mtime column (as RegRipper's regtime
does for key LastWrite times). The format has no escaping: ``|`` in evidence strings becomes
``¦`` and control characters ``\\xNN``, so a hostile name cannot add columns or lines.

Timesketch JSONL: one event per line with the three fields Timesketch requires (``message``,
``datetime``, ``timestamp_desc``), ``timestamp`` in microseconds, and the evidence fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    atomic_file,
    files,
    image_ids,
    table_records,
)
from forensics.store import CaseStore

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FILE_TIME_KEYS = ("atime", "mtime", "ctime", "crtime")  # body file column order


def _field(value: Any) -> str:
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("|", "\u00a6")


def _epoch(stamp: Any) -> int:
    from forensics.printjobs.consolidate import seconds_of

    seconds = seconds_of(stamp)
    return 0 if seconds is None else int(seconds)


def _image_label(case: CaseStore, image_id: int, many: bool) -> str:
    if not many:
        return ""
    paths = case.image(image_id).get("paths") or [f"image {image_id}"]
    return f"[{Path(str(paths[0])).name}] "


class BodyfileWriter(ReportWriter):
    name = "bodyfile"
    description = (
        "timeline.body: TSK 3.x body file of file MAC times and print-job events (mactime -b)"
    )
    default_name = "timeline.body"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        ids = image_ids(case, options)
        with atomic_file(dest) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
            for image_id in ids:
                label = _image_label(case, image_id, len(ids) > 1)
                for line in self._lines(case, image_id, label):
                    out.write(line + "\n")
        return [dest]

    @staticmethod
    def _lines(case: CaseStore, image_id: int, label: str) -> Iterator[str]:
        for entry in files(case, image_id):
            if not any(entry.get(key) for key in _FILE_TIME_KEYS):
                continue
            # The volume as the evidence address names it (p2 = volume index 2), as ``fls -m``
            # prefixes a mount point: one image's volumes may hold the same paths.
            volume = (
                f"p{entry.get('volume_index')}:" if entry.get("volume_index") is not None else ""
            )
            name = f"{label}{volume}{entry.get('path')}" + (
                "" if entry.get("allocated") else " (deleted)"
            )
            kind = entry.get("kind")
            mode = (
                "d/d---------"
                if kind == "dir"
                else "r/r---------"
                if kind == "file"
                else "-/----------"
            )
            yield "|".join(
                [
                    "0",
                    _field(name),
                    _field(entry.get("inode") if entry.get("inode") is not None else 0),
                    mode,
                    "0",
                    "0",
                    _field(entry.get("size") or 0),
                    *(str(_epoch(entry.get(key))) for key in _FILE_TIME_KEYS),
                ]
            )
        for event in table_records(case, "timeline", image_id):
            if event.get("kind") == "file":
                continue  # written above, one line per file with its four times
            where = event.get("address") or ""
            name = f"{label}pfa:{event.get('timestamp_desc')}: {event.get('message')}" + (
                f" @ {where}" if where else ""
            )
            stamp = int(event.get("timestamp") or 0) // 1_000_000
            yield "|".join(
                ["0", _field(name), "0", "-/----------", "0", "0", "0", "0", str(stamp), "0", "0"]
            )


class TimesketchWriter(ReportWriter):
    name = "timesketch"
    description = "timeline.jsonl: Timesketch events (message, datetime, timestamp_desc) with evidence addresses"
    default_name = "timeline.jsonl"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        with atomic_file(dest) as tmp, open(tmp, "w", encoding="utf-8") as out:
            for image_id in image_ids(case, options):
                image = case.image(image_id)
                paths = image.get("paths") or []
                sha256 = (image.get("hashes") or {}).get("sha256")
                for event in table_records(case, "timeline", image_id):
                    record = {
                        "message": event.get("message"),
                        "datetime": event.get("datetime"),
                        "timestamp_desc": event.get("timestamp_desc"),
                        "timestamp": event.get("timestamp"),
                        "data_type": f"pfa:{event.get('kind')}",
                        "evidence_address": event.get("address"),
                        "image": paths[0] if paths else None,
                        "image_sha256": sha256,
                        **{
                            key: event[key]
                            for key in (
                                "path",
                                "inode",
                                "image_offset",
                                "print_job_id",
                                "artefact_id",
                                "source",
                                "time_zone",
                            )
                            if event.get(key) is not None
                        },
                    }
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return [dest]
