"""Closed-form circuit models of a crossbar subarray and of the digital blocks around it.

Pure functions over float64 tensors of hardware options (any shape, broadcast), given a
:class:`~cimpipe.hw.technology.Technology`. Structure and formulas follow DNN+NeuroSim V1.3/V1.4
(SubArray.cpp, MultilevelSenseAmp.cpp, SarADC.cpp, ShiftAdd.cpp, HTree.cpp, Buffer.cpp); digital logic is
counted in NAND2 gate equivalents (GE) of the node (see :class:`~cimpipe.hw.technology.NodeParams`).
The dimensionless constants of :data:`CAL` are NeuroSim's calibration factors (alpha..zeta) plus a few
transistor-count/sizing constants fixed once against NeuroSim V1.3's VGG-8 example (point A of the
project's calibration notes); they are the same for every node, device and design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cimpipe.hw.technology import Technology

Tensor = torch.Tensor

# Operand widths the digital periphery is sized for (the search space's widest bits).
MAX_OPERAND_BITS = 8
# Probability that an input bit is 1 (rows driven per read), as in NeuroSim's activityRowRead default.
INPUT_ACTIVITY = 0.5
# SRAM bitlines are sensed after a small swing (NeuroSim minSenseVoltage).
SRAM_SENSE_VOLTAGE_V = 0.1


@dataclass(frozen=True)
class Calibration:
    """Model constants. alpha..zeta are NeuroSim's (Param.cpp, ``validated=true``); the rest are ours."""

    alpha: float = 1.44  # level-shifter wiring area factor
    beta: float = 1.4  # sensing-cycle latency factor
    gamma: float = 0.5  # DFF activity in shift-add / accumulation
    delta: float = 0.15  # adder activity
    epsilon: float = 0.05  # control logic activity
    zeta: float = 1.22  # post-layout energy increase (V1.4 Param.cpp; V1.3's example output implies 1.23)
    adder_ge_per_bit: float = 5.0  # ripple full adder in NAND2 equivalents
    dff_ge_per_bit: float = 4.0  # transmission-gate flip-flop, 16 transistors
    sense_amp_ge: float = 49.0  # one current sense amplifier of the flash ADC (large matched devices)
    sense_amp_switch_ge: float = 3.2  # switched capacitance of one sense amp per decision, in GE
    flash_delay_fo4: float = 76.0  # a 5-bit flash conversion at 22 nm is ~1 ns (manual 6.2)
    mux_sizing: float = 30.0  # column-mux pass-gate width in minimum widths
    wl_switch_sizing: float = 14.0  # WL switch matrix (V1.4 newswitchmatrixsizeratio, 22 nm)
    level_shifter_ge: float = 50.0  # one level shifter built of thick-oxide (write-voltage) devices
    carry_fo4: float = 3.5  # ripple-carry delay per adder bit
    buffer_cycles: float = 3.0  # synchronous register-file access: decode, array, latch
    dff_clock_ge: float = 8.0  # a flip-flop's clock pins and local clock buffer, switched every cycle
    rf_bit_ge: float = 5.0  # one flip-flop based register-file bit incl. its share of periphery
    repeater_energy_overhead: float = 0.37  # repeaters' switched capacitance over the wire's


CAL = Calibration()


def _f(x: Tensor | float) -> Tensor:
    return x if isinstance(x, Tensor) else torch.tensor(float(x), dtype=torch.float64)


def log2_ceil(x: Tensor) -> Tensor:
    return torch.ceil(torch.log2(torch.clamp(x, min=1.0)))


# --------------------------------------------------------------------------------------------------
# Subarray
# --------------------------------------------------------------------------------------------------


def array_area_um2(tech: Technology, rows: Tensor, cols: Tensor) -> Tensor:
    """Cell array: rows x cols cells of ``cell_area_f2`` F^2."""
    return rows * cols * tech.device.cell_area_f2 * tech.node.feature_um**2


def column_length_um(tech: Technology, rows: Tensor) -> Tensor:
    return rows * tech.cell_height_f * tech.node.feature_um


def row_length_um(tech: Technology, cols: Tensor) -> Tensor:
    return cols * tech.cell_width_f * tech.node.feature_um


def column_cap_ff(tech: Technology, rows: Tensor) -> Tensor:
    """Bitline capacitance: wire (0.2 fF/um) plus one minimum drain junction per cell."""
    n = tech.node
    return column_length_um(tech, rows) * n.wire_cap_ff_per_um + rows * 2.0 * n.feature_um * n.gate_cap_ff_per_um * 0.5


def row_cap_ff(tech: Technology, cols: Tensor) -> Tensor:
    """Wordline capacitance: wire plus one access-transistor gate per cell."""
    n = tech.node
    return row_length_um(tech, cols) * n.wire_cap_ff_per_um + cols * 2.0 * n.feature_um * n.gate_cap_ff_per_um


def column_conductance_s(tech: Technology, rows_parallel: Tensor) -> Tensor:
    """Average conductance of one column with ``rows_parallel`` rows on, half the cells at Ron, half at Roff.

    NeuroSim: R_avg = n / (n/2/(Ron+Racc) + n/2/(Roff+Racc)), access resistance Racc = 0.25 Ron (1T1R).
    """
    d = tech.device
    r_acc = 0.25 * d.r_on_ohm
    return rows_parallel * 0.5 * (1.0 / (d.r_on_ohm + r_acc) + 1.0 / (d.r_off_ohm + r_acc))


