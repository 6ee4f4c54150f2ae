"""Network-level evaluation of many designs at once, on top of a characterization table.

Shapes: D designs, L layer slots. ``LayerBatch`` holds [D, L] tensors, ``HardwareBatch`` [D] tensors except
``adc_bits``, which may also be [D, L] (one ADC resolution per layer slot, see :class:`HardwareBatch`); every
result is a float64 tensor. Chip structure and latency/energy bookkeeping follow NeuroSim's Chip.cpp /
Tile.cpp / ProcessingUnit.cpp (see ``cimpipe/hw/components.py`` for the circuit models).

Units: area mm^2, latency ns, energy pJ, leakage power uW; ``edap`` = total energy (uJ) x latency (ms) x
area (mm^2). Operations are counted as NeuroSim does: 2*IFM_H*IFM_W*C_in*K*K*C_out per layer (stride
ignored; divided by the groups of a grouped layer), and TOPS/W divides by the post-layout factor zeta. A
grouped (depthwise) layer is mapped as its dense block-diagonal matrix of ``C_in*K*K`` rows (see
:mod:`cimpipe.families`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
from dataclasses import dataclass, fields, replace
from typing import Sequence

import polars as pl
import torch

from cimpipe.hw import accumulation_energy as ACC
from cimpipe.hw import adc_energy as AE
from cimpipe.hw import components as C
from cimpipe.hw import energy as EN
from cimpipe.hw import delays as G
from cimpipe.hw import latency as LT
from cimpipe.hw import leakage as LK
from cimpipe.hw import periphery_energy as PER
from cimpipe.hw import transfer_energy as TE
from cimpipe.hw import wires as WR
from cimpipe.hw.characterize import (ADC_BITS_RANGE, FIGURE_COLUMNS, KEY_COLUMNS, REASONS, HardwareGrid, characterize,
                                     reason_codes)
from cimpipe.hw.chip_area import AreaInputs, chip_area_um2
from cimpipe.hw.mapping import Mapping, map_network
from cimpipe.hw.technology import Technology
from cimpipe.space import HardwareConfig, LayerShape

Tensor = torch.Tensor
F64 = torch.float64

GLOBAL_BUFFER_CORE_BITS = 128 * 128
MAX_GLOBAL_BUS_BITS = 2048

EVAL_REASONS = REASONS + ("layer_shape_invalid", "operand_bits_out_of_range", "no_active_layer")


_MALLOC_TUNED = False


def keep_freed_memory() -> bool:
    """Let glibc keep freed heap memory instead of returning it to the OS after every chunk.

    A chunk's temporaries are tens of MB of short-lived tensors; with glibc's defaults (M_TRIM_THRESHOLD
    128 KiB, blocks from M_MMAP_THRESHOLD up mapped afresh) every chunk page-faults its working set again,
    which measured at more than half of the evaluation time on 2 cores. Raising both thresholds (mallopt,
    glibc manual "Malloc Tunable Parameters") keeps the pages. Process-wide and done once; skipped where
    the C library is not glibc or the user set MALLOC_TRIM_THRESHOLD_/MALLOC_MMAP_THRESHOLD_. Returns
    whether the thresholds were set.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    if not sys.platform.startswith("linux") or any(
            v in os.environ for v in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    ok = mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1 and mallopt(m_trim_threshold, 256 * 1024 * 1024) == 1
    _MALLOC_TUNED = ok
    return ok


class DesignError(ValueError):
    """A design cannot be described (wrong lengths, unknown ADC type...)."""


@dataclass(frozen=True)
class LayerBatch:
    """Layers of D networks, padded to L slots; ``active`` marks real layers. All [D, L]."""

    ifm_h: Tensor
    ifm_w: Tensor
    c_in: Tensor
    k: Tensor
    c_out: Tensor
    pool: Tensor
    stride: Tensor
    weight_bits: Tensor
    input_bits: Tensor
    active: Tensor
    groups: Tensor | None = None  # [D, L] convolution groups (c_in for a depthwise layer); None: all 1

    @classmethod
    def from_shapes(
        cls,
        shapes: Sequence[Sequence[LayerShape]],
        weight_bits: Sequence[Sequence[int]] | int,
        input_bits: Sequence[Sequence[int]] | int,
    ) -> "LayerBatch":
        """Pad each network to the longest with inactive layers; bits per layer or one value for all."""
        d = len(shapes)
        n_layers = max((len(s) for s in shapes), default=0)
        grid = torch.zeros((8, d, n_layers), dtype=F64)
        wb = torch.zeros((d, n_layers), dtype=F64)
        ib = torch.zeros((d, n_layers), dtype=F64)
        active = torch.zeros((d, n_layers), dtype=torch.bool)
        for i, net in enumerate(shapes):
            for j, s in enumerate(net):
                grid[:, i, j] = torch.tensor([s.ifm_h, s.ifm_w, s.c_in, s.k, s.c_out, float(s.pool), s.stride,
                                              float(s.groups)])
                active[i, j] = True
            wb[i, : len(net)] = torch.tensor(_bits_for(weight_bits, i, len(net), "weight_bits"), dtype=F64)
            ib[i, : len(net)] = torch.tensor(_bits_for(input_bits, i, len(net), "input_bits"), dtype=F64)
        pad = ~active
        ones = torch.ones_like(wb)
        return cls(
            ifm_h=torch.where(pad, ones, grid[0]), ifm_w=torch.where(pad, ones, grid[1]),
            c_in=torch.where(pad, ones, grid[2]), k=torch.where(pad, ones, grid[3]),
            c_out=torch.where(pad, ones, grid[4]), pool=grid[5] > 0.5, stride=torch.where(pad, ones, grid[6]),
            weight_bits=torch.where(pad, ones * 8, wb), input_bits=torch.where(pad, ones * 8, ib), active=active,
            groups=torch.where(pad, ones, grid[7]),
        )


def _bits_for(bits: Sequence[Sequence[int]] | int, i: int, n: int, name: str) -> list[float]:
    if isinstance(bits, int):
        return [float(bits)] * n
    row = list(bits[i])
    if len(row) != n:
        raise DesignError(f"{name}[{i}] has {len(row)} entries but network {i} has {n} layers")
    return [float(b) for b in row]


@dataclass(frozen=True)
class HardwareBatch:
    """Hardware of D designs: [D] tensors (``adc_is_sar`` and ``pipeline`` bool), ``adc_bits`` [D] or [D, L].

    ``adc_bits`` [D] gives every layer of a design the same ADC resolution. ``adc_bits`` [D, L] (L the layer
    slots of the :class:`LayerBatch` it is evaluated with) gives each layer slot its own: the subarrays
    holding a layer's weights then carry that layer's ADCs, shift-adders and clock (see :func:`_evaluate`).
    Entries of inactive slots are ignored (any value, characterized or not, is fine).
    """

    subarray: Tensor
    rows_parallel: Tensor
    col_mux: Tensor
    adc_bits: Tensor
    adc_is_sar: Tensor
    cell_bits: Tensor
    pipeline: Tensor
    novel_mapping: Tensor | None = None  # [D] bool, NeuroSim's novelMapping; None: on for every design
    global_htree: Tensor | None = None  # [D] bool, NeuroSim's globalBusType (H-tree); None: X-Y bus (V1.4 default)
    input_density: Tensor | None = None  # [D] fraction of input bits that are 1; None: the model's default
    weight_level_mean: Tensor | None = None  # [D] mean stored level in [0, 1] (G_off..G_on); None: the default

    @classmethod
    def from_configs(cls, configs: Sequence[HardwareConfig]) -> "HardwareBatch":
        """[D] tensors; ``adc_bits`` [D, L] when some config gives a tuple of L per-layer ADC resolutions
        (all such tuples must have the same length; an integer ``adc_bits`` is repeated L times)."""
        for c in configs:
            if c.adc_type not in ("flash", "sar"):
                raise DesignError(f"adc_type {c.adc_type!r} must be 'flash' or 'sar'")

        def col(name: str) -> Tensor:
            return torch.tensor([float(getattr(c, name)) for c in configs], dtype=F64)

        per_layer = [c.adc_bits for c in configs if isinstance(c.adc_bits, tuple)]
        if per_layer:
            lengths = sorted({len(a) for a in per_layer})
            if len(lengths) > 1:
                raise DesignError(f"per-layer adc_bits of different lengths {lengths} in one batch")
            n = lengths[0]
            adc_bits = torch.tensor([[float(b) for b in c.adc_bits] if isinstance(c.adc_bits, tuple)
                                     else [float(c.adc_bits)] * n for c in configs], dtype=F64).reshape(len(configs), n)
        else:
            adc_bits = col("adc_bits")
        return cls(
            subarray=col("subarray"), rows_parallel=col("rows_parallel"), col_mux=col("col_mux"),
            adc_bits=adc_bits, adc_is_sar=torch.tensor([c.adc_type == "sar" for c in configs]),
            cell_bits=col("cell_bits"), pipeline=torch.tensor([bool(c.pipeline) for c in configs]),
        )


@dataclass(frozen=True)
class ChipMetrics:
    """Chip-level results, [D] float64 tensors (``feasible`` bool, ``reason`` int64 into ``reasons``)."""

    area_mm2: Tensor
    latency_ns: Tensor
    dynamic_energy_pj: Tensor
    leakage_energy_pj: Tensor
    leakage_power_uw: Tensor
    edap: Tensor
    tops: Tensor
    tops_per_w: Tensor
    tops_per_mm2: Tensor
    fps: Tensor
    utilization: Tensor
    tiles: Tensor
    clock_period_ns: Tensor
    operations: Tensor
    feasible: Tensor
    reason: Tensor
    area_breakdown_mm2: dict[str, Tensor]
    energy_breakdown_pj: dict[str, Tensor]
    latency_breakdown_ns: dict[str, Tensor]
    layers: dict[str, Tensor] | None = None
    reasons: tuple[str, ...] = EVAL_REASONS

    def reason_text(self, i: int = 0) -> str:
        return self.reasons[int(self.reason[i])]

    def summary(self, i: int = 0) -> dict[str, float]:
        """One design's headline figures as plain floats (the CLI's JSON keys)."""
        keys = ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj", "leakage_power_uw", "tops",
                "tops_per_w", "tops_per_mm2", "fps", "utilization", "tiles", "clock_period_ns", "edap")
        out = {k: float(getattr(self, k)[i]) for k in keys}
        out["feasible"] = bool(self.feasible[i])
        out["reason"] = self.reason_text(i)
        return out


