#!/usr/bin/env python3
"""Benchmark ``pfa scan`` against the ``yara`` CLI and ``cat`` on printer-like disk images.

Builds deterministic (seeded) MBR disk images with real tools (sfdisk, mkfs.vfat + mcopy,
mke2fs -d, debugfs), then measures wall time and peak RSS of ``cat``, ``yara`` with the shipped
rules, and ``pfa scan``: the default scan with and without hashing, and ``--no-ocr``,
``--no-pages`` and ``--no-jobs`` without hashing (as issue 11 measures them). Run it from the repository root::

    .venv/bin/python bench/bench_scan.py [--sizes 256M,1G] [--workdir bench/work] [--keep]

See bench/README.md for what is built and measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fixtures import secrets, tools  # noqa: E402  (the repository root must be importable first)
from fixtures.tools import FAKE_TIME, FixtureError, tool_env  # noqa: E402

BUILD_VERSION = 1  # bump when the image recipe changes: --reuse then rebuilds
MIB = 1 << 20
SECTOR = 512
BLOCK = 4096
DEFAULT_SEED = 20231114
DEFAULT_SIZES = "256M,1G"
RULES_DIR = ROOT / "yara_rules"
TIME_BIN = Path("/usr/bin/time")
# Requirement checked by the benchmark.
# Issue 11's goals: throughput of each pfa mode as a share of the yara CLI's, peak RSS.
MIN_YARA_FRACTION = {
    "pfa": 0.1,  # default: jobs, carving, pages, OCR
    "pfa-nohash": 0.1,
    "pfa-noocr": 0.3,
    "pfa-nopages": 0.5,
    "pfa-nojobs": 1.0,
}
MAX_RSS_MIB = 256.0
PFA_RUNS = tuple(MIN_YARA_FRACTION)


# Share of each region that the builder fills (the rest stays zero, as on a used printer disk).
EXT4_FILE_SHARE = 0.48  # job files written into the spool file system
EXT2_FILE_SHARE = 0.42
FS_NOISE_SHARE = 0.10  # old residue laid down before mke2fs: survives in free blocks
FAT_FILE_SHARE = 0.30
FAT_NOISE_SHARE = 0.20  # residue written into the FAT's free clusters afterwards
RAW_NOISE_SHARE = 0.80  # the non-FS data partition and the unpartitioned tail
EXT4_DELETE = 0.20  # share of spool jobs deleted with debugfs rm
EXT2_DELETE = 0.15
SECRET_LINE_RATE = 0.006  # share of text lines that carry a sensitive value

LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris "
    "nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse "
    "cillum fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui "
    "officia deserunt mollit anim id est laborum quarterly report invoice meeting agenda draft "
    "memo budget review contract schedule page copy scan fax"
)
FIRST_NAMES = "anna ben carla david eva frank gina hugo ines jan karin lukas mia nora otto paula"
LAST_NAMES = "meyer schmidt novak rossi garcia smith jones weber fischer dubois kowalski berg"
WORDS = tuple(LOREM.split())
FIRST = tuple(FIRST_NAMES.split())
LAST = tuple(LAST_NAMES.split())
DOMAINS = ("clinic.example.org", "corp.example.com", "lawfirm.example.net", "city.example.gov")
CARD_PREFIXES = (("4556", 16), ("4916", 16), ("4532", 16), ("5378", 16), ("5425", 16), ("3714", 15))
ESC = "\x1b"
UEL = "\x1b%-12345X"


# --------------------------------------------------------------------------- tools


class BenchError(RuntimeError):
    """A tool failed or a measurement could not be taken."""


def run(args: Sequence[str | os.PathLike[str]], work: Path, stdin: bytes | None = None) -> str:
    """Run one tool with the fixtures' pinned environment; BenchError with its stderr on failure."""
    try:
        return tools.run(args, work=work, stdin=stdin)
    except FixtureError as exc:
        raise BenchError(str(exc)) from exc


def debugfs_script(fs_img: Path, commands: Sequence[str], work: Path) -> None:
    """Run many debugfs commands in one writable session; debugfs exits 0 on errors."""
    script = ("\n".join(commands) + "\n").encode()
    proc = subprocess.run(
        ["debugfs", "-w", "-f", "-", os.fspath(fs_img)],
        input=script,
        capture_output=True,
        env=tool_env(work),
    )
    errors = [
        line
        for line in proc.stderr.decode(errors="replace").splitlines()
        if line.strip() and not re.match(r"^debugfs \d", line)
    ]
    if proc.returncode != 0 or errors:
        raise BenchError(f"debugfs on {fs_img}: {'; '.join(errors[:5])}")


# --------------------------------------------------------------------------- content


def luhn_complete(prefix_digits: str) -> str:
    """Append the Luhn check digit."""
    total = 0
    for index, ch in enumerate(reversed(prefix_digits)):
        value = int(ch)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return prefix_digits + str((10 - total % 10) % 10)


