"""Progress bars for the command-line tools (the doctor, the demo), drawn by ``rich``.

Drawn on stderr and only when it is a terminal, so output captured by a pipe, a test or CI stays
plain text; ``transient`` bars disappear once done and leave the report alone.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Bar:
    def __init__(self, progress: Progress | None, task: int | None) -> None:
        self._progress, self._task = progress, task

    def step(self, description: str | None = None, advance: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            kw = {"description": description} if description else {}
            self._progress.update(self._task, advance=advance, **kw)

    def describe(self, description: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=description)

    def set_total(self, total: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)


@contextmanager
def bar(description: str, total: float | None, *, stream: IO[str] | None = None, transient: bool = True,
        force: bool | None = None) -> Iterator[Bar]:
    """A progress bar of ``total`` steps; a no-op when ``stream`` (default stderr) is not a terminal."""
    stream = stream or sys.stderr
    console = Console(file=stream)
    enabled = console.is_terminal if force is None else force
    if not enabled:
        yield Bar(None, None)
        return
    columns = (SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=transient) as progress:
        yield Bar(progress, progress.add_task(description, total=total))
