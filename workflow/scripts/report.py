from pathlib import Path

from cimpipe.stages.report import report
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    report,
    threads=snakemake.threads,
    front_path=snakemake.input.front,
    history_path=snakemake.input.history,
    summary_path=snakemake.input.summary,
    train_log=snakemake.input.train_log,
    predictor_metrics=snakemake.input.predictor_metrics,
    out_dir=str(Path(snakemake.output.index).parent),
    settings=snakemake.params.settings,
)
