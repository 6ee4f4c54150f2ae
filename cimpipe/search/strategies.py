"""The strategies that propose designs: NSGA-II with Nevergrad's DE offspring, or a Nevergrad optimizer in its
own multi-objective mode, both in the unit cube every gene is decoded from."""

from __future__ import annotations

from typing import Any

import moocore
import nevergrad as ng
import numpy as np

from cimpipe.search.settings import SearchSettings
from cimpipe.space import SearchSpace


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


class Strategy:
    """Proposes unit-cube points and learns from their normalized losses (ask / tell)."""

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


class NSGA(Strategy):
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


class NevergradMO(Strategy):
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


def make_strategy(space: SearchSpace, settings: SearchSettings, n_objectives: int) -> Strategy:
    """The strategy ``settings.optimizer`` names: :class:`NSGA` for ``nsga_de``, else :class:`NevergradMO`."""
    if settings.optimizer == "nsga_de":
        return NSGA(space, settings, n_objectives)
    return NevergradMO(space, settings, n_objectives)
