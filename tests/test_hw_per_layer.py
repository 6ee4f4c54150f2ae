"""Per-layer ADC resolution in the batched hardware evaluator (``HardwareBatch.adc_bits`` [D, L])."""

from dataclasses import fields, replace

import pytest
import torch

from cimpipe.hw import DesignError, Evaluator, HardwareBatch, HardwareGrid, LayerBatch, builtin_technologies
from cimpipe.hw.characterize import characterize
from cimpipe.hw.evaluate import evaluate_design
from cimpipe.hw.floorplan import subarray_area
from cimpipe.space import HardwareConfig, LayerShape

RRAM = builtin_technologies()["rram_22nm"]
GRID = HardwareGrid(subarray=(64, 128), rows_parallel=(32, 64, 128), col_mux=(4, 8), adc_bits=(3, 4, 5, 6),
                    adc_type=("flash", "sar"), cell_bits=(1, 2))
TABLE = characterize(RRAM, GRID)
EV = Evaluator.from_frame(TABLE, RRAM)

# 3x3 convolutions (novel mapping), a depthwise layer, pooling, and fully connected layers
NET = [LayerShape(32, 32, 3, 3, 64, False), LayerShape(32, 32, 64, 3, 64, True), LayerShape(16, 16, 64, 3, 128, False),
       LayerShape(16, 16, 128, 3, 128, True, groups=128), LayerShape(8, 8, 128, 3, 256, True),
       LayerShape(1, 1, 4096, 1, 512, False), LayerShape(1, 1, 512, 1, 10, False)]
SHORT = NET[:3] + NET[5:]  # padded to len(NET) with two inactive slots
L = len(NET)

HARDWARE = [
    HardwareConfig("rram_22nm", subarray=128, rows_parallel=128, col_mux=8, adc_bits=5, adc_type="flash", cell_bits=2),
    HardwareConfig("rram_22nm", subarray=64, rows_parallel=32, col_mux=4, adc_bits=6, adc_type="sar", cell_bits=1,
                   pipeline=True),
    HardwareConfig("rram_22nm", subarray=128, rows_parallel=64, col_mux=4, adc_bits=4, adc_type="sar", cell_bits=2),
    HardwareConfig("rram_22nm", subarray=64, rows_parallel=64, col_mux=8, adc_bits=3, adc_type="flash", cell_bits=1,
                   pipeline=True),
]
SCALARS = ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj", "leakage_power_uw", "edap", "tops",
           "tops_per_w", "tops_per_mm2", "fps", "utilization", "tiles", "clock_period_ns", "operations")


def batch(nets, configs):
    return LayerBatch.from_shapes(nets, 8, 8), HardwareBatch.from_configs(configs)


def with_adc(hw: HardwareBatch, adc: torch.Tensor) -> HardwareBatch:
    return replace(hw, adc_bits=adc.to(torch.float64))


def assert_same_metrics(a, b, rel=1e-12):
    for name in SCALARS:
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=rel, atol=0.0, msg=name)
    for group in ("area_breakdown_mm2", "energy_breakdown_pj", "latency_breakdown_ns"):
        ga, gb = getattr(a, group), getattr(b, group)
        assert ga.keys() == gb.keys()
        for k in ga:
            torch.testing.assert_close(ga[k], gb[k], rtol=rel, atol=0.0, msg=f"{group}[{k}]")
    assert torch.equal(a.feasible, b.feasible)
    assert torch.equal(a.reason, b.reason)


