rule prepare_data:
    output:
        directory("data/prepared/{dataset}"),
    params:
        dataset=dataset_params,
        code=stage_code("prepare_data"),
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/prepare_data.py"
