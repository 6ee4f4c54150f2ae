"""Pareto dominance, normalization and hypervolume for the search.

Everything here works on *loss* matrices ``[N, M]``: one row per design, one column per objective, every
column to be minimized (a maximized metric enters negated, a metric spanning decades enters as log10; see
:func:`to_losses`). Dominance filtering and the hypervolume come from moocore (exact HV; about 1 ms for
4 objectives and a thousand points), never from Nevergrad's own bookkeeping, which drops points outside
its inferred box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import moocore
import numpy as np

HV_REFERENCE = 1.1
"""Reference point of the hypervolume in normalized loss space (every coordinate)."""


def to_losses(values: np.ndarray, maximize: Sequence[bool], log_scale: Sequence[bool]) -> np.ndarray:
    """Turn metric values ``[N, M]`` (natural units) into losses to minimize.

    A log-scaled column becomes ``log10(max(v, 1e-30))`` first; a maximized column is then negated.
    """
    v = np.asarray(values, dtype=np.float64)
    out = v.copy()
    for j, (mx, lg) in enumerate(zip(maximize, log_scale)):
        col = np.log10(np.maximum(v[:, j], 1e-30)) if lg else v[:, j]
        out[:, j] = -col if mx else col
    return out


def non_dominated(losses: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows no other row dominates (minimization); of equal rows only the first is kept."""
    losses = np.asarray(losses, dtype=np.float64)
    if losses.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(losses, keep_weakly=False), dtype=bool)


def hypervolume(normalized: np.ndarray, ref: float | np.ndarray = HV_REFERENCE) -> float:
    """Hypervolume (moocore, exact) of normalized losses against the box corner ``ref``.

    Points outside the box contribute nothing (they do not dominate ``ref``), so the value never goes
    negative, whatever the points.
    """
    pts = np.asarray(normalized, dtype=np.float64)
    if pts.shape[0] == 0:
        return 0.0
    m = pts.shape[1]
    ref_vec = np.broadcast_to(np.asarray(ref, dtype=np.float64), (m,))
    inside = np.all(pts < ref_vec, axis=1) & np.all(np.isfinite(pts), axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(pts[inside], ref=ref_vec))


@dataclass(frozen=True)
class Normalizer:
    """Affine map of losses onto ``[0, 1]`` per objective: ``(loss - lo) / (hi - lo)``.

    Fixed once (from a sample of designs) so that hypervolumes taken at different times, by different
    optimizers or seeds, are comparable.
    """

    lo: tuple[float, ...]
    hi: tuple[float, ...]

    @classmethod
    def from_losses(cls, losses: np.ndarray) -> "Normalizer":
        """Bounds from the finite rows of a sample: per column minimum and maximum."""
        x = np.asarray(losses, dtype=np.float64)
        x = x[np.all(np.isfinite(x), axis=1)]
        if x.shape[0] == 0:
            raise ValueError("cannot normalize objectives: the sample has no design with finite metrics")
        lo, hi = x.min(axis=0), x.max(axis=0)
        hi = np.where(hi > lo, hi, lo + 1.0)
        return cls(tuple(float(v) for v in lo), tuple(float(v) for v in hi))

    def __call__(self, losses: np.ndarray) -> np.ndarray:
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        return (np.asarray(losses, dtype=np.float64) - lo) / (hi - lo)

    def to_dict(self) -> dict[str, Any]:
        return {"lo": list(self.lo), "hi": list(self.hi)}


class ParetoArchive:
    """The running non-dominated set of normalized losses, with the global row index of each member."""

    def __init__(self, n_objectives: int):
        self.points = np.zeros((0, n_objectives))
        self.rows = np.zeros(0, dtype=np.int64)

    def add(self, normalized: np.ndarray, rows: np.ndarray) -> None:
        """Merge a batch (only feasible rows should be passed) and drop everything dominated."""
        pts = np.vstack([self.points, np.asarray(normalized, dtype=np.float64)])
        idx = np.concatenate([self.rows, np.asarray(rows, dtype=np.int64)])
        keep = np.all(np.isfinite(pts), axis=1)
        pts, idx = pts[keep], idx[keep]
        nd = non_dominated(pts)
        self.points, self.rows = pts[nd], idx[nd]

    def hypervolume(self, ref: float | np.ndarray = HV_REFERENCE) -> float:
        return hypervolume(self.points, ref)
