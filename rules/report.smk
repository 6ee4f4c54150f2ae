rule report:
    input:
        front="results/{workload}/search/pareto.parquet",
        history="results/{workload}/search_history.parquet",
        summary="results/{workload}/search_summary.json",
        refine="results/{workload}/search/refine.parquet",
        train_log="results/{workload}/train_log.parquet",
        predictor_metrics="results/{workload}/predictor_metrics.json",
    output:
        index="results/{workload}/report/index.html",
        explorer=report_page("explorer"),
        front_energy=report_plot("front_energy"),
        front_latency=report_plot("front_latency"),
        front_area=report_plot("front_area"),
        front_edap=report_plot("front_edap"),
        hypervolume=report_plot("hypervolume"),
        training=report_plot("training"),
        predictor=report_plot("predictor"),
    params:
        settings=report_params,
        code=stage_code("report"),
    log:
        "logs/report/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/report.py"


# The front becomes results/pareto_{workload}.parquet once its report exists, so that the report is part of
# every run that builds the front and `snakemake --report FILE results/pareto_{workload}.parquet` holds it.
rule front:
    input:
        front="results/{workload}/search/pareto.parquet",
        report="results/{workload}/report/index.html",
    output:
        "results/pareto_{workload}.parquet",
    params:
        code=stage_code("front"),
    log:
        "logs/front/{workload}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/front.py"
