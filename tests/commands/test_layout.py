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


def test_wipe_does_not_import_the_scanner() -> None:
    code = (
        "import sys, forensics.wipe; print('forensics.scan' in sys.modules, 'yara' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        check=True,
    )
    assert done.stdout.split() == ["False", "False"]
