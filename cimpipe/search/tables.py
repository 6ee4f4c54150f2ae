"""The search's tables: the reference design, the history and the front (schemas in :mod:`cimpipe.search`), and
the summary record."""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import polars as pl

from cimpipe.pareto import HV_REFERENCE
from cimpipe.search.loop import SearchResult
from cimpipe.search.objective import ObjectiveBatch
from cimpipe.search.settings import CHIP_METRICS, Constraints, ObjectiveSpec, SearchSettings
from cimpipe.search.strategies import survivors
from cimpipe.space import Design, HardwareConfig, SearchSpace


def _nearest(choices: Sequence, want: Any) -> Any:
    if want in choices:
        return want
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return min(choices, key=lambda c: abs(float(c) - float(want)))
    return choices[0]


def reference_design(space: SearchSpace) -> Design:
    """NeuroSim's default design in this space: the largest sub-network at 8/8 bits on a 128x128 subarray,
    128 rows in parallel, 8-column mux, 5-bit flash ADC, 2 bits per cell (if the device allows), layer-by-layer,
    offset-encoded signed weights, RRAM 22 nm if the space has it, else its first technology. Missing choices snap to the nearest one."""
    h = space.hardware
    tech = "rram_22nm" if "rram_22nm" in h.technologies else h.technologies[0]
    cell = _nearest(h.cell_bits, min(2, space.devices[tech].max_cell_bits))
    hw = HardwareConfig(technology=tech, subarray=_nearest(h.subarray, 128), rows_parallel=_nearest(h.rows_parallel, 128),
                        col_mux=_nearest(h.col_mux, 8), adc_bits=_nearest(h.adc_bits, 5), adc_type=_nearest(h.adc_type, "flash"),
                        cell_bits=cell, pipeline=_nearest(h.pipeline, False),
                        sign_encoding=_nearest(h.sign_encoding, "offset"))
    bits = _nearest(space.spec.bit_choices, 8)
    return Design(space.spec.largest(bits=bits), hw)


def gene_columns(space: SearchSpace, genes: np.ndarray) -> dict[str, pl.Series]:
    cols: dict[str, pl.Series] = {}
    hw = space.hardware_arrays(genes)
    for i, g in enumerate(space.genes):
        if isinstance(g.choices[0], str):
            cols[g.name] = pl.Series(g.name, np.asarray(g.choices, dtype=object)[genes[:, i]].astype(str))
        elif isinstance(g.choices[0], (bool, np.bool_)):
            cols[g.name] = pl.Series(g.name, np.asarray(g.choices, dtype=bool)[genes[:, i]])
        elif g.name in hw:
            cols[g.name] = pl.Series(g.name, hw[g.name].astype(np.float64))
        else:
            cols[g.name] = pl.Series(g.name, np.asarray(g.choices, dtype=np.float64)[genes[:, i]])
    return cols


def metric_columns(b: ObjectiveBatch) -> dict[str, np.ndarray]:
    return {"accuracy": b.accuracy, "accuracy_std": b.accuracy_std, **{k: b.metrics[k] for k in CHIP_METRICS}}


def history_frame(space: SearchSpace, result: SearchResult, island: int = 0) -> pl.DataFrame:
    """The search_history table (schema in the module docstring)."""
    b = result.batch
    hv_row = result.hypervolume[result.generation]
    return pl.DataFrame({
        "island": np.full(len(result.generation), island, dtype=np.int32), "generation": result.generation,
        **gene_columns(space, result.genes), **metric_columns(b),
        "hw_feasible": b.hw_feasible, "feasible": b.feasible, "hypervolume": hv_row,
    })


def canonical_genes(space: SearchSpace, genes: np.ndarray) -> tuple[np.ndarray, list[Design]]:
    designs = [space.decode(row) for row in genes]
    return np.stack([space.encode(d) for d in designs]) if designs else genes, designs


