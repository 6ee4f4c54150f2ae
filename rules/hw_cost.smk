rule hw_cost:
    output:
        "results/hwcost/{tech}.parquet",
    params:
        technology=technology_params,
        grid=hw_grid_params,
        code=stage_code("hw_cost"),
    log:
        "logs/hw_cost/{tech}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/hw_cost.py"
