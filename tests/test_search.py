"""The search: a small space with a stand-in predictor and cost model, then the files a user reads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from cimpipe.pareto import Normalizer, hypervolume, non_dominated
from cimpipe.search import (Constraints, MeasuredDesigns, MeasureRecorder, Objective, SearchConfigError, SearchFiles,
                            SearchInputs, SearchSettings, decode_unit, encode_unit, measured_front, merge_islands,
                            crowding_distance, parse_objectives, reference_design, refine, run_island, run_search,
                            search)
from cimpipe.search.loop import batch_size
from cimpipe.search.strategies import HV_REFERENCE_MARGIN, hypervolume_truncation
from cimpipe.space import Design, DeviceSummary, HardwareConfig, HardwareSpace, SearchSpace, SubnetConfig, VGGSpec


def front_losses(front: pl.DataFrame) -> np.ndarray:
    """The front's losses on the default objectives: -accuracy, log10 energy, latency and area."""
    return np.stack([-front["accuracy"].to_numpy(), np.log10(front["energy_uj"].to_numpy()),
                     np.log10(front["latency_ms"].to_numpy()), np.log10(front["area_mm2"].to_numpy())], 1)


def files(folder: Path, tag: str = "") -> SearchFiles:
    """A search's three files in ``folder`` (``tag`` tells several searches there apart)."""
    return SearchFiles.of(folder / f"search_history{tag}.parquet", folder / f"pareto{tag}.parquet",
                          folder / f"search_summary{tag}.json")


def _get(obj, key):
    return obj[key] if isinstance(obj, dict) else getattr(obj, key)


class StandInPredictor:
    """Accuracy rises with bits, width, depth, ADC bits; falls with device variation. Deterministic."""

    def predict(self, arch_values, cim_values):
        arch = np.asarray(arch_values)
        cim = np.asarray(cim_values)
        bits = arch[:, -14:].mean(1)            # wbits + abits of the small spec (7 slots each)
        width = arch[:, 2:7].mean(1)
        depth = arch[:, :2].sum(1)
        adc, cell = cim[:, 0], cim[:, 1]
        acc = 0.95 - 0.6 / bits ** 1.5 - 0.1 * (1 - width) - 0.02 * (3 - depth) - 0.3 / 2 ** (adc - 2) - 0.01 * cell
        return np.clip(acc, 0.0, 1.0), np.full(len(acc), 0.01)


class StandInEvaluator:
    """A crude cost model with the right trends (MACs x bits, ADC cost ~ 2^bits); subarray 256 with a 3-bit
    ADC is declared infeasible so the hardware-feasibility path is exercised."""

    def __init__(self, energy_scale: float):
        self.energy_scale = energy_scale

    def evaluate(self, layers, hw):
        act = _get(layers, "active").double()
        macs = (_get(layers, "ifm_h") * _get(layers, "ifm_w") * _get(layers, "c_in") * _get(layers, "k") ** 2
                * _get(layers, "c_out") * act)
        wbits = (_get(layers, "weight_bits") * act).sum(1) / act.sum(1)
        ibits = (_get(layers, "input_bits") * act).sum(1) / act.sum(1)
        weights = (_get(layers, "c_in") * _get(layers, "k") ** 2 * _get(layers, "c_out") * act).sum(1)
        adc, cell = _get(hw, "adc_bits"), _get(hw, "cell_bits")
        rows, sub, mux = _get(hw, "rows_parallel"), _get(hw, "subarray"), _get(hw, "col_mux")
        adc_cost = torch.where(_get(hw, "adc_is_sar"), adc * 2.0, 2.0 ** adc)
        energy = self.energy_scale * macs.sum(1) * ibits * (wbits / cell) * (1 + adc_cost / rows)
        cells = weights * wbits / cell
        area = cells * 1e-7 * (1 + adc_cost / mux / 4) + 0.01 * sub / 128
        latency = macs.sum(1) * ibits / rows / (1 + _get(hw, "pipeline").double()) * (1 + adc / 8) * 1e-2
        feasible = ~((sub == 256) & (adc == 3))
        return {"area_mm2": area, "latency_ns": latency, "dynamic_energy_pj": energy,
                "leakage_energy_pj": 0.05 * energy, "tops": macs.sum(1) / latency * 1e-3,
                "tops_per_w": macs.sum(1) / energy, "tops_per_mm2": macs.sum(1) / latency / area * 1e-3,
                "utilization": torch.full_like(area, 0.5), "tiles": torch.ceil(cells / sub ** 2), "feasible": feasible}


