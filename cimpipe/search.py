"""Nevergrad multi-objective search over the joint space, and the Pareto front it returns.

The space
    Every gene of :class:`~cimpipe.space.SearchSpace` is one coordinate of a single Nevergrad
    ``Array`` in ``[0, 1]``, decoded by ``gene = min(floor(x * n), n - 1)``. One ``TransitionChoice`` per
    gene (or per distinct cardinality) costs 5-10 ms per ask/tell on the 73-gene VGG-16 space against
    about 0.25 ms for the array (``bench/search_quality.py`` prints both), and 10^5 evaluations must take
    minutes, not hours.

The optimizers (``search.optimizer``)
    ``"nsga_de"`` (default) -- NSGA-II's elitist survival (non-dominated rank, then crowding distance;
    Deb et al. 2002) over a population of ``population`` designs whose ``batch`` offspring per generation
    are asked from a Nevergrad ``DifferentialEvolution`` told the current population (``crossover``
    default ``"twopoints"``, ``F1 = f1``); offspring that decode to an evaluated design are asked again.
    Chosen by ``bench/search_quality.py`` on the demo objective, against a MOEA/D ensemble of Nevergrad
    (1+1) optimizers on Tchebycheff weights, MOEA/D-DE through Nevergrad's DE lineages, and DE with a
    pairwise Pareto replacement rule, all of which scored lower at 10^4 evaluations.
    Any other name is a Nevergrad registry optimizer run in Nevergrad's own multi-objective mode (loss
    vectors, generous ``MultiobjectiveReference`` bounds), e.g. ``"DE"``, ``"TwoPointsDE"``,
    ``"RandomSearch"``. Generation 0 (``batch`` designs: uniform random for ``nsga_de``, Nevergrad's
    initial asks otherwise) fixes the normalization of every objective unless one is given, so
    hypervolumes are comparable along the run.

Constraints
    Infeasible designs (constraint violated, or hardware the evaluator rejects) are logged but never enter
    the archive or the front; optimizers see a penalized loss (``10 + violation``) instead.

search_history.parquet (one row per evaluated design)
    ``generation`` i32; one column per gene named like it (numbers as float64, ``technology`` and
    ``adc_type`` as strings, ``pipeline`` as bool; hardware columns hold the value the design runs with,
    after the space's repairs); ``technology``; metrics ``accuracy`` (= predicted mean), ``accuracy_std``,
    ``energy_uj``, ``latency_ms``, ``area_mm2``, ``edap_uj_ms_mm2``, ``tops``, ``tops_per_w``,
    ``tops_per_mm2``, ``utilization``, ``tiles``, ``leakage_energy_uj`` (float64); ``hw_feasible``,
    ``feasible`` (bool); ``hypervolume`` (float64, of the feasible archive after this row's generation).

pareto_{workload}.parquet (one row per non-dominated feasible design)
    The gene columns (canonical: unused slots at their largest choice), ``technology``, the metrics above,
    ``accuracy_predicted``, ``accuracy_measured`` (null without re-measurement; ``accuracy`` is the measured
    value when present), ``edap_reduction_vs_reference`` (reference EDAP / this EDAP), and ``design_json``
    (``{"subnet": SubnetConfig.to_dict(), "hardware": HardwareConfig.to_dict()}``).

search_summary.json (beside the history)
    space size (log10), evaluations, wall time, final hypervolume, optimizer, normalization bounds, the
    reference design and its metrics.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import moocore
import nevergrad as ng
import numpy as np
import polars as pl
import torch

from cimpipe.hw.evaluate import HardwareBatch, LayerBatch
from cimpipe.pareto import HV_REFERENCE, Normalizer, ParetoArchive, non_dominated, to_losses
from cimpipe.space import Design, HardwareConfig, SearchSpace

# --------------------------------------------------------------------------------------------------
# Objectives and constraints
# --------------------------------------------------------------------------------------------------


class SearchConfigError(ValueError):
    """A search setting in config is invalid (one sentence naming the key)."""


METRICS: dict[str, tuple[bool, bool]] = {
    # name: (maximized by default, log-scaled in the normalization)
    "accuracy": (True, False),
    "energy_uj": (False, True),
    "latency_ms": (False, True),
    "area_mm2": (False, True),
    "edap_uj_ms_mm2": (False, True),
    "tops": (True, True),
    "tops_per_w": (True, True),
    "tops_per_mm2": (True, True),
}
ALIASES = {"edap": "edap_uj_ms_mm2", "energy": "energy_uj", "latency": "latency_ms", "area": "area_mm2"}
CHIP_METRICS = ("energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2", "tops", "tops_per_w", "tops_per_mm2",
                "utilization", "tiles", "leakage_energy_uj")


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective: a metric, its direction, and whether it is compared on a log scale."""

    metric: str
    maximize: bool
    log_scale: bool


