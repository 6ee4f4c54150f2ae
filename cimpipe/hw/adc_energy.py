"""Dynamic energy of NeuroSim V1.4's "ADC" bucket: the cell array's word lines and the column read-out.

NeuroSim V1.4 SubArray.cpp (CalculatePower, conventionalParallel) puts into this bucket the array's word-line
energy (``readDynamicEnergyArray``), the flash ADC (MultilevelSenseAmp, its encoder's dynamic energy is zero)
or the SAR ADC. All of it is charged per input bit-vector, for every column of the weight matrix a subarray
holds, ``numAdd`` = ceil(rows / rows_parallel) times (partial-parallel reads), and it follows the data:

* the column conductance (ProcessingUnit.cpp GetColumnResistance): resistive cells add, for every row whose
  input bit is 1, ``1 / (1/G_cell + R_access)`` (1T1R; FeFET without R_access) and the sum is divided by
  ``numAdd``; an SRAM column adds ``1 / R_access`` per active row whatever the stored bit, not divided;
* the word lines (SubArray.cpp): ``C_row * VDD^2 * numRow * activityRowRead * numColMuxed`` per subarray read.

With iid input bits of density ``d`` and stored levels of mean ``w`` (0 = G_off, 1 = G_on), a column of a
subarray holding ``r`` of the layer's rows sees on average ``d * r`` active cells of conductance
``G_off + w (G_on - G_off)``. The SAR power is linear in the column conductance, so its mean is exact; the
flash sense amps' static power is evaluated at the mean column.

Units: energies pJ, conductances S, resistances ohm, capacitances F, times s (internally).
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import torch
import yaml

from cimpipe.hw import capacitance as CP
from cimpipe.hw import clock as CK
from cimpipe.hw import digital_energy as DE
from cimpipe.hw import gates as G
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
WIRE_CAP_F_PER_UM = 0.2e-15  # SubArray.cpp: capRow/capCol = length * 0.2 fF/um
REPEATERS = {2: 3.0, 1: 3.0}  # Param.cpp buffernumber (and buffersizeratio 3) per node; 0 elsewhere


@lru_cache(maxsize=1)
def adc_power_table() -> dict:
    """The fitted SAR and flash sense-amp power figures of ``data/adc_power.yaml``."""
    return yaml.safe_load(resources.files("cimpipe.hw").joinpath("data/adc_power.yaml").read_text())


def _nearest(table: dict, nm: int):
    return table[min(table, key=lambda k: abs(int(k) - nm))]


def sram_access_resistance_ohm(tech: Technology) -> float:
    """SRAM read-access transistor (SubArray.cpp Initialize: CalculateOnResistance of widthAccessCMOS = 1 F, 2 F at
    FinFET nodes, whose current counts whole fins), with Technology.cpp's effective-resistance multiplier."""
    nd = G.node(tech.node.node_nm)
    width_um = (2.0 if nd.finfet else 1.0) * nd.f_um
    return G.cacti_on_resistance_ohm(nd, width_um)


def cell_width_f(tech: Technology) -> float:
    """A cell's width in F along the word line (Param.cpp: the SRAM cell's per-node width, 28 F at planar
    nodes; the technology's cell otherwise)."""
    return CK._cell_w_f(tech)


def row_cap_per_cell_f(tech: Technology) -> float:
    """One cell's share of the read word line (SubArray.cpp capRow1 for SRAM, capRow2 for 1T1R): 0.2 fF/um of
    wire over the cell's width plus its access transistor's gate (CalculateGateCap; the SRAM access device 1 F
    wide, 2 F at FinFET and nanosheet nodes)."""
    nm = tech.node.node_nm
    f = tech.node.feature_um
    if tech.device.is_sram:
        access_f = 2.0 if CP.devices(nm).kind != "planar" else 1.0
    else:
        access_f = CK.access_width_um(tech) / f
    return cell_width_f(tech) * f * WIRE_CAP_F_PER_UM + CP.gate_cap(nm, access_f)


def sram_cell_wire_ohm(tech: Technology) -> float:
    """The column wire one SRAM cell adds to its read path (Param.cpp wireResistanceCol: the wire resistance per
    length over the cell's width in F times the wire width)."""
    return tech.node.wire_res_ohm_per_um * tech.node.wire_width_nm * 1e-3 * cell_width_f(tech)


