"""The column sums of a crossbar read, two ways: float GEMMs (the reference) and integer GEMMs (fast).

A read drives the rows of one row group with one bit of every input (0/1) and sums, on every column, the
conductances of the driven cells. In units of one level step a cell conducts ``level + g_off + deviation``,
so every partial sum splits into three terms:

* ``bits @ levels``: an integer product of 0/1 inputs and small cell levels, exact in an int8 x int8 -> int32
  GEMM (``torch._int_mm``, four times a float32 GEMM's rate on AVX-512 VNNI cores and on integer tensor cores);
* ``g_off * (number of driven rows)``: the off-state current, the same for every column;
* ``bits @ deviation``: the device variation, a correction of size ``sigma`` against the levels.

The reference forms the sum as ``(integer part + off current) + variation`` in float32; the fast engine does
the same without variation, so at sigma 0 the two return identical partial sums and identical layer outputs.
With variation the fast engine stores each cell's whole conductance as a fixed-point number of two int8
digits in the same GEMM's operand (:class:`FastSums`), and the two differ by that rounding (at most 1/64000
of a column's largest cell).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from cimpipe.nn.cim_array import CrossbarArray


def driven_bit_planes(xc: Tensor, act_bits: int, n_groups: int, rp: int,
                      transposed: bool = False) -> tuple[Tensor, Tensor]:
    """The input bits of one read batch, row group by row group.

    ``xc`` [Mc, G*rp] unsigned input codes (uint8); returns ``bits`` int8 [G, Mc, T, rp] (0/1, least significant
    bit first; [G, rp, T, Mc] with ``transposed``, the operand of :meth:`FastSums.parts`) and ``active`` bool
    [G, T] (on the CPU): whether input bit ``t`` drives any row of group ``g`` in the batch. A bit that drives
    nothing leaves every partial sum of its planes at zero.
    """
    mc = xc.shape[0]
    t_idx = torch.arange(act_bits, device=xc.device, dtype=torch.uint8)
    bits = ((xc.unsqueeze(1) >> t_idx.view(1, -1, 1)) & 1).to(torch.int8)  # [Mc, T, R]
    bits = bits.view(mc, act_bits, n_groups, rp).permute(*((2, 3, 1, 0) if transposed else (2, 0, 1, 3)))
    bits = bits.contiguous()
    return bits, bits.amax(dim=(1, 3)).bool().cpu()


class ReferenceSums:
    """Partial sums by float32 GEMMs of the input bits against the cells' levels and deviations."""

    integer = False

    def __init__(self, arr: CrossbarArray) -> None:
        self.arr = arr
        self.levels = arr.levels.float()
        self.deviation = arr.deviation

    def __call__(self, b: Tensor, g: int) -> Tensor:
        """float32 [N, S*C'] column sums of row group ``g`` driven by the 0/1 rows of ``b`` [N, rp]."""
        arr = self.arr
        b = b.float()
        sums = b @ self.levels[g]
        if arr.g_off:
            sums.add_(b.sum(1, keepdim=True) * arr.g_off)
        if self.deviation is not None:
            sums.add_(b @ self.deviation[g])
        return sums


VARIATION_STEPS = 32000
"""The resolution of a cell's conductance under variation: steps of 1/32000 of its column's largest (two int8
digits, base 256)."""

LEVELS, LEVELS_AND_COUNT, CONDUCTANCE = 0, 1, 2
"""What a slice's block of the fast engine's stored matrix holds (:class:`FastSums`)."""