def small_space() -> SearchSpace:
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16, 16)), fc=(32,),
                   min_depth=(1, 1), width_ratios=(0.5, 0.75, 1.0), bit_choices=(2, 4, 6, 8))
    hw = HardwareSpace(technologies=("rram_22nm", "sram_22nm"))
    devices = {"rram_22nm": DeviceSummary(0.05, 100.0, 2), "sram_22nm": DeviceSummary(0.0, 1e6, 1)}
    return SearchSpace(spec, hw, devices)


def small_objective(space: SearchSpace, constraints: Constraints = Constraints()) -> Objective:
    evals = {"rram_22nm": StandInEvaluator(1.0), "sram_22nm": StandInEvaluator(1.6)}
    return Objective(space, StandInPredictor(), evals, parse_objectives(
        {"accuracy": "max", "energy_uj": "min", "latency_ms": "min", "area_mm2": "min"}), constraints)


SETTINGS = SearchSettings(budget=1200, batch=100, seed=3, population=50)


def test_objective_is_batched_and_groups_technologies():
    space = small_space()
    genes = space.random_genes(np.random.default_rng(0), 300)
    b = small_objective(space)(genes)
    assert b.accuracy.shape == (300,) and b.metrics["energy_uj"].shape == (300,)
    tech = genes[:, space.index["technology"]]
    # the same architecture costs more on the technology whose model is 1.6x as hungry
    row = genes[0].copy()
    row[space.index["technology"]] = 0
    other = row.copy()
    other[space.index["technology"]] = 1
    pair = small_objective(space)(np.stack([row, other]))
    assert pair.metrics["energy_uj"][1] > pair.metrics["energy_uj"][0]
    assert set(np.unique(tech)) == {0, 1}
    np.testing.assert_allclose(b.metrics["edap_uj_ms_mm2"],
                               b.metrics["energy_uj"] * b.metrics["latency_ms"] * b.metrics["area_mm2"])


def test_unit_encoding_round_trips_every_gene():
    space = small_space()
    genes = space.random_genes(np.random.default_rng(1), 500)
    np.testing.assert_array_equal(decode_unit(space, encode_unit(space, genes)), genes)
    assert decode_unit(space, np.ones((1, space.n_genes))).max() < space.cardinalities().max()


def test_search_front_is_non_dominated_and_hv_monotone():
    space = small_space()
    result = search(space, small_objective(space), SETTINGS)
    assert result.genes.shape == (1200, space.n_genes)
    assert np.all(np.diff(result.hypervolume) >= -1e-12)
    assert result.hypervolume[-1] > result.hypervolume[0]
    front = result.normalizer(result.batch.losses(SETTINGS.objectives)[result.front_rows])
    assert non_dominated(front).all()
    assert result.batch.feasible[result.front_rows].all()


def test_fixed_seed_gives_the_same_front():
    space = small_space()
    a = search(space, small_objective(space), SETTINGS)
    b = search(space, small_objective(space), SETTINGS)
    np.testing.assert_array_equal(a.genes, b.genes)
    np.testing.assert_array_equal(a.front_rows, b.front_rows)


def test_the_default_is_numpy_nsga2_and_the_former_default_still_runs_by_name():
    space = small_space()
    assert SearchSettings().optimizer == "nsga2"
    assert SearchSettings().offspring_de_share == 0.0 and SearchSettings(optimizer="nsga_de").offspring_de_share == 0.25
    old = search(space, small_objective(space), replace(SETTINGS, optimizer="nsga_de", budget=600))
    assert old.genes.shape[0] == 600 and old.batch.feasible[old.front_rows].all()
    with pytest.raises(SearchConfigError, match="nsga2, nsga_de"):
        SearchSettings(optimizer="nsga3")
    with pytest.raises(SearchConfigError, match="search.survival"):
        SearchSettings.from_config({"survival": "random"})