class Evaluator:
    """Maps batches of networks onto hardware options characterized in a table (see :func:`characterize`)."""

    def __init__(self, tech: Technology, keys: dict[str, Tensor], lookup: Tensor, figures: Tensor,
                 feasible: Tensor) -> None:
        self.tech = tech
        self._keys = keys  # sorted distinct values per key column
        self._lookup = lookup  # flat mixed-radix code -> row (or -1)
        self._figures = figures  # [R, F]
        self._figures_by_column = figures.t().contiguous()  # [F, R]: per-layer lookups gather only what they use
        self._row_feasible = feasible

    @classmethod
    def from_frame(cls, df: pl.DataFrame, tech: Technology) -> "Evaluator":
        missing = [c for c in KEY_COLUMNS + FIGURE_COLUMNS + ("feasible",) if c not in df.columns]
        if missing:
            raise DesignError(f"the characterization table lacks the column {missing[0]!r}")
        keys = {k: torch.tensor(sorted(set(float(x) for x in df[k].to_list())), dtype=F64) for k in KEY_COLUMNS}
        code = torch.zeros(df.height, dtype=torch.int64)
        for k in KEY_COLUMNS:
            vals = torch.tensor([float(x) for x in df[k].to_list()], dtype=F64)
            code = code * len(keys[k]) + torch.searchsorted(keys[k], vals)
        size = math.prod(len(v) for v in keys.values())
        lookup = torch.full((max(size, 1),), -1, dtype=torch.int64)
        lookup[code] = torch.arange(df.height)
        figures = torch.tensor(df.select(list(FIGURE_COLUMNS)).to_numpy(), dtype=F64).reshape(df.height, -1)
        feasible = torch.tensor(df["feasible"].to_list(), dtype=torch.bool)
        return cls(tech, keys, lookup, figures, feasible)

    @classmethod
    def for_grid(cls, tech: Technology, grid: HardwareGrid) -> "Evaluator":
        return cls.from_frame(characterize(tech, grid), tech)

    def _rows(self, hw: HardwareBatch) -> tuple[Tensor, Tensor]:
        """Table row of every design ([D]) or of every design's layer slot ([D, L], when ``adc_bits`` is
        [D, L]), and whether that option is characterized (same shape). Rows not found are 0."""
        per_layer = hw.adc_bits.dim() == 2
        lift = (lambda v: v[:, None]) if per_layer else (lambda v: v)  # [D] keys broadcast against [D, L]
        values = {"subarray": lift(hw.subarray), "rows_parallel": lift(hw.rows_parallel),
                  "col_mux": lift(hw.col_mux), "adc_bits": hw.adc_bits, "adc_is_sar": lift(hw.adc_is_sar.to(F64)),
                  "cell_bits": lift(hw.cell_bits)}
        code = torch.zeros(hw.adc_bits.shape, dtype=torch.int64)
        found = torch.ones(hw.adc_bits.shape, dtype=torch.bool)
        for k in KEY_COLUMNS:
            table = self._keys[k]
            idx = torch.clamp(torch.searchsorted(table, values[k]), max=len(table) - 1)
            found &= table[idx] == values[k]
            code = code * len(table) + idx
        row = self._lookup[code]
        found &= row >= 0
        return torch.clamp(row, min=0), found

    def evaluate(self, layers: LayerBatch, hw: HardwareBatch, per_layer: bool = False,
                 chunk: int = 4096) -> ChipMetrics:
        """Metrics of every design; large batches run in chunks of ``chunk`` designs.

        4096 designs per chunk measured fastest on 2 cores for 16-layer networks (1024: about 35% slower,
        8192: the same). The first call sets glibc's heap thresholds, see :func:`keep_freed_memory`.
        """
        d = int(hw.subarray.shape[0])
        if layers.active.shape[0] != d:
            raise DesignError(f"the layer batch has {layers.active.shape[0]} designs but the hardware batch {d}")
        if hw.adc_bits.dim() == 2 and tuple(hw.adc_bits.shape) != tuple(layers.active.shape):
            raise DesignError(f"adc_bits per layer has shape {tuple(hw.adc_bits.shape)} but the layer batch "
                              f"{tuple(layers.active.shape)}")
        if hw.adc_bits.dim() not in (1, 2) or hw.adc_bits.shape[0] != d:
            raise DesignError(f"adc_bits must be [D] or [D, L] with D={d}, got shape {tuple(hw.adc_bits.shape)}")
        keep_freed_memory()
        if d <= chunk:
            return _evaluate(self, layers, hw, per_layer)
        parts = [
            _evaluate(self, _slice(layers, i, i + chunk), _slice(hw, i, i + chunk), per_layer)
            for i in range(0, d, chunk)
        ]
        return _concat(parts)


