"""The whole DAG on a tiny config, run as a user runs it: `snakemake -c2` in a fresh folder.

Checks the tables every stage leaves (Parquet schemas), the front's non-domination and completeness, and
what a second run plans after a change to config.yaml: nothing after no change; hw_cost for a new
technology plus the search; only the search after a new budget; everything from training on after a new
seed; only the new island and the merge after a second search island. Also `snakemake --lint` and a
misspelled key failing before any job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from cimpipe.hw import load_technologies
from cimpipe.pareto import non_dominated, to_losses
from cimpipe.space import HardwareConfig, SubnetConfig
from test_hw_neurosim import CHECKOUT, needs_checkout

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "data" / "tiny_config.yaml"
WORKFLOW_FILES = ("Snakefile", "rules", "workflow", "envs", "profiles")


def snakemake(workdir: Path, *args: str, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True,
                          timeout=timeout, env=env)


def copy_workflow(dest: Path, config: dict | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    if config is None:
        shutil.copy2(TINY, dest / "config.yaml")
    else:
        (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def assert_front_rebuilds(front: pl.DataFrame, config: dict) -> None:
    """The front is non-dominated on its (measured) objectives and every row rebuilds its sub-network of the
    tiny demo family (6 weight layers) and a configured technology."""
    losses = to_losses(front.select("accuracy", "energy_uj", "latency_ms", "area_mm2").to_numpy(),
                       maximize=[True, False, False, False], log_scale=[False, True, True, True])
    assert non_dominated(losses).all()
    for design in front["design_json"].to_list():
        d = json.loads(design)
        subnet = SubnetConfig.from_dict(d["subnet"])
        hardware = HardwareConfig(**d["hardware"])
        assert len(subnet.weight_bits) == 6
        assert hardware.technology in load_technologies(config["technologies"])


def planned_jobs(workdir: Path, *args: str) -> Counter:
    """The jobs a dry run plans, by rule (empty when there is nothing to do); ``args`` go to snakemake."""
    out = snakemake(workdir, "-n", "-c2", *args)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return Counter()
    stats = text.split("Job stats:", 1)[1]
    jobs = Counter()
    for line in stats.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        if m.group(1) != "total":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


def reordered(value):
    """``value`` with the keys of every mapping in reverse order (the same config, as another tool saves it)."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    return value


def with_overlay(workdir: Path, overlay: dict) -> Counter:
    """Plan with config.yaml untouched and ``overlay`` given as a second config file (``--configfile``)."""
    path = workdir / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    try:
        return planned_jobs(workdir, "--configfile", "overlay.yaml")
    finally:
        path.unlink()


def edited(workdir: Path, change) -> Counter:
    """Plan after applying ``change`` to config.yaml, then put the file back."""
    path = workdir / "config.yaml"
    original = path.read_text()
    config = yaml.safe_load(original)
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        return planned_jobs(workdir)
    finally:
        path.write_text(original)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("dag"))
    out = snakemake(workdir, "-c2")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return workdir


def test_every_stage_leaves_its_table(run: Path) -> None:
    results = run / "results"
    prepared = json.loads((run / "data/prepared/digits/meta.json").read_text())
    assert prepared["num_classes"] == 10 and prepared["channels"] == 1

    log = pl.read_parquet(results / "demo/train_log.parquet")
    assert log.columns == ["epoch", "lr", "loss", "largest_acc", "smallest_acc", "seconds"]
    assert log["epoch"].to_list() == [1, 2, 3]

    table = pl.read_parquet(results / "demo/accuracy.parquet")
    assert table.height == 16 and table["config_id"].to_list() == list(range(16))
    for column in ("depth_0", "wbits_0", "abits_5", "adc_bits", "cell_bits", "rows_parallel", "sigma",
                   "on_off_ratio", "sign_encoding", "accuracy", "loss", "n_images", "input_density_0"):
        assert column in table.columns
    assert table["accuracy"].is_between(0, 1).all()

    metrics = json.loads((results / "demo/predictor_metrics.json").read_text())
    assert {"kendall_tau", "rmse_pct", "rows_total"} <= set(metrics)

    for tech in ("rram_22nm", "sram_22nm"):
        hw = pl.read_parquet(results / f"hwcost/{tech}.parquet")
        assert {"subarray", "adc_bits", "feasible", "adc_area_um2", "adc_energy_pj", "clock_period_ns"} <= set(hw.columns)
        assert hw["feasible"].any()

    history = pl.read_parquet(results / "demo/search_history.parquet")
    assert history.height == 600

    # the refinement round's designs are on record beside the first front's, in table columns
    refined = pl.read_parquet(results / "demo/search/refine.parquet")
    assert set(refined["round"].unique()) == {0, 1}
    assert {"depth_0", "wbits_0", "adc_bits", "sigma", "on_off_ratio", "accuracy", "accuracy_predicted"} <= set(refined.columns)
    assert refined["accuracy"].is_between(0, 1).all()
    summary = json.loads((results / "demo/search_summary.json").read_text())
    assert [r["round"] for r in summary["refine"]] == [0, 1]
    assert summary["refine"][1]["refit_heldout"]["rows_total"] == table.height + refined.filter(pl.col("round") == 0).height
    hv = history.group_by("generation").agg(pl.col("hypervolume").first()).sort("generation")["hypervolume"]
    assert (hv.diff().drop_nulls() >= -1e-12).all()

    for name in ("index.html", "front_energy.png", "front_latency.png", "front_area.png", "front_edap.png",
                 "hypervolume.png", "training.png", "predictor.png"):
        assert (results / "demo/report" / name).stat().st_size > 0


