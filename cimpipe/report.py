"""Plots of a search: the front against each cost, hypervolume against evaluations, training and predictor.

:func:`write_report` reads the front and history Parquet files (schemas in :mod:`cimpipe.search`) and
writes PNGs with stable names plus an ``index.html`` that shows them. The reference design comes from
``search_summary.json`` beside the history when present.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from cimpipe.io import atomic_write, write_text  # noqa: E402

FRONT_PLOTS = {  # file stem: (column, axis label)
    "front_energy": ("energy_uj", "energy per inference (uJ)"),
    "front_latency": ("latency_ms", "latency (ms)"),
    "front_area": ("area_mm2", "area (mm$^2$)"),
    "front_edap": ("edap_uj_ms_mm2", "EDAP (uJ ms mm$^2$)"),
}


class ReportError(ValueError):
    """An input of the report is missing or malformed (one sentence naming the file)."""


def _read(path: Path, what: str) -> pl.DataFrame:
    if not path.is_file():
        raise ReportError(f"the {what} file {path} does not exist (run the search first)")
    return pl.read_parquet(path)


def _save(fig: plt.Figure, path: Path) -> None:
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _front_plot(front: pl.DataFrame, column: str, label: str, reference: Mapping[str, Any] | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    techs = sorted(front["technology"].unique().to_list()) if front.height else []
    for i, t in enumerate(techs):
        sub = front.filter(pl.col("technology") == t)
        ax.scatter(sub[column], sub["accuracy"] * 100, s=14, color=f"C{i}", label=t, alpha=0.8)
    if reference is not None and column in reference:
        ax.scatter([reference[column]], [reference["accuracy"] * 100], marker="*", s=160, color="black",
                   label="reference (NeuroSim defaults)")
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def _hv_plot(history: pl.DataFrame, path: Path) -> None:
    """Hypervolume against evaluations, one line per island (each island's own normalization)."""
    if "island" not in history.columns:
        history = history.with_columns(pl.lit(0, dtype=pl.Int32).alias("island"))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    islands = history["island"].unique().sort().to_list()
    for island in islands:
        part = history.filter(pl.col("island") == island)
        per_gen = (part.with_row_index("row").group_by("generation", maintain_order=True)
                   .agg(pl.col("row").max() + 1, pl.col("hypervolume").first()).sort("generation"))
        ax.plot(per_gen["row"], per_gen["hypervolume"], marker=".", label=f"island {island}")
    if len(islands) > 1:
        ax.legend(fontsize=8)
    ax.set_xlabel("evaluations" if len(islands) == 1 else "evaluations (per island)")
    ax.set_ylabel("hypervolume (normalized objectives)")
    ax.grid(alpha=0.3)
    _save(fig, path)


def _training_plot(log: pl.DataFrame, path: Path) -> None:
    x = "epoch" if "epoch" in log.columns else None
    numeric = [c for c, t in log.schema.items() if t.is_numeric() and c != x]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for c in numeric:
        ax = axes[0] if "loss" in c else axes[1]
        ax.plot(log[x] if x else range(log.height), log[c], label=c)
    for ax, name in zip(axes, ("loss", "metric")):
        ax.set_xlabel(x or "row")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    _save(fig, path)


def _predictor_plot(metrics: Mapping[str, Any], path: Path) -> None:
    items = [(k, float(v)) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    fig, ax = plt.subplots(figsize=(6, 0.4 * max(len(items), 2) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items])
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.4g}", va="center", fontsize=8)
    ax.set_title("predictor quality on held-out rows")
    _save(fig, path)


def write_report(front_path: str | Path, history_path: str | Path, out_dir: str | Path,
                 train_log_path: str | Path | None = None,
                 predictor_metrics: Mapping[str, Any] | str | Path | None = None,
                 summary_path: str | Path | None = None) -> list[Path]:
    """Write the plots and ``index.html`` into ``out_dir``; return the files written.

    ``predictor_metrics`` is the dict of ``predictor_metrics.json`` or its path; ``summary_path`` the search
    summary (default: ``search_summary.json`` beside the history).
    """
    front_path, history_path, out = Path(front_path), Path(history_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    front = _read(front_path, "Pareto front")
    history = _read(history_path, "search history")
    summary_path = Path(summary_path) if summary_path is not None else history_path.parent / "search_summary.json"
    reference = json.loads(summary_path.read_text())["reference"] if summary_path.is_file() else None
    written: list[Path] = []
    for stem, (column, label) in FRONT_PLOTS.items():
        _front_plot(front, column, label, reference, out / f"{stem}.png")
        written.append(out / f"{stem}.png")
    _hv_plot(history, out / "hypervolume.png")
    written.append(out / "hypervolume.png")
    if train_log_path is not None:
        _training_plot(_read(Path(train_log_path), "training log"), out / "training.png")
        written.append(out / "training.png")
    if predictor_metrics is not None:
        if not isinstance(predictor_metrics, Mapping):
            p = Path(predictor_metrics)
            if not p.is_file():
                raise ReportError(f"the predictor metrics file {p} does not exist")
            predictor_metrics = json.loads(p.read_text())
        _predictor_plot(predictor_metrics, out / "predictor.png")
        written.append(out / "predictor.png")
    body = "\n".join(f'<figure><img src="{p.name}" alt="{p.stem}"><figcaption>{html.escape(p.stem)}</figcaption></figure>'
                     for p in written)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>cimpipe report</title></head><body>"
            f"<h1>{html.escape(front_path.stem)}</h1><p>{front.height} designs on the front, "
            f"{history.height} evaluated.</p>{body}</body></html>")
    index = out / "index.html"
    write_text(page, index)
    written.append(index)
    return written
