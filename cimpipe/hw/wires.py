"""Delays of NeuroSim V1.4's repeated buses: the H-trees (chip and tile level) and the X-Y bus.

Written from NeuroSim V1.4's formulas (not its code):

* wire resistance per length (Param.cpp unitLengthWireResistance, HTree.cpp GetUnitLengthRes): ``rho / (w^2 AR)``
  with the resistivity and aspect ratio of the wire width's class; an H-tree stage of ``>= 1e4`` feature sizes
  runs on 2x wide wire, ``>= 1e5`` F on 4x wide wire (NeuroSim's barrier correction mixes nm and m and so
  vanishes; so it does here). Wire capacitance 0.2 fF/um.
* repeater sizing (HTree.cpp / XYBus.cpp Initialize): ``floor(sqrt(R0 c / (C0 r)))`` minimum inverters every
  ``sqrt(2 R0 (C_in + C_out) / (r c))``, then halved as an integer (spacing x0.9) until the delay per length
  exceeds the optimum by the bus delay tolerance (0.1), at least one; ``R0`` the mean of the NMOS and PMOS
  on-resistances.
* delay per length ``0.7 (R (C_in + C_out + c d) + 0.54 r c d^2 + r d C_in) / d``.
* H-tree root-to-leaf path (HTree.cpp CalculateLatency): ``N = ceil(log2(max(rows, cols)))`` vertical and
  horizontal stages of ``unit * 2^N`` halved before each stage, then the main bus, ``2^(N-1)`` units wide on
  the last stage's wire; X-Y bus (XYBus.cpp): horizontal and vertical runs on minimum wire.

Device figures from :mod:`cimpipe.hw.transistors`. Units: um and ns at the interface, SI inside.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import torch

from cimpipe.hw import transistors as TR

Tensor = torch.Tensor

WIRE_CAP_F_PER_M = 0.2e-15 / 1e-6
BUS_DELAY_TOLERANCE = 0.1  # Param.cpp globalBusDelayTolerance and localBusDelayTolerance
# Param.cpp wireWidth per node (nm)
WIRE_WIDTH_NM = {130: 175.0, 90: 110.0, 65: 105.0, 45: 80.0, 32: 56.0, 22: 40.0, 14: 32.0, 10: 22.0, 7: 20.0,
                 5: 15.0, 3: 12.0, 2: 10.0, 1: 8.0}
# wire classes, widest first: (lower bound of the width in nm, aspect ratio, resistivity ohm m)
_WIRE_CLASSES = ((175, 1.6, 2.01e-8), (110, 1.6, 2.20e-8), (105, 1.7, 2.21e-8), (80, 1.7, 2.37e-8),
                 (56, 1.8, 2.63e-8), (40, 1.9, 2.97e-8), (32, 2.0, 3.25e-8), (22, 2.0, 3.95e-8),
                 (20, 2.0, 4.17e-8), (15, 2.0, 4.98e-8), (12, 2.0, 5.8e-8), (10, 2.0, 6.61e-8), (8, 3.0, 7.87e-8))


def wire_res_ohm_per_m(width_nm: float) -> float:
    for lo, ar, rho in _WIRE_CLASSES:
        if width_nm >= lo:
            return rho / ((width_nm * 1e-9) ** 2 * ar)
    raise ValueError(f"wire width {width_nm} nm is below NeuroSim's table")


def size_repeater(inv: Callable[[float], tuple[float, float, float]], r_w: float, c_w: float, tolerance: float,
                  integer: bool = False, min_size: float = 1e-6) -> tuple[float, float]:
    """(size in minimum inverters, spacing) of a bus's repeaters as NeuroSim sizes them (HTree.cpp / XYBus.cpp
    Initialize): the delay-optimal inverter ``floor(sqrt(R0 c / (C0 r)))`` at spacing ``sqrt(2 R0 (C0 + Cd0) /
    (r c))``, then halved (the spacing times 0.9) while the delay per length stays within ``1 + tolerance`` of
    the optimum; a zero tolerance keeps the optimum. ``inv(size)`` gives an inverter's (C_in, C_out, R_on) in
    the caller's units, ``r_w`` and ``c_w`` the wire's per length. ``integer``: the size is an int, as in
    NeuroSim's delay code, so halving truncates; otherwise halving stops below ``min_size``. The caller models
    the inverter: NeuroSim sizes its buses' area, energy and delay with different transistor models."""
    def per_length(size: float, dist: float) -> float:
        ci, co, r = inv(size)
        return 0.7 * (r * (ci + co + c_w * dist) + 0.54 * r_w * dist * c_w * dist + r_w * dist * ci) / dist

    c0_in, c0_out, r0 = inv(1.0)
    size: float = math.floor(math.sqrt(r0 * c_w / c0_in / r_w))
    dist = math.sqrt(2 * r0 * (c0_out + c0_in) / (r_w * c_w))
    target = per_length(max(size, 1) if integer else size, dist) * (1 + tolerance)
    d = 0.0
    while tolerance and d < target and (integer or size > min_size):
        size = size // 2 if integer else size / 2
        dist *= 0.9
        d = per_length(size, dist) if size > 0 else math.inf
    return size, dist


