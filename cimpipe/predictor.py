"""The accuracy predictor: gradient-boosted trees and a Gaussian process beside an ensemble of small MLPs.

The search asks for the accuracy of hundreds of thousands of designs; the predictor answers from
:func:`cimpipe.space.features` (architecture gene values + CIM settings) and :func:`crossbar_features` (the
ADC's shortfall and the crossbar noise of every layer, from the space's layer shapes) with a mean and a
spread. Accuracy predictors in the NAS literature are MLPs on architecture encodings (once-for-all, APQ,
BatchQuant), tree ensembles (AttentiveNAS, AnalogNAS) or Gaussian processes (the surrogates of Bayesian
optimization). The prediction is ``gp_weight`` times the Gaussian process plus ``mlp_weight`` times the MLP
ensemble's mean plus the rest times the trees. The trees and the process fit the log of the error rate, and
the trees are held monotone in the features whose effect is known (:func:`predictor_trends`). On the demo
table (``python bench/predictor_quality.py``, five cross-validation folds of 292 rows) the trees alone reach
RMSE 1.49 points and Kendall tau 0.81 (300 trees at half the learning rate: 1.45 and 0.81; without the
trends 1.56 and 0.80), the process 1.41 and 0.83, their mean 1.37 and 0.83, the MLPs 2.40 and 0.65, so
``gp_weight`` defaults to 0.5 and ``mlp_weight`` to 0: the MLP ensemble gives only the spread (its members'
disagreement and the largest distance between the models). A second measurement of the table's labels would
rank its rows only to about the same tau (``python bench/label_repeatability.py``).
Trees and process are stored as tensors and evaluated without sklearn.

Protocol of :func:`fit_predictor`: rows are split into fit / held-out (``holdout`` fraction, seeded; the
fixed anchor rows always stay in fit); the model trained on the fit rows is scored on the held-out rows
(Kendall tau, RMSE / MAE in accuracy points, spread; the MLP ensemble and the trees alone beside it); then
it is retrained with the same recipe on all rows and saved. The metrics describe the recipe's error on
unseen configurations.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl
import torch

from cimpipe.space import (DeviceSummary, HardwareSpace, SearchSpace, cim_columns, feature_trends, features,
                           nearest_choice, spec_from_dict, split_cim)

FORMAT = "cimpipe-predictor-1"


class PredictorError(ValueError):
    """A predictor setting, file or query the user can fix (one sentence naming the key, file or column)."""


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictorSettings:
    """The ``predictor:`` section of a workload.

    ``ensemble`` members (different initializations and minibatch orders); ``hidden`` widths of each MLP;
    ``epochs`` passes over the fit rows in minibatches of ``batch_size``; ``lr`` Adam's learning rate
    (cosine-decayed); ``weight_decay`` AdamW's decoupled decay; ``holdout`` fraction of the rows scored
    and never fitted; ``seed`` for the split and the members; ``trees`` boosting iterations of the
    gradient-boosted trees (0: none); ``gp_weight`` the Gaussian process's share of the prediction (0: no
    Gaussian process is fitted); ``mlp_weight`` the MLP ensemble's share. The trees take the rest, or the MLP
    ensemble where there are no trees; ``mlp_weight + gp_weight`` must not exceed 1. With ``mlp_weight`` 0
    the ensemble only gives the spread.
    """

    ensemble: int = 5
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 300
    lr: float = 0.003
    holdout: float = 0.2
    seed: int = 2
    batch_size: int = 64
    weight_decay: float = 1e-4
    trees: int = 150
    mlp_weight: float = 0.0
    gp_weight: float = 0.5

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> "PredictorSettings":
        """Settings from a workload's ``predictor`` dict; unknown keys and bad values are refused."""
        section = dict(section or {})
        known = [f.name for f in fields(cls)]
        out: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise PredictorError(f"predictor.{key} is not a known setting (known: {', '.join(known)})")
            if key == "hidden":
                if (not isinstance(value, (list, tuple)) or not value
                        or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in value)):
                    raise PredictorError(f"predictor.hidden must be a non-empty list of positive integers, not {value!r}")
                out[key] = tuple(value)
            elif key in ("lr", "holdout", "weight_decay", "mlp_weight", "gp_weight"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise PredictorError(f"predictor.{key} must be a number, not {value!r}")
                if key == "lr" and value <= 0:
                    raise PredictorError(f"predictor.lr must be positive, not {value}")
                if key == "holdout" and not 0 <= value < 1:
                    raise PredictorError(f"predictor.holdout must lie in [0, 1), not {value}")
                if key in ("mlp_weight", "gp_weight") and not 0 <= value <= 1:
                    raise PredictorError(f"predictor.{key} must lie in [0, 1], not {value}")
                if key == "weight_decay" and value < 0:
                    raise PredictorError(f"predictor.weight_decay must not be negative, not {value}")
                out[key] = float(value)
            else:
                lowest = 0 if key in ("seed", "trees") else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                    raise PredictorError(f"predictor.{key} must be an integer of at least {lowest}, not {value!r}")
                out[key] = value
        mixed = out.get("mlp_weight", cls.mlp_weight) + out.get("gp_weight", cls.gp_weight)
        if mixed > 1 + 1e-12:
            raise PredictorError(f"predictor.mlp_weight + predictor.gp_weight must not exceed 1, not {mixed:g}")
        return cls(**out)


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


def _init_stack(n_members: int, sizes: Sequence[int], gen: torch.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-layer weights [M, n_in, n_out] and biases [M, 1, n_out], PyTorch's default Linear init
    (uniform in +-1/sqrt(n_in)), each member drawn independently."""
    ws, bs = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(n_in)
        ws.append(((torch.rand(n_members, n_in, n_out, generator=gen) * 2 - 1) * bound).requires_grad_())
        bs.append(((torch.rand(n_members, 1, n_out, generator=gen) * 2 - 1) * bound).requires_grad_())
    return ws, bs


def _forward(ws: Sequence[torch.Tensor], bs: Sequence[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    """[M, D, F] features -> [M, D] accuracies: SiLU MLP per member, sigmoid output (stays in 0..1)."""
    last = len(ws) - 1
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = torch.baddbmm(b, h, w)
        if i < last:
            h = torch.nn.functional.silu(h)
    return torch.sigmoid(h.squeeze(2))


def _train_stack(x: torch.Tensor, y: torch.Tensor, settings: PredictorSettings) -> "_Stacked":
    """Train all members at once as one batched network (each its own init and minibatch order).

    MSE on accuracy, AdamW with a cosine schedule; members never share a gradient, so this equals training
    them one by one, in a fraction of the time on a CPU.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: one thread is faster than two that contend
    try:
        return _train_stack_1(x, y, settings)
    finally:
        torch.set_num_threads(threads)


def _train_stack_1(x: torch.Tensor, y: torch.Tensor, settings: PredictorSettings) -> "_Stacked":
    gen = torch.Generator().manual_seed(settings.seed)
    m, n = settings.ensemble, x.shape[0]
    ws, bs = _init_stack(m, [x.shape[1], *settings.hidden, 1], gen)
    opt = torch.optim.AdamW([*ws, *bs], lr=settings.lr, weight_decay=settings.weight_decay)
    batch = min(settings.batch_size, n)
    per_epoch = math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(settings.epochs * per_epoch, 1))
    for _ in range(settings.epochs):
        order = torch.argsort(torch.rand(m, n, generator=gen), dim=1)
        for k in range(per_epoch):
            idx = order[:, k * batch: (k + 1) * batch]
            loss = torch.mean((_forward(ws, bs, x[idx]) - y[idx]) ** 2) * m
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return _Stacked(tuple(w.detach() for w in ws), tuple(b.detach() for b in bs))


@dataclass(frozen=True)
class _Stacked:
    """Ensemble weights stacked per layer: weight [M, n_in, n_out], bias [M, 1, n_out]."""

    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor, ...]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """[D, F] standardized features -> [M, D] predicted accuracies (one matmul chain per member).

        Equals :func:`_forward`; a loop of ``addmm`` with in-place activations is twice as fast on a CPU as
        one batched matmul over a broadcast input."""
        last = len(self.weights) - 1
        out = torch.empty(self.weights[0].shape[0], x.shape[0])
        for m in range(out.shape[0]):
            h = x
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                h = torch.addmm(b[m], h, w[m])
                if i < last:
                    torch.nn.functional.silu(h, inplace=True)
            out[m] = torch.sigmoid_(h.squeeze(1))
        return out


