"""The search loop: batched ask / tell until the budget; the feasible archive's hypervolume per generation only
when it is read."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cimpipe.pareto import Normalizer, ParetoArchive, non_dominated
from cimpipe.search.objective import ObjectiveBatch
from cimpipe.search.settings import SearchSettings
from cimpipe.search.strategies import PENALTY, decode_unit, make_strategy
from cimpipe.space import SearchSpace


@dataclass
class SearchResult:
    """Every evaluation of one search, in order."""

    genes: np.ndarray                 # [N, G] int64
    generation: np.ndarray            # [N] int32
    batch: ObjectiveBatch             # [N] everything the objective said
    evaluations: np.ndarray           # [n_generations] cumulative evaluations after each generation
    normalized: np.ndarray            # [N, M] normalized losses (the normalizer's map of the objectives)
    normalizer: Normalizer
    wall_s: float
    _hypervolume: np.ndarray | None = field(default=None, repr=False)
    _front_rows: np.ndarray | None = field(default=None, repr=False)

    @property
    def front_rows(self) -> np.ndarray:
        """Indices (ascending) of the final non-dominated feasible set (of equal designs, the first)."""
        if self._front_rows is None:
            rows = np.flatnonzero(self.batch.feasible & np.all(np.isfinite(self.normalized), axis=1))
            self._front_rows = rows[non_dominated(self.normalized[rows])]
        return self._front_rows

    @property
    def hypervolume(self) -> np.ndarray:
        """[n_generations] HV of the feasible archive after each generation, computed when first read (the
        search itself never pays for it)."""
        if self._hypervolume is None:
            archive = FeasibleArchive(self.normalized.shape[1])
            ends = self.evaluations
            starts = np.r_[0, ends[:-1]]
            feasible = self.batch.feasible
            hv = []
            for lo, hi in zip(starts, ends):
                archive.add(self.normalized[lo:hi], feasible[lo:hi], lo)
                hv.append(archive.hypervolume())
            self._hypervolume = np.asarray(hv)
        return self._hypervolume


class FeasibleArchive:
    """The non-dominated feasible designs seen so far, merged in only when the hypervolume is asked for."""

    def __init__(self, n_objectives: int):
        self.archive = ParetoArchive(n_objectives)
        self.waiting: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, normalized: np.ndarray, feasible: np.ndarray, start: int) -> None:
        self.waiting.append((normalized[feasible], start + np.flatnonzero(feasible)))

    def hypervolume(self) -> float:
        if self.waiting:
            self.archive.add(np.vstack([p for p, _ in self.waiting]), np.concatenate([r for _, r in self.waiting]))
            self.waiting = []
        return self.archive.hypervolume()


def batch_size(settings: SearchSettings, done: int) -> int:
    """Designs in the next generation: ``batch``, growing to ``batch_growth`` times the evaluations so far
    (at most ``max_batch``), so the objective's fixed cost per call fades as the run goes on while the first
    generations stay short."""
    grown = min(settings.max_batch, int(settings.batch_growth * done))
    return min(max(settings.batch, grown), settings.budget - done)


def search(space: SearchSpace, objective: Callable[[np.ndarray], ObjectiveBatch], settings: SearchSettings, *,
           normalizer: Normalizer | None = None,
           on_generation: Callable[[int, int, Callable[[], float]], None] | None = None) -> SearchResult:
    """Run batched ask/tell until ``settings.budget`` evaluations; return the full log (nothing written).

    Generation 0 (``batch`` designs) fixes the normalization (per-objective min and max of its finite
    rows) unless ``normalizer`` is given. ``on_generation(generation, evaluations, hypervolume)`` is called
    after each generation; ``hypervolume()`` computes the feasible archive's HV only when called.
    """
    t0 = time.perf_counter()
    objs = settings.objectives
    strat = make_strategy(space, settings, len(objs))
    n0 = min(settings.batch, settings.budget)
    genes0 = decode_unit(space, strat.ask(n0))
    b0 = objective(genes0)
    losses0 = b0.losses(objs)
    norm = normalizer or Normalizer.from_losses(losses0[b0.hw_feasible] if b0.hw_feasible.any() else losses0)
    all_genes, all_gen, batches, all_norm = [genes0], [np.zeros(n0, np.int32)], [b0], []
    archive = FeasibleArchive(len(objs))
    evals: list[int] = []

    def record(b: ObjectiveBatch, start: int) -> tuple[np.ndarray, np.ndarray]:
        nl = norm(b.losses(objs))
        feas = b.feasible
        all_norm.append(nl)
        evals.append(start + len(b.accuracy))
        if on_generation is not None:
            archive.add(nl, feas, start)
            on_generation(len(evals) - 1, evals[-1], archive.hypervolume)
        return nl, np.where(feas, 0.0, PENALTY + np.minimum(b.violation, 1e3))

    nl0, pen0 = record(b0, 0)
    strat.tell(nl0, pen0)
    done, gen = n0, 0
    while done < settings.budget:
        gen += 1
        n = batch_size(settings, done)
        genes = decode_unit(space, strat.ask(n))
        b = objective(genes)
        nl, pen = record(b, done)
        strat.tell(nl, pen)
        all_genes.append(genes)
        all_gen.append(np.full(n, gen, np.int32))
        batches.append(b)
        done += n
    return SearchResult(np.vstack(all_genes), np.concatenate(all_gen), ObjectiveBatch.concat(batches),
                        np.asarray(evals), np.vstack(all_norm), norm, time.perf_counter() - t0)


ProgressArg = bool | Callable[[int, int, Callable[[], float]], None] | None


def search_with_progress(space: SearchSpace, objective: Callable[[np.ndarray], ObjectiveBatch],
                          settings: SearchSettings, progress: ProgressArg, label: str) -> SearchResult:
    """:func:`search` with its progress shown: a rich bar (evaluations / budget, hypervolume) when ``progress``
    is True or, left None, when standard output is a terminal; otherwise a plain line at every 10 % of the
    budget. A callable ``progress`` gets ``(generation, evaluations, hypervolume)`` instead, ``hypervolume``
    a function. The hypervolume is computed only where it is shown (every 5 % of the budget on the bar)."""
    from cimpipe.progress import StepLines, on_terminal, progress_bar

    if callable(progress):
        return search(space, objective, settings, on_generation=progress)
    show_bar = on_terminal() if progress is None else bool(progress)
    lines = StepLines(settings.budget)
    bar_lines = StepLines(settings.budget, step=0.05, write=lambda _: None)
    with progress_bar(show_bar) as bar:
        task = bar.add_task(label, total=settings.budget) if bar else None

        def report(generation: int, evaluations: int, hypervolume: Callable[[], float]) -> None:
            if bar:
                if bar_lines.due(evaluations):
                    bar.update(task, description=f"{label} HV {hypervolume():.4f}")
                bar_lines(evaluations, "")
                bar.update(task, completed=evaluations)
            elif lines.due(evaluations):
                lines(evaluations, f"{label}: {evaluations}/{settings.budget} evaluations, generation {generation}, "
                                   f"hypervolume {hypervolume():.4f}")
            else:
                lines(evaluations, "")

        return search(space, objective, settings, on_generation=report)