class FastSums:
    """Partial sums by one int8 GEMM per read, the operand laid out as one block of columns per weight slice.

    A block holds, by ``kind``:

    * ``LEVELS``: the cells' levels (ideal devices that do not conduct when off): exact integer sums;
    * ``LEVELS_AND_COUNT``: the levels and a column of ones, the count of driven rows that the off current
      ``g_off`` multiplies: ``levels_sum + count * g_off`` in float32, as the reference adds them;
    * ``CONDUCTANCE`` (device variation): each cell's whole conductance ``(level + g_off) * factor`` as a
      fixed-point number of two int8 digits (:func:`conductance_digits`), ``scale[c] * (256 * high + low)``
      with ``scale[c]`` its column's largest conductance over 32000; a column's sum is ``scale[c] * (256 * H
      + L)`` from the two int32 sums (exact integers), rounded once to float32. Its rounding (1/64000 of a
      column's largest cell at most) moves a layer's outputs by 0.1-0.3 % of what the variation itself
      changes at sigma 0.05 (``python bench/cim_agreement.py``).

    Any range of slices is one (strided) GEMM operand. Cells of more than 7 bits (levels beyond int8) take
    float32 GEMMs of the levels and the deviations, as the reference."""

    def __init__(self, arr: CrossbarArray) -> None:
        self.arr = arr
        self.integer = arr.cell_max <= 127  # levels fit int8 (cells of up to 7 bits)
        g, rp, s, c = arr.n_groups, arr.rp, arr.n_slices, arr.n_cols
        self.has_var = arr.factor is not None
        self.var_scale = None
        levels = arr.levels.view(g, rp, s, c)
        self.kind = LEVELS_AND_COUNT if arr.g_off else LEVELS
        if not self.integer:
            blocks = [levels.float()] + ([arr.deviation.view(g, rp, s, c)] if self.has_var else [])
        elif self.has_var:
            self.kind = CONDUCTANCE
            high = torch.empty(g, rp, s, c, dtype=torch.int8)  # built on the CPU, then moved
            low = torch.empty_like(high)
            scale = torch.empty(g, s * c)
            conductance_digits(arr.levels.cpu().numpy(), arr.factor.cpu().numpy(), arr.g_off, VARIATION_STEPS,
                               high.view(g, rp, s * c).numpy(), low.view(g, rp, s * c).numpy(), scale.numpy())
            device = arr.levels.device
            blocks = [high.to(device), low.to(device)]
            self.var_scale = scale.to(device)
        else:
            blocks = [levels.to(torch.int8)]
        if self.kind == LEVELS_AND_COUNT:  # one more column of ones per slice counts the driven rows
            blocks.append(torch.ones_like(blocks[0][..., :1]))
        stored = torch.cat(blocks, dim=3)  # [G, rp, S, block]
        self.block = stored.shape[3]
        # kept transposed, [G, S*block, rp]: the compiled readout reads planes along the vectors
        self.stored_t = stored.view(g, rp, s * self.block).transpose(1, 2).contiguous()
        self.levels = self.stored_t.transpose(1, 2)  # [G, rp, S*block], a view

    def parts(self, bits_t: Tensor, g: int, s0: int, s1: int) -> Tensor:
        """The int32 product [(s1 - s0) * block, N] of the stored blocks of slices ``s0 .. s1 - 1`` of row group
        ``g`` (the class notes give their columns, here rows) with the 0/1 input columns ``bits_t`` [rp, N]
        (int8): the transposed partial sums, for a readout that forms them itself. Integer levels only."""
        return _int_matmul(self.stored_t[g][s0 * self.block : s1 * self.block], bits_t)

    def __call__(self, b: Tensor, g: int) -> Tensor:
        """float32 [N, S*C'] column sums of row group ``g`` driven by the 0/1 rows of ``b`` [N, rp] (int8)."""
        arr, c = self.arr, self.arr.n_cols
        prod = _int_matmul(b, self.levels[g]) if self.integer else b.float() @ self.levels[g]
        prod = prod.view(b.shape[0], arr.n_slices, self.block)
        if self.integer and self.has_var:
            sums = (prod[..., :c] * 256 + prod[..., c : 2 * c]).float() * self.var_scale[g].view(arr.n_slices, c)
        else:
            if arr.g_off:  # int32 + float32 -> float32 in one pass, the same values as the reference's float adds
                sums = torch.add(prod[..., :c], prod[..., -1:] * arr.g_off)
            else:
                sums = prod[..., :c].float()
            if self.has_var:
                sums.add_(prod[..., c : 2 * c])
        return sums.reshape(b.shape[0], arr.n_slices * c)


@numba.njit(cache=True, nogil=True)
def conductance_digits(levels, factor, g_off, steps, high, low, scale):  # pragma: no cover - compiled
    """Each cell's conductance ``(level + g_off) * factor`` ([G, rp, W] arrays) as ``scale[g, w] * (256 *
    high + low)``: ``scale`` the column's largest conductance over ``steps`` (at most 32512, so that the
    high digit fits int8), ``high`` and ``low`` int8 (low in -128 .. 127)."""
    n_g, rp, width = levels.shape
    g32 = np.float32(g_off)
    for g in range(n_g):
        top = np.zeros(width, np.float32)
        for r in range(rp):
            lv, fr = levels[g, r], factor[g, r]
            for w in range(width):
                top[w] = max(top[w], (np.float32(lv[w]) + g32) * fr[w])
        sc = scale[g]
        for w in range(width):
            sc[w] = top[w] / np.float32(steps) if top[w] > 0 else np.float32(1.0)
        for r in range(rp):
            lv, fr, hi, lo = levels[g, r], factor[g, r], high[g, r], low[g, r]
            for w in range(width):
                q = np.int32(np.rint((np.float32(lv[w]) + g32) * fr[w] / sc[w]))
                h = (q + 128) >> 8
                hi[w] = h
                lo[w] = q - 256 * h


def _int_matmul(a: Tensor, b: Tensor) -> Tensor:
    """int32 ``a @ b`` of int8 matrices; on CUDA padded to the shapes ``torch._int_mm`` accepts there
    (rows above 16, every dimension a multiple of 8)."""
    if a.device.type != "cuda":
        return torch._int_mm(a, b)
    m, k = a.shape
    n = b.shape[1]
    pm, pk, pn = max(32, -(-m // 8) * 8), -(-k // 8) * 8, -(-n // 8) * 8
    a_p = torch.nn.functional.pad(a, (0, pk - k, 0, pm - m))
    b_p = torch.nn.functional.pad(b, (0, pn - n, 0, pk - k))
    return torch._int_mm(a_p, b_p)[:m, :n]
