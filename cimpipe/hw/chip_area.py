"""Chip area from the subarray up: PE, tile and chip, as NeuroSim V1.4 adds them (um^2 unless named).

NeuroSim V1.4 ProcessingUnit.cpp (ProcessingUnitCalculateArea), Tile.cpp (TileCalculateArea), Chip.cpp
(ChipCalculateArea), HTree.cpp / XYBus.cpp (CalculateArea, repeater sizing in Initialize). A block's height
and width are sqrt(area) (NeuroSim makes PEs and tiles square); the chip total sums the tiles' areas (with
the subarrays' bounding boxes) and the global blocks, the breakdown sums the components.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from cimpipe.hw import floorplan as FP
from cimpipe.hw import gates as G
from cimpipe.hw import wires as W
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
BUCKETS = ("array", "interconnect", "adc", "accumulation", "other")
BUS_DELAY_TOLERANCE = 0.1  # Param.cpp globalBusDelayTolerance / localBusDelayTolerance
WIRE_CAP_F_PER_UM = 0.2e-15


def _ceil(x: Tensor) -> Tensor:
    return torch.ceil(x - 1e-9)


@dataclass(frozen=True)
class AreaInputs:
    """One chip per design: design-level values [D, 1], per-layer ones [D, L] (or [D, 1])."""

    sub: Tensor
    rows_parallel: Tensor
    col_mux: Tensor
    adc_bits: Tensor
    adc_is_sar: Tensor
    cell_bits: Tensor
    cells_per_synapse: Tensor
    input_bits: Tensor
    tile_size_cm: Tensor
    pe_size_cm: Tensor
    pe_size_nm: Tensor
    num_pe_nm: Tensor
    tiles: Tensor  # [D, L]
    novel: Tensor  # [D, L] bool
    active: Tensor  # [D, L] bool
    tile_rows: Tensor  # [D, L]
    subarray_rows: Tensor  # [D, L]
    total_tiles: Tensor  # [D, 1]
    buffer_words: Tensor  # [D, 1] input words the global buffer holds
    bus_bits: Tensor  # [D, 1]
    htree: Tensor  # [D, 1] bool: global H-tree (else X-Y bus)
    novel_enabled: Tensor  # [D, 1] bool: NeuroSim novelMapping (NM tile dimensions count for the bus)
    pipeline: Tensor  # [D, 1] bool: pipelined chip (global accumulation and ReLU sized for every layer)


@lru_cache(maxsize=None)
def repeater_size_um(nm: int, wire_res_ohm_per_um: float) -> tuple[float, float]:
    """(height, width) of the bus repeater inverter: the delay-optimal size, halved while the unit-length
    delay stays within the tolerance (HTree.cpp / XYBus.cpp Initialize), with NeuroSim's gate and drain
    capacitances and CACTI on-resistances (:mod:`cimpipe.hw.gates`). SI units inside."""
    nd = G.node(nm)
    f = nd.f_um
    cw = WIRE_CAP_F_PER_UM * 1e6  # F/m
    rw = wire_res_ohm_per_um * 1e6  # ohm/m

    def inv(size: float) -> tuple[float, float, float]:
        wn, wp = G.MIN_NMOS_F * f * size, nd.pn_ratio * G.MIN_NMOS_F * f * size
        c_in = G.gate_cap_f(nd, wn) + G.gate_cap_f(nd, wp)
        r = (G.cacti_on_resistance_ohm(nd, wn) + G.cacti_on_resistance_ohm(nd, wp, True)) / 2
        return c_in, G.inv_output_cap_f(nd, wn, wp), r

    size = max(1.0, W.size_repeater(inv, rw, cw, BUS_DELAY_TOLERANCE)[0])
    return G.gate_size_um(nd, "INV", 1, G.MIN_NMOS_F * f * size, nd.pn_ratio * G.MIN_NMOS_F * f * size)


def htree_area_um2(rep: tuple[float, float], rows: Tensor, cols: Tensor, bus: Tensor, unit_h: Tensor,
                   unit_w: Tensor, folded: float) -> Tensor:
    """H-tree over a rows x cols grid of units (HTree.cpp CalculateArea): per level the wire bundle widens by
    bus x repeater size / folding; the last level overlaps the units; plus the main bus to the edge."""
    h_inv, w_inv = rep
    n = torch.ceil(torch.log2(torch.clamp(torch.maximum(rows, cols), min=1.0)) - 1e-9)
    side = torch.pow(2.0, n)
    len_v, len_h = unit_h * side / 2, unit_w * side / 2
    wid_v = torch.zeros_like(len_v)
    wid_h = torch.zeros_like(len_h)
    area = torch.zeros_like(len_v)
    for i in range(1, int(n.max().item()) if n.numel() else 0):
        live = i < n
        len_v = torch.where(live, len_v / 2, len_v)
        wid_v = torch.where(live, wid_v + bus * w_inv / folded, wid_v)
        area = area + torch.where(live, wid_v * len_v / 2, torch.zeros_like(area))
        len_h = torch.where(live, len_h / 2, len_h)
        wid_h = torch.where(live, wid_h + bus * h_inv / folded, wid_h)
        area = area + torch.where(live, wid_h * len_h / 2, torch.zeros_like(area))
    x_center = side / 2
    x_center = torch.where(side - x_center < 1, x_center - 1, x_center)
    return area + bus * h_inv / folded * torch.minimum(side - x_center, x_center) * unit_w


def xybus_area_um2(rep: tuple[float, float], rows: Tensor, cols: Tensor, bus: Tensor, unit_h: Tensor,
                   unit_w: Tensor, folded: float) -> Tensor:
    """X-Y bus over the tile grid (XYBus.cpp CalculateArea): one vertical and one horizontal bundle."""
    h_inv, w_inv = rep
    return bus * w_inv / folded * unit_h * rows + bus * h_inv / folded * unit_w * cols


def _tile_buffer_area(nd: G.Node, bits: Tensor, line_bits: Tensor) -> Tensor:
    """A tile buffer of ``bits`` (Tile.cpp TileInitialize): one buffer of lines of ``line_bits`` when smaller
    than a 32x32-bit core, else whole cores of 32 lines, each with its row decoder."""
    core = float(FP.TILE_BUFFER_CORE_BITS)
    small = bits < core
    cores = torch.where(small, torch.ones_like(bits), torch.ceil(bits / core - 1e-9))
    lines = torch.where(small, torch.ceil(bits / line_bits - 1e-9), torch.full_like(bits, core / 32))
    return FP.register_buffer_area_um2(nd, torch.where(small, bits, cores * core), lines, cores)


def pe_area(nd: G.Node, sa: dict[str, Tensor], x: AreaInputs, pe: Tensor, out_bits: Tensor) -> dict[str, Tensor]:
    """PE of (pe/sub)^2 subarrays + adder tree + input/output DFF buffers (ProcessingUnitCalculateArea)."""
    k = torch.clamp(pe / x.sub, min=1.0)
    n = k * k
    tree = FP.adder_tree_area_um2(nd, k, out_bits, pe / x.col_mux)
    h_all, w_all = k * sa["height_um"], k * sa["width_um"]
    buf_in = h_all * FP.dff_cols_width_um(nd, x.input_bits * x.sub + 0 * h_all, h_all)
    stages = torch.ceil(torch.log2(k) - 1e-9)
    buf_out = w_all * FP.dff_rows_height_um(nd, x.sub / x.col_mux * (out_bits + stages) + 0 * w_all, w_all)
    out = {b: sa[b] * n for b in ("array", "adc")}
    out["accumulation"] = sa["accumulation"] * n + tree
    out["other"] = sa["other"] * n + buf_in + buf_out
    out["area"] = sa["area_um2"] * n + tree + buf_in + buf_out
    # outline: the output buffer and the adder tree below the subarrays, the input buffer beside them
    out["height"] = h_all + (buf_out + tree) / w_all
    out["width"] = out["area"] / out["height"]
    return out


def tile_area(nd: G.Node, rep: tuple[float, float], sa: dict[str, Tensor], x: AreaInputs, novel: bool,
              sub_out_bits: Tensor) -> dict[str, Tensor]:
    """Tile of PEs + accumulation + register-file buffers + local H-tree (TileCalculateArea)."""
    if novel:
        pe_size, n_pe = x.pe_size_nm, torch.clamp(x.num_pe_nm, min=1.0)
        k_side = torch.ceil(torch.sqrt(n_pe) - 1e-9)
        k_in = n_pe  # the novel tile's buffers, tree and bus are sized by the PE count
        trees = torch.ceil(pe_size / x.col_mux - 1e-9)
        bus = n_pe * pe_size
    else:
        pe_size = x.pe_size_cm
        k_side = torch.clamp(x.tile_size_cm / pe_size, min=1.0)
        n_pe, k_in = k_side * k_side, k_side
        trees = torch.ceil(x.tile_size_cm / x.col_mux - 1e-9)
        bus = k_side * pe_size
    pe_out = sub_out_bits + torch.clamp(pe_size / x.sub, min=1.0)
    pe = pe_area(nd, sa, x, pe_size, sub_out_bits)
    pe_side = torch.sqrt(pe["area"])
    accum = FP.adder_tree_area_um2(nd, k_in, pe_out, trees)
    out_width = pe_out + torch.ceil(torch.log2(k_in) - 1e-9)
    buffers = (_tile_buffer_area(nd, k_in * x.input_bits * x.sub, k_in * x.sub + 0 * out_width)
               + _tile_buffer_area(nd, out_width * k_in * x.sub / x.col_mux, out_width * k_in))
    if novel:
        tree = htree_area_um2(rep, k_side, k_side, bus, pe_side, pe_side, FP.LOCAL_TREE_FOLDED_RATIO)
    else:
        tree = htree_area_um2(rep, k_in, k_in, bus, pe_side, pe_side, FP.LOCAL_TREE_FOLDED_RATIO)
    return {
        "area": pe["area"] * n_pe + accum + buffers + tree,
        "interconnect": tree,
        "adc": pe["adc"] * n_pe,
        "accumulation": pe["accumulation"] * n_pe + accum,
        "other": pe["other"] * n_pe + buffers,
        "array": pe["array"] * n_pe,
        "pe_side": pe_side,
        "pe_h": pe["height"],
        "pe_w": pe["width"],
    }


def chip_area_um2(tech: Technology, x: AreaInputs, geometry: dict | None = None
                  ) -> tuple[Tensor, dict[str, Tensor]]:
    """[D] chip area and its breakdown (ChipCalculateArea) in NeuroSim's buckets plus ``empty``. Subarray figures follow ``x.adc_bits`` ([D, 1] or
    [D, L]); a layer's tiles take its subarrays. ``geometry``, when given, receives the tile and PE sides (um,
    square equivalents) of both tile kinds, ``tile_cm``/``tile_nm``, the PE outlines ``pe_cm_h``/``pe_cm_w``/
    ``pe_nm_h``/``pe_nm_w`` and the subarray's ``sub_h``/``sub_w`` ([D, 1] or [D, L]), for the interconnect
    energy."""
    nd = G.node(tech.node_nm)
    node = tech.node
    rep = repeater_size_um(nd.nm, node.wire_res_ohm_per_um)
    sa = FP.subarray_area(tech, x.sub, x.rows_parallel, x.col_mux, x.adc_bits, x.adc_is_sar, x.cell_bits,
                          x.cells_per_synapse, x.input_bits)
    # NeuroSim has one ADC precision per chip: with per-layer ADCs the shared trees and buffers take the
    # widest active layer's subarray output
    sub_out_layer = (x.adc_bits + torch.ceil(torch.log2(sa["num_add"]) - 1e-9) + x.input_bits
                     + (sa["cells_per_synapse"] - 1) * x.cell_bits + 1) * torch.ones_like(x.tiles)
    sub_out = torch.where(x.active, sub_out_layer, torch.zeros_like(sub_out_layer)).amax(dim=1, keepdim=True)
    cm = tile_area(nd, rep, sa, x, False, sub_out)
    nm = tile_area(nd, rep, sa, x, True, sub_out)
    if geometry is not None:
        geometry.update(tile_cm=torch.sqrt(cm["area"]), tile_nm=torch.sqrt(nm["area"]), pe_cm_h=cm["pe_h"],
                        pe_cm_w=cm["pe_w"], pe_nm_h=nm["pe_h"], pe_nm_w=nm["pe_w"], sub_h=sa["height_um"],
                        sub_w=sa["width_um"])
    tiles = x.tiles * x.active.to(x.tiles.dtype)
    parts = {b: (tiles * torch.where(x.novel, nm[b], cm[b])).sum(dim=1) for b in BUCKETS}
    total = (tiles * torch.where(x.novel, nm["area"], cm["area"])).sum(dim=1)

    # global blocks: tile pitch is the larger tile kind (the novel one counts whenever novel mapping is on)
    neg = torch.full_like(cm["area"] * x.tiles, -1.0)
    side_cm = torch.where(x.active, cm["area"] + 0 * neg, neg).amax(dim=1)
    side_nm = torch.where(x.active & x.novel_enabled, nm["area"] + 0 * neg, neg).amax(dim=1)
    tile_side = torch.sqrt(torch.clamp(torch.maximum(side_cm, side_nm), min=0.0))
    n_tiles = torch.clamp(x.total_tiles[:, 0], min=1.0)
    grid_r = torch.ceil(torch.sqrt(n_tiles) - 1e-9)
    grid_c = torch.ceil(n_tiles / grid_r - 1e-9)
    bus = x.bus_bits[:, 0]
    h_tree = htree_area_um2(rep, grid_r, grid_c, bus, tile_side, tile_side, FP.TREE_FOLDED_RATIO)
    xy = xybus_area_um2(rep, grid_r, grid_c, bus, tile_side, tile_side, FP.TREE_FOLDED_RATIO)
    g_bus = torch.where(x.htree[:, 0], h_tree, xy)
    # global buffer: int(numBitInput x words) bits in cores of 128 lines of 128 bits (Chip.cpp, no sync transfer)
    g_bits = torch.floor(x.input_bits.amax(dim=1) * x.buffer_words[:, 0] + 1e-6)
    g_cores = torch.clamp(torch.ceil(g_bits / FP.GLOBAL_BUFFER_CORE_BITS - 1e-9), min=1.0)
    g_buffer = FP.register_buffer_area_um2(nd, g_cores * FP.GLOBAL_BUFFER_CORE_BITS,
                                           torch.full_like(g_cores, 128.0), g_cores)
    # global accumulation and ReLU lanes (Chip.cpp ChipInitialize, chipActivation): the widest tile output
    # (maxThroughputTile, times layers + 1 when pipelined with novel mapping on) and the partial sums added
    # below the chip (maxAddFromSubArray, times layers + 1 when pipelined); max pooling takes unscaled lanes
    t_cm, p_cm, p_nm, sub = x.tile_size_cm[:, 0], x.pe_size_cm[:, 0], x.pe_size_nm[:, 0], x.sub[:, 0]
    mux = x.col_mux[:, 0]
    nm_on = x.novel_enabled[:, 0]
    through = torch.where(nm_on, torch.maximum(t_cm, torch.ceil(p_nm - 1e-9)), t_cm)
    adds = torch.where(nm_on, torch.maximum(_ceil(p_cm / sub), _ceil(p_nm / sub))
                       * torch.maximum(_ceil(t_cm / p_cm), _ceil(torch.sqrt(torch.clamp(x.num_pe_nm[:, 0], min=1.0)))),
                       _ceil(p_cm / sub) * _ceil(t_cm / p_cm))
    stages = torch.where(x.pipeline[:, 0], x.active.to(t_cm.dtype).sum(dim=1) + 1, torch.ones_like(t_cm))
    through = torch.floor(through * torch.where(nm_on, stages, torch.ones_like(stages)))
    adds = torch.floor(adds * stages)
    lanes = _ceil(through / mux)
    pool_lanes = torch.ceil(torch.maximum(x.tile_size_cm, x.pe_size_nm) / x.col_mux - 1e-9)[:, 0]
    in_bits = x.input_bits.amax(dim=1)
    max_tiles_added = torch.clamp(torch.where(x.active, x.tile_rows, torch.zeros_like(x.tile_rows)).amax(dim=1),
                                  min=1.0)
    acc_bits = sub_out[:, 0] + _ceil(torch.log2(torch.clamp(adds, min=1.0)))
    g_accum = FP.adder_tree_area_um2(nd, torch.floor(max_tiles_added), acc_bits, lanes)
    g_relu = FP.register_buffer_area_um2(nd, lanes * in_bits)
    g_pool = FP.adder_area_um2(nd, 3 * pool_lanes * in_bits)
    parts["interconnect"] = parts["interconnect"] + g_bus
    parts["accumulation"] = parts["accumulation"] + g_accum
    parts["other"] = parts["other"] + g_buffer + g_relu + g_pool
    total = total + g_bus + g_buffer + g_accum + g_relu + g_pool
    # what the bounding boxes of the subarrays enclose beyond their components (NeuroSim's emptyArea): the
    # five NeuroSim buckets plus this one add up to the chip area
    parts["empty"] = total - sum(parts[b] for b in BUCKETS)
    return total, parts
