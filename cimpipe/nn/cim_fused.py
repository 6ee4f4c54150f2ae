"""The ADC and shift-add of a crossbar read fused into two compiled passes over the integer GEMM's output.

The reference readout (:class:`cimpipe.nn.cim.Readout` in PyTorch) forms every partial sum as a float32
tensor and then runs one kernel per step: the off-state term, the variation correction, the ADC's range,
its scaling, its rounding and the shift-add, each a pass over memory that is a quarter of the read's
multiply-accumulates in size. Here the same arithmetic runs in two passes compiled with Numba (CPU only)
over each cache-sized piece of the transposed GEMM output, plane by plane along the vectors of a read batch:

1. the range of each (input bit, weight slice) plane, where the ADC's range is dynamic, and from it the
   plane's step, offset and shift-add weight;
2. every plane's partial sums rebuilt from the int32 product (levels and driven-row count, or the
   conductance's two digits), read by the ADC and added into the outputs.

Every floating-point step is the PyTorch readout's, in its order and precision (float32 products and sums
rounded one at a time, no fused multiply-add): the kernel computes the plane parameters as
:func:`plane_parameters` does and the lows' constant is :func:`plane_constant`, so the two readouts are
bit-identical (``tests/test_nn_cim_fast.py`` holds them to it).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from cimpipe.nn.cim_sums import CONDUCTANCE, LEVELS_AND_COUNT

LOSSLESS, FULL, DYNAMIC = 0, 1, 2
"""The ADC modes: codes are the partial sums themselves; a fixed range; a range per plane from the data."""


@numba.njit(inline="always", cache=True)
def _plane_sums(prod, col, mc, base, n_c, kind, var_scale, s, c, off, buf):  # pragma: no cover - compiled
    """Column ``c``'s partial sums over the ``mc`` vectors of one plane into ``buf``, in the float32 order of
    :class:`cimpipe.nn.cim_sums.FastSums`: the plane's rows of the transposed product start at ``base``
    (slice ``s``), its vectors at column ``col``; ``off`` the plane's off current per vector."""
    if kind == CONDUCTANCE:
        high = prod[base + c, col : col + mc]
        low = prod[base + n_c + c, col : col + mc]
        sc = var_scale[s * n_c + c]
        for m in range(mc):
            buf[m] = sc * np.float32(high[m] * np.int32(256) + low[m])
    else:
        levels = prod[base + c, col : col + mc]
        for m in range(mc):
            buf[m] = np.float32(levels[m]) + off[m]


@numba.njit(inline="always", cache=True)
def _off_current(prod, col, mc, base, n_c, kind, g_off, off):  # pragma: no cover - compiled
    """The off current of one plane per vector: driven rows (the block's count row) times ``g_off``."""
    if kind == LEVELS_AND_COUNT:
        count = prod[base + n_c, col : col + mc]
        for m in range(mc):
            off[m] = np.float32(count[m]) * g_off
    else:
        off[:] = 0.0