@pytest.mark.parametrize("de_share,survival", [(0.0, "hypervolume"), (0.5, "hypervolume"), (0.0, "crowding")])
def test_nsga2_is_seeded_and_never_evaluates_a_design_twice(de_share, survival):
    space = small_space()
    settings = replace(SETTINGS, de_share=de_share, survival=survival)
    a = search(space, small_objective(space), settings)
    b = search(space, small_objective(space), settings)
    np.testing.assert_array_equal(a.genes, b.genes)
    other = search(space, small_objective(space), replace(settings, seed=4))
    assert not np.array_equal(a.genes, other.genes)
    assert len(np.unique(a.genes, axis=0)) == len(a.genes)


def test_nsga2_beats_uniform_random_at_equal_evaluations():
    space = small_space()
    objective = small_objective(space)
    rng = np.random.default_rng(0)
    sample = objective(space.random_genes(rng, 2000))
    norm = Normalizer.from_losses(sample.losses(SETTINGS.objectives)[sample.hw_feasible])

    def feasible_hv(batch):
        return hypervolume(norm(batch.losses(SETTINGS.objectives))[batch.feasible])

    wins = 0
    for seed in range(3):
        result = search(space, objective, replace(SETTINGS, seed=seed), normalizer=norm)
        random = objective(space.random_genes(np.random.default_rng(100 + seed), SETTINGS.budget))
        wins += feasible_hv(result.batch) > feasible_hv(random)
    assert wins == 3


def test_crowding_distance_is_taken_within_each_rank():
    rng = np.random.default_rng(5)
    points = rng.integers(0, 6, size=(40, 3)).astype(float)
    rank = rng.integers(0, 3, size=40)
    expected = np.zeros(40)
    for r in np.unique(rank):  # the textbook loop: one rank, one objective at a time
        idx = np.flatnonzero(rank == r)
        if len(idx) <= 2:
            expected[idx] = np.inf
            continue
        for j in range(3):
            order = idx[np.argsort(points[idx, j], kind="stable")]
            span = points[order[-1], j] - points[order[0], j]
            expected[order[[0, -1]]] = np.inf
            if span > 0:
                expected[order[1:-1]] += (points[order[2:], j] - points[order[:-2], j]) / span
    np.testing.assert_array_equal(crowding_distance(points, rank), expected)


def test_the_hypervolume_cut_keeps_more_of_a_front_than_crowding_does():
    rng = np.random.default_rng(2)
    front = rng.dirichlet(np.ones(3), size=60)  # mutually non-dominated: a simplex
    front = (front - front.min(0)) / (front.max(0) - front.min(0))
    by_hv = hypervolume_truncation(front, 15)
    by_crowding = np.argsort(-crowding_distance(front, np.zeros(60, dtype=np.int64)), kind="stable")[:15]
    assert len(by_hv) == 15 and len(set(by_hv.tolist())) == 15
    ref = 1.0 + HV_REFERENCE_MARGIN  # the front spans [0, 1] in every objective already
    assert hypervolume(front[by_hv], ref) > hypervolume(front[by_crowding], ref)


def test_generations_grow_with_the_evaluations_done():
    settings = SearchSettings(budget=100000, batch=100, batch_growth=0.05, max_batch=2000)
    assert [batch_size(settings, done) for done in (100, 2000, 4000, 30000, 99000)] == [100, 100, 200, 1500, 1000]
    assert batch_size(replace(settings, batch_growth=0.0), 50000) == 100
    result = search(small_space(), small_objective(small_space()), replace(SETTINGS, budget=3000, batch_growth=0.1))
    sizes = np.bincount(result.generation)
    assert sizes[0] == 100 and sizes.max() > 100 and sizes.sum() == 3000


def test_the_hypervolume_is_computed_only_when_asked():
    space = small_space()
    asked = []

    def progress(generation, evaluations, hypervolume):
        if generation in (3, 8):
            asked.append(hypervolume())

    result = search(space, small_objective(space), SETTINGS, on_generation=progress)
    assert result._hypervolume is None  # the run itself never computed the per-generation curve
    np.testing.assert_allclose(asked, result.hypervolume[[3, 8]])


@pytest.mark.parametrize("optimizer", ["DE", "RandomSearch"])
def test_nevergrad_optimizers_run_natively(optimizer):
    space = small_space()
    settings = SearchSettings(optimizer=optimizer, budget=600, batch=200, seed=0)
    result = search(space, small_objective(space), settings)
    assert result.genes.shape[0] == 600 and np.all(np.diff(result.hypervolume) >= -1e-12)


