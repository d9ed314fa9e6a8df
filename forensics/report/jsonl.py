"""``--format jsonl``: one typed JSON record per line, for jq, log pipelines and databases.

Every line is an object with ``"type"`` first (``run``, ``image``, ``volume``, ``filesystem``,
``file``, ``job``, ``finding``, ``problem``, and, when the case has them, ``print_job`` and
``artefact``) and ``image_id``, then the record as report.json holds it (a record's own
``type`` key, e.g. a file system's, is written as ``<type>_type``: ``filesystem_type``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    atomic_file,
    files,
    image_ids,
    image_run,
    table_records,
)
from forensics.store import CaseStore

# Optional tables (added by later schema versions) and the record type of their rows.
OPTIONAL = (("print_jobs", "print_job"), ("artefacts", "artefact"))


def _lines(out: IO[str], kind: str, image_id: int, records: Iterable[dict[str, Any]]) -> None:
    for record in records:
        # A record's own "type" (a file system's, e.g. "ext4") must not hide the line's type.
        own = {f"{kind}_type" if k == "type" else k: v for k, v in record.items()}
        own.pop("image_id", None)
        line = {"type": kind, "image_id": image_id, **own}
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n")


class JsonlWriter(ReportWriter):
    name = "jsonl"
    description = "report.jsonl: one typed record per line (image, volume, job, finding, ...)"
    default_name = "report.jsonl"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        with atomic_file(dest) as tmp, open(tmp, "w", encoding="utf-8") as out:
            for image_id in image_ids(case, options):
                _lines(out, "run", image_id, [image_run(case, image_id)])
                _lines(out, "image", image_id, [case.image(image_id)])
                _lines(out, "volume", image_id, case.volumes(image_id))
                _lines(out, "filesystem", image_id, case.filesystems(image_id))
                _lines(out, "file", image_id, files(case, image_id))
                _lines(out, "job", image_id, case.jobs(image_id))
                for table, kind in OPTIONAL:
                    _lines(out, kind, image_id, table_records(case, table, image_id))
                _lines(out, "finding", image_id, case.findings(image_id))
                _lines(out, "problem", image_id, case.problems(image_id))
        return [dest]