@numba.njit(cache=True, nogil=True)
def _read_planes(prod, t0, n_t, s0, n_s, n_c, block, kind, g_off, var_scale, mode, coefs, n_levels, inv_step,
                 part, lows):  # pragma: no cover - compiled
    """Read and shift-add the planes of input bits ``t0 .. t0 + n_t - 1`` (of those that drive a row) and
    weight slices ``s0 .. s0 + n_s - 1`` into ``part`` [C', Mc] (transposed).

    ``prod`` int32 [n_s * block, n_t * Mc]: the transposed product, slice blocks of ``kind`` as
    :class:`cimpipe.nn.cim_sums.FastSums` stores them, input bit ``t``'s vectors at columns ``t * Mc ..``;
    plane (t, s) takes coefficient ``coefs[t, s]``; a dynamic ADC's range low of each plane goes to
    ``lows[t, s]``. Plane parameters as :func:`plane_parameters`, sums in its order."""
    mc = prod.shape[1] // n_t
    n_p = n_t * n_s
    zero = np.float32(0.0)
    buf = np.empty(mc, np.float32)
    off = np.empty(mc, np.float32)
    scale = np.zeros(n_p, np.float32)
    offset = np.zeros(n_p, np.float32)
    weight = np.empty(n_p, np.float32)
    for p in range(n_p):
        weight[p] = coefs[t0 + p // n_s, s0 + p % n_s]
    if mode == DYNAMIC:
        lo = np.empty(mc, np.float32)
        hi = np.empty(mc, np.float32)
        for p in range(n_p):  # the range of every plane over vectors and columns
            col, base, s = (p // n_s) * mc, (p % n_s) * block, s0 + p % n_s
            _off_current(prod, col, mc, base, n_c, kind, g_off, off)
            lo[:] = np.inf
            hi[:] = -np.inf
            for c in range(n_c):
                _plane_sums(prod, col, mc, base, n_c, kind, var_scale, s, c, off, buf)
                for m in range(mc):
                    lo[m] = min(lo[m], buf[m])
                    hi[m] = max(hi[m], buf[m])
            low = lo.min()
            lows[t0 + p // n_s, s] = low
            step = (hi.max() - low) / np.float32(n_levels - 1)
            if not step > zero:
                step = np.float32(1.0)  # a constant plane: its one code reads it exactly
            scale[p] = np.float32(1.0) / step
            offset[p] = -low * scale[p]
            weight[p] = weight[p] * step
    elif mode == FULL:
        scale[:] = inv_step
    top = np.float32(n_levels - 1)
    for p in range(n_p):  # plane by plane, in the reference's order for every output
        col, base, s = (p // n_s) * mc, (p % n_s) * block, s0 + p % n_s
        _off_current(prod, col, mc, base, n_c, kind, g_off, off)
        sc, of, w = scale[p], offset[p], weight[p]
        for c in range(n_c):
            _plane_sums(prod, col, mc, base, n_c, kind, var_scale, s, c, off, buf)
            row = part[c]
            if mode == DYNAMIC:
                for m in range(mc):
                    row[m] = row[m] + w * np.rint(buf[m] * sc + of)
            elif mode == FULL:
                for m in range(mc):
                    row[m] = row[m] + w * min(max(np.rint(buf[m] * sc), zero), top)
            else:
                for m in range(mc):
                    row[m] = row[m] + w * buf[m]


def plane_parameters(mode: int, coef: Tensor, n_levels: int, inv_step: float, low: Tensor | None = None,
                     high: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(scale, offset, weight)`` of every plane (float32 [P]) for the ADC ``mode`` with shift-add
    coefficients ``coef`` [P]; the dynamic mode takes the planes' ``low`` and ``high``: a plane's partial sum
    ``v`` reads as code ``rint(v * scale + offset)`` (clamped to the ADC's codes for a fixed range) and adds
    ``weight * code`` to the shift-add.

    A dynamic ADC spreads its ``n_levels`` over ``low .. high`` of each plane, as NeuroSim's inference
    wrapper does (``LinearQuantizeOut`` applied to each partial-sum tensor of one input bit, one weight slice
    and one subarray, across the batch and the columns, ``Inference_pytorch/modules/
    quantization_cpu_np_infer.py`` of DNN_NeuroSim V1.3): ``step = (high - low) / (n_levels - 1)`` (1 for a
    constant plane), and a code ``q`` stands for ``q * step + low``: the steps go into the weights and the
    lows into one constant (:func:`plane_constant`). A sparse plane (an input's top bit) keeps its own fine
    step. The references are not aligned to the cells' levels, so an ADC finer than a level does not round
    an analog error (variation, off-state current) back onto the integer grid.
    """
    if mode == DYNAMIC:
        step = (high - low) / torch.tensor(n_levels - 1, dtype=torch.float32, device=low.device)
        step = torch.where(step > 0, step, torch.ones_like(step))
        inv = 1.0 / step
        return inv, -low * inv, coef * step
    scale = torch.full_like(coef, inv_step) if mode == FULL else torch.zeros_like(coef)
    return scale, torch.zeros_like(coef), coef


def plane_constant(coef: Tensor, low: Tensor) -> Tensor:
    """0-d float32: what the planes' lows add to every output of a dynamic-range read, summed in float64."""
    return torch.cumsum(coef * low, 0, dtype=torch.float64)[-1].float()


_CHUNK_BYTES = 1 << 20
"""The GEMM output one compiled pass reads at once, so that it stays in a core's cache between passes."""


def fused_read(sums, bits_t: Tensor, bits_on: list[int], g: int, mode: int, coef: Tensor, n_levels: int,
               inv_step: float, out: Tensor) -> None:
    """Add to ``out`` [Mc, C'] the shift-added ADC readings of row group ``g`` driven by ``bits_t`` [rp, T, Mc]
    (int8, transposed), for the input bits ``bits_on`` (those that drive a row; ``coef`` [len(bits_on) * S]
    their planes' coefficients). ``sums`` is the layer's :class:`cimpipe.nn.cim_sums.FastSums`: its int8
    GEMM runs on a few input bits (or one bit and a few weight slices) at a time, each product read by
    :func:`_read_planes` while in cache, in the planes' order."""
    arr = sums.arr
    mc, n_c, n_s = bits_t.shape[2], arr.n_cols, arr.n_slices
    per_slice = mc * sums.block * 4
    if per_slice * n_s <= _CHUNK_BYTES:  # several bits, every slice
        n_bits, n_sl = max(1, _CHUNK_BYTES // (per_slice * n_s)), n_s
    else:  # one bit, a few slices
        n_bits, n_sl = 1, max(1, _CHUNK_BYTES // per_slice)
    g_off = np.float32(arr.g_off)
    var_scale = sums.var_scale[g].numpy() if sums.var_scale is not None else np.ones(0, np.float32)
    part = torch.zeros(n_c, mc)
    lows = torch.zeros(len(bits_on), n_s)
    pn, coefs, lows_n, inv = part.numpy(), coef.view(len(bits_on), n_s).numpy(), lows.numpy(), np.float32(inv_step)
    for j in range(0, len(bits_on), n_bits):
        ts = bits_on[j : j + n_bits]
        b = bits_t[:, ts[0] : ts[-1] + 1] if ts[-1] - ts[0] == len(ts) - 1 else bits_t[:, ts]
        b = b.reshape(b.shape[0], -1)
        for s0 in range(0, n_s, n_sl):
            s1 = min(n_s, s0 + n_sl)
            _read_planes(sums.parts(b, g, s0, s1).numpy(), j, len(ts), s0, s1 - s0, n_c, sums.block, sums.kind,
                         g_off, var_scale, mode, coefs, n_levels, inv, pn, lows_n)
    if mode == DYNAMIC:
        part.add_(plane_constant(coef, lows.view(-1)))
    out.add_(part.t())
