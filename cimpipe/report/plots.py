"""The static figures of a search, for papers: the front against each cost with its 2-D staircase, the
hypervolume with its reference point, training in panels with the bit phases, predicted against measured
accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from cimpipe.io import atomic_write  # noqa: E402
from cimpipe.results import FrontHypervolume, staircase  # noqa: E402

FRONT_PLOTS = {  # file stem: (column, axis label)
    "front_energy": ("energy_uj", "energy per inference (uJ)"),
    "front_latency": ("latency_ms", "latency per inference (ms)"),
    "front_area": ("area_mm2", "area (mm$^2$)"),
    "front_edap": ("edap_uj_ms_mm2", "EDAP (uJ ms mm$^2$)"),
}


def save(fig: plt.Figure, path: Path) -> None:
    """Write a PNG whole or not at all (:func:`cimpipe.io.atomic_write`)."""
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)


def front_plot(front: pl.DataFrame, column: str, label: str, reference: Mapping[str, Any] | None,
               path: Path) -> None:
    """Accuracy against one cost, coloured by technology, with the 2-D staircase of this view drawn."""
    fig, ax = plt.subplots(figsize=(6, 4.3))
    techs = sorted(front["technology"].unique().to_list()) if front.height else []
    for i, t in enumerate(techs):
        sub = front.filter(pl.col("technology") == t)
        ax.scatter(sub[column], sub["accuracy"] * 100, s=14, color=f"C{i}", label=t, alpha=0.8)
    x, y = front[column].to_numpy(), front["accuracy"].to_numpy() * 100
    stairs = staircase(x, y, x_maximize=False, y_maximize=True)
    if len(stairs):
        ax.step(x[stairs], y[stairs], where="post", color="black", lw=1.2,
                label=f"2-D best ({len(stairs)} of {front.height})")
    if reference is not None and column in reference:
        ax.scatter([reference[column]], [reference["accuracy"] * 100], marker="*", s=160, color="black",
                   label="NeuroSim reference design")
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("points off the line win on another objective", fontsize=8, color="0.35")
    save(fig, path)


def hypervolume_plot(history: pl.DataFrame, final: FrontHypervolume | None, path: Path) -> None:
    """Hypervolume of the predicted archive against evaluations (one line per island), and the re-measured
    front's hypervolume on the same normalization, with the reference point stated."""
    if "island" not in history.columns:
        history = history.with_columns(pl.lit(0, dtype=pl.Int32).alias("island"))
    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    islands = history["island"].unique().sort().to_list()
    for island in islands:
        part = history.filter(pl.col("island") == island)
        per_gen = (part.with_row_index("row").group_by("generation", maintain_order=True)
                   .agg(pl.col("row").max() + 1, pl.col("hypervolume").first()).sort("generation"))
        ax.plot(per_gen["row"], per_gen["hypervolume"], marker=".", ms=3,
                label=f"island {island} (predicted accuracy)")
    if final is not None:
        ax.axhline(final.value, color="black", ls="--", lw=1,
                   label=f"final front, measured: {final.value:.3f}")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("evaluations" if len(islands) == 1 else "evaluations (per island)")
    ax.set_ylabel("hypervolume (normalized objectives)")
    if final is not None:
        ax.set_title("reference point: " + final.reference_text(), fontsize=8, wrap=True)
    ax.grid(alpha=0.3)
    save(fig, path)


def training_plot(log: pl.DataFrame, phases: Sequence[tuple[float, Sequence[int]]] | None, path: Path) -> None:
    """Loss, monitored accuracies and learning rate against epoch in three panels; the bit-width phases
    shaded, so the dip where lower bits open reads as what it is."""
    epoch = log["epoch"].to_numpy() if "epoch" in log.columns else np.arange(1, log.height + 1)
    panels = [("loss", ["loss"], "training loss"), ("accuracy", ["largest_acc", "smallest_acc"], "accuracy (%)"),
              ("lr", ["lr"], "learning rate")]
    panels = [p for p in panels if any(c in log.columns for c in p[1])]
    if not panels:  # a log of other columns: every numeric one on one panel
        panels = [("log", [c for c, t in log.schema.items() if t.is_numeric() and c != "epoch"], "value")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    names = {"largest_acc": "largest member, highest bits", "smallest_acc": "smallest member, lowest bits"}
    epochs = int(epoch.max()) if len(epoch) else 0
    for ax, (_, cols, ylabel) in zip(axes, panels):
        for c in (c for c in cols if c in log.columns):
            scale = 100.0 if c.endswith("_acc") else 1.0
            ax.plot(epoch, log[c].to_numpy() * scale, marker=".", ms=3, label=names.get(c, c))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(cols) > 1:
            ax.legend(fontsize=8)
        for k, (start, bits) in enumerate(phases or []):
            # epoch e (1-based) trains in the phase of fraction (e - 1) / epochs
            first = start * epochs + 1
            end = phases[k + 1][0] * epochs + 1 if k + 1 < len(phases) else epochs + 1
            ax.axvspan(first - 0.5, end - 0.5, color=f"C{k}", alpha=0.07, lw=0)
            if ax is axes[0]:
                span = f"{min(bits)}-{max(bits)}" if min(bits) < max(bits) else f"{min(bits)}"
                ax.text(first - 0.3, 1.0, f"bits {span} open", transform=ax.get_xaxis_transform(),
                        fontsize=8, va="bottom")
    axes[-1].set_xlabel("epoch")
    save(fig, path)


def predictor_plot(measured: np.ndarray | None, predicted: np.ndarray | None, rounds: np.ndarray | None,
                   heldout: Mapping[str, Any] | None, path: Path) -> None:
    """Predicted against measured accuracy of the re-measured front designs, with their Kendall tau and
    RMSE, and the held-out figures of the fit in the title."""
    from scipy.stats import kendalltau

    fig, ax = plt.subplots(figsize=(5, 5))
    if heldout:
        ax.set_title(f"held-out table rows ({heldout.get('rows_heldout', '?')}): Kendall tau "
                     f"{heldout.get('kendall_tau', float('nan')):.2f}, RMSE {heldout.get('rmse_pct', float('nan')):.2f} "
                     "points", fontsize=9)
    if measured is None or len(measured) == 0:
        ax.text(0.5, 0.5, "no front design was re-measured\n(search.remeasure is off)", ha="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        save(fig, path)
        return
    m, p = 100.0 * np.asarray(measured), 100.0 * np.asarray(predicted)
    groups = np.unique(rounds) if rounds is not None else [None]
    for g in groups:
        sel = np.ones(len(m), bool) if g is None else rounds == g
        ax.scatter(m[sel], p[sel], s=12, alpha=0.7,
                   label="front designs" if g is None else f"round {g} front designs")
    lo, hi = float(min(m.min(), p.min())) - 1, float(max(m.max(), p.max())) + 1
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, label="predicted = measured")
    tau = float(kendalltau(m, p)[0]) if len(m) > 1 else float("nan")
    rmse = float(np.sqrt(np.mean((p - m) ** 2)))
    ax.text(0.03, 0.97, f"these {len(m)} designs: Kendall tau {tau:.2f}, RMSE {rmse:.2f} points",
            transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xlabel("measured accuracy (%, supernet in CIM mode)")
    ax.set_ylabel("predicted accuracy (%)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save(fig, path)