@lru_cache(maxsize=None)
def repeater(nm: int) -> tuple[float, float, float, float]:
    """(R_on, C_in, C_out, spacing m) of the repeaters NeuroSim sizes for a node's minimum-width bus wire."""
    f = TR.node(nm).f_um
    pn = TR.pn_ratio(nm)
    r_w, c_w = wire_res_ohm_per_m(WIRE_WIDTH_NM[nm]), WIRE_CAP_F_PER_M

    def inv(size: float) -> tuple[float, float, float]:
        wn, wp = TR.MIN_NMOS_F * f * size, pn * TR.MIN_NMOS_F * f * size
        c_in, c_out = TR.inv_caps_f(nm, wn, wp)
        return float(c_in), float(c_out), 0.5 * (float(TR.on_res_ohm(nm, wn)) + float(TR.on_res_ohm(nm, wp, pmos=True)))

    size, dist = size_repeater(inv, r_w, c_w, BUS_DELAY_TOLERANCE, integer=True)  # an int in NeuroSim's delay code
    ci, co, r = inv(float(max(1, size)))
    return r, ci, co, dist


@lru_cache(maxsize=None)
def _unit_delay(nm: int, width_factor: float) -> float:
    r, ci, co, d = repeater(nm)
    r_w, c_w = wire_res_ohm_per_m(WIRE_WIDTH_NM[nm] * width_factor), WIRE_CAP_F_PER_M
    return 0.7 * (r * (ci + co + c_w * d) + 0.54 * r_w * d * c_w * d + r_w * d * ci) / d


def unit_delay_s_per_m(nm: int, width_factor: Tensor | float = 1.0) -> Tensor:
    """Delay per metre of repeated bus wire ``width_factor`` (1, 2 or 4) times the minimum width."""
    if not isinstance(width_factor, Tensor):
        return torch.tensor(_unit_delay(nm, float(width_factor)), dtype=torch.float64)
    u1, u2, u4 = (_unit_delay(nm, k) for k in (1.0, 2.0, 4.0))
    return torch.where(width_factor >= 4.0, u4, torch.where(width_factor >= 2.0, u2, u1))


def _stage_delay_s(nm: int, length_m: Tensor) -> Tensor:
    """One H-tree stage: its wire class from its length in feature sizes (HTree.cpp GetUnitLengthRes)."""
    per_f = length_m / (TR.node(nm).f_um * 1e-6)
    u1, u2, u4 = (_unit_delay(nm, k) for k in (1.0, 2.0, 4.0))
    return length_m * torch.where(per_f >= 1e5, u4, torch.where(per_f >= 1e4, u2, u1))


def htree_delay_ns(nm: int, rows: Tensor, cols: Tensor, unit_h_um: Tensor, unit_w_um: Tensor) -> Tensor:
    """Root-to-leaf delay of NeuroSim's H-tree over ``rows`` x ``cols`` units of ``unit_h`` x ``unit_w`` ([D])."""
    n = torch.ceil(torch.log2(torch.clamp(torch.maximum(rows, cols), min=1.0)) - 1e-9)
    n, h, w = torch.broadcast_tensors(n, unit_h_um * 1e-6, unit_w_um * 1e-6)
    top = int(n.max().item()) if n.numel() else 0
    # stage k (k = N-1 ... 0) runs 2^k units vertically and horizontally; stages k >= N are absent
    scale = torch.pow(2.0, torch.arange(max(top, 1), dtype=h.dtype))
    on = torch.arange(max(top, 1), dtype=h.dtype) < n.unsqueeze(-1)
    stages = _stage_delay_s(nm, h.unsqueeze(-1) * scale) + _stage_delay_s(nm, w.unsqueeze(-1) * scale)
    total = torch.where(on, stages, 0.0).sum(dim=-1)
    # the main bus, 2^(N-1) units wide, on the last horizontal stage's (one unit long) wire class
    main = torch.where(n >= 1, torch.pow(2.0, n - 1) * _stage_delay_s(nm, w), 0.0)
    return (total + main) * 1e9


def xy_bus_delay_ns(nm: int, length_um: Tensor, span_um: Tensor) -> Tensor:
    """One X-Y bus run of ``length_um`` on the wire class of the whole bus's ``span_um`` (XYBus.cpp
    CalculateArea picks it, CalculateLatency uses it)."""
    per_f = span_um / TR.node(nm).f_um
    u1, u2, u4 = (_unit_delay(nm, k) for k in (1.0, 2.0, 4.0))
    return length_um * 1e-6 * torch.where(per_f >= 1e5, u4, torch.where(per_f >= 1e4, u2, u1)) * 1e9