def parse_objectives(section: Mapping[str, str]) -> tuple[ObjectiveSpec, ...]:
    """``{"accuracy": "max", "energy_uj": "min", ...}`` (config's ``search.objectives``) to specs."""
    out = []
    for key, direction in section.items():
        name = ALIASES.get(key, key)
        if name not in METRICS:
            raise SearchConfigError(f"search.objectives.{key} is not a known metric; use one of {sorted(METRICS)}")
        if direction not in ("min", "max"):
            raise SearchConfigError(f"search.objectives.{key} must be 'min' or 'max', not {direction!r}")
        out.append(ObjectiveSpec(name, direction == "max", METRICS[name][1]))
    if len(out) < 2:
        raise SearchConfigError("search.objectives needs at least two objectives for a Pareto front")
    return tuple(out)


DEFAULT_OBJECTIVES = parse_objectives({"accuracy": "max", "energy_uj": "min", "latency_ms": "min", "area_mm2": "min"})


@dataclass(frozen=True)
class Constraints:
    """Bounds a design must meet to enter the front (``None`` = no bound)."""

    max_area_mm2: float | None = None
    min_accuracy: float | None = None
    max_latency_ms: float | None = None
    max_energy_uj: float | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "Constraints":
        section = dict(section or {})
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise SearchConfigError(f"search.constraints.{sorted(unknown)[0]} is not a known constraint")
        return cls(**{k: (None if v is None else float(v)) for k, v in section.items()})

    def violation(self, accuracy: np.ndarray, metrics: Mapping[str, np.ndarray]) -> np.ndarray:
        """[D] relative amount by which each design breaks the bounds (0 where it meets them all)."""
        v = np.zeros(len(accuracy))
        pairs = [(metrics.get("area_mm2"), self.max_area_mm2, 1.0), (metrics.get("latency_ms"), self.max_latency_ms, 1.0),
                 (metrics.get("energy_uj"), self.max_energy_uj, 1.0), (accuracy, self.min_accuracy, -1.0)]
        for value, bound, sign in pairs:
            if bound is None or value is None:
                continue
            excess = sign * (np.asarray(value) - bound) / max(abs(bound), 1e-12)
            v += np.maximum(excess, 0.0)
        return v


@dataclass(frozen=True)
class SearchSettings:
    """config's ``search`` section as values."""

    optimizer: str = "nsga_de"
    budget: int = 20000
    batch: int = 100
    seed: int = 0
    objectives: tuple[ObjectiveSpec, ...] = DEFAULT_OBJECTIVES
    constraints: Constraints = field(default_factory=Constraints)
    population: int = 100
    crossover: str | float = "twopoints"
    f1: float = 0.8
    front_size: int | None = 200

    def __post_init__(self) -> None:
        if self.budget < 1 or self.batch < 1:
            raise SearchConfigError("search.budget and search.batch must be positive")
        if self.optimizer != "nsga_de" and self.optimizer not in ng.optimizers.registry:
            raise SearchConfigError(f"search.optimizer {self.optimizer!r} is neither 'nsga_de' nor a Nevergrad optimizer")
        if self.front_size is not None and self.front_size < 2:
            raise SearchConfigError("search.front_size must be at least 2 (or null for the whole front)")
        if self.population < 4:
            raise SearchConfigError("search.population must be at least 4")
        if not (isinstance(self.crossover, float) or self.crossover in ("twopoints", "onepoint", "dimension", "random")):
            raise SearchConfigError(f"search.crossover {self.crossover!r} must be a rate in [0, 1] or 'twopoints', "
                                    "'onepoint', 'dimension', 'random'")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> "SearchSettings":
        s = dict(section)
        kw: dict[str, Any] = {k: s[k] for k in ("optimizer", "budget", "batch", "seed", "population", "crossover", "f1",
                                                "front_size") if k in s}
        if "objectives" in s:
            kw["objectives"] = parse_objectives(s["objectives"])
        kw["constraints"] = Constraints.from_config(s.get("constraints"))
        return cls(**kw)


