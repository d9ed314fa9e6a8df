"""The fixture builders produce images whose oracle holds, checked independently with TSK."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# fixtures/ is a repo-level helper package, not installed: make it importable when pytest is
# started as `.venv/bin/pytest` (which, unlike `python -m pytest`, does not add the cwd).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures import secrets
from fixtures.builders import (
    BUILDERS,
    DEMO_DIR,
    DEMO_NAME,
    LOCATION_CLASSES,
    BuiltImage,
    Planted,
    build_demo,
    manifest,
    verify,
)

SECTOR = 512
HAVE_TSK = all(shutil.which(t) for t in ("fls", "icat", "blkstat", "fsstat"))
needs_tsk = pytest.mark.skipif(not HAVE_TSK, reason="sleuthkit CLI tools not installed")


# --------------------------------------------------------------------------- helpers


def read_logical(built: BuiltImage, offset: int, length: int) -> bytes:
    """Read image bytes without the builders' own reader (raw, split or EWF)."""
    if built.kind == "raw":
        with built.path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)
    if built.kind == "split":
        whole = b"".join(s.read_bytes() for s in built.segments)
        return whole[offset : offset + length]
    import pyewf

    handle = pyewf.handle()
    handle.open([str(s) for s in built.segments])
    try:
        handle.seek(offset)
        return bytes(handle.read(length))
    finally:
        handle.close()


def whole_image(built: BuiltImage) -> bytes:
    """Every logical byte of the image."""
    return read_logical(built, 0, built.media_size)


