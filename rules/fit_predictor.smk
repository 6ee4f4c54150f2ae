rule fit_predictor:
    input:
        table="results/{workload}/accuracy.parquet",
        supernet="results/{workload}/supernet.pt",
    output:
        predictor="results/{workload}/predictor.pt",
        metrics="results/{workload}/predictor_metrics.json",
    params:
        settings=predictor_params,
        code=stage_code("fit_predictor"),
    log:
        "logs/fit_predictor/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/fit_predictor.py"
