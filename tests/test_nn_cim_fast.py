"""The fast crossbar engine (integer GEMMs) against the reference (float GEMMs): identical at sigma 0 on every
kind of layer, and with device variation within the fixed-point rounding of the cells' conductances; the
compiled readout against the PyTorch readout: identical."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from cimpipe.nn import build_supernet, cim, layers
from cimpipe.nn.cim import crossbar_conv2d, crossbar_matmul, program_array
from cimpipe.nn.cim_sums import FastSums, ReferenceSums, driven_bit_planes
from cimpipe.space import CIMSettings, MobileNetV2Spec, VGGSpec


def _inputs(seed: int, shape: tuple[int, ...], a_bits: int, signed: bool) -> torch.Tensor:
    """Activation codes shaped like a ReLU layer's: many zeros, small codes common, the top bit rare."""
    g = torch.Generator().manual_seed(seed)
    if signed:
        q = 2 ** (a_bits - 1) - 1
        return torch.randint(-q, q + 1, shape, generator=g).float()
    x = torch.randint(0, 2**a_bits, shape, generator=g).float()
    x = torch.where(torch.rand(shape, generator=g) < 0.4, torch.zeros(()), x)
    return torch.where(torch.rand(shape, generator=g) < 0.7, x.div(4).floor(), x)


def _weights(seed: int, shape: tuple[int, ...], w_bits: int) -> torch.Tensor:
    q = 2 ** (w_bits - 1) - 1
    return torch.randint(-q, q + 1, shape, generator=torch.Generator().manual_seed(seed)).float()


SETTINGS = [  # (a_bits, w_bits, cell_bits, adc_bits, adc_range, rows_parallel, on_off_ratio)
    (8, 8, 2, 5, "dynamic", 128, 100.0),
    (8, 8, 1, 4, "dynamic", 64, 100.0),
    (4, 4, 2, 5, "full", 128, 100.0),
    (6, 5, 3, 3, "full", 50, 10.0),
    (5, 6, 2, 8, "dynamic", 32, math.inf),
    (8, 8, 8, 6, "dynamic", 16, 30.0),  # 8-bit cells: levels beyond int8, the float path of the fast engine
]


