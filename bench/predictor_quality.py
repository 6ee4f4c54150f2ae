"""How well the accuracy predictor's recipe and its alternatives rank and fit unseen rows of an accuracy table.

Run from a workflow folder after `snakemake -c2` (the demo):

    python bench/predictor_quality.py [--table results/demo/accuracy.parquet] [--folds 5] [--models gbt,gp,saved]

For the feature sets (``cimpipe.space.features`` alone, and with the predictor's crossbar features) and the
models of ``PredictorSettings()`` (the MLP ensemble; the gradient-boosted trees without and with the monotone
trends; the Gaussian process; the saved blend of trees and process at the default ``gp_weight``) prints
Kendall tau and RMSE in accuracy points on ``fit_predictor``'s held-out split and over ``--folds``
cross-validation folds of the non-anchor rows (every row predicted by a model that never saw it), with the
RMSE of rows below and above 90 % accuracy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from cimpipe.predictor import (PredictorSettings, crossbar_features, features, fit_gp, fit_trees, predict_gp,
                               predict_trees, predictor_trends, score, split_rows, train_ensemble)
from cimpipe.space import CIM_COLUMNS
from cimpipe.train import load_supernet


def _mlp(settings: PredictorSettings):
    def fit_predict(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
        net, mean, std = train_ensemble(x, y, settings)
        return net(torch.from_numpy((x_new - mean) / std)).mean(0).double().numpy()
    return fit_predict


def _gbt(settings: PredictorSettings, trends: np.ndarray | None):
    def fit_predict(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
        t = None if trends is None else trends[: x.shape[1]]
        return predict_trees(fit_trees(x, y, settings, t), torch.from_numpy(x_new)).numpy()
    return fit_predict


def _gp(settings: PredictorSettings):
    def fit_predict(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> np.ndarray:
        return predict_gp(fit_gp(x, y, settings), torch.from_numpy(x_new)).numpy()
    return fit_predict


def table_features(workload: str, table_path: Path | None) -> tuple[pl.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """The accuracy table, its feature matrices ("space": ``cimpipe.space.features``; "space+xbar": with the
    predictor's crossbar features, as the saved predictor sees them) and the monotone trends of the latter."""
    from cimpipe.space import DeviceSummary, HardwareSpace, SearchSpace

    _, spec, _ = load_supernet(Path(f"results/{workload}/supernet.pt"))
    table = pl.read_parquet(table_path or Path(f"results/{workload}/accuracy.parquet"))
    hw = HardwareSpace(technologies=("table",), adc_bits=tuple(sorted(set(table["adc_bits"]))),
                       cell_bits=tuple(sorted(set(table["cell_bits"]))),
                       rows_parallel=tuple(sorted(set(table["rows_parallel"]))))
    space = SearchSpace(spec, hw, {"table": DeviceSummary(float(table["sigma"].max()), 10.0, int(table["cell_bits"].max()))})
    arch = table.select([g.name for g in space.arch_genes]).to_numpy().astype(np.float64)
    cim = table.select(CIM_COLUMNS).to_numpy().astype(np.float64)
    base = features(space, arch, cim)
    sets = {"space": base, "space+xbar": np.concatenate([base, crossbar_features(space, arch, cim)], 1)}
    return table, sets, predictor_trends(space)


def saved_recipe(settings: PredictorSettings, trends: np.ndarray):
    """fit_predict of the saved predictor's blend: ``gp_weight`` times the Gaussian process, the rest trees."""
    gp, gbt = _gp(settings), _gbt(settings, trends)
    w = settings.gp_weight
    return lambda x, y, x_new: w * gp(x, y, x_new) + (1 - w) * gbt(x, y, x_new)


def cross_validate(fit_predict, x: np.ndarray, acc: np.ndarray, folds: list[np.ndarray]) -> np.ndarray:
    """Every row of ``folds`` predicted by a model fitted on all the other rows."""
    cv = np.zeros_like(acc)
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(acc)), fold)
        cv[fold] = fit_predict(x[rest], acc[rest], x[fold])
    return cv


def cv_folds(table: pl.DataFrame, n_folds: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The non-anchor rows and their split into ``n_folds`` folds (seeded: every script scores the same folds)."""
    others = np.flatnonzero(~table["anchor"].to_numpy())
    return others, np.array_split(np.random.default_rng(0).permutation(others), n_folds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="demo")
    ap.add_argument("--table", type=Path, help="default: results/WORKLOAD/accuracy.parquet")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--models", help="comma-separated subset of mlp,gbt-free,gbt,gp,saved (default: all)")
    ap.add_argument("--features", default="space,space+xbar", help="comma-separated subset of space,space+xbar")
    args = ap.parse_args()
    torch.set_num_threads(1)
    table, feature_sets, trends = table_features(args.workload, args.table)
    acc = table["accuracy"].to_numpy().astype(np.float64)
    feature_sets = {k: v for k, v in feature_sets.items() if k in args.features.split(",")}
    settings = PredictorSettings()
    models = {"mlp": _mlp(settings), "gbt-free": _gbt(settings, None), "gbt": _gbt(settings, trends),
              "gp": _gp(settings), "saved": saved_recipe(settings, trends)}
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
    fit, held = split_rows(table, settings.holdout, settings.seed)
    others, folds = cv_folds(table, args.folds)
    print(f"table {table.height} rows ({len(fit)} fit / {len(held)} held out); accuracy {acc.min():.3f}..{acc.max():.3f}")
    for fname, x in feature_sets.items():
        for mname, fit_predict in models.items():
            start = time.perf_counter()
            split = score(p := fit_predict(x[fit], acc[fit], x[held]), np.zeros_like(p), acc[held])
            cv = cross_validate(fit_predict, x, acc, folds)
            cvs = score(cv[others], np.zeros(len(others)), acc[others])
            err = (cv[others] - acc[others]) * 100
            low = acc[others] < 0.9
            print(f"{fname:11s} {mname:8s} held-out tau {split['kendall_tau']:.3f} rmse {split['rmse_pct']:5.2f} | "
                  f"{args.folds}-fold tau {cvs['kendall_tau']:.3f} rmse {cvs['rmse_pct']:5.2f} "
                  f"(<90 %: {np.sqrt(np.mean(err[low] ** 2)):5.2f}, >=90 %: {np.sqrt(np.mean(err[~low] ** 2)):4.2f})"
                  f"  {time.perf_counter() - start:4.0f} s")


if __name__ == "__main__":
    main()
