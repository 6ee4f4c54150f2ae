"""Switchable-precision LSQ quantizers.

Learned Step size Quantization (Esser et al., "Learned Step Size Quantization", ICLR 2020): a value is
quantized to ``clamp(round(x / s), qn, qp) * s`` with the step ``s`` a trainable parameter; the rounding
passes gradients straight through and the step's gradient is scaled by ``1 / sqrt(N * qp)``. As in
BatchQuant, one quantizer keeps one step per bit-width (the tensor it quantizes is shared), so a layer can
switch between 2 and 8 bits from one forward pass to the next.

Codes are symmetric for signed tensors (``-(2^(b-1)-1) .. 2^(b-1)-1``, so a crossbar can store them with
a fixed offset, see :mod:`cimpipe.nn.cim`) and ``0 .. 2^b-1`` for unsigned ones (post-ReLU activations).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cimpipe.space import BIT_RANGE, SpaceError

BIT_MIN, BIT_MAX = BIT_RANGE


def round_ste(x: Tensor) -> Tensor:
    """Round in the forward pass, identity in the backward pass (straight-through estimator)."""
    return (x.round() - x).detach() + x


def grad_scale(x: Tensor, scale: float) -> Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale`` in the backward pass."""
    scaled = x * scale
    return (x - scaled).detach() + scaled


def code_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest integer code of a ``bits``-bit quantizer."""
    if not BIT_MIN <= bits <= BIT_MAX:
        raise SpaceError(f"bits={bits} is outside {BIT_MIN}..{BIT_MAX}")
    if signed:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


class LSQQuantizer(nn.Module):
    """An LSQ quantizer with one learned step per bit-width in ``BIT_MIN..BIT_MAX``.

    A step is initialised from the first tensor it sees in training mode at that bit-width
    (``2 * mean|x| / sqrt(qp)``, the LSQ paper's rule); ``initialized`` records which ones were.
    """

    def __init__(self, signed: bool) -> None:
        super().__init__()
        self.signed = signed
        n = BIT_MAX - BIT_MIN + 1
        self.step = nn.Parameter(torch.ones(n))
        self.register_buffer("initialized", torch.zeros(n, dtype=torch.bool))

    def codes(self, x: Tensor, bits: int) -> tuple[Tensor, Tensor]:
        """Integer-valued codes of ``x`` (float tensor, STE gradient) and the step that scales them."""
        qn, qp = code_range(bits, self.signed)
        i = bits - BIT_MIN
        if self.training and not bool(self.initialized[i]):
            with torch.no_grad():
                init = 2.0 * x.detach().abs().mean().float() / math.sqrt(qp)
                self.step[i] = init.clamp_min(1e-6)
                self.initialized[i] = True
        step = grad_scale(self.step[i], 1.0 / math.sqrt(x.numel() * qp)).abs().clamp_min(1e-8)
        q = round_ste(torch.clamp(x / step, qn, qp))
        return q, step

    def forward(self, x: Tensor, bits: int) -> Tensor:
        q, step = self.codes(x, bits)
        return q * step

    def frozen(self, bits: int) -> "FixedQuantizer":
        """A static quantizer at ``bits`` with this quantizer's current step."""
        step = self.step.detach()[bits - BIT_MIN].abs().clamp_min(1e-8).clone()
        return FixedQuantizer(bits, self.signed, step)


class FixedQuantizer(nn.Module):
    """A quantizer of one precision and one step, as a static exported network uses it."""

    def __init__(self, bits: int, signed: bool, step: Tensor) -> None:
        super().__init__()
        self.bits = bits
        self.signed = signed
        self.qn, self.qp = code_range(bits, signed)
        self.step = nn.Parameter(step.reshape(()).clone())

    def codes(self, x: Tensor) -> tuple[Tensor, Tensor]:
        step = self.step.abs().clamp_min(1e-8)
        return round_ste(torch.clamp(x / step, self.qn, self.qp)), step

    def forward(self, x: Tensor) -> Tensor:
        q, step = self.codes(x)
        return q * step

    def extra_repr(self) -> str:
        return f"bits={self.bits}, signed={self.signed}, step={float(self.step):.4g}"
