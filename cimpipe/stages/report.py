"""Stage report: the explorer and the plots of a finished search."""

from __future__ import annotations

from typing import Any, Mapping

from cimpipe.report import write_report
from cimpipe.train import TrainRecipe


def report(front_path: str, history_path: str, summary_path: str, train_log: str, predictor_metrics: str,
           out_dir: str, settings: Mapping[str, Any] | None = None) -> None:
    """``settings``: the workload's name (the report's title) and its training recipe (the bit phases the
    training plot shades)."""
    settings = settings or {}
    phases = TrainRecipe.from_config(settings.get("train")).bit_phases
    for path in write_report(front_path, history_path, out_dir, train_log_path=train_log,
                             predictor_metrics=predictor_metrics, summary_path=summary_path, bit_phases=phases,
                             workload=settings.get("workload")):
        print(path)