def _slice(batch, lo: int, hi: int):
    def part(v):
        return None if v is None else v[lo:hi]

    return type(batch)(**{f.name: part(getattr(batch, f.name)) for f in fields(batch)})


def _concat(parts: list[ChipMetrics]) -> ChipMetrics:
    first = parts[0]
    out = {}
    for f in fields(ChipMetrics):
        v = getattr(first, f.name)
        if isinstance(v, Tensor):
            out[f.name] = torch.cat([getattr(p, f.name) for p in parts])
        elif isinstance(v, dict):
            out[f.name] = {k: torch.cat([getattr(p, f.name)[k] for p in parts]) for k in v}
        else:
            out[f.name] = v
    return ChipMetrics(**out)


def _floorplan_area_mm2(tech: Technology, lb: LayerBatch, hw: HardwareBatch, m: Mapping, n_sub: Tensor,
                        mux: Tensor, buffer_words: Tensor, bus: Tensor, layer_adc: bool,
                        geometry: dict | None = None) -> tuple[Tensor, dict]:
    """[D] chip area (mm^2) and its breakdown (um^2) on NeuroSim's floorplan; ``geometry`` receives the tile and
    PE sides (the bus lengths of the latency follow them). NeuroSim has one weight and one input precision per
    chip: the widest active layer's is used (also for the ``buffer_words`` of the buffer)."""
    act = lb.active

    def widest(x: Tensor) -> Tensor:
        return torch.where(act, x, torch.zeros_like(x)).amax(dim=1, keepdim=True).clamp(min=1.0)

    d = n_sub[:, None]
    novel_on = (torch.ones_like(hw.pipeline) if hw.novel_mapping is None else hw.novel_mapping.to(torch.bool))
    htree = torch.zeros_like(hw.pipeline) if hw.global_htree is None else hw.global_htree.to(torch.bool)
    x = AreaInputs(
        sub=d, rows_parallel=torch.minimum(hw.rows_parallel, n_sub)[:, None], col_mux=mux[:, None],
        adc_bits=hw.adc_bits if layer_adc else hw.adc_bits[:, None], adc_is_sar=hw.adc_is_sar.to(torch.bool)[:, None],
        cell_bits=hw.cell_bits[:, None], weight_bits=widest(lb.weight_bits), input_bits=widest(lb.input_bits),
        tile_size_cm=m.tile_size_cm[:, None], pe_size_cm=m.pe_size_cm[:, None], pe_size_nm=m.pe_size_nm[:, None],
        num_pe_nm=m.num_pe_nm[:, None], tiles=m.tiles, novel=m.novel.to(torch.bool), active=act,
        tile_rows=m.tile_rows, subarray_rows=m.subarray_rows, total_tiles=m.total_tiles[:, None],
        buffer_words=buffer_words[:, None], bus_bits=bus[:, None], htree=htree.to(torch.bool)[:, None],
        novel_enabled=novel_on.to(torch.bool)[:, None], pipeline=hw.pipeline.to(torch.bool)[:, None])
    total_um2, parts = chip_area_um2(tech, x, geometry)
    return total_um2 * 1e-6, parts


