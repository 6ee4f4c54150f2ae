from cimpipe.stages.hw_cost import hw_cost
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    hw_cost,
    threads=snakemake.threads,
    tech=snakemake.wildcards.tech,
    entry=snakemake.params.technology,
    grid=snakemake.params.grid,
    out_path=snakemake.output[0],
)
