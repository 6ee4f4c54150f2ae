"""Dynamic energy of moving activations: NeuroSim V1.4's buffer and interconnect figures, per layer (pJ).

Bits moved per layer (Chip.cpp ChipCalculatePerformance, Tile.cpp, ProcessingUnit.cpp):

* chip: ``numBitToLoadOut = rows * inputBits * n_vec`` (divided by K for novel layers) out of the global buffer
  to the tiles and ``numBitToLoadIn = ceil(cols / cps) * inputBits * n_vec`` (a quarter when a 2x2 max-pool
  follows) back; the global bus carries them with the toggle rates ``inputtoggle`` / ``outputtoggle``;
* tile: every tile column group reads its rows' inputs through its input buffer and local H-tree
  (a novel tile a third of them: each of its K x K PEs takes one kernel column), and every tile row group sends
  ``ceil(cols/cps) * (tree stages + PE output bits) * n_vec`` partial sums back through its output buffer;
* PE: flip-flop input buffers take the rows' input bits, output buffers the adder-tree outputs, and two buses
  across the PE's subarrays (Bus.cpp, (P/N - 1) subarray pitches) carry them.

Energies: repeated wires (HTree.cpp / XYBus.cpp CalculatePower): ``(C_in + C_out + c_w d) VDD^2 / d / 2`` per
unit length, d the repeater spacing of the delay-tolerant repeater (see :func:`repeater`); the global X-Y bus
runs a row of half the tile columns for inputs and the lower half of the tile rows for outputs; an H-tree's
root-to-leaf path of n = ceil(log2 max(rows, cols)) levels is ``(2^n - 1)(h + w)/2`` plus the main bus.
Register-file buffers (Buffer.cpp): one flip-flop read or write per bit, times gamma; PE flip-flop buffers the
same without gamma (DFF.cpp with validated = false).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from cimpipe.hw import digital_energy as DE
from cimpipe.hw import gates as G
from cimpipe.hw import wires as W
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
WIRE_CAP_F_PER_UM = 0.2e-15
BUS_DELAY_TOLERANCE = 0.1  # Param.cpp globalBusDelayTolerance / localBusDelayTolerance
INPUT_TOGGLE = 0.18  # Param.cpp inputtoggle (VGG-8 CIFAR-10 default)
OUTPUT_TOGGLE = 0.5  # Param.cpp outputtoggle


@lru_cache(maxsize=64)
def repeater(tech: Technology, tolerance: float = BUS_DELAY_TOLERANCE) -> tuple[float, float, float]:
    """(energy per um per bit in pJ, spacing um, size in minimum inverters) of the bus repeaters: the delay-optimal
    inverter, halved while the unit-length delay stays within the tolerance (XYBus.cpp / HTree.cpp Initialize); a
    zero tolerance keeps the optimal one (the PE buses, Bus.cpp)."""
    nd = G.node(tech.node_nm)
    f = nd.f_um
    cw, rw = WIRE_CAP_F_PER_UM, tech.node.wire_res_ohm_per_um

    def inv(size: float) -> tuple[float, float, float]:
        wn, wp = G.MIN_NMOS_F * f * size, nd.pn_ratio * G.MIN_NMOS_F * f * size
        c_in = DE._cg_f(tech, G.MIN_NMOS_F * size) + DE._cg_f(tech, nd.pn_ratio * G.MIN_NMOS_F * size)
        c_out = DE._cd_f(tech, G.MIN_NMOS_F * size) + DE._cd_f(tech, nd.pn_ratio * G.MIN_NMOS_F * size)
        r = (G.on_resistance_ohm(nd, wn) + G.on_resistance_ohm(nd, wp, True)) / 2
        return c_in, c_out, r

    size, dist = W.size_repeater(inv, rw, cw, tolerance, min_size=1e-3)
    ci, co, _ = inv(max(1.0, size))
    return (ci + co + cw * dist) * tech.node.vdd_v ** 2 / dist * 0.5 * 1e12, dist, max(1.0, size)


def htree_path_um(rows: Tensor, cols: Tensor, unit_h: Tensor, unit_w: Tensor) -> Tensor:
    """Root-to-leaf wire of an H-tree over a rows x cols grid of units, with the main bus (HTree.cpp): the tree
    is built for a 2^n x 2^n grid, n = ceil(log2 max(rows, cols)), whose centre the main bus reaches."""
    n = torch.ceil(torch.log2(torch.clamp(torch.maximum(rows, cols), min=1.0)) - 1e-9)
    side = torch.pow(2.0, n)
    return (side - 1.0) * (unit_h + unit_w) / 2 + side / 2 * unit_w


@dataclass(frozen=True)
class TransferInputs:
    """[D, L] operands: the layer (``rows``, ``cols``, ``c_in``, ``k``, ``cps``, ``input_bits``, ``n_vec``,
    ``pool`` bool, ``novel`` bool), the floorplan (``tile_cm``, ``pe_cm``, ``pe_nm``, ``num_pe_nm``, ``sub``
    edges in cells; ``tile_side_um``, the PE outlines ``pe_cm_h_um`` ... ``pe_nm_w_um``, the subarray's ``sub_h_um``,
    ``sub_w_um``; ``grid_rows``, ``grid_cols`` the
    chip's tile grid; ``htree`` bool global bus kind), ``out_bits`` numBitSubarrayOutput."""

    rows: Tensor
    cols: Tensor
    c_in: Tensor
    k: Tensor
    cps: Tensor
    input_bits: Tensor
    n_vec: Tensor
    pool: Tensor
    novel: Tensor
    tile_cm: Tensor
    pe_cm: Tensor
    pe_nm: Tensor
    num_pe_nm: Tensor
    sub: Tensor
    tile_side_um: Tensor
    pe_cm_h_um: Tensor
    pe_cm_w_um: Tensor
    pe_nm_h_um: Tensor
    pe_nm_w_um: Tensor
    sub_h_um: Tensor
    sub_w_um: Tensor
    grid_rows: Tensor
    grid_cols: Tensor
    htree: Tensor
    out_bits: Tensor
    repeat_in: Tensor | float = 1.0  # PE-slot repeat of the PE input side (mapping.conventional_slot_repeat)
    repeat_out: Tensor | float = 1.0  # the same for the PE output side


def layer_transfer_pj(tech: Technology, x: TransferInputs, input_toggle: float = INPUT_TOGGLE,
                      output_toggle: float = OUTPUT_TOGGLE) -> tuple[Tensor, Tensor]:
    """[D, L] (buffer, interconnect) energies of every layer."""
    e_len = repeater(tech)[0]
    one = torch.ones_like(x.k)
    nm = x.novel
    bits_in = x.rows * x.input_bits * x.n_vec  # the layer's input bits, once per column group
    words = torch.ceil(x.cols / x.cps) * x.n_vec  # output words
    load_out = bits_in / torch.where(nm, x.k, one)
    load_in = words * x.input_bits / torch.where(x.pool, 4.0 * one, one)
    # global bus, per bit moved out / in ([D, 1] coefficients)
    side = x.tile_side_um
    tree = htree_path_um(x.grid_rows, x.grid_cols, side, side)
    g_out = torch.where(x.htree, tree, side * torch.ceil(x.grid_cols / 2)) * (e_len * input_toggle)
    g_in = torch.where(x.htree, tree, side * torch.clamp(x.grid_rows - torch.ceil(x.grid_rows / 2) - 1, min=0.0)
                       ) * (e_len * output_toggle)

    # tiles: local H-tree and register-file buffers
    pe = torch.where(nm, x.pe_nm, x.pe_cm)
    k_cm = torch.clamp(x.tile_cm / x.pe_cm, min=1.0)
    k_nm = torch.ceil(torch.sqrt(x.num_pe_nm))
    stages_cm = torch.ceil(torch.log2(k_cm))
    stages_nm = torch.ceil(torch.log2(torch.clamp(x.num_pe_nm, min=1.0)))
    path_cm = htree_path_um(k_cm, k_cm, x.pe_cm_h_um, x.pe_cm_w_um) * e_len
    path_nm = htree_path_um(k_nm, k_nm, x.pe_nm_h_um, x.pe_nm_w_um) * e_len
    col_groups = torch.ceil(x.cols / torch.where(nm, x.pe_nm, x.tile_cm))
    row_groups = torch.where(nm, torch.ceil(x.c_in / x.pe_nm), torch.ceil(x.rows / x.tile_cm))
    t_out = bits_in * col_groups / torch.where(nm, k_nm, one)
    t_in = words * (torch.where(nm, stages_nm + x.pe_nm / x.sub, stages_cm + x.pe_cm / x.sub) + x.out_bits) * row_groups
    path = torch.where(nm, path_nm, path_cm)

    flop_pj = float(DE.dff_pj(tech, 1.0, 1.0)) / DE.GAMMA  # one flip-flop clocked with new data, no activity
    # PE flip-flop buffers and buses; a novel tile's K x K PEs each hold all of its columns
    pe_rows = torch.where(nm, torch.ceil(x.c_in / pe) * x.k * x.k, torch.ceil(x.rows / pe))
    pe_in = bits_in * torch.ceil(x.cols / pe) * x.repeat_in
    subs = torch.clamp(pe / x.sub, min=1.0)
    pe_out = words * pe_rows * x.repeat_out
    e_buf = (flop_pj * DE.GAMMA) * (load_out + load_in + t_out + t_in) + flop_pj * (pe_in + pe_out * x.out_bits)
    # PE buses (Bus.cpp): a horizontal input bus and a vertical output bus across the PE's subarrays,
    # (P/N - 1) subarray pitches long; the output carries the PE adder tree's (stages + bits) per word
    e_ic = (g_out * load_out + g_in * load_in + path * (t_out * input_toggle + t_in * output_toggle)
            + (e_len * (subs - 1)) * (x.sub_w_um * input_toggle * pe_in
                                      + x.sub_h_um * output_toggle * pe_out * (torch.ceil(torch.log2(subs)) + x.out_bits)))
    return e_buf, e_ic