class Content:
    """Seeded generators of printer-disk content: PJL/PCL jobs, raster, logs, noise."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lines = [self._lorem_line() for _ in range(1024)]
        self.rows = [self._raster_row(620) for _ in range(192)]
        self.users = [f"{f}.{last}" for f in FIRST for last in LAST[:4]]

    # --- small pieces -----------------------------------------------------------------------

    def _lorem_line(self) -> str:
        """A filler sentence, now and then with harmless numbers."""
        rng = self.rng
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
        line = " ".join(words).capitalize() + "."
        if rng.random() < 0.15:
            line += f" Ref {rng.randint(2019, 2023)}-{rng.randint(1, 9999):04d}, total {rng.randint(10, 99999)}.{rng.randint(0, 99):02d}"
        return line

    def _raster_row(self, width: int) -> bytes:
        """One 1-bpp raster row: mostly white with black runs and some halftone."""
        rng = self.rng
        row = bytearray(width)
        for _ in range(rng.randint(0, 12)):
            start = rng.randrange(width)
            end = min(width, start + rng.randint(1, 80))
            fill = rng.choice((0xFF, 0xAA, 0x55, 0xF0, 0x0F, rng.randrange(256)))
            row[start:end] = bytes([fill]) * (end - start)
        return bytes(row)

    def user(self) -> str:
        """A user name as drivers put it in PJL headers."""
        return self.rng.choice(self.users)

    def ssn(self) -> str:
        """A structurally valid SSN (the planted one 30 % of the time)."""
        rng = self.rng
        if rng.random() < 0.3:
            return secrets.SSN
        area = rng.choice([a for a in range(1, 900) if a != 666])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"

    def card(self) -> str:
        """A Luhn-valid card number (a planted one 30 % of the time)."""
        rng = self.rng
        if rng.random() < 0.3:
            return rng.choice((secrets.CARD_VISA, secrets.CARD_MC, secrets.CARD_AMEX))
        prefix, length = rng.choice(CARD_PREFIXES)
        body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
        return luhn_complete(body)

    def email(self) -> str:
        """An e-mail address (the planted one 30 % of the time)."""
        rng = self.rng
        if rng.random() < 0.3:
            return secrets.EMAIL
        return f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{rng.choice(DOMAINS)}"

    def phone(self) -> str:
        """A NANP phone number (the planted one 30 % of the time)."""
        rng = self.rng
        if rng.random() < 0.3:
            return secrets.PHONE
        return f"({rng.randint(201, 989)}) 555-{rng.randint(100, 9999):04d}"

    def sensitive_line(self) -> str:
        """A line carrying one sensitive value (or, rarely, a negative control)."""
        rng = self.rng
        kind = rng.randrange(13)
        if kind == 0:
            return f"Employee SSN: {self.ssn()}"
        if kind == 1:
            return f"Social Security No. {self.ssn().replace('-', ' ')} (verify)"
        if kind == 2:
            return f"Card number: {self.card()}  Exp: 0{rng.randint(1, 9)}/2{rng.randint(5, 9)}"
        if kind == 3:
            card = self.card()
            grouped = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
            return f"Cardholder {rng.choice(LAST).title()}: {grouped}"
        if kind == 4:
            return f"E-mail: {self.email()}"
        if kind == 5:
            return f"Phone: {self.phone()}  Fax: n/a"
        if kind == 6:
            return f"Beneficiary IBAN: {secrets.IBAN}"
        if kind == 7:
            return f"Routing number (ABA): {secrets.ABA}"
        if kind == 8:
            return secrets.PATIENT_LINE
        if kind == 9:
            return f"{secrets.MARKING} - handle accordingly"
        if kind == 10:
            return secrets.PASSWORD_LINE
        if kind == 11:
            return f"Scan to: {self.email()}  cc: {self.email()}"
        return rng.choice(secrets.NEGATIVES).strip() or "Password: ********"

    def text_lines(self, count: int) -> list[str]:
        """``count`` filler lines, each sensitive with probability SECRET_LINE_RATE."""
        rng = self.rng
        return [
            self.sensitive_line() if rng.random() < SECRET_LINE_RATE else rng.choice(self.lines)
            for _ in range(count)
        ]

    # --- documents --------------------------------------------------------------------------

    def pjl_header(self, job: str, user: str, language: str = "PCL") -> bytes:
        """PJL job header, sometimes with a stored-job PIN, switching to ``language``."""
        rng = self.rng
        lines = [
            f'{UEL}@PJL JOB NAME="{job}"',
            f'@PJL SET USERNAME="{user}"',
            f'@PJL SET JOBNAME="{job}.docx"',
        ]
        if rng.random() < 0.1:
            lines += ["@PJL SET HOLD=ON", f'@PJL SET HOLDKEY="{rng.randint(1000, 9999)}"']
        lines += ["@PJL SET RESOLUTION=600", f"@PJL ENTER LANGUAGE={language}", ""]
        text = "\r\n".join(lines) + f"{ESC}E{ESC}&l0O{ESC}(s0p12h10v0s0b3T"
        return text.encode("latin-1")

    def pjl_trailer(self, job: str) -> bytes:
        """PCL reset plus PJL end-of-job."""
        return f'{ESC}E{UEL}@PJL EOJ NAME="{job}"\r\n{UEL}'.encode("latin-1")

    def pcl_text(self, lines: Sequence[str]) -> bytes:
        """PCL text, 60 positioned lines per page."""
        out = []
        for i, line in enumerate(lines):
            row = i % 60 + 1
            if row == 1 and i:
                out.append("\x0c")
            out.append(f"{ESC}&a{row}R{line}\r\n")
        return "".join(out).encode("latin-1")

    def text_job(self, job: str) -> Iterator[bytes]:
        """A PJL/PCL text job of 40-900 lines."""
        yield self.pjl_header(job, self.user())
        yield self.pcl_text(self.text_lines(self.rng.randint(40, 900)))
        yield self.pjl_trailer(job)

    def raster(self, length: int) -> Iterator[bytes]:
        """PCL raster pages: repeated 1-bpp rows, with some compressed (random) blocks."""
        rng = self.rng
        done = 0
        while done < length:
            parts: list[bytes] = [f"{ESC}*r1A".encode()]
            size = 0
            while size < MIB and done + size < length:
                if rng.random() < 0.12:
                    n = rng.randint(4096, 65536)
                    block = f"{ESC}*b2m{n}W".encode() + rng.randbytes(n)
                else:
                    row = rng.choice(self.rows)
                    block = (f"{ESC}*b{len(row)}W".encode() + row) * rng.randint(1, 40)
                parts.append(block)
                size += len(block)
            parts.append(f"{ESC}*rB\x0c".encode())
            chunk = b"".join(parts)[: length - done]
            done += len(chunk)
            yield chunk

    def raster_job(self, job: str) -> Iterator[bytes]:
        """A PJL/PCL job: a few text lines, then 64 KiB-6 MiB of raster."""
        rng = self.rng
        yield self.pjl_header(job, self.user())
        yield self.pcl_text(self.text_lines(rng.randint(3, 30)))
        length = int(min(6 * MIB, max(64 * 1024, rng.lognormvariate(13.0, 0.9))))
        yield from self.raster(length)
        yield self.pjl_trailer(job)

    def postscript(self, title: str) -> Iterator[bytes]:
        """A PJL-wrapped DSC PostScript job."""
        rng = self.rng
        head = [
            "%!PS-Adobe-3.0",
            f"%%Title: ({title})",
            "%%Creator: (PrintDriver 5.2)",
            "%%EndComments",
            "/Courier findfont 11 scalefont setfont",
        ]
        yield (self.pjl_header(title, self.user(), "POSTSCRIPT") + "\n".join(head).encode())
        body = []
        for i, line in enumerate(self.text_lines(rng.randint(30, 400))):
            if i % 50 == 0:
                body.append(f"%%Page: {i // 50 + 1} {i // 50 + 1}")
            body.append(f"72 {720 - 14 * (i % 50)} moveto ({line}) show")
        yield ("\n" + "\n".join(body) + "\nshowpage\n%%EOF\n").encode("latin-1")
        yield self.pjl_trailer(title)

    def shadow(self, job: str) -> bytes:
        """Windows-style spool shadow (.SHD): binary header + UTF-16LE strings."""
        rng = self.rng
        document = f"{job}.docx"
        if rng.random() < 0.15:
            document = f"{rng.choice(('Payroll', 'Patient', 'Offer'))} {self.sensitive_line()}"
        strings = [self.user(), f"WS-{rng.randint(100, 999)}", document, "PRN-4F-EAST", "RAW"]
        header = bytes.fromhex("68490000") + (5).to_bytes(4, "little") + rng.randbytes(24)
        return header + b"".join(s.encode("utf-16le") + b"\x00\x00" for s in strings)

    def blob(self, length: int) -> Iterator[bytes]:
        """Compressed-looking binary (thumbnails, firmware): random bytes."""
        done = 0
        while done < length:
            n = min(MIB, length - done)
            yield self.rng.randbytes(n)
            done += n

    def log(self, jobs: int) -> bytes:
        """A job accounting log, some lines with a notification address."""
        rng = self.rng
        lines = []
        for i in range(jobs):
            day = 1 + i * 28 // max(1, jobs)
            extra = f" notify={self.email()}" if rng.random() < 0.1 else ""
            lines.append(
                f"2023-10-{day:02d}T{rng.randint(7, 19):02d}:{rng.randint(0, 59):02d}:00Z "
                f"job={i:05d} user={self.user()} pages={rng.randint(1, 80)} "
                f"status={rng.choice(('done', 'done', 'done', 'cancelled', 'held'))}{extra}"
            )
        return ("\n".join(lines) + "\n").encode()

    def address_book(self, contacts: int) -> bytes:
        """A scan-to-email address book export."""
        rows = ["DisplayName,Email,Phone,Department,Favorite"]
        for _ in range(contacts):
            name = f"{self.rng.choice(FIRST).title()} {self.rng.choice(LAST).title()}"
            rows.append(f'{name},{self.email()},"{self.phone()}",Dept {self.rng.randint(1, 40)},0')
        return ("\r\n".join(rows) + "\r\n").encode()

    def noise(self, length: int) -> Iterator[bytes]:
        """Residue of old jobs: random blocks, old text fragments with secrets, raster."""
        rng = self.rng
        done = 0
        while done < length:
            pick = rng.random()
            want = min(length - done, rng.randint(64 * 1024, 512 * 1024))
            if pick < 0.55:
                parts: Iterable[bytes] = self.blob(want)
            elif pick < 0.75:
                parts = [self.pcl_text(self.text_lines(max(1, want // 75)))]
            else:
                parts = self.raster(want)
            for part in parts:
                part = part[: length - done]
                if not part:
                    break
                done += len(part)
                yield part


# --------------------------------------------------------------------------- staging trees


@dataclass
class Tree:
    """Files written into a staging folder, ready for mke2fs -d or mcopy -s."""

    root: Path
    files: list[str] = field(default_factory=list)  # FS paths, e.g. /spool/jobs/j00001.pcl
    deletable: list[str] = field(default_factory=list)
    bytes: int = 0

    def write(self, fs_path: str, chunks: Iterable[bytes] | bytes, mtime: int) -> int:
        """Write one file from ``chunks`` (streaming) and return its size."""
        target = self.root / fs_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with open(target, "wb") as out:
            for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                out.write(chunk)
                written += len(chunk)
        os.utime(target, (mtime, mtime))
        self.files.append(fs_path)
        self.bytes += written
        return written

    def dirs(self) -> list[str]:
        """Every folder that holds a written file, as FS paths."""
        out: set[str] = set()
        for p in self.files:
            parts = p.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                out.add("/" + "/".join(parts[:i]))
        return sorted(out)

    def pin_dir_times(self) -> None:
        """Give every staged folder the fixed timestamp."""
        for d in sorted(self.dirs(), key=lambda p: p.count("/"), reverse=True):
            os.utime(self.root / d.lstrip("/"), (FAKE_TIME, FAKE_TIME))


def job_time(rng: random.Random) -> int:
    """A job's mtime: some moment in the 90 days before FAKE_TIME."""
    return FAKE_TIME - rng.randrange(90 * 86400)


