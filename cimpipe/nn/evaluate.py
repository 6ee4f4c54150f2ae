"""Batch-norm recalibration and evaluation of one sub-network.

Once-for-all re-estimates the shared BN's running statistics for every sub-network before evaluating it
(2000 training images in batches of 200); with per-layer mixed precision this is the practical way to
get correct statistics for every width and bit-width combination.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cimpipe.nn.vgg import Supernet
from cimpipe.space import CIMSettings, SpaceError, SubnetConfig


def normalize_images(images: np.ndarray, mean: Sequence[float], std: Sequence[float],
                     device: torch.device | str = "cpu") -> Tensor:
    """uint8 NHWC images -> float32 NCHW, ``(x / 255 - mean) / std`` per channel (mean/std on the 0..1 scale)."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).to(device)  # memory maps are read-only
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return (x - m) / s


def _bn_modules(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(model: Supernet, subnet: SubnetConfig, batches: Iterable[Tensor],
                   cim: CIMSettings | None = None) -> None:
    """Re-estimate every BN layer's running statistics for ``subnet`` from ``batches`` of normalised images.

    The statistics become the plain average over the batches (momentum None); the rest of the model is
    left in the mode it was in, and the quantizers and weights are not changed.
    """
    bns = _bn_modules(model)
    was_training = model.training
    saved = [(bn.momentum, bn.training) for bn in bns]
    seen = 0
    try:
        model.eval()
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        for x in batches:
            model(x, subnet, cim)
            seen += 1
    finally:
        for bn, (momentum, training) in zip(bns, saved):
            bn.momentum = momentum
            bn.train(training)
        model.train(was_training)
    if seen == 0:
        raise SpaceError("batch-norm recalibration needs at least one batch of calibration images")


def _batches(x: Tensor, batch_size: int) -> list[Tensor]:
    return [x[i : i + batch_size] for i in range(0, x.shape[0], batch_size)]


@torch.no_grad()
def evaluate_subnet(
    model: Supernet,
    subnet: SubnetConfig,
    cim: CIMSettings | None,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    calib_images: np.ndarray,
    batch_size: int = 200,
) -> tuple[float, float]:
    """Top-1 accuracy in [0, 1] and mean cross-entropy of ``subnet`` on uint8 NHWC ``images``.

    BN statistics are first re-estimated on ``calib_images`` (training images) in the digital forward
    pass: they belong to the network, and the crossbar's errors (``cim``) are then seen uncorrected.
    """
    _check_images(images, labels)
    device = next(model.parameters()).device
    calib = normalize_images(calib_images, mean, std, device)
    recalibrate_bn(model, subnet, _batches(calib, batch_size))
    return evaluate_calibrated(model, subnet, cim, images, labels, mean=mean, std=std, batch_size=batch_size)


def _check_images(images: np.ndarray, labels: np.ndarray) -> None:
    if len(images) == 0 or len(images) != len(labels):
        raise SpaceError(f"evaluation needs matching, non-empty images and labels (got {len(images)} and {len(labels)})")


def _calibrated_logits(model: Supernet, subnet: SubnetConfig, cim: CIMSettings | None, images: np.ndarray,
                       labels: np.ndarray, mean: Sequence[float], std: Sequence[float], batch_size: int
                       ) -> Iterator[tuple[Tensor, Tensor]]:
    """(float32 logits, labels) of ``subnet`` in eval mode, ``batch_size`` images at a time; the model's mode is
    restored once the batches are consumed."""
    _check_images(images, labels)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    y_all = torch.tensor(np.asarray(labels), dtype=torch.int64, device=device)
    try:
        for lo in range(0, len(images), batch_size):
            x = normalize_images(images[lo : lo + batch_size], mean, std, device)
            yield model(x, subnet, cim).float(), y_all[lo : lo + batch_size]
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate_calibrated(
    model: Supernet,
    subnet: SubnetConfig,
    cim: CIMSettings | None,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 200,
) -> tuple[float, float]:
    """Top-1 accuracy and mean cross-entropy of ``subnet`` whose BN statistics :func:`recalibrate_bn` has
    already set: several crossbar settings (e.g. variation draws) of one member share one recalibration."""
    correct = 0
    loss_sum = 0.0
    for logits, y in _calibrated_logits(model, subnet, cim, images, labels, mean, std, batch_size):
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    n = len(images)
    return correct / n, loss_sum / n


@torch.no_grad()
def correct_per_image(
    model: Supernet,
    subnet: SubnetConfig,
    cim: CIMSettings | None,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 200,
) -> np.ndarray:
    """bool [N]: which of ``images`` :func:`evaluate_calibrated` counts as correct (the same forward pass, kept
    per image)."""
    return torch.cat([logits.argmax(1) == y
                      for logits, y in _calibrated_logits(model, subnet, cim, images, labels, mean, std, batch_size)
                      ]).cpu().numpy()
