"""Measuring rows of the table: each configuration on the supernet in CIM mode, over variation draws."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import polars as pl

from cimpipe.accuracy.sampling import cim_from_row, row_seed, subnet_from_row
from cimpipe.accuracy.settings import AccuracyError, AccuracySettings
from cimpipe.space import Family

RESULT_COLUMNS = ("accuracy", "loss", "n_images", "draws", "accuracy_std")
STATISTICS_IMAGES = 256
"""Validation images a row's input bit densities are read on (one digital pass)."""


def density_columns(n_slots: int) -> tuple[str, ...]:
    """The table's per-layer data statistics columns: ``input_density_{slot}``, then ``zero_read_{slot}_{rows}``
    for every block height of :data:`cimpipe.nn.statistics.ZERO_READ_ROWS`."""
    from cimpipe.nn.statistics import ZERO_READ_ROWS

    return (tuple(f"input_density_{i}" for i in range(n_slots))
            + tuple(f"zero_read_{i}_{rows}" for i in range(n_slots) for rows in ZERO_READ_ROWS))


def result_columns(n_slots: int) -> tuple[str, ...]:
    """Every column a measurement adds to the configurations: :data:`RESULT_COLUMNS` and the statistics."""
    return RESULT_COLUMNS + density_columns(n_slots)


def calibration_indices(n_train: int, settings: AccuracySettings) -> np.ndarray:
    """The fixed training-image subset used for BatchNorm recalibration of every row."""
    rng = np.random.default_rng([settings.seed, 7])
    return np.sort(rng.permutation(n_train)[: min(settings.calib_images, n_train)])


def measure_rows(model: Any, spec: Family, data: Any, configs_df: pl.DataFrame, settings: AccuracySettings,
                 device: str | Any = "cpu") -> pl.DataFrame:
    """``configs_df`` with the :func:`result_columns` measured on the validation split.

    Each row: the supernet's weights as loaded (BatchNorm statistics restored, so a row never depends on
    the rows measured before it), BatchNorm recalibrated on :func:`calibration_indices` of the training
    split, then evaluated in CIM mode with the row's settings. A row with conductance variation is evaluated
    on independent variation draws (:func:`row_seed` of the row and draw) until :func:`enough_draws`; its
    accuracy and loss are the draws' means. One draw's accuracy spreads by points where a coarse ADC meets
    variation (on the demo, 1.2 points standard deviation between draws below 90 % accuracy, 0.5 above:
    ``python bench/accuracy_noise.py``), as much as the predictor fitted on the table may err, so the table
    stores the expectation over dies. Each row's per-layer input bit densities (what the array energy follows,
    :mod:`cimpipe.nn.statistics`) are read on the first :data:`STATISTICS_IMAGES` validation images in one
    digital pass (NaN for the slots the row does not use).
    """
    import torch

    from cimpipe.nn.evaluate import evaluate_calibrated, normalize_images, recalibrate_bn
    from cimpipe.nn.statistics import input_densities

    if len(data.val_y) == 0:
        raise AccuracyError("the prepared dataset has an empty validation split, so accuracies cannot be measured")
    n_eval = len(data.val_y) if settings.eval_images is None else min(settings.eval_images, len(data.val_y))
    val_x, val_y = np.array(data.val_x[:n_eval]), np.array(data.val_y[:n_eval])  # off the read-only memmap
    calib = np.array(data.train_x[calibration_indices(len(data.train_x), settings)])
    model = model.to(device)
    calib_batches = [normalize_images(calib[i: i + settings.batch_size], data.mean, data.std, device)
                     for i in range(0, len(calib), settings.batch_size)]
    stats_batch = normalize_images(val_x[:STATISTICS_IMAGES], data.mean, data.std, device)
    pristine = {k: v.detach().clone() for k, v in model.state_dict().items()}
    acc, loss, draws, spread, density = [], [], [], [], []
    for row in configs_df.iter_rows(named=True):
        subnet = subnet_from_row(spec, row)
        config_id = int(row["config_id"])
        model.load_state_dict(pristine)
        recalibrate_bn(model, subnet, calib_batches)
        row_acc: list[float] = []
        row_loss: list[float] = []
        while not enough_draws(row_acc, float(row["sigma"]), n_eval, settings):
            seed = row_seed(settings.seed, config_id, len(row_acc))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                top1, draw_loss = evaluate_calibrated(model, subnet, cim_from_row(row, seed), val_x, val_y,
                                                      mean=data.mean, std=data.std, batch_size=settings.batch_size)
            if not (math.isfinite(top1) and math.isfinite(draw_loss)):
                raise AccuracyError(f"configuration {config_id} measured a non-finite accuracy or loss")
            row_acc.append(float(top1))
            row_loss.append(float(draw_loss))
        acc.append(float(np.mean(row_acc)))
        loss.append(float(np.mean(row_loss)))
        draws.append(len(row_acc))
        spread.append(float(np.std(row_acc, ddof=1)) if len(row_acc) > 1 else 0.0)
        dens, zero = input_densities(model, subnet, stats_batch, spec.n_slots)
        density.append(np.concatenate([dens, zero.reshape(-1)]))
    model.load_state_dict(pristine)
    names = density_columns(spec.n_slots)
    density_table = np.stack(density) if density else np.zeros((0, len(names)))
    return configs_df.with_columns(
        pl.Series("accuracy", acc, dtype=pl.Float64),
        pl.Series("loss", loss, dtype=pl.Float64),
        pl.lit(n_eval, dtype=pl.Int64).alias("n_images"),
        pl.Series("draws", draws, dtype=pl.Int64),
        pl.Series("accuracy_std", spread, dtype=pl.Float64),
        *(pl.Series(name, density_table[:, i], dtype=pl.Float64, nan_to_null=True)
          for i, name in enumerate(names)),
    )


def enough_draws(accuracies: Sequence[float], sigma: float, n_images: int, settings: AccuracySettings) -> bool:
    """Whether a row's variation draws measured so far pin its mean accuracy down.

    Without variation one draw is exact. Otherwise at least ``draws_min`` and at most ``draws_max`` draws;
    in between, stop once the standard error of the mean, ``s / sqrt(n)``, is at most ``draw_sem``. A spread
    ``s`` estimated from two or three draws is itself noisy, so it is taken as at least half the binomial
    standard deviation ``sqrt(p (1 - p) / n_images)`` of an accuracy ``p`` on ``n_images`` images (on the
    demo the draws spread about 0.7 times that): two draws that agree by chance do not stop a row in the
    steep region where a die's accuracy varies most.
    """
    n = len(accuracies)
    if n == 0:
        return False
    if sigma == 0:
        return True
    if n < settings.draws_min:
        return False
    if n >= settings.draws_max:
        return True
    p = float(np.mean(accuracies))
    spread = float(np.std(accuracies, ddof=1)) if n > 1 else 0.0
    s = max(spread, 0.5 * math.sqrt(p * (1 - p) / max(n_images, 1)))
    return s / math.sqrt(n) <= settings.draw_sem
