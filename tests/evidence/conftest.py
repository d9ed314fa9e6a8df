"""Helpers that build test images with real tools (sfdisk, sgdisk, mke2fs, ewfacquire ...)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

MiB = 1024 * 1024


def run(*args: str | os.PathLike[str], stdin: str | None = None, cwd: Path | None = None) -> str:
    """Run a tool, failing the test with its stderr when it fails."""
    proc = subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, text=True, cwd=cwd, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def patterned_file(path: Path, size: int) -> Path:
    """A file whose every 512-byte block is distinct (position-dependent, plus random bytes)."""
    with open(path, "wb") as fh:
        block = 0
        written = 0
        while written < size:
            chunk = (f"block {block:010d} ".encode() * 32)[:496] + os.urandom(16)
            chunk = chunk[: size - written]
            fh.write(chunk)
            written += len(chunk)
            block += 1
    return path


def blank_image(path: Path, size: int) -> Path:
    run("truncate", "-s", str(size), path)
    return path


def ewf_acquire(source: Path, target: Path, segment: str = "1MiB") -> Path:
    """Make an E01 set of ``source`` (``target`` has no extension); returns the .E01 path."""
    need("ewfacquire")
    run(
        "ewfacquire",
        "-u",  # unattended
        "-q",
        "-t",
        target,
        "-f",
        "encase6",
        "-c",
        "deflate:fast",
        "-S",
        segment,
        "-d",
        "sha1",
        source,
    )
    return target.with_name(target.name + ".E01")


class Tools:
    """The helpers above, handed to tests through the ``tools`` fixture."""

    MiB = MiB
    run = staticmethod(run)
    need = staticmethod(need)
    file_digest = staticmethod(file_digest)
    patterned_file = staticmethod(patterned_file)
    blank_image = staticmethod(blank_image)
    ewf_acquire = staticmethod(ewf_acquire)


@pytest.fixture
def tools() -> Tools:
    return Tools()


@pytest.fixture
def mbr_image(tmp_path: Path) -> Path:
    """64 MiB MBR disk: two primaries and an extended partition holding two logicals."""
    need("sfdisk")
    img = blank_image(tmp_path / "mbr.img", 64 * MiB)
    script = (
        "label: dos\n"
        "start=2048, size=16384, type=83\n"
        "start=18432, size=20480, type=c\n"
        "start=40960, size=81920, type=5\n"
        "start=43008, size=20480, type=83\n"
        "start=65536, size=30000, type=82\n"
    )
    run("sfdisk", "-q", img, stdin=script)
    return img


@pytest.fixture
def gpt_image(tmp_path: Path) -> Path:
    """32 MiB GPT disk with three named partitions."""
    need("sgdisk")
    img = blank_image(tmp_path / "gpt.img", 32 * MiB)
    # note: sgdisk needs -o on a blank file; with -q it may silently write nothing
    run(
        "sgdisk",
        "-o",
        "-n",
        "1:2048:+4M",
        "-t",
        "1:ef00",
        "-c",
        "1:EFI sys",
        "-n",
        "2:0:+8M",
        "-t",
        "2:8300",
        "-c",
        "2:spool",
        "-n",
        "3:0:+6M",
        "-t",
        "3:0700",
        "-c",
        "3:data",
        img,
    )
    return img