def _both(fn, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    return fn(method="fast", **kw), fn(method="reference", **kw)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("signed", [False, True])
def test_fc_layers_are_bit_identical_at_sigma_0(setting, signed):
    a_bits, w_bits, cell_bits, adc_bits, adc_range, rows, on_off = setting
    x = _inputs(1, (300, 333), a_bits, signed)  # more vectors than one read batch, rows not a multiple
    w = _weights(2, (21, 333), w_bits)
    cim = CIMSettings(adc_bits=adc_bits, cell_bits=cell_bits, rows_parallel=rows, adc_range=adc_range,
                      on_off_ratio=on_off)
    for encoding in ("differential", "offset"):
        fast, ref = _both(crossbar_matmul, x_codes=x, w_codes=w, act_bits=a_bits, act_signed=signed,
                          w_bits=w_bits, cim=cim, sign_encoding=encoding)
        assert torch.equal(fast, ref)
        assert not torch.equal(fast, torch.zeros_like(fast))


@pytest.mark.parametrize("setting", SETTINGS[:4])
@pytest.mark.parametrize("kind", ["conv", "strided", "depthwise"])
def test_conv_layers_are_bit_identical_at_sigma_0(setting, kind):
    a_bits, w_bits, cell_bits, adc_bits, adc_range, rows, on_off = setting
    c, groups, stride = (24, 24, 1) if kind == "depthwise" else (16, 1, 2 if kind == "strided" else 1)
    x = _inputs(3, (2, c, 9, 9), a_bits, signed=kind == "conv")
    w = _weights(4, (24, c // groups, 3, 3), w_bits)
    cim = CIMSettings(adc_bits=adc_bits, cell_bits=cell_bits, rows_parallel=rows, adc_range=adc_range,
                      on_off_ratio=on_off)
    fast, ref = _both(crossbar_conv2d, x_codes=x, w_codes=w, padding=1, act_bits=a_bits, act_signed=kind == "conv",
                      w_bits=w_bits, cim=cim, stride=stride, groups=groups)
    assert fast.shape == (2, 24, 5 if kind == "strided" else 9, 5 if kind == "strided" else 9)
    assert torch.equal(fast, ref)


def _reference_network(monkeypatch):
    monkeypatch.setattr(layers, "crossbar_conv2d", functools.partial(crossbar_conv2d, method="reference"))
    monkeypatch.setattr(layers, "crossbar_matmul", functools.partial(crossbar_matmul, method="reference"))


@pytest.mark.parametrize("spec", [
    VGGSpec(in_channels=3, image_size=8, num_classes=10, stages=((16, 16), (32,)), fc=(24,), min_depth=(1, 1)),
    MobileNetV2Spec(in_channels=3, image_size=8, num_classes=10, stages=(8, 16, 24), blocks=(1, 2, 1),
                    strides=(1, 2, 1), min_depth=(1, 1, 1)),
], ids=["vgg", "mobilenetv2"])
def test_whole_networks_with_per_layer_adc_bits_are_bit_identical_at_sigma_0(spec, monkeypatch):
    torch.manual_seed(0)
    model = build_supernet(spec)
    x = torch.randn(6, 3, 8, 8)
    subnet = spec.largest(6)
    model.train()
    model(x, subnet)  # LSQ steps from the data
    model.eval()
    n_slots = len(subnet.weight_bits)
    cim = CIMSettings(adc_bits=5, cell_bits=2, rows_parallel=64, on_off_ratio=50.0,
                      layer_adc_bits=tuple(3 + i % 4 for i in range(n_slots)))
    with torch.no_grad():
        fast = model(x, subnet, cim)
        _reference_network(monkeypatch)
        ref = model(x, subnet, cim)
    assert torch.equal(fast, ref)


def test_the_partial_sums_with_variation_agree_within_1e_4_of_full_scale():
    """Every partial sum of the fast engine (fixed-point conductances, two int8 digits) lies within 1e-4 of a
    column's full scale of the reference's float32 sum."""
    x = _inputs(5, (256, 384), 8, signed=False)
    w = _weights(6, (40, 384), 8)
    cim = CIMSettings(cell_bits=2, rows_parallel=128, sigma=0.1, on_off_ratio=20.0, seed=3)
    arr = program_array(w, w_bits=8, cim=cim, layer=0, sign_encoding="differential")
    bits, _ = driven_bit_planes(x.to(torch.uint8), 8, arr.n_groups, arr.rp)
    full_scale = arr.rp * (arr.cell_max + arr.g_off)
    fast, ref = FastSums(arr), ReferenceSums(arr)
    for g in range(arr.n_groups):
        b = bits[g].reshape(-1, arr.rp)
        diff = (fast(b, g) - ref(b, g)).abs().max()
        assert 0 < diff <= 1e-4 * full_scale


@pytest.mark.parametrize("adc_range", ["dynamic", "full"])
@pytest.mark.parametrize("adc_bits", [12, 5])
def test_layer_outputs_with_variation_differ_from_the_reference_far_less_than_the_variation_does(adc_range, adc_bits):
    """The fixed-point conductances move a partial sum by ~1e-5 of full scale; an ADC code whose threshold
    lies closer than that flips (as it does between two float32 summation orders), so a few outputs differ by
    one ADC step. On average the two engines differ by under 0.5% of what the variation itself changes (the
    former bfloat16 correction: 0.5-1.4%)."""
    x = _inputs(7, (256, 576), 8, signed=False)
    w = _weights(8, (48, 576), 8)
    kw = dict(x_codes=x, w_codes=w, act_bits=8, act_signed=False, w_bits=8)
    base = dict(adc_bits=adc_bits, cell_bits=2, rows_parallel=128, on_off_ratio=100.0, adc_range=adc_range,
                sign_encoding="differential")
    fast, ref = _both(crossbar_matmul, cim=CIMSettings(sigma=0.05, seed=1, **base), **kw)
    ideal = crossbar_matmul(cim=CIMSettings(**base), method="reference", **kw)
    diff = (fast - ref).abs()
    assert float(diff.mean()) < 0.005 * float((ref - ideal).abs().mean())
    assert float((diff > 1e-4 * ref.abs().max()).float().mean()) < 0.06
    if adc_range == "dynamic" and adc_bits == 12:  # a fine, data-calibrated ADC: every flip is small
        assert float(diff.max()) <= 1e-3 * float(ref.abs().max())


def test_an_input_bit_set_nowhere_in_a_read_batch_is_left_out():
    x = torch.full((10, 200), 5.0)  # bits 0 and 2 only
    bits, active = driven_bit_planes(x.to(torch.uint8), 4, 2, 100)
    assert bits.shape == (2, 10, 4, 100)
    assert active.tolist() == [[True, False, True, False]] * 2


@pytest.mark.parametrize("setting", SETTINGS[:5])
@pytest.mark.parametrize("sigma", [0.0, 0.05])
def test_the_compiled_readout_equals_the_pytorch_readout_bit_for_bit(setting, sigma, monkeypatch):
    """The fast engine's two readouts (compiled passes over the integer GEMM, and PyTorch's kernels over
    the same sums) agree exactly, with variation too: same sums, same float32 steps in the same order."""
    a_bits, w_bits, cell_bits, adc_bits, adc_range, rows, on_off = setting
    cim_settings = CIMSettings(adc_bits=adc_bits, cell_bits=cell_bits, rows_parallel=rows, adc_range=adc_range,
                               on_off_ratio=on_off, sigma=sigma, seed=2)
    x = _inputs(9, (2, 24, 9, 9), a_bits, signed=False)
    kinds = [dict(w_codes=_weights(10, (40, 24, 3, 3), w_bits), stride=1, groups=1),
             dict(w_codes=_weights(11, (24, 1, 3, 3), w_bits), stride=2, groups=24)]
    for kind in kinds:
        kw = dict(x_codes=x, padding=1, act_bits=a_bits, act_signed=False, w_bits=w_bits, cim=cim_settings, **kind)
        compiled = crossbar_conv2d(**kw)
        monkeypatch.setattr(cim, "FUSED_READOUT", False)
        plain = crossbar_conv2d(**kw)
        monkeypatch.setattr(cim, "FUSED_READOUT", True)
        assert torch.equal(compiled, plain)
    fc = dict(x_codes=_inputs(12, (300, 333), a_bits, signed=True), w_codes=_weights(13, (50, 333), w_bits),
              act_bits=a_bits, act_signed=True, w_bits=w_bits, cim=cim_settings)
    compiled = crossbar_matmul(**fc)
    monkeypatch.setattr(cim, "FUSED_READOUT", False)
    assert torch.equal(compiled, crossbar_matmul(**fc))
