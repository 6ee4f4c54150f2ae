"""Nevergrad multi-objective search over the joint space, and the Pareto front it returns.

The space
    Every gene of :class:`~cimpipe.space.SearchSpace` is one coordinate of a single Nevergrad
    ``Array`` in ``[0, 1]``, decoded by ``gene = min(floor(x * n), n - 1)``. One ``TransitionChoice`` per
    gene (or per distinct cardinality) costs 5-10 ms per ask/tell on the 73-gene VGG-16 space against
    about 0.25 ms for the array (``bench/search_quality.py`` prints both), and 10^5 evaluations must take
    minutes, not hours.

The optimizers (``search.optimizer``)
    ``"nsga_de"`` (default) -- NSGA-II (Deb et al. 2002: elitist survival by non-dominated rank, then
    crowding distance; binary tournaments on both to pick parents) over a population of ``population``
    designs, whose ``batch`` offspring per generation are asked partly from Nevergrad: a share
    ``de_share`` (default 0.25) from a Nevergrad ``DifferentialEvolution`` told the tournament winners
    (``crossover`` default ``"dimension"``: about one gene per child moves by ``F1 (a - b)``, ``F1 = f1``),
    the rest by simulated binary crossover and polynomial mutation of tournament winners in the unit cube.
    Offspring that decode to an evaluated design are drawn again. ``bench/search_quality.py`` compares it
    with Nevergrad's DE, TwoPointsDE and RandomSearch, pymoo's NSGA-II and Optuna's default multi-objective
    sampler at equal budgets on the demo objective; DE offspring alone (``--de-share 1``) and larger
    shares of them scored lower at 10^4 evaluations, as did populations of 50, 200 and 300
    (``--population``).
    Any other name is a Nevergrad registry optimizer run in Nevergrad's own multi-objective mode (loss
    vectors, generous ``MultiobjectiveReference`` bounds), e.g. ``"DE"``, ``"TwoPointsDE"``,
    ``"RandomSearch"``. Generation 0 (``batch`` designs: uniform random for ``nsga_de``, Nevergrad's
    initial asks otherwise) fixes the normalization of every objective unless one is given, so
    hypervolumes are comparable along the run.

Islands (``search.islands``)
    The search may run as N independent searches (:func:`run_island`; island 0 on ``search.seed``, the
    others on seeds derived from it by :func:`island_seed`), each evaluating ``budget`` designs, as separate
    workflow jobs. :func:`merge_islands` merges their predicted fronts (non-dominated across islands),
    thins the merged front to ``front_size``, re-measures it once and writes the same three files as one
    search.

Refinement (``search.refine``, default 1 round)
    The predictor is fitted on a table that samples the whole space; the search then steers into the corner
    where it overrates designs. After the first front is re-measured, :func:`refine` refits the predictor on
    the table plus the measured designs, searches again and re-measures that front; :func:`measured_front`
    keeps the non-dominated designs of every round on measured accuracy. The workflow writes each round's
    measured designs to ``refine.parquet`` beside the history (table columns, ``accuracy_predicted``,
    ``round``), and the summary's ``refine`` lists each round's predictor error on its own front. On the demo
    one round cut that error from 4.2 to 1.4 points RMSE and raised the measured hypervolume.

Constraints
    Infeasible designs (constraint violated, or hardware the evaluator rejects) are logged but never enter
    the archive or the front; optimizers see a penalized loss (``10 + violation``) instead.

search_history.parquet (one row per evaluated design)
    ``island`` i32 (0 for a single search), ``generation`` i32 (within the island); one column per gene
    named like it (numbers as float64, ``technology`` and ``adc_type`` as strings, ``pipeline`` as bool; hardware
    columns hold the value the design runs with, after the space's repairs; ``adc_bits_{i}`` per weight-layer
    slot where the ADC bits vary per layer); ``technology``; metrics ``accuracy`` (= predicted mean), ``accuracy_std``,
    ``energy_uj``, ``latency_ms``, ``area_mm2``, ``edap_uj_ms_mm2``, ``tops``, ``tops_per_w``,
    ``tops_per_mm2``, ``utilization``, ``tiles``, ``leakage_energy_uj`` (float64); ``hw_feasible``,
    ``feasible`` (bool); ``hypervolume`` (float64, of the island's feasible archive after this row's
    generation, normalized by that island's generation 0).

pareto_{workload}.parquet (one row per non-dominated feasible design)
    The gene columns (canonical: unused slots at their largest choice), ``technology``, the metrics above,
    ``accuracy_predicted``, ``accuracy_measured`` (null without re-measurement; ``accuracy`` is the measured
    value when present), ``edap_reduction_vs_reference`` (reference EDAP / this EDAP), ``round`` i32 (0: found
    by the first search; r: by refinement round r, see below), and ``design_json``
    (``{"subnet": SubnetConfig.to_dict(), "hardware": HardwareConfig.to_dict()}``).

search_summary.json (beside the history)
    space size (log10), evaluations, generations, wall time (search only; summed over islands), final
    hypervolume (of the predicted front, normalized by island 0), optimizer, seed, normalization bounds, the
    reference design and its metrics; an island's own summary names its ``island``, a merged one lists
    every island (``islands``: island, seed, evaluations, generations, wall_s, final_hypervolume,
    front_size).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import moocore
import nevergrad as ng
import numpy as np
import polars as pl
import torch

from cimpipe.hw.evaluate import HardwareBatch, LayerBatch
from cimpipe.metrics import ALIASES, METRICS  # noqa: F401 - re-exported: the search's metric names
from cimpipe.pareto import HV_REFERENCE, Normalizer, ParetoArchive, hypervolume, non_dominated, to_losses
from cimpipe.space import Design, HardwareConfig, SearchSpace, SubnetConfig

# --------------------------------------------------------------------------------------------------
# Objectives and constraints
# --------------------------------------------------------------------------------------------------


class SearchConfigError(ValueError):
    """A search setting in config is invalid (one sentence naming the key)."""


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
    crossover: str | float = "dimension"
    f1: float = 0.8
    de_share: float = 0.25
    front_size: int | None = 200
    islands: int = 1
    refine: int = 1

    def __post_init__(self) -> None:
        if self.budget < 1 or self.batch < 1:
            raise SearchConfigError("search.budget and search.batch must be positive")
        if self.optimizer != "nsga_de" and self.optimizer not in ng.optimizers.registry:
            raise SearchConfigError(f"search.optimizer {self.optimizer!r} is neither 'nsga_de' nor a Nevergrad optimizer")
        if self.front_size is not None and self.front_size < 2:
            raise SearchConfigError("search.front_size must be at least 2 (or null for the whole front)")
        if self.population < 4:
            raise SearchConfigError("search.population must be at least 4")
        if not 0.0 <= self.de_share <= 1.0:
            raise SearchConfigError(f"search.de_share must lie in [0, 1], not {self.de_share!r}")
        if self.islands < 1:
            raise SearchConfigError(f"search.islands must be at least 1, not {self.islands!r}")
        if isinstance(self.refine, bool) or not isinstance(self.refine, int) or self.refine < 0:
            raise SearchConfigError(f"search.refine must be a whole number of rounds, at least 0, not {self.refine!r}")
        if not (isinstance(self.crossover, float) or self.crossover in ("twopoints", "onepoint", "dimension", "random")):
            raise SearchConfigError(f"search.crossover {self.crossover!r} must be a rate in [0, 1] or 'twopoints', "
                                    "'onepoint', 'dimension', 'random'")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> "SearchSettings":
        s = dict(section)
        kw: dict[str, Any] = {k: s[k] for k in ("optimizer", "budget", "batch", "seed", "population", "crossover", "f1",
                                                "de_share", "front_size", "islands", "refine") if k in s}
        if "objectives" in s:
            kw["objectives"] = parse_objectives(s["objectives"])
        kw["constraints"] = Constraints.from_config(s.get("constraints"))
        return cls(**kw)

    def for_island(self, island: int) -> "SearchSettings":
        """The settings island ``island`` runs with: its own seed (:func:`island_seed`), its whole front kept
        (the merge thins the merged front to ``front_size``)."""
        if island < 0:
            raise SearchConfigError(f"island {island} does not exist: islands are numbered from 0")
        return replace(self, seed=island_seed(self.seed, island), front_size=None)


def island_seed(seed: int, island: int) -> int:
    """Island 0 runs on ``seed`` itself (one island is the plain search); island ``i > 0`` on a seed numpy's
    ``SeedSequence`` derives from ``(seed, i)``, so islands never share a random stream."""
    if island == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(island)]).generate_state(1)[0] % (2**31 - 1))


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


SBX_ETA = 3.0
"""Distribution index of the simulated binary crossover (Deb and Agrawal 1995), as in the pymoo NSGA-II
baseline of ``bench/search_quality.py``."""
PM_ETA = 3.0
"""Distribution index of the polynomial mutation (Deb and Goyal 1996), applied to each gene with
probability 1 / genes."""

POOL_FACTOR = 2
"""The DE part of a generation is told this many tournament winners per offspring it is asked."""
DE_TRIES = 2
"""Asks per DE offspring before the rest of the batch falls to crossover and mutation (a DE child that moves
one gene a little often decodes to its parent's design)."""


class _NSGA(_Strategy):
    """NSGA-II (Deb et al. 2002) whose offspring come partly from Nevergrad's differential evolution.

    Survival: parents and offspring are merged and the best ``population`` by non-dominated rank, then
    crowding distance, survive. Mating: binary tournaments on (rank, crowding) fill a mating pool.
    Offspring, in the unit cube every gene is decoded from:

    * a share ``de_share`` asked from a Nevergrad ``DifferentialEvolution`` told :data:`POOL_FACTOR`
      tournament winners per child (as not-asked points): the child of pool member ``x`` is the crossover
      of ``x`` with ``x + F1 (a - b)``, ``a`` and ``b`` pool members; the default
      ``crossover="dimension"`` changes about one gene per child;
    * the rest by simulated binary crossover of two tournament winners (each gene exchanged with
      probability 1/2) and polynomial mutation (:data:`SBX_ETA`, :data:`PM_ETA`).

    Offspring that decode to an evaluated design (or to another offspring of the batch) are drawn again.
    ``bench/search_quality.py`` compares this against Nevergrad, pymoo and Optuna at equal budgets.
    """

    def __init__(self, space: SearchSpace, settings: SearchSettings, m: int):
        self.space, self.settings = space, settings
        self.rng = np.random.RandomState(settings.seed)
        self.units = np.zeros((0, space.n_genes))
        self.losses = np.zeros((0, m))
        self.rank = np.zeros(0, dtype=np.int64)
        self.crowd = np.zeros(0)
        self.seen: set[bytes] = set()
        self.pending = np.zeros((0, space.n_genes))

    def _tournament(self, k: int) -> np.ndarray:
        """``k`` winners of binary tournaments: lower rank, then larger crowding distance."""
        a, b = self.rng.randint(len(self.units), size=k), self.rng.randint(len(self.units), size=k)
        a_wins = (self.rank[a] < self.rank[b]) | ((self.rank[a] == self.rank[b]) & (self.crowd[a] >= self.crowd[b]))
        return np.where(a_wins, a, b)

    def _fresh(self, unit: np.ndarray) -> bool:
        """Whether a candidate decodes to a design not evaluated or asked yet (and reserve it if so)."""
        key = decode_unit(self.space, unit[None, :]).tobytes()
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _ask_de(self, k: int) -> list[np.ndarray]:
        """Up to ``k`` fresh offspring of a DE told ``POOL_FACTOR * k`` tournament winners (at least 4)."""
        param = ng.p.Array(shape=(self.space.n_genes,), lower=0.0, upper=1.0)
        param.random_state = self.rng
        pool = self._tournament(max(4, POOL_FACTOR * k))
        de = ng.optimizers.DifferentialEvolution(crossover=self.settings.crossover, F1=self.settings.f1, F2=0.0,
                                                 popsize=len(pool))
        opt = de(param, budget=None, num_workers=len(pool))
        for i in pool:
            opt.tell(param.spawn_child(new_value=self.units[i]), float(self.rank[i]))
        out = []
        for _ in range(DE_TRIES * k):
            u = opt.ask().value
            if self._fresh(u):
                out.append(u)
                if len(out) == k:
                    break
        return out

    def _variation(self, k: int) -> np.ndarray:
        """``k`` children of tournament winners: SBX on every gene pair, then polynomial mutation."""
        g = self.space.n_genes
        p1, p2 = self.units[self._tournament(k)], self.units[self._tournament(k)]
        u = self.rng.random_sample((k, g))
        beta = np.where(u <= 0.5, (2 * u) ** (1 / (SBX_ETA + 1)), (1 / (2 * (1 - u))) ** (1 / (SBX_ETA + 1)))
        c1, c2 = 0.5 * ((1 + beta) * p1 + (1 - beta) * p2), 0.5 * ((1 - beta) * p1 + (1 + beta) * p2)
        child = np.where(self.rng.random_sample((k, g)) < 0.5, c2, c1)
        child = np.where(self.rng.random_sample((k, g)) < 0.5, child, p1)
        u = self.rng.random_sample((k, g))
        delta = np.where(u < 0.5, (2 * u) ** (1 / (PM_ETA + 1)) - 1, 1 - (2 * (1 - u)) ** (1 / (PM_ETA + 1)))
        child = np.where(self.rng.random_sample((k, g)) < 1.0 / g, child + delta, child)
        return np.clip(child, 0.0, np.nextafter(1.0, 0.0))

    def ask(self, n: int) -> np.ndarray:
        if not len(self.units):
            self.pending = self.rng.uniform(size=(n, self.space.n_genes))
            return self.pending
        n_de = int(round(self.settings.de_share * n))
        out = self._ask_de(n_de) if n_de else []
        for _round in range(5):
            for child in self._variation(2 * (n - len(out))):
                if len(out) < n and self._fresh(child):
                    out.append(child)
            if len(out) == n:
                break
        if len(out) < n:  # a small space nearly exhausted: accept repeats
            out += list(self._variation(n - len(out)))
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
        self.rank = np.asarray(moocore.pareto_rank(self.losses), dtype=np.int64)
        self.crowd = crowding_distance(self.losses, self.rank)


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


def history_frame(space: SearchSpace, result: SearchResult, island: int = 0) -> pl.DataFrame:
    """The search_history table (schema in the module docstring)."""
    b = result.batch
    hv_row = result.hypervolume[result.generation]
    return pl.DataFrame({
        "island": np.full(len(result.generation), island, dtype=np.int32), "generation": result.generation, **_gene_columns(space, result.genes), **_metric_columns(b),
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
                constraints: Constraints = Constraints(), max_front: int | None = None,
                extra: Mapping[str, np.ndarray] | None = None) -> pl.DataFrame:
    """The front table from candidate rows (already feasible): canonicalize, deduplicate, thin to
    ``max_front`` designs spread along the front (NSGA-II's crowding distance keeps the extremes and drops
    the most crowded), re-measure, re-filter for dominance, and attach every metric and the design.
    ``extra`` columns (one value per candidate row) follow their rows into the table."""
    extra = {k: np.asarray(v) for k, v in (extra or {}).items()}
    cgenes, designs = _canonical_genes(space, genes)
    if len(designs):
        _, first = np.unique(cgenes, axis=0, return_index=True)
        first = np.sort(first)
        cgenes, designs = cgenes[first], [designs[i] for i in first]
        b = ObjectiveBatch(b.accuracy[first], b.accuracy_std[first], {k: v[first] for k, v in b.metrics.items()},
                           b.hw_feasible[first], b.violation[first])
        extra = {k: v[first] for k, v in extra.items()}
    if max_front is not None and len(designs) > max_front:
        pick = np.sort(survivors(b.losses(objectives), max_front))
        cgenes, designs = cgenes[pick], [designs[i] for i in pick]
        b = ObjectiveBatch(b.accuracy[pick], b.accuracy_std[pick], {k: v[pick] for k, v in b.metrics.items()},
                           b.hw_feasible[pick], b.violation[pick])
        extra = {k: v[pick] for k, v in extra.items()}
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
        **{k: v[sel] for k, v in extra.items()},
        "design_json": pl.Series("design_json", bj, dtype=pl.Utf8),
    })


