rule accuracy_shard:
    input:
        supernet="results/{workload}/supernet.pt",
        data=prepared_data,
    output:
        "results/{workload}/accuracy/shard_{shard}.parquet",
    params:
        settings=accuracy_params,
        shards=n_shards,
        code=stage_code("accuracy_shard"),
    log:
        "logs/accuracy_shard/{workload}_{shard}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/accuracy_shard.py"


rule accuracy_table:
    input:
        accuracy_shards,
    output:
        "results/{workload}/accuracy.parquet",
    params:
        code=stage_code("accuracy_table"),
    log:
        "logs/accuracy_table/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/accuracy_table.py"
