"""Progress display: a sink the scanner and verify-wipe report to, and its terminal bar.

Kept apart from the scanner so that ``forensics.wipe`` (which only needs somewhere to report
bytes read) does not import the whole scan pipeline, and the pipeline does not know about rich.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as _RichBar


class Progress:
    """Progress sink that shows nothing; the command line's bar subclasses it."""

    def start(self, total: int, label: str, unit: str = "bytes") -> None:
        """A new stage: ``total`` ``unit``s to do ("bytes", or a count such as "pages")."""

    def advance(self, done: int) -> None:
        pass

    def stop(self) -> None:
        pass


ProgressSink = Progress  # the name the command line uses


class RichProgress(Progress):
    """A progress bar per stage with rate and ETA on stderr (only when stderr is a terminal):
    bytes for the streaming pass, counts for the stages that follow (jobs, OCR pages)."""

    def __init__(self, console: Console | None = None):
        self._console = console or Console(stderr=True)
        self._bar: _RichBar | None = None
        self._task: TaskID | None = None

    def start(self, total: int, label: str, unit: str = "bytes") -> None:
        self.stop()
        columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
        if unit == "bytes":
            columns += [DownloadColumn(binary_units=True), TransferSpeedColumn()]
        else:
            columns += [MofNCompleteColumn(), TextColumn(unit)]
        self._bar = _RichBar(
            *columns,
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
            disable=not self._console.is_terminal,
        )
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, done: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, done)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = None
        self._task = None
