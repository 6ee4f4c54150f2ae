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
    """NSGA-II's crowding distance (Deb et al. 2002) of each point within its own rank; extremes get inf.

    Vectorized over ranks: each objective is sorted once by (rank, value), and a point's neighbours are the
    adjacent entries of its own rank."""
    n = len(points)
    out = np.zeros(n)
    if n == 0:
        return out
    for j in range(points.shape[1]):
        order = np.lexsort((points[:, j], rank))
        r, v = rank[order], points[order, j]
        first = np.r_[True, r[1:] != r[:-1]]
        last = np.r_[r[1:] != r[:-1], True]
        group = np.cumsum(first) - 1
        span = (v[last] - v[first])[group]
        gap = np.zeros(n)
        gap[1:-1] = v[2:] - v[:-2]
        inner = ~(first | last) & (span > 0)
        d = np.where(inner, gap / np.where(span > 0, span, 1.0), 0.0)
        d[first | last] = np.inf
        out[order] += d
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
        n_de = int(round(self.settings.offspring_de_share * n))
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


class Fingerprints:
    """64-bit fingerprints of gene rows (a random linear hash, wrapping), so that "evaluated before?" is one
    set lookup per candidate instead of a byte string per row."""

    def __init__(self, n_genes: int, seed: int):
        rng = np.random.default_rng([int(seed), 0x5EED])
        self.weights = rng.integers(1, np.iinfo(np.int64).max, size=n_genes, dtype=np.uint64) | np.uint64(1)
        self.seen: set[int] = set()

    def __call__(self, genes: np.ndarray) -> np.ndarray:
        return (genes.astype(np.uint64) * self.weights).sum(axis=1, dtype=np.uint64)

    def fresh(self, genes: np.ndarray) -> np.ndarray:
        """Mask of the rows neither seen before nor repeating an earlier row of ``genes``."""
        keys = self(genes).tolist()
        mask = np.fromiter((k not in self.seen for k in keys), dtype=bool, count=len(keys))
        _, first = np.unique(np.asarray(keys, dtype=np.uint64), return_index=True)
        once = np.zeros(len(keys), dtype=bool)
        once[first] = True
        return mask & once

    def add(self, genes: np.ndarray) -> None:
        self.seen.update(self(genes).tolist())


