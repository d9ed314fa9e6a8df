"""The block classifier shared by pfa scan (64 KiB units) and pfa verify-wipe (512-byte
sectors), and the two verdict functions built on it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from forensics import diskmap
from forensics.diskmap import (
    CLASSES,
    CONSTANT,
    PATTERN,
    RANDOM,
    STRUCTURED,
    UNIT,
    ZERO,
    DiskMap,
    classify_rows,
    fill_periods,
)
from forensics.verdict import Evidence, Verdict, WipeEvidence, decide, decide_wipe

RNG = random.Random(20231114)


def rows(*blocks: bytes) -> np.ndarray:
    width = len(blocks[0])
    return np.frombuffer(b"".join(blocks), dtype=np.uint8).reshape(len(blocks), width).copy()


def tiled(unit: bytes, length: int = 512, phase: int = 0) -> bytes:
    return (unit * (length // len(unit) + 2))[phase : phase + length]


def test_classes_keep_the_scan_api() -> None:
    assert CLASSES == ("zero", "constant", "pattern", "random", "structured")
    assert CLASSES.index("structured") == STRUCTURED and CLASSES.index("random") == RANDOM
    assert UNIT == 64 * 1024


@pytest.mark.parametrize("period", range(1, 17))
@pytest.mark.parametrize("width", [512, 65536, 200])
def test_every_period_up_to_16_is_found_in_any_phase(period: int, width: int) -> None:
    unit = bytes(RNG.randrange(128, 256) for _ in range(period))  # no text, no zero
    while len(set(unit)) < min(period, 2):
        unit = bytes(RNG.randrange(128, 256) for _ in range(period))
    block = rows(*(tiled(unit, width, phase) for phase in range(min(period, 4))))
    found = fill_periods(block)
    # The smallest period of the unit (a unit may itself repeat, e.g. ABAB).
    smallest = next(p for p in range(1, period + 1) if tiled(unit, 64)[p:] == tiled(unit, 64)[:-p])
    assert found.tolist() == [smallest] * block.shape[0]


@pytest.mark.parametrize("width", [512, 65536])
def test_longer_periods_and_broken_fills_are_not_fills(width: int) -> None:
    unit17 = bytes(range(150, 167))
    broken = bytearray(tiled(b"\x97", width))
    broken[width - 3] = 0x96  # one byte off at the end
    sparse = bytearray(width)
    sparse[width // 3] = 7  # zeros with one byte set: not periodic
    found = fill_periods(rows(tiled(unit17, width), bytes(broken), bytes(sparse)))
    assert found.tolist() == [0, 0, 0]


def test_repeated_text_is_data_not_a_fill() -> None:
    codes, periods = classify_rows(
        rows(
            tiled(b"SSN 536-22-8714 "),  # a value repeated: data
            tiled(b"ab"),  # two printable bytes: too short to hold a value
            tiled(b"\x55\xaa"),
            tiled(b"5"),  # the Xerox 0x35 pass is ASCII '5'
        )
    )
    assert [CLASSES[c] for c in codes] == ["structured", "pattern", "pattern", "constant"]
    assert periods.tolist() == [0, 2, 2, 1]


def test_sector_classes() -> None:
    text = tiled(b"The quick brown fox jumps over the lazy dog. ")
    block = rows(
        bytes(512),
        b"\xff" * 512,
        tiled(b"\x92\x49\x24", phase=1),
        RNG.randbytes(512),
        text,
        b"\x1b%-12345X@PJL" + bytes(499),
    )
    codes, _ = classify_rows(block)
    assert codes.tolist() == [ZERO, CONSTANT, PATTERN, RANDOM, STRUCTURED, STRUCTURED]


def test_random_sectors_are_never_structured() -> None:
    block = np.frombuffer(RNG.randbytes(512 * 20000), dtype=np.uint8).reshape(-1, 512)
    codes, _ = classify_rows(block)
    assert (codes == RANDOM).all()


def test_short_last_rows() -> None:
    codes, periods = classify_rows(rows(b"\x97" * 100))
    assert codes.tolist() == [CONSTANT] and periods.tolist() == [1]
    codes, _ = classify_rows(rows(RNG.randbytes(300)))
    assert codes.tolist() == [RANDOM]
    codes, _ = classify_rows(rows(b"hello, world" * 20))
    assert codes.tolist() == [STRUCTURED]
    codes, _ = classify_rows(rows(b"\x01\x02\x03\x05\x08"))  # too short to judge entropy
    assert codes.tolist() == [STRUCTURED]


def test_zero_sectors_cost_no_loop_per_byte() -> None:
    """A 64 MiB chunk of zeros is classified in one vectorised pass: far below a second."""
    import time

    block = np.zeros(((64 * 1024 * 1024) // 512, 512), dtype=np.uint8)
    start = time.perf_counter()
    codes, _ = classify_rows(block)
    assert time.perf_counter() - start < 1.0
    assert (codes == ZERO).all()


# --- 64 KiB units (pfa scan's disk map) -----------------------------------------------------


def test_disk_map_units_and_refinement() -> None:
    units = [
        bytes(UNIT),
        b"\x97" * UNIT,
        tiled(b"\x92\x49\x24", UNIT),
        bytes(UNIT // 2) + b"\x97" * (UNIT // 2),  # the edge of an overwrite: a mix of fills
        bytes(4096) + RNG.randbytes(UNIT - 4096),  # zeros then ciphertext
        bytes(UNIT - 512) + tiled(b"Payroll 2023 ", 512),  # one sector of text among zeros
        RNG.randbytes(UNIT),
    ]
    disk_map = DiskMap(len(units) * UNIT)
    codes = disk_map.classify(b"".join(units), 0)
    assert [CLASSES[c] for c in codes] == [
        "zero",
        "constant",
        "pattern",
        "pattern",
        "random",
        "structured",
        "random",
    ]
    assert disk_map.counts == {
        "zero": 1,
        "constant": 1,
        "pattern": 2,
        "random": 2,
        "structured": 1,
    }
    assert disk_map.structured_ranges() == [(5 * UNIT, UNIT)]
    as_dict = disk_map.to_dict()
    assert as_dict["unit_counts"] == disk_map.counts
    assert as_dict["cells"][0] == {"offset": 0, "length": UNIT, "class": "zero"}
    assert sum(c["length"] for c in as_dict["cells"]) == len(units) * UNIT  # type: ignore[attr-defined]


def test_disk_map_partial_last_unit_and_cells() -> None:
    size = 3 * UNIT + 1000
    disk_map = DiskMap(size)
    disk_map.classify(b"\x97" * (2 * UNIT), 0)
    disk_map.classify(bytes(UNIT) + b"\x97" * 1000, 2 * UNIT)
    assert disk_map.counts["constant"] == 3 and disk_map.counts["zero"] == 1
    assert disk_map.cells() == [
        (0, 2 * UNIT, "constant"),
        (2 * UNIT, UNIT, "zero"),
        (3 * UNIT, 1000, "constant"),
    ]


def test_disk_map_cells_are_bounded() -> None:
    disk_map = DiskMap(1 << 40)  # 1 TiB
    assert disk_map.cell_size * diskmap.MAX_CELLS >= 1 << 40
    assert len(disk_map.to_dict()["cells"]) == 1  # type: ignore[arg-type]


# --- verdicts -------------------------------------------------------------------------------


def _evidence(**overrides: int) -> Evidence:
    values = {
        "findings": 0,
        "user_files_with_content": 0,
        "residual_units": 0,
        "random_units": 0,
        "structured_units": 0,
        "constant_units": 0,
        "zero_units": 0,
        "unit_bytes": UNIT,
    }
    values.update(overrides)
    return Evidence(**values)


def test_scan_evidence_without_pattern_units_still_decides() -> None:
    """forensics/scan.py builds Evidence without pattern_units: the default keeps it working."""
    verdict, reasons = decide(_evidence(zero_units=10, constant_units=118))
    assert verdict is Verdict.WIPED
    assert reasons == [
        "10 zero and 118 constant block(s); 0 block(s) of file-system or partition metadata only"
    ]
    verdict, reasons = decide(_evidence(zero_units=10, pattern_units=118))
    assert verdict is Verdict.WIPED and "118 pattern" in reasons[0]
    assert decide(_evidence(random_units=100, structured_units=2))[0] is Verdict.ENCRYPTED
    assert decide(_evidence(residual_units=1))[0] is Verdict.RESIDUAL_DATA


def _wipe(**overrides: object) -> WipeEvidence:
    values: dict[str, object] = {
        "sectors_read": 1000,
        "zero": 1000,
        "constant": 0,
        "pattern": 0,
        "random": 0,
        "structured": 0,
        "table_sectors": 0,
        "outside_sectors": 0,
        "outside_regions": 0,
        "inside_sectors": 0,
    }
    values.update(overrides)
    return WipeEvidence(**values)  # type: ignore[arg-type]


def test_wipe_verdict_rules() -> None:
    assert decide_wipe(_wipe())[0] is Verdict.WIPED
    verdict, reasons = decide_wipe(_wipe(zero=999, structured=1, table_sectors=1))
    assert verdict is Verdict.WIPED
    assert reasons[-1] == "1 partition-table sector(s): not user data"
    verdict, reasons = decide_wipe(
        _wipe(
            zero=0, random=990, structured=10, inside_sectors=10, inside_areas=("disk boot area",)
        )
    )
    assert verdict is Verdict.ENCRYPTED
    assert "10 sector(s) in disk boot area" in reasons[1]
    verdict, _ = decide_wipe(_wipe(zero=995, structured=5, inside_sectors=5, inside_areas=("x",)))
    assert verdict is Verdict.RESIDUAL_DATA  # a blank medium with a boot loader: not wiped
    verdict, reasons = decide_wipe(
        _wipe(zero=0, random=990, structured=10, outside_sectors=10, outside_regions=2)
    )
    assert verdict is Verdict.RESIDUAL_DATA and verdict.exit_code == 1
    assert reasons[0].startswith("10 structured sector(s) outside any boot/metadata area")
    _, reasons = decide_wipe(_wipe(unreadable_sectors=3, sample_percent=10.0))
    assert "3 sector(s) could not be read and are not verified" in reasons
    assert any("10 % sample" in r for r in reasons)