ProgressArg = bool | Callable[[int, int, float], None] | None


def _search_with_progress(space: SearchSpace, objective: Callable[[np.ndarray], ObjectiveBatch],
                          settings: SearchSettings, progress: ProgressArg, label: str) -> SearchResult:
    """:func:`search` with its progress shown: a rich bar (evaluations / budget, hypervolume) when ``progress``
    is True or, left None, when standard output is a terminal; otherwise a plain line at every 10 % of the
    budget. A callable ``progress`` gets ``(generation, evaluations, hypervolume)`` instead."""
    from cimpipe.progress import StepLines, on_terminal, progress_bar

    if callable(progress):
        return search(space, objective, settings, on_generation=progress)
    show_bar = on_terminal() if progress is None else bool(progress)
    lines = StepLines(settings.budget)
    with progress_bar(show_bar) as bar:
        task = bar.add_task(label, total=settings.budget) if bar else None

        def report(generation: int, evaluations: int, hv: float) -> None:
            if bar:
                bar.update(task, completed=evaluations, description=f"{label} HV {hv:.4f}")
            else:
                lines(evaluations, f"{label}: {evaluations}/{settings.budget} evaluations, generation {generation}, "
                                   f"hypervolume {hv:.4f}")

        return search(space, objective, settings, on_generation=report)


