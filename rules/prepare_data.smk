rule prepare_data:
    output:
        directory("data/prepared/{dataset}"),
    params:
        dataset=dataset_params,
        code=code("data"),
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/prepare_data.py"