def stage_spool(content: Content, root: Path, target: int) -> Tree:
    """The ext4 spool: PCL/PS/raster jobs, spool shadows, temp blobs and an accounting log."""
    rng = content.rng
    tree = Tree(root)
    n = 0
    while tree.bytes < target:
        n += 1
        job = f"j{n:05d}"
        pick = rng.random()
        when = job_time(rng)
        if pick < 0.45:
            path = f"/spool/jobs/{job}.pcl"
            tree.write(path, content.text_job(job), when)
        elif pick < 0.70:
            path = f"/spool/jobs/{job}.prn"
            tree.write(path, content.raster_job(job), when)
        elif pick < 0.85:
            path = f"/spool/jobs/{job}.ps"
            tree.write(path, content.postscript(job), when)
        else:
            path = f"/spool/tmp/{job}.bin"
            tree.write(path, content.blob(rng.randint(16 * 1024, MIB)), when)
        tree.deletable.append(path)
        if rng.random() < 0.5:
            shd = f"/spool/shd/{job}.SHD"
            tree.write(shd, content.shadow(job), when)
            tree.deletable.append(shd)
    tree.write("/var/log/jobs.log", content.log(n), FAKE_TIME)
    return tree


def stage_archive(content: Content, root: Path, target: int) -> Tree:
    """The ext2 archive: scanned pages, stored jobs, address-book backups, scan-to-mail logs."""
    rng = content.rng
    tree = Tree(root)
    n = 0
    while tree.bytes < target:
        n += 1
        month = 1 + n % 10
        when = job_time(rng)
        pick = rng.random()
        if pick < 0.55:
            path = f"/archive/2023-{month:02d}/scan{n:05d}.pcl"
            tree.write(path, content.text_job(f"scan{n:05d}"), when)
        elif pick < 0.95:
            path = f"/archive/2023-{month:02d}/scan{n:05d}.raw"
            tree.write(path, content.raster_job(f"scan{n:05d}"), when)
        elif pick < 0.98:
            path = f"/addressbook/backup{n:05d}.csv"
            tree.write(path, content.address_book(rng.randint(20, 150)), when)
        else:
            path = f"/logs/scan2mail.{n:05d}.log"
            tree.write(path, content.log(rng.randint(50, 800)), when)
        tree.deletable.append(path)
    return tree


