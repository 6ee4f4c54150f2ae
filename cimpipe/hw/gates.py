"""Gate-level layout sizing of one CMOS node, as NeuroSim V1.4 lays standard cells out.

Every figure here depends on the node only, so it is a Python float (metres are avoided: lengths in um).
Sources: NeuroSim V1.4 ``formula.cpp`` (CalculateGateArea: fixed cell height, transistor folding, source/drain
sharing of NAND/NOR stacks; CalculatePassGateArea; CalculateOnResistance_normal), ``constant.h`` (design rules
in F: poly width 1, gate-poly gap 2.8, P/N diffusion gap 3.5, poly extension 1 + half field-poly gap 0.8,
standard-cell height 28 F for planar nodes, FinFET cell heights and contacted poly pitches) and
``Technology.cpp`` (LSTP on-currents at 300 K, VDD, fin geometry and fins per device for 14/10/7 nm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

# Planar design rules (NeuroSim constant.h), in F.
CELL_HEIGHT_F = 28.0
CPP_BULK_F = 1.0 + 2.8  # poly width + gate-poly gap
PN_GAP_F = 3.5
EDGE_F = 2 * (1.0 + 1.6 / 2)  # poly extension beyond diffusion + half field-poly gap, both sides
MIN_NMOS_F = 2.0

# node -> (VDD, Ion NMOS uA/um, Ion PMOS uA/um) for LSTP devices at 300 K (Technology.cpp)
_LSTP = {130: (1.3, 300.70, 150.70), 90: (1.2, 346.30, 200.30), 65: (1.1, 400.0, 238.70),
         45: (1.0, 500.20, 300.0), 32: (0.9, 600.20, 400.0), 22: (0.85, 791.90, 600.20)}
# FinFET nodes: VDD, Ion (A/m of effective width, N = P), fin width/pitch/height (nm), max fins per device,
# standard-cell height (F), CPP (F), P/N gap (F), outer height region (F); effective width overrides
_FINFET = {14: (0.8, 595.045, 8.0, 48.0, 42.0, 4, 41.142, 5.571, 9.71, 10.285, None),
           10: (0.75, 599.237, 8.0, 36.0, 45.0, 3, 33.0, 6.4, 10.0, 8.2, None),
           7: (0.7, 562.048, 7.0, 30.0, None, 2, 34.285, 8.1428, 11.85, 12.28, 107.0)}
# NeuroSim Param.cpp technology-dependent sizing: newswitchmatrixsizeratio, switchmatrixsizeratio
SWITCH_SIZING = {22: (14.0, 0.2), 14: (6.0, 0.2), 10: (6.0, 0.2), 7: (6.0, 0.2)}
# SRAM cell height in F per node (Param.cpp); the width follows from the cell area
SRAM_CELL_HEIGHT_F = {14: 10.6, 10: 12.8, 7: 16.0}


@dataclass(frozen=True)
class Node:
    """Layout constants of one node. Lengths in um."""

    nm: int
    f_um: float
    vdd_v: float
    ion_n: float  # on-current, A per m of (effective) width
    ion_p: float
    pn_ratio: float
    finfet: bool
    cell_h_um: float  # standard-cell height
    cpp_um: float  # contacted poly pitch used by folding
    max_fin: int = 0
    fin_pitch_um: float = 0.0
    fin_width_um: float = 0.0
    eff_width_um: float = 0.0
    pn_gap_f: float = PN_GAP_F
    outer_f: float = 0.0
    newswitch_ratio: float = 6.0
    switch_ratio: float = 0.1


@lru_cache(maxsize=None)
def node(nm: int) -> Node:
    """NeuroSim's layout constants of a node (planar LSTP or FinFET); KeyError for nodes it lacks here."""
    f = nm * 1e-3
    ns, s = SWITCH_SIZING.get(nm, (6.0, 0.1))
    if nm in _LSTP:
        vdd, n, p = _LSTP[nm]
        return Node(nm, f, vdd, n, p, n / p, False, CELL_HEIGHT_F * f, CPP_BULK_F * f, newswitch_ratio=ns,
                    switch_ratio=s)
    vdd, ion, fw, fp, fh, mf, ch, cpp, gap, outer, eff = _FINFET[nm]
    eff_um = (eff if eff is not None else fw + 2 * fh) * 1e-3
    return Node(nm, f, vdd, ion, ion, 1.0, True, ch * f, cpp * f, mf, fp * 1e-3, fw * 1e-3, eff_um, gap, outer,
                ns, s)


def on_resistance_ohm(nd: Node, width_um: float, pmos: bool = False) -> float:
    """Channel on-resistance of a device of a given drawn width (formula.cpp CalculateOnResistance_normal)."""
    if nd.finfet:
        w_eff = math.ceil(width_um / (2 * nd.f_um) - 1e-9) * nd.eff_width_um
    else:
        w_eff = width_um
    return nd.vdd_v / ((nd.ion_p if pmos else nd.ion_n) * w_eff * 1e-6)