def _evaluate(ev: Evaluator, lb: LayerBatch, hw: HardwareBatch, per_layer: bool) -> ChipMetrics:
    """One chunk. Per-design factors are applied to per-layer sums (sum(x*a) = a*sum(x)), so only the
    quantities that differ per layer are [D, L] tensors; integer-valued counts are computed exactly.

    With ``hw.adc_bits`` [D, L] the characterization figures are looked up per layer slot ([D, L]) and each
    layer's work uses its own: conversion, shift-add and local-buffer energies, the subarray areas of the
    subarrays holding the layer (sum over layers of subarrays x that layer's per-subarray area), and its
    ADC/accumulation latency at its own clock period. Structures the layers share take the widest or slowest
    of the design's active layers: the adder trees of PEs, tiles and the chip and the PE buffers (sized for
    the widest shift-add output), the global buffer's and bus's timing and the reported clock (the slowest
    clock period). A design is infeasible when an active layer's option is (the lowest reason code over its
    active layers is reported). With ``adc_bits`` [D] every figure is a [D] tensor and the arithmetic is the
    original chip-level one, bit for bit.
    """
    tech = ev.tech
    act = lb.active
    actf = act.to(F64)
    if hw.adc_bits.dim() == 2 and hw.adc_bits.shape[1] == 0:  # no layer slots: any characterized ADC will do
        adc = float(ev._keys["adc_bits"][0]) if len(ev._keys["adc_bits"]) else float(ADC_BITS_RANGE[0])
        hw = HardwareBatch(**{**hw.__dict__, "adc_bits": torch.full_like(hw.subarray, adc)})
    layer_adc = hw.adc_bits.dim() == 2  # one characterization row per layer slot
    row, found = ev._rows(hw)
    if layer_adc:  # contiguous [D, L] figures, only the columns used below
        flat = row.reshape(-1)
        fig = {k: ev._figures_by_column[FIGURE_COLUMNS.index(k)].index_select(0, flat).view(row.shape)
               for k in ("num_add", "shift_add_bits", "array_area_um2", "adc_area_um2", "accum_area_um2",
                         "other_area_um2", "adc_energy_pj", "column_energy_pj", "array_energy_pj", "accum_energy_pj",
                         "other_energy_pj", "adc_fixed_pj", "adc_ref_w", "adc_sense_s", "wordline_pj",
                         "clock_period_ns")}
    else:
        figs = ev._figures.index_select(0, row)
        fig = {k: figs[:, i] for i, k in enumerate(FIGURE_COLUMNS)}

    def col(x: Tensor) -> Tensor:
        """A figure or a design-level value as a [D, L] / [D, 1] operand of per-layer arithmetic."""
        return x if x.dim() == 2 else x[:, None]

    def shared(x: Tensor) -> Tensor:
        """[D] value of a figure for a structure all layers share: the largest over the active layers."""
        if not layer_adc:
            return x
        widest = torch.where(act, x, torch.full_like(x, -math.inf)).amax(dim=1)
        return torch.where(act.any(dim=1), widest, x.amax(dim=1))  # no active layer: any finite value

    # feasibility
    not_char = REASONS.index("not_characterized")
    if layer_adc:
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
    feasible = code == 0

    # safe values for infeasible designs (figures stay finite)
    n_sub = torch.clamp(hw.subarray, 16.0, 4096.0)
    n_sub = torch.pow(2.0, torch.round(torch.log2(n_sub)))
    mux = torch.minimum(torch.clamp(hw.col_mux, min=1.0), n_sub)
    cb = torch.clamp(hw.cell_bits, 1.0, float(tech.device.max_cell_bits))
    k = torch.clamp(lb.k, min=1.0)
    kk = k * k
    wb = torch.clamp(lb.weight_bits, 1.0, float(C.MAX_OPERAND_BITS))
    ib = torch.clamp(lb.input_bits, 1.0, float(C.MAX_OPERAND_BITS))
    c_in, c_out = torch.clamp(lb.c_in, min=1.0), torch.clamp(lb.c_out, min=1.0)
    cps = torch.ceil(wb / cb[:, None])
    rows = c_in * kk
    cols = c_out * cps
    groups = torch.ones_like(c_in) if lb.groups is None else torch.clamp(lb.groups, min=1.0)
    m: Mapping = map_network(rows, cols, c_in, kk, lb.ifm_h, act, n_sub, hw.pipeline, grouped=groups > 1,
                             novel_mapping=hw.novel_mapping)
    nm = m.novel
    pipe = hw.pipeline

    # ---------------- work per layer ----------------
    stride = torch.clamp(lb.stride, min=1.0)
    n_vec = torch.clamp(torch.floor(torch.clamp((lb.ifm_h - k + 1) / stride, min=1.0)
                                    * torch.clamp((lb.ifm_w - k + 1) / stride, min=1.0)), min=1.0) * actf
    bit_vectors = n_vec * ib
    sub_rows = m.subarray_rows * m.kernel_split  # subarrays along a layer's rows
    bv_sub_cols = bit_vectors * sub_rows * cols  # conversions / numAdd
    num_add = fig["num_add"]
    w_acc = fig["shift_add_bits"]

    # ---------------- chip floorplan and area ----------------
    t_cm, p_cm, p_nm, ppe = m.tile_size_cm, m.pe_size_cm, m.pe_size_nm, torch.clamp(m.num_pe_nm, min=1.0)
    max_in = lb.ifm_h * lb.ifm_w * c_in * actf  # input feature map words per layer
    buffer_words = torch.where(pipe, max_in.sum(dim=1) / 2, max_in.amax(dim=1))
    lane_width = torch.where(nm, (p_nm * torch.ceil(torch.sqrt(ppe)))[:, None], t_cm[:, None]) * (1 + 1 / mux[:, None])
    lane_count = torch.where(pipe[:, None], m.tiles, actf)
    bus = (lane_width * lane_count).sum(dim=1)
    bus = torch.where(bus > MAX_GLOBAL_BUS_BITS,
                      bus / torch.pow(2.0, torch.ceil(torch.log2(torch.clamp(bus / MAX_GLOBAL_BUS_BITS, min=1.0)))),
                      bus)
    bus = torch.clamp(bus, min=1.0)
    # the reported area: NeuroSim's floorplan (cimpipe.hw.chip_area)
    geom: dict = {}
    area_total_mm2, area_parts_um2 = _floorplan_area_mm2(tech, lb, hw, m, n_sub, mux, buffer_words, bus, layer_adc,
                                                         geom)

    # ---------------- latency ----------------
    # NeuroSim's synchronous chip: every block counts clock cycles of one chip clock, the slowest sensing
    # cycle of any subarray (see cimpipe/hw/latency.py)
    clock = fig["clock_period_ns"]
    chip_clock = shared(clock)
    bits_l = torch.clamp(hw.adc_bits if layer_adc else hw.adc_bits[:, None], *map(float, ADC_BITS_RANGE))
    # the PE/tile buffers and adder trees are one design for the whole chip, sized for the widest layer output
    out_l = (bits_l + C.log2_ceil(col(num_add)) + ib + (cps - 1) * cb[:, None] + 1).expand_as(rows)
    out_bits = torch.where(act, out_l, torch.full_like(out_l, -math.inf)).amax(dim=1, keepdim=True)
    out_bits = torch.where(torch.isfinite(out_bits), out_bits, out_l.amax(dim=1, keepdim=True)).expand_as(rows)
    htree = torch.zeros_like(pipe) if hw.global_htree is None else hw.global_htree
    novel_flag = torch.ones_like(pipe) if hw.novel_mapping is None else hw.novel_mapping
    work_l = LT.LayerWork(n_vec=n_vec, input_bits=ib, rows=rows, cols=cols, c_in=c_in, c_out=c_out, k=k, cps=cps,
                          out_bits=out_bits, num_add=col(num_add).expand_as(rows), pool=lb.pool & act, novel=nm,
                          active=act)
    # the global buffer's cores as Chip.cpp counts them for its latency: the chip's input precision (not the
    # 8-bit operand of the area estimate) times the largest (layer-by-layer) or half the summed (pipeline) input
    lat_buffer_cores = torch.clamp(torch.ceil(ib.amax(dim=1) * buffer_words / GLOBAL_BUFFER_CORE_BITS - 1e-9), min=1.0)
    shape = LT.ChipShape(subarray=n_sub, col_mux=mux, tile_cm=t_cm, pe_cm=p_cm, pe_nm=p_nm, num_pe_nm=m.num_pe_nm,
                         total_tiles=m.total_tiles, bus_bits=bus, buffer_cores=lat_buffer_cores, pipeline=pipe,
                         novel_flag=novel_flag, htree=htree)
    # bus lengths from NeuroSim's floorplan: a layer's tiles (and PEs) are the conventional or novel kind's;
    # the delays are per design and kind [D], then taken per layer
    sides = {"tile_cm": geom["tile_cm"], "tile_nm": geom["tile_nm"],
             "pe_cm": torch.sqrt(geom["pe_cm_h"] * geom["pe_cm_w"]), "pe_nm": torch.sqrt(geom["pe_nm_h"] * geom["pe_nm_w"])}
    widest = lambda s: torch.where(act, s.expand_as(rows), torch.zeros_like(rows)).amax(dim=1)  # noqa: E731
    tile_cm_um, tile_nm_um = widest(sides["tile_cm"]), widest(sides["tile_nm"])
    pe_cm_um, pe_nm_um = widest(sides["pe_cm"]), widest(sides["pe_nm"])
    grid_rows = torch.ceil(torch.sqrt(torch.clamp(m.total_tiles, min=1.0)))
    grid_cols = torch.ceil(torch.clamp(m.total_tiles, min=1.0) / grid_rows)
    pe_grid_nm, pe_grid_cm = torch.ceil(torch.sqrt(m.num_pe_nm)), t_cm / p_cm
    per_kind = lambda f: torch.where(nm, f(tile_nm_um)[:, None], f(tile_cm_um)[:, None])  # noqa: E731
    node_nm = tech.node_nm
    tree_ns = G.adder_tree_delay_ns(tech, out_bits, C.log2_ceil(p_cm / n_sub)[:, None])
    cycles = LT.layer_cycles(
        work_l, shape, m.speedup, m.tile_rows, m.tiles, chip_clock, tree_ns, G.maxpool_delay_ns(tech, ib.amax(dim=1)),
        per_kind(lambda s: WR.xy_bus_delay_ns(node_nm, s * torch.ceil(grid_cols / 2), s * grid_cols)),
        per_kind(lambda s: WR.xy_bus_delay_ns(node_nm, s * (grid_rows - torch.ceil(grid_rows / 2) - 1), s * grid_rows)),
        per_kind(lambda s: WR.htree_delay_ns(node_nm, grid_rows, grid_cols, s, s)),
        torch.where(nm, WR.htree_delay_ns(node_nm, pe_grid_nm, pe_grid_nm, pe_nm_um, pe_nm_um)[:, None],
                    WR.htree_delay_ns(node_nm, pe_grid_cm, pe_grid_cm, pe_cm_um, pe_cm_um)[:, None]),
        lambda bits, stages: G.adder_tree_delay_ns(tech, bits, stages))
    parts_t = {k2: v * chip_clock[:, None] for k2, v in cycles.items()}
    layer_latency = sum(parts_t.values())  # zero for inactive layers
    at_max = layer_latency.argmax(dim=1, keepdim=True)  # the pipeline's slowest stage (first on ties)
    latency = torch.where(pipe, layer_latency.gather(1, at_max).squeeze(1), layer_latency.sum(dim=1))
    latency_breakdown = {k2: torch.where(pipe, x.gather(1, at_max).squeeze(1), x.sum(dim=1))
                         for k2, x in parts_t.items()}

    # ---------------- energy ----------------
    density = EN.input_density(hw.input_density, hw.subarray)
    level = EN.weight_level_mean(hw.weight_level_mean, hw.subarray)
    dens_l = density[:, None]
    # ADC bucket (cimpipe/hw/adc_energy.py): every column of a layer's weight matrix is converted numAdd times
    # per input bit-vector in each subarray row it spans; the column conductance follows the data
    rows_per_sub = rows / torch.clamp(sub_rows, min=1.0)
    g_read = AE.read_conductance_s(tech, dens_l, rows_per_sub, col(num_add), level[:, None])
    bits_e = hw.adc_bits if layer_adc else hw.adc_bits[:, None]
    e_conv = AE.conversion_pj(tech, hw.adc_is_sar.to(torch.bool)[:, None], bits_e, col(fig["adc_fixed_pj"]),
                              col(fig["adc_ref_w"]), col(fig["adc_sense_s"]), g_read)
    conversions = bv_sub_cols * col(num_add)
    subarray_reads = bit_vectors * sub_rows * torch.ceil(cols / n_sub[:, None])
    # word lines and switch matrices are charged per active row of the rows a subarray holds (ProcessingUnit.cpp
    # GetInputVector: activityRowRead = active rows / numRowSubArray)
    dens_rows = dens_l * torch.clamp(rows_per_sub / n_sub[:, None], max=1.0)
    e_adc_l = (conversions * e_conv + subarray_reads * dens_rows * col(fig["wordline_pj"])) * actf
    n_layers = actf.sum(dim=1, keepdim=True)
    acc_in = ACC.AccumInputs(
        sub=n_sub[:, None], mux=mux[:, None], levels=torch.pow(2.0, bits_e), num_add=col(num_add), cps=cps,
        cell_bits=cb[:, None], input_bits=ib, n_vec=n_vec, rows=rows, cols=cols, c_in=c_in, kk=kk, novel=nm,
        tile_cm=t_cm[:, None], pe_cm=p_cm[:, None], pe_nm=p_nm[:, None], num_pe_nm=ppe[:, None],
        tile_rows=m.tile_rows, subarray_reads=subarray_reads, pipeline=pipe[:, None], layers=n_layers)
    e_acc_l = ACC.layer_accumulation_pj(tech, acc_in) * actf
    tr_in = TE.TransferInputs(
        rows=rows, cols=cols, c_in=c_in, k=k, cps=cps, input_bits=ib, n_vec=n_vec, pool=lb.pool, novel=nm,
        tile_cm=t_cm[:, None], pe_cm=p_cm[:, None], pe_nm=p_nm[:, None], num_pe_nm=ppe[:, None],
        sub=n_sub[:, None], tile_side_um=geom["tile_cm"], pe_cm_h_um=geom["pe_cm_h"], pe_cm_w_um=geom["pe_cm_w"],
        pe_nm_h_um=geom["pe_nm_h"], pe_nm_w_um=geom["pe_nm_w"], sub_h_um=geom["sub_h"], sub_w_um=geom["sub_w"],
        grid_rows=grid_rows[:, None], grid_cols=grid_cols[:, None], htree=htree[:, None],
        out_bits=ACC.subarray_output_bits(acc_in))
    e_buf_l, e_ic_l = TE.layer_transfer_pj(tech, tr_in)
    e_buf_l, e_ic_l = e_buf_l * actf, e_ic_l * actf
    e_other_l = (subarray_reads * PER.subarray_read_pj(tech, n_sub[:, None], mux[:, None], dens_rows,
                                                                torch.minimum(hw.rows_parallel, n_sub)[:, None])
                 + PER.activation_pj(tech, n_vec * c_out, ib)) * actf
    energy = {
        "adc": e_adc_l.sum(dim=1),
        "accumulation": e_acc_l.sum(dim=1),
        "buffer": e_buf_l.sum(dim=1),
        "interconnect": e_ic_l.sum(dim=1),
        "other": e_other_l.sum(dim=1),
    }
    dynamic = sum(energy.values())
    # one tile design per kind for the whole chip, sized for the widest active layer (as the area)
    def widest(x: Tensor) -> Tensor:
        if x.shape[-1] == 1:
            return x
        return torch.where(act, x, torch.full_like(x, -math.inf)).amax(dim=1, keepdim=True).clamp(min=1.0)

    lk_in = LK.LeakInputs(
        sub=n_sub[:, None], rows_parallel=torch.minimum(hw.rows_parallel, n_sub)[:, None], mux=mux[:, None],
        levels=widest(torch.pow(2.0, bits_e)), num_add=widest(col(num_add)), cps=widest(cps), input_bits=widest(ib),
        out_bits=widest(tr_in.out_bits), is_sar=hw.adc_is_sar.to(torch.bool)[:, None], tile_cm=t_cm[:, None],
        pe_cm=p_cm[:, None], pe_nm=p_nm[:, None], num_pe_nm=ppe[:, None], sub_h_um=widest(geom["sub_h"]),
        sub_w_um=widest(geom["sub_w"]), pe_cm_h_um=widest(geom["pe_cm_h"]), pe_cm_w_um=widest(geom["pe_cm_w"]),
        pe_nm_h_um=widest(geom["pe_nm_h"]), pe_nm_w_um=widest(geom["pe_nm_w"]),
        pe_tree_inputs=_last_pe_subarray_rows(rows, c_in, nm, t_cm[:, None], p_cm[:, None], p_nm[:, None], n_sub[:, None]))
    sub_leak = LK.subarray_w(tech, lk_in)
    leak_cm, in_use_cm = LK.tile_w(tech, lk_in, novel=False, subarray=sub_leak)
    leak_nm, in_use_nm = LK.tile_w(tech, lk_in, novel=True, subarray=sub_leak)
    tile_leak_uw = torch.where(nm, leak_nm, leak_cm) * 1e6
    in_use_uw = torch.where(nm, in_use_nm, in_use_cm) * 1e6
    leak_pj, leak_uw = LK.chip_leakage(layer_latency, m.tiles, tile_leak_uw.expand_as(layer_latency),
                                       in_use_uw.expand_as(layer_latency), act, pipe)
    ops = (max_in * kk * c_out / groups).sum(dim=1) * 2  # integers: exact in any order
    total_pj = dynamic + leak_pj
    tops = ops / torch.clamp(latency, min=1e-12) * 1e-3
    tops_w = ops / torch.clamp(total_pj, min=1e-12) / C.CAL.zeta

    per = None
    if per_layer:
        layer_energy = e_adc_l + e_acc_l + e_buf_l + e_ic_l + e_other_l
        per = {"latency_ns": layer_latency, "dynamic_energy_pj": layer_energy, "tiles": m.tiles,
               "leakage_power_uw": tile_leak_uw * m.tiles * actf,
               "speedup": m.speedup * actf, "utilization": m.utilization, "novel_mapping": nm,
               "cells": rows * cols * actf}
    return ChipMetrics(
        area_mm2=area_total_mm2,
        latency_ns=latency,
        dynamic_energy_pj=dynamic,
        leakage_energy_pj=leak_pj,
        leakage_power_uw=leak_uw,
        edap=total_pj * 1e-6 * latency * 1e-6 * area_total_mm2,
        tops=tops,
        tops_per_w=tops_w,
        tops_per_mm2=tops / area_total_mm2,
        fps=1e9 / torch.clamp(latency, min=1e-12),
        utilization=m.chip_utilization,
        tiles=m.total_tiles,
        clock_period_ns=chip_clock,
        operations=ops,
        feasible=feasible,
        reason=code,
        area_breakdown_mm2={k2: v * 1e-6 for k2, v in area_parts_um2.items()},
        energy_breakdown_pj=energy,
        latency_breakdown_ns=latency_breakdown,
        layers=per,
    )


