"""Chip area on NeuroSim V1.4's floorplan: subarray bounding box, PE, tile and chip.

Shapes: [D] or [D, L] float64 tensors (anything that broadcasts); node-level gate sizes are floats from
:mod:`cimpipe.hw.gates`. Lengths in um, areas in um^2. The structure follows NeuroSim V1.4:

* subarray (SubArray.cpp, CalculateArea, conventionalParallel): the cell array with the row periphery to its
  left (1T1R: WL/BL level shifters + WL "new" switch matrix; SRAM: WL switch matrix) and the column periphery
  stacked below it (1T1R: SL level shifter + SL switch matrix; SRAM: precharger + write driver; then column
  mux, flash multilevel sense amp + encoder or SAR ADC, partial-sum adder + DFF, shift-adds); the subarray
  occupies the bounding box height x width;
* PE (ProcessingUnit.cpp, ProcessingUnitCalculateArea): subarrays + adder tree + input/output DFF buffers;
* tile (Tile.cpp, TileCalculateArea): PEs + accumulation adder tree + input/output register-file buffers +
  local H-tree;
* chip (Chip.cpp, ChipCalculateArea): tiles + global buffer + global X-Y bus or H-tree + accumulation +
  ReLU + max pooling.

The breakdown buckets are NeuroSim's: array, interconnect (H-trees and bus), adc, accumulation, other.
"""

from __future__ import annotations

import math

import torch

from cimpipe.hw import gates as G
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
ALPHA_LEVEL_SHIFTER = 1.44  # NeuroSim Param.cpp alpha: level-shifter wiring area
TILE_BUFFER_CORE_BITS = 32 * 32  # Param.cpp tileBufferCoreSizeRow x Col
GLOBAL_BUFFER_CORE_BITS = 128 * 128
TREE_FOLDED_RATIO = 4.0  # Param.cpp treeFoldedRatio
LOCAL_TREE_FOLDED_RATIO = 16.0  # Tile.cpp passes 16 to the local H-tree
IR_DROP_TOLERANCE = 0.25
LINEAR_REGION_RATIO = 0.2


def _ceil(x: Tensor) -> Tensor:
    return torch.ceil(x - 1e-9)


def dff_rows_height_um(nd: G.Node, count: Tensor, width_um: Tensor) -> Tensor:
    """Height of ``count`` DFFs placed in rows of a given width (DFF.cpp CalculateArea, width given)."""
    g = G.standard_gates(nd.nm)
    per_row = torch.clamp(torch.minimum(torch.floor(width_um / g["dff_w"]), count), min=1.0)
    return g["dff_h"] * _ceil(count / per_row)


def dff_cols_width_um(nd: G.Node, count: Tensor, height_um: Tensor) -> Tensor:
    """Width of ``count`` DFFs placed in columns of a given height (DFF.cpp CalculateArea, height given)."""
    g = G.standard_gates(nd.nm)
    per_col = torch.clamp(torch.minimum(torch.floor(height_um / g["dff_h"]), count), min=1.0)
    return g["dff_w"] * _ceil(count / per_col)


def units_in_rows_height_um(count: Tensor, width_um: Tensor, unit_w_um: float, unit_h_um: float) -> Tensor:
    """Height of ``count`` column circuits of a given unit size in rows under an array (Precharger.cpp,
    SRAMWriteDriver.cpp CalculateArea, width given)."""
    per_row = torch.clamp(torch.minimum(torch.floor(width_um / unit_w_um), count), min=1.0)
    return unit_h_um * _ceil(count / per_row)


def tg_widths_um(nd: G.Node, res_ohm: Tensor, factor: float) -> tuple[Tensor, Tensor]:
    """NMOS/PMOS widths of a transmission gate of on-resistance ``res_ohm`` (SwitchMatrix.cpp / Mux.cpp
    Initialize): W = R_on(unit device) * F * factor / (2 R)."""
    unit = (2.0 if nd.finfet else 1.0) * nd.f_um
    out = []
    for pmos in (False, True):
        w = G.on_resistance_ohm(nd, unit, pmos) * nd.f_um * factor / (2 * res_ohm)
        w = 2 * _ceil(w / nd.f_um) * nd.f_um if nd.finfet else w
        out.append(torch.clamp(w, min=nd.f_um))
    return out[0], out[1]