def stage_config(content: Content, root: Path, target: int) -> Tree:
    """The FAT16 config partition: device settings, address book, logs, firmware blobs.

    Everything sits in the root folder: mcopy stamps the folders it creates with the current
    time, which would make the image differ from run to run.
    """
    rng = content.rng
    tree = Tree(root)
    device = [
        "; PRN-4F-EAST device configuration",
        "[network]",
        "hostname = PRN-4F-EAST",
        "[scan_to_folder]",
        "smb_server = fileserver",
        "User: svc-scanner",
        secrets.PASSWORD_LINE,
        "",
    ]
    tree.write("/device.cfg", "\n".join(device).encode(), FAKE_TIME)
    tree.write("/addrbook.csv", content.address_book(120), FAKE_TIME)
    tree.write("/addrbook.bak", content.address_book(100), FAKE_TIME)
    tree.deletable.append("/addrbook.bak")
    tree.write("/scan2mail.log", content.log(1000), FAKE_TIME)
    tree.write("/scan2mail.1", content.log(1000), FAKE_TIME)
    tree.deletable.append("/scan2mail.1")
    n = 0
    while tree.bytes < target:
        n += 1
        size = min(target - tree.bytes + 1, rng.randint(256 * 1024, 2 * MIB))
        tree.write(f"/fw_module{n:02d}.bin", content.blob(size), FAKE_TIME)
    return tree


# --------------------------------------------------------------------------- file systems