def _empty_batch(b: ObjectiveBatch) -> ObjectiveBatch:
    none = np.zeros(0, dtype=np.int64)
    return ObjectiveBatch(b.accuracy[none], b.accuracy_std[none], {k: v[none] for k, v in b.metrics.items()},
                          b.hw_feasible[none], b.violation[none])


def _summary(space: SearchSpace, settings: SearchSettings, ref: Design, ref_batch: ObjectiveBatch,
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
            **{k: float(v[0]) for k, v in _metric_columns(ref_batch).items()},
        },
    }


def _write_all(history_path: Path, history: pl.DataFrame, front_path: Path, front: pl.DataFrame,
               summary_path: Path, summary: dict[str, Any]) -> None:
    _atomic_write(history_path, lambda p: history.write_parquet(p))
    _atomic_write(front_path, lambda p: front.write_parquet(p))
    _atomic_write(summary_path, lambda p: p.write_text(json.dumps(summary, indent=2, allow_nan=True)))


def run_search(space: SearchSpace, objective: Objective, settings: SearchSettings, history_path: str | Path,
               front_path: str | Path, *, remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None,
               reference: Design | None = None, progress: ProgressArg = None, island: int = 0,
               ) -> pl.DataFrame:
    """Search, then write search_history.parquet, the front and search_summary.json; return the front.

    ``reference`` defaults to :func:`reference_design`; ``progress`` as in :func:`_search_with_progress`.
    ``island`` only labels the history's ``island`` column and the summary (:func:`run_island` runs an
    island with its own seed).
    """
    history_path, front_path = Path(history_path), Path(front_path)
    ref = reference or reference_design(space)
    ref_batch = objective(space.encode(ref)[None, :])
    label = f"search island {island}" if island else f"search ({settings.optimizer})"
    result = _search_with_progress(space, objective, settings, progress, label)
    # the front is scored again in canonical form (unused slots at their largest choice), the form its
    # rows are rebuilt from, so a rebuilt design gets exactly the front's figures
    cgenes, _ = _canonical_genes(space, result.genes[result.front_rows])
    cand = objective(cgenes) if len(cgenes) else _empty_batch(result.batch)
    ref_edap = float(ref_batch.metrics["edap_uj_ms_mm2"][0])
    front = front_frame(space, cgenes, cand, settings.objectives, ref_edap, remeasure_fn, settings.constraints,
                        settings.front_size, extra={"round": np.zeros(len(cgenes), dtype=np.int32)})
    history = history_frame(space, result, island)
    summary = _summary(space, settings, ref, ref_batch, front, remeasure_fn is not None,
                       evaluations=int(result.genes.shape[0]),
                       generations=int(result.generation.max()) + 1 if result.generation.size else 0,
                       wall_s=result.wall_s,
                       final_hypervolume=float(result.hypervolume[-1]) if result.hypervolume.size else 0.0,
                       seed=settings.seed, island=island, normalizer=result.normalizer.to_dict())
    _write_all(history_path, history, front_path, front, history_path.parent / "search_summary.json", summary)
    return front


