from cimpipe.stages.train import train
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    train,
    threads=snakemake.threads,
    data_dir=snakemake.input.data,
    recipe=snakemake.params.recipe,
    supernet_path=snakemake.output.supernet,
    log_table=snakemake.output.log_table,
)