# --------------------------------------------------------------------------------------------------
# The batched objective
# --------------------------------------------------------------------------------------------------


class AccuracyPredictor(Protocol):
    """Accuracy mean and std [D] from architecture values [D, n_arch] and CIM values [D, 5]
    (:class:`cimpipe.predictor.Predictor` is one)."""

    def predict(self, arch_values: np.ndarray, cim_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class HardwareEvaluator(Protocol):
    """One technology's network-level cost model, batched over designs (see ``cimpipe.hw``)."""

    def evaluate(self, layers: Any, hw: Any) -> Any: ...


@dataclass
class ObjectiveBatch:
    """What the objective says about a batch of D designs (numpy arrays of length D)."""

    accuracy: np.ndarray
    accuracy_std: np.ndarray
    metrics: dict[str, np.ndarray]
    hw_feasible: np.ndarray
    violation: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        return self.hw_feasible & (self.violation <= 0)

    def value(self, metric: str) -> np.ndarray:
        return self.accuracy if metric == "accuracy" else self.metrics[metric]

    def losses(self, objectives: Sequence[ObjectiveSpec]) -> np.ndarray:
        """[D, M] losses (minimization form, log where the metric says so)."""
        vals = np.stack([self.value(o.metric) for o in objectives], axis=1)
        return to_losses(vals, [o.maximize for o in objectives], [o.log_scale for o in objectives])

    @staticmethod
    def concat(batches: Sequence["ObjectiveBatch"]) -> "ObjectiveBatch":
        return ObjectiveBatch(
            accuracy=np.concatenate([b.accuracy for b in batches]),
            accuracy_std=np.concatenate([b.accuracy_std for b in batches]),
            metrics={k: np.concatenate([b.metrics[k] for b in batches]) for k in batches[0].metrics},
            hw_feasible=np.concatenate([b.hw_feasible for b in batches]),
            violation=np.concatenate([b.violation for b in batches]),
        )


def _hw_batches(layers: dict[str, np.ndarray], hw: dict[str, np.ndarray], adc_types: Sequence[str]
                ) -> tuple[LayerBatch, HardwareBatch]:
    """The evaluator's tensors from the space's [D, L] layer arrays and [D] hardware arrays."""
    lt = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in layers.items()}
    lt["active"] = lt["active"].bool()
    lt["pool"] = lt["pool"] > 0.5
    sar = np.asarray([t == "sar" for t in adc_types])[hw["adc_type"].astype(np.int64)]
    f64 = lambda name: torch.as_tensor(np.asarray(hw[name], dtype=np.float64))  # noqa: E731
    hb = HardwareBatch(subarray=f64("subarray"), rows_parallel=f64("rows_parallel"), col_mux=f64("col_mux"),
                       adc_bits=f64("adc_bits"), adc_is_sar=torch.as_tensor(sar), cell_bits=f64("cell_bits"),
                       pipeline=f64("pipeline") > 0.5)
    return LayerBatch(**lt), hb


def _field(result: Any, name: str) -> np.ndarray:
    v = result[name] if isinstance(result, Mapping) else getattr(result, name)
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


