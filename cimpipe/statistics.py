"""The data statistics a design's hardware cost follows, per weight layer: the input bit density and the
fraction of reads no row of which gets a 1 (measured on the accuracy table's rows,
:func:`cimpipe.accuracy.measure_rows`), and the mean stored cell level (from the supernet's weights,
:func:`cimpipe.nn.statistics.cell_levels`).

A design gets, for each of its layers, the average density the table measured for that layer slot at that
activation bit-width (over every row that used the slot with those bits: the density follows the bit-width
far more than the rest of the sub-network), the zero-read fraction likewise for the block height nearest its
subarray, and the cell level of that slot's weights at its weight bit-width,
cell size and sign encoding. Where the table has no row for a (slot, bits) pair, the slot's average over all
its bit-widths stands in, and where it never used the slot, NeuroSim's default (0.5; no zero reads). The hardware model
evaluates the design with these per-layer values instead of its defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import polars as pl

from cimpipe.design import SIGN_ENCODINGS

DEFAULT_DENSITY = 0.5
DEFAULT_LEVEL = 0.5
DEFAULT_ZERO_READS = 0.0


@dataclass(frozen=True)
class DataStatistics:
    """``input_density`` [n_slots, n_bits] by activation bits; ``cell_level`` [n_slots, n_bits, n_cell_bits,
    n_encodings] by weight bits, cell bits and sign encoding (:data:`~cimpipe.design.SIGN_ENCODINGS` order);
    ``bit_choices`` and ``cell_bits`` index the axes; ``zero_reads`` [n_slots, n_bits, len(block_rows)] by
    activation bits and block height (``block_rows``)."""

    input_density: np.ndarray
    cell_level: np.ndarray
    bit_choices: tuple[int, ...]
    cell_bits: tuple[int, ...]
    zero_reads: np.ndarray
    block_rows: tuple[int, ...]

    @classmethod
    def measure(cls, table: pl.DataFrame, cell_level: np.ndarray, bit_choices: Sequence[int],
                cell_bits: Sequence[int], block_rows: Sequence[int] = (64, 128, 256)) -> "DataStatistics":
        """Average the table's ``input_density_{slot}`` and ``zero_read_{slot}_{rows}`` columns per (slot,
        activation bits)."""
        bits = tuple(sorted(int(b) for b in bit_choices))
        n_slots = cell_level.shape[0]

        def per_bits(name: str, slot: int, default: float) -> np.ndarray:
            out = np.full(len(bits), math.nan)
            if name not in table.columns:
                return np.full(len(bits), default)
            d = table[name].cast(pl.Float64).fill_null(math.nan).to_numpy()
            a = table[f"abits_{slot}"].to_numpy()
            seen = ~np.isnan(d)
            for j, b in enumerate(bits):
                rows = seen & (a == b)
                if rows.any():
                    out[j] = float(d[rows].mean())
            out[np.isnan(out)] = float(d[seen].mean()) if seen.any() else default
            return out

        density = np.stack([per_bits(f"input_density_{s}", s, DEFAULT_DENSITY) for s in range(n_slots)])
        zero = np.stack([np.stack([per_bits(f"zero_read_{s}_{r}", s, DEFAULT_ZERO_READS) for r in block_rows], axis=1)
                         for s in range(n_slots)])
        level = np.where(np.isnan(cell_level), DEFAULT_LEVEL, cell_level)
        return cls(density, level, bits, tuple(int(c) for c in cell_bits), zero, tuple(int(r) for r in block_rows))

    def to_dict(self) -> dict[str, Any]:
        return {"input_density": self.input_density.tolist(), "cell_level": self.cell_level.tolist(),
                "bit_choices": list(self.bit_choices), "cell_bits": list(self.cell_bits),
                "zero_reads": self.zero_reads.tolist(), "block_rows": list(self.block_rows)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataStatistics":
        return cls(np.asarray(d["input_density"], dtype=np.float64), np.asarray(d["cell_level"], dtype=np.float64),
                   tuple(d["bit_choices"]), tuple(d["cell_bits"]), np.asarray(d["zero_reads"], dtype=np.float64),
                   tuple(d["block_rows"]))

    def for_designs(self, weight_bits: np.ndarray, input_bits: np.ndarray, cell_bits: np.ndarray,
                    encoding: np.ndarray, subarray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[D, n_slots] input density, cell level and zero-read fraction of every layer slot of D designs:
        ``weight_bits`` and ``input_bits`` [D, n_slots], ``cell_bits``, ``encoding`` (0 offset, 1 differential)
        and ``subarray`` (rows) [D]. Values between the measured ones take the nearest."""
        slots = np.arange(self.input_density.shape[0])[None, :]
        choices = np.asarray(self.bit_choices, dtype=np.float64)

        def nearest(values: np.ndarray, options: np.ndarray) -> np.ndarray:
            return np.abs(np.asarray(values, dtype=np.float64)[..., None] - options).argmin(axis=-1)

        a = nearest(input_bits, choices)
        w = nearest(weight_bits, choices)
        c = nearest(cell_bits, np.asarray(self.cell_bits, dtype=np.float64))[:, None]
        e = np.clip(np.asarray(encoding).astype(np.int64), 0, len(SIGN_ENCODINGS) - 1)[:, None]
        r = nearest(subarray, np.asarray(self.block_rows, dtype=np.float64))[:, None]
        return self.input_density[slots, a], self.cell_level[slots, w, c, e], self.zero_reads[slots, a, r]
