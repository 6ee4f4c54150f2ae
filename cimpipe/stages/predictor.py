"""Stage fit_predictor: the accuracy predictor fitted on the table, its held-out scores beside it."""

from __future__ import annotations

import json

import polars as pl

from cimpipe.predictor import PredictorSettings, fit_predictor
from cimpipe.workload import load_workload


def fit(table_path: str, supernet_path: str, settings: dict, predictor_path: str, metrics_path: str) -> None:
    """Fit the accuracy predictor on the table; held-out Kendall tau and RMSE go beside it."""
    _, _, space = load_workload(supernet_path, settings["hardware_space"])
    metrics = fit_predictor(pl.read_parquet(table_path), space, PredictorSettings.from_config(settings["predictor"]),
                            predictor_path, metrics_path)
    print(json.dumps(metrics, indent=2, sort_keys=True))
