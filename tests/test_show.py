"""`cimpipe show`: a front as a table that fits an 80-column terminal, with units, one number format per column
and a legend, without loading torch or nevergrad."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cimpipe.cli import main
from test_report import fabricated_front

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def front(tmp_path: Path) -> Path:
    path = tmp_path / "pareto_demo.parquet"
    fabricated_front(106).write_parquet(path)
    return path


def _table(out: str) -> tuple[list[str], list[list[str]]]:
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip()[:1].isdigit():
            break
        rows.append(line)
    return lines[:rule], rows


def test_show_fits_80_columns_with_units_a_legend_and_one_format_per_column(front, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", str(front)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    header, rows = _table(out)
    assert len(rows) == 106
    assert header[0].split()[:3] == ["#", "acc", "energy"] and header[1].split()[:3] == ["%", "uJ", "ms"]
    assert "hardware: subarray size, r rows read at once" in out  # the codes of the summary are explained
    assert "Left out to fit 80 columns:" in out
    energy = [r.split()[2] for r in rows]
    # one format for the whole column: every cell in scientific notation, or every cell with the same decimals
    kinds = {("e" if "e" in v else len(v.split(".")[1])) for v in energy}
    assert len(kinds) == 1, kinds


def test_show_uses_a_wide_terminal_for_more_columns(front, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert main(["show", str(front), "--limit", "5"]) == 0
    out = capsys.readouterr().out
    header, rows = _table(out)
    assert len(rows) == 5 and "network" in header[0] and "pred" in header[0] and "Left out" not in out
    assert re.search(r"\b(sar|flash)\d", rows[0])


def test_show_starts_without_torch_or_nevergrad(front) -> None:
    probe = (f"import sys; from cimpipe.cli import main; code = main(['show', {str(front)!r}]); "
             "print('HEAVY', [m for m in ('torch', 'nevergrad', 'matplotlib') if m in sys.modules]); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
