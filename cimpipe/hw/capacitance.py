"""Gate and drain capacitances of NeuroSim V1.4's logic cells, for the energy and leakage models.

Written from NeuroSim V1.4's formulas (not its code), with its floating-point order of operations where a
ceiling or an integer test depends on it (widths are carried in metres, as NeuroSim carries them):

* ``formula.cpp`` CalculateGateCap: ``(C_ideal + C_overlap + C_fringe) W`` at planar nodes (``C_overlap =
  0.2 C_ideal``); at FinFET and nanosheet nodes a fixed capacitance per fin or sheet stack (Technology.cpp
  ``caplist``), the width counted in whole 2F units.
* ``formula.cpp`` CalculateGateCapacitance (INV, NAND, NOR): the output sees the drains of a cell laid out at a
  fixed height; devices wider than their share of the height fold into fingers, stacked devices share their
  diffusions when unfolded. Planar nodes add the sidewall and drain-to-channel junctions to the bottom one;
  FinFET and nanosheet nodes count the bottom junction only, a drain ``CPP - poly`` long and one fin (sheet)
  width per fin.
* ``formula.cpp`` CalculateGateCapacitance_GAA: the special nanosheet layout of the digital cells at 2 and 1 nm
  (DFF.cpp, Adder.cpp, MultilevelSAEncoder.cpp, MultilevelSenseAmp.cpp, ``param->speciallayout``): minimum
  devices, gate capacitance scaled by a gate factor, drain heights by N and P tuning factors.
* ``formula.cpp`` EnlargeSize: a gate narrower than its cell grows to fill it (planar), to whole fins filling
  the cell at its P/N ratio (FinFET, only when that count is whole) or to one or two sheets (nanosheet).
* ``formula.cpp`` CalculateGateLeakage: off-current times the effective width (``I_off`` per node from
  Technology.cpp, LSTP, 300 K), halved for an INV, 0.48 / 0.31 of the PMOS stack of a NAND.

Every figure depends on the node and the devices' widths only, so the functions take Python floats and cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from cimpipe.hw.gates import split_units

MIN_NMOS = 2.0  # constant.h MIN_NMOS_SIZE (F)
CELL_HEIGHT_F = 28.0  # constant.h MAX_TRANSISTOR_HEIGHT
FINFET_HEIGHT_F = 34.0  # constant.h MAX_TRANSISTOR_HEIGHT_FINFET
PN_GAP_F = 3.5  # MIN_GAP_BET_P_AND_N_DIFFS
EDGE_F = 1.0 + 1.6 / 2  # MIN_POLY_EXT_DIFF + MIN_GAP_BET_FIELD_POLY / 2 (each side)
GATE_GAP_F = 2.8  # MIN_GAP_BET_GATE_POLY
INV, NOR, NAND = "INV", "NOR", "NAND"

# Technology.cpp, LSTP: planar capIdealGate, capFringe (F/m), Ion N/P (uA/um) for pnSizeRatio, Ioff N/P (A/m)
_PLANAR = {130: (1.8574e-9, 9.530642e-10, 1.3, 300.70, 150.70, 100.20e-6),
           90: (1.5413e-9, 9.601334e-10, 1.2, 346.30, 200.30, 100.00e-6),
           65: (1.1926e-9, 9.62148e-10, 1.1, 400.00, 238.70, 100.20e-6),
           45: (8.930709e-10, 8.849901e-10, 1.0, 500.20, 300.00, 100.00e-6),
           32: (8.375279e-10, 6.856677e-10, 0.9, 600.20, 400.00, 100.10e-6),
           22: (5.245e-10, 8.004e-10, 0.85, 791.90, 600.20, 100.00e-6)}
# FinFET (14-3 nm) and nanosheet (2, 1 nm): VDD, caplist (aF per fin / sheet stack), capJunction (F/m^2),
# fin (sheet) width and pitch (m), max fins per device (FinFET) or sheets per stack (nanosheet), effective width
# of a fin or of one sheet (m), Ioff N (currentlist_off, A/m) and P
_ADVANCED = {14: (0.8, 103.816, 0.0120, 8e-9, 48e-9, 4, 8e-9 + 2 * 42e-9, 0.0001, 102.3333e-6),
             10: (0.75, 97.549, 0.0134, 8e-9, 36e-9, 3, 8e-9 + 2 * 45e-9, 0.000127, 100.5839e-6),
             7: (0.7, 100.497, 0.0137, 7e-9, 30e-9, 2, 107e-9, 0.000147, 100.9536e-6),
             5: (0.7, 81.859, 0.0119, 6e-9, 28e-9, 2, 106e-9, 0.000138, 100.9536e-6),
             3: (0.7, 72.572, 0.0128, 5e-9, 24e-9, 2, 101e-9, 0.000158, 100.9536e-6),
             2: (0.65, 79.74, 0.0091, 15e-9, 26e-9, 3, (6e-9 + 15e-9) * 2, 0.0000733, 100.9536e-6),
             1: (0.6, 66.94, 0.0102, 10e-9, 24e-9, 4, (6e-9 + 10e-9) * 2, 0.000169, 100.9536e-6)}
# constant.h: standard-cell height, P/N gap, outer height region, contacted poly pitch and poly width (F)
_LAYOUT = {14: (41.142, 9.71, 10.285, 5.571, 1.857), 10: (33.0, 10.0, 8.2, 6.4, 2.2),
           7: (34.285, 11.85, 12.28, 8.1428, 3.14), 5: (36.0, 12.8, 19.4, 10.2, 4.0),
           3: (48.0, 15.0, 12.666, 16.0, 6.0), 2: (57.0, 20.0, 22.0, 22.5, 7.0), 1: (80.0, 15.0, 40.0, 40.0, 12.0)}
# DFF.cpp / Adder.cpp (and the encoder's, sense amp's) special nanosheet layout: (gate factor, N, P tuning)
GAA_INV = {2: (1.0 / 2.0, 4.5 / 15.0, 4.5 / 15.0), 1: (10.5 / 16.0, 4.5 / 10.0, 4.5 / 10.0)}
GAA_NAND = {2: (1.0, 22.0 / 15.0, 8.0 / 15.0), 1: (1.0, 23.0 / 15.0, 7.0 / 15.0)}


@dataclass(frozen=True)
class Devices:
    """A node's device constants as NeuroSim's Technology.cpp holds them (SI units)."""

    nm: int
    f: float  # feature size, m
    vdd: float
    pn: float  # pnSizeRatio
    kind: str  # "planar", "finfet" or "gaa"
    cap_gate: float  # planar: F/m of width; FinFET/GAA: F per fin (sheet stack)
    cap_junction: float  # F/m^2
    cap_sidewall: float  # F/m
    cap_drain_channel: float  # F/m
    fin_width: float = 0.0
    fin_pitch: float = 0.0
    max_fin: int = 0
    eff_width: float = 0.0  # of one fin, or of one sheet stack (all its sheets)
    ioff_n: float = 100e-6  # A/m
    ioff_p: float = 100e-6


@lru_cache(maxsize=None)
def devices(nm: int) -> Devices:
    """Technology.cpp's LSTP constants of a node."""
    f = nm * 1e-9
    if nm in _PLANAR:
        ideal, fringe, vdd, ion_n, ion_p, ioff = _PLANAR[nm]
        bias = 1 + vdd / 0.9  # buildInPotential
        return Devices(nm, f, vdd, ion_n / ion_p, "planar", ideal * 1.2 + fringe, 1e-3 / bias**0.5,
                       2.5e-10 / bias**0.33, 0.5e-10 / bias**0.33, ioff_n=ioff, ioff_p=ioff)
    vdd, cap_af, cj, wf, pitch, mx, eff, ioff_n, ioff_p = _ADVANCED[nm]
    gaa = nm <= 2
    return Devices(nm, f, vdd, 1.0, "gaa" if gaa else "finfet", cap_af * 1e-18, cj, 0.0, 0.0, wf, pitch, mx,
                   eff * (mx if gaa else 1), ioff_n, ioff_p)


