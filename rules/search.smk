rule search_island:
    input:
        predictor="results/{workload}/predictor.pt",
        supernet="results/{workload}/supernet.pt",
        hwcost=hwcost_tables,
    output:
        front="results/{workload}/search/island_{island}/pareto.parquet",
        history="results/{workload}/search/island_{island}/search_history.parquet",
        summary="results/{workload}/search/island_{island}/search_summary.json",
    params:
        settings=island_params,
        code=stage_code("search_island"),
    log:
        "logs/search_island/{workload}_{island}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/search_island.py"


rule search:
    input:
        predictor="results/{workload}/predictor.pt",
        supernet="results/{workload}/supernet.pt",
        data=prepared_data,
        table="results/{workload}/accuracy.parquet",
        hwcost=hwcost_tables,
        island_histories=island_files("search_history.parquet"),
        island_fronts=island_files("pareto.parquet"),
        island_summaries=island_files("search_summary.json"),
    output:
        front="results/{workload}/search/pareto.parquet",  # published as results/pareto_{workload}.parquet
        history="results/{workload}/search_history.parquet",
        summary="results/{workload}/search_summary.json",
        refine="results/{workload}/search/refine.parquet",
    params:
        settings=search_params,
        code=stage_code("search"),
    log:
        "logs/search/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/search.py"
