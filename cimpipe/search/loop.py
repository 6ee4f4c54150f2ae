"""The search loop: batched ask / tell until the budget, the feasible archive's hypervolume per generation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cimpipe.pareto import Normalizer, ParetoArchive
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
    strat = make_strategy(space, settings, len(objs))
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


ProgressArg = bool | Callable[[int, int, float], None] | None


def search_with_progress(space: SearchSpace, objective: Callable[[np.ndarray], ObjectiveBatch],
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