def _units(d: Devices, width: float) -> int:
    """Whole fins or sheet stacks of a drawn width (formula.cpp: ``width *= 1 / (2F)``, then the ceiling)."""
    return int(math.ceil(width * (1 / (2 * d.f))))


def gate_cap(nm: int, width_f: float) -> float:
    """CalculateGateCap (F) of one device ``width_f`` feature sizes wide."""
    d = devices(nm)
    width = width_f * d.f
    if d.kind == "planar":
        return d.cap_gate * width
    return d.cap_gate * _units(d, width)


def effective_width_m(nm: int, width_f: float) -> float:
    """The width that conducts (and leaks): drawn at planar nodes, whole fins / sheet stacks otherwise."""
    d = devices(nm)
    width = width_f * d.f
    return width if d.kind == "planar" else _units(d, width) * d.eff_width


def _max_units(d: Devices, height: float, special: bool) -> int:
    """Fins (sheets) per device a cell of the given (rescaled) height holds (max_fin_num, one sheet stack in the
    standard nanosheet cell, or the count that fits a special height)."""
    if not special:
        return 1 if d.kind == "gaa" else d.max_fin
    _, gap, outer, _, _ = _LAYOUT[d.nm]
    return int(math.floor(((height - gap * d.f - outer * d.f) + d.fin_pitch) / 2.0 / (d.fin_width + d.fin_pitch)))