def cell_conductance_s(tech: Technology, weight_level_mean: Tensor) -> Tensor:
    """Mean conductance a stored cell adds to its column when its row's input bit is 1 (GetColumnResistance; an SRAM
    cell: its access transistor and its share of the column wire, whatever it stores)."""
    d = tech.device
    if d.is_sram:
        return torch.full_like(weight_level_mean, 1.0 / (sram_access_resistance_ohm(tech) + sram_cell_wire_ohm(tech)))
    g_on, g_off = 1.0 / d.r_on_ohm, 1.0 / d.r_off_ohm
    g = g_off + torch.clamp(weight_level_mean, 0.0, 1.0) * (g_on - g_off)
    if d.memory == "fefet":
        return g
    return 1.0 / (1.0 / g + CK.access_resistance_ohm(tech))


def read_conductance_s(tech: Technology, density: Tensor, rows_per_subarray: Tensor, num_add: Tensor,
                       weight_level_mean: Tensor) -> Tensor:
    """Column conductance of one partial-parallel read, as NeuroSim hands it to the ADC model."""
    g = density * rows_per_subarray * cell_conductance_s(tech, weight_level_mean)
    return g if tech.device.is_sram else g / num_add


def sar_fixed_pj(tech: Technology, bits: Tensor) -> Tensor:
    """The data-independent part of one SAR conversion (NeuroSim V1.4 SarADC.cpp, GetColumnPower, LSTP):
    (a*b + c) uW over (b + 1) ns."""
    n = tech.node
    return (n.sar_power_slope_uw * bits + n.sar_power_offset_uw) * 1e-6 * (bits + 1.0) * 1e-9 * 1e12


def sar_column_pj(tech: Technology, bits: Tensor, g_read_s: Tensor) -> Tensor:
    """The column part of one SAR conversion: k / R' with R' = R_col * 0.5 / Vread, over (b + 1) ns."""
    n = tech.node
    k = float(_nearest(adc_power_table()["sar_k"], n.node_nm))
    return k * g_read_s * n.read_voltage_v / 0.5 * (bits + 1.0) * 1e-9 * 1e12


def _mlsa_power_w(tech: Technology, r_ohm: Tensor) -> Tensor:
    """Static power of one current-mode sense amp against a column of ``r_ohm`` (before the 0.5/Vread scaling)."""
    r = torch.clamp(r_ohm * 0.5 / tech.node.read_voltage_v, min=1.0)
    out = torch.zeros_like(r)
    done = torch.zeros_like(r, dtype=torch.bool)
    for hi, kind, a, b in _nearest(adc_power_table()["mlsa"], tech.node.node_nm):
        inside = ~done & (r < (math.inf if hi is None else float(hi)))
        out = torch.where(inside, a * torch.log(r) + b if kind == "log" else a * r + b, out)
        done = done | inside
    return out


def _caps_f(tech: Technology) -> tuple[float, float, float, float]:
    """Gate and junction capacitance of the sense amp's minimum NMOS and of its PMOS (pn ratio), each alone in a
    standard cell (MultilevelSenseAmp.cpp; :func:`cimpipe.hw.capacitance.sense_amp_caps`)."""
    return CP.sense_amp_caps(tech.node.node_nm)


