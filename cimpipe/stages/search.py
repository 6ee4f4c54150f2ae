"""Stage search: the islands' fronts merged, re-measured and refined into the workload's front."""

from __future__ import annotations

import numpy as np
import polars as pl

from cimpipe.accuracy import AccuracySettings
from cimpipe.data import load_prepared
from cimpipe.io import write_parquet
from cimpipe.predictor import PredictorSettings
from cimpipe.search import (MeasuredDesigns, MeasureRecorder, Remeasurer, SearchFiles, SearchInputs, measured_rows,
                            merged_outcome, refine, refined_outcome, table_refit)
from cimpipe.workload import workload_space


def search(predictor_path: str, supernet_path: str, data_dir: str, table_path: str, hwcost_paths: list[str],
           settings: dict, islands: list[SearchFiles], files: SearchFiles, refine_path: str) -> None:
    """Merge the islands' fronts, re-measure the merged front, refine (``search.refine`` rounds: refit the
    predictor on the table plus the measured designs, search again, re-measure); write the history, the
    measured front and the summary (``files``) and every measured design (``refine_path``)."""
    inputs = SearchInputs.load(predictor_path, supernet_path, hwcost_paths, settings)
    space, objective, search_settings = inputs.space, inputs.objective, inputs.settings
    if not search_settings.remeasure:  # nothing measured: no refinement either
        merged_outcome(space, objective, search_settings, islands).write(files)
        write_parquet(measured_rows(space, []), refine_path)
        return
    remeasurer = Remeasurer(inputs.supernet, inputs.spec, space, load_prepared(data_dir),
                            AccuracySettings.from_config(settings["accuracy"]))
    recorder = MeasureRecorder(space, remeasurer)
    first = merged_outcome(space, objective, search_settings, islands, remeasure_fn=recorder)
    genes, measured = recorder.taken()
    rounds = [MeasuredDesigns(0, genes, objective(genes).accuracy if len(genes) else np.zeros(0), measured)]
    if search_settings.refine:
        fit_space = workload_space(inputs.spec, settings["hardware_space"])  # the table's, technology-free
        refit = table_refit(pl.read_parquet(table_path), space, fit_space,
                            PredictorSettings.from_config(settings["predictor"]))
        rounds = refine(space, objective, search_settings, rounds[0], refit, recorder)
    outcome = refined_outcome(space, objective, search_settings, rounds, first)
    outcome.write(files)
    write_parquet(measured_rows(space, rounds), refine_path)
    for r in rounds:
        e = r.error()
        if e["designs_measured"]:
            print(f"round {e['round']}: {e['designs_measured']} designs measured; predicted minus measured accuracy: "
                  f"RMSE {e['front_rmse_pct']:.2f}, mean {e['front_bias_pct']:+.2f} points")
    print(f"front: {outcome.front.height} designs")
