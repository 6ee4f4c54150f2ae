"""Transistor-level figures of NeuroSim V1.4 for the timing of the sensing cycle, vectorized over widths.

Written from NeuroSim V1.4's formulas (not its code):

* ``formula.cpp`` CalculateOnResistance: ``R = m VDD / (I_on W_eff)`` at 300 K with the CACTI effective-resistance
  multiplier ``m`` (1.54 at 130 nm, 1.77 for the other planar LSTP nodes, about 2.1 for FinFET) (CalculateOnResistance_normal: ``m = 1``); FinFET nodes count whole fins,
  ``W_eff = ceil(W / 2F) * w_eff``.
* ``formula.cpp`` CalculateGateCap: ``(C_ideal + C_overlap + C_fringe) W_eff`` with ``C_overlap = 0.2 C_ideal``
  for planar nodes; FinFET nodes: a fixed capacitance per fin (Technology.cpp ``caplist``).
* ``formula.cpp`` CalculateGateCapacitance / CalculateDrainCap: drain junction (bottom, sidewall and
  drain-to-channel) of a gate folded into a 28 F tall standard cell; FinFET nodes: bottom junction only.
* ``formula.cpp`` horowitz: ``t = tr sqrt(ln(vs)^2 + 2 alpha beta (1 - vs))`` with ``vs = beta = 0.5`` and
  ``alpha = 1 / (ramp_in tr)``; the output ramp is ``(1 - vs) / t``.
* ``Technology.cpp`` LSTP device tables (on-currents from :mod:`cimpipe.hw.gates`), gate and junction
  capacitances, ``pnSizeRatio``.

Units: um for widths, ohm, F (farad) and s inside; callers convert.
"""

from __future__ import annotations

import math

import torch

from cimpipe.hw import gates as GT

Tensor = torch.Tensor

# Technology.cpp effectiveResistanceMultiplier of the LSTP devices (from CACTI), per node
EFFECTIVE_RES_MULT = {130: 1.54, 90: 1.77, 65: 1.77, 45: 1.77, 32: 1.77, 22: 1.77, 14: 2.09, 10: 2.09, 7: 2.05,
                      5: 2.10, 3: 2.14, 2: 1.98, 1: 2.05}
MIN_NMOS_F = 2.0  # constant.h MIN_NMOS_SIZE
CELL_HEIGHT_F = 28.0  # constant.h MAX_TRANSISTOR_HEIGHT
GATE_POLY_GAP_F = 2.8  # constant.h MIN_GAP_BET_GATE_POLY
EDGE_F = 2 * (1.0 + 1.6 / 2)  # poly extension beyond diffusion + half field-poly gap, both sides
PN_GAP_F = 3.5
STEP_RAMP = 1e20  # NeuroSim's "no input ramp" (a step)
# Technology.cpp LSTP: capIdealGate, capFringe (F/m)
_PLANAR_CAP = {130: (1.8574e-9, 9.530642e-10), 90: (1.5413e-9, 9.601334e-10), 65: (1.1926e-9, 9.62148e-10),
               45: (8.930709e-10, 8.849901e-10), 32: (8.375279e-10, 6.856677e-10), 22: (5.245e-10, 8.004e-10)}
# FinFET: gate capacitance per fin (aF, Technology.cpp caplist) and bottom junction capacitance (F/m^2)
_FIN_CAP_AF = {14: 103.816, 10: 97.549, 7: 100.497, 5: 81.859, 3: 72.572, 2: 79.74, 1: 66.94}  # 2, 1: per GAA stack
_FIN_JUNCTION = {14: 0.0120, 10: 0.0134, 7: 0.0137, 5: 0.0119, 3: 0.0128, 2: 0.0091, 1: 0.0102}


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else torch.tensor(float(x), dtype=torch.float64)


def node(nm: int) -> GT.Node:
    return GT.node(nm)


def pn_ratio(nm: int) -> float:
    """Technology.cpp pnSizeRatio: NMOS over PMOS on-current (1 for FinFET nodes)."""
    return node(nm).pn_ratio


def _eff_width_um(nd: GT.Node, width_um):
    w = _t(width_um)
    if nd.finfet:
        return torch.ceil(w / (2 * nd.f_um) - 1e-9) * nd.eff_width_um
    return w


def on_res_ohm(nm: int, width_um, pmos: bool = False, effective: bool = True) -> Tensor:
    """CalculateOnResistance (``effective``) or CalculateOnResistance_normal of one device at 300 K."""
    nd = node(nm)
    ion = nd.ion_p if pmos else nd.ion_n
    m = EFFECTIVE_RES_MULT[nm] if effective else 1.0
    return m * nd.vdd_v / (ion * _eff_width_um(nd, width_um) * 1e-6)


