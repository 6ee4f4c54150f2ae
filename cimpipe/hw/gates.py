"""Gate-level layout sizing of one CMOS node, as NeuroSim V1.4 lays standard cells out.

Every figure here depends on the node only, so it is a Python float (metres are avoided: lengths in um).
Sources: NeuroSim V1.4 ``formula.cpp`` (CalculateGateArea: fixed cell height, transistor folding, source/drain
sharing of NAND/NOR stacks; CalculatePassGateArea; CalculateOnResistance_normal), ``constant.h`` (design rules
in F: poly width 1, gate-poly gap 2.8, P/N diffusion gap 3.5, poly extension 1 + half field-poly gap 0.8,
standard-cell height 28 F for planar nodes, FinFET cell heights and contacted poly pitches) and
``Technology.cpp`` (LSTP on-currents at 300 K, VDD, fin geometry and fins per device for 14/10/7/5/3 nm; nanosheet
geometry of the 2 and 1 nm gate-all-around nodes, whose devices are counted in sheets of 2 F drawn width, each
sheet stack driving ``max_sheet_num`` sheets, one stack per device in a standard cell).
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
           7: (0.7, 562.048, 7.0, 30.0, None, 2, 34.285, 8.1428, 11.85, 12.28, 107.0),
           5: (0.7, 578.494, 6.0, 28.0, None, 2, 36.0, 10.2, 12.8, 19.4, 106.0),
           3: (0.7, 641.463, 5.0, 24.0, None, 2, 48.0, 16.0, 15.0, 12.666, 101.0)}
# Nanosheet (GAA) nodes: VDD, Ion (A/m of effective width), sheet width (used as the fin width), sheet pitch,
# sheet thickness (nm), sheets per stack (max_sheet_num), standard-cell height (F), CPP (F), P/N gap (F),
# outer height region (F). One stack per device in a standard cell (max_fin_per_GAA = 1).
_GAA = {2: (0.65, 526.868, 15.0, 26.0, 6.0, 3, 57.0, 22.5, 20.0, 22.0),
        1: (0.6, 460.979, 10.0, 24.0, 6.0, 4, 80.0, 40.0, 15.0, 40.0)}
# NeuroSim Param.cpp technology-dependent sizing: newswitchmatrixsizeratio, switchmatrixsizeratio
SWITCH_SIZING = {22: (14.0, 0.2), 14: (6.0, 0.2), 10: (6.0, 0.2), 7: (6.0, 0.2), 5: (6.0, 0.06), 3: (6.0, 0.03),
                 2: (6.0, 0.1), 1: (6.0, 0.1)}
# Capacitances and CACTI resistance multiplier (Technology.cpp, LSTP). Planar: (capIdealGate, capFringe) in F/m of
# width, overlap 0.2 x ideal; FinFET/GAA: gate capacitance per fin (or sheet stack) in F (caplist), no overlap or
# fringe, drain junction capacitance per m^2 (capJunction) and the poly width (F, constant.h) that sets the drain
# width (CPP - poly).
_PLANAR_CAP = {130: (1.8574e-9, 9.530642e-10), 90: (1.5413e-9, 9.601334e-10), 65: (1.1926e-9, 9.62148e-10),
               45: (8.930709e-10, 8.849901e-10), 32: (8.375279e-10, 6.856677e-10), 22: (5.245e-10, 8.004e-10)}
_FIN_CAP = {14: (103.816e-18, 0.0120, 1.857), 10: (97.549e-18, 0.0134, 2.2), 7: (100.497e-18, 0.0137, 3.14),
            5: (81.859e-18, 0.0119, 4.0), 3: (72.572e-18, 0.0128, 6.0), 2: (79.74e-18, 0.0091, 7.0),
            1: (66.94e-18, 0.0102, 12.0)}
EFF_RES_MULTIPLIER = {130: 1.54, 90: 1.77, 65: 1.77, 45: 1.77, 32: 1.77, 22: 1.77, 14: 2.09, 10: 2.09, 7: 2.05,
                      5: 2.10, 3: 2.14, 2: 1.98, 1: 2.05}
# Param.cpp sizingfactor_MUX: final driver of the column-mux decoder (RowDecoder.cpp MUX mode), 1 elsewhere
MUX_DRIVER_SIZING = {22: 110.0, 14: 130.0, 10: 80.0, 7: 60.0, 5: 50.0, 3: 25.0, 2: 25.0, 1: 30.0}
# Param.cpp buffernumber / buffersizeratio: repeaters splitting the SRAM word line into sections (2 and 1 nm)
WL_BUFFERS = {2: (3, 3.0), 1: (3, 3.0)}
# Param.cpp Metal1 width (nm) where it differs from Metal0 (the SRAM word line runs on Metal1); constant.h M3 pitch
# (F) of the decoders' connection wires
METAL1_NM = {14: 39.0, 10: 32.0, 7: 28.5, 5: 17.0, 3: 16.0, 2: 11.5, 1: 10.0}
M3_PITCH_F = {14: 4.57, 10: 4.4, 7: 5.71, 5: 6.0, 3: 8.0, 2: 10.0, 1: 16.0}  # 2.8 at planar nodes
# SRAM cell height in F per node (Param.cpp); the width follows from the cell area
SRAM_CELL_HEIGHT_F = {14: 10.6, 10: 12.8, 7: 16.0, 5: 19.2, 3: 30.0, 2: 42.0, 1: 80.0}


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
    gaa: bool = False  # nanosheet node: devices counted in sheet stacks, folds = ceil(stacks / max)
    mux_sizing: float = 1.0
    wl_buffers: int = 0
    wl_buffer_ratio: float = 0.0


@lru_cache(maxsize=None)
def node(nm: int) -> Node:
    """NeuroSim's layout constants of a node (planar LSTP or FinFET); KeyError for nodes it lacks here."""
    f = nm * 1e-3
    ns, s = SWITCH_SIZING.get(nm, (6.0, 0.1))
    extra = {"mux_sizing": MUX_DRIVER_SIZING.get(nm, 1.0), "wl_buffers": WL_BUFFERS.get(nm, (0, 0.0))[0],
             "wl_buffer_ratio": WL_BUFFERS.get(nm, (0, 0.0))[1]}
    if nm in _LSTP:
        vdd, n, p = _LSTP[nm]
        return Node(nm, f, vdd, n, p, n / p, False, CELL_HEIGHT_F * f, CPP_BULK_F * f, newswitch_ratio=ns,
                    switch_ratio=s, **extra)
    if nm in _GAA:
        vdd, ion, sw, sp, st, sheets, ch, cpp, gap, outer = _GAA[nm]
        # a stack's effective width: sheet perimeter times the sheets per stack (formula.cpp)
        eff_um = 2 * (st + sw) * sheets * 1e-3
        return Node(nm, f, vdd, ion, ion, 1.0, True, ch * f, cpp * f, 1, sp * 1e-3, sw * 1e-3, eff_um, gap, outer,
                    ns, s, gaa=True, **extra)
    vdd, ion, fw, fp, fh, mf, ch, cpp, gap, outer, eff = _FINFET[nm]
    eff_um = (eff if eff is not None else fw + 2 * fh) * 1e-3
    return Node(nm, f, vdd, ion, ion, 1.0, True, ch * f, cpp * f, mf, fp * 1e-3, fw * 1e-3, eff_um, gap, outer,
                ns, s, **extra)


