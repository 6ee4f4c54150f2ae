"""Progress of the long loops (supernet training, the accuracy table, the search): a rich bar on a terminal,
a few plain lines in a log.

A stage run by the workflow writes to its log file (see :func:`cimpipe.stages.run_stage`), where a bar would
leave thousands of redraws; there the loops print a line now and then instead.
"""

from __future__ import annotations

import sys
from typing import Any, Callable


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def progress_bar(enabled: bool):  # noqa: ANN201 - a rich Progress or a null context
    """A rich ``Progress`` (description, bar, done/total, time left) used as a context manager, or a context
    that yields ``None`` when ``enabled`` is false."""
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


def on_terminal() -> bool:
    """Whether standard output is a terminal (a bar is worth drawing)."""
    return sys.stdout.isatty()


class StepLines:
    """Plain progress lines for a log: one each time another ``step`` fraction of ``total`` is done, and one
    at the end."""

    def __init__(self, total: int, step: float = 0.1, write: Callable[[str], Any] | None = None):
        self.total, self.step = max(1, int(total)), step
        self.write = write or (lambda line: print(line, flush=True))
        self.next_mark = step

    def __call__(self, done: int, message: str) -> None:
        fraction = done / self.total
        if fraction + 1e-12 < self.next_mark and done < self.total:
            return
        while self.next_mark <= fraction + 1e-12:
            self.next_mark += self.step
        self.write(message)