def column_pass_gates_height_um(nd: G.Node, count: Tensor, width_um: Tensor, wn: Tensor, wp: Tensor,
                                pair: bool) -> Tensor:
    """Height of ``count`` pass gates (pairs when ``pair``) in rows under an array of given width, each folded
    to fill its slot (SwitchMatrix.cpp COL_MODE, Mux.cpp analog mode)."""
    min_cell = 2 * nd.cpp_um
    slot = min_cell * (2 if pair else 1)
    per_row = torch.clamp(torch.floor(width_um / slot), min=1.0)
    rows = _ceil(count / per_row)
    per_row = _ceil(count / rows)
    tg_w = width_um / per_row / (2 if pair else 1)
    folds = torch.clamp(torch.floor(tg_w / (0.5 * min_cell)) - 1, min=1.0)
    if not nd.finfet:
        h = (wp + wn) / folds + (G.PN_GAP_F + G.EDGE_F) * nd.f_um
    else:
        fp = _ceil(_ceil(wp / (2 * nd.f_um)) / folds)
        fn = _ceil(_ceil(wn / (2 * nd.f_um)) / folds)
        outer = (1 if nd.gaa else 2) * nd.outer_f
        h = (fp + fn - 2) * nd.fin_pitch_um + 2 * nd.fin_width_um + (nd.pn_gap_f + outer) * nd.f_um
    return h * rows


def row_switch_width_um(nd: G.Node, count: Tensor, height_um: Tensor, wn: float | Tensor, wp: float | Tensor,
                        gates_per_switch: int) -> Tensor:
    """Width of a row switch matrix beside an array of given height: transmission gates stacked in columns
    at a released cell height, plus the DFF column (SwitchMatrix.cpp ROW_MODE, NewSwitchMatrix.cpp)."""
    per_col = torch.clamp(torch.floor(height_um / nd.cell_h_um), min=1.0)
    cols = _ceil(count / per_col)
    per_col = _ceil(count / cols)
    tg_h = height_um / per_col
    wn_t = torch.as_tensor(wn, dtype=torch.float64)
    wp_t = torch.as_tensor(wp, dtype=torch.float64)
    tg_w = _inv_width_at_height_um(nd, wn_t, wp_t, tg_h)
    return gates_per_switch * tg_w * cols + dff_cols_width_um(nd, count, height_um)


def _inv_width_at_height_um(nd: G.Node, wn: Tensor, wp: Tensor, h: Tensor) -> Tensor:
    """Tensor form of :func:`gates.gate_size_um` for an inverter-shaped cell of a released height."""
    ratio = wp / (wp + wn)
    if not nd.finfet:
        room = h - (G.PN_GAP_F + G.EDGE_F) * nd.f_um
        max_p, max_n = ratio * room, (1 - ratio) * room
        unit = lambda w, m: torch.where(w <= m, 2 * nd.cpp_um * torch.ones_like(w),  # noqa: E731
                                        (_ceil(w / m) + 1) * nd.cpp_um)
        return torch.maximum(unit(wp, max_p), unit(wn, max_n))
    h_eff = h * nd.cell_h_um / (G.CELL_HEIGHT_F * nd.f_um)
    per = torch.floor((h_eff - (nd.pn_gap_f + nd.outer_f) * nd.f_um + nd.fin_pitch_um) / 2.0
                      / (nd.fin_width_um + nd.fin_pitch_um))
    total = 2 * per
    n_hi = torch.trunc(total * (1 - ratio))
    p_lo = torch.trunc(total * ratio)
    max_p = torch.clamp(torch.where(ratio > 0.5, total - n_hi, p_lo), min=1.0)
    max_n = torch.clamp(torch.where(ratio > 0.5, n_hi, total - p_lo), min=1.0)
    if nd.gaa:  # one sheet stack per device; folds round up
        max_p, max_n = torch.ones_like(max_p), torch.ones_like(max_n)
    fold = torch.ceil if nd.gaa else torch.floor
    fins_p, fins_n = _ceil(wp / (2 * nd.f_um)), _ceil(wn / (2 * nd.f_um))
    unit = lambda fins, m: torch.where(fins <= m, 2 * nd.cpp_um * torch.ones_like(fins),  # noqa: E731
                                       (fold(fins / m) + 1) * nd.cpp_um)
    return torch.maximum(unit(fins_p, max_p), unit(fins_n, max_n))


