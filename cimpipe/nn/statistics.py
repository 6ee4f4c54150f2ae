"""What a sub-network's data does to the crossbar's energy: each weight layer's input bit density and the mean
level of the cells its weights are stored in.

NeuroSim's array energy follows both (ProcessingUnit.cpp GetColumnResistance: a column's current sums the
conductances of the cells whose row's input bit is 1), and so does the hardware model
(:func:`cimpipe.hw.energy.input_density`, :func:`cimpipe.hw.energy.weight_level_mean`). The statistics are read
off a digital forward pass with hooks on the elastic layers: the activation codes each layer quantizes its input
to (fed bit-serially, a signed input in two's complement) and the weight codes it stores.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from cimpipe.design import SIGN_ENCODINGS, slices_per_weight
from cimpipe.nn.layers import ElasticConv2d, ElasticLinear


def bit_density(codes: Tensor, bits: int, signed: bool) -> float:
    """Fraction of the ``bits`` input bits that are 1 over integer activation ``codes`` (two's complement for a
    signed input, as the crossbar is fed)."""
    q = codes.detach().round().to(torch.int64)
    if signed:
        q = torch.remainder(q, 2**bits)
    ones = sum(int(((q >> t) & 1).sum()) for t in range(bits))
    return ones / max(q.numel() * bits, 1)


def cell_level_mean(w_codes: Tensor, w_bits: int, cell_bits: int, sign_encoding: str) -> float:
    """Mean stored cell level over the cells of signed weight codes, each as a fraction of its top level: with
    an offset, ``q + 2^(w_bits-1)`` sliced over ``ceil(w_bits/cell_bits)`` cells; differential, ``max(q, 0)``
    and ``max(-q, 0)`` each sliced over ``ceil((w_bits-1)/cell_bits)`` cells (see :mod:`cimpipe.nn.cim`)."""
    q = w_codes.detach().round().to(torch.int64).reshape(-1)
    if sign_encoding == "differential":
        stored = torch.cat([q.clamp_min(0), (-q).clamp_min(0)])
    else:
        stored = q + 2 ** (w_bits - 1)
    top = 2**cell_bits - 1
    shifts = torch.arange(slices_per_weight(w_bits, cell_bits, sign_encoding)) * cell_bits
    levels = (stored[:, None] >> shifts[None, :]) & top
    return float(levels.double().mean()) / top


ZERO_READ_ROWS = (64, 128, 256)
"""Row blocks (subarray heights) the zero-read fractions are measured for."""


def zero_read_fractions(codes: Tensor, bits: int, signed: bool, k: int | None, stride: int,
                        blocks: Sequence[int] = ZERO_READ_ROWS) -> list[float]:
    """For each block height in ``blocks``: the fraction of reads (one input bit of one input vector into one
    block of consecutive rows of the unrolled input, ``C * k * k`` rows for a convolution, ``k`` None for a
    fully connected layer) in which no row gets a 1. NeuroSim's SAR converter reads such a column at an idle
    power (:data:`cimpipe.hw.adc_energy.SAR_IDLE_W`), so the ADC energy follows it."""
    q = codes.detach().round().to(torch.int64)
    if signed:
        q = torch.remainder(q, 2**bits)
    if k is not None:
        q = torch.nn.functional.unfold(q.double(), kernel_size=k, padding=k // 2, stride=stride).to(torch.int64)
        q = q.transpose(1, 2).reshape(-1, q.shape[1])  # [vectors, rows]
    q = q.to(torch.uint8)
    rows = q.shape[1]
    out = []
    for block in blocks:
        qb = torch.nn.functional.pad(q, (0, (-rows) % block)).view(q.shape[0], -1, block)
        empty = sum(float((~((qb >> t) & 1).bool().any(dim=-1)).double().mean()) for t in range(bits))
        out.append(empty / bits)
    return out


@contextmanager
def recording(model: nn.Module) -> Iterator[dict[int, dict]]:
    """Inside the block, every elastic layer's forward records ``{slot: {"codes", "bits", "signed", "weights",
    "w_bits", "k", "stride"}}`` of its last call (activation codes, weight codes; ``k`` None for a fully
    connected layer)."""
    seen: dict[int, dict] = {}

    def hook(module: nn.Module, args: tuple) -> None:
        x = args[0]
        if isinstance(module, ElasticConv2d):
            _, c_out, k, w_bits, a_bits, _, slot = args
            c_out = x.shape[1] if module.depthwise else c_out
            w = module.active_weight(x.shape[1], c_out, k)
            stride = module.stride
        else:
            _, f_out, w_bits, a_bits, _, slot = args
            w = module.weight[:f_out, : x.shape[1]]
            k, stride = None, 1
        with torch.no_grad():
            codes, _ = module.act_quant.codes(x, a_bits)
            w_codes, _ = module.weight_quant.codes(w, w_bits)
        seen[int(slot)] = {"codes": codes, "bits": int(a_bits), "signed": module.act_quant.signed,
                           "weights": w_codes, "w_bits": int(w_bits), "k": k, "stride": stride}

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()
               if isinstance(m, (ElasticConv2d, ElasticLinear))]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


ZERO_READ_IMAGES = 32
"""Images the zero-read fractions are counted on (every input vector of every layer, unrolled)."""


@torch.no_grad()
def input_densities(model: nn.Module, subnet, images: Tensor, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Each weight layer's input bit density, float64 [n_slots], on ``images`` (normalized, one batch) for the
    sub-network, and its :func:`zero_read_fractions` for the :data:`ZERO_READ_ROWS` blocks, [n_slots, 3], on
    the first :data:`ZERO_READ_IMAGES`; NaN for the slots it does not use."""
    out = np.full(n_slots, math.nan)
    zero = np.full((n_slots, len(ZERO_READ_ROWS)), math.nan)
    was_training = model.training
    model.eval()
    try:
        with recording(model) as seen:
            model(images, subnet)
    finally:
        model.train(was_training)
    for slot, r in seen.items():
        out[slot] = bit_density(r["codes"], r["bits"], r["signed"])
        zero[slot] = zero_read_fractions(r["codes"][:ZERO_READ_IMAGES], r["bits"], r["signed"], r["k"], r["stride"])
    return out, zero


@torch.no_grad()
def cell_levels(model: nn.Module, spec, cell_bits: Sequence[int]) -> np.ndarray:
    """float64 [n_slots, len(spec.bit_choices), len(cell_bits), len(SIGN_ENCODINGS)]: the mean stored cell level of
    each weight layer of the family's largest member at every weight bit-width, for every cell size and sign
    encoding. Weight codes depend on the weights alone, so one forward pass of a blank image per bit-width
    records them."""
    bits = sorted(spec.bit_choices)
    out = np.full((spec.n_slots, len(bits), len(cell_bits), len(SIGN_ENCODINGS)), math.nan)
    device = next(model.parameters()).device
    blank = torch.zeros((1, spec.in_channels, spec.image_size, spec.image_size), device=device)
    was_training = model.training
    model.eval()
    try:
        for b_i, b in enumerate(bits):
            with recording(model) as seen:
                model(blank, spec.canonical(spec.largest(bits=b)))
            for slot, r in seen.items():
                for c_i, cb in enumerate(cell_bits):
                    for e_i, enc in enumerate(SIGN_ENCODINGS):
                        out[slot, b_i, c_i, e_i] = cell_level_mean(r["weights"], r["w_bits"], int(cb), enc)
    finally:
        model.train(was_training)
    return out
