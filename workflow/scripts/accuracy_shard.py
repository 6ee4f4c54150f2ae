from cimpipe.stages.accuracy import accuracy_shard
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    accuracy_shard,
    threads=snakemake.threads,
    supernet_path=snakemake.input.supernet,
    data_dir=snakemake.input.data,
    settings=snakemake.params.settings,
    shard=snakemake.wildcards.shard,
    shards=snakemake.params.shards,
    out_path=snakemake.output[0],
)
