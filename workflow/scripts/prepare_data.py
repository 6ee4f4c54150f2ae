from cimpipe.stages.prepare import prepare_data
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    prepare_data,
    threads=snakemake.threads,
    dataset=snakemake.wildcards.dataset,
    entry=snakemake.params.dataset,
    out_dir=snakemake.output[0],
)