def test_run_search_writes_history_front_and_summary(tmp_path):
    space = small_space()
    remeasured = []

    def remeasure(designs):
        remeasured.extend(designs)
        return np.array([0.5 + 0.01 * (i % 7) for i in range(len(designs))])

    front = run_search(space, small_objective(space), SETTINGS,
                       SearchFiles.of(tmp_path / "demo" / "search_history.parquet", tmp_path / "pareto_demo.parquet",
                                      tmp_path / "demo" / "search_summary.json"), remeasure_fn=remeasure)
    hist = pl.read_parquet(tmp_path / "demo" / "search_history.parquet")
    assert hist.height == 1200
    assert set(g.name for g in space.genes) <= set(hist.columns)
    assert hist["technology"].dtype == pl.Utf8 and set(hist["technology"].unique()) <= {"rram_22nm", "sram_22nm"}
    hv = hist.group_by("generation").agg(pl.col("hypervolume").first()).sort("generation")["hypervolume"].to_numpy()
    assert np.all(np.diff(hv) >= -1e-12)

    on_disk = pl.read_parquet(tmp_path / "pareto_demo.parquet")
    assert on_disk.height == front.height > 0
    # every front row was re-measured and carries both accuracies; measured is the one used
    assert len(remeasured) >= front.height
    np.testing.assert_allclose(on_disk["accuracy"].to_numpy(), on_disk["accuracy_measured"].to_numpy())
    assert on_disk["accuracy_predicted"].null_count() == 0
    # dominance re-filtered on measured values
    losses = front_losses(on_disk)
    assert non_dominated(losses).all()
    # every row rebuilds its sub-network and its hardware
    for text in on_disk["design_json"]:
        d = json.loads(text)
        subnet = SubnetConfig.from_dict(d["subnet"])
        hardware = HardwareConfig(**d["hardware"])
        space.spec.validate(subnet)
        assert space.spec.layer_shapes(subnet)
        assert hardware.rows_parallel <= hardware.subarray
        assert hardware.cell_bits <= space.devices[hardware.technology].max_cell_bits
    ref = reference_design(space)
    summary = json.loads((tmp_path / "demo" / "search_summary.json").read_text())
    assert summary["evaluations"] == 1200 and summary["log10_space_size"] == pytest.approx(space.log10_size())
    assert summary["reference"]["design"]["hardware"] == ref.hardware.to_dict()
    ratio = summary["reference"]["edap_uj_ms_mm2"] / on_disk["edap_uj_ms_mm2"].to_numpy()
    np.testing.assert_allclose(on_disk["edap_reduction_vs_reference"].to_numpy(), ratio)


def test_a_large_front_is_thinned_to_its_spread_before_remeasurement(tmp_path):
    space = small_space()
    whole = run_search(space, small_objective(space), replace(SETTINGS, front_size=None), files(tmp_path, "1"))
    assert whole.height > 12
    measured = []

    def remeasure(designs):
        measured.append(len(designs))
        return np.full(len(designs), 0.5)

    thin = run_search(space, small_objective(space), replace(SETTINGS, front_size=12), files(tmp_path, "2"),
                      remeasure_fn=remeasure)
    assert measured == [12] and 0 < thin.height <= 12
    # the extremes of every cost survive the thinning
    thin_p = run_search(space, small_objective(space), replace(SETTINGS, front_size=12), files(tmp_path, "3"))
    for cost in ("energy_uj", "latency_ms", "area_mm2"):
        assert thin_p[cost].min() == pytest.approx(whole[cost].min())
    assert thin_p["accuracy"].max() == pytest.approx(whole["accuracy"].max())


def test_constraint_violators_never_enter_the_front(tmp_path):
    space = small_space()
    free = search(space, small_objective(space), SETTINGS)
    area = free.batch.metrics["area_mm2"]
    bound = float(np.quantile(area[free.batch.hw_feasible], 0.3))
    cons = Constraints(max_area_mm2=bound, min_accuracy=0.3)
    settings = SearchSettings(budget=1200, batch=100, seed=3, population=50, constraints=cons)
    front = run_search(space, small_objective(space, cons), settings, files(tmp_path))
    assert front.height > 0
    assert (front["area_mm2"] <= bound).all() and (front["accuracy"] >= 0.3).all()
    hist = pl.read_parquet(files(tmp_path).history)
    assert not hist.filter(pl.col("feasible"))["area_mm2"].gt(bound).any()
    assert hist.filter(~pl.col("feasible")).height > 0  # the bound did bite
    # hardware the evaluator rejects (256 rows, 3-bit ADC) is logged but never on the front
    assert not front.filter((pl.col("subarray") == 256) & (pl.col("adc_bits") == 3)).height


