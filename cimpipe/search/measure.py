"""Designs measured on the supernet in CIM mode, as the accuracy table measures them, each distinct one once."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import polars as pl

from cimpipe.accuracy import AccuracySettings, arch_columns, measure_rows
from cimpipe.data import PreparedDataset
from cimpipe.space import Design, Family, SearchSpace


def design_columns(space: SearchSpace, genes: np.ndarray) -> dict[str, np.ndarray]:
    """Designs as the accuracy table's configuration columns: canonical architecture genes, CIM settings."""
    names = arch_columns(space)
    arch = space.canonical_arch_values(space.arch_values(genes)) if len(genes) else np.zeros((0, len(names)))
    cim = space.cim_values(genes) if len(genes) else np.zeros((0, len(space.cim_columns)))
    return {n: arch[:, i] for i, n in enumerate(names)} | {n: cim[:, i] for i, n in enumerate(space.cim_columns)}


def measured_rows(space: SearchSpace, rounds: Sequence[Any]) -> pl.DataFrame:
    """Every design the rounds (:class:`~cimpipe.search.refine.MeasuredDesigns`) measured, in accuracy-table
    columns (:func:`design_columns`, ``accuracy``) with ``accuracy_predicted`` and ``round``, round by round."""
    def cat(part: str, empty: np.ndarray) -> np.ndarray:
        return np.concatenate([getattr(r, part) for r in rounds]) if rounds else empty

    genes = cat("genes", np.zeros((0, space.n_genes), dtype=np.int64))
    round_of = np.concatenate([np.full(len(r.genes), r.round) for r in rounds]) if rounds else np.zeros(0)
    return pl.DataFrame({"round": pl.Series(round_of, dtype=pl.Int32), **design_columns(space, genes),
                         "accuracy": pl.Series(cat("measured", np.zeros(0)), dtype=pl.Float64),
                         "accuracy_predicted": pl.Series(cat("predicted", np.zeros(0)), dtype=pl.Float64)})


class Remeasurer:
    """Measures designs' accuracy on the supernet in CIM mode, exactly as the table does. Designs that differ
    only in hardware the accuracy does not see (subarray, column mux, ADC type, pipelining) share one
    measurement, and a design measured once keeps its accuracy (refinement rounds meet it again)."""

    def __init__(self, model: Any, spec: Family, space: SearchSpace, data: PreparedDataset,
                 settings: AccuracySettings):
        self.model, self.spec, self.space, self.data, self.settings = model, spec, space, data, settings
        self.known: dict[tuple, float] = {}

    def __call__(self, designs: list[Design]) -> np.ndarray:
        if not designs:
            return np.zeros(0)
        rows = pl.DataFrame(design_columns(self.space, np.stack([self.space.encode(d) for d in designs])))
        keys = [tuple(r) for r in rows.rows()]
        new = pl.DataFrame([dict(zip(rows.columns, k)) for k in dict.fromkeys(k for k in keys if k not in self.known)],
                           schema=rows.schema)
        if new.height:
            distinct = new.with_row_index("config_id").with_columns(pl.col("config_id").cast(pl.Int64))
            measured = measure_rows(self.model, self.spec, self.data, distinct, self.settings)
            self.known.update(zip([tuple(r) for r in new.rows()], measured["accuracy"].to_list()))
        print(f"re-measured {new.height} distinct (sub-network, CIM setting) pairs for {len(designs)} designs "
              f"({len(set(keys)) - new.height} measured before)")
        return np.array([self.known[k] for k in keys], dtype=np.float64)