def write_noise(path: Path, content: Content, offset: int, length: int) -> None:
    """Write noise into an existing file at ``offset`` without truncating it."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        for chunk in content.noise(length):
            fh.write(chunk)


def prefill_noise(path: Path, content: Content, size: int, share: float) -> None:
    """Scatter extents of residue over a fresh file-system image before mke2fs."""
    rng = content.rng
    remaining = int(size * share)
    while remaining > 0:
        length = min(remaining, rng.randint(256 * 1024, 2 * MIB))
        offset = rng.randrange(MIB, size - length) // BLOCK * BLOCK
        write_noise(path, content, offset, length)
        remaining -= length


def make_ext(
    fs_img: Path,
    size: int,
    tree: Tree,
    *,
    fstype: str,
    label: str,
    uuid: str,
    delete: list[str],
    work: Path,
) -> None:
    """mke2fs -d the staging tree onto a noise-prefilled image, pin times, delete some files."""
    run(
        [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            fstype,
            "-b",
            str(BLOCK),
            "-L",
            label,
            "-U",
            uuid,
            "-E",
            f"nodiscard,lazy_itable_init=0,lazy_journal_init=0,hash_seed={uuid},root_owner=0:0",
            "-d",
            tree.root,
            fs_img,
            str(size // BLOCK),
        ],
        work,
    )
    # mke2fs -d copies the host's ctime and owner: pin them so the bytes do not depend on them.
    targets = ["/", "/lost+found", *tree.dirs(), *tree.files]
    commands = [
        f"sif {t} {name} {value}"
        for t in targets
        for name, value in (("ctime", f"@{FAKE_TIME}"), ("uid", "0"), ("gid", "0"))
    ]
    commands += [f"rm {p}" for p in delete]
    debugfs_script(fs_img, commands, work)


def make_fat(fs_img: Path, size: int, tree: Tree, delete: list[str], work: Path) -> None:
    """mkfs.vfat FAT16 + mcopy -m of the (flat) staging tree, then mdel some files."""
    fs_img.unlink(missing_ok=True)
    run(
        [
            "mkfs.vfat",
            "-C",
            "--invariant",
            "-i",
            "50464131",
            "-F",
            "16",
            "-s",
            "4",
            "-n",
            "PRNCONFIG",
            fs_img,
            str(size // 1024),
        ],
        work,
    )
    run(
        ["mcopy", "-m", "-i", fs_img, *[tree.root / p.lstrip("/") for p in tree.files], "::/"], work
    )
    for path in delete:
        run(["mdel", "-i", fs_img, f"::{path}"], work)


# --------------------------------------------------------------------------- the disk image


@dataclass(frozen=True)
class Region:
    """One stretch of the disk image (MiB aligned)."""

    name: str
    kind: str  # fat16 | ext4 | ext2 | raw | gap
    start: int
    length: int
    mbr_type: str = ""


def plan_layout(size: int) -> list[Region]:
    """FAT16 config, gap, ext4 spool, ext2 archive, raw non-FS data, unpartitioned tail."""
    m = size // MIB
    fat = 16 if m < 512 else 32
    ext2 = m * 22 // 100
    raw = max(4, m * 5 // 100)
    tail = max(2, m * 3 // 100)
    ext4 = m - 1 - fat - 1 - ext2 - raw - tail
    if ext4 < 32:
        raise BenchError(f"image size {m} MiB is too small (at least 128 MiB)")
    regions = []
    pos = 1
    for name, kind, mib, code in (
        ("config", "fat16", fat, "6"),
        ("gap", "gap", 1, ""),
        ("spool", "ext4", ext4, "83"),
        ("archive", "ext2", ext2, "83"),
        ("nvram", "raw", raw, "da"),
        ("tail", "gap", tail, ""),
    ):
        regions.append(Region(name, kind, pos * MIB, mib * MIB, code))
        pos += mib
    return regions


@dataclass
class BuiltImage:
    """What a build produced, kept as image.json beside the image."""

    path: str
    size: int
    seed: int
    build_version: int
    build_seconds: float
    files: int
    files_deleted: int
    file_bytes: int
    nonzero_share: float  # share of 4 KiB blocks that are not all zero
    sha256: str
    regions: list[dict[str, object]]


def survey(path: Path) -> tuple[float, str]:
    """Share of non-zero 4 KiB blocks and SHA-256 of the image, in one streaming pass."""
    digest = hashlib.sha256()
    nonzero = total = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(16 * MIB):
            digest.update(chunk)
            arr = np.frombuffer(chunk[: len(chunk) // BLOCK * BLOCK], dtype=np.uint64)
            blocks = arr.reshape(-1, BLOCK // 8)
            nonzero += int(np.count_nonzero(blocks.any(axis=1)))
            total += blocks.shape[0]
    return nonzero / max(1, total), digest.hexdigest()


def build_image(size: int, seed: int, workdir: Path) -> BuiltImage:
    """Build one printer-like disk image of ``size`` bytes; streaming, no loop devices."""
    started = time.perf_counter()
    label = size_label(size).replace(" ", "")
    image = workdir / f"printer-{label}.img"
    build = workdir / f"build-{label}"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    content = Content(random.Random(f"pfa-bench:{seed}:{size}"))
    regions = plan_layout(size)
    by_kind = {r.kind: r for r in regions if r.kind != "gap"}

    image.unlink(missing_ok=True)
    with open(image, "wb") as fh:
        fh.truncate(size)
    script = ["label: dos", "label-id: 0x50464131", "unit: sectors", ""]
    script += [
        f"start={r.start // SECTOR}, size={r.length // SECTOR}, type={r.mbr_type}"
        for r in regions
        if r.mbr_type
    ]
    run(
        ["sfdisk", "-q", "--no-reread", "--no-tell-kernel", image],
        build,
        stdin=("\n".join(script) + "\n").encode(),
    )

    files = deleted = file_bytes = 0
    # FAT16 config partition.
    fat = by_kind["fat16"]
    tree = stage_config(content, build / "stage-fat", int(fat.length * FAT_FILE_SHARE))
    fat_img = build / "config.fat"
    make_fat(fat_img, fat.length, tree, tree.deletable, build)
    noise_len = int(fat.length * FAT_NOISE_SHARE)
    write_noise(fat_img, content, fat.length - noise_len - MIB, noise_len)
    files, deleted, file_bytes = len(tree.files), len(tree.deletable), tree.bytes
    shutil.rmtree(tree.root)

    # ext4 spool and ext2 archive.
    for kind, stage, share, delete_share, uuid in (
        ("ext4", stage_spool, EXT4_FILE_SHARE, EXT4_DELETE, "5046a5b0-0000-4000-8000-000000000004"),
        (
            "ext2",
            stage_archive,
            EXT2_FILE_SHARE,
            EXT2_DELETE,
            "5046a5b0-0000-4000-8000-000000000002",
        ),
    ):
        region = by_kind[kind]
        fs_img = build / f"{region.name}.{kind}"
        with open(fs_img, "wb") as fh:
            fh.truncate(region.length)
        prefill_noise(fs_img, content, region.length, FS_NOISE_SHARE)
        tree = stage(content, build / f"stage-{kind}", int(region.length * share))
        tree.pin_dir_times()
        candidates = tree.deletable
        delete = sorted(content.rng.sample(candidates, int(len(candidates) * delete_share)))
        make_ext(
            fs_img,
            region.length,
            tree,
            fstype=kind,
            label=region.name.upper(),
            uuid=uuid,
            delete=delete,
            work=build,
        )
        files += len(tree.files)
        deleted += len(delete)
        file_bytes += tree.bytes
        shutil.rmtree(tree.root)

    # Place the file systems, then residue in the raw partition and the gaps.
    for region in regions:
        if region.kind in ("fat16", "ext4", "ext2"):
            src = build / f"{region.name}.{'fat' if region.kind == 'fat16' else region.kind}"
            run(
                [
                    "dd",
                    f"if={src}",
                    f"of={image}",
                    "bs=4M",
                    f"seek={region.start}",
                    "oflag=seek_bytes",
                    "conv=notrunc",
                    "status=none",
                ],
                build,
            )
            src.unlink()
        else:
            share = 1.0 if region.name == "gap" else RAW_NOISE_SHARE
            write_noise(image, content, region.start, int(region.length * share))
    shutil.rmtree(build)
    nonzero, sha256 = survey(image)
    built = BuiltImage(
        path=str(image),
        size=size,
        seed=seed,
        build_version=BUILD_VERSION,
        build_seconds=round(time.perf_counter() - started, 2),
        files=files,
        files_deleted=deleted,
        file_bytes=file_bytes,
        nonzero_share=round(nonzero, 4),
        sha256=sha256,
        regions=[asdict(r) for r in regions],
    )
    manifest(image).write_text(json.dumps(asdict(built), indent=2) + "\n")
    return built


def manifest(image: Path) -> Path:
    """The JSON manifest written beside an image."""
    return image.with_suffix(".json")


def reuse_image(size: int, seed: int, workdir: Path) -> BuiltImage | None:
    """A previously built image with the same recipe, if its manifest says so."""
    image = workdir / f"printer-{size_label(size).replace(' ', '')}.img"
    try:
        data = json.loads(manifest(image).read_text())
    except (OSError, ValueError):
        return None
    if (
        image.exists()
        and image.stat().st_size == size
        and data.get("seed") == seed
        and data.get("build_version") == BUILD_VERSION
    ):
        return BuiltImage(**data)
    return None


# --------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Sample:
    """One run of one command."""

    wall: float  # seconds
    cpu: float  # user + system seconds of the process
    rss_kib: int  # peak resident set size


@dataclass
class Run:
    """One measured command: median wall time and max peak RSS over its repetitions."""

    label: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)
    output_lines: int = 0

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def best(self) -> float:
        return min(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def rss_mib(self) -> float:
        return max(s.rss_kib for s in self.samples) / 1024


def measure(argv: Sequence[str], stdout_path: Path | None, ok: Sequence[int]) -> Sample:
    """Run ``argv`` once in a fresh process and measure it.

    With GNU time present its ``-v`` report gives peak RSS and CPU time; otherwise ``os.wait4``
    returns the rusage of exactly this child (not the max over all children of the benchmark).
    """
    out = open(stdout_path, "wb") if stdout_path else open(os.devnull, "wb")  # noqa: SIM115
    with out, tempfile.TemporaryDirectory(prefix="pfa-bench-") as tmp:
        err_path = Path(tmp) / "stderr"
        time_path = Path(tmp) / "time"
        use_time = TIME_BIN.exists()
        full = [str(TIME_BIN), "-v", "-o", str(time_path), *argv] if use_time else list(argv)
        with open(err_path, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(full, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            text = err_path.read_text(errors="replace").strip()[-2000:]
            raise BenchError(f"{' '.join(argv)} exited {proc.returncode}: {text}")
        if not use_time:
            return Sample(wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss))
        report = time_path.read_text(errors="replace")
        values = {}
        for key, pattern in (
            ("rss", r"Maximum resident set size \(kbytes\): (\d+)"),
            ("user", r"User time \(seconds\): ([\d.]+)"),
            ("sys", r"System time \(seconds\): ([\d.]+)"),
        ):
            match = re.search(pattern, report)
            if match is None:
                raise BenchError(f"no {key} in /usr/bin/time output: {report[-500:]}")
            values[key] = float(match.group(1))
        return Sample(wall, values["user"] + values["sys"], int(values["rss"]))


def rule_args() -> list[str]:
    """Every shipped rule file, each in its own namespace as pfa compiles them."""
    files = sorted(p for p in RULES_DIR.iterdir() if p.suffix in (".yar", ".yara"))
    if not files:
        raise BenchError(f"no rule files in {RULES_DIR}")
    return [f"pfa{i}_{p.stem}:{p}" for i, p in enumerate(files)]


def pfa_command() -> list[str]:
    """The pfa entry point of this virtualenv (``python -m forensics`` without one)."""
    exe = Path(sys.executable).parent / "pfa"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "forensics"]


def count_lines(path: Path) -> int:
    """Newlines in a file, read in 1 MiB pieces."""
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(MIB), b""))


@dataclass
class ImageResult:
    """All runs on one image plus pfa's findings and verdict."""

    image: BuiltImage
    runs: dict[str, Run]
    findings: int
    findings_no_hash: int
    verdict: str
    files_in_report: int
    deleted_in_report: int
    load: tuple[float, float]  # 1-minute load average before and after the runs
    profiles: dict[str, Any] = field(default_factory=dict)  # pfa run → report image.profile


