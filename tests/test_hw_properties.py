"""Properties the hardware model keeps for every design (hypothesis)."""

import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cimpipe.hw import Evaluator, HardwareBatch, HardwareGrid, LayerBatch, builtin_technologies
from cimpipe.hw.characterize import characterize
from cimpipe.space import HardwareConfig, LayerShape

RRAM = builtin_technologies()["rram_22nm"]
SRAM = builtin_technologies()["sram_22nm"]
GRID = HardwareGrid(subarray=(64, 128, 256), rows_parallel=(16, 32, 64, 128, 256), col_mux=(4, 8, 16),
                    adc_bits=(3, 4, 5, 6, 7, 8), adc_type=("flash", "sar"), cell_bits=(1, 2))
TABLES = {t.name: characterize(t, GRID) for t in (RRAM, SRAM)}
EVALUATORS = {name: Evaluator.from_frame(df, t) for (name, df), t in zip(TABLES.items(), (RRAM, SRAM))}

layer = st.builds(
    LayerShape,
    ifm_h=st.sampled_from([1, 4, 8, 16, 32]), ifm_w=st.just(0), c_in=st.integers(1, 600), k=st.sampled_from([1, 3, 5]),
    c_out=st.integers(1, 600), pool=st.booleans(), stride=st.sampled_from([1, 1, 2]),
)


def _fix(s: LayerShape) -> LayerShape:
    k = min(s.k, s.ifm_h)
    return LayerShape(s.ifm_h, s.ifm_h, s.c_in, k, s.c_out, s.pool, s.stride)


network = st.lists(layer, min_size=1, max_size=5).map(lambda ls: [_fix(s) for s in ls])
hardware = st.builds(
    HardwareConfig, technology=st.just("rram_22nm"), subarray=st.sampled_from(GRID.subarray),
    rows_parallel=st.sampled_from((16, 32, 64, 128)), col_mux=st.sampled_from(GRID.col_mux),
    adc_bits=st.sampled_from(GRID.adc_bits), adc_type=st.sampled_from(GRID.adc_type),
    cell_bits=st.sampled_from(GRID.cell_bits), pipeline=st.booleans(),
).map(lambda h: replace(h, rows_parallel=min(h.rows_parallel, h.subarray)))


def run(net, hw, tech=RRAM, wbits=8, ibits=8, per_layer=False):
    ev = EVALUATORS[tech.name]
    return ev.evaluate(LayerBatch.from_shapes([net], wbits, ibits), HardwareBatch.from_configs([hw]), per_layer)


def test_more_adc_bits_never_lower_adc_energy_or_area():
    df = TABLES["rram_22nm"].sort("adc_bits")
    keys = ["subarray", "rows_parallel", "col_mux", "adc_is_sar", "cell_bits"]
    for _, group in df.group_by(keys):
        g = group.sort("adc_bits")
        for col in ("adc_energy_pj", "adc_area_um2"):
            vals = g[col].to_list()
            assert all(b >= a for a, b in zip(vals, vals[1:])), col


def test_larger_subarray_never_lowers_subarray_area():
    df = TABLES["sram_22nm"]
    for _, group in df.group_by(["rows_parallel", "col_mux", "adc_bits", "adc_is_sar", "cell_bits"]):
        vals = group.sort("subarray")["subarray_area_um2"].to_list()
        assert all(b >= a for a, b in zip(vals, vals[1:]))


def test_infeasible_options_are_flagged_with_finite_figures():
    df = TABLES["rram_22nm"]
    bad = df.filter(df["rows_parallel"] > df["subarray"])
    assert bad.height > 0 and not any(bad["feasible"].to_list())
    assert set(bad["reason"].to_list()) == {"rows_parallel_out_of_range"}
    assert all(math.isfinite(x) for x in df["subarray_area_um2"].to_list() + df["adc_energy_pj"].to_list())


@settings(max_examples=40, deadline=None)
@given(net=network, hw=hardware, wbits=st.integers(2, 7))
def test_more_weight_bits_never_lower_cell_count(net, hw, wbits):
    few = run(net, hw, wbits=wbits, per_layer=True).layers["cells"].sum()
    more = run(net, hw, wbits=wbits + 1, per_layer=True).layers["cells"].sum()
    assert more >= few


