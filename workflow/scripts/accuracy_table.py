from cimpipe.stages import merge_accuracy, run_stage

run_stage(
    snakemake.log[0],
    merge_accuracy,
    threads=snakemake.threads,
    shard_paths=list(snakemake.input),
    out_path=snakemake.output[0],
)
