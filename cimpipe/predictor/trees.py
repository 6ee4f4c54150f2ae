"""Gradient-boosted trees on the log error rate, monotone in the features with a known trend, as tensors."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch

from cimpipe.predictor.settings import PredictorSettings


TREE_DEPTH = 3
"""Largest depth of the gradient-boosted trees (the demo table's cross-validation prefers 3 to 4 or 6)."""
TREE_LEARNING_RATE = 0.1
"""Shrinkage of each boosting iteration. 150 trees at 0.1 cross-validate as 300 at 0.05 on the demo tables
(saved blend on 300 rows: tau 0.827 / RMSE 1.37 against 0.827 / 1.36; trees alone on 900 rows: 0.832 / 1.18
against 0.834 / 1.19) and answer in half the time."""
ERROR_FLOOR = 0.005
"""The trees fit ``log(1 + ERROR_FLOOR - accuracy)``: the log of the error rate, floored at half a point."""


def accuracy_from_error(log_err: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`error_target` on a predicted log error rate, clamped to 0..1 (in place)."""
    return (1.0 + floor - log_err.exp_()).clamp_(0.0, 1.0)


def error_target(acc: np.ndarray) -> np.ndarray:
    """What the trees and the Gaussian process fit: the log error rate, floored at :data:`ERROR_FLOOR`."""
    return np.log(1.0 + ERROR_FLOOR - np.clip(acc, 0.0, 1.0))


def fit_trees(feats: np.ndarray, acc: np.ndarray, settings: PredictorSettings,
               trends: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """Gradient-boosted regression trees (sklearn's HistGradientBoostingRegressor, squared error, depth at most
    :data:`TREE_DEPTH`, leaves of at least 3 rows) on the log error rate (:data:`ERROR_FLOOR`), as tensors:
    every tree laid out as a complete binary tree of that depth. A coarse ADC multiplies a design's error
    rather than subtracting points from its accuracy, so the log error rate is the smoother target (on the demo
    table, five-fold RMSE 1.82 points and tau 0.80 against 2.05 and 0.78 on accuracy itself).

    Split ``i`` of a tree sends ``x`` to child ``2 i + 1`` when ``x[feature[i]] <= threshold[i]`` and to
    ``2 i + 2`` otherwise; a leaf reached early passes its value down (threshold +inf). ``feature`` and
    ``threshold`` are [T, 2**depth - 1], ``value`` (learning rate applied) [T, 2**depth], so
    :func:`predict_trees` needs no sklearn and the predictor file holds tensors only.

    ``trends`` (int [F], see :func:`predictor_trends`) constrains the trees' answer to fall or rise
    monotonically in a feature (sklearn's ``monotonic_cst``): a finer ADC or less variation, which moves every
    feature it enters the same way, never predicts a worse design.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=settings.trees, learning_rate=TREE_LEARNING_RATE, min_samples_leaf=3,
                                          max_depth=TREE_DEPTH, random_state=settings.seed,
                                          monotonic_cst=None if trends is None else [int(t) for t in trends])
    model.fit(feats.astype(np.float64), error_target(acc))
    trees = [predictors[0].nodes for predictors in model._predictors]
    depth = max(1, int(max(nodes["depth"].max() for nodes in trees)))
    n_split = 2**depth - 1
    feature = np.zeros((len(trees), n_split), dtype=np.int64)
    threshold = np.full((len(trees), n_split), np.inf)
    value = np.zeros((len(trees), 2**depth))
    for t, nodes in enumerate(trees):
        stack = [(0, 0, 0)]  # (sklearn node, position in the complete tree, level)
        while stack:
            node, pos, level = stack.pop()
            if level == depth:
                value[t, pos - n_split] = nodes["value"][node]
            elif nodes["is_leaf"][node]:
                stack += [(node, 2 * pos + 1, level + 1), (node, 2 * pos + 2, level + 1)]
            else:
                feature[t, pos], threshold[t, pos] = nodes["feature_idx"][node], nodes["num_threshold"][node]
                stack += [(int(nodes["left"][node]), 2 * pos + 1, level + 1),
                          (int(nodes["right"][node]), 2 * pos + 2, level + 1)]
    return {"feature": torch.from_numpy(feature), "threshold": torch.from_numpy(threshold),
            "value": torch.from_numpy(value),
            "baseline": torch.tensor(float(np.ravel(model._baseline_prediction)[0]), dtype=torch.float64),
            "error_floor": torch.tensor(ERROR_FLOOR, dtype=torch.float64)}


@torch.no_grad()
def predict_trees(trees: Mapping[str, torch.Tensor], x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """[D, F] float32 unstandardized features -> [D] float64 accuracies predicted by :func:`fit_trees`' trees
    (all trees descend one level per step; trees without an ``error_floor`` predict accuracy directly).

    The comparisons run in float32: for a float32 ``x``, ``x <= t`` equals ``x <= t32`` with ``t32`` the largest
    float32 not above the float64 threshold ``t``, so the answers are sklearn's (half the memory traffic)."""
    n_trees, n_split = trees["feature"].shape
    depth = int(n_split + 1).bit_length() - 1
    feature = trees["feature"].reshape(-1)
    t64 = trees["threshold"].reshape(-1)
    t32 = t64.float()
    threshold = torch.where(t32.double() > t64, torch.nextafter(t32, torch.tensor(-math.inf)), t32)
    split_base = torch.arange(n_trees) * n_split
    leaf_base = torch.arange(n_trees) * (n_split + 1) - n_split
    x = x.float()
    out = torch.empty(x.shape[0], dtype=torch.float64)
    for lo in range(0, x.shape[0], batch):
        xb = x[lo: lo + batch]
        pos = torch.zeros(xb.shape[0], n_trees, dtype=torch.int64)
        for _ in range(depth):
            at = pos + split_base
            right = xb.gather(1, feature[at]) > threshold[at]
            pos = pos * 2 + 1 + right
        out[lo: lo + batch] = trees["value"].reshape(-1)[pos + leaf_base].sum(1) + trees["baseline"]
    if "error_floor" in trees:
        return accuracy_from_error(out, trees["error_floor"])
    return out.clamp_(0.0, 1.0)
