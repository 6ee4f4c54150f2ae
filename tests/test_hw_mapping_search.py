"""The batched floorplan search picks the same sizes as NeuroSim's one-candidate-at-a-time search."""

import math

import torch

from cimpipe.hw import Evaluator, HardwareBatch, HardwareGrid, LayerBatch, builtin_technologies
from cimpipe.hw.mapping import map_network

F64 = torch.float64


def _sequential(start: float, floor: float, util_of, best: float = 0.0) -> float:
    """NeuroSim's loop: halve from max(start, floor) while above floor, keep a size that beats the best."""
    size = cand = max(start, floor)
    while cand > floor:
        u = util_of(cand)
        if u > best:
            size, best = cand, u
        cand /= 2
    return size


def _reference_sizes(rows, cols, c_in, novel, conv, n, ppe):
    """Tile/PE sizes of one design from plain Python lists (ChipDesignInitialize, TileDesignCM/NM, PEDesign)."""
    def pow2(x):
        return 2.0 ** math.ceil(math.log2(max(x, 1.0)))

    nm = [i for i, v in enumerate(novel) if v]
    cm = [i for i, v in enumerate(conv) if v]
    max_pe_nm = max((pow2(cols[i]) for i in nm), default=0.0)
    max_tile_cm = max((pow2(cols[i]) for i in cm), default=0.0)
    m_nm = sum(rows[i] * cols[i] for i in nm)
    m_cm = sum(rows[i] * cols[i] for i in cm)

    def nm_util(p):
        t = sum(math.ceil(c_in[i] / p) * math.ceil(cols[i] / p) for i in nm)
        return m_nm / max(t * p * p * ppe, 1.0)

    def cm_tiles(t):
        return sum(math.ceil(rows[i] / t) * math.ceil(cols[i] / t) for i in cm)

    pe_nm = _sequential(max_pe_nm, 2 * n, nm_util)
    tile = _sequential(max_tile_cm, 4 * n, lambda t: m_cm / max(cm_tiles(t) * t * t, 1.0))
    util_cm = m_cm / max(cm_tiles(tile) * tile * tile, 1.0)

    def pe_util(p):
        per = math.ceil(tile / p)
        total = 0.0
        for i in cm:
            dr = dc = 1.0
            if rows[i] <= tile or cols[i] <= tile:
                dr = max(math.floor(per / math.ceil(rows[i] / p)), 1.0)
                dc = max(math.floor(per / math.ceil(cols[i] / p)), 1.0)
            total += dr * dc * rows[i] * cols[i]
        return total / max(cm_tiles(tile) * tile * tile, 1.0)

    pe_cm = _sequential(tile / 2, 2 * n, pe_util, best=util_cm) if tile / 2 > 2 * n else tile / 2
    return tile, pe_cm, pe_nm


def test_batched_size_search_matches_the_sequential_search():
    gen = torch.Generator().manual_seed(3)
    d, n_layers = 300, 7
    k = torch.tensor([1.0, 3.0, 5.0], dtype=F64)[torch.randint(0, 3, (d, n_layers), generator=gen)]
    c_in = torch.randint(1, 900, (d, n_layers), generator=gen).to(F64)
    cols = torch.randint(1, 3000, (d, n_layers), generator=gen).to(F64)
    active = torch.rand(d, n_layers, generator=gen) < 0.85
    sub = torch.tensor([32.0, 64.0, 128.0, 256.0], dtype=F64)[torch.randint(0, 4, (d,), generator=gen)]
    kk = k * k
    rows = c_in * kk
    ifm = torch.full((d, n_layers), 16.0, dtype=F64)
    pipeline = torch.rand(d, generator=gen) < 0.5
    m = map_network(rows, cols, c_in, kk, ifm, active, sub, pipeline)
    for i in range(d):
        novel = m.novel[i].tolist()
        conv = (active[i] & ~m.novel[i]).tolist()
        ppe = max(float(m.num_pe_nm[i]), 1.0)
        want = _reference_sizes(rows[i].tolist(), cols[i].tolist(), c_in[i].tolist(), novel, conv,
                                float(sub[i]), ppe)
        got = (float(m.tile_size_cm[i]), float(m.pe_size_cm[i]), float(m.pe_size_nm[i]))
        assert got == want, (i, got, want)


def _vgg_like(d: int, gen: torch.Generator) -> tuple[LayerBatch, HardwareBatch]:
    n_layers = 6
    c = torch.randint(8, 300, (d, n_layers), generator=gen).to(F64)
    ifm = torch.tensor([32.0, 32.0, 16.0, 8.0, 4.0, 1.0], dtype=F64).expand(d, n_layers).clone()
    k = torch.tensor([3.0] * 5 + [1.0], dtype=F64).expand(d, n_layers).clone()
    c_in = torch.cat([torch.full((d, 1), 3.0, dtype=F64), c[:, :-1]], dim=1)
    active = torch.rand(d, n_layers, generator=gen) < 0.9
    layers = LayerBatch(ifm_h=ifm, ifm_w=ifm.clone(), c_in=c_in, k=k, c_out=c,
                        pool=torch.zeros(d, n_layers, dtype=torch.bool), stride=torch.ones(d, n_layers, dtype=F64),
                        weight_bits=torch.randint(2, 9, (d, n_layers), generator=gen).to(F64),
                        input_bits=torch.randint(2, 9, (d, n_layers), generator=gen).to(F64), active=active)

    def pick(values):
        return torch.tensor(values, dtype=F64)[torch.randint(0, len(values), (d,), generator=gen)]

    hw = HardwareBatch(subarray=pick((64.0, 128.0)), rows_parallel=pick((16.0, 64.0)), col_mux=pick((4.0, 8.0)),
                       adc_bits=pick((4.0, 6.0)), adc_is_sar=torch.rand(d, generator=gen) < 0.5,
                       cell_bits=pick((1.0, 2.0)), pipeline=torch.rand(d, generator=gen) < 0.5)
    return layers, hw


def test_chunked_evaluation_equals_one_batch():
    ev = Evaluator.for_grid(builtin_technologies()["rram_22nm"], HardwareGrid())
    layers, hw = _vgg_like(500, torch.Generator().manual_seed(5))
    whole = ev.evaluate(layers, hw, chunk=10_000)
    parts = ev.evaluate(layers, hw, chunk=64)
    for name in ("area_mm2", "latency_ns", "dynamic_energy_pj", "edap", "tiles", "utilization"):
        assert torch.allclose(getattr(parts, name), getattr(whole, name), rtol=1e-12, atol=0.0), name
    assert torch.equal(parts.reason, whole.reason)


def test_pipelined_design_without_layers_is_infeasible_with_finite_figures():
    ev = Evaluator.for_grid(builtin_technologies()["rram_22nm"], HardwareGrid())
    layers, hw = _vgg_like(4, torch.Generator().manual_seed(6))
    layers = LayerBatch(**{**layers.__dict__, "active": torch.zeros_like(layers.active)})
    hw = HardwareBatch(**{**hw.__dict__, "pipeline": torch.ones_like(hw.pipeline)})
    out = ev.evaluate(layers, hw)
    assert not out.feasible.any()
    assert all(out.reason_text(i) == "no_active_layer" for i in range(4))
    for name in ("area_mm2", "latency_ns", "dynamic_energy_pj", "tiles", "utilization", "edap"):
        assert torch.isfinite(getattr(out, name)).all(), name