@settings(max_examples=40, deadline=None)
@given(net=network, hw=hardware)
def test_breakdowns_sum_to_totals_and_metrics_are_finite(net, hw):
    m = run(net, hw)
    assert bool(m.feasible[0]), m.reason_text(0)
    for name in ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj", "leakage_power_uw", "edap",
                 "tops", "tops_per_w", "tops_per_mm2", "fps", "utilization", "tiles", "clock_period_ns"):
        v = float(getattr(m, name)[0])
        # NeuroSim V1.4 (main.cpp) charges leakage to idle tiles (and SRAM cells not being read): layer by layer
        # the other layers' tiles, pipelined a layer's tiles while it waits for the slowest stage so far; a
        # resistive chip with one layer, or pipelined with no layer waiting, leaks nothing
        idle_free = name.startswith("leakage")
        assert math.isfinite(v) and (v >= 0 if idle_free else v > 0), name
    assert float(sum(m.area_breakdown_mm2.values())[0]) == pytest.approx(float(m.area_mm2[0]), rel=1e-9)
    assert float(sum(m.energy_breakdown_pj.values())[0]) == pytest.approx(float(m.dynamic_energy_pj[0]), rel=1e-9)
    assert float(sum(m.latency_breakdown_ns.values())[0]) == pytest.approx(float(m.latency_ns[0]), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(net=network, hw=hardware)
def test_smaller_node_lowers_area(net, hw):
    areas = []
    for node in (130, 90, 65, 45, 32, 22):  # NeuroSim V1.4 models RRAM at 22 nm and above only
        tech = RRAM.with_overrides(node_nm=node)
        ev = Evaluator.for_grid(tech, GRID)
        m = ev.evaluate(LayerBatch.from_shapes([net], 8, 8), HardwareBatch.from_configs([hw]))
        areas.append(float(m.area_mm2[0]))
    assert all(b < a for a, b in zip(areas, areas[1:])), areas


def test_invalid_designs_are_flagged_not_nan():
    net = [LayerShape(32, 32, 3, 3, 64, False), LayerShape(1, 1, 64, 1, 10, False)]
    cases = {
        "rows_parallel_out_of_range": HardwareConfig("rram_22nm", subarray=64, rows_parallel=128),
        "cell_bits_exceeds_device": HardwareConfig("rram_22nm", cell_bits=4),
        "adc_bits_out_of_range": HardwareConfig("rram_22nm", adc_bits=13),
        "col_mux_does_not_divide_subarray": HardwareConfig("rram_22nm", col_mux=3),
        "subarray_not_power_of_two": HardwareConfig("rram_22nm", subarray=100, rows_parallel=100),
    }
    ev = Evaluator.for_grid(RRAM, HardwareGrid(subarray=(64, 100, 128), rows_parallel=(100, 128), col_mux=(3, 8),
                                               adc_bits=(5, 13), adc_type=("flash",), cell_bits=(2, 4)))
    hw = HardwareBatch.from_configs(list(cases.values()))
    m = ev.evaluate(LayerBatch.from_shapes([net] * len(cases), 8, 8), hw)
    assert [m.reason_text(i) for i in range(len(cases))] == list(cases)
    assert not bool(m.feasible.any())
    assert bool(torch.isfinite(m.area_mm2).all()) and bool(torch.isfinite(m.tops_per_w).all())


def test_uncharacterized_option_and_bad_bits_are_flagged():
    net = [LayerShape(8, 8, 16, 3, 16, False)]
    ev = Evaluator.for_grid(RRAM, HardwareGrid(subarray=(128,), rows_parallel=(128,), col_mux=(8,), adc_bits=(5,),
                                               adc_type=("flash",), cell_bits=(2,)))
    hw = HardwareBatch.from_configs([HardwareConfig("rram_22nm", adc_bits=6), HardwareConfig("rram_22nm")])
    m = ev.evaluate(LayerBatch.from_shapes([net, net], [[8], [9]], 8), hw)
    assert [m.reason_text(0), m.reason_text(1)] == ["not_characterized", "operand_bits_out_of_range"]


def test_inactive_layers_do_not_count():
    short = [LayerShape(16, 16, 3, 3, 32, True), LayerShape(1, 1, 2048, 1, 10, False)]
    long_ = short + [LayerShape(1, 1, 10, 1, 10, False)]
    batch = LayerBatch.from_shapes([short, long_], 8, 8)
    assert batch.active.tolist() == [[True, True, False], [True, True, True]]
    hw = HardwareBatch.from_configs([HardwareConfig("rram_22nm")] * 2)
    m = EVALUATORS["rram_22nm"].evaluate(batch, hw)
    alone = run(short, HardwareConfig("rram_22nm"))
    assert float(m.area_mm2[0]) == pytest.approx(float(alone.area_mm2[0]))
    assert float(m.operations[1]) > float(m.operations[0])


def test_the_figures_do_not_depend_on_the_thread_count():
    """Large batches run their chunks on several threads; every figure equals the one-thread evaluation."""
    import torch
    from dataclasses import fields

    from cimpipe.hw import Evaluator, HardwareBatch, HardwareGrid, LayerBatch, builtin_technologies
    from cimpipe.space import HardwareConfig, LayerShape

    grid = HardwareGrid()
    ev = Evaluator.for_grid(builtin_technologies()["rram_22nm"], grid)
    net = [LayerShape(16, 16, 3, 3, 32, False), LayerShape(16, 16, 32, 3, 64, True), LayerShape(1, 1, 3136, 1, 10, False)]
    configs = [HardwareConfig("rram_22nm", subarray=s, rows_parallel=r, col_mux=8, adc_bits=a, adc_type=t, cell_bits=1,
                              pipeline=p)
               for s in (64, 128) for r in (16, 64) for a in (4, 5) for t in ("flash", "sar") for p in (False, True)]
    layers = LayerBatch.from_shapes([net] * len(configs), 8, 8)
    hw = HardwareBatch.from_configs(configs)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ev.evaluate(layers, hw, per_layer=True, chunk=5)
        torch.set_num_threads(2)
        two = ev.evaluate(layers, hw, per_layer=True, chunk=5)
    finally:
        torch.set_num_threads(before)
    for f in fields(one):
        a, b = getattr(one, f.name), getattr(two, f.name)
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), f.name
        elif isinstance(a, dict):
            assert all(torch.equal(a[k], b[k]) for k in a), f.name


def test_the_characterized_knobs_are_the_grid_hw_cost_builds():
    """config's characterized slice (torch-free, read at planning) names exactly the knobs HardwareGrid spans,
    so hw_cost reruns for the knobs it characterizes and for no other."""
    from dataclasses import fields

    from cimpipe.space import HardwareSpace

    assert tuple(f.name for f in fields(HardwareGrid)) == HardwareSpace.CHARACTERIZED
