"""Progress of the long loops (supernet training, the accuracy table, the search): a rich bar on a terminal,
a few plain lines in a log.

A stage run by the workflow writes to its log file (see :func:`cimpipe.stages.run_stage`), where a bar would
leave thousands of redraws; there the loops print a line every few percent instead (:class:`StepLines`, with
the share done and the time left), to the log and to the terminal that started the workflow, so an
11-minute accuracy shard is not silent.
"""

from __future__ import annotations

import sys
import time
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


def say(line: str) -> None:
    """Print a progress line to standard output (a stage's log under the workflow) and, when standard output
    has been redirected away from the process's own standard error, to that too: the terminal of a local
    run, the job's output file on a cluster."""
    print(line, flush=True)
    terminal = sys.__stderr__
    if terminal is not None and sys.stdout is not sys.__stdout__:
        try:
            print(line, file=terminal, flush=True)
        except (OSError, ValueError):  # a closed or vanished terminal does not stop the stage
            pass


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class StepLines:
    """Plain progress lines: one each time another ``step`` fraction of ``total`` is done, and one at the end,
    each with the share done and the time left (from the pace since the first call)."""

    def __init__(self, total: int, step: float = 0.05, write: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.step = max(1, int(total)), step
        self.write = write or say
        self.next_mark = step
        self.clock = clock
        self.start: tuple[float, int] | None = None

    def due(self, done: int) -> bool:
        """Whether a call with ``done`` would write a line (so a costly message is built only then)."""
        return done / self.total + 1e-12 >= self.next_mark or done >= self.total

    def __call__(self, done: int, message: str) -> None:
        now = self.clock()
        if self.start is None:
            self.start = (now, done)
        fraction = done / self.total
        if fraction + 1e-12 < self.next_mark and done < self.total:
            return
        while self.next_mark <= fraction + 1e-12:
            self.next_mark += self.step
        t0, d0 = self.start
        rate = (done - d0) / (now - t0) if now > t0 and done > d0 else 0.0
        left = f", {_duration((self.total - done) / rate)} left" if rate > 0 and done < self.total else ""
        self.write(f"{message} ({100.0 * min(fraction, 1.0):.0f} %{left})")
