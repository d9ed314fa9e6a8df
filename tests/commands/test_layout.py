"""The command line's layout: subcommands register themselves; verify-wipe does not load the scanner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from forensics.cli import build_parser
from forensics.commands.base import Command, load_commands

PROJECT = Path(__file__).resolve().parents[2]


def test_every_subcommand_is_a_registered_command_in_help_order() -> None:
    names = [cls.name for cls in load_commands()]
    assert names[:7] == ["info", "scan", "jobs", "extract", "pages", "verify-wipe", "report"]
    assert all(issubclass(Command.registry[name], Command) for name in names)
    help_text = build_parser().format_help()
    for name in names:
        assert name in help_text


def loaded_after(code: str, *modules: str) -> list[bool]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    check = f"{code}; import sys; print(*(m in sys.modules for m in {modules!r}))"
    done = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        timeout=120,
        check=True,
    )
    return [word == "True" for word in done.stdout.split()]


def test_wipe_does_not_import_the_scanner() -> None:
    assert loaded_after("import forensics.wipe", "forensics.scan", "yara") == [False, False]


def test_start_up_leaves_pypdf_to_the_first_pdf() -> None:
    """Every scan imports the CLI, the scan and every format; pypdf (0.1 s) waits for a PDF."""
    code = (
        "import forensics.cli, forensics.scan, forensics.jobs, forensics.render.base;"
        "from forensics.formats.base import registered_formats; registered_formats()"
    )
    assert loaded_after(code, "pypdf") == [False]


def test_start_up_leaves_the_xml_writer_to_dfxml() -> None:
    """xml.sax.saxutils pulls in urllib.request, http.client, ssl and email (~15 ms); only a
    DFXML report needs it, so building the command line does not import it."""
    code = "from forensics.cli import build_parser; build_parser()"
    assert loaded_after(code, "xml.sax.saxutils", "urllib.request") == [False, False]