def on_resistance_ohm(nd: Node, width_um: float, pmos: bool = False) -> float:
    """Channel on-resistance of a device of a given drawn width (formula.cpp CalculateOnResistance_normal)."""
    if nd.finfet:
        w_eff = math.ceil(width_um / (2 * nd.f_um) - 1e-9) * nd.eff_width_um
    else:
        w_eff = width_um
    return nd.vdd_v / ((nd.ion_p if pmos else nd.ion_n) * w_eff * 1e-6)


def device_units(nd: Node, width_um: float) -> int:
    """Fins (FinFET) or sheet stacks (GAA) of a device of a drawn width: ceil(W / 2F) (formula.cpp)."""
    return math.ceil(width_um / (2 * nd.f_um) - 1e-9)


def gate_cap_f(nd: Node, width_um: float) -> float:
    """Gate capacitance (F) of one device (formula.cpp CalculateGateCap with Technology.cpp's LSTP values)."""
    if not nd.finfet:
        ideal, fringe = _PLANAR_CAP[nd.nm]
        return (1.2 * ideal + fringe) * width_um * 1e-6
    return _FIN_CAP[nd.nm][0] * device_units(nd, width_um)


def inv_output_cap_f(nd: Node, wn_um: float, wp_um: float) -> float:
    """Drain capacitance (F) at the output of a standard-height inverter (formula.cpp CalculateGateCapacitance,
    INV): junction bottom area (+ sidewall and drain-to-channel terms at planar nodes), with folding."""
    f = nd.f_um * 1e-6
    if not nd.finfet:
        bias = 1 + nd.vdd_v / 0.9
        cj, csw, cdc = 1e-3 / bias**0.5, 2.5e-10 / bias**0.33, 0.5e-10 / bias**0.33
        ratio = wp_um / (wp_um + wn_um)
        room = (CELL_HEIGHT_F * nd.f_um - PN_GAP_F * nd.f_um - EDGE_F * nd.f_um) * 1e-6
        max_w = (ratio * room, (1 - ratio) * room)
        dims = []
        for w_um, m in zip((wp_um, wn_um), max_w):
            w = w_um * 1e-6
            if w <= 0:
                dims.append((0.0, 0.0, 1))
            elif w <= m:
                dims.append((2.8 * f, w, 1))
            else:
                folds = math.ceil(w / m)
                dims.append((math.ceil((folds + 1) / 2) * 2.8 * f, m, folds))
        side_mult = 1 + (dims[0][2] + 1) % 2  # NeuroSim takes the PMOS folding for both sidewalls
        cap = 0.0
        for wd, hd, folds in dims:
            if hd > 0:
                cap += wd * hd * cj + (2 * wd + hd * side_mult) * csw + folds * hd * cdc
        return cap
    _, cj, poly = _FIN_CAP[nd.nm]
    gap = nd.cpp_um / nd.f_um - poly
    per = 1 if nd.gaa else nd.max_fin
    cap = 0.0
    for w_um in (wp_um, wn_um):
        n = device_units(nd, w_um)
        if n <= 0:
            continue
        if n <= per:
            wd, hd = gap * f, n * nd.fin_width_um * 1e-6
        else:
            folds = math.ceil(n / per) if nd.gaa else n // per
            wd, hd = math.ceil((folds + 1) / 2) * gap * f, per * nd.fin_width_um * 1e-6
        cap += wd * hd * cj
    return cap