def _drain_geometry(d: Devices, wn: float, wp: float, height: float, tune: tuple[float, float] | None):
    """Per device (P, N): (drain width, source width, drain height, folds) of CalculateGateCapacitance."""
    f = d.f
    special = height != f * CELL_HEIGHT_F
    if d.kind == "planar":
        ratio = wp / (wp + wn)
        if ratio == 0:
            max_w = (0.0, height - EDGE_F * 2 * f)
        elif ratio == 1:
            max_w = (height - EDGE_F * 2 * f, 0.0)
        else:
            mp = ratio * (height - PN_GAP_F * f - EDGE_F * 2 * f)
            max_w = (mp, mp / ratio * (1 - ratio))
        out = []
        for w, m in zip((wp, wn), max_w):
            if w <= 0:
                out.append((0.0, 0.0, 0.0, 1))
            elif w <= m:
                out.append((f * GATE_GAP_F, f * GATE_GAP_F, w, 1))
            else:
                folds = int(math.ceil(w / m))
                out.append((math.ceil((folds + 1) / 2) * f * GATE_GAP_F, math.floor((folds + 1) / 2) * f * GATE_GAP_F,
                            m, folds))
        return out
    cell_h, _, _, cpp, poly = _LAYOUT[d.nm]
    wn, wp = wn * (1 / (2 * f)), wp * (1 / (2 * f))
    height = height * (FINFET_HEIGHT_F / CELL_HEIGHT_F) * (cell_h / FINFET_HEIGHT_F)
    per = _max_units(d, height, special)
    ratio = wp / (wp + wn)
    gaa = d.kind == "gaa" or tune is not None
    max_u = split_units(per, ratio, gaa)
    gap = (cpp - poly) * f
    heights = (d.fin_width * tune[1], d.fin_width * tune[0]) if tune else (d.fin_width, d.fin_width)
    out = []
    for w, m, unit_h in zip((wp, wn), max_u, heights):
        units = int(math.ceil(w))
        if units <= 0:
            out.append((0.0, 0.0, 0.0, 1))
        elif units <= m:
            out.append((gap, gap, units * unit_h, 1))
        else:
            folds = units // m  # NeuroSim divides two ints before its ceiling
            out.append((math.ceil((folds + 1) / 2) * gap, math.floor((folds + 1) / 2) * gap, m * unit_h, folds))
    return out


