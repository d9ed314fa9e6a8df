"""Progress display: a sink the scanner and verify-wipe report to, and its terminal bar.

Kept apart from the scanner so that ``forensics.wipe`` (which only needs somewhere to report
bytes read) does not import the whole scan pipeline, and the pipeline does not know about rich.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as _RichBar


class Progress:
    """Progress sink that shows nothing; the command line's bar subclasses it."""

    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def stop(self) -> None:
        pass


ProgressSink = Progress  # the name the command line uses


class RichProgress(Progress):
    """A byte progress bar with rate and ETA on stderr (only when stderr is a terminal)."""

    def __init__(self, console: Console | None = None):
        console = console or Console(stderr=True)
        self._bar = _RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None

    def start(self, total: int, label: str) -> None:
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, done)

    def stop(self) -> None:
        self._bar.stop()