def test_the_front_is_non_dominated_and_carries_whole_designs(run: Path) -> None:
    front = pl.read_parquet(run / "results/pareto_demo.parquet")
    assert front.height > 0
    for column in ("accuracy", "accuracy_predicted", "accuracy_measured", "energy_uj", "latency_ms", "area_mm2",
                   "edap_uj_ms_mm2", "edap_reduction_vs_reference", "technology", "adc_bits", "design_json"):
        assert column in front.columns
    assert np.allclose(front["accuracy"].to_numpy(), front["accuracy_measured"].to_numpy())
    # every front design was measured in the round that found it, at the accuracy on record there
    refined = pl.read_parquet(run / "results/demo/search/refine.parquet")
    assert set(front["round"].unique()) <= {0, 1}
    assert front.height <= refined.height
    assert_front_rebuilds(front, yaml.safe_load((run / "config.yaml").read_text()))


@needs_checkout
def test_front_designs_run_through_neurosim_beside_the_model(run: Path, neurosim_cache: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "cimpipe.cli", "neurosim", "check", "results/pareto_demo.parquet",
                          "--neurosim", str(CHECKOUT), "--rows", "3", "--cache", str(neurosim_cache), "--json"],
                         cwd=run, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 3 and rows[0]["row"] == 0
    for row in rows:  # compared on both sides, or refused by NeuroSim (or a scheme it lacks) in one sentence
        if "error" in row:
            assert ("NeuroSim refused the settings" in row["error"]
                    or "offset-encoded weights only" in row["error"])
            continue
        assert row["tiles"]["model"] == row["tiles"]["neurosim"] >= 1  # the same sub-network mapped on both sides
        assert row["area_mm2"]["neurosim"] > 0 and row["dynamic_energy_pj"]["neurosim"] > 0
    assert all(abs(r["input_bit_density"] - 0.2) < 0.02 for r in rows if "error" not in r)  # synthetic traces
    out = subprocess.run([sys.executable, "-m", "cimpipe.cli", "neurosim", "check", "results/pareto_demo.parquet",
                          "--neurosim", str(CHECKOUT), "--rows", "2", "--traces", "recorded", "--cache",
                          str(neurosim_cache), "--json"], cwd=run, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    recorded = [r for r in json.loads(out.stdout) if "error" not in r]
    for r in recorded:  # the supernet's own activations on a digit: sparse bits, not the synthetic 0.2
        assert 0.0 < r["input_bit_density"] < 0.5 and abs(r["input_bit_density"] - 0.2) > 1e-3


def test_nothing_is_planned_after_a_complete_run(run: Path) -> None:
    assert planned_jobs(run) == Counter()


def test_the_same_config_in_another_key_order_plans_nothing(run: Path) -> None:
    def reverse_every_mapping(config: dict) -> None:
        backwards = reordered(config)
        config.clear()
        config.update(backwards)

    assert edited(run, reverse_every_mapping) == Counter()


def test_an_overlay_repeating_config_values_plans_nothing(run: Path) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    overlay = reordered({"workloads": {"demo": config["workloads"]["demo"]},
                         "technologies": {"sram_22nm": config["technologies"]["sram_22nm"]},
                         "hardware_space": config["hardware_space"]})
    assert with_overlay(run, overlay) == Counter()


FEFET = {"node_nm": 22,
         "device": {"memory": "fefet", "cell": "1t1r", "r_on_ohm": 240000, "on_off_ratio": 100, "max_cell_bits": 2,
                    "read_voltage_v": 0.5, "read_pulse_ns": 10, "write_voltage_v": 4.0, "cell_area_f2": 24,
                    "sigma": 0.05}}


def test_a_technology_written_in_full_or_by_name_plans_nothing(run: Path) -> None:
    """The rules see the resolved device: `sram_22nm: {}` spelled out with the packaged values (in any key
    order and number type) is the same technology."""
    from cimpipe.technologies import packaged_technologies

    sram = packaged_technologies()["sram_22nm"]
    sram["device"] = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in sram["device"].items()}
    assert edited(run, lambda c: c["technologies"].update(sram_22nm=reordered(sram))) == Counter()