def grid_for(configs: Sequence[HardwareConfig]) -> HardwareGrid:
    """The smallest grid holding the given hardware configurations."""
    def vals(name: str) -> tuple:
        return tuple(sorted({getattr(c, name) for c in configs}))

    adc_bits = tuple(sorted({b for c in configs
                             for b in (c.adc_bits if isinstance(c.adc_bits, tuple) else (c.adc_bits,))}))
    return HardwareGrid(subarray=vals("subarray"), rows_parallel=vals("rows_parallel"), col_mux=vals("col_mux"),
                        adc_bits=adc_bits, adc_type=vals("adc_type"), cell_bits=vals("cell_bits"))


def _last_pe_subarray_rows(rows: Tensor, c_in: Tensor, novel: Tensor, tile_cm: Tensor, pe_cm: Tensor, pe_nm: Tensor,
                           sub: Tensor) -> Tensor:
    """[D, L] subarrays spanned by the rows the last PE of a layer's last tile holds (Tile.cpp and
    ProcessingUnit.cpp hand each tile and PE its share of the rows, the last ones the remainder): NeuroSim's
    tile leakage is the one its last PE's adder tree left (AdderTree.cpp computes leakage on use)."""
    def remainder(n: Tensor, size: Tensor) -> Tensor:
        return n - (torch.ceil(n / size) - 1) * size

    last_cm = remainder(remainder(rows, tile_cm), pe_cm)
    last_nm = remainder(c_in, pe_nm)
    return torch.ceil(torch.where(novel, last_nm, last_cm) / sub)


