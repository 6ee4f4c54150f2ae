"""A layer's weights programmed into crossbar cells: stored levels per row group and their device variation.

The storage scheme (sign encoding, bit slicing, off-state conductance, variation draw) is described in
:mod:`cimpipe.nn.cim`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from cimpipe.design import SIGN_ENCODINGS, CIMSettings, slices_per_weight

__all__ = ["SIGN_ENCODINGS", "CrossbarArray", "program_array", "slices_per_weight"]


def _variation(shape: tuple[int, ...], sigma: float, seed: int, layer: int, device: torch.device) -> Tensor:
    gen = torch.Generator(device="cpu")
    gen.manual_seed((int(seed) * 1_000_003 + int(layer) * 7_919) % (2**63 - 1))
    return (1.0 + sigma * torch.randn(shape, generator=gen)).clamp_min(0.0).to(device)


@dataclass(frozen=True)
class CrossbarArray:
    """One layer's weights programmed into crossbar cells, split into row groups of ``rp`` rows.

    ``levels`` int16 [G, rp, S*C'] stored cell levels (slice ``s`` of column ``c`` at ``s*C' + c``);
    ``factor`` float32 [G, rp, S*C'] each cell's conductance relative to its ideal ``level + g_off`` (the
    device variation's draw; None at sigma 0); absent rows of the last group hold level 0 and conduct nothing.
    """

    levels: Tensor
    factor: Tensor | None
    g_off: float
    rows: int
    rp: int
    n_slices: int
    n_cols: int
    c_out: int
    cell_max: int

    @property
    def n_groups(self) -> int:
        return self.levels.shape[0]

    @property
    def padded(self) -> int:
        return self.n_groups * self.rp

    @property
    def deviation(self) -> Tensor | None:
        """float32 [G, rp, S*C']: each cell's conductance minus its ideal ``level + g_off`` (None at sigma 0)."""
        if self.factor is None:
            return None
        cond = self.levels.float() + self.g_off
        return cond * self.factor - cond


def program_array(w_codes: Tensor, *, w_bits: int, cim: CIMSettings, layer: int, sign_encoding: str) -> CrossbarArray:
    """Store signed weight codes ``w_codes`` [C, R] in cells (see the module notes) and draw their variation."""
    if sign_encoding not in SIGN_ENCODINGS:
        raise ValueError(f"sign_encoding must be one of {', '.join(SIGN_ENCODINGS)}, got {sign_encoding!r}")
    device = w_codes.device
    rows, c_out = w_codes.shape[1], w_codes.shape[0]
    cb = cim.cell_bits
    cell_max = 2**cb - 1
    g_off = 0.0 if math.isinf(cim.on_off_ratio) else cell_max / (cim.on_off_ratio - 1.0)
    rp = min(cim.rows_parallel, rows)
    n_groups = math.ceil(rows / rp)
    wt = w_codes.t().round().to(torch.int16)  # [R, C]; |codes| < 2^15
    n_slices = slices_per_weight(w_bits, cb, sign_encoding)
    if sign_encoding == "differential":
        stored = torch.cat([wt.clamp_min(0), (-wt).clamp_min(0)], dim=1)  # positive array | negative array
    else:  # the offset and the off-state current are removed digitally (see the module notes of cimpipe.nn.cim)
        stored = wt + 2 ** (w_bits - 1)
    n_cols = stored.shape[1]
    pad = n_groups * rp - rows
    stored = F.pad(stored, (0, 0, 0, pad))  # absent rows: level 0
    levels = torch.empty(n_groups * rp, n_slices, n_cols, dtype=torch.int16, device=device)
    for s in range(n_slices):
        torch.bitwise_and(stored >> (s * cb), cell_max, out=levels[:, s])
    factor = None
    if cim.sigma > 0:
        factor = _variation((rows, n_slices, n_cols), cim.sigma, cim.seed, layer, device)
        factor = F.pad(factor, (0, 0, 0, 0, 0, pad), value=1.0).reshape(n_groups, rp, n_slices * n_cols)
    return CrossbarArray(levels.view(n_groups, rp, n_slices * n_cols), factor, g_off, rows, rp, n_slices, n_cols,
                         c_out, cell_max)