def run_island(space: SearchSpace, objective: Objective, settings: SearchSettings, island: int,
               history_path: str | Path, front_path: str | Path, *, reference: Design | None = None,
               progress: ProgressArg = None) -> pl.DataFrame:
    """One of ``settings.islands`` independent searches (its own seed, see :meth:`SearchSettings.for_island`):
    writes its history, its whole predicted front (no re-measurement, no thinning) and its summary, for
    :func:`merge_islands`."""
    return run_search(space, objective, settings.for_island(island), history_path, front_path, reference=reference,
                      progress=progress, island=island)


def merge_islands(space: SearchSpace, objective: Objective, settings: SearchSettings,
                  island_dirs: Sequence[str | Path], history_path: str | Path, front_path: str | Path, *,
                  remeasure_fn: Callable[[list[Design]], np.ndarray] | None = None,
                  reference: Design | None = None, island_front: str = "pareto.parquet") -> pl.DataFrame:
    """The product of the islands in ``island_dirs`` (each holding :func:`run_island`'s three files).

    Every island's front design is rebuilt from its ``design_json`` and scored again; the feasible designs
    no other island's design dominates form the merged predicted front, which is thinned to ``front_size``,
    re-measured once and re-filtered like a single search's (:func:`front_frame`). The history is every
    island's history, concatenated (``island`` column); the summary lists each island.
    """
    history_path, front_path = Path(history_path), Path(front_path)
    dirs = [Path(d) for d in island_dirs]
    if len(dirs) != settings.islands:
        raise SearchConfigError(f"search.islands is {settings.islands} but {len(dirs)} island results were given")
    ref = reference or reference_design(space)
    ref_batch = objective(space.encode(ref)[None, :])
    designs: list[Design] = []
    summaries = []
    for d in dirs:
        summaries.append(json.loads((d / "search_summary.json").read_text()))
        for text in pl.read_parquet(d / island_front, columns=["design_json"])["design_json"]:
            js = json.loads(text)
            designs.append(Design(SubnetConfig.from_dict(js["subnet"]), HardwareConfig(**js["hardware"])))
    genes = np.stack([space.encode(x) for x in designs]) if designs else np.zeros((0, space.n_genes), np.int64)
    cand = objective(genes) if len(genes) else _empty_batch(ref_batch)
    keep = cand.feasible.copy()
    if keep.any():
        idx = np.flatnonzero(keep)
        keep[idx[~non_dominated(cand.losses(settings.objectives)[idx])]] = False
    sel = np.flatnonzero(keep)
    cand = ObjectiveBatch(cand.accuracy[sel], cand.accuracy_std[sel], {k: v[sel] for k, v in cand.metrics.items()},
                          cand.hw_feasible[sel], cand.violation[sel])
    ref_edap = float(ref_batch.metrics["edap_uj_ms_mm2"][0])
    front = front_frame(space, genes[sel], cand, settings.objectives, ref_edap, remeasure_fn, settings.constraints,
                        settings.front_size, extra={"round": np.zeros(len(sel), dtype=np.int32)})
    history = pl.concat([pl.read_parquet(d / "search_history.parquet") for d in dirs], how="vertical")
    norm = Normalizer(tuple(summaries[0]["normalizer"]["lo"]), tuple(summaries[0]["normalizer"]["hi"]))
    islands = [{k: s[k] for k in ("island", "seed", "evaluations", "generations", "wall_s", "final_hypervolume",
                                  "front_size")} for s in summaries]
    summary = _summary(space, settings, ref, ref_batch, front, remeasure_fn is not None,
                       evaluations=sum(s["evaluations"] for s in summaries),
                       generations=max(s["generations"] for s in summaries),
                       wall_s=sum(s["wall_s"] for s in summaries),
                       final_hypervolume=hypervolume(norm(cand.losses(settings.objectives))),
                       seed=settings.seed, islands=islands, normalizer=norm.to_dict())
    _write_all(history_path, history, front_path, front, history_path.parent / "search_summary.json", summary)
    print(f"merged {len(designs)} front designs of {len(dirs)} island(s): {len(sel)} non-dominated, "
          f"{front.height} on the front", flush=True)
    return front


