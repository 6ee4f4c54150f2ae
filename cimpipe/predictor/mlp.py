"""The MLP ensemble: members trained side by side as stacked matmuls, their mean and spread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from cimpipe.predictor.settings import PredictorSettings


def init_stack(n_members: int, sizes: Sequence[int], gen: torch.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-layer weights [M, n_in, n_out] and biases [M, 1, n_out], PyTorch's default Linear init
    (uniform in +-1/sqrt(n_in)), each member drawn independently."""
    ws, bs = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(n_in)
        ws.append(((torch.rand(n_members, n_in, n_out, generator=gen) * 2 - 1) * bound).requires_grad_())
        bs.append(((torch.rand(n_members, 1, n_out, generator=gen) * 2 - 1) * bound).requires_grad_())
    return ws, bs


def forward(ws: Sequence[torch.Tensor], bs: Sequence[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    """[M, D, F] features -> [M, D] accuracies: SiLU MLP per member, sigmoid output (stays in 0..1)."""
    last = len(ws) - 1
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = torch.baddbmm(b, h, w)
        if i < last:
            h = torch.nn.functional.silu(h)
    return torch.sigmoid(h.squeeze(2))


def train_stack(x: torch.Tensor, y: torch.Tensor, settings: PredictorSettings) -> "Stacked":
    """Train all members at once as one batched network (each its own init and minibatch order).

    MSE on accuracy, AdamW with a cosine schedule; members never share a gradient, so this equals training
    them one by one, in a fraction of the time on a CPU.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: one thread is faster than two that contend
    try:
        return train_stack_1(x, y, settings)
    finally:
        torch.set_num_threads(threads)


def train_stack_1(x: torch.Tensor, y: torch.Tensor, settings: PredictorSettings) -> "Stacked":
    gen = torch.Generator().manual_seed(settings.seed)
    m, n = settings.ensemble, x.shape[0]
    ws, bs = init_stack(m, [x.shape[1], *settings.hidden, 1], gen)
    opt = torch.optim.AdamW([*ws, *bs], lr=settings.lr, weight_decay=settings.weight_decay)
    batch = min(settings.batch_size, n)
    per_epoch = math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(settings.epochs * per_epoch, 1))
    for _ in range(settings.epochs):
        order = torch.argsort(torch.rand(m, n, generator=gen), dim=1)
        for k in range(per_epoch):
            idx = order[:, k * batch: (k + 1) * batch]
            loss = torch.mean((forward(ws, bs, x[idx]) - y[idx]) ** 2) * m
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return Stacked(tuple(w.detach() for w in ws), tuple(b.detach() for b in bs))


@dataclass(frozen=True)
class Stacked:
    """Ensemble weights stacked per layer: weight [M, n_in, n_out], bias [M, 1, n_out]."""

    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor, ...]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """[D, F] standardized features -> [M, D] predicted accuracies (one matmul chain per member).

        Equals :func:`forward`; a loop of ``addmm`` with in-place activations is twice as fast on a CPU as
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


def standardization(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the fit rows (a constant feature keeps a scale of 1)."""
    std = feats.std(0)
    return feats.mean(0), np.where(std > 1e-6, std, 1.0)


def train_ensemble(feats: np.ndarray, acc: np.ndarray, settings: PredictorSettings
                    ) -> tuple[Stacked, np.ndarray, np.ndarray]:
    mean, std = standardization(feats)
    x = torch.from_numpy(((feats - mean) / std).astype(np.float32))
    y = torch.from_numpy(acc.astype(np.float32))
    return train_stack(x, y, settings), mean.astype(np.float32), std.astype(np.float32)
