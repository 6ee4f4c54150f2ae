from cimpipe.stages.predictor import fit
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    fit,
    threads=snakemake.threads,
    table_path=snakemake.input.table,
    supernet_path=snakemake.input.supernet,
    settings=snakemake.params.settings,
    predictor_path=snakemake.output.predictor,
    metrics_path=snakemake.output.metrics,
)
