"""Scanned cases the report-writer tests read: the committed demo image and a hostile-names image."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import builders
from fixtures.tools import make_ext
from forensics.cli import main
from forensics.report.base import WRITERS, ReportOptions
from forensics.store import CaseStore

# Names an examiner's report must show as inert text: markup, a path escape, terminal escapes.
HOSTILE_NAMES = (
    "<script>alert(1)</script>.prn",
    "..%2f..%2fetc%2fpasswd&co.txt",
    "\x1b[31mred\x1b[0m\x07bell.ps",
)
HOSTILE_CONTENT = (
    b"%!PS-Adobe-3.0\n%%Title: (<script>alert(2)</script>)\nsmtp_password=Tr0ub4dor&3x\n%%EOF\n"
)


def _scan(image: Path, out: Path, *extra: str) -> Path:
    rc = main(["scan", str(image), "-o", str(out), "-q", "--no-pages", *extra])
    assert rc in (0, 1)
    return out / "case.sqlite"


@pytest.fixture(scope="session")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed demo image (partitions, files, deleted and carved jobs, findings)."""
    out = tmp_path_factory.mktemp("demo-case")
    return _scan(builders.DEMO_DIR / "printer-demo.img", out)


@pytest.fixture(scope="session")
def hostile_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext2 image (mke2fs -d) whose file names and contents try to break the outputs."""
    work = tmp_path_factory.mktemp("hostile")
    image = work / "hostile.img"
    make_ext(
        image,
        4 * 1024 * 1024,
        {f"spool/{name}": HOSTILE_CONTENT for name in HOSTILE_NAMES},
        fstype="ext2",
        block_size=1024,
        label="hostile",
        uuid="6f1c0b8e-0000-4000-8000-000000000010",
        work=work,
    )
    return _scan(image, work / "out")


def write_report(case: Path, fmt: str, dest: Path, **options: object) -> list[Path]:
    """Render ``case`` with the registered ``fmt`` writer, reading only the case store."""
    import forensics.report as package
    from forensics.plugins import import_submodules

    import_submodules(package)
    with CaseStore.open_existing(case) as store:
        return WRITERS[fmt]().write(store, dest, ReportOptions(**options))  # type: ignore[arg-type]
