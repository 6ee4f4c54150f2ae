from pathlib import Path

from cimpipe.stages import report, run_stage

run_stage(
    snakemake.log[0],
    report,
    threads=snakemake.threads,
    front_path=snakemake.input.front,
    history_path=snakemake.input.history,
    train_log=snakemake.input.train_log,
    predictor_metrics=snakemake.input.predictor_metrics,
    out_dir=str(Path(snakemake.output.index).parent),
    settings=snakemake.params.settings,
)
