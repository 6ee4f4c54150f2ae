"""The synchronous chip clock: NeuroSim V1.4's subarray sensing cycle, vectorized over hardware options.

NeuroSim V1.4 SubArray.cpp (CalculateLatency, conventionalParallel, ``CalculateclkFreq``) sets the clock
period to the slowest sensing cycle of any subarray::

    beta * ( max(t_WL switch matrix, t_mux + t_mux decoder) + t_sense amp + t_encoder + t_SAR )

capped at 1 GHz (main.cpp). The pieces, each from its NeuroSim source:

* WL switch matrix (NewSwitchMatrix.cpp): a transmission gate of ``newswitchmatrixsizeratio`` minimum widths
  drives the word line (wire plus every access-transistor gate), 0.69 (R_tg (C_tg + C_WL) + R_WL C_WL / 2);
* column mux (Mux.cpp): transmission gates sized to a quarter of the column's average resistance with
  ``numRowParallel`` rows on, 2.3 R C; its decoder (RowDecoder.cpp, MUX mode) drives the gates of all
  ``numCol/numColMuxed`` gates through a driver of ``sizingfactor_MUX`` (Param.cpp, per node);
* flash ADC (MultilevelSenseAmp.cpp): the slower of the sense amps at the first and last reference,
  references ``R_start * L / (L - i)`` with ``R_start = R_on / numRowParallel`` (SRAM: access resistance),
  delays from NeuroSim's Cadence fits (``data/sense_amp_latency.yaml``) plus their column-capacitance term;
* SAR ADC (SarADC.cpp): (bits + 1) ns.

Units: ohm, F (farad) inside, ns out.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import torch
import yaml

from cimpipe.hw import delays as G
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor

BETA = 1.4  # NeuroSim param->beta: sensing-cycle latency factor (validated = true)
MAX_CLOCK_GHZ = 1.0  # Param.cpp clkFreq
IR_DROP_TOLERANCE = 0.25
LINEAR_REGION_RATIO = 0.20
WIRE_CAP_F_PER_UM = 0.2e-15
PMOS_CURRENT_RATIO = 0.5  # PMOS on-current per width over NMOS's (our reading of Technology.cpp's tables)
# Param.cpp: newswitchmatrixsizeratio (6 unless set per node) and sizingfactor_MUX (1 unless set per node)
SWITCH_RATIO = {22: 14.0}
MUX_DRIVER_SIZING = {22: 110.0, 14: 130.0, 10: 80.0, 7: 60.0, 5: 50.0, 3: 25.0, 2: 25.0, 1: 30.0}


@lru_cache(maxsize=None)
def sense_amp_table() -> dict[int, dict]:
    text = resources.files("cimpipe.hw").joinpath("data/sense_amp_latency.yaml").read_text()
    return {int(k): v for k, v in yaml.safe_load(text).items()}


def _width_f(tech: Technology) -> float:
    """NeuroSim sizes transistors of FinFET nodes (<= 14 nm) from 2F."""
    return 2.0 if tech.node.node_nm <= 14 else 1.0


def _res(tech: Technology, width_um: float | Tensor, mult: float = 1.0, pmos: bool = False):
    """On-resistance VDD / (Ion W) (formula.cpp CalculateOnResistance[_normal]); ``mult`` its effective-resistance
    multiplier."""
    n = tech.node
    ion = n.ion_ua_per_um * 1e-6 * (PMOS_CURRENT_RATIO if pmos else 1.0)
    return mult * n.vdd_v / (ion * width_um)


def _cgate(tech: Technology, width_um):
    return tech.node.gate_cap_ff_per_um * 1e-15 * width_um


def access_resistance_ohm(tech: Technology) -> float:
    """Access transistor of a cell: 0.25 R_on for 1T1R (Param.cpp resistanceAccess); SRAM: a minimum NMOS."""
    if tech.device.is_sram:
        return _res(tech, _width_f(tech) * tech.node.feature_um, G.EFFECTIVE_RES_MULT)
    return IR_DROP_TOLERANCE * tech.device.r_on_ohm


def access_width_um(tech: Technology) -> float:
    """1T1R access width giving R_access in the linear region (SubArray.cpp Initialize); SRAM: minimum."""
    f = tech.node.feature_um
    if tech.device.is_sram:
        return _width_f(tech) * f
    w_f = _res(tech, _width_f(tech) * f, G.EFFECTIVE_RES_MULT) * LINEAR_REGION_RATIO / access_resistance_ohm(tech)
    return w_f * _width_f(tech) * f


def column_cap_f(tech: Technology, rows: Tensor) -> Tensor:
    """Bitline: wire plus one access drain per cell (drain taken as half the gate capacitance per width)."""
    length = rows * tech.cell_height_f * tech.node.feature_um
    return length * WIRE_CAP_F_PER_UM + rows * 0.5 * _cgate(tech, access_width_um(tech))


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


def flash_delay_ns(tech: Technology, rows: Tensor, rows_parallel: Tensor, bits: Tensor) -> Tensor:
    levels = torch.pow(2.0, bits)
    r_start = (access_resistance_ohm(tech) if tech.device.is_sram else tech.device.r_on_ohm) / rows_parallel
    r_last = r_start * levels / 2.0  # i = L - 2
    r_first = r_start * levels / torch.clamp(levels - 1.0, min=1.0)  # i = 1
    c_col = column_cap_f(tech, rows) + _cgate(tech, 2 * tech.node.feature_um) * torch.clamp(levels - 3.0, min=0.0)
    t = torch.maximum(sense_amp_delay_s(tech, r_last, c_col), sense_amp_delay_s(tech, r_first, c_col))
    encoder = G.nand2_delay_ns(tech) * 1e-9 * (bits + 1.0)  # MultilevelSAEncoder: NAND/NOR tree per output bit
    return (t + encoder) * 1e9


def wordline_delay_ns(tech: Technology, cols: Tensor) -> Tensor:
    n, f = tech.node, tech.node.feature_um
    length = cols * tech.cell_width_f * f
    c_wl = length * WIRE_CAP_F_PER_UM + cols * _cgate(tech, access_width_um(tech))
    r_wl = length * n.wire_res_ohm_per_um
    ratio = SWITCH_RATIO.get(n.node_nm, 6.0)
    wn = 2 * f * ratio
    r_tg = 1.0 / (1.0 / _res(tech, wn) + 1.0 / _res(tech, 2 * wn))
    c_tg = _cgate(tech, 3 * wn)
    return 0.69 * (r_tg * (c_tg + c_wl) + r_wl * c_wl / 2) * 1e9


def mux_delay_ns(tech: Technology, cols: Tensor, rows_parallel: Tensor, mux: Tensor) -> Tensor:
    """Column mux and its decoder (zero without a mux)."""
    n, f = tech.node, tech.node.feature_um
    d = tech.device
    if d.is_sram:
        r_tg = IR_DROP_TOLERANCE * access_resistance_ohm(tech) / (rows_parallel / 2)
    else:
        r_acc = access_resistance_ohm(tech)
        r_cell = 2.0 / (1.0 / (d.r_on_ohm + r_acc) + 1.0 / (d.r_off_ohm + r_acc))
        r_tg = IR_DROP_TOLERANCE * r_cell / rows_parallel
    unit = _width_f(tech) * f
    wn = _res(tech, unit) * unit / (r_tg * 2)
    wp = _res(tech, unit, pmos=True) * unit / (r_tg * 2)
    c_n, c_p = _cgate(tech, wn), _cgate(tech, wp)
    t_mux = 2.3 * r_tg * (0.5 * (c_n + c_p) + 0.5 * c_n + 0.5 * c_p)
    gates = torch.ceil(cols / mux)
    sizing = MUX_DRIVER_SIZING.get(n.node_nm, 1.0)
    w_drv = 2 * f * sizing
    c_drv = _cgate(tech, 3 * w_drv)
    r_drv = _res(tech, w_drv, G.EFFECTIVE_RES_MULT)
    t_dec = 0.69 * r_drv * (2 * c_drv + c_n * gates) + 0.69 * r_drv * (c_drv + c_p * gates)
    t_front = 4 * G.nand2_delay_ns(tech) * 1e-9
    return torch.where(mux > 1, (t_mux + t_dec + t_front) * 1e9, torch.zeros_like(t_mux))


def sensing_cycle_ns(tech: Technology, sub: Tensor, rows_parallel: Tensor, mux: Tensor, bits: Tensor,
                     is_sar: Tensor) -> Tensor:
    """beta * (max(WL, mux + decoder) + ADC) for square ``sub`` x ``sub`` subarrays."""
    row_path = torch.maximum(wordline_delay_ns(tech, sub), mux_delay_ns(tech, sub, rows_parallel, mux))
    adc = torch.where(is_sar, bits + 1.0, flash_delay_ns(tech, sub, rows_parallel, bits))
    return BETA * (row_path + adc)


def clock_period_ns(cycle_ns: Tensor) -> Tensor:
    return torch.clamp(cycle_ns, min=1.0 / MAX_CLOCK_GHZ)
