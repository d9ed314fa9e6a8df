"""pfa verify-wipe end to end, on images built with real tools (dd, gs, sfdisk, mke2fs -d,
ewfacquire): verdicts, exact sector counts per class, region offsets from the builders' oracle,
masked previews, sampling, exit codes, the PNG map, unreadable sectors, read-only evidence."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from fixtures import builders
from fixtures.builders import WipeImage
from forensics import wipe
from forensics.cli import main
from forensics.errors import ImageReadError
from forensics.evidence.image import RawImage, open_image
from forensics.scan import open_evidence

SECTORS = builders.WIPE_SIZE // 512


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, WipeImage]:
    root = tmp_path_factory.mktemp("wipe")
    zero = builders.build_all_zero(root / "zero")
    return {
        "zero": WipeImage(path=zero.path, size=zero.media_size),
        "job": builders.build_wipe_job_traces(root / "job"),
        "x97": builders.build_wipe_fill(root / "fill", b"\x97", "x97"),
        "gutmann": builders.build_wipe_fill(root / "fill", b"\x92\x49\x24", "gutmann"),
        "random": builders.build_wipe_random(root / "random", boot_area=False),
        "random_boot": builders.build_wipe_random(root / "random", boot_area=True),
        "ext4": builders.build_wipe_ext4(root / "ext4"),
    }


def verify(
    capsys: pytest.CaptureFixture[str], image: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    rc = main(["verify-wipe", str(image), "--json", *extra])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(**nonzero: int) -> dict[str, int]:
    return {"zero": 0, "constant": 0, "pattern": 0, "random": 0, "structured": 0, **nonzero}


# --- verdicts and counts -------------------------------------------------------------------


def test_all_zero_image_is_wiped(images: dict[str, WipeImage], capsys: Any) -> None:
    built = images["zero"]
    rc, doc = verify(capsys, built.path)
    assert rc == 0
    assert doc["verdict"]["verdict"] == "wiped" and doc["verdict"]["exit_code"] == 0
    total = built.size // 512
    assert doc["counts"] == counts(zero=total)
    assert doc["sampling"] == {
        "mode": "full",
        "percent": 100.0,
        "seed": None,
        "sectors_total": total,
        "sectors_read": total,
        "first_and_last_read": True,
    }
    assert doc["read"]["bytes_read"] == built.size
    assert doc["read"]["mb_per_s"] > 0 and doc["read"]["unreadable_sectors"] == 0
    assert doc["regions"] == [] and doc["regions_total"] == 0
    assert doc["fills"] == [{"class": "zero", "unit": "00", "name": "zeros", "sectors": total}]
    assert doc["schema"] == "printer-forensics/verify-wipe" and doc["schema_version"] == 1


def test_job_head_and_tail_are_residual_data(images: dict[str, WipeImage], capsys: Any) -> None:
    built = images["job"]
    before = sha256(built.path)
    rc, doc = verify(capsys, built.path)
    assert sha256(built.path) == before, "verify-wipe changed the evidence"
    assert rc == 1
    assert doc["verdict"]["verdict"] == "residual-data"
    assert doc["counts"] == counts(zero=SECTORS - 4, structured=4)
    # Two regions, exactly where dd wrote the job's head and tail.
    assert [(r["offset"], r["length"]) for r in doc["regions"]] == list(built.written)
    assert [r["sectors"] for r in doc["regions"]] == [2, 2]
    head, tail = doc["regions"]
    assert "PJL UEL" in head["signatures"] and "PCL XL" in head["signatures"]
    assert "PJL UEL" in tail["signatures"]
    assert head["kinds"]["job"] >= 1 and tail["kinds"]["job"] >= 1
    for region in doc["regions"]:
        assert region["volume"]["kind"] == "whole" and region["area"] is None
        assert region["location_class"] is None
    # The preview starts at the job's first byte; letters and digits are masked, the
    # signatures (public constants) are not.
    assert head["preview_offset"] == built.written[0][0]
    assert head["preview"].startswith('.%-12345X@PJL xxx xxxx="xxxxxxx-####-##"..@PJL')
    text = json.dumps(doc)
    assert "payroll" not in text and "hr-clerk" not in text
    assert doc["verdict"]["reasons"][0].startswith(
        "4 structured sector(s) outside any boot/metadata area, in 2 region(s); the first at "
        f"byte {built.written[0][0]}"
    )


def test_reveal_shows_the_preview_unmasked(images: dict[str, WipeImage], capsys: Any) -> None:
    rc, doc = verify(capsys, images["job"].path, "--reveal")
    assert rc == 1 and doc["revealed"] is True
    assert doc["regions"][0]["preview"] == '.%-12345X@PJL JOB NAME="payroll-2023-11"..@PJL S'


@pytest.mark.parametrize(
    ("name", "cls", "unit", "label"),
    [
        ("x97", "constant", "97", "Xerox Image Overwrite pass"),
        ("gutmann", "pattern", "924924", "Gutmann passes 7-9 and 26-28"),
    ],
)
def test_overwrite_fills_are_wiped(
    images: dict[str, WipeImage], capsys: Any, name: str, cls: str, unit: str, label: str
) -> None:
    rc, doc = verify(capsys, images[name].path)
    assert rc == 0
    assert doc["verdict"]["verdict"] == "wiped"
    assert doc["counts"] == counts(**{cls: SECTORS})
    assert doc["fills"] == [{"class": cls, "unit": unit, "name": label, "sectors": SECTORS}]
    assert doc["regions"] == []


def test_random_bytes_are_encrypted(images: dict[str, WipeImage], capsys: Any) -> None:
    rc, doc = verify(capsys, images["random"].path)
    assert rc == 0
    assert doc["verdict"]["verdict"] == "encrypted"
    assert doc["counts"] == counts(random=SECTORS)
    assert "no plaintext structure anywhere" in doc["verdict"]["reasons"]


def test_random_with_a_plaintext_boot_area_is_encrypted_and_names_it(
    images: dict[str, WipeImage], capsys: Any
) -> None:
    built = images["random_boot"]
    rc, doc = verify(capsys, built.path)
    assert rc == 0
    assert doc["verdict"]["verdict"] == "encrypted"
    assert doc["image"]["partition_scheme"] == "mbr"
    # Sector 0 is the MBR (random boot code, but the zeros of three unused entries keep it
    # below the random threshold), sector 1 the boot loader's text, the rest random.
    assert doc["counts"] == counts(random=SECTORS - 2, structured=2)
    assert doc["structured_kinds"]["partition-table"] == 1
    assert doc["structured_kinds"]["text"] == 1
    (region,) = doc["regions"]
    assert (region["offset"], region["length"]) == built.written[0]
    assert region["area"] == "disk boot area"
    assert region["location_class"] == "unpartitioned"
    assert region["kinds"] == {"text": 1}
    assert {"name": "disk boot area", "offset": 0, "length": 1048576} in doc["areas"]
    offset, _ = built.partitions[0]
    assert {"name": "header of partition 1", "offset": offset, "length": 1048576} in doc["areas"]
    reasons = "; ".join(doc["verdict"]["reasons"])
    assert "plaintext structure only in the boot/metadata area: 1 sector(s) in disk boot area" in (
        reasons
    )


def test_ext4_made_by_mke2fs_is_residual_data(images: dict[str, WipeImage], capsys: Any) -> None:
    built = images["ext4"]
    before = sha256(built.path)
    rc, doc = verify(capsys, built.path)
    assert sha256(built.path) == before
    assert rc == 1
    assert doc["verdict"]["verdict"] == "residual-data"
    p1_offset, _p1_length = built.partitions[0]
    regions = doc["regions"]
    # The superblock: 1024 bytes into the file system (the boot block before it is zero).
    first = regions[0]
    assert first["offset"] == p1_offset + 1024
    assert first["kinds"]["fs-metadata"] >= 1
    assert first["volume"]["slot"] == "1" and first["area"] == "header of partition 1"
    # The job's and the log's first blocks, where debugfs bmap put them, lie in regions
    # outside the partition header; the job's region carries its PJL signature.
    for offset, _length in built.written:
        (holder,) = [r for r in regions if r["offset"] <= offset < r["offset"] + r["length"]]
        assert holder["area"] is None and holder["volume"]["slot"] == "1"
        assert holder["location_class"] is None
    job_offset = built.written[0][0]
    job_region = next(r for r in regions if r["offset"] <= job_offset < r["offset"] + r["length"])
    assert "PJL UEL" in job_region["signatures"]
    assert doc["structured_kinds"]["partition-table"] == 1  # the MBR
    # Partition 2 and the gaps after sector 0 were never written: zero throughout.
    volumes = {(v["kind"], v["slot"]): v for v in doc["volumes"]}
    p2 = volumes[("partition", "2")]
    assert p2["counts"] == counts(zero=p2["length"] // 512)
    assert sum(v["counts"]["structured"] for v in doc["volumes"]) == doc["counts"]["structured"]


# --- pfa scan shares the classifier --------------------------------------------------------


@pytest.mark.parametrize(("name", "cls"), [("x97", "constant"), ("gutmann", "pattern")])
def test_pfa_scan_of_a_fill_is_wiped(
    images: dict[str, WipeImage], tmp_path: Path, capsys: Any, name: str, cls: str
) -> None:
    out = tmp_path / "out"
    rc = main(["scan", str(images[name].path), "-o", str(out), "-q"])
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rc == 0
    assert report["verdict"]["verdict"] == "wiped"
    units = builders.WIPE_SIZE // 65536
    assert report["disk_map"]["unit_counts"][cls] == units
    assert report["disk_map"]["cells"] == [
        {"offset": 0, "length": builders.WIPE_SIZE, "class": cls}
    ]


# --- sampling ------------------------------------------------------------------------------


def _sampled(path: Path, fraction: float, seed: int) -> np.ndarray:
    with open_image(path) as image:
        reader = wipe._Reader(image, fraction, seed)
        return np.concatenate([reader.read(offset).sectors for offset in reader.chunks()])


def test_sample_always_holds_first_and_last_sector_and_is_reproducible(
    images: dict[str, WipeImage],
) -> None:
    path = images["ext4"].path  # 16 MiB: two read chunks
    total = (16 << 20) // 512
    for fraction in (0.001, 0.01, 0.5):  # sparse spans and whole-chunk reads
        for seed in (1, 2, 3):
            sample = _sampled(path, fraction, seed)
            assert sample[0] == 0 and sample[-1] == total - 1
            assert np.array_equal(sample, np.unique(sample))
            assert np.array_equal(sample, _sampled(path, fraction, seed))
            # Bernoulli draws: within 6 standard deviations of the expected count.
            spread = 6 * (total * fraction * (1 - fraction)) ** 0.5 + 2
            assert abs(sample.size - total * fraction) <= spread
    assert not np.array_equal(_sampled(path, 0.01, 1), _sampled(path, 0.01, 2))


def test_sample_through_the_cli(images: dict[str, WipeImage], capsys: Any) -> None:
    built = images["job"]
    rc, doc = verify(capsys, built.path, "--sample", "10", "--seed", "7")
    sampling = doc["sampling"]
    assert sampling["mode"] == "sample" and sampling["percent"] == 10.0
    assert sampling["seed"] == 7 and sampling["first_and_last_read"] is True
    assert sampling["sectors_read"] == sum(doc["counts"].values())
    assert abs(sampling["sectors_read"] - SECTORS / 10) < 6 * (SECTORS * 0.09) ** 0.5
    assert any("10 % sample" in reason for reason in doc["verdict"]["reasons"])
    # The same seed draws the same sectors: the same counts and regions.
    rc2, again = verify(capsys, built.path, "--sample", "10%", "--seed", "7")
    assert (rc2, again["counts"], again["regions"]) == (rc, doc["counts"], doc["regions"])
    assert again["sampling"] == sampling
    # A sample is exit 1 only if it met the job's sectors; whatever it met is structured.
    assert rc == (1 if doc["counts"]["structured"] else 0)
    # No --seed: a random one is drawn and reported so the run can be repeated.
    _, unseeded = verify(capsys, built.path, "--sample", "5")
    assert isinstance(unseeded["sampling"]["seed"], int)


def test_full_sample_is_a_full_read(images: dict[str, WipeImage], capsys: Any) -> None:
    _, doc = verify(capsys, images["job"].path, "--sample", "100")
    assert doc["sampling"]["mode"] == "full" and doc["sampling"]["sectors_read"] == SECTORS


# --- exit codes and input errors -----------------------------------------------------------


def _error(capsys: Any, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d / "missing.img",
        lambda d: d,  # a folder
        lambda d: _write(d / "empty.img", b""),
        lambda d: _write(d / "tiny.img", b"not a disk image\n" * 6),
        lambda d: _write(d / "broken.E01", b"EVF\x09\x0d\x0a\xff\x00" + bytes(600)),
    ],
    ids=["missing", "folder", "empty", "tiny", "broken-e01"],
)
def test_input_errors_exit_2_with_one_line(tmp_path: Path, capsys: Any, make: Any) -> None:
    path = make(tmp_path)
    rc = main(["verify-wipe", str(path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("pfa: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "extra",
    [
        ["--sample", "0"],
        ["--sample", "101"],
        ["--sample", "ten"],
        ["--seed", "3"],
        ["--sample", "5", "--seed", "-1"],
        ["--map", "/nonexistent-folder/map.png"],
    ],
)
def test_bad_options_exit_2(images: dict[str, WipeImage], capsys: Any, extra: list[str]) -> None:
    rc = main(["verify-wipe", str(images["zero"].path), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("pfa: error: ") and "Traceback" not in err


def test_usage_error_exits_2(capsys: Any) -> None:
    code, err = _error(capsys, "verify-wipe")
    assert code == 2 and "usage:" in err


def test_console_output(images: dict[str, WipeImage], capsys: Any) -> None:
    rc = main(["verify-wipe", str(images["job"].path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "verdict: residual-data" in out
    assert "structured regions (2)" in out
    assert str(builders.WIPE_JOB_HEAD_AT) in out
    assert "payroll" not in out and "MB/s" in out
    assert main(["verify-wipe", str(images["zero"].path), "-q"]) == 0
    assert capsys.readouterr().out == ""


# --- E01 and unreadable media --------------------------------------------------------------


def test_e01_gives_the_same_result_as_raw(
    images: dict[str, WipeImage], tmp_path: Path, capsys: Any
) -> None:
    built = images["job"]
    target = tmp_path / "job"
    subprocess.run(
        ["ewfacquire", "-u", "-q", "-t", str(target), "-f", "encase6", "-c", "deflate:fast",
         "-S", "1MiB", "-C", "PFA", "-D", "wipe test", "-E", "1", "-e", "tests", "-N", "-",
         str(built.path)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    e01 = target.with_name("job.E01")
    segments = sorted(tmp_path.glob("job.E*"))
    before = [sha256(s) for s in segments]
    rc_raw, raw = verify(capsys, built.path)
    rc_e01, ewf = verify(capsys, e01)
    assert [sha256(s) for s in segments] == before
    assert rc_e01 == rc_raw == 1
    assert ewf["image"]["format"] == "ewf"
    assert ewf["counts"] == raw["counts"] and ewf["regions"] == raw["regions"]


def test_split_image_with_the_job_head_across_segments(
    images: dict[str, WipeImage], tmp_path: Path, capsys: Any
) -> None:
    built = images["job"]
    head_at = built.written[0][0]
    # Segments end one sector into the job's head: its two sectors lie in two files.
    subprocess.run(
        ["split", "-d", "-a", "3", "--numeric-suffixes=1", "-b", str(head_at + 512),
         str(built.path), str(tmp_path / "job.")],
        check=True,
    )  # fmt: skip
    rc_raw, raw = verify(capsys, built.path)
    rc_split, split = verify(capsys, tmp_path / "job.001")
    assert split["image"]["format"] == "split-raw"
    assert rc_split == rc_raw == 1
    assert split["counts"] == raw["counts"] and split["regions"] == raw["regions"]


class _FailingImage(RawImage):
    """A raw image whose bytes in ``[bad_start, bad_end)`` cannot be read, as on a bad disk."""

    def __init__(self, path: Path, bad_start: int, bad_end: int) -> None:
        super().__init__(path)
        self.bad = (bad_start, bad_end)

    def _read(self, offset: int, size: int) -> bytes:
        if offset < self.bad[1] and offset + size > self.bad[0]:
            raise ImageReadError(f"I/O error at offset {offset}")
        return super()._read(offset, size)


def test_unreadable_sectors_are_counted_not_classified(images: dict[str, WipeImage]) -> None:
    built = images["job"]
    head_at, head_length = built.written[0]
    bad_end = head_at + head_length + 3 * 512  # the job's head and three zero sectors after it
    with _FailingImage(built.path, head_at, bad_end) as image:
        result = wipe.verify_wipe(image)
    assert result.unreadable_sectors == 5
    assert result.unreadable_ranges == ((head_at, bad_end - head_at),)
    assert result.counts == counts(zero=SECTORS - 7, structured=2)
    assert [(r.offset, r.length) for r in result.regions] == [built.written[1]]
    assert result.verdict == "residual-data"
    assert "5 sector(s) could not be read and are not verified" in result.reasons
    assert result.bytes_read == built.size - 5 * 512


def test_unreadable_sectors_on_a_zero_disk(images: dict[str, WipeImage]) -> None:
    with _FailingImage(images["zero"].path, 4096, 8192) as image:
        result = wipe.verify_wipe(image)
    assert result.verdict == "wiped"  # what could be read is zero, and the rest is reported
    assert (
        result.unreadable_sectors == 8 and result.counts["zero"] == images["zero"].size // 512 - 8
    )
    assert any("could not be read" in reason for reason in result.reasons)


# --- the map -------------------------------------------------------------------------------


def _pixel(picture: PILImage.Image, strip: int, x: int) -> tuple[int, int, int]:
    left, top, _right, bottom = wipe.strip_box(strip)
    return picture.getpixel((left + x, (top + bottom) // 2))  # type: ignore[return-value]


def _x(offset: int, start: int, length: int, width: int = 1024) -> int:
    return (offset - start) * width // length


def test_map_png(images: dict[str, WipeImage], tmp_path: Path, capsys: Any) -> None:
    built = images["ext4"]
    png = tmp_path / "map.png"
    rc, doc = verify(capsys, built.path, "--map", str(png))
    assert rc == 1 and doc["map"] == str(png)
    picture = PILImage.open(png)
    assert picture.format == "PNG" and picture.mode == "RGB"
    volumes = doc["volumes"]  # gap, p1, gap, p2, gap
    assert [v["kind"] for v in volumes] == ["gap", "partition", "gap", "partition", "gap"]
    strips = 1 + len(volumes)
    assert picture.size == (
        wipe.MAP_LEFT + 1024 + wipe.MAP_RIGHT,
        wipe.MAP_TOP + strips * wipe.STRIP_PITCH + wipe.LEGEND_HEIGHT,
    )
    zero, structured = wipe.CLASS_COLOURS["zero"], wipe.CLASS_COLOURS["structured"]
    size = built.size
    p1, p2 = volumes[1], volumes[3]
    middle_p2 = p2["offset"] + p2["length"] // 2
    # Whole-disk strip: the MBR at the left edge, partition 2 blank in its middle.
    assert _pixel(picture, 0, 0) == structured
    assert _pixel(picture, 0, _x(middle_p2, 0, size)) == zero
    # One strip per volume (strip 1 + volume index).
    assert _pixel(picture, 1 + 3, 512) == zero
    job_offset = built.written[0][0]
    assert _pixel(picture, 1 + 1, _x(job_offset, p1["offset"], p1["length"])) == structured
    assert _pixel(picture, 1 + 1, _x(p1["offset"] + 1024, p1["offset"], p1["length"])) == (
        structured
    )
    assert _pixel(picture, 1 + 2, 512) == zero  # the gap between the partitions
    # Residual regions are marked under their strip.
    left, _top, _right, bottom = wipe.strip_box(1 + 1)
    mark_x = left + _x(job_offset, p1["offset"], p1["length"])
    assert picture.getpixel((mark_x, bottom + 4)) == wipe.REGION_MARK_COLOUR
    # A partition boundary line on the whole-disk strip.
    boundary = wipe.strip_box(0)[0] + _x(p1["offset"], 0, size)
    assert picture.getpixel((boundary, wipe.strip_box(0)[1] + 2)) == wipe.BOUNDARY_COLOUR


def test_map_of_random_and_of_a_sample(
    images: dict[str, WipeImage], tmp_path: Path, capsys: Any
) -> None:
    built = images["random_boot"]
    png = tmp_path / "full.png"
    verify(capsys, built.path, "--map", str(png))
    picture = PILImage.open(png)
    assert _pixel(picture, 1 + 1, 512) == wipe.CLASS_COLOURS["random"]  # partition 1
    sampled = tmp_path / "sample.png"
    verify(capsys, built.path, "--sample", "1", "--seed", "3", "--map", str(sampled))
    strip = np.asarray(PILImage.open(sampled))[
        wipe.strip_box(0)[1] + 2, wipe.MAP_LEFT : wipe.MAP_LEFT + 1024
    ]
    colours = {tuple(int(c) for c in pixel) for pixel in strip}
    assert wipe.NOT_READ_COLOUR in colours and wipe.CLASS_COLOURS["random"] in colours


def test_map_size_is_bounded(tmp_path: Path) -> None:
    """An MBR with 40 logical partitions: the picture still has at most MAX_STRIPS strips."""
    image = tmp_path / "many.img"
    subprocess.run(["truncate", "-s", "128M", str(image)], check=True)
    script = "label: dos\nunit: sectors\n\nstart=2048, type=5\n" + "".join(
        "size=2048, type=83\n" for _ in range(40)
    )
    subprocess.run(
        ["sfdisk", "-q", "--no-reread", "--no-tell-kernel", str(image)],
        input=script.encode(),
        check=True,
        capture_output=True,
    )
    with open_evidence(image) as opened:
        result = wipe.verify_wipe(opened)
    assert len(result.layout.volumes) > wipe.MAX_STRIPS
    png = tmp_path / "many.png"
    wipe.draw_map(result, png)
    width, height = PILImage.open(png).size
    assert (width, height) == wipe.map_size(result)
    assert height == wipe.MAP_TOP + wipe.MAX_STRIPS * wipe.STRIP_PITCH + wipe.LEGEND_HEIGHT


# --- masking -------------------------------------------------------------------------------


def test_preview_masks_letters_and_digits_but_not_signatures() -> None:
    data = b'\x1b%-12345X@PJL SET USERNAME="jdoe" SSN 536-22-8714 %!PS-Adobe-3.0'
    masked = wipe.preview_text(data, reveal=False)
    assert masked == '.%-12345X@PJL xxx xxxxxxxx="xxxx" xxx ###-##-#### %!PS-Adobe-#.#'
    assert wipe.preview_text(data, reveal=True) == data.decode().replace("\x1b", ".")
