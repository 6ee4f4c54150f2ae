"""``cimpipe show``: a front as a plain table that fits the terminal.

Headers carry their units on a second line, every column has one number format (chosen from its values), and
a legend below explains the codes of the hardware and network summaries. It imports polars and the front
reader only (no torch, no nevergrad), so it starts in well under a second; ``bench/show_startup.py`` prints
the figure.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Sequence

import polars as pl

from cimpipe.metrics import ALIASES, column

DEFAULT_COLUMNS = ("accuracy", "accuracy_predicted", "energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2",
                   "technology", "hardware", "bits")
"""Shown left to right; ``--columns`` overrides."""
DROP_ORDER = ("bits", "accuracy_predicted", "edap_uj_ms_mm2", "hardware", "area_mm2", "latency_ms")
"""The default columns a narrow terminal loses first (then the rightmost)."""

SHORT = {"accuracy": "acc", "accuracy_measured": "acc", "accuracy_predicted": "pred", "edap_uj_ms_mm2": "EDAP",
         "edap_reduction_vs_reference": "EDAP gain", "technology": "tech", "hardware": "hardware",
         "bits": "network", "utilization": "util"}
LEGEND = {
    "accuracy": "acc: top-1 accuracy measured on the supernet in CIM mode",
    "accuracy_predicted": "pred: the predictor's accuracy",
    "edap_uj_ms_mm2": "EDAP: energy x latency x area",
    "hardware": "hardware: subarray size, r rows read at once, m columns per ADC, ADC type and bits, c bits per "
                "cell, P pipelined or L layer by layer",
    "bits": "network: d depth per stage, w weight bits and a activation bits (lowest-highest over the layers)",
    "edap_gain_at_reference_accuracy": "EDAP gain at ref. acc.: the reference design's EDAP over this design's, "
                                       "for designs at least as accurate as the reference ('-' for the others)",
}


class ShowError(ValueError):
    """A ``cimpipe show`` option names something the front does not have (one sentence)."""


@dataclass(frozen=True)
class ShownColumn:
    name: str
    header: str
    unit: str
    cells: list[str]
    numeric: bool

    @property
    def width(self) -> int:
        return max([len(self.header), len(self.unit)] + [len(c) for c in self.cells])


def number_format(name: str, values: Sequence[float]) -> str:
    """One format for a whole numeric column: its own when the metric has one that keeps three significant
    digits of the smallest value; otherwise fixed decimals chosen for that, or scientific when the column
    spans more than three decades."""
    c = column(name)
    scale = 100.0 if c.percent else 1.0
    finite = [abs(v) * scale for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite or c.fmt in ("d", ".0f") or c.percent:
        return c.fmt
    lo, hi = min(finite), max(finite)
    decimals = 2 - math.floor(math.log10(lo))
    if hi / lo > 1e3 or hi >= 1e6 or decimals > 5:
        return ".2e"
    return f".{max(0, decimals)}f"


def shown_column(name: str, values: list) -> ShownColumn:
    c = column(name)
    numeric = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numeric:
        fmt = number_format(name, [v for v in values if isinstance(v, (int, float))])
        c = type(c)(c.header, c.unit, fmt, c.maximize, c.percent, c.log)
    return ShownColumn(name, SHORT.get(name, c.header), c.unit, [c.format(v) for v in values], numeric)


def choose_columns(front: pl.DataFrame, requested: str | None) -> list[str]:
    """The columns to show: those asked for (aliases resolved), else the default set present in the front."""
    if requested:
        names = [ALIASES.get(c.strip(), c.strip()) for c in requested.split(",") if c.strip()]
        for name in names:
            if name not in front.columns:
                raise ShowError(f"the front has no column {name!r} to show (columns: {', '.join(front.columns)})")
        return names
    measured = "accuracy_measured" in front.columns and front["accuracy_measured"].null_count() < front.height
    return [c for c in DEFAULT_COLUMNS if c in front.columns and (measured or c != "accuracy_predicted")]


def render(columns: list[ShownColumn], width: int | None, fixed: bool) -> tuple[list[str], list[str]]:
    """The table's lines, dropping columns (:data:`DROP_ORDER`) until it fits ``width`` (unless ``fixed``);
    also the names of the columns left out."""
    n = len(columns[0].cells) if columns else 0
    index = ShownColumn("#", "#", "", [str(i) for i in range(1, n + 1)], True)
    dropped: list[str] = []
    while not fixed and width and len(columns) > 1 and sum(c.width + 2 for c in [index] + columns) - 2 > width:
        names = [c.name for c in columns]
        victim = next((n for n in DROP_ORDER if n in names), names[-1])
        dropped.append(victim)
        columns = [c for c in columns if c.name != victim]
    shown = [index] + columns

    def line(parts: list[str]) -> str:
        return "  ".join(parts).rstrip()

    def cell(c: ShownColumn, text: str) -> str:
        return text.rjust(c.width) if c.numeric else text.ljust(c.width)

    lines = [line([cell(c, c.header) for c in shown]), line([cell(c, c.unit) for c in shown]),
             "─" * len(line([cell(c, c.header) for c in shown]))]
    lines += [line([cell(c, c.cells[i]) for c in shown]) for i in range(n)]
    return lines, dropped


def show(front: pl.DataFrame, path: str, key: str, descending: bool | None, limit: int | None,
         requested: str | None, csv: bool, width: int | None = None) -> None:
    """Print the front sorted by ``key`` (best first by default) to standard output."""
    from cimpipe.results import SORT_DIRECTIONS, read_summary_beside, sort_front, with_reference_gain, with_summaries

    front = with_reference_gain(with_summaries(front), (read_summary_beside(path) or {}).get("reference"))
    key = ALIASES.get(key, key)
    rows = sort_front(front, key, descending)
    if limit is not None:
        rows = rows.head(limit)
    names = choose_columns(front, requested)
    if csv:
        rows.select(names).write_csv(sys.stdout)
        return
    if width is None:  # the terminal's width; off a terminal $COLUMNS or 80
        width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 80)
    columns = [shown_column(n, rows[n].to_list()) for n in names]
    lines, dropped = render(columns, width, fixed=requested is not None)
    direction = SORT_DIRECTIONS.get(key, False) if descending is None else descending
    notes = [f"{path}: {rows.height} of {front.height} designs, sorted by {key} "
             f"({'descending' if direction else 'ascending'})."]
    notes += [LEGEND[n] for n in names if n in LEGEND and n not in dropped]
    if dropped:
        notes.append(f"Left out to fit {width} columns: {', '.join(dropped)} (--columns chooses).")
    print("\n".join(lines))
    for note in notes:
        print(textwrap.fill(note, width=max(width, 40), subsequent_indent="  "))
