"""One chunk of designs through the chip model, one function per concern over one per-layer record.

:func:`evaluate_chunk` looks up each design's characterized subarray figures, decides feasibility, builds the
:class:`LayerRecord` (the per-layer work and NeuroSim's mapping of every layer), then asks the floorplan for
the area and the bus geometry, the latency for the per-layer and chip latency, the energy for the per-layer
dynamic energy by NeuroSim bucket, and the leakage; and puts the figures together as
:class:`~cimpipe.hw.batch.ChipMetrics`. Chip structure and latency/energy bookkeeping follow NeuroSim's
Chip.cpp / Tile.cpp / ProcessingUnit.cpp; the circuit models live in the modules each step calls.

Operations are counted as NeuroSim does: 2*IFM_H*IFM_W*C_in*K*K*C_out per layer (stride ignored; divided by
the groups of a grouped layer), and TOPS/W divides by the post-layout factor zeta. A grouped (depthwise) layer
is mapped as its dense block-diagonal matrix of ``C_in*K*K`` rows (see :mod:`cimpipe.families`).

Per-design factors are applied to per-layer sums (sum(x*a) = a*sum(x)), so only the quantities that differ
per layer are [D, L] tensors; integer-valued counts are computed exactly. With ``hw.adc_bits`` [D, L] the
characterization figures are looked up per layer slot and each layer's work uses its own: conversion,
shift-add and local-buffer energies, the subarray areas, its ADC/accumulation latency at its own clock.
Structures the layers share take the widest or slowest of the design's active layers: the adder trees of PEs,
tiles and the chip and the PE buffers (sized for the widest shift-add output), the global buffer's and bus's
timing and the reported clock (the slowest clock period). A design is infeasible when an active layer's option
is (the lowest reason code over its active layers is reported). With ``adc_bits`` [D] every figure is a [D]
tensor and the arithmetic is the chip-level one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from cimpipe.hw import accumulation_energy as ACC
from cimpipe.hw import adc_energy as AE
from cimpipe.hw import components as C
from cimpipe.hw import delays as G
from cimpipe.hw import energy as EN
from cimpipe.hw import latency as LT
from cimpipe.hw import leakage as LK
from cimpipe.hw import periphery_energy as PER
from cimpipe.hw import transfer_energy as TE
from cimpipe.hw import wires as WR
from cimpipe.hw.batch import EVAL_REASONS, ChipMetrics, HardwareBatch, LayerBatch
from cimpipe.hw.characterize import ADC_BITS_RANGE, FIGURE_COLUMNS, REASONS, reason_codes
from cimpipe.hw.chip_area import AreaInputs, chip_area_um2
from cimpipe.hw.floorplan import GLOBAL_BUFFER_CORE_BITS
from cimpipe.hw.mapping import Mapping, conventional_slot_repeat, cut_dimension, full_duplication_share, map_network
from cimpipe.hw.technology import Technology

if TYPE_CHECKING:
    from cimpipe.hw.evaluate import Evaluator

Tensor = torch.Tensor
F64 = torch.float64

MAX_GLOBAL_BUS_BITS = 2048

# the characterization figures a per-layer ([D, L]) lookup gathers
_LAYER_FIGURES = ("num_add", "shift_add_bits", "array_area_um2", "adc_area_um2", "accum_area_um2", "other_area_um2",
                  "adc_energy_pj", "column_energy_pj", "array_energy_pj", "accum_energy_pj", "other_energy_pj",
                  "adc_fixed_pj", "adc_ref_w", "adc_sense_s", "wordline_pj", "clock_period_ns")


@dataclass(frozen=True)
class LayerRecord:
    """Every layer of a chunk of designs as the chip sees it: [D, L] tensors unless marked [D].

    Operands are clamped to values the model can evaluate, so the figures of infeasible designs stay finite.
    ``fig`` holds the characterization figures, [D] or [D, L] (``layer_adc``); ``adc_bits`` is [D, L] or
    [D, 1]; ``mapping`` is NeuroSim's tile/PE/subarray mapping of every layer.
    """

    active: Tensor  # bool
    actf: Tensor  # active as 0/1
    layer_adc: bool
    subarray: Tensor  # [D] power of two in 16..4096
    col_mux: Tensor  # [D]
    cell_bits: Tensor  # [D]
    rows_parallel: Tensor  # [D], at most the subarray
    adc_bits: Tensor
    k: Tensor
    kk: Tensor
    input_bits: Tensor
    c_in: Tensor
    c_out: Tensor
    groups: Tensor
    cps: Tensor  # cells per synapse: columns one weight occupies (design.columns_per_weight)
    rows: Tensor  # weight-matrix rows, C_in*K*K
    cols: Tensor  # weight-matrix columns, C_out*cps
    n_vec: Tensor  # input vectors (output positions), zero for inactive layers
    bit_vectors: Tensor  # n_vec x input bits
    sub_rows: Tensor  # subarrays along a layer's rows
    max_in: Tensor  # input feature-map words, zero for inactive layers
    pool: Tensor  # bool, the layer is followed by max pooling (as given, inactive slots included)
    fig: dict[str, Tensor]
    mapping: Mapping

    def col(self, x: Tensor) -> Tensor:
        """A figure or a design-level value as a [D, L] / [D, 1] operand of per-layer arithmetic."""
        return x if x.dim() == 2 else x[:, None]

    def shared(self, x: Tensor) -> Tensor:
        """[D] value of a figure for a structure all layers share: the largest over the active layers."""
        if not self.layer_adc:
            return x
        widest = torch.where(self.active, x, torch.full_like(x, -math.inf)).amax(dim=1)
        return torch.where(self.active.any(dim=1), widest, x.amax(dim=1))  # no active layer: any finite value

    def widest(self, x: Tensor, floor: float = 1.0) -> Tensor:
        """[D, 1] largest value over the active layers (at least ``floor``; [D, 1] inputs pass through)."""
        if x.shape[-1] == 1:
            return x
        return torch.where(self.active, x, torch.full_like(x, -math.inf)).amax(dim=1, keepdim=True).clamp(min=floor)


@dataclass(frozen=True)
class Floorplan:
    """The chip's area (mm^2, [D]), its breakdown (um^2), the geometry the buses follow and the global
    buffer and bus sizes."""

    area_mm2: Tensor
    parts_um2: dict[str, Tensor]
    geometry: dict[str, Tensor]
    buffer_words: Tensor
    bus_bits: Tensor


def columns_per_weight(w_bits: Tensor, cell_bits: Tensor, differential: Tensor | None) -> Tensor:
    """[D, L] columns one weight occupies, :func:`cimpipe.design.columns_per_weight` batched: NeuroSim's
    ``ceil(w_bits / cell_bits)`` (offset encoding), or ``2 * ceil((w_bits - 1) / cell_bits)`` for
    differential arrays (``differential`` [D] bool; None: offset for every design)."""
    offset = torch.ceil(w_bits / cell_bits)
    if differential is None:
        return offset
    two = 2.0 * torch.clamp(torch.ceil((w_bits - 1.0) / cell_bits), min=1.0)
    return torch.where(differential.to(torch.bool)[:, None], two, offset)


def lookup(ev: "Evaluator", hw: HardwareBatch) -> tuple[HardwareBatch, Tensor, dict[str, Tensor]]:
    """The hardware (with a placeholder ADC where there are no layer slots), whether each option is
    characterized, and the characterization figures of every design or layer slot."""
    if hw.adc_bits.dim() == 2 and hw.adc_bits.shape[1] == 0:  # no layer slots: any characterized ADC will do
        adc = float(ev._keys["adc_bits"][0]) if len(ev._keys["adc_bits"]) else float(ADC_BITS_RANGE[0])
        hw = HardwareBatch(**{**hw.__dict__, "adc_bits": torch.full_like(hw.subarray, adc)})
    row, found = ev._rows(hw)
    if hw.adc_bits.dim() == 2:  # contiguous [D, L] figures, only the columns used
        flat = row.reshape(-1)
        fig = {k: ev._figures_by_column[FIGURE_COLUMNS.index(k)].index_select(0, flat).view(row.shape)
               for k in _LAYER_FIGURES}
    else:
        figs = ev._figures.index_select(0, row)
        fig = {k: figs[:, i] for i, k in enumerate(FIGURE_COLUMNS)}
    return hw, found, fig


def feasibility(tech: Technology, lb: LayerBatch, hw: HardwareBatch, found: Tensor) -> Tensor:
    """[D] reason code into :data:`~cimpipe.hw.batch.EVAL_REASONS` (0: feasible)."""
    act = lb.active
    not_char = REASONS.index("not_characterized")
    if hw.adc_bits.dim() == 2:
        lift = lambda v: v[:, None]  # noqa: E731
        code_l = reason_codes(tech, lift(hw.subarray), lift(hw.rows_parallel), lift(hw.col_mux), hw.adc_bits,
                              lift(hw.cell_bits))
        code_l = torch.where((code_l == 0) & ~found, torch.full_like(code_l, not_char), code_l)
        none = len(EVAL_REASONS)  # above every code
        code = torch.where(act & (code_l != 0), code_l, torch.full_like(code_l, none)).amin(dim=1)
        # the constraints not involving the ADC also hold for a design without active layers
        code_hw = reason_codes(tech, hw.subarray, hw.rows_parallel, hw.col_mux,
                               torch.full_like(hw.subarray, float(ADC_BITS_RANGE[0])), hw.cell_bits)
        code = torch.minimum(code, torch.where(code_hw != 0, code_hw, torch.full_like(code_hw, none)))
        code = torch.where(code == none, torch.zeros_like(code), code)
    else:
        code = reason_codes(tech, hw.subarray, hw.rows_parallel, hw.col_mux, hw.adc_bits, hw.cell_bits)
        code = torch.where((code == 0) & ~found, torch.full_like(code, not_char), code)
    bad_shape = (act & ((lb.k > lb.ifm_h) | (lb.k > lb.ifm_w) | (lb.k < 1) | (lb.c_in < 1) | (lb.c_out < 1)
                        | (lb.stride < 1))).any(dim=1)
    bad_bits = (act & ((lb.weight_bits < 1) | (lb.weight_bits > C.MAX_OPERAND_BITS) | (lb.input_bits < 1)
                       | (lb.input_bits > C.MAX_OPERAND_BITS))).any(dim=1)
    no_layer = ~act.any(dim=1)
    for name, bad in (("no_active_layer", no_layer), ("operand_bits_out_of_range", bad_bits),
                      ("layer_shape_invalid", bad_shape)):
        code = torch.where((code == 0) & bad, torch.full_like(code, EVAL_REASONS.index(name)), code)
    return code


def layer_record(tech: Technology, lb: LayerBatch, hw: HardwareBatch, fig: dict[str, Tensor]) -> LayerRecord:
    """The per-layer work of every design and NeuroSim's mapping of its layers onto tiles, PEs and subarrays."""
    act = lb.active
    actf = act.to(F64)
    n_sub = torch.clamp(hw.subarray, 16.0, 4096.0)
    n_sub = torch.pow(2.0, torch.round(torch.log2(n_sub)))
    mux = torch.minimum(torch.clamp(hw.col_mux, min=1.0), n_sub)
    cb = torch.clamp(hw.cell_bits, 1.0, float(tech.device.max_cell_bits))
    k = torch.clamp(lb.k, min=1.0)
    kk = k * k
    wb = torch.clamp(lb.weight_bits, 1.0, float(C.MAX_OPERAND_BITS))
    ib = torch.clamp(lb.input_bits, 1.0, float(C.MAX_OPERAND_BITS))
    c_in, c_out = torch.clamp(lb.c_in, min=1.0), torch.clamp(lb.c_out, min=1.0)
    cps = columns_per_weight(wb, cb[:, None], hw.differential)
    rows = c_in * kk
    cols = c_out * cps
    groups = torch.ones_like(c_in) if lb.groups is None else torch.clamp(lb.groups, min=1.0)
    m = map_network(rows, cols, c_in, kk, lb.ifm_h, act, n_sub, hw.pipeline, grouped=groups > 1,
                    novel_mapping=hw.novel_mapping)
    stride = torch.clamp(lb.stride, min=1.0)
    n_vec = torch.clamp(torch.floor(torch.clamp((lb.ifm_h - k + 1) / stride, min=1.0)
                                    * torch.clamp((lb.ifm_w - k + 1) / stride, min=1.0)), min=1.0) * actf
    layer_adc = hw.adc_bits.dim() == 2
    return LayerRecord(
        active=act, actf=actf, layer_adc=layer_adc, subarray=n_sub, col_mux=mux, cell_bits=cb,
        rows_parallel=torch.minimum(hw.rows_parallel, n_sub), adc_bits=hw.adc_bits if layer_adc else hw.adc_bits[:, None],
        k=k, kk=kk, input_bits=ib, c_in=c_in, c_out=c_out, groups=groups, cps=cps, rows=rows, cols=cols,
        n_vec=n_vec, bit_vectors=n_vec * ib, sub_rows=m.subarray_rows * m.kernel_split,
        max_in=lb.ifm_h * lb.ifm_w * c_in * actf, pool=lb.pool, fig=fig, mapping=m)