def flash_fixed(tech: Technology, bits: Tensor, sub: Tensor, rows_parallel: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
    """Data-independent parts of one flash conversion (NeuroSim V1.4 MultilevelSenseAmp.cpp, CalculatePower,
    current mode): the switching energy of the L-1 sense amps (pJ; column/reference interface, input mirrors,
    latches, encoder interface), the static power of the shared reference columns (W) and the sensing time
    (s, the slower of the extreme references, ColumnLatency_Table)."""
    n = tech.node
    levels = torch.pow(2.0, bits)
    vr, vdd = n.read_voltage_v, n.vdd_v
    cg_n, cj_n, cg_p, cj_p = _caps_f(tech)
    c_col = CK.column_cap_f(tech, sub)
    r_start = (sram_access_resistance_ohm(tech) if tech.device.is_sram else tech.device.r_on_ohm) / rows_parallel
    levels, r_start, c_col, sub = torch.broadcast_tensors(levels, r_start, c_col, sub)
    e_ref = torch.zeros_like(sub)
    if tech.device.is_sram:  # SubArray.cpp: reference_energy_peri = C_row / numCol * VDD^2 * numRow
        e_ref = sub * row_cap_per_cell_f(tech) * vdd * vdd
    inv = 1.0 / torch.clamp(levels - 1.0, min=1.0)
    switch = (c_col * (inv + 1.0 / levels) * vr * vr + e_ref / levels
              + (2 * cg_n + (cj_n + cg_n) * inv + (cj_n + cg_n) / levels) * vr * vr
              + (2 * cg_p + cg_n + 3 * cg_p + 3 * cg_n + 3 * (cj_p + cj_n) + cj_p + cg_p + cg_n) * vdd * vdd)
    shape = levels.shape
    i = torch.arange(1.0, max(float(levels.max()) - 1.0, 2.0) if levels.numel() else 2.0, dtype=sub.dtype)
    lv = levels.reshape(-1, 1)
    mask = (i[None, :] <= lv - 2).to(sub.dtype)
    r_ref = r_start.reshape(-1, 1) / torch.clamp(1.0 - i[None, :] / lv, min=1e-9)
    ref_w = ((_mlsa_power_w(tech, r_ref) * (lv - 1)) * mask).sum(dim=1).reshape(shape) / levels
    r_first = r_start * levels / torch.clamp(levels - 1.0, min=1.0)
    r_last = r_start * levels / 2.0
    c_sense = c_col + cg_n * torch.clamp(levels - 3.0, min=0.0)
    t_s = torch.maximum(CK.sense_amp_delay_s(tech, r_last, c_sense), CK.sense_amp_delay_s(tech, r_first, c_sense))
    return switch * (levels - 1.0) * 1e12, ref_w, t_s


def flash_column_pj(tech: Technology, bits: Tensor, g_read_s: Tensor, ref_w: Tensor, t_s: Tensor) -> Tensor:
    """The static part of one flash conversion: (L-1) sense amps' power against the column plus the reference
    columns' power, over the sensing time (never negative, as NeuroSim clamps it)."""
    levels = torch.pow(2.0, bits)
    p_col = _mlsa_power_w(tech, 1.0 / torch.clamp(g_read_s, min=1e-15)) * (levels - 1.0)
    return torch.clamp((p_col + ref_w) * t_s, min=0.0) * 1e12


SAR_IDLE_W = 1e-6
"""What NeuroSim charges a SAR conversion of a column no row drives (SarADC.cpp GetColumnPower: an infinite
column resistance reads 1 uW, in place of the converter's fixed power and the column's)."""


def conversion_pj(tech: Technology, is_sar: Tensor, bits: Tensor, fixed_pj: Tensor, ref_w: Tensor, t_s: Tensor,
                  g_read_s: Tensor, zero_reads: Tensor | None = None) -> Tensor:
    """Energy of one conversion of a column of mean read conductance ``g_read_s``; ``zero_reads`` the fraction
    of reads whose rows get no 1 bit (real activations leave whole bit planes empty; None: none), which a SAR
    converter reads at :data:`SAR_IDLE_W` (the column term, linear in the conductance, keeps its mean)."""
    sar_fixed = fixed_pj
    if zero_reads is not None:
        sar_fixed = (1.0 - zero_reads) * fixed_pj + zero_reads * (SAR_IDLE_W * (bits + 1.0) * 1e-9 * 1e12)
    return torch.where(is_sar, sar_fixed + sar_column_pj(tech, bits, g_read_s),
                       fixed_pj + flash_column_pj(tech, bits, g_read_s, ref_w, t_s))


def wordline_energy_pj(tech: Technology, sub: Tensor, mux: Tensor, density: Tensor) -> Tensor:
    """Word lines of one subarray for one input bit-vector (SubArray.cpp readDynamicEnergyArray): the row
    capacitance (wire and access gates, see :func:`row_cap_per_cell_f`) charged for every active row, once per
    muxed column group; at 2 nm and 1 nm the row repeaters too."""
    n = tech.node
    c_row = sub * row_cap_per_cell_f(tech)
    e = c_row * n.vdd_v ** 2 * sub * density
    reps = REPEATERS.get(n.node_nm, 0.0)
    if reps:
        size = 3.0 * DE.MIN_NMOS_F  # buffersizeratio x minimum
        c_rep = (DE._cg_f(tech, size) + DE._cg_f(tech, DE._pn(tech) * size) + DE._cd_f(tech, size)
                 + DE._cd_f(tech, DE._pn(tech) * size))
        e = e + c_rep * n.vdd_v ** 2 * reps * 2 * sub * density
    return e * mux * 1e12
