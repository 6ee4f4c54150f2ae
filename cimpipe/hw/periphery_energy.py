"""Dynamic energy of NeuroSim V1.4's "other" periphery (besides buffers and interconnect), per layer (pJ).

* word-line switch matrix, per subarray read (an input bit-vector), charged ``numColMuxed`` times
  (SubArray.cpp CalculatePower): 1T1R arrays' NewSwitchMatrix.cpp CalculatePower opens, for every active row,
  three transmission gates (2 drains at the access voltage, 3 at the read voltage, 3 gate pairs at VDD) sized
  ``newswitchmatrixsizeratio`` x minimum; SRAM's SwitchMatrix.cpp (row mode, neuro) 3 drains at the read
  voltage and one gate pair; both clock all their N flip-flops (DFF.cpp, not validated: no gamma);
* column mux (Mux.cpp), when numColMuxed > 1: N/mux pass gates turned on per read (gate at VDD, two drains
  at the read voltage), and its decoder (RowDecoder.cpp): log2(mux) address inverters and NANDs per read;
* chip ReLU (BitShifter.cpp): ``inputBits`` flip-flops per output value.
"""

from __future__ import annotations

import torch

from cimpipe.hw import digital_energy as DE
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
ACCESS_VOLTAGE_V = 1.1  # Param.cpp accessVoltage (1T1R gate)
NEW_SWITCH_RATIO = {22: 14.0}  # Param.cpp newswitchmatrixsizeratio per node; 6 elsewhere
NEW_SWITCH_RATIO_DEFAULT = 6.0


def _tg_caps(tech: Technology, width_f: float) -> tuple[float, float, float]:
    """(gate N, gate P, drain N+P) of a transmission gate with an NMOS ``width_f`` feature sizes wide."""
    pn = DE._pn(tech)
    return DE._cg_f(tech, width_f), DE._cg_f(tech, pn * width_f), DE._cd_f(tech, width_f) + DE._cd_f(tech, pn * width_f)


def subarray_read_pj(tech: Technology, sub: Tensor, mux: Tensor, density: Tensor) -> Tensor:
    """Switch matrix, column mux and mux decoder of one subarray for one input bit-vector."""
    n = tech.node
    vdd, vr = n.vdd_v, n.read_voltage_v
    flop = DE.dff_pj(tech, 1.0, 1.0) / DE.GAMMA
    if tech.device.is_sram:
        g_n, g_p, d = _tg_caps(tech, DE.MIN_NMOS_F)
        per_row = 3 * d * vr * vr + (g_n + g_p) * vdd * vdd
    else:
        ratio = NEW_SWITCH_RATIO.get(n.node_nm, NEW_SWITCH_RATIO_DEFAULT)  # gates.py SWITCH_SIZING agrees
        g_n, g_p, d = _tg_caps(tech, DE.MIN_NMOS_F * ratio)
        per_row = 2 * d * ACCESS_VOLTAGE_V ** 2 + 3 * d * vr * vr + 3 * (g_n + g_p) * vdd * vdd
    switch = mux * sub * (density * per_row * 1e12 + flop)
    mg_n, _, md = _tg_caps(tech, DE.MIN_NMOS_F)
    mux_e = sub * (mg_n * vdd * vdd + 2 * md * vr * vr) * 1e12
    ci_inv, _ = DE.inv_caps_f(tech)
    ci_nand, _ = DE.nand2_caps_f(tech)
    decoder = mux * torch.ceil(torch.log2(torch.clamp(mux, min=1.0))) * (ci_inv + 2 * ci_nand) * vdd * vdd * 1e12
    return switch + torch.where(mux > 1, mux_e + decoder, torch.zeros_like(switch))


def activation_pj(tech: Technology, outputs: Tensor, input_bits: Tensor) -> Tensor:
    """Chip ReLU of ``outputs`` values: ``inputBits`` flip-flops clocked per value (BitShifter.cpp)."""
    return outputs * input_bits * DE.dff_pj(tech, 1.0, 1.0) / DE.GAMMA
