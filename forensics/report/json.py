"""``--format json``: ``report.json``, the schema-versioned report of one image.

The document itself is written by ``forensics.report.json_report`` (docs/report-schema.md);
this plug-in finds the run and the masking of each image in the case store.
"""

from __future__ import annotations

from pathlib import Path

from forensics.report.base import (
    ReportOptions,
    ReportWriter,
    image_ids,
    image_run,
    per_image_path,
    revealed,
)
from forensics.report.json_report import write_report
from forensics.store import CaseStore


class JsonWriter(ReportWriter):
    name = "json"
    description = (
        "report.json: one schema-versioned JSON document per image (docs/report-schema.md)"
    )
    default_name = "report.json"

    def write(self, case: CaseStore, dest: Path, options: ReportOptions) -> list[Path]:
        ids = image_ids(case, options)
        written = []
        for image_id in ids:
            run = image_run(case, image_id)
            run.pop("finished", None)  # the report takes the image's end time (schema: run)
            path = per_image_path(dest, image_id, len(ids) > 1)
            write_report(case, run, image_id, path, revealed(run))
            written.append(path)
        return written