def bench_image(built: BuiltImage, workdir: Path, repeat: int) -> ImageResult:
    """Warm the page cache, then measure every command ``repeat`` times, interleaved."""
    image = Path(built.path)
    label = size_label(built.size).replace(" ", "")
    yara_bin = shutil.which("yara")
    if yara_bin is None:
        raise BenchError("the yara CLI is not installed (apt-get install yara)")
    out_hash = workdir / f"out-{label}"
    out_nohash = workdir / f"out-{label}-nohash"
    yara_out = workdir / f"yara-{label}.txt"
    yara_s_out = workdir / f"yara-s-{label}.txt"
    runs = {
        "cat": Run("cat IMAGE > /dev/null", ["cat", str(image)]),
        "yara": Run("yara -w RULES IMAGE", [yara_bin, "-w", *rule_args(), str(image)]),
        "yara-s": Run("yara -w -s RULES IMAGE", [yara_bin, "-w", "-s", *rule_args(), str(image)]),
        "pfa": Run("pfa scan IMAGE -o OUT -q", [*pfa_command(), "scan", str(image)]),
        "pfa-nohash": Run(
            "pfa scan IMAGE -o OUT -q --no-hash", [*pfa_command(), "scan", str(image)]
        ),
        # The modes of issue 11's goals run with --no-hash, as the issue measured them: the
        # yara CLI hashes nothing, and MD5+SHA-1+SHA-256 alone cost more CPU than its scan.
        "pfa-noocr": Run(
            "pfa scan IMAGE -o OUT -q --no-hash --no-ocr", [*pfa_command(), "scan", str(image)]
        ),
        "pfa-nopages": Run(
            "pfa scan IMAGE -o OUT -q --no-hash --no-pages", [*pfa_command(), "scan", str(image)]
        ),
        "pfa-nojobs": Run(
            "pfa scan IMAGE -o OUT -q --no-hash --no-jobs", [*pfa_command(), "scan", str(image)]
        ),
    }
    runs["pfa"].argv += ["-o", str(out_hash), "-q"]
    runs["pfa-nohash"].argv += ["-o", str(out_nohash), "-q", "--no-hash"]
    modes = (("pfa-nopages", "--no-pages"), ("pfa-nojobs", "--no-jobs"), ("pfa-noocr", "--no-ocr"))
    for key, flag in modes:
        out = workdir / f"out-{label}-{key.removeprefix('pfa-')}"
        runs[key].argv += ["-o", str(out), "-q", "--no-hash", flag]
    be_bin = shutil.which("bulk_extractor")
    if be_bin is not None:
        # bulk_extractor refuses an output folder that exists: a fresh one for every run.
        be_out = workdir / f"be-{label}"
        runs["bulk_extractor"] = Run(
            "bulk_extractor -e accts -e email -o OUT IMAGE",
            ["sh", "-c", 'rm -rf "$1" && exec "$2" -e accts -e email -o "$1" "$3" >/dev/null',
             "sh", str(be_out), be_bin, str(image)],
        )  # fmt: skip
    stdout = {"yara": yara_out, "yara-s": yara_s_out}
    ok = {key: (0, 1) for key in PFA_RUNS}
    # Flush dirty pages first (a fresh build leaves ~1 GiB of them): writeback would otherwise
    # stall pfa's SQLite commits and make the first runs slow for reasons outside pfa.
    os.sync()
    # Byte-compile the package as a regular pip install does: with PYTHONDONTWRITEBYTECODE set
    # (as on the development VM) every run would otherwise compile ~100 modules from source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "forensics")], check=True)
    measure(["cat", str(image)], None, (0,))  # warm-up: every run then reads from page cache
    load_before = os.getloadavg()[0]
    for rep in range(repeat):
        for key, entry in runs.items():
            sample = measure(entry.argv, stdout.get(key), ok.get(key, (0,)))
            entry.samples.append(sample)
            print(
                f"  [{label} {rep + 1}/{repeat}] {entry.label:<36} {sample.wall:7.2f} s wall "
                f"{sample.cpu:7.2f} s CPU {sample.rss_kib / 1024:7.1f} MiB",
                flush=True,
            )
    runs["yara"].output_lines = count_lines(yara_out)
    runs["yara-s"].output_lines = count_lines(yara_s_out)
    if "bulk_extractor" in runs:
        features = workdir / f"be-{label}"
        runs["bulk_extractor"].output_lines = sum(
            count_lines(features / name)
            for name in ("ccn.txt", "email.txt", "telephone.txt")
            if (features / name).exists()
        )
    report = json.loads((out_hash / "report.json").read_text())
    outputs = {"pfa": out_hash, "pfa-nohash": out_nohash}
    profiles = {}
    for key in PFA_RUNS:
        folder = outputs.get(key, workdir / f"out-{label}-{key.removeprefix('pfa-')}")
        profiles[key] = json.loads((folder / "report.json").read_text())["image"].get("profile")
    report_nohash = json.loads((out_nohash / "report.json").read_text())
    return ImageResult(
        image=built,
        runs=runs,
        findings=int(report["summary"]["findings"]),
        findings_no_hash=int(report_nohash["summary"]["findings"]),
        verdict=str(report["verdict"]["verdict"]),
        files_in_report=int(report["summary"]["files"]),
        deleted_in_report=int(report["summary"]["files_deleted"]),
        load=(load_before, os.getloadavg()[0]),
        profiles=profiles,
    )


