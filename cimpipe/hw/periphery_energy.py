"""Dynamic energy of NeuroSim V1.4's "other" periphery (besides buffers and interconnect), per layer (pJ).

* word-line switch matrix, per subarray read (an input bit-vector), charged ``numColMuxed`` times
  (SubArray.cpp CalculatePower): 1T1R arrays' NewSwitchMatrix.cpp CalculatePower opens, for every active row,
  three transmission gates (2 drains at the access voltage, 3 at the read voltage, 3 gate pairs at VDD) sized
  ``newswitchmatrixsizeratio`` x minimum; SRAM's SwitchMatrix.cpp (row mode, neuro) 3 drains at the read
  voltage and one gate pair, sized for ``switchmatrixsizeratio`` x the row wire's resistance; both clock all their N flip-flops (DFF.cpp, not validated: no gamma);
* column mux (Mux.cpp), when numColMuxed > 1: N/mux pass gates turned on per read (gate at VDD, two drains
  at the read voltage), and its decoder (RowDecoder.cpp): log2(mux) address inverters and NANDs per read;
* chip ReLU (BitShifter.cpp): ``inputBits`` flip-flops per output value.
"""

from __future__ import annotations

import torch

from cimpipe.hw import digital_energy as DE
from cimpipe.hw import gates as G
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
ACCESS_VOLTAGE_V = 1.1  # Param.cpp accessVoltage (1T1R gate)
NEW_SWITCH_RATIO = {22: 14.0}  # Param.cpp newswitchmatrixsizeratio per node; 6 elsewhere
NEW_SWITCH_RATIO_DEFAULT = 6.0
REPEATERS = {2: 3, 1: 3}  # Param.cpp buffernumber: the SRAM row is driven in buffernumber + 1 sections


def _tg_caps(tech: Technology, width_f: float) -> tuple[float, float, float]:
    """(gate N, gate P, drain N+P) of a transmission gate with an NMOS ``width_f`` feature sizes wide."""
    pn = DE._pn(tech)
    return DE._cg_f(tech, width_f), DE._cg_f(tech, pn * width_f), DE._cd_f(tech, width_f) + DE._cd_f(tech, pn * width_f)


def tg_width_f(tech: Technology, res_ohm: Tensor, factor: float) -> tuple[Tensor, Tensor]:
    """NMOS and PMOS widths (in F) of a transmission gate of resistance ``res_ohm``: a 1 F device's on-resistance
    (2 F at FinFET nodes) times ``factor`` over twice the target (SwitchMatrix.cpp / Mux.cpp Initialize, factor
    LINEAR_REGION_RATIO = 0.2 for switch matrices, 1 for muxes); whole fin pairs at FinFET nodes, at least 1 F."""
    nd = G.node(tech.node.node_nm)
    base = (2.0 if nd.finfet else 1.0) * nd.f_um
    out = []
    for pmos in (False, True):
        w = G.on_resistance_ohm(nd, base, pmos) * factor / (2 * res_ohm)
        out.append(2 * torch.ceil(w - 1e-9) if nd.finfet else torch.clamp(w, min=1.0))
    return out[0], out[1]


def _tg_pair_caps(tech: Technology, wn: Tensor, wp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return DE._cg_f(tech, wn), DE._cg_f(tech, wp), DE._cd_f(tech, wn) + DE._cd_f(tech, wp)


def mux_resistance_ohm(tech: Technology, rows_parallel: Tensor) -> Tensor:
    """Target resistance of the column mux's pass gates (SubArray.cpp): the SRAM access resistance over half the
    parallel rows; for resistive cells the average column of ``rows_parallel`` cells (half on, half off, with the
    access device) over the parallel rows."""
    if tech.device.is_sram:
        from cimpipe.hw.adc_energy import sram_access_resistance_ohm
        return sram_access_resistance_ohm(tech) / (rows_parallel / 2)
    d = tech.device
    r_acc = 0.25 * d.r_on_ohm
    g = 0.5 / (d.r_on_ohm + r_acc) + 0.5 / (d.r_off_ohm + r_acc)
    return 1.0 / (g * rows_parallel)


def subarray_read_pj(tech: Technology, sub: Tensor, mux: Tensor, density: Tensor,
                     rows_parallel: Tensor) -> Tensor:
    """Switch matrix, column mux and mux decoder of one subarray for one input bit-vector."""
    n = tech.node
    vdd, vr = n.vdd_v, n.read_voltage_v
    flop = DE.dff_pj(tech, 1.0, 1.0) / DE.GAMMA
    if tech.device.is_sram:
        # SwitchMatrix.cpp: the row wire's resistance (per section between repeaters) times switchmatrixsizeratio
        res_row = (sub * tech.cell_width_f * n.feature_um * n.wire_res_ohm_per_um / (1 + REPEATERS.get(n.node_nm, 0))
                   * G.node(n.node_nm).switch_ratio)
        g_n, g_p, d = _tg_pair_caps(tech, *tg_width_f(tech, res_row, 0.2))
        per_row = 3 * d * vr * vr + (g_n + g_p) * vdd * vdd
    else:
        ratio = NEW_SWITCH_RATIO.get(n.node_nm, NEW_SWITCH_RATIO_DEFAULT)  # gates.py SWITCH_SIZING agrees
        g_n, g_p, d = _tg_caps(tech, DE.MIN_NMOS_F * ratio)
        per_row = 2 * d * ACCESS_VOLTAGE_V ** 2 + 3 * d * vr * vr + 3 * (g_n + g_p) * vdd * vdd
    switch = mux * sub * (density * per_row * 1e12 + flop)
    mg_n, _, md = _tg_pair_caps(tech, *tg_width_f(tech, mux_resistance_ohm(tech, rows_parallel), 1.0))
    mux_e = sub * (mg_n * vdd * vdd + 2 * md * vr * vr) * 1e12
    ci_inv, _ = DE.inv_caps_f(tech)
    ci_nand, _ = DE.nand2_caps_f(tech)
    decoder = mux * torch.ceil(torch.log2(torch.clamp(mux, min=1.0))) * (ci_inv + 2 * ci_nand) * vdd * vdd * 1e12
    return switch + torch.where(mux > 1, mux_e + decoder, torch.zeros_like(switch))


def activation_pj(tech: Technology, outputs: Tensor, input_bits: Tensor) -> Tensor:
    """Chip ReLU of ``outputs`` values: ``inputBits`` flip-flops clocked per value (BitShifter.cpp)."""
    return outputs * input_bits * DE.dff_pj(tech, 1.0, 1.0) / DE.GAMMA
