"""The streaming pass: values across chunk boundaries are found once, at their exact offset, and
no rule anchor fires at an artificial chunk start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import secrets
from forensics.cli import main
from forensics.detect.rules import load_rules
from forensics.report.json_report import write_report
from forensics.scan import ScanOptions, open_evidence, run_record, scan_image, utc_now
from forensics.store import CaseStore

CHUNK = 64 * 1024


def scan_small_chunks(image: Path, tmp_path: Path) -> dict:
    rules = load_rules()
    run = run_record("pfa scan test", rules, utc_now())
    with CaseStore(tmp_path / "case.sqlite") as store, open_evidence(image) as opened:
        run_id = store.start_run(run)
        result = scan_image(
            opened, ScanOptions(rules, reveal=True, chunk_size=CHUNK), store, run_id
        )
        write_report(store, run, result.image_id, tmp_path / "report.json", True)
    return json.loads((tmp_path / "report.json").read_text())


@pytest.fixture
def boundary_image(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    data = bytearray(b"\x80" * (8 * CHUNK))
    placed: dict[str, int] = {}

    def put(offset: int, text: bytes) -> None:
        data[offset : offset + len(text)] = text

    # An SSN straddling the first boundary.
    put(CHUNK - 5, b" " + secrets.SSN.encode() + b" ")
    placed["ssn"] = CHUNK - 4
    # A card number starting exactly at the second boundary (its guard byte is in chunk 1).
    put(2 * CHUNK - 1, b" " + secrets.CARD_VISA.encode() + b" ")
    placed["card"] = 2 * CHUNK
    # A 19-digit run that is NOT a card: its last 16 digits start at the third boundary, where a
    # "start of data" anchor would wrongly see a fresh number.
    put(3 * CHUNK - 8, b"ref 123" + secrets.CARD_VISA.encode() + b" ")
    # A UTF-16LE e-mail across the fourth boundary.
    wide = secrets.EMAIL.encode("utf-16-le")
    put(4 * CHUNK - 10, b" \0" + wide + b" \0")
    placed["email"] = 4 * CHUNK - 8
    image = tmp_path / "boundaries.img"
    image.write_bytes(bytes(data))
    return image, placed


def test_values_across_boundaries_found_once(
    boundary_image: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    image, placed = boundary_image
    report = scan_small_chunks(image, tmp_path)
    offsets = sorted(f["image_offset"] for f in report["findings"])
    assert offsets == sorted(placed.values()), report["findings"]
    by_offset = {f["image_offset"]: f for f in report["findings"]}
    assert by_offset[placed["ssn"]]["value"] == secrets.SSN
    assert by_offset[placed["card"]]["value"] == secrets.CARD_VISA
    email = by_offset[placed["email"]]
    assert email["value"] == secrets.EMAIL and email["encoding"] == "utf-16le"
    assert email["length"] == len(secrets.EMAIL) * 2
    assert all(f["location_class"] == "raw" for f in report["findings"])


def test_chunk_size_does_not_change_results(
    boundary_image: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    image, _ = boundary_image
    (tmp_path / "small").mkdir()
    small = scan_small_chunks(image, tmp_path / "small")
    main(["scan", str(image), "-o", str(tmp_path / "big"), "-q", "--reveal"])
    big = json.loads((tmp_path / "big" / "report.json").read_text())

    def key(report: dict) -> list[tuple]:
        return sorted((f["image_offset"], f["rule"], f["value"]) for f in report["findings"])

    assert key(small) == key(big)
    assert small["image"]["hashes"] == big["image"]["hashes"]
