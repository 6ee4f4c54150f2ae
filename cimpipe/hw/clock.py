"""The synchronous chip clock: NeuroSim V1.4's subarray sensing cycle, vectorized over hardware options.

NeuroSim V1.4 SubArray.cpp (CalculateLatency, conventionalParallel, ``CalculateclkFreq``) sets the clock
period to the slowest sensing cycle of any subarray::

    beta * ( max(t_WL switch matrix, t_mux + t_mux decoder) + t_precharge (SRAM) + t_sense amp + t_encoder + t_SAR )

capped at 1 GHz (main.cpp). Each piece is written from its NeuroSim source with NeuroSim's gate sizing and
device figures (:mod:`cimpipe.hw.transistors`):

* WL switch matrix: 1T1R (NewSwitchMatrix.cpp) a transmission gate of ``newswitchmatrixsizeratio`` minimum
  widths drives the word line (wire plus every access-transistor gate) through the line's resistance; SRAM
  (SwitchMatrix.cpp) a gate sized against ``switchmatrixsizeratio`` of the row resistance, distributed-RC delay;
* column mux (Mux.cpp): transmission gates sized to a quarter of the column's average resistance with
  ``numRowParallel`` rows on, 2.3 R C; its decoder (RowDecoder.cpp, MUX mode): 2-bit predecoding (INV, NAND2,
  NOR), a NAND and two output inverters of ``sizingfactor_MUX`` (Param.cpp, per node) driving the NMOS and PMOS
  gates of all ``numCol/numColMuxed`` transmission gates, each stage a Horowitz delay fed the previous ramp;
* SRAM precharger (Precharger.cpp): a 6 F PMOS (widened to the cell, EnlargeSize) charging the bit line;
* flash ADC (MultilevelSenseAmp.cpp): the slower of the sense amps at the first and last reference,
  references ``R_start * L / (L - i)`` with ``R_start = R_on / numRowParallel`` (SRAM: access resistance),
  delays from NeuroSim's Cadence fits (``data/sense_amp_latency.yaml``) plus their column-capacitance term;
  its encoder (MultilevelSAEncoder.cpp): an inverter and a NAND2 driving ``L/2`` NAND inputs;
* SAR ADC (SarADC.cpp): (bits + 1) ns.

Units: ohm, F (farad), s inside, ns out.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import torch
import yaml

from cimpipe.hw import gates as GT
from cimpipe.hw import transistors as TR
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor

BETA = 1.4  # NeuroSim param->beta: sensing-cycle latency factor (validated = true)
MAX_CLOCK_GHZ = 1.0  # Param.cpp clkFreq
IR_DROP_TOLERANCE = 0.25
LINEAR_REGION_RATIO = 0.20
WIRE_CAP_F_PER_UM = 0.2e-15
LN2 = math.log(2.0)
# Param.cpp: sizingfactor_MUX (1 unless set per node); newswitchmatrixsizeratio / switchmatrixsizeratio in gates.py
MUX_DRIVER_SIZING = {22: 110.0, 14: 130.0, 10: 80.0, 7: 60.0, 5: 50.0, 3: 25.0, 2: 25.0, 1: 30.0}


@lru_cache(maxsize=None)
def sense_amp_table() -> dict[int, dict]:
    text = resources.files("cimpipe.hw").joinpath("data/sense_amp_latency.yaml").read_text()
    return {int(k): v for k, v in yaml.safe_load(text).items()}


def _nm(tech: Technology) -> int:
    return tech.node.node_nm


def _unit_um(tech: Technology) -> float:
    """NeuroSim sizes devices of FinFET nodes (<= 14 nm) from 2F, planar ones from F."""
    return (2.0 if _nm(tech) <= 14 else 1.0) * tech.node.feature_um


def _f(x: Tensor | float) -> float:
    return float(x)


def access_resistance_ohm(tech: Technology) -> float:
    """Access transistor of a cell: 0.25 R_on for 1T1R (SubArray.cpp resCellAccess); SRAM: a unit NMOS."""
    if tech.device.is_sram:
        return _f(TR.on_res_ohm(_nm(tech), _unit_um(tech)))
    return IR_DROP_TOLERANCE * tech.device.r_on_ohm


def access_width_um(tech: Technology) -> float:
    """Drawn access width: 1T1R sized to be linear at R_access (SubArray.cpp Initialize); SRAM: unit."""
    if tech.device.is_sram:
        return _unit_um(tech)
    w_f = _f(TR.on_res_ohm(_nm(tech), _unit_um(tech))) * LINEAR_REGION_RATIO / access_resistance_ohm(tech)
    return w_f * _unit_um(tech)


# Param.cpp SRAM cell width in F (planar nodes 28 F); Metal1 width (nm) where it differs from Metal0
SRAM_CELL_WIDTH_F = {14: 30.8, 10: 31.25, 7: 34.43, 5: 43.75, 3: 68.26, 2: 120.0, 1: 144.0}
METAL1_NM = {14: 39.0, 10: 32.0, 7: 28.5, 5: 17.0, 3: 16.0, 2: 11.5, 1: 10.0}


def _cell_h_f(tech: Technology) -> float:
    return GT.SRAM_CELL_HEIGHT_F.get(_nm(tech), tech.cell_height_f) if tech.device.is_sram else tech.cell_height_f


def _cell_w_f(tech: Technology) -> float:
    return SRAM_CELL_WIDTH_F.get(_nm(tech), 28.0) if tech.device.is_sram else tech.cell_width_f


def _row_wire_ohm_per_um(tech: Technology) -> float:
    """Word lines run in Metal1 (Param.cpp Metal1_unitwireresis): the Metal0 figure scaled by width squared."""
    w0 = tech.node.wire_width_nm
    return tech.node.wire_res_ohm_per_um * (w0 / METAL1_NM.get(_nm(tech), w0)) ** 2


def column_cap_f(tech: Technology, rows: Tensor) -> Tensor:
    """Bit line (SubArray.cpp capCol): wire plus one access-transistor drain per cell."""
    length = rows * _cell_h_f(tech) * tech.node.feature_um
    w = access_width_um(tech)
    nd = TR.node(_nm(tech))
    if nd.finfet:  # SubArray.cpp: cap_draintotal per fin of effective width
        per_cell = {14: 2.499e-17, 10: 2.668e-17, 7: 2.224e-17, 5: 2.076e-17, 3: 1.791e-17, 2: 1.543e-17,
                    1: 1.409e-17}[_nm(tech)] * w / _unit_um(tech)
    else:
        per_cell = _f(TR.drain_cap_f(_nm(tech), w, 0.0))
    return length * WIRE_CAP_F_PER_UM + rows * per_cell


def sense_amp_delay_s(tech: Technology, r_ohm: Tensor, col_cap_f: Tensor) -> Tensor:
    """One current-mode sense amp against reference ``r_ohm`` (see module doc); nodes without a fit use the
    nearest node's."""
    table = sense_amp_table()
    node = min(table, key=lambda k: abs(k - tech.node.node_nm))
    fit = table[node]
    r = torch.clamp(r_ohm, min=1.0)
    out = torch.zeros_like(r)
    done = torch.zeros_like(r, dtype=torch.bool)
    for hi, kind, a, b in fit["pieces"]:
        inside = ~done & (r < (math.inf if hi is None else float(hi)))
        val = a * torch.log(r) + b if kind == "log" else a * r + b
        out = torch.where(inside, val, out)
        done = done | inside
    thr, ref = fit["threshold_ohm"], fit["ref_cap_f"]
    extra = fit["dc_s"] / (fit["r2_ohm"] - thr) * (r - thr) * (col_cap_f - ref) / ref
    return out + torch.where(r > thr, extra, torch.zeros_like(out))