def test_reference_design_follows_neurosim_defaults():
    space = small_space()
    ref = reference_design(space)
    assert ref.hardware == HardwareConfig("rram_22nm", 128, 128, 8, 5, "flash", 2, False)
    assert set(ref.subnet.weight_bits) == {8} and ref.subnet == space.spec.largest(bits=8)


def test_config_errors_name_the_key():
    with pytest.raises(SearchConfigError, match="search.objectives.power"):
        parse_objectives({"accuracy": "max", "power": "min"})
    with pytest.raises(SearchConfigError, match="search.optimizer"):
        SearchSettings(optimizer="NoSuchOptimizer")
    with pytest.raises(SearchConfigError, match="search.constraints.max_power"):
        Constraints.from_config({"max_power": 1.0})
    s = SearchSettings.from_config({"optimizer": "DE", "budget": 100, "batch": 10, "seed": 1,
                                    "objectives": {"accuracy": "max", "edap": "min"},
                                    "constraints": {"max_area_mm2": None, "min_accuracy": 0.5}})
    assert s.objectives[1].metric == "edap_uj_ms_mm2" and s.constraints.min_accuracy == 0.5


@pytest.mark.parametrize("per_layer", [(), ("adc_bits",)])
def test_search_on_the_real_objective(tmp_path, per_layer):
    """The real hardware model (two technologies) and a real predictor fitted on a fabricated table; with
    ``per_layer``, every weight layer chooses its own ADC resolution."""
    from cimpipe.accuracy import sample_configurations
    from cimpipe.hw.characterize import HardwareGrid
    from cimpipe.hw.evaluate import Evaluator
    from cimpipe.hw.technology import builtin_technologies
    from cimpipe.predictor import PredictorSettings, fit_predictor

    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16, 16)), fc=(32,),
                   min_depth=(1, 1), width_ratios=(0.5, 1.0), bit_choices=(2, 4, 8))
    hs = HardwareSpace(technologies=("rram_22nm", "sram_22nm"), subarray=(64, 128), rows_parallel=(32, 64, 128),
                       col_mux=(4, 8), adc_bits=(3, 5, 7), cell_bits=(1, 2), per_layer=per_layer)
    techs = builtin_technologies()
    devices = {n: DeviceSummary(float(getattr(techs[n].device, "sigma", 0.0)),
                                float(min(getattr(techs[n].device, "on_off_ratio", 1e6), 1e6)),
                                int(getattr(techs[n].device, "max_cell_bits", 1))) for n in hs.technologies}
    space = SearchSpace(spec, hs, devices)
    table = sample_configurations(space, 80, seed=0)
    wb = table.select(pl.col("^wbits_.*$")).to_numpy().mean(1)
    adc = table.select(pl.col("^adc_bits.*$")).to_numpy().min(1)
    acc = 0.95 - 0.3 * np.exp(-(wb - 2)) - 0.2 * np.exp(-(adc - 3))
    table = table.with_columns(pl.Series("accuracy", np.clip(acc, 0.1, 1.0)))
    fit_predictor(table, space, PredictorSettings(ensemble=2, hidden=(16,), epochs=20, holdout=0.0),
                  tmp_path / "predictor.pt", tmp_path / "predictor_metrics.json")
    from cimpipe.predictor import Predictor

    grid = HardwareGrid(subarray=hs.subarray, rows_parallel=hs.rows_parallel, col_mux=hs.col_mux,
                        adc_bits=hs.adc_bits, adc_type=hs.adc_type, cell_bits=hs.cell_bits)
    evaluators = {n: Evaluator.for_grid(techs[n], grid) for n in hs.technologies}
    settings = SearchSettings(budget=600, batch=100, seed=0, population=40, constraints=Constraints(min_accuracy=0.5))
    inputs = SearchInputs.assemble(space, Predictor.load(tmp_path / "predictor.pt", space), evaluators, settings)
    objective = inputs.objective
    front = run_search(space, objective, settings, files(tmp_path))
    assert front.height > 0 and (front["accuracy"] >= 0.5).all()
    assert set(front["technology"].unique()) <= {"rram_22nm", "sram_22nm"}
    losses = front_losses(front)
    assert non_dominated(losses).all()
    for row, text in zip(front.iter_rows(named=True), front["design_json"]):
        d = json.loads(text)
        design_genes = space.encode(Design(SubnetConfig.from_dict(d["subnet"]), HardwareConfig(**d["hardware"])))
        again = objective(design_genes[None, :])  # the rebuilt design scores what the front says
        assert bool(again.feasible[0])
        assert again.metrics["energy_uj"][0] == pytest.approx(row["energy_uj"])
        assert again.accuracy[0] == pytest.approx(row["accuracy"])
    if per_layer:  # the front's designs carry one ADC per layer, and not all the same
        adcs = [json.loads(t)["hardware"]["adc_bits"] for t in front["design_json"]]
        assert all(len(a) == spec.n_slots for a in adcs) and any(len(set(a)) > 1 for a in adcs)