def cacti_on_resistance_ohm(nd: Node, width_um: float, pmos: bool = False) -> float:
    """On-resistance with CACTI's effective-resistance multiplier (formula.cpp CalculateOnResistance)."""
    return EFF_RES_MULTIPLIER[nd.nm] * on_resistance_ohm(nd, width_um, pmos)


def _fin_limits(nd: Node, ratio: float, height_um: float, default: bool) -> tuple[int, int]:
    if default:
        per = nd.max_fin
    else:
        per = math.floor(((height_um - (nd.pn_gap_f + nd.outer_f) * nd.f_um) + nd.fin_pitch_um) / 2.0
                         / (nd.fin_width_um + nd.fin_pitch_um))
    return split_units(per, ratio, nd.gaa)


def split_units(per: int, ratio: float, gaa: bool) -> tuple[int, int]:
    """(PMOS, NMOS) fins (or sheet stacks) a device may take before it folds, when a cell holds ``2 * per``
    and PMOS takes ``ratio`` of the width (formula.cpp CalculateGateArea / CalculateGateCapacitance): all to
    one kind when the other is absent, one stack each at nanosheet nodes, else split by the ratio with at
    least one for each kind."""
    total = 2 * per
    if ratio == 0:
        return 0, total
    if ratio == 1:
        return total, 0
    if gaa:  # one sheet stack per device when both kinds share the cell
        return 1, 1
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
            else:  # FinFET folds by integer division, nanosheets by ceiling (formula.cpp)
                folds[i] = math.ceil(fins / max(limits[i], 1)) if nd.gaa else fins // max(limits[i], 1)
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
        outer = (1 if nd.gaa else 2) * nd.outer_f  # the nanosheet pass gate counts the outer region once
        height = ((fp - 1) + (fn - 1)) * nd.fin_pitch_um + 2 * nd.fin_width_um + (nd.pn_gap_f + outer) * nd.f_um
    return height, width


@lru_cache(maxsize=None)
def standard_gates(nm: int) -> dict[str, float]:
    """Areas/dimensions (um, um^2) of the node's minimum gates used by the digital blocks."""
    nd = node(nm)
    f = nd.f_um
    inv_h, inv_w = gate_size_um(nd, "INV", 1, MIN_NMOS_F * f, nd.pn_ratio * MIN_NMOS_F * f)
    # the adders' and encoders' NAND2: minimum devices at nanosheet nodes (NeuroSim's GAA special layout)
    nand_n = (1 if nd.gaa else 2) * MIN_NMOS_F * f
    nand_h, nand_w = gate_size_um(nd, "NAND", 2, nand_n, nd.pn_ratio * MIN_NMOS_F * f)
    n_h, n_w = gate_size_um(nd, "INV", 1, MIN_NMOS_F * f, 0.0)
    p_h, p_w = gate_size_um(nd, "INV", 1, 0.0, nd.pn_ratio * MIN_NMOS_F * f)
    return {"inv_h": inv_h, "inv_w": inv_w, "dff_h": inv_h, "dff_w": 12 * inv_w,
            "nand_h": nand_h, "nand_w": nand_w, "adder_bit_um2": 9 * nand_h * nand_w,
            "nmos_um2": n_h * n_w, "pmos_um2": p_h * p_w}