# --------------------------------------------------------------------------- reporting


def parse_size(text: str) -> int:
    """'256M', '1G', '512MiB', '1GiB' -> bytes (a whole number of MiB)."""
    match = re.fullmatch(r"\s*(\d+)\s*([MG])(?:i?B)?\s*", text, re.I)
    if match is None:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use e.g. 256M or 1G")
    value = int(match.group(1)) * (MIB if match.group(2).upper() == "M" else 1024 * MIB)
    if value < 128 * MIB:
        raise argparse.ArgumentTypeError(f"size {text!r} is below 128M")
    return value


def size_label(size: int) -> str:
    """'1 GiB' or '256 MiB'."""
    if size % (1024 * MIB) == 0:
        return f"{size // (1024 * MIB)} GiB"
    return f"{size // MIB} MiB"


def machine() -> dict[str, str]:
    """Date, CPU count and model, versions and pfa's commit, for the results header."""
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        match = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if match:
            cpu = match.group(1).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    yara_version = subprocess.run(["yara", "--version"], capture_output=True, text=True).stdout
    return {
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "yara": yara_version.strip(),
        "rss_source": "/usr/bin/time -v" if TIME_BIN.exists() else "os.wait4 rusage",
        "revision": pfa_revision(),
    }


def pfa_revision() -> str:
    """Commit of the checkout being measured, marked when forensics/ or the rules are modified."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "forensics", "yara_rules"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (modified)" if dirty else head


def mb_per_s(size: int, wall: float) -> float:
    """Throughput in MB/s (10^6 bytes)."""
    return size / 1e6 / wall if wall > 0 else float("inf")


def output_note(key: str, entry: Run, res: ImageResult) -> str:
    """The table's output column for one command."""
    if key == "cat":
        return "page cache warm"
    if key == "yara":
        return f"{entry.output_lines} matching rules"
    if key == "yara-s":
        return f"{entry.output_lines} string matches"
    if key == "pfa":
        return f"{res.findings} findings, verdict {res.verdict}"
    if key == "bulk_extractor":
        return f"{entry.output_lines} ccn/email/telephone features"
    return f"{res.findings_no_hash} findings"


def checks(res: ImageResult) -> list[tuple[bool, str]]:
    """Issue 11's goals per pfa mode (MIN_YARA_FRACTION) and peak RSS ≤ MAX_RSS_MIB."""
    out = []
    yara = res.runs["yara"]
    label = size_label(res.image.size)
    for key in PFA_RUNS:
        entry = res.runs[key]
        fraction = yara.wall / entry.wall
        need = MIN_YARA_FRACTION[key]
        out.append(
            (
                fraction >= need,
                f"{label} `{entry.label}` throughput {fraction:.2f}× yara CLI "
                f"(best-of-runs {yara.best / entry.best:.2f}×; need ≥ {need})",
            )
        )
        out.append(
            (
                entry.rss_mib <= MAX_RSS_MIB,
                f"{label} `{entry.label}` peak RSS {entry.rss_mib:.1f} MiB "
                f"(need ≤ {MAX_RSS_MIB:.0f} MiB)",
            )
        )
    return out


