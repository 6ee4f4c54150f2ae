"""The hardware model against the stored NeuroSim V1.4 runs (tests/data/neurosim, see bench/neurosim_sweep.py).

The mapping is NeuroSim's exactly; the metric bounds below are what the model reaches today, measured by
``python bench/neurosim_fidelity.py --kind all``, so a change that moves the model away from NeuroSim fails
here. Area, latency and leakage meet the goal (5 % mean, 15 % max per metric), dynamic energy and TOPS/W meet
it on the mean but not yet on their worst runs: lower the bounds as the model improves.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from cimpipe.hw.fidelity import compare, error_summary, load_stored

STORED = Path(__file__).resolve().parent / "data" / "neurosim"

# mean and max |relative error| over every stored run (nodes 130-1 nm), in percent
BOUNDS = {
    "area_mm2": (0.5, 4.0),
    "latency_ns": (1.0, 8.0),
    "dynamic_energy_pj": (3.0, 26.0),
    "leakage_energy_pj": (2.5, 15.0),
    "tops_per_w": (3.0, 34.0),
}


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    runs, extra = load_stored(STORED)
    if not runs:
        pytest.skip(f"no stored NeuroSim runs in {STORED}")
    # a NeuroSim run whose report is not physical (vgg16-017: dynamic energy 2e88 pJ) is no reference
    return compare(runs, extra).filter(pl.col("model_feasible") & (pl.col("ns_dynamic_energy_pj") < 1e30))


def test_tiles_and_utilization_are_neurosims_on_every_stored_run(frame: pl.DataFrame) -> None:
    assert frame.height >= 50
    assert (frame["model_tiles"] == frame["ns_tiles"]).all()
    assert ((frame["model_utilization"] - frame["ns_utilization"]).abs() < 1e-4).all()
    assert set(frame["mapping"].unique()) == {"novel", "conventional"}  # both of NeuroSim's mappings


def test_metric_errors_stay_within_what_the_model_reaches(frame: pl.DataFrame) -> None:
    summary = error_summary(frame)
    for metric, (mean_bound, max_bound) in BOUNDS.items():
        n, mean, worst = summary[metric]
        assert n == frame.height
        assert 100 * mean <= mean_bound, f"{metric}: mean error {100 * mean:.1f} % above {mean_bound} %"
        assert 100 * worst <= max_bound, f"{metric}: max error {100 * worst:.1f} % above {max_bound} %"


def test_the_held_out_fifth_was_chosen_in_the_plan_before_any_run(frame: pl.DataFrame) -> None:
    plan = json.loads((STORED / "plan.json").read_text())
    marked = {e["label"]: e["held_out"] for e in plan}
    assert abs(sum(marked.values()) / len(marked) - 0.2) < 0.02
    for label, held in zip(frame["label"], frame["held_out"]):
        assert marked[label] == held
