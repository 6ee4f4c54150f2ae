rule search:
    input:
        predictor="results/{workload}/predictor.pt",
        supernet="results/{workload}/supernet.pt",
        data=prepared_data,
        hwcost=hwcost_tables,
    output:
        front="results/pareto_{workload}.parquet",
        history="results/{workload}/search_history.parquet",
        summary="results/{workload}/search_summary.json",
    params:
        settings=search_params,
        code=code("search.py", "pareto.py", "space.py", "hw"),
    log:
        "logs/search/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/search.py"
