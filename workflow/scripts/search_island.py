from cimpipe.stages import run_stage, search_island

run_stage(
    snakemake.log[0],
    search_island,
    threads=snakemake.threads,
    predictor_path=snakemake.input.predictor,
    supernet_path=snakemake.input.supernet,
    hwcost_paths=list(snakemake.input.hwcost),
    settings=snakemake.params.settings,
    island=int(snakemake.wildcards.island),
    front_path=snakemake.output.front,
    history_path=snakemake.output.history,
)
