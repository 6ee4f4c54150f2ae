"""The report of a search: the front explorer (one offline HTML page), static PNGs for papers, an index.

:func:`write_report` reads the front and history Parquet files (schemas in :mod:`cimpipe.search`), the
``search_summary.json`` beside the history (the reference design, the normalization, refinement rounds),
the training log and the predictor's metrics, and writes into ``out_dir``:

- ``explorer.html``: the interactive front explorer (:mod:`cimpipe.report.explorer`);
- ``front_energy.png``, ``front_latency.png``, ``front_area.png``, ``front_edap.png``: accuracy against each
  cost with the 2-D staircase of that view; ``hypervolume.png`` (reference point stated); ``training.png``
  (panels, bit phases shaded); ``predictor.png`` (predicted against measured);
- ``index.html``: every figure with its caption, and what was evaluated.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from cimpipe.io import atomic_write, write_text

CAPTIONS = {
    "front_energy": "Accuracy (re-measured on the supernet in CIM mode) against energy per inference.",
    "front_latency": "Accuracy against latency per inference.",
    "front_area": "Accuracy against chip area.",
    "front_edap": "Accuracy against the energy-delay-area product.",
    "hypervolume": "Hypervolume of the search's non-dominated set against evaluations, on normalized objectives.",
    "training": "Supernet training: loss, the monitored members' accuracy and the learning rate per epoch; the "
                "shaded bands are the bit-width phases (lower bits open at each band's start).",
    "predictor": "The accuracy predictor: predicted against measured accuracy of every re-measured front design.",
}
FRONT_NOTE = ("Each plot is a 2-D view of a front over {n} objectives: the black staircase joins the designs no "
              "other front design beats in that view; the points off it are on the front because they win on an "
              "objective the view does not show. The star is the NeuroSim reference design.")


class ReportError(ValueError):
    """An input of the report is missing or malformed (one sentence naming the file)."""


def _read(path: Path, what: str) -> pl.DataFrame:
    if not path.is_file():
        raise ReportError(f"the {what} file {path} does not exist (run the search first)")
    return pl.read_parquet(path)


def _json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise ReportError(f"the {what} file {path} does not exist")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ReportError(f"the {what} file {path} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ReportError(f"the {what} file {path} does not hold a JSON object")
    return value


def evaluated_text(history: pl.DataFrame, summary: Mapping[str, Any] | None) -> str:
    """How many designs were evaluated: the islands' searches and each refinement round's search."""
    text = f"{history.height:,} designs evaluated by the search"
    rounds = [r for r in (summary or {}).get("refine", []) if int(r.get("round", 0)) >= 1]
    if rounds:
        islands = (summary or {}).get("islands") or [{"evaluations": (summary or {}).get("evaluations", 0)}]
        per_round = int(islands[0]["evaluations"])
        text += (f", and {len(rounds) * per_round:,} more by {len(rounds)} refinement round"
                 f"{'s' if len(rounds) > 1 else ''} ({per_round:,} each)")
    return text


def write_explorer(front: pl.DataFrame, summary: Mapping[str, Any] | None, path: Path, title: str,
                   intro: str = "") -> Path:
    """Write the front explorer page to ``path``."""
    from cimpipe.report.explorer import explorer_data, explorer_page

    write_text(explorer_page(explorer_data(front, summary, title), intro), path)
    return path


def publish_front(source: str | Path, target: str | Path) -> None:
    """Copy the search's front to the product's name (``results/pareto_{workload}.parquet``), under a
    temporary name first."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise ReportError(f"the front file {source} does not exist (run the search first)")
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def _predictor_inputs(front: pl.DataFrame, refine_path: Path | None):
    """Measured and predicted accuracy of the re-measured designs: every refinement round's measured
    designs where ``refine.parquet`` exists, else the front's own rows."""
    if refine_path is not None and refine_path.is_file():
        r = pl.read_parquet(refine_path).drop_nulls(["accuracy", "accuracy_predicted"])
        if r.height:
            return r["accuracy"].to_numpy(), r["accuracy_predicted"].to_numpy(), r["round"].to_numpy()
    if {"accuracy_measured", "accuracy_predicted"} <= set(front.columns):
        f = front.drop_nulls(["accuracy_measured", "accuracy_predicted"])
        if f.height:
            return f["accuracy_measured"].to_numpy(), f["accuracy_predicted"].to_numpy(), None
    return None


