from cimpipe.search import SearchFiles
from cimpipe.stages.island import search_island
from cimpipe.stages.run import run_stage

run_stage(
    snakemake.log[0],
    search_island,
    threads=snakemake.threads,
    predictor_path=snakemake.input.predictor,
    supernet_path=snakemake.input.supernet,
    hwcost_paths=list(snakemake.input.hwcost),
    settings=snakemake.params.settings,
    island=int(snakemake.wildcards.island),
    files=SearchFiles.of(snakemake.output.history, snakemake.output.front, snakemake.output.summary),
)
