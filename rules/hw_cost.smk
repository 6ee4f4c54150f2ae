rule hw_cost:
    output:
        "results/hwcost/{tech}.parquet",
    params:
        technology=technology_params,
        grid=hw_grid_params,
        code=code("hw"),
    log:
        "logs/hw_cost/{tech}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/hw_cost.py"