class Objective:
    """Accuracy (predictor) and chip metrics (one hardware evaluator per technology) for gene batches.

    ``evaluators`` maps technology names (the space's ``technology`` choices) to evaluators; designs are
    grouped by their technology gene with a mask, never looped over.
    """

    def __init__(self, space: SearchSpace, predictor: AccuracyPredictor,
                 evaluators: Mapping[str, HardwareEvaluator],
                 objectives: Sequence[ObjectiveSpec] = DEFAULT_OBJECTIVES,
                 constraints: Constraints = Constraints()):
        missing = [t for t in space.hardware.technologies if t not in evaluators]
        if missing:
            raise SearchConfigError(f"no hardware cost table for technology {missing[0]!r} (run hw_cost for it)")
        self.space, self.predictor, self.evaluators = space, predictor, dict(evaluators)
        self.objectives, self.constraints = tuple(objectives), constraints

    def __call__(self, genes: np.ndarray) -> ObjectiveBatch:
        genes = np.asarray(genes, dtype=np.int64)
        d = genes.shape[0]
        mean, std = self.predictor.predict(self.space.arch_values(genes), self.space.cim_values(genes))
        mean = np.asarray(mean, dtype=np.float64).reshape(d)
        std = np.asarray(std, dtype=np.float64).reshape(d)
        layers = self.space.layer_arrays(genes)
        hw = self.space.hardware_arrays(genes)
        tech = hw["technology"].astype(np.int64)
        raw = {k: np.full(d, np.nan) for k in ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj",
                                                 "tops", "tops_per_w", "tops_per_mm2", "utilization", "tiles")}
        hw_ok = np.zeros(d, dtype=bool)
        for t_index, t_name in enumerate(self.space.hardware.technologies):
            mask = tech == t_index
            if not mask.any():
                continue
            lb, hb = _hw_batches({k: v[mask] for k, v in layers.items()}, {k: v[mask] for k, v in hw.items()},
                                 self.space.hardware.adc_type)
            res = self.evaluators[t_name].evaluate(lb, hb)
            for k in raw:
                raw[k][mask] = _field(res, k)
            hw_ok[mask] = _field(res, "feasible").astype(bool)
        energy_uj = (raw["dynamic_energy_pj"] + raw["leakage_energy_pj"]) * 1e-6
        latency_ms = raw["latency_ns"] * 1e-6
        metrics = {
            "energy_uj": energy_uj, "latency_ms": latency_ms, "area_mm2": raw["area_mm2"],
            "edap_uj_ms_mm2": energy_uj * latency_ms * raw["area_mm2"], "tops": raw["tops"],
            "tops_per_w": raw["tops_per_w"], "tops_per_mm2": raw["tops_per_mm2"],
            "utilization": raw["utilization"], "tiles": raw["tiles"],
            "leakage_energy_uj": raw["leakage_energy_pj"] * 1e-6,
        }
        finite = np.isfinite(mean) & np.all(np.stack([np.isfinite(v) for v in metrics.values()]), axis=0)
        return ObjectiveBatch(mean, std, metrics, hw_ok & finite, self.constraints.violation(mean, metrics))


# --------------------------------------------------------------------------------------------------
# Candidate generation with Nevergrad
# --------------------------------------------------------------------------------------------------

PENALTY = 10.0


def _parametrization(space: SearchSpace, seed: int) -> ng.p.Array:
    p = ng.p.Array(shape=(space.n_genes,), lower=0.0, upper=1.0)
    p.random_state = np.random.RandomState(seed)
    return p


def decode_unit(space: SearchSpace, x: np.ndarray) -> np.ndarray:
    """Genes [D, G] int64 from unit-cube coordinates [D, G]: ``min(floor(x * n), n - 1)``."""
    card = space.cardinalities()
    return np.minimum(np.floor(np.clip(x, 0.0, 1.0) * card), card - 1).astype(np.int64)


def encode_unit(space: SearchSpace, genes: np.ndarray) -> np.ndarray:
    """The centre of each gene's interval in the unit cube (inverse of :func:`decode_unit`)."""
    return (np.asarray(genes, dtype=np.float64) + 0.5) / space.cardinalities()