def gate_cap_f(nm: int, width_um) -> Tensor:
    """CalculateGateCap of one device of drawn width ``width_um``."""
    nd = node(nm)
    w = _t(width_um)
    if nd.finfet:
        return torch.ceil(w / (2 * nd.f_um) - 1e-9) * _FIN_CAP_AF[nm] * 1e-18
    ideal, fringe = _PLANAR_CAP[nm]
    return (ideal * 1.2 + fringe) * w * 1e-6


def _junction(nm: int) -> tuple[float, float, float]:
    """Bottom (F/m^2), sidewall and drain-to-channel (F/m) junction capacitances (Technology.cpp)."""
    nd = node(nm)
    if nd.finfet:
        return _FIN_JUNCTION[nm], 0.0, 0.0
    v = 1.0 + nd.vdd_v / 0.9
    return 1e-3 / v**0.5, 2.5e-10 / v**0.33, 0.5e-10 / v**0.33


def drain_cap_f(nm: int, wn_um, wp_um, height_f: float = CELL_HEIGHT_F) -> Tensor:
    """Output (drain) capacitance of an inverter-like gate of NMOS/PMOS widths ``wn_um``/``wp_um`` in a cell
    ``height_f`` F tall, folding devices wider than their share of the cell (formula.cpp
    CalculateGateCapacitance, INV case; also NeuroSim's CalculateDrainCap with one width zero)."""
    nd = node(nm)
    f = nd.f_um
    wn, wp = _t(wn_um), _t(wp_um)
    wn, wp = torch.broadcast_tensors(wn, wp)
    cj, csw, cdc = _junction(nm)
    if nd.finfet:
        gap = (nd.cpp_um / f - 1.0) * f
        fins_n = torch.ceil(wn / (2 * f) - 1e-9)
        fins_p = torch.ceil(wp / (2 * f) - 1e-9)

        def bottom(fins):
            fold = torch.ceil(fins / nd.max_fin).clamp(min=1)
            wd = torch.ceil((fold + 1) / 2) * gap
            hd = torch.minimum(fins, torch.full_like(fins, float(nd.max_fin))) * nd.fin_width_um
            return wd * hd
        return (bottom(fins_n) + bottom(fins_p)) * 1e-12 * cj
    h = height_f * f
    tot = (wn + wp).clamp(min=1e-30)
    ratio = wp / tot
    both = (wn > 0) & (wp > 0)
    max_p = torch.where(both, ratio * (h - PN_GAP_F * f - EDGE_F * f), torch.full_like(wp, h - EDGE_F * f))
    max_n = torch.where(both, max_p / ratio.clamp(min=1e-30) * (1 - ratio), torch.full_like(wn, h - EDGE_F * f))

    def device(w, wmax):
        fold = torch.where(w > wmax, torch.ceil(w / wmax.clamp(min=1e-30)), torch.ones_like(w))
        wd = torch.ceil((fold + 1) / 2) * GATE_POLY_GAP_F * f
        hd = torch.minimum(w, wmax)
        present = w > 0
        return wd, hd, fold, present

    wdn, hdn, fn, on_n = device(wn, max_n)
    wdp, hdp, fp, on_p = device(wp, max_p)
    side = 1 + torch.remainder(fp + 1, 2)  # NeuroSim takes the PMOS folding for both sidewalls
    cap_n = wdn * hdn * cj * 1e-12 + (2 * wdn + hdn * side) * csw * 1e-6 + fn * hdn * cdc * 1e-6
    cap_p = wdp * hdp * cj * 1e-12 + (2 * wdp + hdp * side) * csw * 1e-6 + fp * hdp * cdc * 1e-6
    return torch.where(on_n, cap_n, torch.zeros_like(cap_n)) + torch.where(on_p, cap_p, torch.zeros_like(cap_p))


def horowitz_s(tr_s: Tensor, ramp_in: Tensor | float = STEP_RAMP) -> tuple[Tensor, Tensor]:
    """formula.cpp horowitz with NeuroSim's fixed beta 0.5: (delay, output ramp)."""
    tr = _t(tr_s).clamp(min=1e-30)
    alpha = 1.0 / (_t(ramp_in) * tr)
    t = tr * torch.sqrt(math.log(0.5) ** 2 + 0.5 * alpha)
    return t, 0.5 / t