def encoder_delay_s(tech: Technology, levels: Tensor) -> Tensor:
    """MultilevelSAEncoder.cpp: a minimum inverter into two NAND inputs, then a NAND2 (4x/2x minimum) into the
    ``ceil(L/2)`` inputs of the output NANDs."""
    nm, f, pn = _nm(tech), tech.node.feature_um, TR.pn_ratio(_nm(tech))
    w = TR.MIN_NMOS_F * f
    inv_in, inv_out = TR.inv_caps_f(nm, w, pn * w)
    nand_in, nand_out = TR.inv_caps_f(nm, 4 * w, 2 * pn * w)
    t1, ramp = TR.horowitz_s(TR.on_res_ohm(nm, w) * (inv_out + 2 * nand_in))
    t2, _ = TR.horowitz_s(2 * TR.on_res_ohm(nm, 4 * w) * (nand_out + nand_in * torch.ceil(levels / 2)), ramp)
    return t1 + t2


def flash_delay_ns(tech: Technology, rows: Tensor, rows_parallel: Tensor, bits: Tensor) -> Tensor:
    """Sense amps (slower reference) plus encoder of the multilevel sense amp ADC."""
    levels = torch.pow(2.0, bits)
    r_start = (access_resistance_ohm(tech) if tech.device.is_sram else tech.device.r_on_ohm) / rows_parallel
    r_last = r_start * levels / 2.0  # i = L - 2
    r_first = r_start * levels / torch.clamp(levels - 1.0, min=1.0)  # i = 1
    sa_gate = _f(TR.gate_cap_f(_nm(tech), TR.MIN_NMOS_F * tech.node.feature_um))
    c_col = column_cap_f(tech, rows) + sa_gate * torch.clamp(levels - 3.0, min=0.0)
    t = torch.maximum(sense_amp_delay_s(tech, r_last, c_col), sense_amp_delay_s(tech, r_first, c_col))
    return (t + encoder_delay_s(tech, levels)) * 1e9