class _Strategy:
    def ask(self, n: int) -> np.ndarray: ...
    def tell(self, normalized: np.ndarray, penalty: np.ndarray) -> None: ...


def crowding_distance(points: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance (Deb et al. 2002) of each point within its own rank; extremes get inf."""
    out = np.zeros(len(points))
    for r in np.unique(rank):
        idx = np.flatnonzero(rank == r)
        if len(idx) <= 2:
            out[idx] = np.inf
            continue
        for j in range(points.shape[1]):
            order = idx[np.argsort(points[idx, j], kind="stable")]
            v = points[order, j]
            span = v[-1] - v[0]
            out[order[0]] = out[order[-1]] = np.inf
            if span > 0:
                out[order[1:-1]] += (v[2:] - v[:-2]) / span
    return out


def survivors(points: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` points NSGA-II keeps: by non-dominated rank, ties by larger crowding distance."""
    rank = np.asarray(moocore.pareto_rank(points), dtype=np.int64)
    crowd = crowding_distance(points, rank)
    return np.lexsort((-crowd, rank))[:n]


class _NSGA(_Strategy):
    """NSGA-II's elitist survival (Deb et al. 2002) over a population whose offspring Nevergrad asks.

    Each generation a Nevergrad ``DifferentialEvolution`` is told the current population (as not-asked
    points) and asked the offspring: child of member ``x`` = crossover of ``x`` with ``x + F1 (a - b)``.
    Parents and offspring are then merged and the best ``population`` by non-dominated rank and crowding
    distance survive. Offspring that decode to an already evaluated design are asked again (up to 5 times).
    """

    def __init__(self, space: SearchSpace, settings: SearchSettings, m: int):
        self.space, self.settings = space, settings
        self.rng = np.random.RandomState(settings.seed)
        self.de = ng.optimizers.DifferentialEvolution(crossover=settings.crossover, F1=settings.f1, F2=0.0,
                                                      popsize=settings.population)
        self.units = np.zeros((0, space.n_genes))
        self.losses = np.zeros((0, m))
        self.seen: set[bytes] = set()
        self.pending = np.zeros((0, space.n_genes))

    def ask(self, n: int) -> np.ndarray:
        if not len(self.units):
            self.pending = self.rng.uniform(size=(n, self.space.n_genes))
            return self.pending
        param = ng.p.Array(shape=(self.space.n_genes,), lower=0.0, upper=1.0)
        param.random_state = self.rng
        opt = self.de(param, budget=None, num_workers=len(self.units))
        for u, l in zip(self.units, self.losses):
            opt.tell(param.spawn_child(new_value=u), float(l.sum()))
        out = []
        for _ in range(n):
            for _try in range(5):
                u = opt.ask().value
                key = decode_unit(self.space, u[None, :]).tobytes()
                if key not in self.seen:
                    break
            self.seen.add(key)
            out.append(u)
        self.pending = np.stack(out)
        return self.pending

    def tell(self, normalized: np.ndarray, penalty: np.ndarray) -> None:
        f = np.clip(np.nan_to_num(normalized, nan=PENALTY), -PENALTY, PENALTY) + penalty[:, None]
        for g in decode_unit(self.space, self.pending):
            self.seen.add(g.tobytes())
        units = np.vstack([self.units, self.pending])
        losses = np.vstack([self.losses, f])
        keep = survivors(losses, self.settings.population)
        self.units, self.losses = units[keep], losses[keep]


class _NevergradMO(_Strategy):
    """A Nevergrad optimizer in its own multi-objective mode (told normalized loss vectors)."""

    def __init__(self, space: SearchSpace, settings: SearchSettings, m: int):
        cls = ng.optimizers.registry[settings.optimizer]
        self.opt = cls(_parametrization(space, settings.seed), budget=settings.budget, num_workers=settings.batch)
        self.opt.tell(ng.p.MultiobjectiveReference(), [PENALTY * 2] * m)
        self.pending: list[Any] = []

    def ask(self, n: int) -> np.ndarray:
        self.pending = [self.opt.ask() for _ in range(n)]
        return np.stack([c.value for c in self.pending])

    def tell(self, normalized: np.ndarray, penalty: np.ndarray) -> None:
        f = np.clip(np.nan_to_num(normalized, nan=PENALTY), -PENALTY, PENALTY) + penalty[:, None]
        f = np.minimum(f, PENALTY * 2 - 1e-6)
        for c, row in zip(self.pending, f):
            self.opt.tell(c, [float(v) for v in row])


# --------------------------------------------------------------------------------------------------
# The search loop
# --------------------------------------------------------------------------------------------------


@dataclass
class SearchResult:
    """Every evaluation of one search, in order."""

    genes: np.ndarray                 # [N, G] int64
    generation: np.ndarray            # [N] int32
    batch: ObjectiveBatch             # [N] everything the objective said
    hypervolume: np.ndarray           # [n_generations] HV of the feasible archive after each generation
    evaluations: np.ndarray           # [n_generations] cumulative evaluations after each generation
    front_rows: np.ndarray            # indices (into the N rows) of the final non-dominated feasible set
    normalizer: Normalizer
    wall_s: float


def search(space: SearchSpace, objective: Callable[[np.ndarray], ObjectiveBatch], settings: SearchSettings, *,
           normalizer: Normalizer | None = None,
           on_generation: Callable[[int, int, float], None] | None = None) -> SearchResult:
    """Run batched ask/tell until ``settings.budget`` evaluations; return the full log (nothing written).

    Generation 0 (``batch`` designs) fixes the normalization (per-objective min and max of its finite
    rows) unless ``normalizer`` is given.
    """
    t0 = time.perf_counter()
    objs = settings.objectives
    if settings.optimizer == "nsga_de":
        strat: _Strategy = _NSGA(space, settings, len(objs))
    else:
        strat = _NevergradMO(space, settings, len(objs))
    n0 = min(settings.batch, settings.budget)
    genes0 = decode_unit(space, strat.ask(n0))
    b0 = objective(genes0)
    losses0 = b0.losses(objs)
    norm = normalizer or Normalizer.from_losses(losses0[b0.hw_feasible] if b0.hw_feasible.any() else losses0)
    all_genes, all_gen, batches = [genes0], [np.zeros(n0, np.int32)], [b0]
    archive = ParetoArchive(len(objs))
    hv, evals = [], []

    def record(b: ObjectiveBatch, start: int) -> tuple[np.ndarray, np.ndarray]:
        nl = norm(b.losses(objs))
        feas = b.feasible
        archive.add(nl[feas], start + np.flatnonzero(feas))
        hv.append(archive.hypervolume())
        evals.append(start + len(b.accuracy))
        if on_generation is not None:
            on_generation(len(hv) - 1, evals[-1], hv[-1])
        return nl, np.where(feas, 0.0, PENALTY + np.minimum(b.violation, 1e3))

    nl0, pen0 = record(b0, 0)
    strat.tell(nl0, pen0)
    done, gen = n0, 0
    while done < settings.budget:
        gen += 1
        n = min(settings.batch, settings.budget - done)
        genes = decode_unit(space, strat.ask(n))
        b = objective(genes)
        nl, pen = record(b, done)
        strat.tell(nl, pen)
        all_genes.append(genes)
        all_gen.append(np.full(n, gen, np.int32))
        batches.append(b)
        done += n
    return SearchResult(np.vstack(all_genes), np.concatenate(all_gen), ObjectiveBatch.concat(batches),
                        np.asarray(hv), np.asarray(evals), archive.rows.copy(), norm, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------------
# Reference design, tables, files
# --------------------------------------------------------------------------------------------------


def _nearest(choices: Sequence, want: Any) -> Any:
    if want in choices:
        return want
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return min(choices, key=lambda c: abs(float(c) - float(want)))
    return choices[0]


def reference_design(space: SearchSpace) -> Design:
    """NeuroSim's default design in this space: the largest sub-network at 8/8 bits on a 128x128 subarray,
    128 rows in parallel, 8-column mux, 5-bit flash ADC, 2 bits per cell (if the device allows), layer-by-layer,
    RRAM 22 nm if the space has it, else its first technology. Missing choices snap to the nearest one."""
    h = space.hardware
    tech = "rram_22nm" if "rram_22nm" in h.technologies else h.technologies[0]
    cell = _nearest(h.cell_bits, min(2, space.devices[tech].max_cell_bits))
    hw = HardwareConfig(technology=tech, subarray=_nearest(h.subarray, 128), rows_parallel=_nearest(h.rows_parallel, 128),
                        col_mux=_nearest(h.col_mux, 8), adc_bits=_nearest(h.adc_bits, 5), adc_type=_nearest(h.adc_type, "flash"),
                        cell_bits=cell, pipeline=_nearest(h.pipeline, False))
    bits = _nearest(space.spec.bit_choices, 8)
    return Design(space.spec.largest(bits=bits), hw)


def _gene_columns(space: SearchSpace, genes: np.ndarray) -> dict[str, pl.Series]:
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


def _metric_columns(b: ObjectiveBatch) -> dict[str, np.ndarray]:
    return {"accuracy": b.accuracy, "accuracy_std": b.accuracy_std, **{k: b.metrics[k] for k in CHIP_METRICS}}


def history_frame(space: SearchSpace, result: SearchResult) -> pl.DataFrame:
    """The search_history table (schema in the module docstring)."""
    b = result.batch
    hv_row = result.hypervolume[result.generation]
    return pl.DataFrame({
        "generation": result.generation, **_gene_columns(space, result.genes), **_metric_columns(b),
        "hw_feasible": b.hw_feasible, "feasible": b.feasible, "hypervolume": hv_row,
    })


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _canonical_genes(space: SearchSpace, genes: np.ndarray) -> tuple[np.ndarray, list[Design]]:
    designs = [space.decode(row) for row in genes]
    return np.stack([space.encode(d) for d in designs]) if designs else genes, designs


def front_frame(space: SearchSpace, genes: np.ndarray, b: ObjectiveBatch, objectives: Sequence[ObjectiveSpec],
                ref_edap: float, remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None,
                constraints: Constraints = Constraints(), max_front: int | None = None) -> pl.DataFrame:
    """The front table from candidate rows (already feasible): canonicalize, deduplicate, thin to
    ``max_front`` designs spread along the front (NSGA-II's crowding distance keeps the extremes and drops
    the most crowded), re-measure, re-filter for dominance, and attach every metric and the design."""
    cgenes, designs = _canonical_genes(space, genes)
    if len(designs):
        _, first = np.unique(cgenes, axis=0, return_index=True)
        first = np.sort(first)
        cgenes, designs = cgenes[first], [designs[i] for i in first]
        b = ObjectiveBatch(b.accuracy[first], b.accuracy_std[first], {k: v[first] for k, v in b.metrics.items()},
                           b.hw_feasible[first], b.violation[first])
    if max_front is not None and len(designs) > max_front:
        pick = np.sort(survivors(b.losses(objectives), max_front))
        cgenes, designs = cgenes[pick], [designs[i] for i in pick]
        b = ObjectiveBatch(b.accuracy[pick], b.accuracy_std[pick], {k: v[pick] for k, v in b.metrics.items()},
                           b.hw_feasible[pick], b.violation[pick])
    predicted = b.accuracy.copy()
    measured = np.full(len(designs), np.nan)
    if remeasure_fn is not None and designs:
        measured = np.asarray(remeasure_fn(designs), dtype=np.float64).reshape(len(designs))
        b.accuracy = measured
        b.violation = constraints.violation(measured, b.metrics)
    keep = b.feasible.copy()
    if keep.any():
        idx = np.flatnonzero(keep)
        keep[idx[~non_dominated(b.losses(objectives)[idx])]] = False
    sel = np.flatnonzero(keep)
    bj = [json.dumps({"subnet": designs[i].subnet.to_dict(), "hardware": designs[i].hardware.to_dict()}) for i in sel]
    gcols = _gene_columns(space, cgenes[sel])
    mcols = {k: v[sel] for k, v in _metric_columns(b).items()}
    return pl.DataFrame({
        **gcols, **mcols,
        "accuracy_predicted": predicted[sel],
        "accuracy_measured": pl.Series("accuracy_measured", measured[sel], dtype=pl.Float64).fill_nan(None),
        "edap_reduction_vs_reference": ref_edap / mcols["edap_uj_ms_mm2"],
        "design_json": pl.Series("design_json", bj, dtype=pl.Utf8),
    })


def run_search(space: SearchSpace, objective: Objective, settings: SearchSettings, history_path: str | Path,
               front_path: str | Path, *, remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None,
               reference: Design | None = None, progress: bool | Callable[[int, int, float], None] | None = None,
               ) -> pl.DataFrame:
    """Search, then write search_history.parquet, the front and search_summary.json; return the front.

    ``reference`` defaults to :func:`reference_design`; ``progress`` True shows a rich bar, a callable gets
    ``(generation, evaluations, hypervolume)``.
    """
    history_path, front_path = Path(history_path), Path(front_path)
    ref = reference or reference_design(space)
    ref_batch = objective(space.encode(ref)[None, :])
    callback, bar = None, None
    if progress is True:
        from rich.progress import Progress
        bar = Progress()
        task = bar.add_task(f"search ({settings.optimizer})", total=settings.budget)
        callback = lambda g, n, h: bar.update(task, completed=n, description=f"search HV={h:.4f}")  # noqa: E731
        bar.start()
    elif callable(progress):
        callback = progress
    try:
        result = search(space, objective, settings, on_generation=callback)
    finally:
        if bar is not None:
            bar.stop()
    # the front is scored again in canonical form (unused slots at their largest choice), the form its
    # rows are rebuilt from, so a rebuilt design gets exactly the front's figures
    cgenes, _ = _canonical_genes(space, result.genes[result.front_rows])
    b, none = result.batch, result.front_rows[:0]
    cand = objective(cgenes) if len(cgenes) else ObjectiveBatch(
        b.accuracy[none], b.accuracy_std[none], {k: v[none] for k, v in b.metrics.items()}, b.hw_feasible[none],
        b.violation[none])
    ref_edap = float(ref_batch.metrics["edap_uj_ms_mm2"][0])
    front = front_frame(space, cgenes, cand, settings.objectives, ref_edap, remeasure_fn, settings.constraints,
                        settings.front_size)
    history = history_frame(space, result)
    _atomic_write(history_path, lambda p: history.write_parquet(p))
    _atomic_write(front_path, lambda p: front.write_parquet(p))
    summary = {
        "log10_space_size": space.log10_size(),
        "evaluations": int(result.genes.shape[0]),
        "generations": int(result.generation.max()) + 1 if result.generation.size else 0,
        "wall_s": result.wall_s,
        "final_hypervolume": float(result.hypervolume[-1]) if result.hypervolume.size else 0.0,
        "hv_reference_point": HV_REFERENCE,
        "optimizer": settings.optimizer,
        "seed": settings.seed,
        "objectives": [{"metric": o.metric, "maximize": o.maximize, "log_scale": o.log_scale} for o in settings.objectives],
        "normalizer": result.normalizer.to_dict(),
        "front_size": front.height,
        "remeasured": remeasure_fn is not None,
        "reference": {
            "design": {"subnet": ref.subnet.to_dict(), "hardware": ref.hardware.to_dict()},
            "feasible": bool(ref_batch.hw_feasible[0]),
            **{k: float(v[0]) for k, v in _metric_columns(ref_batch).items()},
        },
    }
    summary_path = history_path.parent / "search_summary.json"
    _atomic_write(summary_path, lambda p: p.write_text(json.dumps(summary, indent=2, allow_nan=True)))
    return front