def inv_caps_f(nm: int, wn_um, wp_um) -> tuple[Tensor, Tensor]:
    """Input (gate) and output (drain) capacitance of an inverter."""
    return gate_cap_f(nm, wn_um) + gate_cap_f(nm, wp_um), drain_cap_f(nm, wn_um, wp_um)


def enlarge_um(nm: int, wn_um, wp_um, height_f: float = CELL_HEIGHT_F) -> tuple[Tensor, Tensor]:
    """formula.cpp EnlargeSize: a gate narrower than its standard cell is widened to fill the cell height at its
    P/N ratio (planar), or to the cell's fins per device where the ratio allows a whole number (FinFET)."""
    nd = node(nm)
    f = nd.f_um
    wn, wp = torch.broadcast_tensors(_t(wn_um), _t(wp_um))
    ratio = wp / (wn + wp).clamp(min=1e-30)
    if not nd.finfet:
        h = height_f * f
        full = h - EDGE_F * f  # a single device takes the whole height
        max_p = ratio * (h - PN_GAP_F * f - EDGE_F * f)
        max_n = max_p / ratio.clamp(min=1e-30) * (1 - ratio)
        grow = (wp > 0) & (wp < max_p) & (wn > 0) & (wn < max_n)
        new_n = torch.where(grow, max_n, torch.where((wp <= 0) & (wn < full), torch.full_like(wn, full), wn))
        new_p = torch.where(grow, max_p, torch.where((wn <= 0) & (wp < full), torch.full_like(wp, full), wp))
        return new_n, new_p
    mx = float(nd.max_fin)
    fins_n, fins_p = torch.ceil(wn / (2 * f) - 1e-9), torch.ceil(wp / (2 * f) - 1e-9)
    ok = (fins_p > 0) & (fins_p <= mx) & (fins_n > 0) & (fins_n <= mx)
    n_if_p = mx / ratio.clamp(min=1e-30) * (1 - ratio)  # ratio >= 0.5: PMOS at the maximum
    p_if_n = mx / (1 - ratio).clamp(min=1e-30) * ratio  # ratio < 0.5: NMOS at the maximum
    whole_n = (n_if_p - torch.floor(n_if_p)).abs() < 1e-9
    whole_p = (p_if_n - torch.floor(p_if_n)).abs() < 1e-9
    hi = ok & (ratio >= 0.5) & whole_n
    lo = ok & (ratio < 0.5) & whole_p
    new_n = torch.where(hi, n_if_p, torch.where(lo, torch.full_like(wn, mx), fins_n))
    new_p = torch.where(hi, torch.full_like(wp, mx), torch.where(lo, p_if_n, fins_p))
    grow = hi | lo
    only_n = (wp <= 0) & (fins_n <= mx)
    only_p = (wn <= 0) & (fins_p <= mx)
    out_n = torch.where(grow, new_n * 2 * f, torch.where(only_n, torch.full_like(wn, 2 * f * mx), wn))
    out_p = torch.where(grow, new_p * 2 * f, torch.where(only_p, torch.full_like(wp, 2 * f * mx), wp))
    return out_n, out_p


def nand_caps_f(nm: int, wn_um, wp_um, inputs: int = 2) -> tuple[Tensor, Tensor]:
    """Input and output capacitance of an unfolded ``inputs``-input NAND (formula.cpp CalculateGateCapacitance,
    NAND case: the parallel PMOS share drains, the series NMOS stack has one drain per input)."""
    nd = node(nm)
    f = nd.f_um
    wn, wp = _t(wn_um), _t(wp_um)
    c_in = gate_cap_f(nm, wn) + gate_cap_f(nm, wp)
    cj, csw, cdc = _junction(nm)
    if nd.finfet:
        gap = (nd.cpp_um / f - 1.0) * f
        hn = torch.ceil(wn / (2 * f) - 1e-9) * nd.fin_width_um
        hp = torch.ceil(wp / (2 * f) - 1e-9) * nd.fin_width_um
        return c_in, (gap * (inputs + 1) // 2 * hp + gap * inputs * hn) * 1e-12 * cj
    unit = GATE_POLY_GAP_F * f
    wdp, wdn = unit * ((inputs + 1) // 2), unit * inputs
    side_p = 2 * wdp + wp * (1 - (inputs + 1) % 2)
    side_n = 2 * wdn + wn
    c_out = ((wdp * wp + wdn * wn) * cj * 1e-12 + (side_p + side_n) * csw * 1e-6 + (wp + wn) * cdc * 1e-6)
    return c_in, c_out
