"""Reading written results: check a Pareto front file, sort it, summarize its designs, compare two fronts.

A front is the ``pareto_{workload}.parquet`` table of :mod:`cimpipe.search` (schema in its module
docstring). :func:`compare_fronts` scores two fronts on one normalization of both, so their hypervolumes
are comparable even when the searches that wrote them fixed different bounds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from typing import TYPE_CHECKING

import polars as pl

from cimpipe.metrics import ALIASES, METRICS

if TYPE_CHECKING:  # numpy, moocore and the search load only where fronts are compared (`cimpipe show` stays fast)
    import numpy as np

    from cimpipe.pareto import Normalizer
    from cimpipe.metrics import ObjectiveSpec


class ResultsError(ValueError):
    """A results file is missing or is not what the command reads (one sentence naming the file or column)."""


FRONT_COLUMNS = ("technology", "accuracy", "energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2",
                 "edap_reduction_vs_reference", "design_json")
"""The columns every front has (in the order a missing one is reported); the gene columns are not needed here."""

_STRING_COLUMNS = ("technology", "design_json")

SORT_DIRECTIONS: dict[str, bool] = {  # column: descending by default (larger is better)
    **{name: maximize for name, (maximize, _) in METRICS.items()},
    "accuracy_predicted": True,
    "accuracy_measured": True,
    "accuracy_std": False,
    "edap_reduction_vs_reference": True,
    "edap_gain_at_reference_accuracy": True,
    "utilization": True,
    "tiles": False,
    "leakage_energy_uj": False,
}


def read_front(path: str | Path) -> pl.DataFrame:
    """Read a front file, raising :class:`ResultsError` for a missing file, a file that is not Parquet, or a
    table without the front's columns (naming the first one missing)."""
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"the front file {path} does not exist")
    if not path.is_file():
        raise ResultsError(f"the front file {path} is not a file")
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:  # polars raises several kinds for bytes that are not Parquet
        raise ResultsError(f"the file {path} is not a Parquet file") from None
    for name in FRONT_COLUMNS:
        if name not in schema:
            raise ResultsError(f"the file {path} is not a cimpipe Pareto front: it lacks the column {name!r}")
        numeric = schema[name].is_numeric()
        if numeric == (name in _STRING_COLUMNS):
            kind = "text" if name in _STRING_COLUMNS else "numeric"
            raise ResultsError(f"the file {path} is not a cimpipe Pareto front: its column {name!r} is not {kind}")
    try:
        return pl.read_parquet(path)
    except Exception:
        raise ResultsError(f"the file {path} is a damaged Parquet file") from None


def sort_front(front: pl.DataFrame, key: str, descending: bool | None = None) -> pl.DataFrame:
    """Rows ordered by ``key`` (best first unless ``descending`` says otherwise; nulls last).

    ``key`` may be a metric alias (``energy``, ``edap``...). The default direction puts the best value first:
    descending for accuracy and the other maximized metrics, ascending for costs.
    """
    column = ALIASES.get(key, key)
    if column not in front.columns:
        raise ResultsError(f"the front has no column {key!r} to sort by")
    if descending is None:  # unlisted columns (genes, technology) ascend
        descending = SORT_DIRECTIONS.get(column, False)
    return front.sort(column, descending=descending, nulls_last=True, maintain_order=True)


@dataclass(frozen=True)
class DesignSummary:
    """One design of a front in a few characters: its crossbar and its precision."""

    hardware: str
    bits: str