def level_shifter_um2(nd: G.Node) -> float:
    """One level shifter (LevelShifter.cpp, validated layout: I/O devices, 2.5x cell height, alpha wiring)."""
    f, pn = nd.f_um, nd.pn_ratio
    h = 2.5 * G.CELL_HEIGHT_F * f
    dims = [G.gate_size_um(nd, "INV", 1, 2 * f * a * 2, pn * 2 * f * b * 2, h) for a, b in ((15, 20), (32, 10),
                                                                                           (64, 82))]
    h_ls = max(d[0] for d in dims)
    w_ls = dims[0][1] + (2 * dims[1][1] + dims[2][1]) * 2.5
    return h_ls * w_ls * ALPHA_LEVEL_SHIFTER


def encoder_height_um(nd: G.Node, levels: Tensor, count: Tensor, width_um: Tensor) -> Tensor:
    """Flash ADC thermometer-to-binary encoders in rows under the array (MultilevelSAEncoder.cpp)."""
    f, pn = nd.f_um, nd.pn_ratio
    g = G.standard_gates(nd.nm)
    inv_h, inv_w = g["inv_h"], g["inv_w"]
    if nd.gaa:  # NeuroSim's nanosheet special layout: minimum NAND2 devices
        nand_h, nand_w = G.gate_size_um(nd, "NAND", 2, G.MIN_NMOS_F * f, pn * G.MIN_NMOS_F * f)
    else:
        nand_h, nand_w = G.gate_size_um(nd, "NAND", 2, 4 * G.MIN_NMOS_F * f, 2 * pn * G.MIN_NMOS_F * f)
    out = torch.zeros_like(levels * count * width_um)
    for lv in torch.unique(levels).tolist():
        n_in = max(int(lv) // 2, 1)
        lg_h, lg_w = G.gate_size_um(nd, "NAND", n_in, 4 * G.MIN_NMOS_F * f, 2 * pn * G.MIN_NMOS_F * f)
        w_enc = inv_w + nand_w + lg_w
        h_enc = ((inv_w * inv_h + nand_w * nand_h) * (lv - 1) + lg_w * math.ceil(math.log2(lv)) * lg_h) / w_enc
        per_row = torch.minimum(_ceil(width_um / w_enc), count)
        out = torch.where(levels == lv, h_enc * _ceil(count / per_row), out)
    return out


def adder_area_um2(nd: G.Node, bits: Tensor) -> Tensor:
    """Ripple adders: nine NAND2 per bit (Adder.cpp)."""
    return G.standard_gates(nd.nm)["adder_bit_um2"] * bits


def adder_tree_area_um2(nd: G.Node, inputs: Tensor, bits: Tensor, trees: Tensor) -> Tensor:
    """``trees`` adder trees each adding ``inputs`` operands of ``bits`` bits (AdderTree.cpp): stage s has
    floor(j/2) adders of bits+s bits, j halving (integer division) from ``inputs``."""
    total = torch.zeros_like(inputs * bits * trees)
    j = inputs.clone() * torch.ones_like(total)
    stages = _ceil(torch.log2(torch.clamp(inputs, min=1.0))) * torch.ones_like(total)
    b = bits * torch.ones_like(total)
    for _ in range(int(stages.max().item()) if stages.numel() else 0):
        live = stages > 0
        half = torch.floor(j / 2)
        total = total + torch.where(live, b * half, torch.zeros_like(b))
        b = b + 1
        j = torch.where(live, half, j)
        stages = stages - 1
    return adder_area_um2(nd, total) * trees


def register_buffer_area_um2(nd: G.Node, bits: Tensor, lines: Tensor | None = None,
                             cores: Tensor | float = 1.0) -> Tensor:
    """Register-file buffer of ``bits`` DFFs in all (Buffer.cpp, DFF-based), plus, when ``lines`` is given, each
    of its ``cores`` cores' row decoder of ceil(log2(lines)) address bits stacked beside the core's ``lines`` DFF
    rows (Buffer.cpp wlDecoder, height = DFF height x lines)."""
    g = G.standard_gates(nd.nm)
    area = bits * g["dff_h"] * g["dff_w"]
    if lines is None:
        return area
    lines = lines * torch.ones_like(area)
    dec = torch.zeros_like(area)
    for ln in torch.unique(lines).tolist():
        h = g["dff_h"] * ln
        addr = math.ceil(math.log2(max(ln, 1.0)) - 1e-9)
        dec = torch.where(lines == ln, h * G.decoder_width_at_height_um(nd.nm, addr, h), dec)
    return area + dec * cores


def mux_decoder_um(nd: G.Node, mux: Tensor) -> tuple[Tensor, Tensor]:
    """(height, width) of the column-mux decoder of ceil(log2(mux)) address bits (RowDecoder.cpp, MUX mode;
    0 without a mux)."""
    h, w = torch.zeros_like(mux), torch.zeros_like(mux)
    for m in torch.unique(mux).tolist():
        if m > 1:
            dh, dw = G.mux_decoder_size_um(nd.nm, math.ceil(math.log2(m) - 1e-9))
            h, w = torch.where(mux == m, dh, h), torch.where(mux == m, dw, w)
    return h, w


def subarray_area(tech: Technology, sub: Tensor, rp: Tensor, mux: Tensor, adc_bits: Tensor, is_sar: Tensor,
                  cell_bits: Tensor, cells_per_synapse: Tensor, in_bits: Tensor) -> dict[str, Tensor]:
    """Bounding box and component areas of one sub x sub subarray (SubArray.cpp CalculateArea,
    conventionalParallel); ``cells_per_synapse`` the columns one weight occupies (numColPerSynapse). Returns
    height_um, width_um, area_um2 (bounding box) and the buckets
    array/adc/accumulation/other (um^2)."""
    nd = G.node(tech.node_nm)
    f = nd.f_um
    g = G.standard_gates(nd.nm)
    sram = tech.device.is_sram
    cell_h = G.SRAM_CELL_HEIGHT_F.get(nd.nm, 10.0) if sram else tech.cell_height_f
    cell_w = tech.device.cell_area_f2 / cell_h
    h_arr, w_arr = sub * cell_h * f, sub * cell_w * f
    n_adc = sub / mux
    levels = torch.pow(2.0, adc_bits)
    num_add = _ceil(sub / rp)
    adder_bits = adc_bits + _ceil(torch.log2(num_add))
    zero = torch.zeros_like(h_arr * w_arr * n_adc * adc_bits * cells_per_synapse * in_bits)

    # ADC: flash multilevel sense amp (+ dummy reference columns shared by levelOutput amps) and encoder, or SAR
    # the dummy reference columns are sized with Param.cpp's featuresize, the Metal0 width, not the node: in
    # height always, in width too for resistive cells (SubArray.cpp param->arrayheight, arraywidthunit)
    m0 = tech.node.wire_width_nm / nd.nm
    dummy = h_arr * m0 * cell_w * f * (1.0 if sram else m0)
    mlsa = (9 * g["nmos_um2"] * (levels - 1) * n_adc + dummy * (levels - 1) * n_adc / levels)
    flash_h = mlsa / w_arr + encoder_height_um(nd, levels, n_adc, w_arr)
    sar_unit = g["nmos_um2"] * (269 + (adc_bits - 1) * 109) + g["pmos_um2"] * (209 + (adc_bits - 1) * 73)
    adc_h = torch.where(is_sar, sar_unit * n_adc / w_arr, flash_h)

    # accumulation: partial sums of partial-parallel reads, shift-add over weight slices and input bits
    def shift_add_h(bits: Tensor, pulses: Tensor) -> Tensor:
        return (adder_area_um2(nd, bits * n_adc) / w_arr + nd.cell_h_um
                + dff_rows_height_um(nd, (bits + 1 + pulses - 1) * n_adc, w_arr))

    partial_h = torch.where(num_add > 1, adder_area_um2(nd, (adder_bits - 1) * n_adc) / w_arr
                            + dff_rows_height_um(nd, adder_bits * n_adc, w_arr), zero)
    # resistive cells' shift-adds start from the ADC bits, SRAM's from the partial-sum adder's (SubArray.cpp)
    sa_bits = adder_bits if sram else adc_bits + zero
    weight_h = torch.where(cells_per_synapse > 1, shift_add_h(sa_bits, cells_per_synapse), zero)
    input_h = torch.where(in_bits > 1, shift_add_h(sa_bits + cells_per_synapse, in_bits), zero)
    accum_h = partial_h + weight_h + input_h

    # column mux: one transmission gate per column, sized for the read current
    if sram:
        r_access = G.cacti_on_resistance_ohm(nd, (2.0 if nd.finfet else 1.0) * f)
        mux_res = r_access / (rp / 2) * IR_DROP_TOLERANCE
    else:
        r_on = tech.device.r_on_ohm
        r_avg = 2.0 / (1.0 / r_on + 1.0 / tech.device.r_off_ohm)
        mux_res = r_avg / rp * IR_DROP_TOLERANCE
    mwn, mwp = tg_widths_um(nd, mux_res * torch.ones_like(zero), 1.0)
    # the mux row is at least as tall as its decoder, which sits beside it (SubArray.cpp: minMuxHeight)
    dec_h, dec_w = mux_decoder_um(nd, mux + zero)
    mux_pg_h = column_pass_gates_height_um(nd, sub + zero, w_arr + zero, mwn, mwp, False)
    mux_h = torch.where(mux > 1, torch.maximum(mux_pg_h, dec_h), zero)
    dec_area = torch.where(mux > 1, dec_h * dec_w, zero)
    dec_w = torch.where(mux > 1, dec_w, zero)

    if sram:
        # word line on Metal1, split into sections by the 2/1 nm repeaters (SubArray.cpp resRow, sectionres)
        res_row = w_arr * G.metal1_res_ohm_per_um(nd.nm, tech.node.wire_width_nm) / (nd.wl_buffers + 1)
        swn, swp = tg_widths_um(nd, res_row * nd.switch_ratio + zero, LINEAR_REGION_RATIO)
        row_w = row_switch_width_um(nd, sub + zero, h_arr + zero, swn, swp, 2)
        pre_w = max(G.gate_size_um(nd, "INV", 1, 0.0, 6 * f)[1], G.gate_size_um(nd, "INV", 1, 0.0, 2 * f)[1])
        pre_h = units_in_rows_height_um(sub + zero, w_arr + zero, pre_w, 3 * nd.cell_h_um)
        drv_h = units_in_rows_height_um(sub + zero, w_arr + zero, g["inv_w"], 3 * g["inv_h"])
        col_top_h = pre_h + drv_h
        other_cols = drv_h * w_arr  # write driver
        adc_extra = pre_h * w_arr  # precharger (NeuroSim counts it with the ADC)
        row_area = row_w * h_arr
    else:
        ls = level_shifter_um2(nd) if tech.device.needs_level_shifter else 0.0
        ls_w = 2 * ls * sub / h_arr
        ls_h = ls * sub / w_arr
        ratio = nd.newswitch_ratio
        nsw = row_switch_width_um(nd, sub + zero, h_arr + zero, G.MIN_NMOS_F * f * ratio,
                                  nd.pn_ratio * G.MIN_NMOS_F * f * ratio, 4)
        r_on = tech.device.r_on_ohm
        r_avg = 2.0 / (1.0 / r_on + 1.0 / tech.device.r_off_ohm)
        swn, swp = tg_widths_um(nd, r_avg / rp * sub * nd.switch_ratio + zero, LINEAR_REGION_RATIO)
        sl_h = column_pass_gates_height_um(nd, sub + zero, w_arr + zero, swn, swp, True) + \
            dff_rows_height_um(nd, sub + zero, w_arr + zero)
        row_w = ls_w + nsw
        col_top_h = ls_h + sl_h
        row_area = row_w * h_arr
        other_cols = col_top_h * w_arr
        adc_extra = zero
    # word-line repeaters (2/1 nm, SRAM): buffernumber inverters of buffersizeratio x the access device, two per
    # row, added to the width (SubArray.cpp bufferarea)
    rep_area = zero
    if sram and nd.wl_buffers > 0:
        unit = 2 * f if nd.finfet else f
        ratio = G.cacti_on_resistance_ohm(nd, unit) / G.cacti_on_resistance_ohm(nd, unit * nd.wl_buffer_ratio)
        wi = 2 * math.ceil(ratio - 1e-9) * f if nd.finfet else ratio * f
        ih, iw = G.gate_size_um(nd, "INV", 1, wi, wi * nd.pn_ratio)
        rep_area = ih * iw * nd.wl_buffers * 2 * sub + zero
    height = col_top_h + h_arr + mux_h + adc_h + accum_h
    width = torch.maximum(row_w, dec_w) + w_arr + rep_area / h_arr
    return {
        "height_um": height, "width_um": width, "area_um2": height * width,
        "array": h_arr * w_arr + zero,
        "adc": adc_h * w_arr + adc_extra,
        "accumulation": accum_h * w_arr,
        "other": row_area + other_cols + mux_h * w_arr + dec_area + rep_area,
        "num_add": num_add + zero, "cells_per_synapse": cells_per_synapse + zero,
    }