def test_layer_adc_equal_to_design_adc_gives_the_same_metrics():
    configs = HARDWARE + [HardwareConfig("rram_22nm", subarray=64, rows_parallel=128),  # rows_parallel > subarray
                          HardwareConfig("rram_22nm", cell_bits=4),  # beyond the device
                          HardwareConfig("rram_22nm", adc_bits=7)]  # not characterized
    nets = [NET, SHORT] * (len(configs) // 2) + [NET] * (len(configs) % 2)
    layers, hw = batch(nets, configs)
    uniform = EV.evaluate(layers, hw, per_layer=True)
    adc = hw.adc_bits[:, None].expand(-1, L).clone()
    adc[~layers.active] = 3.0  # inactive slots hold another (characterized) value: ignored
    per = EV.evaluate(layers, with_adc(hw, adc), per_layer=True)
    assert_same_metrics(per, uniform)
    for k in uniform.layers:
        torch.testing.assert_close(per.layers[k], uniform.layers[k], rtol=1e-12, atol=0.0, msg=k)
    assert [per.reason_text(i) for i in range(len(configs))][-3:] == [
        "rows_parallel_out_of_range", "cell_bits_exceeds_device", "not_characterized"]
    assert bool(per.feasible[: len(HARDWARE)].all())


def test_lowering_one_layer_lowers_adc_cost_and_stays_between_the_uniform_designs():
    layers, hw = batch([NET] * len(HARDWARE), HARDWARE)
    high, low = 6.0, 3.0
    all_high = EV.evaluate(layers, with_adc(hw, torch.full((len(HARDWARE), L), high)))
    all_low = EV.evaluate(layers, with_adc(hw, torch.full((len(HARDWARE), L), low)))
    mixed = {}
    for j in range(L):
        adc = torch.full((len(HARDWARE), L), high)
        adc[:, j] = low
        m = EV.evaluate(layers, with_adc(hw, adc))
        mixed[j] = m
        assert bool(m.feasible.all())
        adc_e, adc_a = m.energy_breakdown_pj["adc"], m.area_breakdown_mm2["adc"]
        assert bool((adc_e < all_high.energy_breakdown_pj["adc"]).all()), j
        assert bool((adc_a < all_high.area_breakdown_mm2["adc"]).all()), j
        assert bool((adc_e > all_low.energy_breakdown_pj["adc"]).all()), j
        assert bool((adc_a > all_low.area_breakdown_mm2["adc"]).all()), j
        for name in ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj", "edap", "clock_period_ns"):
            v, lo, hi = getattr(m, name), getattr(all_low, name), getattr(all_high, name)
            assert bool((v <= hi * (1 + 1e-12)).all() and (v >= lo * (1 - 1e-12)).all()), (j, name)
        # the slowest layer still sets the chip clock
        torch.testing.assert_close(m.clock_period_ns, all_high.clock_period_ns, rtol=0.0, atol=0.0)
    # ADC energy and subarray ADC area are sums over layers: lowering the layers one at a time adds up to
    # lowering all of them. (ADC latency is not: NeuroSim's chip is synchronous, one clock set by the slowest
    # layer's sensing cycle, so only lowering every layer shortens it.)
    lbl = ~hw.pipeline
    assert bool(lbl.any()) and bool((all_low.clock_period_ns[lbl] < all_high.clock_period_ns[lbl]).any())
    for get in (lambda m: m.energy_breakdown_pj["adc"], lambda m: m.area_breakdown_mm2["adc"]):
        saved = sum(get(all_high) - get(mixed[j]) for j in range(L))
        torch.testing.assert_close(saved, get(all_high) - get(all_low), rtol=1e-9, atol=0.0)


def _subarray_figure(cfg: HardwareConfig, bits: int, column: str) -> float:
    """One subarray's area in a breakdown bucket (mm^2) on NeuroSim's floorplan, 8-bit weights and inputs."""
    def t(v):
        return torch.tensor([float(v)], dtype=torch.float64)

    fig = subarray_area(RRAM, t(cfg.subarray), t(cfg.rows_parallel), t(cfg.col_mux), t(bits),
                        torch.tensor([cfg.adc_type == "sar"]), t(cfg.cell_bits), t(8), t(8))
    return float(fig[column][0]) * 1e-6  # mm^2


def test_one_narrow_layer_changes_only_its_own_subarrays_and_keeps_the_shared_trees_wide():
    """Lowering one layer's ADC bits changes the ADC and accumulation area of that layer's subarrays only:
    the adder trees its tiles share with the chip stay as wide as the widest (unchanged) layers need."""
    layers, hw = batch([NET] * len(HARDWARE), HARDWARE)
    high, low = 6, 3
    all_high = EV.evaluate(layers, with_adc(hw, torch.full((len(HARDWARE), L), float(high))))
    for j in range(L):
        adc = torch.full((len(HARDWARE), L), float(high))
        adc[:, j] = low
        m = EV.evaluate(layers, with_adc(hw, adc))
        for i, cfg in enumerate(HARDWARE):
            d_adc = _subarray_figure(cfg, high, "adc") - _subarray_figure(cfg, low, "adc")
            d_acc = _subarray_figure(cfg, high, "accumulation") - _subarray_figure(cfg, low, "accumulation")
            subarrays = float(all_high.area_breakdown_mm2["adc"][i] - m.area_breakdown_mm2["adc"][i]) / d_adc
            assert subarrays == pytest.approx(round(subarrays), abs=1e-6) and round(subarrays) >= 1, (i, j)
            expected = float(all_high.area_breakdown_mm2["accumulation"][i]) - round(subarrays) * d_acc
            assert float(m.area_breakdown_mm2["accumulation"][i]) == pytest.approx(expected, rel=1e-9), (i, j)
            assert float(m.area_breakdown_mm2["other"][i]) == pytest.approx(
                float(all_high.area_breakdown_mm2["other"][i]), rel=1e-2), (i, j)
            # PE buffers as wide too; their DFF rows follow the (shorter) subarrays' outline, hence rel=1e-2


def test_sar_clock_follows_the_slowest_active_layer():
    hw_cfg = HardwareConfig("rram_22nm", subarray=128, rows_parallel=64, col_mux=4, adc_bits=4, adc_type="sar")
    layers, hw = batch([SHORT, NET], [hw_cfg] * 2)  # NET pads SHORT's last two slots
    by_bits = {b: EV.evaluate(layers, with_adc(hw, torch.full((2, L), b))).clock_period_ns[0] for b in (3.0, 6.0)}
    assert float(by_bits[6.0]) > float(by_bits[3.0])  # SAR conversion takes bits + 1 ns
    adc = torch.full((2, L), 3.0)
    adc[0, 2] = 6.0
    assert float(EV.evaluate(layers, with_adc(hw, adc)).clock_period_ns[0]) == float(by_bits[6.0])
    inactive = torch.full((2, L), 3.0)
    inactive[~layers.active] = 6.0  # a slow ADC on an inactive slot does not slow the chip
    assert bool(~layers.active[0, -1])
    assert float(EV.evaluate(layers, with_adc(hw, inactive)).clock_period_ns[0]) == float(by_bits[3.0])


def test_bad_adc_on_an_active_layer_makes_the_design_infeasible_but_not_on_an_inactive_slot():
    layers, hw = batch([SHORT] * 5 + [NET], [HARDWARE[0]] * 6)  # NET pads SHORT's last two slots
    active = layers.active[0]
    first_inactive = int((~active).nonzero()[0])
    adc = torch.full((6, L), 5.0)
    adc[0, 1] = 13.0  # out of range on an active layer
    adc[1, 1] = 7.0  # inside the range but not in the characterized grid
    adc[2, 1], adc[2, 2] = 7.0, 13.0  # both: the first constraint in REASONS order is reported
    adc[3, first_inactive] = 13.0  # inactive slots are ignored
    adc[4, ~active] = 7.0
    m = EV.evaluate(layers, with_adc(hw, adc))
    assert [m.reason_text(i) for i in range(6)] == ["adc_bits_out_of_range", "not_characterized",
                                                   "adc_bits_out_of_range", "ok", "ok", "ok"]
    assert m.feasible.tolist() == [False, False, False, True, True, True]
    reference = EV.evaluate(layers, hw)  # adc_bits 5 everywhere
    for name in SCALARS:
        torch.testing.assert_close(getattr(m, name)[3:], getattr(reference, name)[3:], rtol=1e-12, atol=0.0)
        assert bool(torch.isfinite(getattr(m, name)).all()), name


def test_per_layer_adc_is_evaluated_the_same_in_chunks():
    configs = HARDWARE * 6
    layers, hw = batch([NET, SHORT] * (len(configs) // 2), configs)
    gen = torch.Generator().manual_seed(3)
    adc = torch.tensor(GRID.adc_bits, dtype=torch.float64)[torch.randint(0, 4, (len(configs), L), generator=gen)]
    hw = with_adc(hw, adc)
    whole = EV.evaluate(layers, hw, chunk=10_000)
    parts = EV.evaluate(layers, hw, chunk=5)
    for f in fields(whole):
        if isinstance(getattr(whole, f.name), torch.Tensor):
            assert torch.equal(getattr(parts, f.name), getattr(whole, f.name)), f.name


def test_adc_bits_of_the_wrong_shape_are_rejected():
    layers, hw = batch([NET], [HARDWARE[0]])
    with pytest.raises(DesignError, match="adc_bits"):
        EV.evaluate(layers, with_adc(hw, torch.full((1, L + 1), 5.0)))


def test_tuple_adc_bits_in_a_config_is_one_resolution_per_layer():
    cfg = replace(HARDWARE[0], adc_bits=(6, 6, 3, 3, 6, 4, 6))
    hw = HardwareBatch.from_configs([cfg, HARDWARE[0]])
    assert hw.adc_bits.tolist() == [[6.0, 6.0, 3.0, 3.0, 6.0, 4.0, 6.0], [5.0] * L]
    alone = evaluate_design(NET, 8, 8, cfg, RRAM)
    layers, _ = batch([NET], [cfg])
    in_batch = EV.evaluate(layers, HardwareBatch.from_configs([cfg]))
    assert bool(alone.feasible[0])
    assert_same_metrics(alone, in_batch)
    with pytest.raises(DesignError, match="lengths"):
        HardwareBatch.from_configs([cfg, replace(cfg, adc_bits=(5, 5))])
