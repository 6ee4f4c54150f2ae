rule train_supernet:
    input:
        data=prepared_data,
    output:
        supernet="results/{workload}/supernet.pt",
        log_table="results/{workload}/train_log.parquet",
    params:
        recipe=train_params,
        code=stage_code("train_supernet"),
    log:
        "logs/train_supernet/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/train_supernet.py"
