"""End to end: build real images, scan them, and check what an examiner would check.

Every planted value must be reported with its location class and its exact image offset (the
oracle comes from the file-system tools, not from the scanner); values are masked without
--reveal; negative controls are never reported; the evidence is unchanged after the scan.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fixtures import builders, secrets
from fixtures.builders import BuiltImage, Planted
from forensics.cli import main


def _sha256_files(paths: tuple[Path, ...]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def scan(image: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    rc = main(["scan", str(image), "-o", str(out), "-q", *extra])
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return rc, report


def _encoded_length(planted: Planted) -> int:
    return len(planted.value.encode("utf-16-le" if planted.encoding == "utf-16le" else "latin-1"))


def matching(report: dict[str, Any], planted: Planted) -> list[dict[str, Any]]:
    """Findings whose value lies inside the planted bytes and whose revealed value is part of it."""
    start = planted.image_offset
    end = start + _encoded_length(planted)
    return [
        f
        for f in report["findings"]
        if f["image_offset"] is not None
        and start <= f["image_offset"] < end
        and f["value"] is not None
        and f["value"] in planted.value
    ]


def assert_all_planted_found(report: dict[str, Any], built: BuiltImage) -> None:
    for planted in built.planted:
        found = matching(report, planted)
        assert found, (
            f"{planted.value!r} ({planted.location_class} @ {planted.image_offset}) not reported"
        )
        finding = found[0]
        assert finding["location_class"] == planted.location_class, (planted, finding)
        # The exact offset of the value: planted start + where the value sits inside the planted text.
        width = 2 if planted.encoding == "utf-16le" else 1
        expected = planted.image_offset + planted.value.index(finding["value"]) * width
        assert finding["image_offset"] == expected
        assert finding["address"]["chain"][-1]["image_offset"] == expected
        if planted.path is not None:
            assert finding["path"] == planted.path
        if planted.inode is not None:
            assert finding["inode"] == planted.inode


def assert_no_negatives(report: dict[str, Any], built: BuiltImage) -> None:
    for finding in report["findings"]:
        for negative in (*secrets.NEGATIVES, *built.negatives):
            assert finding["value"] not in negative.strip(), (negative, finding)


BUILDERS = [
    "ext2_deleted",
    "ext4_unallocated",
    "fat16_slack",
    "mbr_extended",
    "gpt",
    "bare_fs",
    "e01",
    "split_raw",
    "truncated",
    "partition_past_end",
    "corrupt_superblock",
]


@pytest.fixture(scope="module")
def built_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltImage]:
    root = tmp_path_factory.mktemp("images")
    return {name: getattr(builders, f"build_{name}")(root / name) for name in BUILDERS}


@pytest.mark.parametrize("name", BUILDERS)
def test_every_planted_value_is_reported_with_class_and_offset(
    name: str, built_images: dict[str, BuiltImage], tmp_path: Path
) -> None:
    built = built_images[name]
    files = built.segments or (built.path,)
    before = _sha256_files(files)
    rc, report = scan(built.path, tmp_path / "out", "--reveal")
    assert _sha256_files(files) == before, "the evidence changed during the scan"
    assert_all_planted_found(report, built)
    assert_no_negatives(report, built)
    assert rc == 1
    assert report["verdict"]["verdict"] == "sensitive"
    for lost in built.lost:
        assert all(f["value"] not in lost for f in report["findings"]), lost
    for finding in report["findings"]:
        assert finding["image_offset"] + finding["length"] <= report["image"]["size"]


def test_masked_by_default(built_images: dict[str, BuiltImage], tmp_path: Path) -> None:
    built = built_images["mbr_extended"]
    _, report = scan(built.path, tmp_path / "out")
    text = (tmp_path / "out" / "report.json").read_text(encoding="utf-8")
    for planted in built.planted:
        if planted.value == secrets.MARKING:
            continue  # a classification marking is evidence of sensitivity, not a secret value
        secret = planted.value.split(":")[-1].strip()
        assert secret not in text, f"{secret!r} leaked into the masked report"
    assert report["findings"]
    for finding in report["findings"]:
        assert finding["value"] is None and finding["context"] is None
        assert finding["value_masked"] and len(finding["value_sha256"]) == 64
    ssn = [
        f
        for f in report["findings"]
        if f["rule"].lower().startswith("ssn") or "ssn" in f["rule"].lower()
    ]
    assert all(f["value_masked"].startswith("***-**-") for f in ssn)


def test_hashes_match_md5sum_and_e01(built_images: dict[str, BuiltImage], tmp_path: Path) -> None:
    built = built_images["e01"]
    _, report = scan(built.path, tmp_path / "out")
    image = report["image"]
    assert image["format"] == "ewf"
    assert image["hash_verified"] is True
    assert image["hashes"]["md5"] == image["stored_hashes"]["md5"]
    raw = built_images["mbr_extended"]
    assert image["hashes"]["sha256"] == hashlib.sha256(raw.path.read_bytes()).hexdigest()


def test_split_raw_hash_equals_joined_segments(
    built_images: dict[str, BuiltImage], tmp_path: Path
) -> None:
    built = built_images["split_raw"]
    _, report = scan(built.path, tmp_path / "out")
    joined = hashlib.sha256()
    for segment in built.segments:
        joined.update(segment.read_bytes())
    assert report["image"]["format"] == "split-raw"
    assert report["image"]["hashes"]["sha256"] == joined.hexdigest()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("truncated", "image-truncated"),
        ("partition_past_end", "partition-beyond-image-end"),
        ("corrupt_superblock", "corrupt-superblock"),
    ],
)
def test_damage_is_a_problem_not_a_crash(
    name: str, code: str, built_images: dict[str, BuiltImage], tmp_path: Path
) -> None:
    _, report = scan(built_images[name].path, tmp_path / "out")
    assert code in {p["code"] for p in report["problems"]}


def test_no_hash_skips_hashes(built_images: dict[str, BuiltImage], tmp_path: Path) -> None:
    _, report = scan(built_images["bare_fs"].path, tmp_path / "out", "--no-hash")
    assert report["image"]["hashes"] == {}


def test_all_zero_image_is_wiped(tmp_path: Path) -> None:
    built = builders.build_all_zero(tmp_path / "zero")
    rc, report = scan(built.path, tmp_path / "out")
    assert rc == 0
    assert report["verdict"]["verdict"] == "wiped"
    assert report["findings"] == []


def test_random_image_is_encrypted(tmp_path: Path) -> None:
    import random

    image = tmp_path / "random.img"
    image.write_bytes(random.Random(7).randbytes(4 * 1024 * 1024))
    rc, report = scan(image, tmp_path / "out")
    assert rc == 0
    assert report["verdict"]["verdict"] == "encrypted"


def test_report_structure(built_images: dict[str, BuiltImage], tmp_path: Path) -> None:
    _, report = scan(built_images["gpt"].path, tmp_path / "out")
    assert report["schema"] == "printer-forensics/report"
    assert report["schema_version"] == 1
    assert report["run"]["command_line"].startswith("pfa scan")
    assert report["run"]["started"].endswith("Z") and report["run"]["finished"].endswith("Z")
    assert report["image"]["partition_scheme"] == "gpt"
    partitions = [v for v in report["volumes"] if v["kind"] == "partition"]
    assert [(v["offset"], v["length"]) for v in partitions] == list(built_images["gpt"].partitions)
    assert {fs["type"] for fs in report["filesystems"]} >= {"ext2"}
    assert (tmp_path / "out" / "case.sqlite").exists()


def test_wiped_gpt_disk_is_wiped(tmp_path: Path) -> None:
    """A GPT disk whose partitions hold only zeros: the tables alone are not residual data."""
    import subprocess

    image = tmp_path / "gpt-wiped.img"
    subprocess.run(["truncate", "-s", "8M", str(image)], check=True)
    subprocess.run(
        ["sgdisk", "-o", "-n", "1:2048:+4M", "-t", "1:8300", "-c", "1:spool", str(image)],
        check=True,
        capture_output=True,
    )
    rc, report = scan(image, tmp_path / "out")
    assert report["image"]["partition_scheme"] == "gpt"
    assert report["verdict"]["verdict"] == "wiped", report["verdict"]
    assert rc == 0


def test_e01_hash_mismatch_is_reported(built_images: dict[str, BuiltImage], tmp_path: Path) -> None:
    """A segment altered after acquisition: the media hash no longer matches the stored one."""
    import shutil

    built = built_images["e01"]
    copies = []
    for segment in built.segments:
        copy = tmp_path / segment.name
        shutil.copyfile(segment, copy)
        copies.append(copy)
    for copy in copies:
        data = bytearray(copy.read_bytes())
        at = data.find(secrets.EMAIL.encode())
        if at >= 0:
            data[at] ^= 0x01
            copy.write_bytes(bytes(data))
            break
    else:
        pytest.fail("planted e-mail not found in any uncompressed segment")
    _, report = scan(copies[0], tmp_path / "out")
    assert report["image"]["hash_verified"] is False
    assert "hash-mismatch" in {p["code"] for p in report["problems"]}


def test_value_split_across_fragments_is_found_by_the_logical_pass(tmp_path: Path) -> None:
    """A file whose first fragment reuses a deleted file's hole: the SSN straddles the seam."""
    import subprocess

    image = tmp_path / "frag.img"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", str(image), "4M"], check=True)
    payload = {
        "a": b"a" * 3072,
        "b": b"b" * 2048,
        "c": b"c" * 3072,
        "d": b"d" * 2040 + f" SSN {secrets.SSN} ".encode() + b"d" * 3000,
    }
    for name, data in payload.items():
        (tmp_path / name).write_bytes(data)

    def debugfs(command: str) -> str:
        done = subprocess.run(
            ["debugfs", "-w", "-R", command, str(image)], check=True, capture_output=True, text=True
        )
        return done.stdout

    for name in ("a", "b", "c"):
        debugfs(f"write {tmp_path / name} {name}")
    debugfs("rm b")  # leaves a two-block hole that "d" fills first
    debugfs(f"write {tmp_path / 'd'} d")
    blocks = [int(b) for b in debugfs("blocks d").split()]
    assert blocks[1] + 1 != blocks[2], f"d is not fragmented at its second block: {blocks}"
    value_in_file = (
        2045  # "d"*2040 + " SSN " → the SSN starts 5 bytes later, 3 bytes before the seam
    )
    _, report = scan(image, tmp_path / "out", "--reveal")
    ssn = [f for f in report["findings"] if f["value"] == secrets.SSN]
    assert len(ssn) == 1, report["findings"]
    assert ssn[0]["path"] == "/d" and ssn[0]["location_class"] == "allocated"
    assert ssn[0]["image_offset"] == blocks[1] * 1024 + (value_in_file - 1024)
    assert "across fragments" in ssn[0]["address"]["text"]


def test_unallocated_runs_are_listed_in_the_case_store(
    built_images: dict[str, BuiltImage], tmp_path: Path
) -> None:
    import sqlite3

    built = built_images["ext4_unallocated"]
    _, report = scan(built.path, tmp_path / "out")
    (fs,) = report["filesystems"]
    db = sqlite3.connect(tmp_path / "out" / "case.sqlite")
    runs = db.execute(
        "SELECT img_offset, length FROM byte_runs WHERE kind = 'unallocated'"
    ).fetchall()
    assert len(runs) == fs["unallocated_runs"] > 0
    assert sum(length for _, length in runs) == fs["unallocated_bytes"]
    marking = next(p for p in built.planted if p.location_class == "unallocated")
    assert any(start <= marking.image_offset < start + length for start, length in runs)
