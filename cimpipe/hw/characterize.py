"""Network-independent characterization of every hardware option of one technology (the ``hw_cost`` stage).

:func:`characterize` evaluates the cartesian product of a :class:`HardwareGrid` at once and returns one row
per option with per-subarray area (um^2), energy per conversion (pJ) and delays (ns). Options that cannot
be built keep their row with ``feasible = false`` and a ``reason`` code; their figures are finite.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import polars as pl
import torch

from cimpipe.hw import adc_energy as AE
from cimpipe.hw import clock as CK
from cimpipe.hw import components as C
from cimpipe.hw.technology import Technology
from cimpipe.space import HardwareSpace

KEY_COLUMNS = ("subarray", "rows_parallel", "col_mux", "adc_bits", "adc_is_sar", "cell_bits")
ADC_BITS_RANGE = (1, 12)
ACCESS_GATE_VOLTAGE_V = 1.1  # NeuroSim accessVoltage of 1T1R cells

REASONS = (
    "ok",
    "subarray_not_power_of_two",
    "rows_parallel_out_of_range",
    "col_mux_does_not_divide_subarray",
    "adc_bits_out_of_range",
    "cell_bits_exceeds_device",
    "not_characterized",
)


@dataclass(frozen=True)
class HardwareGrid:
    """The hardware options a search may pick; :func:`characterize` takes their cartesian product."""

    subarray: tuple[int, ...] = HardwareSpace.subarray
    rows_parallel: tuple[int, ...] = HardwareSpace.rows_parallel
    col_mux: tuple[int, ...] = HardwareSpace.col_mux
    adc_bits: tuple[int, ...] = HardwareSpace.adc_bits
    adc_type: tuple[str, ...] = HardwareSpace.adc_type
    cell_bits: tuple[int, ...] = HardwareSpace.cell_bits

    def options(self) -> list[tuple[int, int, int, int, bool, int]]:
        for t in self.adc_type:
            if t not in ("flash", "sar"):
                raise ValueError(f"hardware grid adc_type {t!r} must be 'flash' or 'sar'")
        return [
            (s, r, m, b, t == "sar", c)
            for s, r, m, b, t, c in itertools.product(
                self.subarray, self.rows_parallel, self.col_mux, self.adc_bits, self.adc_type, self.cell_bits
            )
        ]


def reason_codes(tech: Technology, sub: torch.Tensor, rp: torch.Tensor, mux: torch.Tensor, adc_bits: torch.Tensor,
                 cell_bits: torch.Tensor) -> torch.Tensor:
    """Index into :data:`REASONS` of the first constraint each option violates (0 = feasible)."""
    log = torch.log2(torch.clamp(sub, min=1.0))
    checks = [
        (sub < 16) | (sub > 4096) | (log != torch.round(log)),
        (rp < 1) | (rp > sub),
        (mux < 1) | (torch.remainder(sub, torch.clamp(mux, min=1.0)) != 0) | (mux > sub),
        (adc_bits < ADC_BITS_RANGE[0]) | (adc_bits > ADC_BITS_RANGE[1]),
        (cell_bits < 1) | (cell_bits > tech.device.max_cell_bits),
    ]
    code = torch.zeros_like(sub, dtype=torch.int64)
    for i, bad in reversed(list(enumerate(checks, start=1))):
        code = torch.where(bad, torch.full_like(code, i), code)
    return code


def subarray_figures(tech: Technology, sub: torch.Tensor, rp: torch.Tensor, mux: torch.Tensor,
                     adc_bits: torch.Tensor, is_sar: torch.Tensor, cell_bits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-subarray area/energy/delay of options (tensors of one shape); out-of-range inputs are clamped."""
    n, d = tech.node, tech.device
    sub = torch.clamp(sub, 16.0, 4096.0)
    rp = torch.minimum(torch.clamp(rp, min=1.0), sub)
    mux = torch.clamp(mux, 1.0, None)
    mux = torch.minimum(mux, sub)
    bits = torch.clamp(adc_bits, *map(float, ADC_BITS_RANGE))
    cb = torch.clamp(cell_bits, 1.0, float(d.max_cell_bits))
    n_adc = torch.ceil(sub / mux)
    num_add = torch.ceil(sub / rp)
    cells_per_weight = torch.ceil(C.MAX_OPERAND_BITS / cb)
    # NeuroSim: numBitSubarrayOutput = log2(levels) + ceil(log2 numAdd) + inputBits + (cellsPerWeight-1)*cellBits + 1
    shift_add_bits = bits + C.log2_ceil(num_add) + C.MAX_OPERAND_BITS + (cells_per_weight - 1) * cb + 1
    ge = n.gate_area_um2

    array_area = C.array_area_um2(tech, sub, sub)
    flash_area = C.flash_adc_area_um2(tech, bits, sub)
    sar_area = C.sar_adc_area_um2(tech, bits)
    adc_area = n_adc * torch.where(is_sar, sar_area, flash_area)
    partial_sum = torch.where(num_add > 1, C.adder_area_um2(tech, shift_add_bits) + C.dff_area_um2(tech, shift_add_bits),
                              torch.zeros_like(sub))
    accum_area = n_adc * (C.adder_area_um2(tech, shift_add_bits) + C.dff_area_um2(tech, shift_add_bits) + partial_sum)
    wl_switch = sub * (C.dff_area_um2(tech, 1.0) + 2 * C.CAL.wl_switch_sizing * n.min_tx_area_um2)
    sl_switch = sub * (C.dff_area_um2(tech, 1.0) + 2 * n.min_tx_area_um2)
    level_shift = (3 * sub * C.CAL.level_shifter_ge * ge * C.CAL.alpha) if d.needs_level_shifter else torch.zeros_like(sub)
    mux_area = sub * 2 * C.CAL.mux_sizing * n.min_tx_area_um2 / torch.clamp(mux / 8.0, min=1.0) ** 0.5
    mux_decoder = n_adc * mux * 3 * ge * (mux > 1).to(sub.dtype)
    sram_extra = sub * 8 * ge if d.is_sram else torch.zeros_like(sub)  # precharger + write driver per column
    other_area = wl_switch + sl_switch + level_shift + mux_area + mux_decoder + sram_extra

    # delays
    c_row_pf = C.row_cap_ff(tech, sub) * 1e-3
    g_col = C.column_conductance_s(tech, rp)
    t_adc = torch.where(is_sar, C.sar_adc_delay_ns(bits), C.flash_adc_delay_ns(tech, bits))
    sense_cycle = CK.sensing_cycle_ns(tech, sub, rp, mux, bits, is_sar)
    clock = CK.clock_period_ns(sense_cycle)

    # energies per conversion (one column read through one ADC for one input bit-vector slice)
    # the column current flows while the sense amps decide (NeuroSim MultilevelSenseAmp.cpp CalculatePower:
    # column power x the sense amps' delay), not for the whole clock period; SAR samples for ~1 ns
    t_sense = torch.where(is_sar, torch.ones_like(bits), CK.flash_delay_ns(tech, sub, rp, bits))
    # column current per unit input bit density (resistive cells; it flows only where an input bit is 1); an
    # SRAM bitline's swing is counted with the ADC
    col_energy = C.column_current_energy_pj(tech, rp, t_sense, sub)
    per_density = not tech.device.is_sram
    column_energy = col_energy / C.INPUT_ACTIVITY if per_density else torch.zeros_like(col_energy)
    adc_energy = torch.where(is_sar, C.sar_adc_energy_pj(tech, bits, g_col), C.flash_adc_energy_pj(tech, bits)) + (
        torch.zeros_like(col_energy) if per_density else col_energy)
    v_wl = n.vdd_v if d.is_sram else ACCESS_GATE_VOLTAGE_V  # 1T1R gates are driven at the access voltage
    array_energy = rp * c_row_pf * v_wl * v_wl / n_adc  # per unit input bit density: rows driven where a bit is 1
    accum_energy = C.add_energy_pj(tech, shift_add_bits) * (1.0 + (num_add > 1).to(sub.dtype))
    mux_energy = (2 * C.CAL.mux_sizing * 2 * n.feature_um * n.gate_cap_ff_per_um * 1e-3) * n.vdd_v**2
    switch_energy = rp * 0.5 * (2 * C.CAL.wl_switch_sizing * 2 * n.feature_um * n.gate_cap_ff_per_um * 1e-3) * n.vdd_v**2 / n_adc
    decoder_energy = C.log2_ceil(mux) * 4 * n.gate_energy_fj * 1e-3 * C.CAL.epsilon * 10
    other_energy = mux_energy + switch_energy + decoder_energy

    # NeuroSim's ADC bucket per conversion (data-independent parts; the column part follows the data in
    # the evaluation, see cimpipe/hw/adc_energy.py) and the word lines per subarray read at density 1
    flash_sw, flash_ref_w, flash_t_s = AE.flash_fixed(tech, bits, sub, rp)
    zero = torch.zeros_like(bits)
    adc_fixed = torch.where(is_sar, AE.sar_fixed_pj(tech, bits), flash_sw)
    leak_ge = (accum_area + other_area + torch.where(is_sar, sar_area * n_adc, flash_area * n_adc)) / ge
    leakage_uw = leak_ge * n.gate_leakage_nw * 1e-3
    return {
        "adcs": n_adc,
        "num_add": num_add,
        "shift_add_bits": shift_add_bits,
        "array_area_um2": array_area,
        "adc_area_um2": adc_area,
        "accum_area_um2": accum_area,
        "other_area_um2": other_area,
        "subarray_area_um2": array_area + adc_area + accum_area + other_area,
        "adc_energy_pj": adc_energy,
        "column_energy_pj": column_energy,
        "array_energy_pj": array_energy,
        "accum_energy_pj": accum_energy,
        "other_energy_pj": other_energy,
        "adc_delay_ns": t_adc,
        "sense_cycle_ns": sense_cycle,
        "clock_period_ns": clock,
        "leakage_uw": leakage_uw,
        "adc_fixed_pj": adc_fixed,
        "adc_ref_w": torch.where(is_sar, zero, flash_ref_w),
        "adc_sense_s": torch.where(is_sar, zero, flash_t_s),
        "wordline_pj": AE.wordline_energy_pj(tech, sub, mux, torch.ones_like(sub)),
    }