def write_report(front_path: str | Path, history_path: str | Path, out_dir: str | Path,
                 train_log_path: str | Path | None = None,
                 predictor_metrics: Mapping[str, Any] | str | Path | None = None,
                 bit_phases: Sequence[tuple[float, Sequence[int]]] | None = None,
                 workload: str | None = None, summary_path: str | Path | None = None) -> list[Path]:
    """Write the explorer, the plots and ``index.html`` into ``out_dir``; return the files written.

    ``predictor_metrics`` is the dict of ``predictor_metrics.json`` or its path; ``bit_phases`` the training
    recipe's ``(start fraction, bits)`` phases, shaded in the training plot; ``workload`` names the page
    (default: from the front's file name, ``pareto_{workload}.parquet``); ``summary_path`` the search summary
    (default: ``search_summary.json`` beside the history).
    """
    from cimpipe.report import plots
    from cimpipe.results import front_hypervolume, workload_of

    front_path, history_path, out = Path(front_path), Path(history_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    front = _read(front_path, "Pareto front")
    history = _read(history_path, "search history")
    summary_path = Path(summary_path) if summary_path is not None else history_path.parent / "search_summary.json"
    summary = _json(summary_path, "search summary") if summary_path.is_file() else None
    reference = (summary or {}).get("reference")
    title = f"Pareto front of {workload or workload_of(front_path) or front_path.stem}"
    written: list[Path] = [write_explorer(front, summary, out / "explorer.html", title,
                                          html.escape(evaluated_text(history, summary)) + ".")]
    for stem, (column, label) in plots.FRONT_PLOTS.items():
        plots.front_plot(front, column, label, reference, out / f"{stem}.png")
        written.append(out / f"{stem}.png")
    final = None
    if summary is not None and "normalizer" in summary and front.height:
        final = front_hypervolume(front, summary)
    plots.hypervolume_plot(history, final, out / "hypervolume.png")
    written.append(out / "hypervolume.png")
    if train_log_path is not None:
        plots.training_plot(_read(Path(train_log_path), "training log"), bit_phases, out / "training.png")
        written.append(out / "training.png")
    if predictor_metrics is not None:
        if not isinstance(predictor_metrics, Mapping):
            predictor_metrics = _json(Path(predictor_metrics), "predictor metrics")
        pairs = _predictor_inputs(front, history_path.parent / "search" / "refine.parquet")
        plots.predictor_plot(*(pairs or (None, None, None)), predictor_metrics, out / "predictor.png")
        written.append(out / "predictor.png")
    written.append(_write_index(out, written, front, history, summary, final, title))
    return written


def _write_index(out: Path, written: list[Path], front: pl.DataFrame, history: pl.DataFrame,
                 summary: Mapping[str, Any] | None, final, title: str) -> Path:
    n_obj = len((summary or {}).get("objectives", [])) or 4
    captions = dict(CAPTIONS)
    if final is not None:
        captions["hypervolume"] += (f" The dashed line is the final front's hypervolume with measured accuracy "
                                    f"({final.value:.3f}, the figure `cimpipe compare` prints for it). Reference "
                                    f"point: {final.reference_text()}.")
    figures = "\n".join(
        f'<figure><img src="{p.name}" alt="{p.stem}"><figcaption>{html.escape(captions.get(p.stem, p.stem))}'
        f"</figcaption></figure>" for p in written if p.suffix == ".png")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{front.height} designs on the front; "
            f"{html.escape(evaluated_text(history, summary))}.</p>"
            f"<p><a href='explorer.html'>Open the front explorer</a> (choose the axes, filter, see every design).</p>"
            f"<p>{html.escape(FRONT_NOTE.format(n=n_obj))}</p>{figures}</body></html>")
    index = out / "index.html"
    write_text(page, index)
    return index
