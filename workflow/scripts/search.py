from pathlib import Path

from cimpipe.stages import run_stage, search

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
    island_dirs=list(dict.fromkeys(str(Path(p).parent) for p in snakemake.input.islands)),
    front_path=snakemake.output.front,
    history_path=snakemake.output.history,
    refine_path=snakemake.output.refine,
)
