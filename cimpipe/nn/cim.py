"""Crossbar simulation of a quantized layer's integer dot products.

How one weight layer runs on a crossbar (the scheme of NeuroSim's inference wrapper, written here for
batched tensors):

* The layer's unrolled weight matrix (im2col for a convolution: ``rows = c_in * k * k``) is split into
  groups of ``rows_parallel`` rows; each group is one partial-parallel read.
* Sign (``sign_encoding``), weights being symmetric signed codes ``|q| <= 2^(w_bits-1) - 1``:
  - "differential" (the default, used by the supernet): a positive and a negative array; ``max(q, 0)``
    goes to the first, ``max(-q, 0)`` to the second, each magnitude bit-sliced over
    ``ceil((w_bits - 1) / cell_bits)`` cells of ``cell_bits`` bits; the two arrays' shift-added ADC
    readings are subtracted. Both arrays see the same inputs, so the current of "off" cells cancels.
  - "offset" (NeuroSim's wrapper): ``u = q + 2^(w_bits-1)`` stored in ``ceil(w_bits / cell_bits)`` cells,
    and per row group one reference column storing ``2^(w_bits-1)`` whose reading is subtracted (removing
    the offset and the off-cell current). Every cell then carries a mid-range conductance, so variation
    and a coarse ADC hurt far more than with differential arrays.
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

The computation is vectorised: per row group, one matmul of the input bit-planes against the sliced
conductances gives every (input bit, weight slice, column) partial sum, quantized elementwise in place, then
one batched matmul does the shift-add, each plane's dynamic-ADC step folded into its coefficient and the
planes' offsets added once, rather than applied to every partial sum. Rows of the batch are processed in read
batches (chunks bounding memory for a full-range ADC), small enough that a row group's partial sums stay in a
core's cache between the matmul, the ADC and the shift-add.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cimpipe.space import CIMSettings

SIGN_ENCODINGS = ("differential", "offset")
_CHUNK_ELEMENTS = 8_000_000  # partial sums of one row group held at once (float32: ~32 MB)
READ_BATCH = 256
"""Input vectors whose partial sums set one dynamic-range ADC calibration (four 8x8 images of a convolution)."""


def slices_per_weight(w_bits: int, cell_bits: int, sign_encoding: str = "differential") -> int:
    """Cells per weight in one array: ``ceil((w_bits-1)/cell_bits)`` magnitude slices for differential
    arrays (two arrays, so twice that many cells per weight), ``ceil(w_bits/cell_bits)`` for offset encoding."""
    if sign_encoding == "differential":
        return math.ceil((w_bits - 1) / cell_bits)
    return math.ceil(w_bits / cell_bits)


def _variation(shape: tuple[int, ...], sigma: float, seed: int, layer: int, device: torch.device) -> Tensor:
    gen = torch.Generator(device="cpu")
    gen.manual_seed((int(seed) * 1_000_003 + int(layer) * 7_919) % (2**63 - 1))
    return (1.0 + sigma * torch.randn(shape, generator=gen)).clamp_min(0.0).to(device)


def crossbar_matmul(
    x_codes: Tensor,
    w_codes: Tensor,
    *,
    act_bits: int,
    act_signed: bool,
    w_bits: int,
    cim: CIMSettings,
    layer: int = 0,
    sign_encoding: str = "differential",
) -> Tensor:
    """Integer dot products ``x_codes @ w_codes.T`` as the crossbar computes them.

    ``x_codes`` [M, R] activation codes, ``w_codes`` [C, R] signed weight codes (both integer-valued
    float tensors); returns [M, C] in code units (multiply by the two steps for real values). ``layer``
    selects the variation draw; ``sign_encoding`` "differential" or "offset" (see the module notes).
    """
    if sign_encoding not in SIGN_ENCODINGS:
        raise ValueError(f"sign_encoding must be one of {', '.join(SIGN_ENCODINGS)}, got {sign_encoding!r}")
    device = x_codes.device
    x_codes = x_codes.float()
    w_codes = w_codes.float()
    m, rows = x_codes.shape
    c_out = w_codes.shape[0]
    cb = cim.cell_bits
    cell_max = 2**cb - 1
    g_off = 0.0 if math.isinf(cim.on_off_ratio) else cell_max / (cim.on_off_ratio - 1.0)
    rp = min(cim.rows_parallel, rows)
    n_groups = math.ceil(rows / rp)
    padded = n_groups * rp

    # stored codes [R, C'] and how the columns combine: out = plus - minus
    wt = w_codes.t().round().to(torch.int64)  # [R, C]
    if sign_encoding == "differential":
        n_slices = slices_per_weight(w_bits, cb, sign_encoding)
        stored = torch.cat([wt.clamp_min(0), (-wt).clamp_min(0)], dim=1)  # positive array | negative array
        n_cols = 2 * c_out
    else:
        n_slices = slices_per_weight(w_bits, cb, sign_encoding)
        offset = 2 ** (w_bits - 1)
        stored = torch.cat([wt + offset, torch.full((rows, 1), offset, dtype=torch.int64, device=device)], dim=1)
        n_cols = c_out + 1
    shifts = torch.arange(n_slices, device=device) * cb
    levels = (stored.unsqueeze(1) >> shifts.view(1, -1, 1)) & cell_max  # [R, S, C']
    cond = levels.float() + g_off
    if cim.sigma > 0:
        cond = cond * _variation(tuple(cond.shape), cim.sigma, cim.seed, layer, device)
    cond = F.pad(cond, (0, 0, 0, 0, 0, padded - rows))  # absent rows conduct nothing
    cond = cond.reshape(n_groups, rp, n_slices * n_cols)

    # ADC step per row group, in level units
    n_rows = torch.full((n_groups,), float(rp), device=device)
    n_rows[-1] = rows - (n_groups - 1) * rp
    full_scale = n_rows * (cell_max + g_off)
    n_levels = 2**cim.adc_bits
    step = torch.where(full_scale <= n_levels - 1, torch.ones_like(full_scale), full_scale / (n_levels - 1))
    # an ADC that resolves every level of integer column sums changes nothing: skip its arithmetic
    lossless = cim.sigma == 0 and g_off == 0 and bool((step == 1).all())
    dynamic = cim.adc_range == "dynamic"
    # a dynamic ADC over integer column sums that can span no more levels than it has reads them exactly
    lossless_dynamic = ((full_scale <= n_levels - 1) & (cim.sigma == 0) & (g_off == 0)).tolist()
    if dynamic:  # the step is set per read from the data's range below; keep it out of the coefficients
        step = torch.ones_like(step)

    # shift-add coefficients [G, T, S], the ADC step of each group folded in
    t_idx = torch.arange(act_bits, device=device, dtype=torch.int32)
    bit_weight = 2.0 ** t_idx.float()
    if act_signed:
        bit_weight[-1] = -bit_weight[-1]
    coef = step.view(-1, 1, 1) * bit_weight.view(1, -1, 1) * (2.0 ** shifts.float()).view(1, 1, -1)
    coef = coef.reshape(n_groups, act_bits * n_slices)
    inv_step = (1.0 / step).tolist()

    xi = x_codes.round()
    if act_signed:
        xi = torch.remainder(xi, 2**act_bits)  # two's complement
    xi = F.pad(xi.to(torch.uint8), (0, padded - rows))  # absent rows get no input
    t_idx = t_idx.to(torch.uint8)
    out = torch.zeros(m, 1, n_cols, device=device)
    block = READ_BATCH if dynamic else max(1, _CHUNK_ELEMENTS // (act_bits * n_slices * n_cols))
    for lo in range(0, m, block):
        xc = xi[lo : lo + block]
        mc = xc.shape[0]
        bits = ((xc.unsqueeze(1) >> t_idx.view(1, -1, 1)) & 1).float().view(mc * act_bits, padded)  # [Mc*T, R]
        acc = out[lo : lo + mc]
        for g in range(n_groups):
            # every (input bit, slice, column) partial sum of this row group
            sums = bits[:, g * rp : (g + 1) * rp] @ cond[g]  # [Mc*T, S*C']
            planes = sums.view(mc, act_bits * n_slices, n_cols)
            if dynamic and not lossless_dynamic[g]:
                # codes read back as code * step + low per (input bit, slice): the steps fold into the
                # shift-add coefficients, the lows into one constant
                step_ts, low_ts = _quantize_dynamic(planes, n_levels)
                part = torch.matmul((coef[g] * step_ts).view(1, 1, -1), planes)
                part.add_(coef[g] @ low_ts)  # a 0-d tensor: no host round trip per row group
            else:
                if not dynamic and not lossless:
                    sums.mul_(inv_step[g]).round_().clamp_(0, n_levels - 1)  # ADC codes
                # shift-add over input bits and slices (a fixed ADC's step folded into the coefficients)
                part = torch.matmul(coef[g].view(1, 1, -1), planes)
            acc += part
    out = out.view(m, n_cols)
    return out[:, :c_out] - out[:, c_out:]  # negative array, or the reference column


def _quantize_dynamic(planes: Tensor, n_levels: int) -> tuple[Tensor, Tensor]:
    """Replace the partial sums ``planes`` [M, P, C] in place by the codes of an ``n_levels`` ADC spread over
    the min..max of each of the ``P`` (input bit, weight slice) planes; returns ``(step, low)`` [P]: a code
    ``q`` of plane ``p`` reads ``q * step[p] + low[p]``.

    As NeuroSim's inference wrapper does (``LinearQuantizeOut`` applied to each partial-sum tensor of one
    input bit, one weight slice and one subarray, across the batch and the columns,
    ``Inference_pytorch/modules/quantization_cpu_np_infer.py`` of DNN_NeuroSim V1.3): the ADC's references
    are calibrated to the range the layer's data actually reaches in that read, ``step = (max - min) /
    (n_levels - 1)``, whatever a cell's level step is. A sparse plane (an input's most significant bit, a
    weight's high slice) keeps its own fine step rather than the range of the densest plane. The references
    are not aligned to the cells' levels, so an ADC finer than a level does not round an analog error
    (variation, off-state current) back onto the integer grid: the error passes through, smoothly in sigma and
    on/off ratio. (Ideal integer sums that an ADC can resolve level by level are read exactly by the caller
    without quantizing.)
    """
    low = planes.amin(dim=(0, 2))
    step = (planes.amax(dim=(0, 2)) - low) / (n_levels - 1)
    step = torch.where(step > 0, step, torch.ones_like(step))  # a constant plane: its one code reads it exactly
    # (s - low) / step lies in [0, n_levels - 1] by construction, so the rounded code needs no clamp
    planes.sub_(low.view(1, -1, 1)).div_(step.view(1, -1, 1)).round_()
    return step, low


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
) -> Tensor:
    """A convolution of codes (``x_codes`` [N, C, H, W], ``w_codes`` [O, C / groups, k, k]) on the crossbar,
    any stride, dense or grouped (``groups`` = channels for a depthwise layer).

    The input is unrolled (im2col) so each output pixel is one crossbar read of ``C * k * k`` rows. A grouped
    layer is mapped block-diagonally, as the hardware model counts it (:mod:`cimpipe.families`): output channel
    ``j`` of group ``g`` stores its weights on the rows of group ``g``'s inputs and zeros elsewhere. It is
    simulated in chunks of ``m = rows_parallel / gcd(rows_parallel, rows per group)`` groups, so every chunk
    starts on a row-group boundary and holds whole row groups: the partial sums are those of the full
    block-diagonal array, with the dynamic ADC range taken over the chunk's columns. Each chunk draws its own
    variation.
    """
    n, _, h, w = x_codes.shape
    o, c_per_group, k, _ = w_codes.shape
    cols = F.unfold(x_codes, kernel_size=k, padding=padding, stride=stride)  # [N, C*k*k, L]
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (w + 2 * padding - k) // stride + 1
    flat = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    kw = dict(act_bits=act_bits, act_signed=act_signed, w_bits=w_bits, cim=cim)
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
