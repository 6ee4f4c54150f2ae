"""The column sums of a crossbar read, two ways: float GEMMs (the reference) and integer GEMMs (fast).

A read drives the rows of one row group with one bit of every input (0/1) and sums, on every column, the
conductances of the driven cells. In units of one level step a cell conducts ``level + g_off + deviation``,
so every partial sum splits into three terms:

* ``bits @ levels``: an integer product of 0/1 inputs and small cell levels, exact in an int8 x int8 -> int32
  GEMM (``torch._int_mm``, four times a float32 GEMM's rate on AVX-512 VNNI cores and on integer tensor cores);
* ``g_off * (number of driven rows)``: the off-state current, the same for every column;
* ``bits @ deviation``: the device variation, a correction of size ``sigma`` against the levels; the fast
  engine computes it in bfloat16 (float32 accumulation), whose rounding (``2^-9`` of the correction) is
  small against the variation it models.

Both engines form the sum as ``(integer part + off current) + variation``, in that order and in float32, so
at sigma 0 they return identical partial sums and identical layer outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cimpipe.nn.cim_array import CrossbarArray


def driven_bit_planes(xc: Tensor, act_bits: int, n_groups: int, rp: int) -> tuple[Tensor, Tensor]:
    """The input bits of one read batch, row group by row group.

    ``xc`` [Mc, G*rp] unsigned input codes (uint8); returns ``bits`` int8 [G, Mc, T, rp] (0/1, least significant
    bit first) and ``active`` bool [G, T] (on the CPU): whether input bit ``t`` drives any row of group ``g``
    in the batch. A bit that drives nothing leaves every partial sum of its planes at zero.
    """
    mc = xc.shape[0]
    t_idx = torch.arange(act_bits, device=xc.device, dtype=torch.uint8)
    bits = ((xc.unsqueeze(1) >> t_idx.view(1, -1, 1)) & 1).to(torch.int8)  # [Mc, T, R]
    bits = bits.view(mc, act_bits, n_groups, rp).permute(2, 0, 1, 3).contiguous()
    return bits, bits.amax(dim=(1, 3)).bool().cpu()


class ReferenceSums:
    """Partial sums by float32 GEMMs of the input bits against the cells' levels and deviations."""

    def __init__(self, arr: CrossbarArray) -> None:
        self.arr = arr
        self.levels = arr.levels.float()

    def __call__(self, b: Tensor, g: int) -> Tensor:
        """float32 [N, S*C'] column sums of row group ``g`` driven by the 0/1 rows of ``b`` [N, rp]."""
        arr = self.arr
        b = b.float()
        sums = b @ self.levels[g]
        if arr.g_off:
            sums.add_(b.sum(1, keepdim=True) * arr.g_off)
        if arr.deviation is not None:
            sums.add_(b @ arr.deviation[g])
        return sums


class FastSums:
    """Partial sums by one int8 GEMM for the levels (and the driven-row count) and a bfloat16 GEMM for the
    variation."""

    def __init__(self, arr: CrossbarArray) -> None:
        self.arr = arr
        self.integer = arr.cell_max <= 127  # levels fit int8 (cells of up to 7 bits)
        levels = arr.levels
        if arr.g_off:  # one more column of ones counts the driven rows in the same GEMM
            levels = torch.cat([levels, torch.ones_like(levels[:, :, :1])], dim=2)
        self.levels = levels.to(torch.int8) if self.integer else levels.float()
        self.low = _low_precision(arr.levels.device)
        self.deviation = None if arr.deviation is None else arr.deviation.to(self.low)

    def __call__(self, b: Tensor, g: int) -> Tensor:
        """float32 [N, S*C'] column sums of row group ``g`` driven by the 0/1 rows of ``b`` [N, rp] (int8)."""
        arr = self.arr
        prod = _int_matmul(b, self.levels[g]) if self.integer else b.float() @ self.levels[g]
        if arr.g_off:  # int32 + float32 -> float32 in one pass, the same values as the reference's float adds
            sums = torch.add(prod[:, :-1], prod[:, -1:] * arr.g_off)
        else:
            sums = prod.float()
        if self.deviation is not None:
            sums.add_(b.to(self.low) @ self.deviation[g])
        return sums


def _low_precision(device: torch.device) -> torch.dtype:
    """bfloat16 where the device multiplies it natively (CUDA, CPUs with AVX-512 BF16 or AMX), else float32."""
    if device.type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


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
