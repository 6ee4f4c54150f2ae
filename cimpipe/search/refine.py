"""Refinement: the measured front designs teach the predictor, the search runs again, and the front is taken
over every design any round measured."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from cimpipe.accuracy import arch_columns
from cimpipe.predictor import Predictor, PredictorSettings, fit
from cimpipe.search.islands import SearchOutcome
from cimpipe.search.loop import ProgressArg, search_with_progress
from cimpipe.search.measure import measured_rows
from cimpipe.search.objective import AccuracyPredictor, Objective
from cimpipe.search.settings import SearchSettings, island_seed
from cimpipe.search.strategies import survivors
from cimpipe.search.tables import canonical_genes, front_frame, reference_design, thin_front
from cimpipe.space import Design, SearchSpace


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
        result = search_with_progress(space, obj, s, progress, f"refinement round {r}")
        cgenes, _ = canonical_genes(space, result.genes[result.front_rows])
        cand = obj(cgenes) if len(cgenes) else result.batch.empty()
        recorder = MeasureRecorder(space, remeasure_fn)
        _, designs, _, _ = thin_front(space, cgenes, cand, s.objectives, s.front_size)
        if designs:
            recorder(designs)
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
        b = objective(space.encode(reference_design(space))[None, :]).empty()
        return front_frame(space, genes, b, settings.objectives, ref_edap, None, settings.constraints, None,
                           extra={"round": round_of})
    _, first = np.unique(genes, axis=0, return_index=True)
    first = np.sort(first)
    genes, predicted, measured, round_of = genes[first], predicted[first], measured[first], round_of[first]
    b = objective(genes)
    b.accuracy = measured
    b.violation = settings.constraints.violation(measured, b.metrics)
    keep = b.feasible_front(settings.objectives)
    if settings.front_size is not None and len(keep) > settings.front_size:
        keep = np.sort(keep[survivors(b.losses(settings.objectives)[keep], settings.front_size)])
    lookup = {tuple(g): m for g, m in zip(genes[keep].tolist(), measured[keep])}
    sub = b.take(keep)
    sub.accuracy = predicted[keep]
    return front_frame(space, genes[keep], sub, settings.objectives, ref_edap,
                       lambda designs: np.array([lookup[tuple(space.encode(d).tolist())] for d in designs]),
                       settings.constraints, None, extra={"round": round_of[keep]})


def refined_outcome(space: SearchSpace, objective: Objective, settings: SearchSettings,
                    rounds: Sequence[MeasuredDesigns], first: SearchOutcome) -> SearchOutcome:
    """The first measured search (``first``) with the refinement recorded: with more than one round, the front
    becomes :func:`measured_front` of every round (and the summary's ``front_size`` its size); the summary
    gains ``refine``, each round's :meth:`MeasuredDesigns.error`."""
    summary = dict(first.summary)
    front = first.front
    if len(rounds) > 1:
        front = measured_front(space, objective, settings, rounds, summary["reference"]["edap_uj_ms_mm2"])
        summary["front_size"] = front.height
    summary["refine"] = [r.error() for r in rounds]
    return SearchOutcome(first.history, front, summary)


def table_refit(table: pl.DataFrame, space: SearchSpace, fit_space: SearchSpace, predictor_settings: PredictorSettings
                ) -> Callable[[Sequence[MeasuredDesigns]], tuple[Predictor, dict[str, Any]]]:
    """The ``refit`` of :func:`refine`: a predictor fitted (``predictor_settings``, over ``fit_space``, the
    table's technology-free space) on the accuracy ``table`` plus every design the rounds measured, and its
    held-out scores."""
    names = arch_columns(space) + list(space.cim_columns)

    def refit(done: Sequence[MeasuredDesigns]) -> tuple[Predictor, dict[str, Any]]:
        extra = measured_rows(space, done)
        rows = pl.concat([table.select(*names, "accuracy"),
                          extra.select(*names, "accuracy").cast({c: table.schema[c] for c in names})])
        rows = rows.with_columns(pl.lit(False).alias("anchor"))
        fitted = fit(rows, fit_space, predictor_settings)
        metrics = fitted.metrics
        print(f"predictor refitted on {table.height} table rows and {extra.height} measured designs: held-out "
              f"RMSE {metrics['rmse_pct']:.2f} points, Kendall tau {metrics['kendall_tau']:.3f}", flush=True)
        return fitted, {k: metrics[k] for k in ("rows_total", "rows_heldout", "kendall_tau", "rmse_pct")}

    return refit