def _fin_limits(nd: Node, ratio: float, height_um: float, default: bool) -> tuple[int, int]:
    if default:
        per = nd.max_fin
    else:
        per = math.floor(((height_um - (nd.pn_gap_f + nd.outer_f) * nd.f_um) + nd.fin_pitch_um) / 2.0
                         / (nd.fin_width_um + nd.fin_pitch_um))
    total = 2 * per
    if ratio == 0:
        return 0, total
    if ratio == 1:
        return total, 0
    if ratio > 0.5:
        n = int(total * (1 - ratio))
        p = total - n
    else:
        p = int(total * ratio)
        n = total - p
    if p == 0:
        p, n = 1, 2 * per - 1
    if n == 0:
        n, p = 1, 2 * per - 1
    return p, n


def gate_size_um(nd: Node, kind: str, inputs: int, wn_um: float, wp_um: float,
                 height_um: float | None = None) -> tuple[float, float]:
    """(height, width) of an INV/NAND/NOR laid out at a fixed cell height (formula.cpp CalculateGateArea).

    Wide devices fold into several fingers; stacked NAND/NOR inputs share diffusions when unfolded.
    ``height_um`` None means the node's standard-cell height.
    """
    default = height_um is None
    h = nd.cell_h_um if default else height_um
    if nd.finfet and not default:
        h = h * nd.cell_h_um / (CELL_HEIGHT_F * nd.f_um)
    ratio = wp_um / (wp_um + wn_um) if wp_um + wn_um > 0 else 0.0
    folds = [1, 1]
    units = []
    if not nd.finfet:
        if ratio == 0:
            max_w = (0.0, h - EDGE_F * nd.f_um)
        elif ratio == 1:
            max_w = (h - EDGE_F * nd.f_um, 0.0)
        else:
            mp = ratio * (h - PN_GAP_F * nd.f_um - EDGE_F * nd.f_um)
            max_w = (mp, mp / ratio * (1 - ratio))
        for i, w in enumerate((wp_um, wn_um)):
            if w <= 0:
                units.append(0.0)
            elif w <= max_w[i]:
                units.append(2 * nd.cpp_um)
            else:
                folds[i] = math.ceil(w / max_w[i])
                units.append((folds[i] + 1) * nd.cpp_um)
    else:
        limits = _fin_limits(nd, ratio, h, default)
        for i, w in enumerate((wp_um, wn_um)):
            fins = math.ceil(w / (2 * nd.f_um) - 1e-9)
            if fins <= 0:
                units.append(0.0)
            elif fins <= limits[i]:
                units.append(2 * nd.cpp_um)
            else:
                folds[i] = fins // max(limits[i], 1)
                units.append((folds[i] + 1) * nd.cpp_um)
    if kind == "INV" or inputs <= 1:
        width = max(units)
    elif folds == [1, 1]:
        width = max(u * inputs - (inputs - 1) * nd.cpp_um for u in units)
    else:
        width = max(u * inputs for u in units)
    return h, width


def pass_gate_size_um(nd: Node, wn_um: float, wp_um: float, folds: int) -> tuple[float, float]:
    """(height, width) of a transmission gate split into ``folds`` fingers (formula.cpp CalculatePassGateArea)."""
    folds = max(int(folds), 1)
    width = (folds + 1) * nd.cpp_um
    if not nd.finfet:
        height = (wp_um + wn_um) / folds + (PN_GAP_F + EDGE_F) * nd.f_um
    else:
        fp = math.ceil(math.ceil(wp_um / (2 * nd.f_um) - 1e-9) / folds)
        fn = math.ceil(math.ceil(wn_um / (2 * nd.f_um) - 1e-9) / folds)
        height = ((fp - 1) + (fn - 1)) * nd.fin_pitch_um + 2 * nd.fin_width_um + (nd.pn_gap_f + 2 * nd.outer_f) * nd.f_um
    return height, width


@lru_cache(maxsize=None)
def standard_gates(nm: int) -> dict[str, float]:
    """Areas/dimensions (um, um^2) of the node's minimum gates used by the digital blocks."""
    nd = node(nm)
    f = nd.f_um
    inv_h, inv_w = gate_size_um(nd, "INV", 1, MIN_NMOS_F * f, nd.pn_ratio * MIN_NMOS_F * f)
    nand_h, nand_w = gate_size_um(nd, "NAND", 2, 2 * MIN_NMOS_F * f, nd.pn_ratio * MIN_NMOS_F * f)
    n_h, n_w = gate_size_um(nd, "INV", 1, MIN_NMOS_F * f, 0.0)
    p_h, p_w = gate_size_um(nd, "INV", 1, 0.0, nd.pn_ratio * MIN_NMOS_F * f)
    return {"inv_h": inv_h, "inv_w": inv_w, "dff_h": inv_h, "dff_w": 12 * inv_w,
            "nand_h": nand_h, "nand_w": nand_w, "adder_bit_um2": 9 * nand_h * nand_w,
            "nmos_um2": n_h * n_w, "pmos_um2": p_h * p_w}
