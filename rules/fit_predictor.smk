rule fit_predictor:
    input:
        table="results/{workload}/accuracy.parquet",
        supernet="results/{workload}/supernet.pt",
    output:
        predictor="results/{workload}/predictor.pt",
        metrics="results/{workload}/predictor_metrics.json",
    params:
        settings=predictor_params,
        code=code("predictor.py", "space.py", "families.py"),
    log:
        "logs/fit_predictor/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/fit_predictor.py"
