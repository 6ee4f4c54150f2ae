"""Held-out scores of a prediction: rank correlation, error in accuracy points, per accuracy band."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


ACCURACY_BANDS = ((0.95, 1.0), (0.90, 0.95), (0.0, 0.90))
"""Measured-accuracy bands the held-out RMSE is also given for: a front lives in the top band, while the
collapse of coarse ADCs fills the bottom one."""


def score(pred: np.ndarray, spread: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Held-out scores: Kendall tau (scipy), RMSE and MAE in accuracy points (percent), mean spread, and the
    RMSE and row count within each of :data:`ACCURACY_BANDS` of the measured accuracy (``rmse_by_band``,
    keyed ``"90-95"`` etc.; an empty band is left out)."""
    from scipy.stats import kendalltau

    err = (pred - truth) * 100
    tau = float(kendalltau(pred, truth).statistic) if len(truth) > 1 else float("nan")
    bands = {}
    for lo, hi in ACCURACY_BANDS:
        inside = (truth >= lo) & ((truth < hi) if hi < 1.0 else (truth <= hi))
        if inside.any():
            bands[f"{lo * 100:g}-{hi * 100:g}"] = {"rows": int(inside.sum()),
                                                   "rmse_pct": float(np.sqrt(np.mean(err[inside] ** 2)))}
    return {"kendall_tau": tau if math.isfinite(tau) else None,
            "rmse_pct": float(np.sqrt(np.mean(err ** 2))), "mae_pct": float(np.mean(np.abs(err))),
            "spread_pct": float(np.mean(spread) * 100), "rmse_by_band": bands}


def gbt_baseline(feats: np.ndarray, acc: np.ndarray, fit: np.ndarray, held: np.ndarray, seed: int
                  ) -> dict[str, float]:
    """The same split scored by sklearn's HistGradientBoostingRegressor (the tree alternative)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=seed,
                                          min_samples_leaf=5).fit(feats[fit], acc[fit])  # plain, on accuracy
    pred = np.clip(model.predict(feats[held]), 0, 1)
    return score(pred, np.zeros_like(pred), acc[held])
