"""Crossbar simulation: exact in the ideal limit, degrading with coarse ADCs, variation and finite on/off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cimpipe.nn import Supernet, crossbar_matmul
from cimpipe.nn.cim import SIGN_ENCODINGS, slices_per_weight
from cimpipe.space import CIMSettings, VGGSpec

SPEC = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((16, 16), (32,)), fc=(24,), min_depth=(1, 1))
IDEAL = dict(adc_bits=16, sigma=0.0, on_off_ratio=math.inf)


def codes(seed: int, m: int = 64, rows: int = 300, cols: int = 12, a_bits: int = 6, w_bits: int = 5,
          signed_input: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    qw = 2 ** (w_bits - 1) - 1
    w = torch.randint(-qw, qw + 1, (cols, rows), generator=g).float()
    if signed_input:
        qa = 2 ** (a_bits - 1) - 1
        x = torch.randint(-qa, qa + 1, (m, rows), generator=g).float()
    else:
        x = torch.randint(0, 2**a_bits, (m, rows), generator=g).float()
    return x, w


@pytest.mark.parametrize("encoding", SIGN_ENCODINGS)
@pytest.mark.parametrize("cell_bits,rows_parallel,signed", [(1, 128, False), (2, 64, True), (3, 7, False), (4, 300, True)])
def test_ideal_crossbar_computes_the_exact_integer_dot_products(cell_bits, rows_parallel, signed, encoding):
    x, w = codes(0, signed_input=signed)
    cim = CIMSettings(cell_bits=cell_bits, rows_parallel=rows_parallel, **IDEAL)
    out = crossbar_matmul(x, w, act_bits=6, act_signed=signed, w_bits=5, cim=cim, sign_encoding=encoding)
    torch.testing.assert_close(out, x @ w.t(), rtol=0, atol=1e-3)


@pytest.mark.parametrize("encoding", SIGN_ENCODINGS)
def test_the_current_of_off_cells_cancels_with_a_finite_on_off_ratio(encoding):
    x, w = codes(1)
    cim = CIMSettings(cell_bits=2, rows_parallel=64, adc_bits=16, on_off_ratio=10.0)
    out = crossbar_matmul(x, w, act_bits=6, act_signed=False, w_bits=5, cim=cim, sign_encoding=encoding)
    # the off current (a third of a level per cell, summed over 64 rows) cancels; what is left is the 16-bit
    # ADC's rounding, a thousandth of a typical product
    exact = x @ w.t()
    torch.testing.assert_close(out, exact, rtol=0, atol=1e-3 * float(exact.abs().mean()))


def test_differential_arrays_suffer_less_from_variation_than_offset_encoding():
    x, w = codes(4)
    cim = CIMSettings(cell_bits=2, adc_bits=16, sigma=0.05)
    err = {e: float((crossbar_matmul(x, w, act_bits=6, act_signed=False, w_bits=5, cim=cim, sign_encoding=e)
                     - x @ w.t()).abs().mean()) for e in SIGN_ENCODINGS}
    assert err["differential"] < err["offset"]
    assert slices_per_weight(8, 2, "differential") == 4 and slices_per_weight(8, 2, "offset") == 4
    assert slices_per_weight(5, 2, "differential") == 2 and slices_per_weight(5, 2, "offset") == 3


def test_error_grows_as_adc_bits_fall_and_as_variation_grows():
    x, w = codes(2)
    exact = x @ w.t()

    def err(**kw) -> float:
        cim = CIMSettings(cell_bits=1, rows_parallel=128, **{"adc_range": "full", **kw})
        return float((crossbar_matmul(x, w, act_bits=6, act_signed=False, w_bits=5, cim=cim) - exact).abs().mean())

    adc = [err(adc_bits=b) for b in (8, 6, 4, 3)]
    assert adc[0] < adc[1] < adc[2] < adc[3]
    assert adc[0] < 0.5  # an 8-bit ADC resolves all 129 levels of a 128-row 1-bit column
    # an ADC calibrated to the data's range loses less, and never gains from fewer bits
    dynamic = [err(adc_bits=b, adc_range="dynamic") for b in (8, 6, 4, 3)]
    assert dynamic[0] <= dynamic[1] < dynamic[2] < dynamic[3]
    assert all(d <= f for d, f in zip(dynamic, adc))
    var = [err(adc_bits=16, sigma=s) for s in (0.0, 0.1, 0.2, 0.4)]
    assert var[0] < 1e-3 < var[1] < var[2] < var[3]


def test_variation_is_drawn_once_per_layer_from_the_seed():
    x, w = codes(3)

    def run(seed: int, layer: int) -> torch.Tensor:
        cim = CIMSettings(adc_bits=8, cell_bits=2, sigma=0.1, seed=seed)
        return crossbar_matmul(x, w, act_bits=6, act_signed=False, w_bits=5, cim=cim, layer=layer)

    assert torch.equal(run(5, 0), run(5, 0))
    assert not torch.equal(run(5, 0), run(6, 0))
    assert not torch.equal(run(5, 0), run(5, 1))


def test_supernet_in_ideal_cim_mode_matches_the_quantized_forward_pass():
    torch.manual_seed(0)
    model = Supernet(SPEC)
    x = torch.randn(16, 1, 8, 8)
    rng = np.random.default_rng(0)
    members = [SPEC.largest(), SPEC.smallest(), SPEC.sample(rng)]
    model.train()
    for cfg in members:
        model(x, cfg)
    model.eval()
    for cfg in members:
        digital = model(x, cfg)
        for cell_bits, rows in ((1, 128), (2, 50), (3, 9)):
            sim = model(x, cfg, CIMSettings(cell_bits=cell_bits, rows_parallel=rows, **IDEAL))
            torch.testing.assert_close(sim, digital, rtol=1e-4, atol=1e-5)
        coarse = model(x, cfg, CIMSettings(adc_bits=3, cell_bits=2, rows_parallel=128))
        assert not torch.allclose(coarse, digital, atol=1e-3)


def _plane_by_plane(x: torch.Tensor, w: torch.Tensor, *, act_bits: int, w_bits: int, cim: CIMSettings) -> torch.Tensor:
    """A loop-by-loop reading of NeuroSim's wrapper on differential arrays: every (row group, input bit,
    weight slice) partial-sum tensor, across the batch and the columns of both arrays, quantized on its own
    min..max, then shift-added (ideal devices; one read batch)."""
    cb, n_levels, c = cim.cell_bits, 2**cim.adc_bits, w.shape[0]
    mags = torch.cat([w.clamp_min(0), (-w).clamp_min(0)]).to(torch.int64)  # positive array | negative array
    out = torch.zeros(x.shape[0], 2 * c, dtype=torch.float64)
    for lo in range(0, x.shape[1], cim.rows_parallel):
        xs, ms = x[:, lo: lo + cim.rows_parallel].to(torch.int64), mags[:, lo: lo + cim.rows_parallel]
        for t in range(act_bits):
            bit = ((xs >> t) & 1).float()
            for k in range(slices_per_weight(w_bits, cb, "differential")):
                sums = bit @ ((ms >> (k * cb)) & (2**cb - 1)).float().t()  # exact integers
                low, high = sums.min(), sums.max()
                if high > low:  # float32 as the simulation, so a code on a rounding tie goes the same way
                    step = (high - low) / (n_levels - 1)
                    sums = torch.round((sums - low) / step).double() * float(step) + float(low)
                out += sums.double() * 2.0**t * 2.0 ** (k * cb)
    return out[:, :c] - out[:, c:]


def test_the_dynamic_adc_ranges_each_input_bit_and_weight_slice_on_its_own():
    """Each (row group, input bit, weight slice) partial-sum plane gets its own min..max, as NeuroSim quantizes
    each partial-sum tensor: a sparse plane (an input's top bit) keeps a step fine enough for its own values."""
    x, w = codes(9, m=80, rows=96, cols=10, a_bits=4, w_bits=5)
    x[:, :] = torch.where(x >= 8, x - 8 * (torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) < 0.9), x)
    cim = CIMSettings(adc_bits=3, cell_bits=2, rows_parallel=32, sigma=0.0, on_off_ratio=math.inf,
                      sign_encoding="differential")
    got = crossbar_matmul(x, w, act_bits=4, act_signed=False, w_bits=5, cim=cim).double()
    torch.testing.assert_close(got, _plane_by_plane(x, w, act_bits=4, w_bits=5, cim=cim), rtol=1e-5, atol=1e-3)
    assert float((got - x.double() @ w.double().t()).abs().mean()) > 1.0  # 3 bits over 32 rows do lose


def test_a_dynamic_adc_is_calibrated_per_read_batch():
    """The ADC's range is set by each read batch of input vectors, so a vector's result does not depend on the
    batches after its own, and harsh settings still lose against the exact products."""
    from cimpipe.nn.cim import READ_BATCH

    x, w = codes(5, m=READ_BATCH + 37)
    cim = CIMSettings(adc_bits=3, cell_bits=2, rows_parallel=128, sigma=0.05, on_off_ratio=20.0, seed=2)
    whole = crossbar_matmul(x, w, act_bits=6, act_signed=False, w_bits=5, cim=cim)
    first = crossbar_matmul(x[:READ_BATCH], w, act_bits=6, act_signed=False, w_bits=5, cim=cim)
    torch.testing.assert_close(whole[:READ_BATCH], first, rtol=0, atol=0)
    assert float((whole - x @ w.t()).abs().mean()) > 1.0
