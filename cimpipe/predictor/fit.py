"""Fitting the predictor on an accuracy table: the held-out protocol, the final model, and its files."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from cimpipe.io import write_json
from cimpipe.predictor.features import predictor_trends
from cimpipe.predictor.gp import GP_NU, fit_gp, predict_gp
from cimpipe.predictor.mlp import train_ensemble
from cimpipe.predictor.model import Predictor, blend, gene_table, table_cim_ranges
from cimpipe.predictor.scoring import gbt_baseline, score
from cimpipe.predictor.settings import FORMAT, PredictorError, PredictorSettings
from cimpipe.predictor.trees import TREE_DEPTH, fit_trees, predict_trees
from cimpipe.space import SearchSpace


def check_table(table: pl.DataFrame, space: SearchSpace) -> None:
    needed = [g.name for g in space.arch_genes] + list(space.cim_columns) + ["accuracy"]
    for c in needed:
        if c not in table.columns:
            raise PredictorError(f"the accuracy table lacks the column {c!r}")
    acc = table["accuracy"].to_numpy()
    if not np.all(np.isfinite(acc)) or acc.min() < 0 or acc.max() > 1:
        raise PredictorError("the accuracy table's column 'accuracy' must hold finite values in 0..1")


def split_rows(table: pl.DataFrame, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) row positions: ``round(holdout * rows)`` held out, drawn from the non-anchor rows."""
    n = table.height
    anchor = table["anchor"].to_numpy() if "anchor" in table.columns else np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(~anchor)
    rng = np.random.default_rng([seed, 11])
    k = min(int(round(holdout * n)), len(candidates))
    held = np.sort(rng.permutation(candidates)[:k])
    fit = np.setdiff1d(np.arange(n), held)
    return fit, held


def _model_description(settings: PredictorSettings) -> str:
    mlp = f"mlp-ensemble x{settings.ensemble} {list(settings.hidden)}"
    rest = 1 - settings.mlp_weight - settings.gp_weight
    parts = []
    if settings.trees:
        parts.append(f"gradient-boosted trees x{settings.trees} (log error rate, depth {TREE_DEPTH}, monotone in "
                     f"bits, ADC, variation and on/off ratio) weighted {rest:g}")
    if settings.gp_weight:
        parts.append(f"a Gaussian process (log error rate, Matern {GP_NU:g}, one length scale per feature) "
                     f"weighted {settings.gp_weight:g}")
    mlp_share = settings.mlp_weight + (0 if settings.trees else rest)
    return ", ".join(parts + [f"{mlp} weighted {mlp_share:g}"]) if parts else mlp


def _held_out_scores(feats: np.ndarray, acc: np.ndarray, fit: np.ndarray, held: np.ndarray,
                     settings: PredictorSettings, trends: np.ndarray) -> dict[str, Any]:
    """The recipe trained on the ``fit`` rows and scored on the ``held`` rows: the blend, and beside it the MLP
    ensemble, the trees (or sklearn's boosted trees) and the Gaussian process alone."""
    if len(held) < 2:
        return {"kendall_tau": None, "rmse_pct": None, "mae_pct": None, "spread_pct": None}
    net, mean, std = train_ensemble(feats[fit], acc[fit], settings)
    out = net(torch.from_numpy((feats[held] - mean) / std))
    held_x = torch.from_numpy(feats[held])
    trees = predict_trees(fit_trees(feats[fit], acc[fit], settings, trends), held_x) if settings.trees else None
    gp = predict_gp(fit_gp(feats[fit], acc[fit], settings), held_x) if settings.gp_weight else None
    pred, spread = blend(out, trees, gp, settings.mlp_weight, settings.gp_weight)
    scores = score(pred.numpy(), spread.numpy(), acc[held])
    scores["mlp_ensemble"] = score(out.mean(0).double().numpy(), out.std(0, unbiased=False).double().numpy(),
                                   acc[held])
    scores["baseline_gbt"] = score(trees.numpy(), np.zeros(len(held)), acc[held]) if trees is not None \
        else gbt_baseline(feats, acc, fit, held, settings.seed)
    if gp is not None:
        scores["gaussian_process"] = score(gp.numpy(), np.zeros(len(held)), acc[held])
    return scores


def fit(table: pl.DataFrame, space: SearchSpace, settings: PredictorSettings) -> Predictor:
    """The predictor fitted on an accuracy table: scored on held-out rows, then refitted on all rows.

    Its :attr:`Predictor.metrics`: the held-out ``kendall_tau``, ``rmse_pct``, ``mae_pct``, ``spread_pct`` of
    the recipe, row counts, the MLP ensemble's, the gradient-boosted trees' and the Gaussian process's own
    scores on the same split as ``mlp_ensemble``, ``baseline_gbt`` and ``gaussian_process``, fit seconds.
    Nothing is written (:func:`save_predictor`).
    """
    check_table(table, space)
    start = time.perf_counter()
    state_base = {"format": FORMAT, "arch_genes": gene_table(space), "cim_ranges": table_cim_ranges(table),
                  "per_layer_adc": space.per_layer_adc,
                  "spec": json.loads(json.dumps(asdict(space.spec))), "hidden": list(settings.hidden)}
    checker = Predictor({**state_base, "feature_mean": [0.0], "feature_std": [1.0],
                         "weights": [torch.zeros(1, 1, 1)], "biases": [torch.zeros(1, 1, 1)]}, space)
    feats = checker.features(table, table)
    acc = table["accuracy"].to_numpy().astype(np.float64)
    fit_rows, held = split_rows(table, settings.holdout, settings.seed)
    if len(fit_rows) < 2:
        raise PredictorError(f"the accuracy table has {table.height} rows, too few to fit a predictor")
    trends = predictor_trends(space)
    metrics: dict[str, Any] = {"model": _model_description(settings),
                               "final_fit": "all rows (same recipe)", "rows_total": table.height,
                               "rows_fit": int(len(fit_rows)), "rows_heldout": int(len(held)),
                               "settings": {**asdict(settings), "hidden": list(settings.hidden)}}
    metrics.update(_held_out_scores(feats, acc, fit_rows, held, settings, trends))
    net, mean, std = train_ensemble(feats, acc, settings)
    state = {**state_base, "feature_mean": torch.from_numpy(mean), "feature_std": torch.from_numpy(std),
             "weights": list(net.weights), "biases": list(net.biases), "metrics": metrics,
             "mlp_weight": settings.mlp_weight, "gp_weight": settings.gp_weight}
    if settings.trees:
        state["trees"] = fit_trees(feats, acc, settings, trends)
    if settings.gp_weight:
        state["gp"] = fit_gp(feats, acc, settings)
    metrics["fit_seconds"] = round(time.perf_counter() - start, 3)
    return Predictor(state, space)


def save_predictor(predictor: Predictor, out_path: str | Path, metrics_path: str | Path) -> None:
    """The predictor file (:meth:`Predictor.load` reads it) and its metrics as JSON beside it."""
    predictor.save(out_path)
    write_json(predictor.metrics, metrics_path, indent=2, allow_nan=False)


def fit_predictor(table: pl.DataFrame, space: SearchSpace, settings: PredictorSettings, out_path: str | Path,
                  metrics_path: str | Path) -> dict[str, Any]:
    """:func:`fit`, then :func:`save_predictor`; returns the metrics."""
    predictor = fit(table, space, settings)
    save_predictor(predictor, out_path, metrics_path)
    return predictor.metrics
