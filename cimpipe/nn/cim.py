"""Crossbar simulation of a quantized layer's integer dot products.

How one weight layer runs on a crossbar (the scheme of NeuroSim's inference wrapper, written here for
batched tensors):

* The layer's unrolled weight matrix (im2col for a convolution: ``rows = c_in * k * k``) is split into
  groups of ``rows_parallel`` rows; each group is one partial-parallel read.
* Sign (``sign_encoding``), weights being symmetric signed codes ``|q| <= 2^(w_bits-1) - 1``:
  - "offset" (NeuroSim's scheme, the default): ``u = q + 2^(w_bits-1)`` stored in ``ceil(w_bits / cell_bits)``
    cells of one array. The offset's share of a dot product, ``2^(w_bits-1) * sum(x)``, and the off-state
    current's, ``g_off * sum_s 2^(cell_bits*s) * sum(x)``, are known from the input codes alone and are
    subtracted digitally after the shift-add (a popcount of the input bits a row group receives), so the
    array holds exactly the ``C_out * ceil(w_bits / cell_bits)`` columns that NeuroSim's Chip.cpp maps and the
    hardware model prices, with no reference column. Every cell carries a mid-range conductance, so variation
    hurts more than with differential arrays.
  - "differential": a positive and a negative array; ``max(q, 0)`` goes to the first, ``max(-q, 0)`` to the
    second, each magnitude bit-sliced over ``ceil((w_bits - 1) / cell_bits)`` cells of ``cell_bits`` bits;
    the two arrays' shift-added ADC readings are subtracted. Both arrays see the same inputs, so the current
    of "off" cells cancels. Twice the arrays, priced as such by the hardware model.
* Conductance of a cell at level ``l`` in ``0 .. 2^cell_bits - 1``, in units of one level step:
  ``G = l + g_off`` with ``g_off = (2^cell_bits - 1) / (on_off_ratio - 1)`` so that ``G_on / G_off`` is the
  on/off ratio; a zero-level cell conducts ``G_on / on_off_ratio``. Device variation multiplies every
  cell's conductance by ``1 + sigma * N(0, 1)``, drawn once per layer from a generator seeded by
  ``cim.seed`` and the layer's index.
* Inputs (activation codes) are fed bit-serially, least significant bit first; a signed input (the first
  layer's normalised image) is fed in two's complement, its last bit weighted ``-2^(a_bits-1)``.
* Every (row group, input bit, weight slice) column sum is read by an ``adc_bits`` ADC. With
  ``cim.adc_range == "dynamic"`` (the default, as NeuroSim's inference wrapper) its ``2^adc_bits`` levels are
  spread over the min..max of the partial sums of that row group, input bit and weight slice (across the
  columns) in one read batch of ``READ_BATCH`` input vectors (rows of the unrolled input): the ADC's
  references calibrated to the layer's data, not to the cells' levels, so analog errors pass through it
  however fine it is. With "full" they span the physical range of the column, ``0 .. n_rows * G_on`` for the
  ``n_rows`` cells of the group (a fixed, uncalibrated circuit, its step never finer than one level). Either
  way an ADC with more levels than ideal integer column sums can produce reads them exactly, so a
  high-resolution ADC on ideal devices is exact.
* The ADC outputs are combined digitally by shift-add over weight slices (``2^(cell_bits * s)``), input
  bits (``+-2^t``) and row groups.

The computation is vectorised: the input bits of a read batch are laid out row group by row group; per row
group a GEMM of the input bit-planes against the stored cells gives every (input bit, weight slice, column)
partial sum (:mod:`cimpipe.nn.cim_sums`: int8 GEMMs in the fast engine, float32 in the reference). Each
plane is read by the ADC and shift-added plane by plane, its dynamic-ADC step folded into its coefficient and
the planes' lows added once as a constant. The fast engine on a CPU does the reading in two compiled passes
over each cache-sized piece of the GEMM's output (:mod:`cimpipe.nn.cim_fused`, the same float32 steps in the
same order as the PyTorch readout, which the reference and CUDA use). An input bit that drives no row of a
group in the read batch is left out (its partial sums are zero and read zero). Rows of the batch are
processed in read batches (chunks bounding memory for a full-range ADC).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cimpipe.nn.cim_array import (
    SIGN_ENCODINGS,
    CrossbarArray,
    program_array,
    slices_per_weight,
)
from cimpipe.nn.cim_fused import DYNAMIC, FULL, LOSSLESS, fused_read, plane_constant, plane_parameters
from cimpipe.nn.cim_sums import FastSums, ReferenceSums, driven_bit_planes
from cimpipe.space import CIMSettings

METHODS = ("fast", "reference")
__all__ = ["METHODS", "READ_BATCH", "SIGN_ENCODINGS", "CrossbarArray", "Readout", "crossbar_conv2d", "crossbar_matmul",
           "program_array", "slices_per_weight"]

_CHUNK_ELEMENTS = 8_000_000  # partial sums of one row group held at once (float32: ~32 MB)
READ_BATCH = 256
"""Input vectors whose partial sums set one dynamic-range ADC calibration (four 8x8 images of a convolution)."""
FUSED_READOUT = True
"""Whether the fast engine reads its integer GEMMs with the compiled readout on a CPU (the same values as the
PyTorch readout; False keeps the PyTorch one, to compare)."""


def crossbar_matmul(
    x_codes: Tensor,
    w_codes: Tensor,
    *,
    act_bits: int,
    act_signed: bool,
    w_bits: int,
    cim: CIMSettings,
    layer: int = 0,
    sign_encoding: str | None = None,
    method: str = "fast",
) -> Tensor:
    """Integer dot products ``x_codes @ w_codes.T`` as the crossbar computes them.

    ``x_codes`` [M, R] activation codes, ``w_codes`` [C, R] signed weight codes (both integer-valued
    float tensors); returns [M, C] in code units (multiply by the two steps for real values). ``layer``
    selects the variation draw; ``sign_encoding`` "offset" or "differential" (see the module notes; None:
    ``cim.sign_encoding``).
    ``method`` "fast" (integer GEMMs, see :mod:`cimpipe.nn.cim_sums`) or "reference" (float GEMMs of the
    conductances): identical at sigma 0, within the fixed-point rounding of the cells' conductances otherwise
    (:class:`cimpipe.nn.cim_sums.FastSums`).
    """
    sign_encoding = cim.sign_encoding if sign_encoding is None else sign_encoding
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    arr = program_array(w_codes, w_bits=w_bits, cim=cim, layer=layer, sign_encoding=sign_encoding)
    m = x_codes.shape[0]
    xi = x_codes.float().round()
    if act_signed:
        xi = torch.remainder(xi, 2**act_bits)  # two's complement
    xi = F.pad(xi.to(torch.uint8), (0, arr.padded - arr.rows))  # absent rows get no input
    readout = Readout(arr, act_bits, act_signed, cim)
    column_sums = (FastSums if method == "fast" else ReferenceSums)(arr)
    # the fast engine on a CPU reads its integer products with the compiled readout, the same values
    fused = FUSED_READOUT and method == "fast" and column_sums.integer and x_codes.device.type == "cpu"
    out = torch.zeros(m, 1, arr.n_cols, device=x_codes.device)
    block = READ_BATCH if readout.dynamic else max(1, _CHUNK_ELEMENTS // (act_bits * arr.n_slices * arr.n_cols))
    for lo in range(0, m, block):
        xc = xi[lo : lo + block]
        mc = xc.shape[0]
        bits, active = driven_bit_planes(xc, act_bits, arr.n_groups, arr.rp, transposed=fused)
        acc = out[lo : lo + mc]
        for g in range(arr.n_groups):
            on = active[g]
            n_on = int(on.sum())
            if n_on == 0:
                continue  # no input bit drives a row of this group: every partial sum is zero and reads zero
            if fused:
                readout.read_fused(column_sums, bits[g], g, on.nonzero().view(-1).tolist(), acc.view(mc, arr.n_cols))
                continue
            if n_on == act_bits:
                acc += readout.read(column_sums(bits[g].view(mc * act_bits, arr.rp), g), g, mc)
                continue
            # leave out the input bits that drive nothing here (a ReLU activation's high bits are rarely set)
            idx = on.nonzero().view(-1)
            b = bits[g].index_select(1, idx.to(bits.device)).view(mc * n_on, arr.rp)
            acc += readout.read(column_sums(b, g), g, mc, idx)
    out = out.view(m, arr.n_cols)
    if sign_encoding == "differential":
        return out[:, : arr.c_out] - out[:, arr.c_out :]  # minus the negative array
    # offset encoding: remove the stored offset and the off-state current of every cell the inputs drove
    slice_gain = sum(2.0 ** (cim.cell_bits * s) for s in range(arr.n_slices))
    return out - (2.0 ** (w_bits - 1) + arr.g_off * slice_gain) * x_codes.float().round().sum(dim=1, keepdim=True)


class Readout:
    """The ADC of every (row group, input bit, weight slice) column sum and the shift-add that combines them.

    :meth:`read` is the reference, in PyTorch; :meth:`read_fused` computes the same values (bit for bit)
    in two compiled passes over the integer GEMM's output (:mod:`cimpipe.nn.cim_fused`, CPU)."""

    def __init__(self, arr: CrossbarArray, act_bits: int, act_signed: bool, cim: CIMSettings) -> None:
        device = arr.levels.device
        self.arr, self.act_bits = arr, act_bits
        n_groups, rp, rows = arr.n_groups, arr.rp, arr.rows
        n_rows = torch.full((n_groups,), float(rp), device=device)
        n_rows[-1] = rows - (n_groups - 1) * rp
        full_scale = n_rows * (arr.cell_max + arr.g_off)
        self.n_levels = n_levels = 2**cim.adc_bits
        step = torch.where(full_scale <= n_levels - 1, torch.ones_like(full_scale), full_scale / (n_levels - 1))
        self.dynamic = cim.adc_range == "dynamic"
        if self.dynamic:
            # a dynamic ADC over integer column sums that can span no more levels than it has reads them exactly
            exact = (full_scale <= n_levels - 1) & (cim.sigma == 0) & (arr.g_off == 0)
            self.modes = [LOSSLESS if e else DYNAMIC for e in exact.tolist()]
            step = torch.ones_like(step)  # the step is set per read from the data's range
        else:  # an ADC that resolves every level of integer column sums changes nothing: skip its arithmetic
            lossless = cim.sigma == 0 and arr.g_off == 0 and bool((step == 1).all())
            self.modes = [LOSSLESS if lossless else FULL] * n_groups
        # shift-add coefficients [G, T*S], a fixed ADC's step of each group folded in
        bit_weight = 2.0 ** torch.arange(act_bits, device=device).float()
        if act_signed:
            bit_weight[-1] = -bit_weight[-1]
        slice_weight = 2.0 ** (torch.arange(arr.n_slices, device=device) * cim.cell_bits).float()
        coef = step.view(-1, 1, 1) * bit_weight.view(1, -1, 1) * slice_weight.view(1, 1, -1)
        self.coef = coef.reshape(n_groups, act_bits * arr.n_slices)
        self.inv_step = (1.0 / step).tolist()

    def _coef(self, g: int, bits_on: Tensor | None) -> Tensor:
        coef = self.coef[g]
        if bits_on is None:
            return coef
        return coef.view(self.act_bits, -1).index_select(0, bits_on.to(coef.device)).reshape(-1)

    def read(self, sums: Tensor, g: int, mc: int, bits_on: Tensor | None = None) -> Tensor:
        """[Mc, 1, C']: the shift-added ADC readings of row group ``g``'s partial sums ``sums`` [Mc*T', S*C']
        (quantized in place) of the input bits ``bits_on`` (None: all ``T``); an input bit left out drove no
        row, so its planes are zero and read zero."""
        coef = self._coef(g, bits_on)
        planes = sums.view(mc, coef.shape[0], self.arr.n_cols)
        mode = self.modes[g]
        low = high = None
        if mode == DYNAMIC:  # the range of each plane: one pass over the planes, then over [M, P]
            low, high = torch.aminmax(planes, dim=2)
            low, high = low.amin(dim=0), high.amax(dim=0)
        scale, offset, weight = plane_parameters(mode, coef, self.n_levels, self.inv_step[g], low, high)
        if mode == DYNAMIC:
            planes.mul_(scale.view(1, -1, 1)).add_(offset.view(1, -1, 1)).round_()
        elif mode == FULL:
            planes.mul_(scale.view(1, -1, 1)).round_().clamp_(0, self.n_levels - 1)
        part = torch.zeros(mc, self.arr.n_cols, device=sums.device)
        for p in range(coef.shape[0]):  # plane by plane, in the order the fused readout adds them
            part.add_(planes[:, p] * weight[p])
        if mode == DYNAMIC:
            part.add_(plane_constant(coef, low))
        return part.unsqueeze(1)

    def read_fused(self, sums: FastSums, bits: Tensor, g: int, bits_on: list[int], out: Tensor) -> None:
        """Add to ``out`` [Mc, C'] what :meth:`read` returns for row group ``g`` driven by ``bits`` [rp, T, Mc]
        (int8, transposed) on the input bits ``bits_on``, the sums from ``sums``' integer GEMM."""
        coef = self._coef(g, None if len(bits_on) == self.act_bits else torch.tensor(bits_on))
        fused_read(sums, bits, bits_on, g, self.modes[g], coef, self.n_levels, self.inv_step[g], out)