def evaluate_design(
    shapes: Sequence[LayerShape],
    weight_bits: Sequence[int] | int,
    input_bits: Sequence[int] | int,
    hw: HardwareConfig,
    tech: Technology,
    per_layer: bool = False,
    mapping: str = "novel",
    bus: str = "xy",
    input_density: float | None = None,
    weight_level_mean: float | None = None,
) -> ChipMetrics:
    """Evaluate one network on one hardware configuration (a batch of one); a tuple ``hw.adc_bits`` gives
    each layer of ``shapes`` its own ADC resolution; ``mapping`` "novel" (NeuroSim's default: 3x3 layers split
    by kernel position) or "conventional" (every layer as its unrolled matrix); ``bus`` NeuroSim's global bus,
    "xy" (V1.4 default X-Y bus) or "htree"; ``input_density`` the fraction of input bits that are 1 (None:
    the model's default, see :data:`cimpipe.hw.energy.DEFAULT_INPUT_DENSITY`); ``weight_level_mean`` the mean
    stored level of the cells in [0, 1] (None: :data:`cimpipe.hw.energy.DEFAULT_WEIGHT_LEVEL_MEAN`)."""
    if mapping not in ("novel", "conventional"):
        raise DesignError(f"mapping {mapping!r} must be 'novel' or 'conventional'")
    if bus not in ("xy", "htree"):
        raise DesignError(f"bus {bus!r} must be 'xy' or 'htree'")
    ev = Evaluator.for_grid(tech, grid_for([hw]))
    wb = weight_bits if isinstance(weight_bits, int) else [list(weight_bits)]
    ib = input_bits if isinstance(input_bits, int) else [list(input_bits)]
    layers = LayerBatch.from_shapes([list(shapes)], wb, ib)
    batch = replace(HardwareBatch.from_configs([hw]), novel_mapping=torch.tensor([mapping == "novel"]),
                    global_htree=torch.tensor([bus == "htree"]),
                    input_density=None if input_density is None else torch.tensor([float(input_density)], dtype=F64),
                    weight_level_mean=None if weight_level_mean is None
                    else torch.tensor([float(weight_level_mean)], dtype=F64))
    return ev.evaluate(layers, batch, per_layer=per_layer)
