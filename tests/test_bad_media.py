"""Unreadable sectors: the scan goes on around them and says what it could not read.

The medium is the real demo image; only the failure is injected, the way a failing drive or a
damaged E01 chunk raises on read.
"""

from __future__ import annotations

import json
from pathlib import Path

from fixtures import secrets
from forensics.detect.rules import load_rules
from forensics.errors import ImageReadError
from forensics.evidence.image import RawImage
from forensics.report.json_report import write_report
from forensics.scan import ScanOptions, run_record, scan_image, utc_now
from forensics.store import CaseStore

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo" / "printer-demo.img"
DEMO_PLANTED = json.loads(DEMO.with_suffix(".json").read_text())


class FailingImage(RawImage):
    """The demo image with bad sectors in ``[bad_start, bad_end)``."""

    def __init__(self, path: Path, bad_start: int, bad_end: int) -> None:
        super().__init__(path)
        self.bad = (bad_start, bad_end)

    def _read(self, offset: int, size: int) -> bytes:
        if offset < self.bad[1] and offset + size > self.bad[0]:
            raise ImageReadError(f"{self.paths[0].name}: I/O error at offset {offset}")
        return super()._read(offset, size)


def scan_failing(tmp_path: Path, bad_start: int, bad_end: int) -> dict:
    rules = load_rules()
    run = run_record("pfa scan bad-media", rules, utc_now())
    with (
        CaseStore(tmp_path / "case.sqlite") as store,
        FailingImage(DEMO, bad_start, bad_end) as image,
    ):
        run_id = store.start_run(run)
        result = scan_image(image, ScanOptions(rules, reveal=True), store, run_id)
        write_report(store, run, result.image_id, tmp_path / "report.json", True)
    return json.loads((tmp_path / "report.json").read_text())


def test_bad_sectors_in_a_file_system_are_problems(tmp_path: Path) -> None:
    # The FAT partition's boot sector and FATs (1 MiB … 1 MiB + 4 KiB) cannot be read.
    report = scan_failing(tmp_path, 1048576, 1048576 + 4096)
    codes = [p["code"] for p in report["problems"]]
    assert codes.count("unreadable-range") == 1
    bad = next(p for p in report["problems"] if p["code"] == "unreadable-range")
    assert bad["image_offset"] == 1048576
    assert report["image"]["hashes"] == {}  # the media hash cannot be claimed
    # Everything on the ext2 spool partition is still found.
    found = {f["value"] for f in report["findings"]}
    assert secrets.SSN in found and secrets.CARD_VISA in found


def test_unreadable_partition_table_scans_the_whole_image(tmp_path: Path) -> None:
    report = scan_failing(tmp_path, 0, 512)
    assert "unreadable-partition-table" in {p["code"] for p in report["problems"]}
    assert report["image"]["partition_scheme"] == "none"
    assert any(f["value"] == secrets.SSN for f in report["findings"])
    assert report["verdict"]["verdict"] == "sensitive"


def test_unreadable_superblock_is_not_called_corrupt(tmp_path: Path) -> None:
    # The ext2 spool partition starts at 5 MiB; its superblock sector cannot be read.
    report = scan_failing(tmp_path, 5242880 + 1024, 5242880 + 2048)
    problems = {p["code"]: p for p in report["problems"]}
    assert "unreadable-filesystem" in problems
    assert "corrupt-superblock" not in problems and "unknown-filesystem" not in problems
    # Its bytes are still scanned raw: the allocated job's card number is found as "raw".
    card = next(f for f in report["findings"] if f["value"] == secrets.CARD_VISA)
    assert card["location_class"] == "raw"
