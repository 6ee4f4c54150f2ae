"""Stratified, seeded index selection: held-out validation/test splits and size caps keep class proportions."""

from __future__ import annotations

import numpy as np


def split_rng(seed: int, purpose: int) -> np.random.Generator:
    """An independent generator per (seed, purpose), so changing one cap never moves another split."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, purpose])))


def stratified_sample(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``count`` items of ``labels`` with every class in proportion to its frequency.

    Per-class quotas use largest-remainder rounding (ties to the smaller class id), so the total is exactly
    ``count``; members of a class are drawn uniformly without replacement.
    """
    n = len(labels)
    if count >= n:
        return np.arange(n)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = counts * (count / n)
    take = np.floor(quota).astype(np.int64)
    extra = count - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:extra]] += 1
    by_class = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    chosen = [
        rng.permutation(by_class[starts[c]:starts[c + 1]])[: take[c]] for c in range(len(classes))
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def hold_out(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split positions into (kept, held) with ``round(fraction * n)`` held out, stratified by class."""
    held = stratified_sample(labels, int(round(fraction * len(labels))), rng)
    kept = np.setdiff1d(np.arange(len(labels)), held, assume_unique=True)
    return kept.astype(np.int64), held
