from cimpipe.search import SearchFiles
from cimpipe.stages.run import run_stage
from cimpipe.stages.search import search

run_stage(
    snakemake.log[0],
    search,
    threads=snakemake.threads,
    predictor_path=snakemake.input.predictor,
    supernet_path=snakemake.input.supernet,
    data_dir=snakemake.input.data,
    table_path=snakemake.input.table,
    hwcost_paths=list(snakemake.input.hwcost),
    settings=snakemake.params.settings,
    islands=[SearchFiles.of(*files) for files in zip(snakemake.input.island_histories, snakemake.input.island_fronts,
                                                      snakemake.input.island_summaries)],
    files=SearchFiles.of(snakemake.output.history, snakemake.output.front, snakemake.output.summary),
    refine_path=snakemake.output.refine,
)