# --------------------------------------------------------------------------------------------------
# Refinement: the measured front designs teach the predictor, and the search runs again
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredDesigns:
    """The designs one round re-measured: canonical ``genes`` [N, G], the accuracy the round's predictor
    gave them (``predicted``) and the accuracy measured on the supernet (``measured``); ``refit`` holds the
    held-out metrics of the predictor the round searched with, when it was refitted for it."""

    round: int
    genes: np.ndarray
    predicted: np.ndarray
    measured: np.ndarray
    refit: dict[str, Any] | None = None

    def error(self) -> dict[str, Any]:
        """How the round's predictor erred on its own front: RMSE and mean (predicted - measured), in points."""
        err = (self.predicted - self.measured) * 100
        return {"round": self.round, "designs_measured": int(len(err)),
                "front_rmse_pct": float(np.sqrt(np.mean(err ** 2))) if len(err) else None,
                "front_bias_pct": float(np.mean(err)) if len(err) else None,
                **({"refit_heldout": self.refit} if self.refit is not None else {})}


class MeasureRecorder:
    """A re-measurement function that keeps every design it measured and the accuracies, in call order."""

    def __init__(self, space: SearchSpace, fn: Callable[[list[Design]], np.ndarray]):
        self.space, self.fn = space, fn
        self._genes: list[np.ndarray] = []
        self._acc: list[np.ndarray] = []

    def __call__(self, designs: list[Design]) -> np.ndarray:
        acc = np.asarray(self.fn(designs), dtype=np.float64).reshape(len(designs))
        if designs:
            self._genes.append(np.stack([self.space.encode(d) for d in designs]))
            self._acc.append(acc)
        return acc

    def taken(self) -> tuple[np.ndarray, np.ndarray]:
        """(genes [N, G], measured [N]) of every design measured so far."""
        if not self._genes:
            return np.zeros((0, self.space.n_genes), dtype=np.int64), np.zeros(0)
        return np.concatenate(self._genes), np.concatenate(self._acc)