def wire_class(width_nm: float) -> tuple[float, float]:
    """(aspect ratio, resistivity in ohm*m) of a wire of a given width (Param.cpp's width classes)."""
    table = ((175, 1.6, 2.01), (110, 1.6, 2.20), (105, 1.7, 2.21), (80, 1.7, 2.37), (56, 1.8, 2.63), (40, 1.9, 2.97),
             (32, 2.0, 3.25), (22, 2.0, 3.95), (20, 2.0, 4.17), (15, 2.0, 4.98), (12, 2.0, 5.8), (10, 2.0, 6.61),
             (8, 3.0, 7.87))
    for lo, ar, rho in table:
        if width_nm >= lo:
            return ar, rho * 1e-8
    return 3.0, 7.87e-8


def metal1_res_ohm_per_um(nm: int, metal0_nm: float) -> float:
    """Metal1 resistance per um (Param.cpp Metal1_unitwireresis; its barrier correction vanishes, as for
    Metal0): the SRAM word line (SubArray.cpp resRow)."""
    w = METAL1_NM.get(nm, metal0_nm)
    ar, rho = wire_class(w)
    return rho / ((w * 1e-9) ** 2 * ar) * 1e-6


@lru_cache(maxsize=None)
def decoder_gates(nm: int, n_addr: int, mux: bool) -> dict[str, float]:
    """Gate sizes (um) and counts of a 2-bit-predecoded row decoder of ``n_addr`` address bits (RowDecoder.cpp,
    REGULAR_ROW, not parallel): INVs, NAND2s, ceil(n/2)-input NORs and the output driver, whose size is
    Param.cpp sizingfactor_MUX for the column-mux decoder and 1 otherwise."""
    nd = node(nm)
    f, pn, m = nd.f_um, nd.pn_ratio, MIN_NMOS_F * nd.f_um
    k = max(math.ceil(n_addr / 2), 1)
    drv = nd.mux_sizing if mux else 1.0
    inv = gate_size_um(nd, "INV", 1, m, pn * m)
    nand = gate_size_um(nd, "NAND", 2, 2 * m, pn * m)
    nor = gate_size_um(nd, "NOR", k, m, k * pn * m)
    driver = gate_size_um(nd, "INV", 1, 2 * m * drv, 2 * pn * m * drv)
    n_nand = 4 * (n_addr // 2)
    n_nor = 2**n_addr if n_addr > 2 else 0
    metal = (n_nand + (n_addr % 2) * 2) if n_addr > 2 else 0
    return {"inv_h": inv[0], "inv_w": inv[1], "nand_h": nand[0], "nand_w": nand[1], "nor_h": nor[0],
            "nor_w": nor[1], "drv_w": driver[1], "n_inv": n_addr, "n_nand": n_nand, "n_nor": n_nor,
            "metal_w": metal * M3_PITCH_F.get(nm, 2.8) * f}


def mux_decoder_size_um(nm: int, n_addr: int) -> tuple[float, float]:
    """(height, width) of the column-mux decoder laid out on its own (RowDecoder.cpp CalculateArea with no
    height given): gates side by side, the mux-enable NAND and two output drivers after the NOR."""
    d = decoder_gates(nm, n_addr, True)
    h = max(d["nor_h"] * d["n_nor"], d["nand_h"] * d["n_nand"])
    w = d["inv_w"] + d["nand_w"] + d["metal_w"] + d["nor_w"] + d["nand_w"] + 2 * d["drv_w"]
    return h, w


def decoder_width_at_height_um(nm: int, n_addr: int, height_um: float) -> float:
    """Width of a (non-mux) row decoder stacked in columns of a given height (RowDecoder.cpp, height given).
    RowDecoder.cpp never counts the INV columns there (their count stays 0), so neither do we."""
    d = decoder_gates(nm, n_addr, False)

    def cols(count: float, unit_h: float) -> float:
        per = min(math.floor(height_um / unit_h + 1e-9), count)
        return math.ceil(count / per - 1e-9) if per > 0 and count > 0 else 0

    n_nor = cols(d["n_nor"], d["nor_h"])
    return (d["nand_w"] * cols(d["n_nand"], d["nand_h"])
            + d["metal_w"] + d["nor_w"] * n_nor + 2 * d["drv_w"] * n_nor)
