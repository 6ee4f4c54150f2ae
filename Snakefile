# cimpipe: co-design of a neural network and the compute-in-memory accelerator that runs it.
# A table of contents: configuration, validation, the stages, and the default target.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/prepare_data.smk"
include: "rules/train_supernet.smk"
include: "rules/accuracy_table.smk"
include: "rules/fit_predictor.smk"
include: "rules/hw_cost.smk"
include: "rules/search.smk"
include: "rules/report.smk"


rule all:
    input:
        "results/pareto_demo.parquet",
        "results/demo/report/index.html",
    default_target: True