def test_an_overridden_device_reruns_its_hw_cost(run: Path) -> None:
    def slower_read(config: dict) -> None:  # the packaged sram_22nm at another read pulse: the same accuracy span
        config["technologies"]["sram_22nm"] = {"override": {"device": {"read_pulse_ns": 2}}}

    assert edited(run, slower_read) == Counter({"hw_cost": 1, "search_island": 1, "search": 1, "report": 1, "front": 1,
                                           "all": 1})


def test_a_new_technology_runs_its_hw_cost_and_the_search_only(run: Path) -> None:
    def add_fefet(config: dict) -> None:
        config["technologies"]["fefet_22nm"] = FEFET

    assert edited(run, add_fefet) == Counter({"hw_cost": 1, "search_island": 1, "search": 1, "report": 1, "front": 1,
                                              "all": 1})


def test_a_technology_added_by_an_overlay_runs_its_hw_cost_and_the_search_only(run: Path) -> None:
    planned = with_overlay(run, {"technologies": {"fefet_22nm": reordered(FEFET)}})
    assert planned == Counter({"hw_cost": 1, "search_island": 1, "search": 1, "report": 1, "front": 1, "all": 1})


def test_a_changed_module_replans_exactly_the_stages_that_import_it(run: Path, tmp_path: Path) -> None:
    """The rules' code digests follow the import closure of their scripts: a copy of the package that differs
    in one module changes the params of the stages that reach that module and of no other."""
    shutil.copytree(REPO / "cimpipe", tmp_path / "cimpipe", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "workflow" / "schemas", tmp_path / "workflow" / "schemas")  # the config schema it reads
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def params_changed() -> set[str]:
        """The rules whose own params differ from the run's record (``--summary``'s status column)."""
        out = snakemake(run, "--summary", "-c2", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        rows = [line.split("\t") for line in out.stdout.splitlines()[1:] if line.count("\t") == 5]
        return {rule for _, _, rule, _, status, _ in rows if status == "params changed"}

    assert params_changed() == set()  # the copy digests as the package the run used
    for module, stages in (("report/plots.py", {"report", "front"}),
                           ("predictor/model.py", {"fit_predictor", "search_island", "search"}),
                           ("hw/latency.py", {"hw_cost", "search_island", "search"}),
                           # the report reads the training recipe (the bit phases it shades)
                           ("data/loader.py", {"prepare_data", "train_supernet", "accuracy_shard", "accuracy_table",
                                               "fit_predictor", "search_island", "search", "report"})):
        path = tmp_path / "cimpipe" / module
        original = path.read_text()
        path.write_text(original + "\n# changed\n")
        try:
            assert params_changed() == stages, module
        finally:
            path.write_text(original)


def test_a_technology_outside_the_tables_device_span_remeasures_the_table(run: Path) -> None:
    def add_noisy(config: dict) -> None:  # more variation than any configured device: the table must cover it
        config["technologies"]["noisy_pcm_22nm"] = {
            "node_nm": 22,
            "device": {"memory": "pcm", "cell": "1t1r", "r_on_ohm": 50000, "on_off_ratio": 100, "max_cell_bits": 2,
                       "read_voltage_v": 0.2, "read_pulse_ns": 10, "write_voltage_v": 3.0, "cell_area_f2": 24,
                       "sigma": 0.08},
        }

    assert edited(run, add_noisy) == Counter({"hw_cost": 1, "accuracy_shard": 2, "accuracy_table": 1,
                                              "fit_predictor": 1, "search_island": 1, "search": 1, "report": 1, "front": 1,
                                              "all": 1})


def test_a_narrower_sign_encoding_choice_keeps_the_hardware_tables(run: Path) -> None:
    """The sign encoding is applied to the characterized subarrays, so hw_cost stays; the table's span of
    encodings and the search change."""
    def offset_only(config: dict) -> None:
        config["hardware_space"]["sign_encoding"] = ["offset"]

    planned = edited(run, offset_only)
    assert "hw_cost" not in planned and planned["search"] == 1


def test_a_new_search_budget_reruns_the_search_only(run: Path) -> None:
    def budget(config: dict) -> None:
        config["workloads"]["demo"]["search"]["budget"] = 700

    assert edited(run, budget) == Counter({"search_island": 1, "search": 1, "report": 1, "front": 1, "all": 1})


def test_a_new_training_seed_reruns_training_and_everything_after(run: Path) -> None:
    def seed(config: dict) -> None:
        config["workloads"]["demo"]["seed"] = 1

    assert edited(run, seed) == Counter({"train_supernet": 1, "accuracy_shard": 2, "accuracy_table": 1,
                                         "fit_predictor": 1, "search_island": 1, "search": 1, "report": 1, "front": 1, "all": 1})


def test_a_second_island_runs_alone_and_merges_into_one_front(run: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "islands"
    shutil.copytree(run, workdir, symlinks=True)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["workloads"]["demo"]["search"]["islands"] = 2
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # island 0 is the search already run: only island 1 and the merge are new
    assert planned_jobs(workdir) == Counter({"search_island": 1, "search": 1, "report": 1, "front": 1, "all": 1})
    out = snakemake(workdir, "-c2", "results/pareto_demo.parquet")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]

    history = pl.read_parquet(workdir / "results/demo/search_history.parquet")
    assert history["island"].value_counts().sort("island")["count"].to_list() == [600, 600]
    front = pl.read_parquet(workdir / "results/pareto_demo.parquet")
    assert front.height > 0 and np.allclose(front["accuracy"].to_numpy(), front["accuracy_measured"].to_numpy())
    assert_front_rebuilds(front, config)
    summary = json.loads((workdir / "results/demo/search_summary.json").read_text())
    assert [i["island"] for i in summary["islands"]] == [0, 1] and summary["evaluations"] == 1200


def test_the_workflow_passes_lint(run: Path) -> None:
    out = snakemake(run, "--lint")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr, out.stdout + out.stderr


def test_a_misspelled_key_fails_before_any_job(tmp_path: Path) -> None:
    config = yaml.safe_load(TINY.read_text())
    config["workloads"]["demo"]["search"]["budgett"] = 10
    workdir = copy_workflow(tmp_path, config)
    out = snakemake(workdir, "-c1")
    assert out.returncode != 0
    assert "config key 'workloads.demo.search.budgett' is not known (did you mean 'budget'?)" in out.stdout + out.stderr
    assert not (workdir / "results").exists() and not (workdir / "data").exists()


def test_the_vgg16_chain_is_planned_from_data_to_front(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    out = snakemake(workdir, "-n", "-c2", "results/pareto_vgg16.parquet")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    for rule in ("prepare_data", "train_supernet", "accuracy_shard", "accuracy_table", "fit_predictor", "hw_cost",
                 "search"):
        assert re.search(rf"^{rule}\s+\d+$", text, re.M), rule
    assert "data/prepared/tinyimagenet" in text


def test_snakemake_report_is_self_contained_with_the_plots(run: Path) -> None:
    out = snakemake(run, "--report", "report.html")
    assert out.returncode == 0, out.stdout + out.stderr
    html = (run / "report.html").read_text(errors="replace")
    for name in ("explorer.html", "front_energy.png", "front_latency.png", "front_area.png", "front_edap.png",
                 "hypervolume.png", "training.png", "predictor.png"):
        assert name in html, name
    assert len(html) > 200_000  # the figures are embedded, not linked
    assert "reference point (the corner the volume is measured from)" in html  # a caption from workflow/report/


def test_snakemake_report_of_the_front_alone_holds_the_figures(run: Path) -> None:
    out = snakemake(run, "--report", "front_report.html", "results/pareto_demo.parquet")
    assert out.returncode == 0, out.stdout + out.stderr
    html = (run / "front_report.html").read_text(errors="replace")
    for name in ("explorer.html", "front_energy.png", "hypervolume.png", "training.png", "predictor.png"):
        assert name in html, name