def test_islands_merge_into_one_non_dominated_front(tmp_path):
    space = small_space()
    objective = small_objective(space)
    settings = replace(SETTINGS, islands=2, budget=600, front_size=15)
    for island in (0, 1):
        out = tmp_path / f"island_{island}"
        run_island(space, objective, settings, island, files(out))
    h0, h1 = (pl.read_parquet(tmp_path / f"island_{i}" / "search_history.parquet") for i in (0, 1))
    assert h0["island"].unique().to_list() == [0] and h1["island"].unique().to_list() == [1]
    assert not h0.drop("island").equals(h1.drop("island"))  # different seeds, different searches
    # island 0 is the plain search on the configured seed
    alone = search(space, objective, replace(settings, islands=1))
    assert h0.height == alone.genes.shape[0] == 600

    measured = []

    def remeasure(designs):
        measured.append(len(designs))
        return np.asarray([0.5 + 0.01 * (i % 5) for i in range(len(designs))])

    islands = [files(tmp_path / "island_0"), files(tmp_path / "island_1")]
    front = merge_islands(space, objective, settings, islands, files(tmp_path), remeasure_fn=remeasure)
    assert measured == [15] and 0 < front.height <= 15  # thinned once, re-measured once
    losses = front_losses(front)
    assert non_dominated(losses).all()
    for row in front.iter_rows(named=True):
        d = json.loads(row["design_json"])
        again = objective(space.encode(Design(SubnetConfig.from_dict(d["subnet"]), HardwareConfig(**d["hardware"])))[None])
        assert again.feasible[0] and again.metrics["energy_uj"][0] == pytest.approx(row["energy_uj"])
    history = pl.read_parquet(tmp_path / "search_history.parquet")
    assert history.height == 1200 and history["island"].value_counts().sort("island")["count"].to_list() == [600, 600]
    summary = json.loads((tmp_path / "search_summary.json").read_text())
    assert summary["evaluations"] == 1200 and [i["island"] for i in summary["islands"]] == [0, 1]
    assert summary["islands"][0]["seed"] == settings.seed != summary["islands"][1]["seed"]

    # without thinning, no island's predicted front design beats the merged predicted front
    whole = merge_islands(space, objective, replace(settings, front_size=None), islands, files(tmp_path, "whole"))
    def losses_of(frame):
        v = frame.select("accuracy", "energy_uj", "latency_ms", "area_mm2").to_numpy()
        return np.column_stack([-v[:, 0], np.log10(v[:, 1:])])

    merged = losses_of(whole)
    for island in (0, 1):
        own = losses_of(pl.read_parquet(tmp_path / f"island_{island}" / "pareto.parquet"))
        covered = (merged[None, :, :] <= own[:, None, :] + 1e-12).all(axis=2).any(axis=1)
        assert covered.all()


def test_the_search_logs_a_few_lines_when_not_on_a_terminal(tmp_path, capsys):
    space = small_space()
    run_search(space, small_objective(space), SETTINGS, files(tmp_path))
    lines = [x for x in capsys.readouterr().out.splitlines() if "evaluations" in x]
    assert 5 <= len(lines) <= 21  # a line per 5 % at most
    assert lines[-1].startswith("search (nsga2): 1200/1200 evaluations") and lines[-1].endswith("(100 %)")


