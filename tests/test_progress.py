"""Progress of long stages: a line every few percent with the time left, in the log and on the terminal."""

from __future__ import annotations

import contextlib
import io
import sys

from cimpipe.progress import StepLines, say


def test_step_lines_report_every_few_percent_with_the_time_left() -> None:
    lines: list[str] = []
    now = [0.0]
    step = StepLines(200, step=0.05, write=lines.append, clock=lambda: now[0])
    for done in range(0, 201, 2):  # 2 rows per second
        now[0] = done / 2
        step(done, f"table: {done}/200 rows")
    assert len(lines) == 20  # one per 5 %
    assert lines[0] == "table: 10/200 rows (5 %, 1 min 35 s left)"
    assert lines[-1] == "table: 200/200 rows (100 %)"


def test_a_stage_writing_into_its_log_also_tells_the_terminal(monkeypatch) -> None:
    terminal, log = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", terminal)
    with contextlib.redirect_stdout(log):  # what run_stage does with a stage's output
        say("accuracy table shard 0: 15/150 rows (10 %)")
    assert log.getvalue() == terminal.getvalue() == "accuracy table shard 0: 15/150 rows (10 %)\n"


def test_without_a_log_the_line_is_printed_once(monkeypatch, capsys) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", terminal)
    monkeypatch.setattr(sys, "__stdout__", sys.stdout)
    say("search: 100/1000 evaluations")
    assert capsys.readouterr().out == "search: 100/1000 evaluations\n" and terminal.getvalue() == ""