def results_markdown(results: list[ImageResult], info: dict[str, str], repeat: int) -> str:
    """The results table, requirement checks and image notes as markdown."""
    lines = [
        f"Date: {info['date']}; machine: {info['nproc']} CPUs, {info['cpu']}; "
        f"Linux {info['kernel']}; Python {info['python']}; yara CLI {info['yara']}; "
        f"pfa at commit {info['revision']}.",
        f"Wall and CPU (user+sys) time: median of {repeat} interleaved runs, best wall in "
        f"brackets; peak RSS: max over runs ({info['rss_source']}). Page cache warm (one "
        "untimed `cat` first). MB/s = image bytes / 10^6 / median wall; vs yara = yara CLI "
        "median wall / this median wall.",
        "",
        "| image | command | wall s | MB/s | vs yara | CPU s | peak RSS MiB | output |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    verdicts: list[str] = []
    for res in results:
        size = res.image.size
        yara_wall = res.runs["yara"].wall
        for key, entry in res.runs.items():
            ratio = "" if key == "cat" else f"{yara_wall / entry.wall:.2f}×"
            lines.append(
                f"| {size_label(size)} | `{entry.label}` | {entry.wall:.2f} ({entry.best:.2f}) | "
                f"{mb_per_s(size, entry.wall):.0f} | {ratio} | {entry.cpu:.2f} | "
                f"{entry.rss_mib:.1f} | {output_note(key, entry, res)} |"
            )
        verdicts += [f"- {'PASS' if ok else 'FAIL'} {text}" for ok, text in checks(res)]
    goals = ", ".join(f"`{res_key(k)}` ≥ {v}×" for k, v in MIN_YARA_FRACTION.items())
    lines += ["", f"Goals (issue 11): {goals} the yara CLI; peak RSS ≤ {MAX_RSS_MIB:.0f} MiB.", ""]
    lines += verdicts
    lines += marginal_markdown(results)
    lines += profile_markdown(results)
    lines += ["", "Images:", ""]
    for res in results:
        img = res.image
        lines.append(
            f"- {size_label(img.size)}: built in {img.build_seconds:.1f} s; {img.files} files "
            f"({img.file_bytes / MIB:.0f} MiB), {img.files_deleted} deleted; "
            f"{img.nonzero_share:.0%} of 4 KiB blocks non-zero; pfa saw {res.files_in_report} "
            f"entries ({res.deleted_in_report} deleted); sha256 {img.sha256[:16]}…; "
            f"load average {res.load[0]:.2f} before / {res.load[1]:.2f} after the runs"
        )
    return "\n".join(lines) + "\n"


def marginal_markdown(results: list[ImageResult]) -> list[str]:
    """Throughput between the smallest and the largest image: the extra wall time per extra
    byte, without the fixed costs of a run (start-up, consolidation, reports), which is what
    an 80-500 GB disk sees. Informational: the goals above are on the whole runs."""
    if len(results) < 2:
        return []
    small, large = (
        min(results, key=lambda r: r.image.size),
        max(results, key=lambda r: r.image.size),
    )
    extra = large.image.size - small.image.size
    if extra <= 0:
        return []
    yara_extra = large.runs["yara"].wall - small.runs["yara"].wall
    lines = [
        "",
        f"Marginal throughput from {size_label(small.image.size)} to "
        f"{size_label(large.image.size)} (extra median wall for the extra bytes: the fixed "
        "costs of a run cancel out; what a large disk sees, not the goals above):",
        "",
        "| command | extra wall s | MB/s | vs yara |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, entry in large.runs.items():
        if key == "cat" or key not in small.runs:
            continue
        delta = entry.wall - small.runs[key].wall
        if delta <= 0:
            continue
        ratio = f"{yara_extra / delta:.2f}×" if yara_extra > 0 else ""
        lines.append(f"| `{entry.label}` | {delta:.2f} | {mb_per_s(extra, delta):.0f} | {ratio} |")
    return lines


def res_key(key: str) -> str:
    """A pfa run's options as the goals line names them."""
    names = {"pfa": "default", "pfa-nohash": "--no-hash", "pfa-noocr": "--no-hash --no-ocr"}
    names |= {"pfa-nopages": "--no-hash --no-pages", "pfa-nojobs": "--no-hash --no-jobs"}
    return names.get(key, key)


def profile_markdown(results: list[ImageResult]) -> list[str]:
    """Per-stage profile of the last run of each pfa mode (report.json ``image.profile``)."""
    lines = ["", "Per-stage profile (last run of each mode; `image.profile` of its report.json):"]
    for res in results:
        stages: list[str] = []
        steps: list[str] = []
        for profile in res.profiles.values():
            for name in (profile or {}).get("stage_wall_seconds", {}):
                stages += [name] if name not in stages else []
            for name in (profile or {}).get("job_step_seconds", {}):
                steps += [name] if name not in steps else []
        keys = [k for k in PFA_RUNS if res.profiles.get(k)]
        head = " | ".join(f"`{res_key(k)}`" for k in keys)
        lines += ["", f"{size_label(res.image.size)}: seconds", "", f"| stage | {head} |"]
        lines.append("| --- |" + " ---: |" * len(keys))
        for kind, names in (("stage_wall_seconds", stages), ("job_step_seconds", steps)):
            for name in names:
                label = name if kind == "stage_wall_seconds" else f"job workers: {name}"
                cells = " | ".join(
                    f"{res.profiles[k].get(kind, {}).get(name, 0.0):.2f}" for k in keys
                )
                lines.append(f"| {label} | {cells} |")
    return lines


def passed(results: list[ImageResult]) -> bool:
    """True if every requirement check passed."""
    return all(ok for res in results for ok, _ in checks(res))


def main(argv: Sequence[str] | None = None) -> int:
    """Build the images, run the benchmark, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated image sizes, e.g. 256M,1G (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / "bench" / "work", help="images, outputs, results"
    )
    parser.add_argument("--keep", action="store_true", help="keep images and pfa outputs")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse images built earlier with the same recipe"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="content seed")
    parser.add_argument(
        "--build-only", action="store_true", help="build the images and stop (implies --keep)"
    )
    args = parser.parse_args(argv)
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}; {info['yara']}; RSS via {info['rss_source']}"
    )
    results: list[ImageResult] = []
    try:
        for size in sizes:
            built = reuse_image(size, args.seed, workdir) if args.reuse else None
            if built is None:
                print(f"building {size_label(size)} image …", flush=True)
                built = build_image(size, args.seed, workdir)
                what = "built"
            else:
                what = "reused"
            print(
                f"{what} {built.path}: {built.build_seconds:.1f} s build, {built.files} files, "
                f"{built.files_deleted} deleted, {built.nonzero_share:.0%} non-zero blocks",
                flush=True,
            )
            if args.build_only:
                continue
            results.append(bench_image(built, workdir, args.repeat))
            if not args.keep:
                cleanup(Path(built.path), workdir)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    if args.build_only:
        return 0
    table = results_markdown(results, info, args.repeat)
    print()
    print(table)
    (workdir / "results.md").write_text("# pfa scan benchmark\n\n" + table)
    print(f"written to {workdir / 'results.md'}")
    return 0 if passed(results) else 1


def cleanup(image: Path, workdir: Path) -> None:
    """Remove one image, its manifest and the outputs of its runs."""
    label = image.stem.removeprefix("printer-")
    image.unlink(missing_ok=True)
    manifest(image).unlink(missing_ok=True)
    for name in (
        f"out-{label}",
        f"out-{label}-nohash",
        f"be-{label}",
        *(f"out-{label}-{mode}" for mode in ("noocr", "nopages", "nojobs")),
    ):
        shutil.rmtree(workdir / name, ignore_errors=True)
    for name in (f"yara-{label}.txt", f"yara-s-{label}.txt"):
        (workdir / name).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
