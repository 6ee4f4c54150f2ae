"""Stage fit_predictor: the accuracy predictor fitted on the table, its held-out scores beside it."""

from __future__ import annotations

import json

import polars as pl

from cimpipe.nn.statistics import cell_levels
from cimpipe.predictor import PredictorSettings, save_predictor
from cimpipe.predictor import fit as fit_model
from cimpipe.statistics import DataStatistics
from cimpipe.workload import load_workload


def fit(table_path: str, supernet_path: str, settings: dict, predictor_path: str, metrics_path: str) -> None:
    """Fit the accuracy predictor on the table; held-out Kendall tau and RMSE go beside it. The predictor file
    also carries the data statistics the hardware cost follows (:class:`DataStatistics`): the table's input
    bit densities and the supernet's stored cell levels."""
    model, spec, space = load_workload(supernet_path, settings["hardware_space"])
    table = pl.read_parquet(table_path)
    predictor = fit_model(table, space, PredictorSettings.from_config(settings["predictor"]))
    cells = sorted(space.hardware.cell_bits)
    predictor.attach_statistics(DataStatistics.measure(table, cell_levels(model, spec, cells), spec.bit_choices, cells))
    save_predictor(predictor, predictor_path, metrics_path)
    print(json.dumps(predictor.metrics, indent=2, sort_keys=True))