def refine(space: SearchSpace, objective: Objective, settings: SearchSettings, first: MeasuredDesigns,
           refit: Callable[[Sequence[MeasuredDesigns]], tuple[AccuracyPredictor, dict[str, Any]]],
           remeasure_fn: Callable[[list[Design]], np.ndarray], progress: ProgressArg = None
           ) -> list[MeasuredDesigns]:
    """``settings.refine`` rounds of active refinement after the first measured front (``first``).

    The accuracy table samples the whole space evenly; a front lives in a corner of it, where a predictor
    fitted on the table errs most in the direction the search rewards (it proposes designs it overrates). Each
    round ``refit``s the predictor on the table plus every design measured so far, runs the search again with
    it (one search of ``budget`` evaluations, seeded after the islands by :func:`island_seed`), thins its front
    to ``front_size`` and re-measures it. Returns ``first`` and one :class:`MeasuredDesigns` per round;
    :func:`measured_front` takes the front over all of them.
    """
    rounds = [first]
    for r in range(1, settings.refine + 1):
        predictor, metrics = refit(rounds)
        obj = Objective(space, predictor, objective.evaluators, objective.objectives, objective.constraints)
        s = replace(settings, seed=island_seed(settings.seed, settings.islands - 1 + r))
        result = _search_with_progress(space, obj, s, progress, f"refinement round {r}")
        cgenes, _ = _canonical_genes(space, result.genes[result.front_rows])
        cand = obj(cgenes) if len(cgenes) else _empty_batch(result.batch)
        recorder = MeasureRecorder(space, remeasure_fn)
        front_frame(space, cgenes, cand, s.objectives, 1.0, recorder, s.constraints, s.front_size)
        genes, measured = recorder.taken()
        predicted = obj(genes).accuracy if len(genes) else np.zeros(0)
        rounds.append(MeasuredDesigns(r, genes, predicted, measured, metrics))
        print(f"refinement round {r}: {len(genes)} designs measured, predictor RMSE on them "
              f"{rounds[-1].error()['front_rmse_pct'] or 0:.2f} points", flush=True)
    return rounds


