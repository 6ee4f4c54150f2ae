"""The search's settings: metrics and objectives, constraints, and config's ``search`` section as values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import nevergrad as ng
import numpy as np

from cimpipe.metrics import (  # noqa: F401 - re-exported: the search's metrics and objectives, declared without torch
    ALIASES, DEFAULT_OBJECTIVES, METRICS, ObjectiveSpec, SearchConfigError, parse_objectives)


CHIP_METRICS = ("energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2", "tops", "tops_per_w", "tops_per_mm2",
                "utilization", "tiles", "leakage_energy_uj")


OWN_OPTIMIZERS = ("nsga2", "nsga_de")
"""The optimizers cimpipe implements (``cimpipe.search.strategies``); any other name is Nevergrad's."""
DEFAULT_DE_SHARE = {"nsga2": 0.0, "nsga_de": 0.25}
"""Each optimizer's share of DE offspring when ``search.de_share`` is not set: none for ``nsga2`` (its numpy
DE move lowered the hypervolume at equal time and at equal evaluations on the demo), a quarter for ``nsga_de``."""


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

    optimizer: str = "nsga2"
    budget: int = 20000
    batch: int = 100
    batch_growth: float = 0.05
    max_batch: int = 2000
    seed: int = 0
    objectives: tuple[ObjectiveSpec, ...] = DEFAULT_OBJECTIVES
    constraints: Constraints = field(default_factory=Constraints)
    population: int = 100
    crossover: str | float = "dimension"
    f1: float = 0.8
    de_share: float | None = None
    survival: str = "hypervolume"
    front_size: int | None = 200
    islands: int = 1
    refine: int = 1
    remeasure: bool = True

    def __post_init__(self) -> None:
        if self.budget < 1 or self.batch < 1:
            raise SearchConfigError("search.budget and search.batch must be positive")
        if self.batch_growth < 0 or self.max_batch < 1:
            raise SearchConfigError("search.batch_growth must be at least 0 and search.max_batch positive")
        if self.optimizer not in OWN_OPTIMIZERS and self.optimizer not in ng.optimizers.registry:
            raise SearchConfigError(f"search.optimizer {self.optimizer!r} is neither one of {', '.join(OWN_OPTIMIZERS)} "
                                    "nor a Nevergrad optimizer")
        if self.front_size is not None and self.front_size < 2:
            raise SearchConfigError("search.front_size must be at least 2 (or null for the whole front)")
        if self.survival not in ("crowding", "hypervolume"):
            raise SearchConfigError(f"search.survival {self.survival!r} must be 'crowding' or 'hypervolume'")
        if self.population < 4:
            raise SearchConfigError("search.population must be at least 4")
        if self.de_share is not None and not 0.0 <= self.de_share <= 1.0:
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
        kw: dict[str, Any] = {k: s[k] for k in ("optimizer", "budget", "batch", "batch_growth", "max_batch", "seed", "population", "crossover", "f1",
                                                "de_share", "survival", "front_size", "islands", "refine", "remeasure")
                                if k in s}
        if "objectives" in s:
            kw["objectives"] = parse_objectives(s["objectives"])
        kw["constraints"] = Constraints.from_config(s.get("constraints"))
        return cls(**kw)

    @property
    def offspring_de_share(self) -> float:
        """The share of offspring made by a differential-evolution move: ``de_share``, or the optimizer's
        default (:data:`DEFAULT_DE_SHARE`)."""
        return DEFAULT_DE_SHARE.get(self.optimizer, 0.0) if self.de_share is None else float(self.de_share)

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