def sbx_pm(p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One child per parent pair in the unit cube: simulated binary crossover (each gene exchanged with
    probability 1/2, :data:`SBX_ETA`) then polynomial mutation of each gene with probability 1 / genes
    (:data:`PM_ETA`)."""
    k, g = p1.shape
    u = rng.random((k, g))
    beta = np.where(u <= 0.5, (2 * u) ** (1 / (SBX_ETA + 1)), (1 / (2 * (1 - u))) ** (1 / (SBX_ETA + 1)))
    c1, c2 = 0.5 * ((1 + beta) * p1 + (1 - beta) * p2), 0.5 * ((1 - beta) * p1 + (1 + beta) * p2)
    child = np.where(rng.random((k, g)) < 0.5, c2, c1)
    child = np.where(rng.random((k, g)) < 0.5, child, p1)
    u = rng.random((k, g))
    delta = np.where(u < 0.5, (2 * u) ** (1 / (PM_ETA + 1)) - 1, 1 - (2 * (1 - u)) ** (1 / (PM_ETA + 1)))
    return np.where(rng.random((k, g)) < 1.0 / g, child + delta, child)


def de_move(base: np.ndarray, a: np.ndarray, b: np.ndarray, f: float, rng: np.random.Generator) -> np.ndarray:
    """Differential evolution's move, batched: ``base + f (a - b)`` on one gene per child chosen at random
    (Nevergrad's ``crossover="dimension"``), the other genes kept from ``base``."""
    k, g = base.shape
    child = base.copy()
    rows, cols = np.arange(k), rng.integers(g, size=k)
    child[rows, cols] = base[rows, cols] + f * (a[rows, cols] - b[rows, cols])
    return child


HV_REFERENCE_MARGIN = 10.0
"""SMS-EMOA's reference point for the contributions of a front normalized to [0, 1]: 1 + this margin in every
objective (pymoo's default), which keeps a front's extremes."""
HV_TRUNCATION_MAX = 200
"""A split front larger than this is first cut to this size by crowding distance: exact 4-objective
contributions cost about 2 ms for 100 points and 50 ms for 200, and grow steeply beyond."""


def hypervolume_truncation(points: np.ndarray, keep: int) -> np.ndarray:
    """Indices of ``keep`` rows of a front, dropping the rows of least exclusive hypervolume contribution (the
    survival of SMS-EMOA, Beume et al. 2007), a quarter of the excess per step; the front is normalized to
    its own range first."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    unit = (points - lo) / np.where(hi > lo, hi - lo, 1.0)
    ref = np.full(points.shape[1], 1.0 + HV_REFERENCE_MARGIN)
    idx = np.arange(len(points))
    while len(idx) > keep:
        contribution = np.asarray(moocore.hv_contributions(unit[idx], ref=ref))
        drop = max(1, (len(idx) - keep + 3) // 4)
        idx = np.delete(idx, np.argsort(contribution, kind="stable")[:drop])
    return idx


class NSGA2(Strategy):
    """NSGA-II (Deb et al. 2002) in numpy: every step of a generation is a handful of array operations, so
    its cost beside the objective stays small whatever the space.

    Survival: parents and offspring are merged; the best ``population`` by non-dominated rank (moocore)
    survive. The front that does not fit whole is cut by ``survival``: ``"hypervolume"`` (default) drops
    its designs of least exclusive hypervolume contribution, as SMS-EMOA does (:func:`hypervolume_truncation`,
    after a cut to :data:`HV_TRUNCATION_MAX` by crowding); ``"crowding"`` keeps the larger crowding
    distances, as NSGA-II does. On the demo the hypervolume cut raised the hypervolume at every wall time
    and at 10^4 evaluations, where crowding distance, with four objectives, spreads the population poorly.
    Mating: binary tournaments on (rank, crowding). Offspring, in the unit
    cube every gene is decoded from: a share ``de_share`` by a differential-evolution move of a tournament
    winner (:func:`de_move`, ``f1``), the rest by simulated binary crossover and polynomial mutation of two
    winners (:func:`sbx_pm`). Candidates that decode to an evaluated design, or repeat one of the batch,
    are drawn again (fingerprints, :class:`Fingerprints`); a nearly exhausted space accepts repeats.
    Generation 0 is uniform over each gene's choices.
    """

    def __init__(self, space: SearchSpace, settings: SearchSettings, m: int):
        self.space, self.settings = space, settings
        self.rng = np.random.default_rng(settings.seed)
        self.fingerprints = Fingerprints(space.n_genes, settings.seed)
        self.units = np.zeros((0, space.n_genes))
        self.losses = np.zeros((0, m))
        self.rank = np.zeros(0, dtype=np.int64)
        self.crowd = np.zeros(0)
        self.pending = np.zeros((0, space.n_genes))

    def _tournament(self, k: int) -> np.ndarray:
        a, b = self.rng.integers(len(self.units), size=k), self.rng.integers(len(self.units), size=k)
        a_wins = (self.rank[a] < self.rank[b]) | ((self.rank[a] == self.rank[b]) & (self.crowd[a] >= self.crowd[b]))
        return np.where(a_wins, a, b)

    def _offspring(self, k: int) -> np.ndarray:
        n_de = int(round(self.settings.offspring_de_share * k))
        de = de_move(self.units[self._tournament(n_de)], self.units[self._tournament(n_de)],
                     self.units[self._tournament(n_de)], self.settings.f1, self.rng)
        ga = sbx_pm(self.units[self._tournament(k - n_de)], self.units[self._tournament(k - n_de)], self.rng)
        # each child sits at the centre of its genes' intervals, so parents that share a gene pass it on
        # unchanged (the integer rounding of pymoo's NSGA-II), and no hidden offset drifts between them
        return encode_unit(self.space, decode_unit(self.space, np.vstack([de, ga])))

    def ask(self, n: int) -> np.ndarray:
        if not len(self.units):
            self.pending = encode_unit(self.space, decode_unit(self.space, self.rng.random((n, self.space.n_genes))))
            self.fingerprints.add(decode_unit(self.space, self.pending))
            return self.pending
        out, have = [], 0
        for _round in range(5):
            cand = self._offspring(2 * (n - have))
            fresh = self.fingerprints.fresh(decode_unit(self.space, cand))
            cand = cand[fresh][: n - have]
            out.append(cand)
            have += len(cand)
            self.fingerprints.add(decode_unit(self.space, cand))
            if have == n:
                break
        if have < n:  # a small space nearly exhausted: accept repeats
            out.append(self._offspring(n - have))
            self.fingerprints.add(decode_unit(self.space, out[-1]))
        self.pending = np.vstack(out)
        return self.pending

    def tell(self, normalized: np.ndarray, penalty: np.ndarray) -> None:
        f = np.clip(np.nan_to_num(normalized, nan=PENALTY), -PENALTY, PENALTY) + penalty[:, None]
        units = np.vstack([self.units, self.pending])
        losses = np.vstack([self.losses, f])
        rank = np.asarray(moocore.pareto_rank(losses), dtype=np.int64)
        crowd = crowding_distance(losses, rank)
        order = np.lexsort((-crowd, rank))
        keep = order[: self.settings.population]
        if self.settings.survival == "hypervolume" and len(order) > len(keep):
            split = rank[keep[-1]]
            whole = keep[rank[keep] < split]
            front = order[rank[order] == split][:HV_TRUNCATION_MAX]  # by crowding, best first
            keep = np.concatenate([whole, front[hypervolume_truncation(losses[front], len(keep) - len(whole))]])
            crowd = crowding_distance(losses[keep], rank[keep])
            self.units, self.losses, self.rank, self.crowd = units[keep], losses[keep], rank[keep], crowd
            return
        # a survivor's rank is unchanged by dropping worse ones; its crowding is kept from the merged set
        self.units, self.losses, self.rank, self.crowd = units[keep], losses[keep], rank[keep], crowd[keep]


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
    """The strategy ``settings.optimizer`` names: :class:`NSGA2` for ``nsga2``, :class:`NSGA` for ``nsga_de``,
    else :class:`NevergradMO`."""
    if settings.optimizer == "nsga2":
        return NSGA2(space, settings, n_objectives)
    if settings.optimizer == "nsga_de":
        return NSGA(space, settings, n_objectives)
    return NevergradMO(space, settings, n_objectives)