def test_island_and_share_settings_are_checked():
    with pytest.raises(SearchConfigError, match="search.islands"):
        SearchSettings(islands=0)
    with pytest.raises(SearchConfigError, match="search.de_share"):
        SearchSettings.from_config({"de_share": 1.5})
    assert SearchSettings(seed=7).for_island(0).seed == 7
    seeds = {SearchSettings(seed=7).for_island(i).seed for i in range(4)}
    assert len(seeds) == 4


class OverratingPredictor(StandInPredictor):
    """The stand-in, except that it rates 3-bit ADCs 0.2 higher than the designs measure (the table's error)."""

    def predict(self, arch_values, cim_values):
        acc, std = super().predict(arch_values, cim_values)
        return np.clip(acc + 0.2 * (np.asarray(cim_values)[:, 0] == 3), 0, 1), std


def test_refinement_learns_from_the_measured_front_and_keeps_the_best_measured_designs(tmp_path):
    space = small_space()
    truth = StandInPredictor()
    objective = Objective(space, OverratingPredictor(), small_objective(space).evaluators,
                          small_objective(space).objectives)

    def measure(designs):
        genes = np.stack([space.encode(d) for d in designs])
        return truth.predict(space.arch_values(genes), space.cim_values(genes))[0]

    settings = replace(SETTINGS, front_size=30, refine=1)
    recorder = MeasureRecorder(space, measure)
    run_search(space, objective, settings, files(tmp_path), remeasure_fn=recorder)
    genes, measured = recorder.taken()
    first = MeasuredDesigns(0, genes, objective(genes).accuracy, measured)
    assert first.error()["front_bias_pct"] > 5  # the overrated 3-bit designs crowd the first front

    seen = []

    def refit(done):
        seen.append([r.round for r in done])
        return truth, {"rmse_pct": 0.0}

    rounds = refine(space, objective, settings, first, refit, recorder)
    assert seen == [[0]] and [r.round for r in rounds] == [0, 1]
    assert rounds[1].error()["front_rmse_pct"] < 0.5 < first.error()["front_rmse_pct"]
    assert rounds[1].refit == {"rmse_pct": 0.0}

    ref_edap = float(objective(space.encode(reference_design(space))[None, :]).metrics["edap_uj_ms_mm2"][0])
    front = measured_front(space, objective, settings, rounds, ref_edap)
    assert 0 < front.height <= settings.front_size and set(front["round"].unique()) <= {0, 1}
    assert (front["round"] == 1).any()
    # measured accuracies only, non-dominated on them
    designs = [Design(SubnetConfig.from_dict(json.loads(t)["subnet"]), HardwareConfig(**json.loads(t)["hardware"]))
               for t in front["design_json"]]
    np.testing.assert_allclose(front["accuracy"].to_numpy(), measure(designs))
    losses = front_losses(front)
    assert non_dominated(losses).all()
    # the refined front covers at least what the first measured front did
    first_front = measured_front(space, objective, settings, rounds[:1], ref_edap)

    def hv(f):
        return hypervolume((front_losses(f) - lo) / (hi - lo))

    both = np.vstack([losses, front_losses(first_front)])
    lo, hi = both.min(0), both.max(0) + 1e-9
    assert hv(front) > hv(first_front)


def test_a_design_measured_in_two_rounds_counts_for_the_first():
    space = small_space()
    objective = small_objective(space)
    pool = space.random_genes(np.random.default_rng(4), 50)
    genes = pool[objective(pool).hw_feasible][:1]
    rounds = [MeasuredDesigns(0, genes, np.array([0.9]), np.array([0.8])),
              MeasuredDesigns(1, genes.copy(), np.array([0.85]), np.array([0.8]))]
    front = measured_front(space, objective, SETTINGS, rounds, 1.0)
    assert front["round"].to_list() == [0] and front["accuracy_predicted"].to_list() == [0.9]
    assert front["accuracy_measured"].to_list() == [0.8]


def test_a_negative_refinement_count_is_refused():
    with pytest.raises(SearchConfigError, match="search.refine"):
        SearchSettings.from_config({"refine": -1})


def test_refinement_without_remeasurement_is_refused_with_the_key():
    import yaml

    from cimpipe.config import ConfigError, validate_config

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())
    config["workloads"]["demo"]["search"].update(remeasure=False, refine=2)
    with pytest.raises(ConfigError, match="workloads.demo.search.refine needs search.remeasure"):
        validate_config(config)
    config["workloads"]["demo"]["search"]["refine"] = 0
    validate_config(config)