def precharge_delay_ns(tech: Technology, rows: Tensor) -> Tensor:
    """SRAM bit-line precharger (Precharger.cpp): a 6 F PMOS through the bit line's resistance; 0 for 1T1R."""
    if not tech.device.is_sram:
        return torch.zeros_like(rows)
    nm, f = _nm(tech), tech.node.feature_um
    c_col = column_cap_f(tech, rows)
    r_col = rows * _cell_h_f(tech) * f * tech.node.wire_res_ohm_per_um
    _, w_pre = TR.enlarge_um(nm, 0.0, 6 * f)  # both PMOS widened to the cell height
    _, w_eq = TR.enlarge_um(nm, 0.0, TR.MIN_NMOS_F * f)
    c_out = TR.drain_cap_f(nm, 0.0, w_pre) + TR.drain_cap_f(nm, 0.0, w_eq)
    tau = TR.on_res_ohm(nm, w_pre, pmos=True) * (c_col + c_out) + r_col * c_col / 2
    return LN2 * tau * 1e9


def wordline_delay_ns(tech: Technology, cols: Tensor) -> Tensor:
    """WL switch matrix driving one word line (see module doc)."""
    nm, f = _nm(tech), tech.node.feature_um
    nd, pn = GT.node(nm), TR.pn_ratio(nm)
    length = cols * _cell_w_f(tech) * f
    r_wl = length * _row_wire_ohm_per_um(tech)
    if tech.device.is_sram:  # SwitchMatrix.cpp, no repeaters (buffernumber 0)
        c_wl = length * WIRE_CAP_F_PER_UM + cols * TR.gate_cap_f(nm, access_width_um(tech))  # one WL on (parallel)
        r_set = r_wl * nd.switch_ratio
        wn = TR.on_res_ohm(nm, _unit_um(tech), effective=False) * f * LINEAR_REGION_RATIO / (r_set * 2)
        wp = TR.on_res_ohm(nm, _unit_um(tech), pmos=True, effective=False) * f * LINEAR_REGION_RATIO / (r_set * 2)
        if nd.finfet:
            wn, wp = 2 * torch.ceil(wn / f) * f, 2 * torch.ceil(wp / f) * f
        else:
            wn, wp = wn.clamp(min=f), wp.clamp(min=f)
        r_tg = 1.0 / (1.0 / TR.on_res_ohm(nm, wn, effective=False) + 1.0 / TR.on_res_ohm(nm, wp, True, False))
        c_out = 2 * TR.drain_cap_f(nm, wn, wp) + 0.5 * (TR.gate_cap_f(nm, wn) + TR.gate_cap_f(nm, wp))
        return (0.69 * r_tg * c_out + c_wl * (0.69 * r_tg + 0.38 * r_wl)) * 1e9
    c_wl = length * WIRE_CAP_F_PER_UM + cols * TR.gate_cap_f(nm, access_width_um(tech))
    wn = TR.MIN_NMOS_F * f * nd.newswitch_ratio
    wp = pn * wn
    # NewSwitchMatrix.cpp takes the NMOS on-current for both devices of its gate
    r_tg = 1.0 / (1.0 / TR.on_res_ohm(nm, wn, effective=False) + 1.0 / TR.on_res_ohm(nm, wp, effective=False))
    c_out = 2 * TR.drain_cap_f(nm, wn, wp) + 0.5 * (TR.gate_cap_f(nm, wn) + TR.gate_cap_f(nm, wp))
    return LN2 * (r_tg * (c_out + c_wl) + r_wl * c_wl / 2) * 1e9


def _mux_gate_widths_um(tech: Technology, rows_parallel: Tensor) -> tuple[Tensor, Tensor]:
    """Mux.cpp: transmission gates sized so that they are a quarter of the column's resistance."""
    nm, f = _nm(tech), tech.node.feature_um
    d = tech.device
    if d.is_sram:
        r_in = access_resistance_ohm(tech) / (rows_parallel / 2)
    else:
        r_acc = access_resistance_ohm(tech)
        r_cell = 2.0 / (1.0 / (d.r_on_ohm + r_acc) + 1.0 / (d.r_off_ohm + r_acc))
        r_in = r_cell / rows_parallel
    r_tg = IR_DROP_TOLERANCE * r_in
    wn = TR.on_res_ohm(nm, _unit_um(tech), effective=False) * f / (r_tg * 2)
    wp = TR.on_res_ohm(nm, _unit_um(tech), pmos=True, effective=False) * f / (r_tg * 2)
    if nm <= 14:
        return 2 * torch.ceil(wn / f - 1e-9) * f, 2 * torch.ceil(wp / f - 1e-9) * f
    return wn.clamp(min=f), wp.clamp(min=f)


