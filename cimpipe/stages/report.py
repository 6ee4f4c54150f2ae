"""Stage report: the plots of a finished search."""

from __future__ import annotations

from cimpipe.report import write_report


def report(front_path: str, history_path: str, summary_path: str, train_log: str, predictor_metrics: str,
           out_dir: str) -> None:
    for path in write_report(front_path, history_path, out_dir, train_log_path=train_log,
                             predictor_metrics=predictor_metrics, summary_path=summary_path):
        print(path)