def thin_front(space: SearchSpace, genes: np.ndarray, b: ObjectiveBatch, objectives: Sequence[ObjectiveSpec],
               max_front: int | None = None, extra: Mapping[str, np.ndarray] | None = None
               ) -> tuple[np.ndarray, list[Design], ObjectiveBatch, dict[str, np.ndarray]]:
    """Candidate rows made canonical and distinct, then thinned to ``max_front`` designs spread along the front
    (NSGA-II's crowding distance keeps the extremes and drops the most crowded): their genes, designs, batch
    and ``extra`` columns (one value per candidate row, following their rows)."""
    extra = {k: np.asarray(v) for k, v in (extra or {}).items()}
    cgenes, designs = canonical_genes(space, genes)
    if len(designs):
        _, first = np.unique(cgenes, axis=0, return_index=True)
        first = np.sort(first)
        cgenes, designs = cgenes[first], [designs[i] for i in first]
        b = b.take(first)
        extra = {k: v[first] for k, v in extra.items()}
    if max_front is not None and len(designs) > max_front:
        pick = np.sort(survivors(b.losses(objectives), max_front))
        cgenes, designs = cgenes[pick], [designs[i] for i in pick]
        b = b.take(pick)
        extra = {k: v[pick] for k, v in extra.items()}
    return cgenes, designs, b, extra


def front_frame(space: SearchSpace, genes: np.ndarray, b: ObjectiveBatch, objectives: Sequence[ObjectiveSpec],
                ref_edap: float, remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None,
                constraints: Constraints = Constraints(), max_front: int | None = None,
                extra: Mapping[str, np.ndarray] | None = None) -> pl.DataFrame:
    """The front table from candidate rows (already feasible): :func:`thin_front`, re-measure, re-filter for
    dominance, and attach every metric and the design. ``extra`` columns (one value per candidate row) follow
    their rows into the table."""
    cgenes, designs, b, extra = thin_front(space, genes, b, objectives, max_front, extra)
    predicted = b.accuracy.copy()
    measured = np.full(len(designs), np.nan)
    if remeasure_fn is not None and designs:
        measured = np.asarray(remeasure_fn(designs), dtype=np.float64).reshape(len(designs))
        b.accuracy = measured
        b.violation = constraints.violation(measured, b.metrics)
    sel = b.feasible_front(objectives)
    bj = [json.dumps({"subnet": designs[i].subnet.to_dict(), "hardware": designs[i].hardware.to_dict()}) for i in sel]
    gcols = gene_columns(space, cgenes[sel])
    mcols = {k: v[sel] for k, v in metric_columns(b).items()}
    return pl.DataFrame({
        **gcols, **mcols,
        "accuracy_predicted": predicted[sel],
        "accuracy_measured": pl.Series("accuracy_measured", measured[sel], dtype=pl.Float64).fill_nan(None),
        "edap_reduction_vs_reference": ref_edap / mcols["edap_uj_ms_mm2"],
        **{k: v[sel] for k, v in extra.items()},
        "design_json": pl.Series("design_json", bj, dtype=pl.Utf8),
    })


def search_summary(space: SearchSpace, settings: SearchSettings, ref: Design, ref_batch: ObjectiveBatch,
             front: pl.DataFrame, remeasured: bool, **run: Any) -> dict[str, Any]:
    return {
        "log10_space_size": space.log10_size(),
        **run,
        "hv_reference_point": HV_REFERENCE,
        "optimizer": settings.optimizer,
        "objectives": [{"metric": o.metric, "maximize": o.maximize, "log_scale": o.log_scale} for o in settings.objectives],
        "front_size": front.height,
        "remeasured": remeasured,
        "reference": {
            "design": {"subnet": ref.subnet.to_dict(), "hardware": ref.hardware.to_dict()},
            "feasible": bool(ref_batch.hw_feasible[0]),
            **{k: float(v[0]) for k, v in metric_columns(ref_batch).items()},
        },
    }
