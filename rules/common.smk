# Helpers shared by the rules: config validation, wildcard constraints, the per-rule slices of config
# that reach the rules through params (so Snakemake reruns exactly the stages whose slice changed).
# Every slice is handed in canonical form (keys sorted at every level): Snakemake compares params by their
# repr, so the same values in another key order, or through a --configfile overlay, replan nothing.

import sys

from cimpipe.config import (ConfigError, accuracy_section, canonical, characterized_section, check_config_files,
                            grid_section, search_technologies, validate_config)
from cimpipe.imports import script_digest

# The config files are checked one by one before Snakemake's merge of them is validated: a key given twice in a
# file, or a technology two files define differently, would otherwise vanish in the merge. Validation resolves
# every technology to its full entry (packaged names and overrides replaced by the devices they mean), so the
# rules' params carry the devices themselves: hw_cost reruns when a device changes, not when its spelling does.
try:
    # config.yaml first, then the --configfile overlays, in the order Snakemake merges them
    overlays = list(workflow.overwrite_configfiles)
    check_config_files([*workflow.configfiles[len(overlays):], *overlays])
    validate_config(config)
except ConfigError as err:
    sys.exit(f"cimpipe: {err}")


wildcard_constraints:
    workload="|".join(config["workloads"]),
    dataset="|".join(config["datasets"]),
    tech="|".join(config["technologies"]),
    shard=r"\d+",
    island=r"\d+",


ENV = "../envs/cimpipe.yaml"


def workload_cfg(wildcards):
    return config["workloads"][wildcards.workload]


def dataset_of(wildcards):
    return config["workloads"][wildcards.workload]["dataset"]


def prepared_data(wildcards):
    return f"data/prepared/{dataset_of(wildcards)}"


def dataset_params(wildcards):
    return canonical(config["datasets"][wildcards.dataset])


def train_params(wildcards):
    wl = workload_cfg(wildcards)
    return canonical({"arch": wl["arch"], "family": wl["family"], "train": wl["train"], "seed": wl["seed"]})


def accuracy_params(wildcards):
    return canonical({"accuracy": accuracy_section(config, wildcards.workload),
                      "hardware_space": grid_section(config)})


def n_shards(wildcards):
    return int(workload_cfg(wildcards)["accuracy"].get("shards", 1))


def accuracy_shards(wildcards):
    return expand(
        "results/{workload}/accuracy/shard_{shard}.parquet",
        workload=wildcards.workload,
        shard=range(n_shards(wildcards)),
    )


def predictor_params(wildcards):
    wl = workload_cfg(wildcards)
    return canonical({"predictor": wl["predictor"], "accuracy": accuracy_section(config, wildcards.workload),
                      "hardware_space": grid_section(config)})


def technology_params(wildcards):
    return canonical(config["technologies"][wildcards.tech])


def hw_grid_params(wildcards):
    """The knobs a characterization spans: which of them vary per layer, pipelining and the sign encoding do not
    change it."""
    return canonical(characterized_section(config))


def hwcost_tables(wildcards):
    return expand("results/hwcost/{tech}.parquet", tech=search_technologies(config))


# search keys only the merge reads: a new island count runs the new islands and the merge, not the old islands
MERGE_ONLY_SEARCH_KEYS = ("islands", "front_size", "remeasure", "refine")


def island_params(wildcards):
    wl = workload_cfg(wildcards)
    techs = search_technologies(config)
    return canonical({
        "search": {k: v for k, v in wl["search"].items() if k not in MERGE_ONLY_SEARCH_KEYS},
        "hardware_space": grid_section(config),
        "technologies": {t: config["technologies"][t] for t in techs},
    })


def n_islands(wildcards):
    return int(workload_cfg(wildcards)["search"].get("islands", 1))


def island_files(name):
    """An input function: file ``name`` of every search island, island by island (the merge reads them in
    this order)."""

    def files(wildcards):
        return expand("results/{workload}/search/island_{island}/{name}", workload=wildcards.workload,
                      island=range(n_islands(wildcards)), name=name)

    return files


def search_params(wildcards):
    techs = search_technologies(config)
    wl = workload_cfg(wildcards)
    return canonical({
        "search": wl["search"],
        "predictor": wl["predictor"],
        "accuracy": accuracy_section(config, wildcards.workload),
        "hardware_space": grid_section(config),
        "technologies": {t: config["technologies"][t] for t in techs},
    })


def report_plot(name):
    """A report figure: a PNG under results/{workload}/report/, captioned for `snakemake --report`."""
    return report(
        f"results/{{workload}}/report/{name}.png",
        caption=f"../workflow/report/{name}.rst",
        category="{workload}",
    )


def report_page(name):
    """An HTML page of the report under results/{workload}/report/, embedded by `snakemake --report`."""
    return report(
        f"results/{{workload}}/report/{name}.html",
        caption=f"../workflow/report/{name}.rst",
        category="{workload}",
    )


def report_params(wildcards):
    """The workload's name (the report's title) and training recipe (its bit phases)."""
    return canonical({"workload": wildcards.workload, "train": workload_cfg(wildcards)["train"]})


def stage_code(script):
    """A digest of the package code a rule's script runs: every cimpipe module it reaches through its imports
    (cimpipe.imports), so a change to a module reruns exactly the stages that import it, directly or not."""
    return script_digest(f"{workflow.basedir}/workflow/scripts/{script}.py")