def flash_adc_area_um2(tech: Technology, bits: Tensor, rows: Tensor) -> Tensor:
    """Flash ADC (NeuroSim MultilevelSenseAmp + encoder): 2^b-1 sense amps, encoder, shared reference column."""
    n = tech.node
    levels = torch.pow(2.0, bits)
    sense = (levels - 1) * CAL.sense_amp_ge * n.gate_area_um2
    encoder = levels * bits / 4.0 * n.gate_area_um2
    reference = array_area_um2(tech, rows, torch.ones_like(rows)) * (levels - 1) / levels
    return sense + encoder + reference


def sar_adc_area_um2(tech: Technology, bits: Tensor) -> Tensor:
    """SAR ADC (NeuroSim SarADC.cpp): A_minN*(269+(b-1)*109) + A_minP*(209+(b-1)*73), A_minP = 1.5 A_minN."""
    a_n = tech.node.min_tx_area_um2
    return a_n * (269 + (bits - 1) * 109) + 1.5 * a_n * (209 + (bits - 1) * 73)


def flash_adc_delay_ns(tech: Technology, bits: Tensor) -> Tensor:
    """Worst-case sense-amp decision: ~1 ns for 5 bits at 22 nm; finer references settle slower."""
    return CAL.flash_delay_fo4 * tech.node.fo4_ps * 1e-3 * (1.0 + 0.08 * (bits - 5))


def sar_adc_delay_ns(bits: Tensor) -> Tensor:
    """NeuroSim's SAR conversion time: (bits + 1) ns."""
    return bits + 1.0


def column_current_energy_pj(tech: Technology, rows_parallel: Tensor, t_ns: Tensor, rows: Tensor) -> Tensor:
    """Energy drawn by one column during one conversion.

    Resistive cells: a * Vread^2 * G_col * t, with a the input activity: the column current flows for the
    whole sensing cycle t. SRAM: the precharged bitline swings by about twice the minimum sense voltage,
    C_bl * VDD * 2 dV.
    """
    d, n = tech.device, tech.node
    if d.is_sram:
        c_bl = column_cap_ff(tech, rows) * 1e-3  # pF
        return c_bl * n.vdd_v * SRAM_SENSE_VOLTAGE_V * 2
    return INPUT_ACTIVITY * d.read_voltage_v**2 * column_conductance_s(tech, rows_parallel) * t_ns * 1e3


def flash_adc_energy_pj(tech: Technology, bits: Tensor) -> Tensor:
    """Sense amps' switched capacitance per conversion: (2^b - 1) decisions (column current counted apart)."""
    return (torch.pow(2.0, bits) - 1) * CAL.sense_amp_switch_ge * tech.node.gate_energy_fj * 1e-3


def sar_adc_energy_pj(tech: Technology, bits: Tensor, col_conductance_s: Tensor) -> Tensor:
    """NeuroSim's SAR model: P = (a_node*b + c_node) uW plus a term growing with column conductance, times (b+1) ns.

    The conductance term uses 0.1 uW per mS of column conductance (our reading of NeuroSim's fitted k/R_col).
    """
    n = tech.node
    p_uw = n.sar_power_slope_uw * bits + n.sar_power_offset_uw + 0.1 * col_conductance_s * 1e3
    return p_uw * sar_adc_delay_ns(bits) * 1e-3


def adder_area_um2(tech: Technology, bits: Tensor | float) -> Tensor:
    return _f(bits) * CAL.adder_ge_per_bit * tech.node.gate_area_um2


def dff_area_um2(tech: Technology, bits: Tensor | float) -> Tensor:
    return _f(bits) * CAL.dff_ge_per_bit * tech.node.gate_area_um2


def add_energy_pj(tech: Technology, bits: Tensor | float) -> Tensor:
    """One addition and register of ``bits`` bits: activity factors gamma, delta on data, clock every cycle."""
    ge = _f(bits) * (CAL.delta * CAL.adder_ge_per_bit + CAL.gamma * CAL.dff_ge_per_bit + CAL.dff_clock_ge)
    return ge * tech.node.gate_energy_fj * 1e-3


def adder_delay_ns(tech: Technology, bits: Tensor | float) -> Tensor:
    return _f(bits) * CAL.carry_fo4 * tech.node.fo4_ps * 1e-3


# --------------------------------------------------------------------------------------------------
# Global blocks
# --------------------------------------------------------------------------------------------------


def buffer_area_um2(tech: Technology, bits: Tensor) -> Tensor:
    """Register-file buffer (NeuroSim's default buffer type): bit cells with their share of periphery."""
    return bits * CAL.rf_bit_ge * tech.node.gate_area_um2


def buffer_energy_pj_per_bit(tech: Technology, core_rows: int = 128) -> float:
    """One bit read or written in a ``core_rows``-row register-file core: bitline swing plus word/decoder share."""
    n = tech.node
    c_bl_ff = core_rows * (0.5 * n.wire_cap_ff_per_um + 2.0 * n.feature_um * n.gate_cap_ff_per_um * 0.5)
    return 2.6 * c_bl_ff * n.vdd_v**2 * 1e-3


def wire_delay_ns(tech: Technology, length_um: Tensor) -> Tensor:
    """Elmore delay of a distributed RC wire, 0.38 r c L^2 (global bus / H-tree of NeuroSim's chip)."""
    n = tech.node
    return 0.38 * n.wire_res_ohm_per_um * n.wire_cap_ff_per_um * 1e-15 * length_um * length_um * 1e9


def wire_energy_pj_per_bit(tech: Technology, length_um: Tensor) -> Tensor:
    """One bit moved over ``length_um`` of wire, repeaters included: (1+overhead) * c L VDD^2."""
    n = tech.node
    return (1.0 + CAL.repeater_energy_overhead) * n.wire_cap_ff_per_um * length_um * n.vdd_v**2 * 1e-3


def log2_int(x: int) -> int:
    return int(math.ceil(math.log2(max(x, 1))))