TREE_DEPTH = 3
"""Largest depth of the gradient-boosted trees (the demo table's cross-validation prefers 3 to 4 or 6)."""
TREE_LEARNING_RATE = 0.1
"""Shrinkage of each boosting iteration. 150 trees at 0.1 cross-validate as 300 at 0.05 on the demo tables
(saved blend on 300 rows: tau 0.827 / RMSE 1.37 against 0.827 / 1.36; trees alone on 900 rows: 0.832 / 1.18
against 0.834 / 1.19) and answer in half the time."""
ERROR_FLOOR = 0.005
"""The trees fit ``log(1 + ERROR_FLOOR - accuracy)``: the log of the error rate, floored at half a point."""


def _standardization(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the fit rows (a constant feature keeps a scale of 1)."""
    std = feats.std(0)
    return feats.mean(0), np.where(std > 1e-6, std, 1.0)


def _accuracy_from_error(log_err: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`_error_target` on a predicted log error rate, clamped to 0..1 (in place)."""
    return (1.0 + floor - log_err.exp_()).clamp_(0.0, 1.0)


def _error_target(acc: np.ndarray) -> np.ndarray:
    """What the trees and the Gaussian process fit: the log error rate, floored at :data:`ERROR_FLOOR`."""
    return np.log(1.0 + ERROR_FLOOR - np.clip(acc, 0.0, 1.0))


def _fit_trees(feats: np.ndarray, acc: np.ndarray, settings: PredictorSettings,
               trends: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """Gradient-boosted regression trees (sklearn's HistGradientBoostingRegressor, squared error, depth at most
    :data:`TREE_DEPTH`, leaves of at least 3 rows) on the log error rate (:data:`ERROR_FLOOR`), as tensors:
    every tree laid out as a complete binary tree of that depth. A coarse ADC multiplies a design's error
    rather than subtracting points from its accuracy, so the log error rate is the smoother target (on the demo
    table, five-fold RMSE 1.82 points and tau 0.80 against 2.05 and 0.78 on accuracy itself).

    Split ``i`` of a tree sends ``x`` to child ``2 i + 1`` when ``x[feature[i]] <= threshold[i]`` and to
    ``2 i + 2`` otherwise; a leaf reached early passes its value down (threshold +inf). ``feature`` and
    ``threshold`` are [T, 2**depth - 1], ``value`` (learning rate applied) [T, 2**depth], so
    :func:`_predict_trees` needs no sklearn and the predictor file holds tensors only.

    ``trends`` (int [F], see :func:`predictor_trends`) constrains the trees' answer to fall or rise
    monotonically in a feature (sklearn's ``monotonic_cst``): a finer ADC or less variation, which moves every
    feature it enters the same way, never predicts a worse design.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=settings.trees, learning_rate=TREE_LEARNING_RATE, min_samples_leaf=3,
                                          max_depth=TREE_DEPTH, random_state=settings.seed,
                                          monotonic_cst=None if trends is None else [int(t) for t in trends])
    model.fit(feats.astype(np.float64), _error_target(acc))
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
def _predict_trees(trees: Mapping[str, torch.Tensor], x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """[D, F] float32 unstandardized features -> [D] float64 accuracies predicted by :func:`_fit_trees`' trees
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
        return _accuracy_from_error(out, trees["error_floor"])
    return out.clamp_(0.0, 1.0)


GP_NU = 2.5
"""Smoothness of the Gaussian process's Matern kernel (twice differentiable)."""


def _fit_gp(feats: np.ndarray, acc: np.ndarray, settings: PredictorSettings) -> dict[str, torch.Tensor]:
    """A Gaussian process on the log error rate (as the trees), as tensors: a Matern kernel (:data:`GP_NU`) with
    one length scale per standardized feature (automatic relevance determination) times an amplitude, plus
    white noise for the table's measurement noise, hyperparameters by maximum marginal likelihood (sklearn's
    GaussianProcessRegressor). Where the trees cut the space into boxes, the process interpolates smoothly
    between measured rows and learns which features matter; on the demo table the mean of the two ranks
    unseen rows better than either (``python bench/predictor_quality.py``).

    Stored: the fit rows ``x`` (standardized, divided by the length scales), the weights ``alpha`` of the
    posterior mean, the amplitude, the white-noise level (the table's noise as the process sees it, in units of
    the standardized target) and the standardizations of features and target, so that :func:`_predict_gp`
    needs no sklearn.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    x_mean, x_std = _standardization(feats)
    x = (feats - x_mean) / x_std
    y = _error_target(acc)
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
def _predict_gp(gp: Mapping[str, torch.Tensor], x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """[D, F] unstandardized features -> [D] float64 accuracies: the posterior mean of :func:`_fit_gp`'s process,
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
    return _accuracy_from_error((out * gp["amplitude"]) * gp["target_std"] + gp["target_mean"], gp["error_floor"])


def _blend(members: torch.Tensor, trees: torch.Tensor | None, gp: torch.Tensor | None, mlp_weight: float,
           gp_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction and spread from the MLP members' [M, D] predictions, the trees' [D] and the Gaussian
    process's [D] (either may be absent): ``mlp_weight`` times the ensemble's mean plus ``gp_weight`` times
    the process plus the rest times the trees (or the ensemble, without trees). The spread combines the
    members' standard deviation and half the largest distance between the models in quadrature."""
    mean, spread = members.mean(0).double(), members.std(0, unbiased=False).double()
    models = [m for m in (mean, trees, gp) if m is not None]
    if len(models) == 1:
        return mean, spread
    stacked = torch.stack(models)
    gap = stacked.amax(0) - stacked.amin(0)
    if gp is None:
        gp, gp_weight = mean, 0.0
    rest = trees if trees is not None else mean
    pred = mlp_weight * mean + gp_weight * gp + (1.0 - mlp_weight - gp_weight) * rest
    return pred, torch.sqrt(spread ** 2 + (gap / 2) ** 2)


# --------------------------------------------------------------------------------------------------
# The predictor
# --------------------------------------------------------------------------------------------------


def _gene_table(space: SearchSpace) -> list[tuple[str, list]]:
    return [(g.name, [c.item() if hasattr(c, "item") else c for c in g.choices]) for g in space.arch_genes]


def _cim_ranges(table: pl.DataFrame) -> dict[str, Any]:
    """The CIM settings the predictor may be asked about: the intervals its table was measured over
    (between measured values it interpolates; beyond them it refuses). Per-layer ADC columns share one."""
    def span(name: str) -> list[float]:
        return [float(table[name].min()), float(table[name].max())]

    adc = [c for c in table.columns if c == "adc_bits" or c.startswith("adc_bits_")]
    adc_span = [min(span(c)[0] for c in adc), max(span(c)[1] for c in adc)]
    return {"adc_bits": adc_span, "cell_bits": span("cell_bits"), "rows_parallel": span("rows_parallel"),
            "sigma": [0.0, float(table["sigma"].max())], "on_off_ratio": [float(table["on_off_ratio"].min()), math.inf]}


def _space_from_spec(spec_dict: dict[str, Any], cim: dict[str, Any], per_layer_adc: bool) -> SearchSpace:
    """A search space with the stored architecture and a hardware part spanning the table's CIM range
    (only the architecture genes enter the features)."""
    spec = spec_from_dict(spec_dict)
    hw = HardwareSpace(technologies=("table",), adc_bits=tuple(cim["adc_bits"]), cell_bits=tuple(cim["cell_bits"]),
                       rows_parallel=tuple(cim["rows_parallel"]), per_layer=("adc_bits",) if per_layer_adc else ())
    return SearchSpace(spec, hw, {"table": DeviceSummary(cim["sigma"][1], cim["on_off_ratio"][0], max(cim["cell_bits"]))})


def _columns(values: Any, names: Sequence[str], what: str) -> np.ndarray:
    """float64 [D, len(names)] from an array in that column order or a mapping / DataFrame by column name."""
    if isinstance(values, pl.DataFrame) or isinstance(values, Mapping):
        cols = []
        for n in names:
            if n not in values:
                raise PredictorError(f"the {what} lack the column {n!r}")
            cols.append(np.asarray(values[n], dtype=np.float64))
        if not cols:
            return np.zeros((0, 0))
        return np.stack(cols, axis=1)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise PredictorError(f"the {what} must have {len(names)} columns ({', '.join(names[:3])}, ...), not shape {arr.shape}")
    return arr


NSR_FLOOR = 1e-6
"""Noise-to-signal ratios below this read as this in the log-scaled crossbar features (an error of 0.1 %)."""


def crossbar_features(space: SearchSpace, arch: np.ndarray, cim: np.ndarray,
                      layers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """float32 [D, 7 + 2 * n_slots]: how far each design's ADC falls short of its partial sums' range, and the
    noise the crossbar adds to each layer relative to its signal.

    Per active weight layer, with the differential arrays of :mod:`cimpipe.nn.cim` (``m = w_bits - 1``
    magnitude bits in ``S = ceil(m / cell_bits)`` cells per array, input bits fed serially):

    * ADC range: one read of ``r = min(rows_parallel, c_in * k * k)`` cells sums to at most
      ``F = r * (2**min(cell_bits, m) - 1 + g_off)`` level steps, ``g_off = (2**cell_bits - 1) / (on_off - 1)``
      the off-state conductance (NeuroSim's partial-sum range). The shortfall ``max(0, log2 F - adc_bits)``
      is the ADC bits missing to resolve every level.
    * ADC noise: an ADC step ``q = F / (2**adc_bits - 1)`` (the dynamic ADC's references span the sums' range,
      not the cells' levels) rounds each partial sum by ``q**2 / 12`` in variance (uniform quantization
      noise); the shift-add weighs slice ``s`` by ``2**(cell_bits * s)`` and input bit ``t`` by ``2**t``,
      over ``ceil(fan_in / r)`` row groups and two arrays. Relative to the variance of the exact dot product (uniform codes:
      ``fan_in * E[x^2] * E[w^2]``, ``E[w^2] = (2**m - 1)**2 / 3``) that is
      ``NSR_adc = 2 * groups * q**2 / 12 * sum_s 4**(cell_bits * s) * 3 / (2**m - 1)**2 / fan_in``.
    * Variation: every cell's conductance is scaled by ``1 + sigma * N(0, 1)``, an on cell's error is
      ``sigma`` of its weight share and each of the ``2 S`` cells adds ``sigma * g_off`` of its slice's weight
      even when off, so ``NSR_var = sigma**2 * (1 + 2 g_off**2 * sum_s 4**(cell_bits * s) * 3 / (2**m - 1)**2)``.

    Columns: the shortfall's maximum, mean, MAC-weighted mean and share of layers short (over 4 bits);
    ``log10`` of the summed and the largest layer NSR (over 6, floored at :data:`NSR_FLOOR`); the shortfall per
    slot; ``log10`` NSR per slot. The demo table's accuracy falls off a cliff where these grow: a coarse ADC
    on wide row groups. ``layers``: the designs' :meth:`SearchSpace.layer_arrays`, where the caller has them.
    """
    if layers is None:
        layers = space.layer_arrays(space.genes_from_arch_values(arch))
    active = layers["active"]
    parts = split_cim(cim, space.spec.n_slots)
    # rows one column sums over: a grouped (depthwise) layer's block-diagonal column holds only its group's
    fan_in = np.maximum(layers["c_in"] / layers["groups"] * layers["k"] ** 2, 1.0)
    adc, cell, rows = parts["adc_bits"], parts["cell_bits"], parts["rows_parallel"]  # adc: [D, 1] or per layer
    sigma, on_off = parts["sigma"], np.minimum(parts["on_off_ratio"], 1e6)
    mag = np.maximum(layers["weight_bits"] - 1, 1.0)
    r = np.maximum(np.minimum(rows, fan_in), 1.0)
    g_off = (2.0 ** cell - 1) / (on_off - 1)
    full = r * (2.0 ** np.minimum(cell, mag) - 1 + g_off)
    short = np.where(active, np.maximum(np.log2(full) - adc, 0.0), 0.0)
    step = full / (2.0 ** adc - 1)
    slices = np.ceil(mag / cell)
    slice_gain = (4.0 ** (cell * slices) - 1) / (4.0 ** cell - 1) * 3 / (2.0 ** mag - 1) ** 2
    groups = np.ceil(fan_in / r)
    nsr_adc = 2 * groups * step ** 2 / 12 * slice_gain / fan_in
    nsr_var = sigma ** 2 * (1 + 2 * g_off ** 2 * slice_gain)
    nsr = np.where(active, nsr_adc + nsr_var, 0.0)
    n_active = active.sum(1)
    macs = layers["ifm_h"] * layers["ifm_w"] * fan_in * layers["c_out"] * active

    def log_nsr(x: np.ndarray) -> np.ndarray:
        return np.log10(np.maximum(x, NSR_FLOOR)) / 6

    summary = np.stack([
        short.max(1) / 4, short.sum(1) / n_active / 4, (short * macs).sum(1) / np.maximum(macs.sum(1), 1.0) / 4,
        (short > 0).sum(1) / n_active, log_nsr(nsr.sum(1)), log_nsr(nsr.max(1)),
        log_nsr(np.where(active, nsr_adc, 0.0).sum(1)),
    ], axis=1)
    return np.concatenate([summary, short / 4, log_nsr(nsr)], axis=1).astype(np.float32)


def predictor_trends(space: SearchSpace) -> np.ndarray:
    """int [F]: how the expected error rate moves with each column of :meth:`Predictor.features`: the trends of
    :func:`cimpipe.space.feature_trends`, then +1 for every column of :func:`crossbar_features` (a larger ADC
    shortfall or crossbar noise never helps)."""
    n_xbar = 7 + 2 * space.spec.n_slots
    return np.concatenate([feature_trends(space), np.ones(n_xbar, dtype=np.int64)])


def _off_choices(col: np.ndarray, choices: np.ndarray) -> np.ndarray:
    """bool [D]: which values of ``col`` lie further than 1e-6 from every one of ``choices`` (NaN and inf
    included)."""
    return ~(nearest_choice(col, choices)[1] <= 1e-6)


class Predictor:
    """A fitted ensemble with what it needs to check queries: the genes' names and choices, the CIM range."""

    def __init__(self, state: dict[str, Any], space: SearchSpace | None = None) -> None:
        self.state = state
        self.genes: list[tuple[str, list]] = [(n, list(c)) for n, c in state["arch_genes"]]
        self.cim_ranges: dict[str, Any] = state["cim_ranges"]
        self.per_layer_adc = bool(state.get("per_layer_adc", False))
        self.space = space if space is not None else _space_from_spec(state["spec"], self.cim_ranges,
                                                                      self.per_layer_adc)
        self.check_space(self.space)
        self.cim_columns = cim_columns(self.space.spec.n_slots, self.per_layer_adc)
        self._mean = torch.as_tensor(state["feature_mean"], dtype=torch.float32)
        self._std = torch.as_tensor(state["feature_std"], dtype=torch.float32)
        self._net = _Stacked(tuple(state["weights"]), tuple(state["biases"]))
        self._trees: dict[str, torch.Tensor] | None = state.get("trees")
        self._gp: dict[str, torch.Tensor] | None = state.get("gp")
        self._mlp_weight = float(state.get("mlp_weight", 0.5))  # files written before the weight: the plain mean
        self._gp_weight = float(state.get("gp_weight", 0.0))
        self._choices = [np.asarray(c, dtype=np.float64) for _, c in self.genes]

    @property
    def arch_columns(self) -> list[str]:
        return [n for n, _ in self.genes]

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.state.get("metrics", {}))

    def check_space(self, space: SearchSpace) -> None:
        """Refuse a space whose architecture genes differ from the ones the predictor was fitted on, or that
        sets the ADC bits per layer where the predictor's table did not (or the reverse)."""
        if space.per_layer_adc != self.per_layer_adc:
            how = {True: "one ADC resolution per layer", False: "one ADC resolution for all layers"}
            raise PredictorError(f"the predictor was fitted with {how[self.per_layer_adc]} but this search space "
                                 f"has {how[space.per_layer_adc]} (hardware_space.per_layer); refit it for this space")
        mine = self.genes
        theirs = _gene_table(space)
        if [n for n, _ in mine] != [n for n, _ in theirs]:
            raise PredictorError(
                f"the predictor was fitted on {len(mine)} architecture genes ({mine[0][0]}..{mine[-1][0]}) but this "
                f"search space has {len(theirs)} ({theirs[0][0]}..{theirs[-1][0]}); refit it for this space")
        for (name, a), (_, b) in zip(mine, theirs):
            if len(a) != len(b) or not np.allclose(np.asarray(a, float), np.asarray(b, float)):
                raise PredictorError(f"gene {name} has the choices {b} in this search space but {a} in the predictor; "
                                     f"refit the predictor for this space")

    # queries ------------------------------------------------------------------------------------
    def _checked(self, arch_values: Any, cim_values: Any) -> tuple[np.ndarray, np.ndarray]:
        arch = _columns(arch_values, self.arch_columns, "architecture values")
        cim = _columns(cim_values, self.cim_columns, "CIM values")
        if arch.shape[0] != cim.shape[0]:
            raise PredictorError(f"architecture values have {arch.shape[0]} rows but CIM values have {cim.shape[0]}")
        for j, (name, choices) in enumerate(zip(self.arch_columns, self._choices)):
            col = arch[:, j]
            off = _off_choices(col, choices)
            if off.any():
                raise PredictorError(f"column {name} holds {col[off][0]:g}, which is not one of its choices "
                                     f"{self.genes[j][1]}")
        for j, name in enumerate(self.cim_columns):
            col = cim[:, j]
            allowed = self.cim_ranges["adc_bits" if name.startswith("adc_bits") else name]
            lo, hi = allowed[0], allowed[-1]
            off = np.isnan(col) | (col < lo * (1 - 1e-9) - 1e-12) | (col > hi * (1 + 1e-9) + 1e-12)
            what = f"outside the range the accuracy table covers [{lo:g}, {hi:g}]"
            if off.any():
                raise PredictorError(f"column {name} holds {col[off][0]:g}, {what}")
        return arch, cim

    def features(self, arch_values: Any, cim_values: Any) -> np.ndarray:
        """The checked, unstandardized feature matrix float32 [D, F]."""
        arch, cim = self._checked(arch_values, cim_values)
        layers = self.space.layer_arrays(self.space.genes_from_arch_values(self.space.canonical_arch_values(arch)))
        return np.concatenate([features(self.space, arch, cim, layers), crossbar_features(self.space, arch, cim, layers)],
                              axis=1)

    @torch.no_grad()
    def predict(self, arch_values: Any, cim_values: Any, batch: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """Mean and ensemble std of predicted top-1 accuracy (0..1), float64 [D] each.

        ``arch_values`` [D, n_arch] in ``SearchSpace.arch_genes`` order (``SearchSpace.arch_values``) or a
        mapping / DataFrame with the gene columns; ``cim_values`` [D, C] in ``cim_columns`` order
        (``SearchSpace.cim_values``) or with those columns.
        """
        feats = torch.from_numpy(self.features(arch_values, cim_values))
        if feats.shape[1] != self._mean.shape[0]:
            raise PredictorError(f"the predictor was fitted on {self._mean.shape[0]} features but this version of "
                                 f"cimpipe computes {feats.shape[1]}; refit it (snakemake reruns fit_predictor)")
        means, stds = [], []
        for lo in range(0, feats.shape[0], batch):
            part = feats[lo: lo + batch]
            out = self._net((part - self._mean) / self._std)
            mean, spread = _blend(out, None if self._trees is None else _predict_trees(self._trees, part),
                                  None if self._gp is None else _predict_gp(self._gp, part),
                                  self._mlp_weight, self._gp_weight)
            means.append(mean)
            stds.append(spread)
        if not means:
            return np.zeros(0), np.zeros(0)
        return torch.cat(means).double().numpy(), torch.cat(stds).double().numpy()

    def predict_table(self, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Predictions for the rows of an accuracy-table-shaped DataFrame."""
        return self.predict(table, table)

    # files --------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the predictor atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            torch.save(self.state, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | None = None) -> "Predictor":
        """Read a predictor file; with ``space``, refuse it when the space's architecture genes differ."""
        path = Path(path)
        if not path.is_file():
            raise PredictorError(f"the predictor file {path} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a corrupt or foreign file: say which
            raise PredictorError(f"the predictor file {path} cannot be read ({type(e).__name__})") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise PredictorError(f"the file {path} is not a cimpipe predictor ({FORMAT})")
        return cls(state, space)


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------


def _check_table(table: pl.DataFrame, space: SearchSpace) -> None:
    needed = [g.name for g in space.arch_genes] + list(space.cim_columns) + ["accuracy"]
    for c in needed:
        if c not in table.columns:
            raise PredictorError(f"the accuracy table lacks the column {c!r}")
    acc = table["accuracy"].to_numpy()
    if not np.all(np.isfinite(acc)) or acc.min() < 0 or acc.max() > 1:
        raise PredictorError("the accuracy table's column 'accuracy' must hold finite values in 0..1")


def split_rows(table: pl.DataFrame, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) row positions: ``round(holdout * rows)`` held out, drawn from the non-anchor rows."""
    n = table.height
    anchor = table["anchor"].to_numpy() if "anchor" in table.columns else np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(~anchor)
    rng = np.random.default_rng([seed, 11])
    k = min(int(round(holdout * n)), len(candidates))
    held = np.sort(rng.permutation(candidates)[:k])
    fit = np.setdiff1d(np.arange(n), held)
    return fit, held


def _train_ensemble(feats: np.ndarray, acc: np.ndarray, settings: PredictorSettings
                    ) -> tuple[_Stacked, np.ndarray, np.ndarray]:
    mean, std = _standardization(feats)
    x = torch.from_numpy(((feats - mean) / std).astype(np.float32))
    y = torch.from_numpy(acc.astype(np.float32))
    return _train_stack(x, y, settings), mean.astype(np.float32), std.astype(np.float32)


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


def _gbt_baseline(feats: np.ndarray, acc: np.ndarray, fit: np.ndarray, held: np.ndarray, seed: int
                  ) -> dict[str, float]:
    """The same split scored by sklearn's HistGradientBoostingRegressor (the tree alternative)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=seed,
                                          min_samples_leaf=5).fit(feats[fit], acc[fit])  # plain, on accuracy
    pred = np.clip(model.predict(feats[held]), 0, 1)
    return score(pred, np.zeros_like(pred), acc[held])


def fit_predictor(table: pl.DataFrame, space: SearchSpace, settings: PredictorSettings, out_path: str | Path,
                  metrics_path: str | Path) -> dict[str, Any]:
    """Fit the predictor on an accuracy table, score it on held-out rows, refit on all rows, save both files.

    Writes ``out_path`` (the predictor, loaded by :meth:`Predictor.load`) and ``metrics_path`` (JSON: the
    held-out ``kendall_tau``, ``rmse_pct``, ``mae_pct``, ``spread_pct`` of the saved model, row counts, the
    MLP ensemble's, the gradient-boosted trees' and the Gaussian process's own scores on the same split as
    ``mlp_ensemble``, ``baseline_gbt`` and ``gaussian_process``, fit seconds). Returns the metrics.
    """
    _check_table(table, space)
    start = time.perf_counter()
    genes = _gene_table(space)
    state_base = {"format": FORMAT, "arch_genes": genes, "cim_ranges": _cim_ranges(table),
                  "per_layer_adc": space.per_layer_adc,
                  "spec": json.loads(json.dumps(asdict(space.spec))), "hidden": list(settings.hidden)}
    checker = Predictor({**state_base, "feature_mean": [0.0], "feature_std": [1.0],
                         "weights": [torch.zeros(1, 1, 1)], "biases": [torch.zeros(1, 1, 1)]}, space)
    feats = checker.features(table, table)
    acc = table["accuracy"].to_numpy().astype(np.float64)
    fit, held = split_rows(table, settings.holdout, settings.seed)
    if len(fit) < 2:
        raise PredictorError(f"the accuracy table has {table.height} rows, too few to fit a predictor")

    mlp = f"mlp-ensemble x{settings.ensemble} {list(settings.hidden)}"
    rest = 1 - settings.mlp_weight - settings.gp_weight
    parts = []
    if settings.trees:
        parts.append(f"gradient-boosted trees x{settings.trees} (log error rate, depth {TREE_DEPTH}, monotone in "
                     f"bits, ADC, variation and on/off ratio) weighted {rest:g}")
    if settings.gp_weight:
        parts.append(f"a Gaussian process (log error rate, Matern {GP_NU:g}, one length scale per feature) "
                     f"weighted {settings.gp_weight:g}")
    mlp_share = settings.mlp_weight + (0 if settings.trees else rest)
    model = ", ".join(parts + [f"{mlp} weighted {mlp_share:g}"]) if parts else mlp
    trends = predictor_trends(space)
    metrics: dict[str, Any] = {"model": model,
                               "final_fit": "all rows (same recipe)", "rows_total": table.height,
                               "rows_fit": int(len(fit)), "rows_heldout": int(len(held)),
                               "settings": {**asdict(settings), "hidden": list(settings.hidden)}}
    if len(held) >= 2:
        net, mean, std = _train_ensemble(feats[fit], acc[fit], settings)
        out = net(torch.from_numpy((feats[held] - mean) / std))
        held_x = torch.from_numpy(feats[held])
        trees = _predict_trees(_fit_trees(feats[fit], acc[fit], settings, trends), held_x) if settings.trees else None
        gp = _predict_gp(_fit_gp(feats[fit], acc[fit], settings), held_x) if settings.gp_weight else None
        pred, spread = _blend(out, trees, gp, settings.mlp_weight, settings.gp_weight)
        metrics.update(score(pred.numpy(), spread.numpy(), acc[held]))
        metrics["mlp_ensemble"] = score(out.mean(0).double().numpy(), out.std(0, unbiased=False).double().numpy(),
                                        acc[held])
        metrics["baseline_gbt"] = score(trees.numpy(), np.zeros(len(held)), acc[held]) if trees is not None \
            else _gbt_baseline(feats, acc, fit, held, settings.seed)
        if gp is not None:
            metrics["gaussian_process"] = score(gp.numpy(), np.zeros(len(held)), acc[held])
    else:
        metrics.update({"kendall_tau": None, "rmse_pct": None, "mae_pct": None, "spread_pct": None})
    net, mean, std = _train_ensemble(feats, acc, settings)
    state = {**state_base, "feature_mean": torch.from_numpy(mean), "feature_std": torch.from_numpy(std),
             "weights": list(net.weights), "biases": list(net.biases), "metrics": metrics,
             "mlp_weight": settings.mlp_weight, "gp_weight": settings.gp_weight}
    if settings.trees:
        state["trees"] = _fit_trees(feats, acc, settings, trends)
    if settings.gp_weight:
        state["gp"] = _fit_gp(feats, acc, settings)
    metrics["fit_seconds"] = round(time.perf_counter() - start, 3)
    Predictor(state, space).save(out_path)
    metrics_path = Path(metrics_path)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = metrics_path.with_name(f".{metrics_path.name}.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, metrics_path)
    return metrics