def _output_cap(d: Devices, kind: str, inputs: int, wn: float, wp: float, height: float,
                tune: tuple[float, float] | None) -> float:
    (udp, usp, hdp, fp), (udn, usn, hdn, fn) = _drain_geometry(d, wn, wp, height, tune)
    wdp = wdn = swp = swn = 0.0
    unfolded = fp == 1 and fn == 1
    if kind == INV:
        if wp > 0:
            wdp = udp
            swp = 2 * wdp + hdp * (1 + (fp + 1) % 2)
        if wn > 0:
            wdn = udn
            swn = 2 * wdn + hdn * (1 + (fp + 1) % 2)  # NeuroSim takes the PMOS folding here
    elif kind == NAND:
        if unfolded:
            if wp > 0:
                wdp = udp * ((inputs + 1) // 2)
                swp = 2 * wdp + hdp * (1 - (inputs + 1) % 2)
            if wn > 0:
                wdn = udn * inputs
                swn = 2 * wdn + hdn
        else:
            if wp > 0:
                wdp = udp * inputs
                swp = 2 * wdp + hdp * (1 + (fp + 1) % 2) * inputs
            if wn > 0:
                wdn = udn * inputs + (inputs - 1) * usn
                swn = 2 * wdn + hdn * (1 + (fn + 1) % 2) * inputs + hdn * (1 - (fn + 1) % 2) * (inputs - 1)
    elif kind == NOR:
        if unfolded:
            if wp > 0:
                wdp = udp * inputs
                swp = 2 * wdp + hdp
            if wn > 0:
                wdn = udn * ((inputs + 1) // 2)
                swn = 2 * wdn + hdn * (1 - (inputs + 1) % 2)
        else:
            if wp > 0:
                wdp = udp * inputs + (inputs - 1) * usp
                swp = 2 * wdp + hdp * (1 + (fp + 1) % 2) * inputs + hdp * (1 - (fp + 1) % 2) * (inputs - 1)
            if wn > 0:
                wdn = udn * inputs
                swn = 2 * wdn + hdn * (1 + (fn + 1) % 2) * inputs
    cap = (wdn * hdn + wdp * hdp) * d.cap_junction
    if d.kind == "planar":
        cap += (swp + swn) * d.cap_sidewall + (fn * hdn + fp * hdp) * d.cap_drain_channel
    return cap


@lru_cache(maxsize=None)
def gate_caps(nm: int, kind: str, inputs: int, wn_f: float, wp_f: float,
              height_f: float = CELL_HEIGHT_F) -> tuple[float, float]:
    """(input, output) capacitance in F of an INV / NAND / NOR of NMOS and PMOS widths in F, laid out in a cell
    ``height_f`` F tall (formula.cpp CalculateGateCapacitance; 28 F is NeuroSim's standard height, which
    FinFET nodes rescale to their own cell)."""
    d = devices(nm)
    c_in = gate_cap(nm, wn_f) + gate_cap(nm, wp_f)
    return c_in, _output_cap(d, kind, inputs, wn_f * d.f, wp_f * d.f, height_f * d.f, None)


@lru_cache(maxsize=None)
def gaa_gate_caps(nm: int, kind: str, inputs: int, factors: tuple[float, float, float],
                  wn_f: float = MIN_NMOS, wp_f: float = MIN_NMOS) -> tuple[float, float]:
    """(input, output) capacitance of a nanosheet cell in the special layout (CalculateGateCapacitance_GAA: one
    stack per device, gate capacitance times ``factors[0]``, drain heights times the N / P tuning); minimum
    devices unless widths are given (0 for a device that is absent)."""
    d = devices(nm)
    gate_factor, n_tune, p_tune = factors
    c_in = gate_factor * (gate_cap(nm, wn_f) + gate_cap(nm, wp_f))
    return c_in, _output_cap(d, kind, inputs, wn_f * d.f, wp_f * d.f, CELL_HEIGHT_F * d.f, (n_tune, p_tune))


@lru_cache(maxsize=None)
def enlarge_f(nm: int, wn_f: float, wp_f: float) -> tuple[float, float]:
    """EnlargeSize at the standard cell height: (NMOS, PMOS) widths in F."""
    d = devices(nm)
    f = d.f
    wn, wp = wn_f * f, wp_f * f
    ratio = wp / (wp + wn)
    if d.kind == "planar":
        h = f * CELL_HEIGHT_F
        if ratio == 0:
            mp, mn = 0.0, h - EDGE_F * 2 * f
        elif ratio == 1:
            mp, mn = h - EDGE_F * 2 * f, 0.0
        else:
            mp = ratio * (h - PN_GAP_F * f - EDGE_F * 2 * f)
            mn = mp / ratio * (1 - ratio)
        if ratio == 0 and wn < mn:
            wn = mn
        elif ratio == 1 and wp < mp:
            wp = mp
        elif 0 < wp < mp and 0 < wn < mn:
            wp, wn = mp, mn
        return wn / f, wp / f
    units_p = int(math.ceil(wp / (2.0 * f)))
    units_n = int(math.ceil(wn / (2.0 * f)))
    if d.kind == "finfet":
        mx = d.max_fin
        if ratio == 0 and units_n <= mx:
            units_n = mx
            wn = units_n * 2 * f
        elif ratio == 1 and units_p <= mx:
            units_p = mx
            wp = units_p * 2 * f
        elif 0 < units_p <= mx and 0 < units_n <= mx:
            if ratio >= 0.5:
                x = mx / ratio * (1 - ratio)
                if x - int(x) == 0:
                    units_n, units_p = int(x), mx
            else:
                x = mx / (1 - ratio) * ratio
                if x - int(x) == 0:
                    units_p, units_n = int(x), mx
            wn, wp = units_n * 2 * f, units_p * 2 * f
        return wn / f, wp / f
    if ratio == 0 and units_n <= 2:
        wn = 2 * 2 * f
    elif ratio == 1 and units_p <= 2:
        wp = 2 * 2 * f
    elif 0 < units_p <= 1 and 0 < units_n <= 1:
        wn, wp = 2 * f, 2 * f
    return wn / f, wp / f


def gate_leakage_a(nm: int, kind: str, inputs: int, wn_f: float, wp_f: float) -> float:
    """CalculateGateLeakage (A) at 300 K: INV half of both devices' off-currents, NAND 0.48 (2 inputs) or 0.31 of
    its PMOS stack, NOR 0.95 / 0.62 of its NMOS stack."""
    d = devices(nm)
    leak_n = effective_width_m(nm, wn_f) * d.ioff_n
    leak_p = effective_width_m(nm, wp_f) * d.ioff_p
    if kind == INV:
        return (leak_n + leak_p) / 2
    if kind == NAND:
        return (0.48 if inputs == 2 else 0.31) * leak_p * inputs
    return (0.95 if inputs == 2 else 0.62) * leak_n * inputs


# ---------------------------------------------------------------------------------------------------------------
# NeuroSim's digital cells


def cell_height_f(nm: int) -> float:
    """The height (F) CalculateGateArea gives a standard cell: 28 F at planar nodes, the node's own cell height at
    FinFET and nanosheet nodes. Cells whose capacitance NeuroSim computes at that height (the flip-flop, the
    adder's NAND) count, at those nodes, the fins that fit the height rescaled once more ("special layout")."""
    return CELL_HEIGHT_F if devices(nm).kind == "planar" else _LAYOUT[nm][0]


@lru_cache(maxsize=None)
def dff_caps(nm: int) -> tuple[float, float, float, float, float]:
    """(INV input, INV output, TG gate N, TG gate P, TG drain) of NeuroSim's flip-flop (DFF.cpp CalculateArea:
    minimum devices, not enlarged, in the standard cell; the special nanosheet layout at 2 and 1 nm)."""
    d = devices(nm)
    if nm in GAA_INV:
        factor = GAA_INV[nm][0]
        c_in, c_out = gaa_gate_caps(nm, INV, 1, GAA_INV[nm])
        return c_in, c_out, gate_cap(nm, MIN_NMOS) * factor, gate_cap(nm, d.pn * MIN_NMOS) * factor, c_out
    c_in, c_out = gate_caps(nm, INV, 1, MIN_NMOS, d.pn * MIN_NMOS, cell_height_f(nm))
    _, c_tg = gate_caps(nm, INV, 1, MIN_NMOS, d.pn * MIN_NMOS, cell_height_f(nm))
    return c_in, c_out, gate_cap(nm, MIN_NMOS), gate_cap(nm, d.pn * MIN_NMOS), c_tg


@lru_cache(maxsize=None)
def adder_nand_caps(nm: int) -> tuple[float, float]:
    """(input, output) of the ripple adder's NAND2 (Adder.cpp: NMOS 2 x, PMOS pn x minimum, enlarged to the cell;
    the special nanosheet layout at 2 and 1 nm)."""
    if nm in GAA_NAND:
        return gaa_gate_caps(nm, NAND, 2, GAA_NAND[nm])
    d = devices(nm)
    wn, wp = enlarge_f(nm, 2 * MIN_NMOS, d.pn * MIN_NMOS)
    return gate_caps(nm, NAND, 2, wn, wp, cell_height_f(nm))


@lru_cache(maxsize=None)
def sense_amp_caps(nm: int) -> tuple[float, float, float, float]:
    """(gate N, drain N, gate P, drain P) of the flash ADC's sense amp (MultilevelSenseAmp.cpp Initialize): a
    minimum NMOS and a pn x minimum PMOS, each alone in a standard cell; the special nanosheet layout at 2 and
    1 nm (the flip-flop's factors)."""
    d = devices(nm)
    if nm in GAA_INV:
        g_p, c_p = gaa_gate_caps(nm, INV, 1, GAA_INV[nm], 0.0, d.pn * MIN_NMOS)
        g_n, c_n = gaa_gate_caps(nm, INV, 1, GAA_INV[nm], MIN_NMOS, 0.0)
    else:
        g_p, c_p = gate_caps(nm, INV, 1, 0.0, d.pn * MIN_NMOS)
        g_n, c_n = gate_caps(nm, INV, 1, MIN_NMOS, 0.0)
    return g_n, c_n, g_p, c_p


@lru_cache(maxsize=None)
def dff_leakage_w(nm: int) -> float:
    """One flip-flop's leakage power (DFF.cpp): 8 minimum inverters, times the nanosheet gate factor."""
    d = devices(nm)
    factor = GAA_INV[nm][0] if nm in GAA_INV else 1.0
    return gate_leakage_a(nm, INV, 1, MIN_NMOS, d.pn * MIN_NMOS) * d.vdd * 8 * factor


@lru_cache(maxsize=None)
def adder_bit_leakage_w(nm: int) -> float:
    """One adder bit's leakage power (Adder.cpp): 9 NAND2 of the adder's (enlarged) widths; minimum ones at
    2 and 1 nm."""
    d = devices(nm)
    if nm in GAA_NAND:
        wn, wp = MIN_NMOS, MIN_NMOS
    else:
        wn, wp = enlarge_f(nm, 2 * MIN_NMOS, d.pn * MIN_NMOS)
    return gate_leakage_a(nm, NAND, 2, wn, wp) * d.vdd * 9
