from cimpipe.stages.accuracy import merge_accuracy
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    merge_accuracy,
    threads=snakemake.threads,
    shard_paths=list(snakemake.input),
    out_path=snakemake.output[0],
)