FIGURE_COLUMNS = (
    "adcs", "num_add", "shift_add_bits", "array_area_um2", "adc_area_um2", "accum_area_um2", "other_area_um2",
    "subarray_area_um2", "adc_energy_pj", "column_energy_pj", "array_energy_pj", "accum_energy_pj", "other_energy_pj",
    "adc_delay_ns", "sense_cycle_ns", "clock_period_ns", "leakage_uw", "adc_fixed_pj", "adc_ref_w", "adc_sense_s",
    "wordline_pj",
)


def characterize(tech: Technology, grid: HardwareGrid) -> pl.DataFrame:
    """One row per hardware option of ``grid``: its keys, ``feasible``, ``reason`` and per-subarray figures.

    Energies are per conversion (one column through one ADC for one input bit); ``column_energy_pj`` (the
    column current of resistive cells) and ``array_energy_pj`` (word lines) are per unit input bit density,
    the evaluation scales them by the density; areas per subarray;
    ``clock_period_ns`` is the synchronous clock that option alone would set.
    """
    opts = grid.options()
    cols = list(zip(*opts)) if opts else [[] for _ in KEY_COLUMNS]
    t = {k: torch.tensor([float(x) for x in v], dtype=torch.float64) for k, v in zip(KEY_COLUMNS, cols)}
    is_sar = t["adc_is_sar"] > 0.5
    code = reason_codes(tech, t["subarray"], t["rows_parallel"], t["col_mux"], t["adc_bits"], t["cell_bits"])
    figs = subarray_figures(tech, t["subarray"], t["rows_parallel"], t["col_mux"], t["adc_bits"], is_sar,
                            t["cell_bits"])
    data: dict[str, object] = {"technology": [tech.name] * len(opts)}
    for k in KEY_COLUMNS:
        data[k] = [bool(x) for x in cols[KEY_COLUMNS.index(k)]] if k == "adc_is_sar" else [int(x) for x in
                                                                                            cols[KEY_COLUMNS.index(k)]]
    data["feasible"] = (code == 0).tolist()
    data["reason"] = [REASONS[i] for i in code.tolist()]
    for k in FIGURE_COLUMNS:
        data[k] = figs[k].tolist()
    return pl.DataFrame(data)