def crossbar_conv2d(
    x_codes: Tensor,
    w_codes: Tensor,
    *,
    padding: int,
    act_bits: int,
    act_signed: bool,
    w_bits: int,
    cim: CIMSettings,
    layer: int = 0,
    stride: int = 1,
    groups: int = 1,
    method: str = "fast",
) -> Tensor:
    """A convolution of codes (``x_codes`` [N, C, H, W], ``w_codes`` [O, C / groups, k, k]) on the crossbar,
    any stride, dense or grouped (``groups`` = channels for a depthwise layer).

    The input is unrolled (im2col) so each output pixel is one crossbar read of ``C * k * k`` rows. A grouped
    layer is mapped block-diagonally, as the hardware model counts it (:mod:`cimpipe.families`): output channel
    ``j`` of group ``g`` stores its weights on the rows of group ``g``'s inputs and zeros elsewhere. It is
    simulated in chunks of ``m = rows_parallel / gcd(rows_parallel, rows per group)`` groups, so every chunk
    starts on a row-group boundary and holds whole row groups: the partial sums are those of the full
    block-diagonal array, with the dynamic ADC range taken over the chunk's columns. Each chunk draws its own
    variation. ``method`` as in :func:`crossbar_matmul`.
    """
    n, _, h, w = x_codes.shape
    o, c_per_group, k, _ = w_codes.shape
    cols = F.unfold(x_codes, kernel_size=k, padding=padding, stride=stride)  # [N, C*k*k, L]
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (w + 2 * padding - k) // stride + 1
    flat = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    kw = dict(act_bits=act_bits, act_signed=act_signed, w_bits=w_bits, cim=cim, method=method)
    if groups == 1:
        y = crossbar_matmul(flat, w_codes.reshape(o, -1), layer=layer, **kw)
    else:
        rows_g = c_per_group * k * k
        per_chunk = cim.rows_parallel // math.gcd(cim.rows_parallel, rows_g)
        blocks = w_codes.reshape(groups, o // groups, rows_g)
        parts = []
        for j, g0 in enumerate(range(0, groups, per_chunk)):
            g1 = min(groups, g0 + per_chunk)
            wmat = torch.block_diag(*blocks[g0:g1])  # [(g1-g0)*O/groups, (g1-g0)*rows_g]
            parts.append(crossbar_matmul(flat[:, g0 * rows_g: g1 * rows_g], wmat, layer=layer * 4096 + j, **kw))
        y = torch.cat(parts, dim=1)
    return y.view(n, h_out * w_out, o).transpose(1, 2).reshape(n, o, h_out, w_out)