def floorplan(tech: Technology, lb: LayerBatch, hw: HardwareBatch, r: LayerRecord) -> Floorplan:
    """Chip area on NeuroSim's floorplan (:mod:`cimpipe.hw.chip_area`) and the bus geometry the latency and
    the transfer energy follow. NeuroSim has one weight and one input precision per chip: the widest active
    layer's is used (also for the words of the global buffer)."""
    m, pipe, act, actf = r.mapping, hw.pipeline, r.active, r.actf
    t_cm, p_nm, ppe = m.tile_size_cm, m.pe_size_nm, torch.clamp(m.num_pe_nm, min=1.0)
    mux = r.col_mux
    buffer_words = torch.where(pipe, r.max_in.sum(dim=1) / 2, r.max_in.amax(dim=1))
    lane_width = torch.where(m.novel, (p_nm * torch.ceil(torch.sqrt(ppe)))[:, None], t_cm[:, None]) * (1 + 1 / mux[:, None])
    lane_count = torch.where(pipe[:, None], m.tiles, actf)
    bus = (lane_width * lane_count).sum(dim=1)
    bus = torch.where(bus > MAX_GLOBAL_BUS_BITS,
                      bus / torch.pow(2.0, torch.ceil(torch.log2(torch.clamp(bus / MAX_GLOBAL_BUS_BITS, min=1.0)))),
                      bus)
    bus = torch.clamp(bus, min=1.0)

    def widest(x: Tensor) -> Tensor:
        return torch.where(act, x, torch.zeros_like(x)).amax(dim=1, keepdim=True).clamp(min=1.0)

    novel_on = (torch.ones_like(hw.pipeline) if hw.novel_mapping is None else hw.novel_mapping.to(torch.bool))
    htree = torch.zeros_like(hw.pipeline) if hw.global_htree is None else hw.global_htree.to(torch.bool)
    x = AreaInputs(
        sub=r.subarray[:, None], rows_parallel=r.rows_parallel[:, None], col_mux=mux[:, None], adc_bits=r.adc_bits,
        adc_is_sar=hw.adc_is_sar.to(torch.bool)[:, None], cell_bits=hw.cell_bits[:, None],
        cells_per_synapse=widest(r.cps), input_bits=widest(lb.input_bits),
        tile_size_cm=t_cm[:, None], pe_size_cm=m.pe_size_cm[:, None], pe_size_nm=p_nm[:, None],
        num_pe_nm=m.num_pe_nm[:, None], tiles=m.tiles, novel=m.novel.to(torch.bool), active=act,
        tile_rows=m.tile_rows, subarray_rows=m.subarray_rows, total_tiles=m.total_tiles[:, None],
        buffer_words=buffer_words[:, None], bus_bits=bus[:, None], htree=htree.to(torch.bool)[:, None],
        novel_enabled=novel_on.to(torch.bool)[:, None], pipeline=hw.pipeline.to(torch.bool)[:, None])
    geometry: dict = {}
    total_um2, parts = chip_area_um2(tech, x, geometry)
    return Floorplan(total_um2 * 1e-6, parts, geometry, buffer_words, bus)