def _span(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def summarize_design(design_json: str) -> DesignSummary:
    """``{"subnet": ..., "hardware": ...}`` of a front row to e.g. ``128 r64 m8 sar6 c2 P`` (``c2d``: differential arrays) and
    ``d2,1 w4-8 a2-6`` (stage depths, then the range of weight and input bits over the layer slots; the
    slots a design does not use are stored at the largest choice and count in the upper end)."""
    try:
        d = json.loads(design_json)
        hw, net = d["hardware"], d["subnet"]
        hardware = (f"{hw['subarray']} r{hw['rows_parallel']} m{hw['col_mux']} "
                    f"{hw['adc_type']}{_span(hw['adc_bits']) if isinstance(hw['adc_bits'], list) else hw['adc_bits']} "
                    f"c{hw['cell_bits']}{'d' if hw.get('sign_encoding') == 'differential' else ''} "
                    f"{'P' if hw['pipeline'] else 'L'}")
        bits = (f"d{','.join(str(x) for x in net['depths'])} w{_span(net['weight_bits'])} "
                f"a{_span(net['act_bits'])}")
    except (TypeError, KeyError, ValueError):
        return DesignSummary("?", "?")
    return DesignSummary(hardware, bits)


REFERENCE_GAIN = "edap_gain_at_reference_accuracy"


def with_reference_gain(front: pl.DataFrame, reference: dict | None) -> pl.DataFrame:
    """The front with :data:`REFERENCE_GAIN`: the reference design's EDAP over this design's, only for designs at
    least as accurate as the reference design (its accuracy in ``search_summary.json``); null for the others,
    whose EDAP buys less accuracy, so that a ratio would compare unlike networks. All null without a reference.

    ``edap_reduction_vs_reference`` compares every design with the reference whatever its accuracy."""
    if not reference or reference.get("edap_uj_ms_mm2") is None or reference.get("accuracy") is None:
        return front.with_columns(pl.lit(None, dtype=pl.Float64).alias(REFERENCE_GAIN))
    gain = float(reference["edap_uj_ms_mm2"]) / pl.col("edap_uj_ms_mm2")
    return front.with_columns(pl.when(pl.col("accuracy") >= float(reference["accuracy"])).then(gain)
                              .otherwise(None).cast(pl.Float64).alias(REFERENCE_GAIN))


def with_summaries(front: pl.DataFrame) -> pl.DataFrame:
    """The front with two text columns added, ``hardware`` and ``bits`` (see :func:`summarize_design`)."""
    summaries = [summarize_design(s) for s in front["design_json"].to_list()]
    return front.with_columns(pl.Series("hardware", [s.hardware for s in summaries], dtype=pl.Utf8),
                              pl.Series("bits", [s.bits for s in summaries], dtype=pl.Utf8))


# --------------------------------------------------------------------------------------------------
# comparing two fronts
# --------------------------------------------------------------------------------------------------


def dominance_matrix(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """``[Na, Nb]`` booleans: row i of losses ``a`` dominates row j of ``b`` (no worse in every objective,
    better in one). Rows with a NaN neither dominate nor are dominated."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.zeros((a.shape[0], b.shape[0]), dtype=bool)
    for s in range(0, a.shape[0], chunk):
        x = a[s:s + chunk, None, :]
        out[s:s + chunk] = np.all(x <= b[None], axis=2) & np.any(x < b[None], axis=2)
    return out


@dataclass(frozen=True)
class FrontComparison:
    """How two fronts A and B relate, on the objectives ``objectives``.

    ``a_dominating`` points of A that dominate at least one point of B; ``b_dominated`` points of B that
    some point of A dominates (and the same the other way round); ``a_share_undominated`` the share of A's
    points that no point of B dominates. Hypervolumes use one :class:`~cimpipe.pareto.Normalizer` fitted
    on both fronts' losses, reference point ``HV_REFERENCE`` in every coordinate.
    """

    objectives: tuple[ObjectiveSpec, ...]
    n_a: int
    n_b: int
    a_dominating: int
    b_dominated: int
    b_dominating: int
    a_dominated: int
    a_share_undominated: float
    b_share_undominated: float
    hv_a: float
    hv_b: float
    normalizer: Normalizer | None
    reference: dict[str, float] | None = None  # the reference point in natural units

    def reference_text(self) -> str:
        return reference_text(self.reference) if self.reference else "-"

    @property
    def better(self) -> str:
        """``"a"``, ``"b"`` or ``"tie"`` by hypervolume (ties within 1e-12 relative)."""
        if abs(self.hv_a - self.hv_b) <= 1e-15 + 1e-12 * abs(self.hv_b):
            return "tie"
        return "a" if self.hv_a > self.hv_b else "b"


def _default_objectives() -> tuple[ObjectiveSpec, ...]:
    from cimpipe.metrics import DEFAULT_OBJECTIVES

    return DEFAULT_OBJECTIVES


def front_losses(front: pl.DataFrame, objectives: Sequence[ObjectiveSpec] | None = None) -> np.ndarray:
    """``[N, M]`` losses of a front's rows (maximized metrics negated, costs on log10; :func:`to_losses`);
    ``objectives`` default to the search's (accuracy, energy, latency, area)."""
    from cimpipe.pareto import to_losses

    objectives = _default_objectives() if objectives is None else objectives
    for o in objectives:
        if o.metric not in front.columns:
            raise ResultsError(f"the front has no column {o.metric!r} for the objective {o.metric}")
    values = front.select([pl.col(o.metric).cast(pl.Float64) for o in objectives]).to_numpy()
    return to_losses(values.reshape(front.height, len(objectives)), [o.maximize for o in objectives],
                     [o.log_scale for o in objectives])


def compare_fronts(a: pl.DataFrame, b: pl.DataFrame,
                   objectives: Sequence[ObjectiveSpec] | None = None) -> FrontComparison:
    """Dominance counts between two fronts and their hypervolumes on a common normalization."""
    import numpy as np

    from cimpipe.pareto import HV_REFERENCE, Normalizer, hypervolume

    objectives = tuple(_default_objectives() if objectives is None else objectives)
    la, lb = front_losses(a, objectives), front_losses(b, objectives)
    dom_ab, dom_ba = dominance_matrix(la, lb), dominance_matrix(lb, la)
    both = np.vstack([la, lb])
    if np.all(np.isfinite(both), axis=1).any():
        norm = Normalizer.from_losses(both)
        hv_a, hv_b = hypervolume(norm(la), HV_REFERENCE), hypervolume(norm(lb), HV_REFERENCE)
    else:
        norm, hv_a, hv_b = None, 0.0, 0.0
    a_dominated, b_dominated = dom_ba.any(axis=0), dom_ab.any(axis=0)
    return FrontComparison(
        objectives=objectives, n_a=len(la), n_b=len(lb),
        a_dominating=int(dom_ab.any(axis=1).sum()), b_dominated=int(b_dominated.sum()),
        b_dominating=int(dom_ba.any(axis=1).sum()), a_dominated=int(a_dominated.sum()),
        a_share_undominated=float(1.0 - a_dominated.mean()) if len(la) else 0.0,
        b_share_undominated=float(1.0 - b_dominated.mean()) if len(lb) else 0.0,
        hv_a=hv_a, hv_b=hv_b, normalizer=norm,
        reference=None if norm is None else reference_point(
            norm, [(o.metric, o.maximize, o.log_scale) for o in objectives], HV_REFERENCE),
    )


# --------------------------------------------------------------------------------------------------
# files around a front
# --------------------------------------------------------------------------------------------------


def workload_of(front_path: str | Path) -> str | None:
    """``results/pareto_demo.parquet`` -> ``"demo"`` (None for a file not named like a front)."""
    stem = Path(front_path).stem
    return stem[len("pareto_"):] if stem.startswith("pareto_") and len(stem) > len("pareto_") else None


def workload_dir(front_path: str | Path) -> Path | None:
    """The folder ``results/{workload}/`` beside a front, where the search wrote its history (None if absent)."""
    wl = workload_of(front_path)
    if wl is None:
        return None
    d = Path(front_path).parent / wl
    return d if d.is_dir() else None


# --------------------------------------------------------------------------------------------------
# views of one front: the 2-D staircase, the hypervolume on the search's own normalization
# --------------------------------------------------------------------------------------------------


def staircase(x: Sequence[float], y: Sequence[float], x_maximize: bool, y_maximize: bool) -> np.ndarray:
    """Indices of the points no other point beats on both x and y (weakly), in ascending x: the 2-D
    non-dominated staircase of one view of a front. NaN points take no part."""
    import numpy as np

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx, sy = (-1.0 if x_maximize else 1.0), (-1.0 if y_maximize else 1.0)
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    order = ok[np.lexsort((sy * y[ok], sx * x[ok]))]  # best x first, ties: best y first
    keep, best = [], np.inf
    for i in order:
        if sy * y[i] < best:
            keep.append(i)
            best = sy * y[i]
    keep = np.asarray(keep, dtype=np.int64)
    return keep[np.argsort(x[keep], kind="stable")]


@dataclass(frozen=True)
class FrontHypervolume:
    """A front's hypervolume on a search's normalization: losses mapped by the search's ``lo``/``hi`` bounds
    onto [0, 1] per objective, measured against the corner ``HV_REFERENCE`` (1.1) in every coordinate.
    ``reference`` is that corner in natural units (accuracy as a fraction), so the figure says what it is
    measured against."""

    value: float
    objectives: tuple[tuple[str, bool, bool], ...]  # (metric, maximize, log scale)
    reference: dict[str, float]

    def reference_text(self) -> str:
        return reference_text(self.reference)


def reference_text(reference: dict[str, float]) -> str:
    """A hypervolume's reference point in natural units, e.g. ``accuracy 87 %, energy 17.2 uJ``."""
    from cimpipe.metrics import column

    parts = []
    for metric, value in reference.items():
        c = column(metric)
        parts.append(f"{c.header} {value * (100.0 if c.percent else 1.0):.3g}{' ' + c.unit if c.unit else ''}")
    return ", ".join(parts)


def reference_point(norm: Normalizer, objectives: Sequence[tuple[str, bool, bool]], ref: float) -> dict[str, float]:
    """The corner ``ref`` (in every normalized coordinate) in natural units, metric by metric."""
    out = {}
    for (metric, maximize, log), lo, hi in zip(objectives, norm.lo, norm.hi):
        loss = lo + ref * (hi - lo)
        v = -loss if maximize else loss
        out[metric] = float(10.0 ** v if log else v)
    return out


def front_hypervolume(front: pl.DataFrame, summary: dict) -> FrontHypervolume:
    """The hypervolume of ``front`` (its ``accuracy``: the measured one where re-measured) on the objectives
    and normalization of the search that wrote ``summary`` (``search_summary.json``), the figure both the
    report and ``cimpipe compare`` state."""
    from cimpipe.pareto import HV_REFERENCE, Normalizer, hypervolume, to_losses

    try:
        objectives = tuple((o["metric"], bool(o["maximize"]), bool(o["log_scale"])) for o in summary["objectives"])
        norm = Normalizer(tuple(summary["normalizer"]["lo"]), tuple(summary["normalizer"]["hi"]))
    except (KeyError, TypeError):
        raise ResultsError("the search summary lacks its objectives or normalizer (search_summary.json)") from None
    ref = float(summary.get("hv_reference_point", HV_REFERENCE))
    for metric, _, _ in objectives:
        if metric not in front.columns:
            raise ResultsError(f"the front has no column {metric!r} for the objective {metric}")
    values = front.select([pl.col(m).cast(pl.Float64) for m, _, _ in objectives]).to_numpy()
    losses = to_losses(values.reshape(front.height, len(objectives)), [o[1] for o in objectives],
                       [o[2] for o in objectives])
    return FrontHypervolume(hypervolume(norm(losses), ref), objectives, reference_point(norm, objectives, ref))


def read_summary_beside(front_path: str | Path) -> dict | None:
    """``search_summary.json`` of the search that wrote a front (``results/{workload}/``), or None."""
    wdir = workload_dir(front_path)
    path = wdir / "search_summary.json" if wdir is not None else None
    if path is None or not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return summary if isinstance(summary, dict) else None