def mux_decoder_delay_s(tech: Technology, cols: Tensor, mux: Tensor, load_n_f: Tensor, load_p_f: Tensor) -> Tensor:
    """RowDecoder.cpp, MUX mode, for ``log2(mux)`` address bits (see module doc)."""
    nm, f, pn = _nm(tech), tech.node.feature_um, TR.pn_ratio(_nm(tech))
    w = TR.MIN_NMOS_F * f
    bits = torch.ceil(torch.log2(mux.clamp(min=2.0)) - 1e-9)
    has_nor = bits > 2
    n_nor = torch.where(has_nor, torch.pow(2.0, bits), torch.zeros_like(bits))
    inv_n, inv_p = TR.enlarge_um(nm, w, pn * w)
    nand_n, nand_p = TR.enlarge_um(nm, 2 * w, pn * w)
    nor_n, nor_p = TR.enlarge_um(nm, torch.full_like(bits, w), torch.ceil(bits / 2) * pn * w)
    inv_in, inv_out = TR.inv_caps_f(nm, inv_n, inv_p)
    nand_in, nand_out = TR.inv_caps_f(nm, nand_n, nand_p)
    nor_in, nor_out = TR.inv_caps_f(nm, nor_n, nor_p)
    s = MUX_DRIVER_SIZING.get(nm, 1.0)
    dn, dp = 2 * w * s, 2 * pn * w * s
    drv_in, drv_out = TR.inv_caps_f(nm, dn, dp)
    t1, r1 = TR.horowitz_s(TR.on_res_ohm(nm, inv_n) * (inv_out + 2 * nand_in))  # address inverters (numNand > 0)
    tr2 = 2 * TR.on_res_ohm(nm, nand_n) * (nand_out + torch.where(has_nor, nor_in * n_nor / 4, load_n_f))
    t2, r2 = TR.horowitz_s(tr2, r1)  # predecoding NAND2
    t3, r3 = TR.horowitz_s(2 * TR.on_res_ohm(nm, nor_p, pmos=True) * (nor_out + nand_in), r2)  # NOR
    t3 = torch.where(has_nor, t3, torch.zeros_like(t3))
    r3 = torch.where(has_nor, r3, torch.full_like(r3, TR.STEP_RAMP))
    t4, r4 = TR.horowitz_s(TR.on_res_ohm(nm, nand_n) * (nand_out + inv_in), r3)  # enable NAND
    t5, r5 = TR.horowitz_s(TR.on_res_ohm(nm, dp, pmos=True) * (drv_out + drv_in + load_n_f), r4)
    t6, _ = TR.horowitz_s(TR.on_res_ohm(nm, dn) * (drv_out + load_p_f), r5)
    return t1 + t2 + t3 + t4 + t5 + t6


def mux_delay_ns(tech: Technology, cols: Tensor, rows_parallel: Tensor, mux: Tensor) -> Tensor:
    """Column mux and its decoder (zero without a mux)."""
    nm = _nm(tech)
    wn, wp = _mux_gate_widths_um(tech, rows_parallel)
    r_tg = 1.0 / (1.0 / TR.on_res_ohm(nm, wn, effective=False) + 1.0 / TR.on_res_ohm(nm, wp, True, False))
    c_n, c_p = TR.gate_cap_f(nm, wn), TR.gate_cap_f(nm, wp)
    t_mux = 2.3 * r_tg * (TR.drain_cap_f(nm, wn, wp) + 0.5 * c_n + 0.5 * c_p)
    gates = torch.ceil(cols / mux)
    wn, wp, gates, mux = torch.broadcast_tensors(wn, wp, gates, mux)
    t_dec = mux_decoder_delay_s(tech, cols, mux, TR.gate_cap_f(nm, wn) * gates, TR.gate_cap_f(nm, wp) * gates)
    return torch.where(mux > 1, (t_mux + t_dec) * 1e9, torch.zeros_like(t_dec))


def sensing_cycle_ns(tech: Technology, sub: Tensor, rows_parallel: Tensor, mux: Tensor, bits: Tensor,
                     is_sar: Tensor) -> Tensor:
    """beta * (max(WL, mux + decoder) + precharge + ADC) for square ``sub`` x ``sub`` subarrays."""
    row_path = torch.maximum(wordline_delay_ns(tech, sub), mux_delay_ns(tech, sub, rows_parallel, mux))
    adc = torch.where(is_sar, bits + 1.0, flash_delay_ns(tech, sub, rows_parallel, bits))
    return BETA * (row_path + precharge_delay_ns(tech, sub) + adc)


def clock_period_ns(cycle_ns: Tensor) -> Tensor:
    return torch.clamp(cycle_ns, min=1.0 / MAX_CLOCK_GHZ)