def output_bits(r: LayerRecord) -> Tensor:
    """[D, L] width of the PE/tile buffers and adder trees: one design for the whole chip, sized for the
    widest active layer's shift-add output."""
    bits_l = torch.clamp(r.adc_bits, *map(float, ADC_BITS_RANGE))
    out_l = (bits_l + C.log2_ceil(r.col(r.fig["num_add"])) + r.input_bits + (r.cps - 1) * r.cell_bits[:, None]
             + 1).expand_as(r.rows)
    out_bits = torch.where(r.active, out_l, torch.full_like(out_l, -math.inf)).amax(dim=1, keepdim=True)
    return torch.where(torch.isfinite(out_bits), out_bits, out_l.amax(dim=1, keepdim=True)).expand_as(r.rows)


def grid_shape(total_tiles: Tensor) -> tuple[Tensor, Tensor]:
    """[D] rows and columns of NeuroSim's square-ish tile grid."""
    grid_rows = torch.ceil(torch.sqrt(torch.clamp(total_tiles, min=1.0)))
    return grid_rows, torch.ceil(torch.clamp(total_tiles, min=1.0) / grid_rows)


def latency(tech: Technology, hw: HardwareBatch, r: LayerRecord, plan: Floorplan,
            chip_clock: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """[D, L] latency of every layer, [D] chip latency (the slowest stage when pipelined, the sum otherwise)
    and its breakdown. NeuroSim's synchronous chip: every block counts cycles of one chip clock, the slowest
    sensing cycle of any subarray (see :mod:`cimpipe.hw.latency`); bus lengths from the floorplan."""
    m, pipe, act, geom = r.mapping, hw.pipeline, r.active, plan.geometry
    nm, t_cm, p_cm = m.novel, m.tile_size_cm, m.pe_size_cm
    ib, rows, n_sub = r.input_bits, r.rows, r.subarray
    out_bits = output_bits(r)
    htree = torch.zeros_like(pipe) if hw.global_htree is None else hw.global_htree
    novel_flag = torch.ones_like(pipe) if hw.novel_mapping is None else hw.novel_mapping
    work = LT.LayerWork(n_vec=r.n_vec, input_bits=ib, rows=rows, cols=r.cols, c_in=r.c_in, c_out=r.c_out, k=r.k,
                        cps=r.cps, out_bits=out_bits, num_add=r.col(r.fig["num_add"]).expand_as(rows),
                        pool=r.pool & act, novel=nm, active=act)
    # the global buffer's cores as Chip.cpp counts them for its latency: the chip's input precision (not the
    # 8-bit operand of the area estimate) times the largest (layer-by-layer) or half the summed (pipeline) input
    cores = torch.clamp(torch.ceil(ib.amax(dim=1) * plan.buffer_words / GLOBAL_BUFFER_CORE_BITS - 1e-9), min=1.0)
    shape = LT.ChipShape(subarray=n_sub, col_mux=r.col_mux, tile_cm=t_cm, pe_cm=p_cm, pe_nm=m.pe_size_nm,
                         num_pe_nm=m.num_pe_nm, total_tiles=m.total_tiles, bus_bits=plan.bus_bits, buffer_cores=cores,
                         pipeline=pipe, novel_flag=novel_flag, htree=htree)
    # a layer's tiles (and PEs) are the conventional or novel kind's; the delays are per design and kind [D]
    widest = lambda s: torch.where(act, s.expand_as(rows), torch.zeros_like(rows)).amax(dim=1)  # noqa: E731
    tile_cm_um, tile_nm_um = widest(geom["tile_cm"]), widest(geom["tile_nm"])
    pe_cm_um = widest(torch.sqrt(geom["pe_cm_h"] * geom["pe_cm_w"]))
    pe_nm_um = widest(torch.sqrt(geom["pe_nm_h"] * geom["pe_nm_w"]))
    grid_rows, grid_cols = grid_shape(m.total_tiles)
    pe_grid_nm, pe_grid_cm = torch.ceil(torch.sqrt(m.num_pe_nm)), t_cm / p_cm
    per_kind = lambda f: torch.where(nm, f(tile_nm_um)[:, None], f(tile_cm_um)[:, None])  # noqa: E731
    node_nm = tech.node_nm
    tree_ns = G.adder_tree_delay_ns(tech, out_bits, C.log2_ceil(p_cm / n_sub)[:, None])
    cycles = LT.layer_cycles(
        work, shape, m.speedup, m.tile_rows, m.tiles, chip_clock, tree_ns, G.maxpool_delay_ns(tech, ib.amax(dim=1)),
        per_kind(lambda s: WR.xy_bus_delay_ns(node_nm, s * torch.ceil(grid_cols / 2), s * grid_cols)),
        per_kind(lambda s: WR.xy_bus_delay_ns(node_nm, s * (grid_rows - torch.ceil(grid_rows / 2) - 1), s * grid_rows)),
        per_kind(lambda s: WR.htree_delay_ns(node_nm, grid_rows, grid_cols, s, s)),
        torch.where(nm, WR.htree_delay_ns(node_nm, pe_grid_nm, pe_grid_nm, pe_nm_um, pe_nm_um)[:, None],
                    WR.htree_delay_ns(node_nm, pe_grid_cm, pe_grid_cm, pe_cm_um, pe_cm_um)[:, None]),
        lambda bits, stages: G.adder_tree_delay_ns(tech, bits, stages))
    parts = {k: v * chip_clock[:, None] for k, v in cycles.items()}
    layer_ns = sum(parts.values())  # zero for inactive layers
    at_max = layer_ns.argmax(dim=1, keepdim=True)  # the pipeline's slowest stage (first on ties)
    chip_ns = torch.where(pipe, layer_ns.gather(1, at_max).squeeze(1), layer_ns.sum(dim=1))
    breakdown = {k: torch.where(pipe, x.gather(1, at_max).squeeze(1), x.sum(dim=1)) for k, x in parts.items()}
    return layer_ns, chip_ns, breakdown


def slot_repeats(r: LayerRecord) -> dict[str, Tensor]:
    """[D, L] factors of NeuroSim's repeated PE slots (:func:`~cimpipe.hw.mapping.conventional_slot_repeat`)
    on the PE-level energies of conventional layers without duplication: ``sub`` for work per subarray
    (conversions, word lines, periphery, shift-adds), ``rows`` for work per PE along the rows (adder tree,
    input buffer and bus), ``cols`` for work per PE along the columns (output buffer and bus)."""
    m = r.mapping
    conventional = ~m.novel & r.active
    used = conventional.any(dim=0)
    if not bool(used.any()):  # every factor is 1
        one = torch.ones_like(r.rows)
        return {"sub": one, "rows": one, "cols": one}
    # only the layer slots some design maps conventionally (a factor is 1 elsewhere)
    sel = None if bool(used.all()) else used.nonzero().squeeze(1)
    take = (lambda x: x) if sel is None else (lambda x: x.index_select(1, sel))  # noqa: E731
    tile, pe, sub = m.tile_size_cm[:, None], m.pe_size_cm[:, None], r.subarray[:, None]
    rows, cols, conv = take(r.rows), take(r.cols), take(conventional)
    applies = conv & (take(m.speedup) <= 1)
    row, col = cut_dimension(rows, tile, pe, sub), cut_dimension(cols, tile, pe, sub)
    side = tile / pe
    su_row, su_col = LT.speedup_split(rows, cols, take(r.c_in), take(m.novel), sub, tile, pe, m.pe_size_nm[:, None],
                                      take(m.speedup))
    full = (conv & (su_row >= side) & (su_col >= side) & (su_row * su_col > 1)
            & (torch.ceil(su_row / side) * torch.ceil(su_col / side) <= 1))
    row_sub, col_sub = (row.total_sub, row.gap_sub, row.last_sub), (col.total_sub, col.gap_sub, col.last_sub)
    out = {"sub": conventional_slot_repeat(row_sub, col_sub, side, applies) * full_duplication_share(row, col, full),
           "rows": conventional_slot_repeat(row_sub, (col.total_pe, col.gap_pe, col.last_pe), side, applies),
           "cols": conventional_slot_repeat((row.total_pe, row.gap_pe, row.last_pe), col_sub, side, applies)}
    if sel is not None:
        out = {k: torch.ones_like(r.rows).index_copy(1, sel, v) for k, v in out.items()}
    return out


def dynamic_energy(tech: Technology, hw: HardwareBatch, r: LayerRecord,
                   plan: Floorplan) -> tuple[dict[str, Tensor], Tensor]:
    """[D, L] dynamic energy (pJ) of every layer by NeuroSim's buckets (ADC, accumulation, buffer,
    interconnect, other), following the input bit density and the stored weight levels; and the subarray
    output width the leakage sizes its buffers for."""
    m, geom, actf, pipe = r.mapping, plan.geometry, r.actf, hw.pipeline
    n_sub, mux, ib, rows, cols = r.subarray, r.col_mux, r.input_bits, r.rows, r.cols
    t_cm, p_cm, p_nm, ppe = m.tile_size_cm, m.pe_size_cm, m.pe_size_nm, torch.clamp(m.num_pe_nm, min=1.0)
    fig, num_add = r.fig, r.col(r.fig["num_add"])
    dens_l = r.col(EN.input_density(hw.input_density, hw.subarray))  # [D, 1], or [D, L] per layer
    level = r.col(EN.weight_level_mean(hw.weight_level_mean, hw.subarray))
    # ADC bucket (cimpipe/hw/adc_energy.py): every column of a layer's weight matrix is converted numAdd times
    # per input bit-vector in each subarray row it spans; the column conductance follows the data
    g_read = AE.read_conductance_s(tech, dens_l, rows / torch.clamp(r.sub_rows, min=1.0), num_add, level)
    e_conv = AE.conversion_pj(tech, hw.adc_is_sar.to(torch.bool)[:, None], r.adc_bits, r.col(fig["adc_fixed_pj"]),
                              r.col(fig["adc_ref_w"]), r.col(fig["adc_sense_s"]), g_read,
                              None if hw.zero_read_fraction is None else r.col(torch.clamp(hw.zero_read_fraction, 0.0, 1.0)))
    conversions = r.bit_vectors * r.sub_rows * cols * num_add
    subarray_reads = r.bit_vectors * r.sub_rows * torch.ceil(cols / n_sub[:, None])
    # word lines and switch matrices are charged per active row of the rows a subarray holds (ProcessingUnit.cpp
    # GetInputVector: activityRowRead = active rows / numRowSubArray)
    dens_rows = dens_l * torch.clamp(rows / torch.clamp(r.sub_rows, min=1.0) / n_sub[:, None], max=1.0)
    # a conventional layer without duplication is charged NeuroSim's repeated PE slots (Tile.cpp)
    repeats = slot_repeats(r)
    e_adc = (conversions * e_conv + subarray_reads * dens_rows * r.col(fig["wordline_pj"])) * actf * repeats["sub"]
    acc_in = ACC.AccumInputs(
        sub=n_sub[:, None], mux=mux[:, None], levels=torch.pow(2.0, r.adc_bits), num_add=num_add, cps=r.cps,
        cell_bits=r.cell_bits[:, None], input_bits=ib, n_vec=r.n_vec, rows=rows, cols=cols, c_in=r.c_in, kk=r.kk,
        novel=m.novel, tile_cm=t_cm[:, None], pe_cm=p_cm[:, None], pe_nm=p_nm[:, None], num_pe_nm=ppe[:, None],
        tile_rows=m.tile_rows, subarray_reads=subarray_reads, pipeline=pipe[:, None],
        layers=actf.sum(dim=1, keepdim=True), repeat_sub=repeats["sub"], repeat_pe=repeats["rows"])
    e_acc = ACC.layer_accumulation_pj(tech, acc_in) * actf
    grid_rows, grid_cols = grid_shape(m.total_tiles)
    htree = torch.zeros_like(pipe) if hw.global_htree is None else hw.global_htree
    tr_in = TE.TransferInputs(
        rows=rows, cols=cols, c_in=r.c_in, k=r.k, cps=r.cps, input_bits=ib, n_vec=r.n_vec, pool=r.pool,
        novel=m.novel, tile_cm=t_cm[:, None], pe_cm=p_cm[:, None], pe_nm=p_nm[:, None], num_pe_nm=ppe[:, None],
        sub=n_sub[:, None], tile_side_um=geom["tile_cm"], pe_cm_h_um=geom["pe_cm_h"], pe_cm_w_um=geom["pe_cm_w"],
        pe_nm_h_um=geom["pe_nm_h"], pe_nm_w_um=geom["pe_nm_w"], sub_h_um=geom["sub_h"], sub_w_um=geom["sub_w"],
        grid_rows=grid_rows[:, None], grid_cols=grid_cols[:, None], htree=htree[:, None],
        out_bits=ACC.subarray_output_bits(acc_in), repeat_in=repeats["rows"], repeat_out=repeats["cols"])
    e_buf, e_ic = TE.layer_transfer_pj(tech, tr_in)
    e_other = (subarray_reads * repeats["sub"] * PER.subarray_read_pj(tech, n_sub[:, None], mux[:, None], dens_rows,
                                                                      r.rows_parallel[:, None])
               + PER.activation_pj(tech, r.n_vec * r.c_out, ib)) * actf
    return ({"adc": e_adc, "accumulation": e_acc, "buffer": e_buf * actf, "interconnect": e_ic * actf,
             "other": e_other}, tr_in.out_bits)


def last_pe_subarray_rows(rows: Tensor, c_in: Tensor, novel: Tensor, tile_cm: Tensor, pe_cm: Tensor, pe_nm: Tensor,
                          sub: Tensor) -> Tensor:
    """[D, L] subarrays spanned by the rows the last PE of a layer's last tile holds (Tile.cpp and
    ProcessingUnit.cpp hand each tile and PE its share of the rows, the last ones the remainder): NeuroSim's
    tile leakage is the one its last PE's adder tree left (AdderTree.cpp computes leakage on use)."""
    def remainder(n: Tensor, size: Tensor) -> Tensor:
        return n - (torch.ceil(n / size) - 1) * size

    last_cm = remainder(remainder(rows, tile_cm), pe_cm)
    last_nm = remainder(c_in, pe_nm)
    return torch.ceil(torch.where(novel, last_nm, last_cm) / sub)


def leakage(tech: Technology, hw: HardwareBatch, r: LayerRecord, plan: Floorplan, layer_ns: Tensor,
            out_bits: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """[D] leakage energy (pJ) and power (uW) of the chip and [D, 1] leakage power of one tile (uW): one tile
    design per kind for the whole chip, sized for the widest active layer (as the area)."""
    m, geom, w = r.mapping, plan.geometry, r.widest
    ppe = torch.clamp(m.num_pe_nm, min=1.0)
    lk_in = LK.LeakInputs(
        sub=r.subarray[:, None], rows_parallel=r.rows_parallel[:, None], mux=r.col_mux[:, None],
        levels=w(torch.pow(2.0, r.adc_bits)), num_add=w(r.col(r.fig["num_add"])), cps=w(r.cps),
        input_bits=w(r.input_bits), out_bits=w(out_bits), is_sar=hw.adc_is_sar.to(torch.bool)[:, None],
        tile_cm=m.tile_size_cm[:, None], pe_cm=m.pe_size_cm[:, None], pe_nm=m.pe_size_nm[:, None],
        num_pe_nm=ppe[:, None], sub_h_um=w(geom["sub_h"]), sub_w_um=w(geom["sub_w"]), pe_cm_h_um=w(geom["pe_cm_h"]),
        pe_cm_w_um=w(geom["pe_cm_w"]), pe_nm_h_um=w(geom["pe_nm_h"]), pe_nm_w_um=w(geom["pe_nm_w"]),
        pe_tree_inputs=last_pe_subarray_rows(r.rows, r.c_in, m.novel, m.tile_size_cm[:, None], m.pe_size_cm[:, None],
                                             m.pe_size_nm[:, None], r.subarray[:, None]))
    sub_leak = LK.subarray_w(tech, lk_in)
    leak_cm, in_use_cm = LK.tile_w(tech, lk_in, novel=False, subarray=sub_leak)
    leak_nm, in_use_nm = LK.tile_w(tech, lk_in, novel=True, subarray=sub_leak)
    tile_uw = torch.where(m.novel, leak_nm, leak_cm) * 1e6
    in_use_uw = torch.where(m.novel, in_use_nm, in_use_cm) * 1e6
    leak_pj, leak_uw = LK.chip_leakage(layer_ns, m.tiles, tile_uw.expand_as(layer_ns), in_use_uw.expand_as(layer_ns),
                                       r.active, hw.pipeline)
    return leak_pj, leak_uw, tile_uw


def evaluate_chunk(ev: "Evaluator", lb: LayerBatch, hw: HardwareBatch, per_layer: bool) -> ChipMetrics:
    """Every figure of one chunk of designs (see the module docstring)."""
    tech = ev.tech
    hw, found, fig = lookup(ev, hw)
    code = feasibility(tech, lb, hw, found)
    r = layer_record(tech, lb, hw, fig)
    plan = floorplan(tech, lb, hw, r)
    chip_clock = r.shared(fig["clock_period_ns"])
    layer_ns, latency_ns, latency_parts = latency(tech, hw, r, plan, chip_clock)
    energy_l, out_bits = dynamic_energy(tech, hw, r, plan)
    energy = {k: v.sum(dim=1) for k, v in energy_l.items()}
    dynamic = sum(energy.values())
    leak_pj, leak_uw, tile_uw = leakage(tech, hw, r, plan, layer_ns, out_bits)
    m = r.mapping
    ops = (r.max_in * r.kk * r.c_out / r.groups).sum(dim=1) * 2  # integers: exact in any order
    total_pj = dynamic + leak_pj
    tops = ops / torch.clamp(latency_ns, min=1e-12) * 1e-3
    per = None
    if per_layer:
        per = {"latency_ns": layer_ns, "dynamic_energy_pj": sum(energy_l.values()), "tiles": m.tiles,
               "leakage_power_uw": tile_uw * m.tiles * r.actf, "speedup": m.speedup * r.actf,
               "utilization": m.utilization, "novel_mapping": m.novel, "cells": r.rows * r.cols * r.actf}
    return ChipMetrics(
        area_mm2=plan.area_mm2, latency_ns=latency_ns, dynamic_energy_pj=dynamic, leakage_energy_pj=leak_pj,
        leakage_power_uw=leak_uw, edap=total_pj * 1e-6 * latency_ns * 1e-6 * plan.area_mm2, tops=tops,
        tops_per_w=ops / torch.clamp(total_pj, min=1e-12) / C.CAL.zeta, tops_per_mm2=tops / plan.area_mm2,
        fps=1e9 / torch.clamp(latency_ns, min=1e-12), utilization=m.chip_utilization, tiles=m.total_tiles,
        clock_period_ns=chip_clock, operations=ops, feasible=code == 0, reason=code,
        area_breakdown_mm2={k: v * 1e-6 for k, v in plan.parts_um2.items()}, energy_breakdown_pj=energy,
        latency_breakdown_ns=latency_parts, layers=per)