def tsk_args(built: BuiltImage, offset: int) -> list[str]:
    """Image-type, offset and image-file arguments for a TSK tool."""
    args = ["-o", str(offset // SECTOR)]
    if built.kind == "ewf":
        return [*args, "-i", "ewf", str(built.path)]
    if built.kind == "split":
        return [*args, "-i", "raw", *(str(s) for s in built.segments)]  # TSK's raw reads splits
    return [*args, "-i", "raw", str(built.path)]


def tsk(
    tool: str, built: BuiltImage, offset: int, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    """Run a TSK tool against the volume at ``offset`` (image args, then ``extra``)."""
    return subprocess.run(
        [tool, *tsk_args(built, offset), *extra],
        capture_output=True,
        check=False,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )


def volume_of(built: BuiltImage, planted: Planted) -> int:
    """Offset of the partition holding ``planted`` (0 for a bare file system)."""
    for off, length in built.partitions:
        if off <= planted.image_offset < off + length:
            return off
    assert not built.partitions, f"{planted} lies outside every partition"
    return 0


def fs_unit(built: BuiltImage, volume: int) -> int:
    """TSK's block address unit: ext block size, or the sector size for FAT."""
    out = tsk("fsstat", built, volume).stdout.decode(errors="replace")
    m = re.search(r"^Block Size: (\d+)", out, re.M) or re.search(r"^Sector Size: (\d+)", out, re.M)
    assert m, out
    return int(m.group(1))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltImage]:
    """Every fixture image, built once per module into its own directory."""
    out: dict[str, BuiltImage] = {}
    for name, builder in BUILDERS.items():
        out[name] = builder(tmp_path_factory.mktemp(name))
    return out


NAMES = sorted(BUILDERS)


# --------------------------------------------------------------------------- oracle


@pytest.mark.parametrize("name", NAMES)
def test_self_check_and_oracle(built_images: dict[str, BuiltImage], name: str) -> None:
    built = built_images[name]
    verify(built)  # the builder's own self-check, re-run
    assert built.path.exists()
    assert built.media_size > 0
    for p in built.planted:
        assert p.location_class in LOCATION_CLASSES
        assert read_logical(built, p.image_offset, len(p.encoded)) == p.value.encode(p.encoding)
        if p.location_class in ("allocated", "deleted", "slack"):
            assert p.path and p.path.startswith("/") and p.inode, p
        else:
            assert p.path is None and p.inode is None, p
    if name != "all_zero":
        assert built.planted


@pytest.mark.parametrize("name", NAMES)
def test_lost_values_are_absent(built_images: dict[str, BuiltImage], name: str) -> None:
    built = built_images[name]
    data = whole_image(built)
    for value in built.lost:
        assert value.encode() not in data
    for value in built.negatives:
        assert value.encode() in data


def test_negatives_in_ext2_and_demo(built_images: dict[str, BuiltImage]) -> None:
    assert built_images["ext2_deleted"].negatives == secrets.NEGATIVES
    assert built_images["demo"].negatives == secrets.NEGATIVES


def test_unpartitioned_values_lie_outside_partitions(built_images: dict[str, BuiltImage]) -> None:
    seen = 0
    for built in built_images.values():
        for p in built.planted:
            if p.location_class == "unpartitioned":
                seen += 1
                for off, length in built.partitions:
                    assert not off <= p.image_offset < off + length
    assert seen >= 2


def test_all_zero(built_images: dict[str, BuiltImage]) -> None:
    built = built_images["all_zero"]
    assert built.media_size == 8 * 1024 * 1024
    assert whole_image(built) == bytes(built.media_size)


def test_container_formats(built_images: dict[str, BuiltImage]) -> None:
    e01 = built_images["e01"]
    assert e01.kind == "ewf" and e01.path.suffix == ".E01" and len(e01.segments) > 1
    split = built_images["split_raw"]
    assert split.kind == "split" and split.path.name == "split_raw.001"
    boundary = split.segments[0].stat().st_size
    assert any(p.image_offset + len(p.encoded) > boundary for p in split.planted)
    assert any(p.image_offset < boundary < p.image_offset + len(p.encoded) for p in split.planted)
    # Both containers hold exactly the mbr_extended disk.
    raw = built_images["mbr_extended"]
    assert whole_image(e01) == whole_image(split) == whole_image(raw)
    assert e01.planted == split.planted == raw.planted


def test_truncated_and_past_end(built_images: dict[str, BuiltImage]) -> None:
    truncated = built_images["truncated"]
    assert truncated.lost and truncated.scheme == "gpt"
    past = built_images["partition_past_end"]
    off, length = past.partitions[-1]
    assert off + length > past.media_size


# --------------------------------------------------------------------------- TSK cross-check


@needs_tsk
@pytest.mark.parametrize("name", NAMES)
def test_tsk_agrees_with_oracle(built_images: dict[str, BuiltImage], name: str) -> None:
    built = built_images[name]
    for p in built.planted:
        if p.location_class == "unpartitioned":
            continue  # no volume to ask TSK about; see test_unpartitioned_values_lie_outside...
        volume = volume_of(built, p)
        needle = p.value.encode(p.encoding)
        if p.location_class in ("allocated", "deleted", "slack"):
            res = tsk("fls", built, volume, "-r", "-p")
            listing = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
            mark = r"\* " if p.location_class == "deleted" else ""
            line = rf"^\S+ {mark}{p.inode}:\t{re.escape(p.path.lstrip('/'))}$"  # type: ignore[union-attr]
            assert re.search(line, listing, re.M), f"{p} not in fls:\n{listing}"
            data = tsk("icat", built, volume, str(p.inode)).stdout
            if p.location_class == "slack":
                assert needle not in data
                assert needle in tsk("icat", built, volume, "-s", str(p.inode)).stdout
            else:
                assert needle in data, p
        elif p.location_class == "unallocated":
            unit = fs_unit(built, volume)
            addr = (p.image_offset - volume) // unit
            out = tsk("blkstat", built, volume, str(addr)).stdout.decode(errors="replace")
            assert "Not Allocated" in out, f"{p}: {out}"
        elif p.location_class == "raw":
            assert tsk("fls", built, volume).returncode != 0


@needs_tsk
def test_tsk_view_of_deletions(built_images: dict[str, BuiltImage]) -> None:
    # ext4: rm + clri leaves a stale name without data; TSK cannot read the content.
    ext4 = built_images["ext4_unallocated"]
    listing = tsk("fls", ext4, 0, "-r", "-p").stdout.decode()
    m = re.search(r"^r/- \* (\d+):\tspool/job0008\.prn$", listing, re.M)
    assert m, listing
    assert tsk("icat", ext4, 0, m.group(1)).stdout == b""
    # FAT: the deleted CONTACTS.CSV is shown with its first letter replaced by "_".
    fat = built_images["fat16_slack"]
    assert "r/r * 6:\t_ONTACTS.CSV" in tsk("fls", fat, 0, "-r", "-p").stdout.decode()


# --------------------------------------------------------------------------- demo


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_is_deterministic_and_committed(tmp_path: Path) -> None:
    first = build_demo(tmp_path / "a")
    second = build_demo(tmp_path / "b")
    assert _sha(first.path) == _sha(second.path)
    committed = DEMO_DIR / f"{DEMO_NAME}.img"
    assert committed.exists(), "run: python -m fixtures build-demo"
    assert _sha(first.path) == _sha(committed)
    assert committed.stat().st_size <= 16 * 1024 * 1024
    on_disk = json.loads((DEMO_DIR / f"{DEMO_NAME}.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest(first)))


def test_demo_contents(built_images: dict[str, BuiltImage]) -> None:
    demo = built_images["demo"]
    classes = {p.location_class for p in demo.planted}
    assert {"allocated", "deleted", "unallocated"} <= classes
    values = {p.value for p in demo.planted}
    assert {
        secrets.PASSWORD_LINE,
        secrets.EMAIL,
        secrets.PHONE,
        secrets.HOLDKEY_PJL,
        secrets.CARD_VISA,
        secrets.SSN,
        secrets.PATIENT_LINE,
        secrets.MARKING,
    } <= values
    assert demo.scheme == "mbr" and len(demo.partitions) == 2
