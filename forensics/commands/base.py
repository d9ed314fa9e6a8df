"""Subcommands of ``pfa``: each is a :class:`Command` subclass in its own module.

Defining a subclass with a ``name`` registers it (the way format parsers register, see
``forensics/formats/base.py``), so adding a command means adding a module, not editing a list.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Console


class Command:
    """One ``pfa`` subcommand: its arguments and what it does."""

    name: ClassVar[str] = ""  # as typed after pfa
    help: ClassVar[str] = ""  # one line in ``pfa --help``
    description: ClassVar[str | None] = None  # the head of ``pfa NAME --help``
    epilog: ClassVar[str | None] = None
    # Where the command is listed in ``pfa --help`` (lower first); modules import in any order.
    order: ClassVar[int] = 100
    registry: ClassVar[dict[str, type[Command]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in Command.registry:
                raise ValueError(f"command {cls.name!r} registered twice")
            Command.registry[cls.name] = cls

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments (shared ones come from ``forensics.commands.options``)."""

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        """Do the work; return the exit code. Raise InputError for a bad input (exit 2)."""
        raise NotImplementedError


def load_commands() -> list[type[Command]]:
    """Every registered command, in ``pfa --help`` order."""
    import forensics.commands as package
    from forensics.plugins import import_submodules

    import_submodules(package, skip=("base", "options", "case"))
    return sorted(Command.registry.values(), key=lambda cls: (cls.order, cls.name))