def measured_front(space: SearchSpace, objective: Objective, settings: SearchSettings,
                   rounds: Sequence[MeasuredDesigns], ref_edap: float) -> pl.DataFrame:
    """The front over every design any round measured: feasible and non-dominated on measured accuracy, thinned
    to ``front_size`` by crowding distance on the measured objectives; ``accuracy_predicted`` is what the
    predictor of the round that proposed the design said, and ``round`` names that round (a design measured in
    two rounds counts for the first)."""
    genes = np.concatenate([r.genes for r in rounds])
    predicted = np.concatenate([r.predicted for r in rounds])
    measured = np.concatenate([r.measured for r in rounds])
    round_of = np.concatenate([np.full(len(r.genes), r.round, dtype=np.int32) for r in rounds])
    if not len(genes):
        b = _empty_batch(objective(space.encode(reference_design(space))[None, :]))
        return front_frame(space, genes, b, settings.objectives, ref_edap, None, settings.constraints, None,
                           extra={"round": round_of})
    _, first = np.unique(genes, axis=0, return_index=True)
    first = np.sort(first)
    genes, predicted, measured, round_of = genes[first], predicted[first], measured[first], round_of[first]
    b = objective(genes)
    b.accuracy = measured
    b.violation = settings.constraints.violation(measured, b.metrics)
    keep = np.flatnonzero(b.feasible)
    keep = keep[non_dominated(b.losses(settings.objectives)[keep])]
    if settings.front_size is not None and len(keep) > settings.front_size:
        keep = np.sort(keep[survivors(b.losses(settings.objectives)[keep], settings.front_size)])
    lookup = {tuple(g): m for g, m in zip(genes[keep].tolist(), measured[keep])}
    sub = ObjectiveBatch(predicted[keep], b.accuracy_std[keep], {k: v[keep] for k, v in b.metrics.items()},
                         b.hw_feasible[keep], b.violation[keep])
    return front_frame(space, genes[keep], sub, settings.objectives, ref_edap,
                       lambda designs: np.array([lookup[tuple(space.encode(d).tolist())] for d in designs]),
                       settings.constraints, None, extra={"round": round_of[keep]})


def write_refined(space: SearchSpace, objective: Objective, settings: SearchSettings,
                  rounds: Sequence[MeasuredDesigns], first_front: pl.DataFrame, front_path: str | Path,
                  summary_path: str | Path) -> pl.DataFrame:
    """Record the refinement over the files of the first front (``first_front``, written at ``front_path``):
    with more than one round, the front becomes :func:`measured_front` of every round (and the summary's
    ``front_size`` its size); the summary gains ``refine``, each round's :meth:`MeasuredDesigns.error`.
    Returns the front."""
    front_path, summary_path = Path(front_path), Path(summary_path)
    summary = json.loads(summary_path.read_text())
    if len(rounds) > 1:
        front = measured_front(space, objective, settings, rounds, summary["reference"]["edap_uj_ms_mm2"])
        summary["front_size"] = front.height
        _atomic_write(front_path, lambda p: front.write_parquet(p))
    else:
        front = first_front
    summary["refine"] = [r.error() for r in rounds]
    _atomic_write(summary_path, lambda p: p.write_text(json.dumps(summary, indent=2, allow_nan=True)))
    return front
