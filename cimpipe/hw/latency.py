"""Synchronous latency of every layer as NeuroSim V1.4 counts it: clock cycles times one chip clock period.

With ``synchronous = true`` (NeuroSim's default) every block reports a number of clock cycles and main.cpp
multiplies the sums by the chip clock period (the slowest subarray sensing cycle). This module counts those
cycles per layer, vectorized over [D, L] tensors, following the structure of NeuroSim V1.4:

* subarray (SubArray.cpp, CalculateLatency, conventionalParallel + synchronous): ``numColMuxed * numAdd``
  sensing cycles per input bit-vector; the partial-sum adders and shift-adders are pipelined behind the ADC;
* PE (ProcessingUnit.cpp, ProcessingUnitCalculatePerformance): the subarray cycles summed over all input
  bit-vectors, the adder tree (``ceil(delay/clock)`` cycles per read, AdderTree.cpp), the input and output DFF
  buffers (one cycle per ``numDff`` bits, DFF.cpp), everything divided by the array duplication;
* tile (Tile.cpp, TileCalculatePerformance): three cases of duplication for conventional tiles, the tile
  accumulation tree, the input/output register-file buffers (Buffer.cpp: one line per cycle, read and write,
  divided by the cores working in parallel) and the local H-tree (HTree.cpp: ``ceil(delay/clock)`` per transfer);
* chip (Chip.cpp, ChipCalculatePerformance): global ReLU (BitShifter, one cycle per read), global accumulation
  when a layer spans several tile rows, max pooling (3 comparator stages of ``ceil(delay/clock)``), the global
  buffer (128-bit lines, divided by ``min(cores, busWidth/128)``) and the X-Y bus or H-tree.

Integer arithmetic of the C++ (``int / int``) is kept where it changes counts. All counts are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Tensor = torch.Tensor

TILE_BUFFER_CORE_BITS = 32 * 32  # NeuroSim tileBufferCoreSizeRow x Col
GLOBAL_BUFFER_LINE_BITS = 128  # globalBufferCoreSizeCol: one line per cycle
MAXPOOL_STAGES = 3.0  # MaxPooling::Initialize with a 2x2 window: comparator stages 4 -> 2 -> 1 -> 0
MAXPOOL_WINDOW = 4.0


def _log2c(x: Tensor) -> Tensor:
    return torch.ceil(torch.log2(torch.clamp(x, min=1.0)))


def _fdiv(a: Tensor, b: Tensor) -> Tensor:
    """C++ integer division of non-negative integers held as floats."""
    return torch.floor(a / torch.clamp(b, min=1.0))


def _col(x: Tensor) -> Tensor:
    """A [D] figure as [D, 1]; [D, L] ones unchanged."""
    return x if x.dim() == 2 else x[:, None]


def _cycles(delay_ns: Tensor, clock_ns: Tensor) -> Tensor:
    """Synchronous cycles of a combinational delay: ceil(delay * clkFreq) (0 for a zero delay)."""
    return torch.ceil(delay_ns / clock_ns - 1e-9).clamp(min=0.0)


@dataclass(frozen=True)
class LayerWork:
    """What NeuroSim needs per layer, [D, L] float64 (``active`` bool)."""

    n_vec: Tensor  # input vectors (output pixels) per image
    input_bits: Tensor
    rows: Tensor  # C_in*K*K
    cols: Tensor  # C_out * cells per weight
    c_in: Tensor
    c_out: Tensor
    k: Tensor
    cps: Tensor  # cells per weight (numColPerSynapse)
    out_bits: Tensor  # numBitSubarrayOutput
    num_add: Tensor  # ceil(numRowSubArray / numRowParallel)
    pool: Tensor  # bool
    novel: Tensor  # bool
    active: Tensor  # bool


@dataclass(frozen=True)
class ChipShape:
    """Design-level floorplan figures, [D] (``pipeline``, ``novel_flag`` bool)."""

    subarray: Tensor
    col_mux: Tensor
    tile_cm: Tensor
    pe_cm: Tensor
    pe_nm: Tensor
    num_pe_nm: Tensor
    total_tiles: Tensor
    bus_bits: Tensor  # global bus width after halving to <= 2048
    buffer_cores: Tensor  # global buffer cores
    pipeline: Tensor
    novel_flag: Tensor  # NeuroSim novelMapping
    htree: Tensor  # NeuroSim globalBusType: H-tree (true) or X-Y bus (false)


def duplication(w: LayerWork, s: ChipShape, speedup: Tensor) -> tuple[Tensor, Tensor]:
    """(speedUpRow, speedUpCol) of each layer (see :func:`speedup_split`)."""
    return speedup_split(w.rows, w.cols, w.c_in, w.novel, s.subarray[:, None], s.tile_cm[:, None], s.pe_cm[:, None],
                         s.pe_nm[:, None], speedup)


def speedup_split(rows: Tensor, cols: Tensor, c_in: Tensor, novel: Tensor, n: Tensor, t: Tensor, p: Tensor,
                  pe_nm: Tensor, speedup: Tensor) -> tuple[Tensor, Tensor]:
    """(speedUpRow, speedUpCol) of each layer (Chip.cpp ChipFloorPlan): PE and subarray duplication along
    rows / columns; the pipeline's tile replication (``speedup / dup``) goes with the rows. ``n``, ``t``,
    ``p``, ``pe_nm``: the subarray, conventional tile and PE, and novel PE edges ([D, 1])."""
    npe = t / p
    small = (rows <= t) | (cols <= t)
    pdr = torch.where(small & ~novel, torch.clamp(torch.floor(npe / torch.ceil(rows / p)), min=1.0), 1.0)
    pdc = torch.where(small & ~novel, torch.clamp(torch.floor(npe / torch.ceil(cols / p)), min=1.0), 1.0)
    edge = torch.where(novel, pe_nm, p)
    r_layer = torch.where(novel, c_in, rows)
    sdr = torch.clamp(torch.floor(edge / n / torch.ceil(r_layer / n)), min=1.0)
    sdc = torch.clamp(torch.floor(edge / n / torch.ceil(cols / n)), min=1.0)
    dup = pdr * pdc * sdr * sdc
    rep = torch.clamp(torch.round(speedup / dup), min=1.0)
    return pdr * sdr * rep, pdc * sdc


def layer_cycles(w: LayerWork, s: ChipShape, speedup: Tensor, tile_rows: Tensor, tiles: Tensor,
                 clock_ns: Tensor, tree_delay_ns: Tensor, maxpool_delay_ns: Tensor, bus_h_delay_ns: Tensor,
                 bus_v_delay_ns: Tensor, htree_global_delay_ns: Tensor, htree_tile_delay_ns: Tensor,
                 adder_tree_ns: Callable[[Tensor, Tensor], Tensor] | None = None) -> dict[str, Tensor]:
    """Clock cycles of every layer, [D, L], by NeuroSim bucket: ``adc``, ``accumulation``, ``buffer``,
    ``interconnect`` and ``other`` (activation and pooling only; NeuroSim's printed 'other' also holds buffer
    and interconnect). Delays are [D] (or [D, L]) ns; ``tiles`` / ``tile_rows`` as :class:`Mapping` has them
    (tile rows without the pipeline's replication). ``adder_tree_ns(bits, stages)``, when given, times each adder
    tree as NeuroSim sizes it (AdderTree.cpp CalculateLatency: first stage ``bits`` wide, ``ceil(log2(inputs))``
    stages for the inputs it adds): the PE tree over the layer's subarray rows in a PE, the tile tree over its
    PEs (numBitPEOutput wide), the global tree over its tile rows (numBitSubarrayOutput +
    ``log2(maxAddFromSubArray)`` wide, Chip.cpp); otherwise ``tree_delay_ns`` times them all."""
    act = w.active.to(torch.float64)
    clk = clock_ns[:, None]
    n, mux = s.subarray[:, None], s.col_mux[:, None]
    ib, nv = w.input_bits, w.n_vec
    nvb = nv * ib  # NeuroSim's numInVector at tile level: bit-serial input vectors
    nm = w.novel
    t_cm, p_cm = s.tile_cm[:, None], s.pe_cm[:, None]
    p_nm, k_nm = s.pe_nm[:, None], torch.clamp(s.num_pe_nm, min=1.0)[:, None]
    tree_cyc = None if adder_tree_ns is not None else _cycles(_col(tree_delay_ns), clk)
    su_row, su_col = duplication(w, s, speedup)
    su = su_row * su_col

    # ---- conventional tiles ----
    npe = t_cm / p_cm
    rows_t, cols_t = torch.minimum(t_cm, w.rows), torch.minimum(t_cm, w.cols)
    case_a = (su > 1) & (su_row >= npe) & (su_col >= npe)
    case_b = (su > 1) & ~case_a
    div_a = npe * npe * torch.ceil(su_row / npe) * torch.ceil(su_col / npe)
    div_cm = torch.where(case_a, div_a, torch.where(case_b, su, 1.0))
    rows_pe_cm = torch.where(case_a, rows_t, torch.minimum(p_cm, w.rows))
    cols_pe_cm = torch.where(case_a, cols_t, torch.minimum(p_cm, w.cols))
    stg_pe_cm = _log2c(p_cm / n)
    # tile accumulation: case b only when the layer spans several PE rows; case c always
    tile_acc_cm = torch.where(case_a, 0.0, torch.where(case_b & (torch.ceil(rows_t / p_cm) <= 1), 0.0, 1.0)) * (
        nv * torch.ceil(mux / w.cps))  # times the tile tree's cycles below
    nbpeo_cm = w.out_bits + p_cm / n  # numBitPEOutputCM = numBitSubarrayOutput + ceil(sqrt(numSubArrayCM))
    in_cap_cm = npe * ib * n
    out_w_cm = nbpeo_cm + _log2c(npe)
    out_cap_cm = out_w_cm * npe * n / mux
    load_in_cm = rows_t * nvb
    load_out_cm = _fdiv(cols_t, w.cps) * (_log2c(npe) + nbpeo_cm) * nv
    bus_cm = npe * p_cm

    # ---- novel tiles ----
    rows_t_nm = torch.minimum(p_nm * k_nm, w.rows)
    cols_t_nm = torch.minimum(p_nm, w.cols)
    rows_pe_nm = _fdiv(rows_t_nm, k_nm)
    stg_pe_nm = _log2c(p_nm / n)
    tile_acc_nm = nv * _fdiv(mux, w.cps)  # times the tile tree's cycles below
    nbpeo_nm = w.out_bits + p_nm / n
    in_cap_nm = k_nm * ib * n
    out_w_nm = nbpeo_nm + _log2c(k_nm)
    out_cap_nm = out_w_nm * k_nm * n / mux
    load_in_nm = rows_t_nm * nvb / torch.sqrt(k_nm)
    load_out_nm = _fdiv(cols_t_nm, w.cps) * (_log2c(k_nm) + nbpeo_nm) * nv
    bus_nm = k_nm * p_nm

    sel = lambda a, b: torch.where(nm, b, a)  # noqa: E731  (conventional, novel)
    div = sel(div_cm, su)
    rows_pe, cols_pe = sel(rows_pe_cm, rows_pe_nm), sel(cols_pe_cm, cols_t_nm)
    stg_pe = sel(stg_pe_cm, stg_pe_nm)

    # PE: subarray sensing cycles, adder tree, DFF buffers (ProcessingUnit.cpp), then duplication
    adc = nvb * mux * w.num_add / div
    tree_pe, tree_tile = tree_cyc, tree_cyc
    if adder_tree_ns is not None:
        tree_pe = _cycles(adder_tree_ns(w.out_bits, _log2c(torch.ceil(rows_pe / n - 1e-9))), clk)
        units_cm = torch.where(case_b, torch.ceil(rows_t / p_cm - 1e-9), npe)
        tree_tile = _cycles(torch.where(nm, adder_tree_ns(nbpeo_nm, _log2c(k_nm)),
                                        adder_tree_ns(nbpeo_cm, _log2c(units_cm))), clk)
    tile_acc_cm, tile_acc_nm = tile_acc_cm * tree_tile, tile_acc_nm * tree_tile
    pe_tree = nv * _fdiv(mux, w.cps) * tree_pe / div
    pe_in = _fdiv(rows_pe * nvb, ib * n)
    pe_out = _fdiv(_fdiv(_fdiv(cols_pe, w.cps) * w.out_bits * nvb, ib), (n / mux) * (w.out_bits + stg_pe))
    pe_buf = (pe_in + pe_out) / div

    # tile register-file buffers: bits / interface width, divided by min(cores, ceil(busWidth / width))
    def rf(load: Tensor, cap: Tensor, small_width: Tensor, bus: Tensor) -> Tensor:
        width = torch.where(cap < TILE_BUFFER_CORE_BITS, small_width, torch.full_like(cap, 32.0))
        cores = torch.ceil(cap / TILE_BUFFER_CORE_BITS)
        return load / width / torch.minimum(cores, torch.ceil(bus / width))

    tile_in = sel(rf(load_in_cm, in_cap_cm, npe * n, bus_cm), rf(load_in_nm, in_cap_nm, k_nm * n, bus_nm))
    tile_out = sel(rf(load_out_cm, out_cap_cm, out_w_cm * npe, bus_cm), rf(load_out_nm, out_cap_nm, out_w_nm * k_nm,
                                                                              bus_nm))
    htree_tile = sel((load_in_cm + load_out_cm) / bus_cm, (load_in_nm + load_out_nm) / bus_nm) * _cycles(
        _col(htree_tile_delay_ns), clk).clamp(min=1.0)
    tile_acc = sel(tile_acc_cm, tile_acc_nm)

    # ---- chip level ----
    g_out = torch.where(nm, w.rows * nvb / w.k, w.rows * nvb)
    g_in = w.c_out * nvb / torch.where(w.pool, 4.0, 1.0)
    bus = s.bus_bits[:, None]
    g_buf = (g_out + g_in) / GLOBAL_BUFFER_LINE_BITS / torch.minimum(
        s.buffer_cores[:, None], torch.ceil(bus / GLOBAL_BUFFER_LINE_BITS))
    layers_n = w.active.sum(dim=1, keepdim=True).to(torch.float64)
    pipe = s.pipeline[:, None]
    through = torch.where(s.novel_flag[:, None], torch.maximum(t_cm, p_nm) * torch.where(pipe, layers_n + 1, 1.0),
                          t_cm)
    units = torch.ceil(through / mux)
    relu = torch.ceil(nv * w.c_out / units)
    rows_ns = tile_rows * torch.where(pipe, torch.clamp(torch.round(tiles / torch.clamp(
        tile_rows * torch.ceil(w.cols / torch.where(nm, p_nm, t_cm)), min=1.0)), min=1.0), 1.0)
    tree_g = tree_cyc
    if adder_tree_ns is not None:
        sub_pe = torch.where(s.novel_flag[:, None], torch.maximum(torch.ceil(p_cm / n), torch.ceil(p_nm / n))
                             * torch.maximum(torch.ceil(t_cm / p_cm), torch.ceil(torch.sqrt(k_nm) - 1e-9)),
                             torch.ceil(p_cm / n) * torch.ceil(t_cm / p_cm))
        max_add = sub_pe * torch.where(pipe, layers_n + 1, 1.0)
        tree_g = _cycles(adder_tree_ns((w.out_bits + _log2c(max_add)).expand_as(rows_ns), _log2c(rows_ns)), clk)
    g_acc = torch.where(rows_ns > 1, torch.ceil(w.c_out * (nv / units)) * tree_g, 0.0)
    n_mp = torch.floor(torch.maximum(t_cm / mux, p_nm / mux))
    pool = torch.where(w.pool, torch.ceil(nv * w.c_out / MAXPOOL_WINDOW / n_mp) * MAXPOOL_STAGES
                       * _cycles(maxpool_delay_ns[:, None], clk).clamp(min=1.0), 0.0)
    # global interconnect: X-Y bus (ceil(totalRow/2), ceil(totalCol/2) tiles to the row / column segment)
    total = torch.clamp(s.total_tiles, min=1.0)[:, None]
    total_rows = torch.ceil(torch.sqrt(total))
    total_cols = torch.ceil(total / total_rows)
    cols_ns = torch.ceil(w.cols / torch.where(nm, p_nm, t_cm))
    cyc_h = _cycles(_col(bus_h_delay_ns), clk)
    cyc_v = _cycles(_col(bus_v_delay_ns), clk)
    xy = torch.ceil(g_out / bus * total_rows / torch.clamp(rows_ns, min=1.0)) * cyc_h + torch.ceil(
        g_in / bus * total_cols / torch.clamp(cols_ns, min=1.0)) * cyc_v
    share = torch.ceil(bus * tiles / total)
    htree = torch.ceil((g_out + g_in) / torch.clamp(share, min=1.0)) * _cycles(
        _col(htree_global_delay_ns), clk).clamp(min=1.0)
    ic_global = torch.where(s.htree[:, None], htree, xy)

    buffer = pe_buf + tile_in + tile_out + g_buf
    ic = htree_tile + ic_global
    return {
        "adc": adc * act,
        "accumulation": (pe_tree + tile_acc + g_acc) * act,
        "buffer": buffer * act,
        "interconnect": ic * act,
        "other": (relu + pool) * act,
    }
