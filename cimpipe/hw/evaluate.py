"""Network-level evaluation of many designs at once, on top of a characterization table.

:class:`Evaluator` finds every design's subarray option in a table of characterized options (see
:func:`~cimpipe.hw.characterize.characterize`) and runs large batches through the chip model
(:mod:`cimpipe.hw.chip`) in chunks; :func:`evaluate_design` evaluates one network on one configuration.
The value types (:class:`LayerBatch`, :class:`HardwareBatch`, :class:`ChipMetrics`) live in
:mod:`cimpipe.hw.batch` and are re-exported here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from typing import Sequence

import polars as pl
import torch

from cimpipe.hw.batch import EVAL_REASONS, ChipMetrics, DesignError, HardwareBatch, LayerBatch
from cimpipe.hw.characterize import FIGURE_COLUMNS, KEY_COLUMNS, HardwareGrid, characterize
from cimpipe.hw.chip import evaluate_chunk
from cimpipe.hw.technology import Technology
from cimpipe.space import HardwareConfig, LayerShape

Tensor = torch.Tensor
F64 = torch.float64

__all__ = ["ChipMetrics", "DesignError", "EVAL_REASONS", "Evaluator", "HardwareBatch", "LayerBatch", "evaluate_design",
           "grid_for", "keep_freed_memory"]

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
            return evaluate_chunk(self, layers, hw, per_layer)
        starts = range(0, d, chunk)

        def one(i: int) -> ChipMetrics:
            return evaluate_chunk(self, _slice(layers, i, i + chunk), _slice(hw, i, i + chunk), per_layer)

        return _concat(_in_threads(one, starts, min(torch.get_num_threads(), len(starts))))


def _in_threads(fn, items, workers: int) -> list:
    """``fn`` over ``items``, the chunks spread over ``workers`` Python threads whose torch operations run on
    the calling thread (torch releases the GIL inside its kernels); torch's intra-op thread count is set to 1
    meanwhile and put back. Each chunk is computed exactly as alone, so the figures do not change. On 2 cores
    (VGG-16-sized designs, 10^5 per batch) two such threads gave 77-81k designs/s against 61k from torch's
    own two intra-op threads on the same chunks."""
    if workers <= 1:
        return [fn(i) for i in items]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))
    finally:
        torch.set_num_threads(threads)


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


def grid_for(configs: Sequence[HardwareConfig]) -> HardwareGrid:
    """The smallest grid holding the given hardware configurations."""
    def vals(name: str) -> tuple:
        return tuple(sorted({getattr(c, name) for c in configs}))

    adc_bits = tuple(sorted({b for c in configs
                             for b in (c.adc_bits if isinstance(c.adc_bits, tuple) else (c.adc_bits,))}))
    return HardwareGrid(subarray=vals("subarray"), rows_parallel=vals("rows_parallel"), col_mux=vals("col_mux"),
                        adc_bits=adc_bits, adc_type=vals("adc_type"), cell_bits=vals("cell_bits"))


def evaluate_design(
    shapes: Sequence[LayerShape],
    weight_bits: Sequence[int] | int,
    input_bits: Sequence[int] | int,
    hw: HardwareConfig,
    tech: Technology,
    per_layer: bool = False,
    mapping: str = "novel",
    bus: str = "xy",
    input_density: float | Sequence[float] | None = None,
    weight_level_mean: float | Sequence[float] | None = None,
    zero_read_fraction: float | Sequence[float] | None = None,
) -> ChipMetrics:
    """Evaluate one network on one hardware configuration (a batch of one); a tuple ``hw.adc_bits`` gives
    each layer of ``shapes`` its own ADC resolution; ``mapping`` "novel" (NeuroSim's default: 3x3 layers split
    by kernel position) or "conventional" (every layer as its unrolled matrix); ``bus`` NeuroSim's global bus,
    "xy" (V1.4 default X-Y bus) or "htree"; ``input_density`` the fraction of input bits that are 1 (None:
    the model's default, see :data:`cimpipe.hw.energy.DEFAULT_INPUT_DENSITY`); ``weight_level_mean`` the mean
    stored level of the cells in [0, 1] (None: :data:`cimpipe.hw.energy.DEFAULT_WEIGHT_LEVEL_MEAN`); either
    one value for the network or one per layer of ``shapes``; so is ``zero_read_fraction``, the reads whose
    rows get no 1 bit (None: none)."""
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
                    input_density=_statistic(input_density, len(shapes), "input_density"),
                    weight_level_mean=_statistic(weight_level_mean, len(shapes), "weight_level_mean"),
                    zero_read_fraction=_statistic(zero_read_fraction, len(shapes), "zero_read_fraction"))
    return ev.evaluate(layers, batch, per_layer=per_layer)


def _statistic(value: float | Sequence[float] | None, n_layers: int, name: str) -> Tensor | None:
    """A data statistic of one design as the batch holds it: [1] for the network, [1, L] per layer."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return torch.tensor([float(value)], dtype=F64)
    values = [float(v) for v in value]
    if len(values) != n_layers:
        raise DesignError(f"{name} gives {len(values)} values for {n_layers} layers")
    return torch.tensor([values], dtype=F64)
