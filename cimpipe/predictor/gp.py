"""A Gaussian process on the log error rate (Matern kernel, one length scale per feature), as tensors."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch

from cimpipe.predictor.mlp import standardization
from cimpipe.predictor.settings import PredictorSettings
from cimpipe.predictor.trees import ERROR_FLOOR, accuracy_from_error, error_target


GP_NU = 2.5
"""Smoothness of the Gaussian process's Matern kernel (twice differentiable)."""


def fit_gp(feats: np.ndarray, acc: np.ndarray, settings: PredictorSettings) -> dict[str, torch.Tensor]:
    """A Gaussian process on the log error rate (as the trees), as tensors: a Matern kernel (:data:`GP_NU`) with
    one length scale per standardized feature (automatic relevance determination) times an amplitude, plus
    white noise for the table's measurement noise, hyperparameters by maximum marginal likelihood (sklearn's
    GaussianProcessRegressor). Where the trees cut the space into boxes, the process interpolates smoothly
    between measured rows and learns which features matter; on the demo table the mean of the two ranks
    unseen rows better than either (``python bench/predictor_quality.py``).

    Stored: the fit rows ``x`` (standardized, divided by the length scales), the weights ``alpha`` of the
    posterior mean, the amplitude, the white-noise level (the table's noise as the process sees it, in units of
    the standardized target) and the standardizations of features and target, so that :func:`predict_gp`
    needs no sklearn.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    x_mean, x_std = standardization(feats)
    x = (feats - x_mean) / x_std
    y = error_target(acc)
    y_mean, y_std = float(y.mean()), float(max(y.std(), 1e-9))
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(x.shape[1], 3.0), (1e-2, 1e3), nu=GP_NU)
              + WhiteKernel(0.05, (1e-5, 1.0)))
    with warnings.catch_warnings():  # a length scale at its bound means an irrelevant feature, not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianProcessRegressor(kernel, random_state=settings.seed).fit(x, (y - y_mean) / y_std)
    k = model.kernel_.k1  # amplitude * Matern (the white noise does not enter the posterior mean)
    length = np.asarray(k.k2.length_scale, dtype=np.float64) * np.ones(x.shape[1])
    return {"x": torch.from_numpy(x / length), "alpha": torch.from_numpy(np.ravel(model.alpha_).astype(np.float64)),
            "amplitude": torch.tensor(float(k.k1.constant_value), dtype=torch.float64),
            "white_noise": torch.tensor(float(model.kernel_.k2.noise_level), dtype=torch.float64),
            "feature_mean": torch.from_numpy(x_mean.astype(np.float64)),
            "feature_scale": torch.from_numpy((x_std * length).astype(np.float64)),
            "target_mean": torch.tensor(y_mean, dtype=torch.float64),
            "target_std": torch.tensor(y_std, dtype=torch.float64),
            "error_floor": torch.tensor(ERROR_FLOOR, dtype=torch.float64)}


@torch.no_grad()
def predict_gp(gp: Mapping[str, torch.Tensor], x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """[D, F] unstandardized features -> [D] float64 accuracies: the posterior mean of :func:`fit_gp`'s process,
    ``amplitude * matern(|x - x_i|) @ alpha``, with ``matern(d) = (1 + s d + s^2 d^2 / 3) exp(-s d)``,
    ``s = sqrt(5)`` (nu = 5/2), in float64 so that an answer does not depend on the batch it came in."""
    root5 = math.sqrt(5.0)
    rows = gp["x"] * root5
    sq_rows = (rows ** 2).sum(1)
    mean, scale = gp["feature_mean"], gp["feature_scale"] / root5
    alpha = gp["alpha"]
    out = torch.empty(x.shape[0], dtype=torch.float64)
    for lo in range(0, x.shape[0], batch):
        xb = (x[lo: lo + batch].double() - mean) / scale
        sd = torch.addmm(sq_rows, xb, rows.T, alpha=-2.0).add_((xb ** 2).sum(1, keepdim=True)).clamp_(min=0.0).sqrt_()
        k = torch.exp(-sd).mul_(sd.square().div_(3.0).add_(sd).add_(1.0))
        out[lo: lo + batch] = k @ alpha
    return accuracy_from_error((out * gp["amplitude"]) * gp["target_std"] + gp["target_mean"], gp["error_floor"])
