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
        code=code("search.py", "pareto.py", "progress.py", "space.py", "families.py", "hw"),
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
        islands=search_islands,
    output:
        front="results/{workload}/search/pareto.parquet",  # published as results/pareto_{workload}.parquet
        history="results/{workload}/search_history.parquet",
        summary="results/{workload}/search_summary.json",
        refine="results/{workload}/search/refine.parquet",
    params:
        settings=search_params,
        code=code("search.py", "pareto.py", "progress.py", "space.py", "families.py", "hw", "predictor.py",
                  "accuracy.py", "nn"),
    log:
        "logs/search/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/search.py"
