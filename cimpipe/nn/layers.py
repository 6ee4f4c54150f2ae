"""The elastic, quantized layers every supernet family is built from, and their static exported forms.

Weight sharing follows once-for-all (``elastic_nn/modules/dynamic_op.py``): each layer owns the weight of
its largest form and a sub-network uses the slice ``weight[:out, :in]`` (the centre of the kernel for a
smaller kernel), so every member shares weights with no copies. Batch norm is shared (sliced) and its
running statistics are re-estimated per member before evaluation (:func:`cimpipe.nn.recalibrate_bn`).

Each layer quantizes its input and its weight with LSQ quantizers that keep one step per bit-width
(:class:`cimpipe.nn.quant.LSQQuantizer`). In CIM mode the integer dot products run through the crossbar
simulation (:mod:`cimpipe.nn.cim`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cimpipe.nn.cim import crossbar_conv2d, crossbar_matmul
from cimpipe.nn.quant import FixedQuantizer, LSQQuantizer
from cimpipe.space import CIMSettings, Family, SpaceError


def _batch_norm(bn: nn.modules.batchnorm._BatchNorm, y: Tensor, c: int) -> Tensor:
    """Shared batch norm over the first ``c`` channels (running statistics updated in place in training).

    With ``bn.momentum`` None (set by :func:`cimpipe.nn.recalibrate_bn`) the running statistics become
    the plain average over the batches seen, as in torch's own BatchNorm.
    """
    if bn.training and bn.momentum is None:
        bn.num_batches_tracked += 1
        factor = 1.0 / float(bn.num_batches_tracked)
        return F.batch_norm(y, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c], True, factor,
                            bn.eps)
    return F.batch_norm(
        y, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c], bn.training, bn.momentum, bn.eps
    )


def static_bn(bn: nn.modules.batchnorm._BatchNorm, c: int) -> nn.Module:
    """A plain BatchNorm of the first ``c`` channels of a shared one."""
    out = type(bn)(c, eps=bn.eps, momentum=bn.momentum)
    with torch.no_grad():
        out.weight.copy_(bn.weight[:c])
        out.bias.copy_(bn.bias[:c])
        out.running_mean.copy_(bn.running_mean[:c])
        out.running_var.copy_(bn.running_var[:c])
        out.num_batches_tracked.copy_(bn.num_batches_tracked)
    return out


def check_input(spec: Family, x: Tensor) -> None:
    """Refuse a batch whose shape is not the family's ``[batch, in_channels, image_size, image_size]``."""
    if x.dim() != 4 or x.shape[1] != spec.in_channels or x.shape[2] != spec.image_size or x.shape[3] != spec.image_size:
        raise SpaceError(
            f"input of shape {tuple(x.shape)} does not match the spec's "
            f"[batch, {spec.in_channels}, {spec.image_size}, {spec.image_size}] images"
        )


class QuantConv2d(nn.Conv2d):
    """A static conv layer whose input and weight pass through fixed quantizers."""

    def __init__(self, c_in: int, c_out: int, k: int, weight_quant: FixedQuantizer, act_quant: FixedQuantizer,
                 stride: int = 1, groups: int = 1):
        super().__init__(c_in, c_out, k, stride=stride, padding=k // 2, groups=groups, bias=False)
        self.weight_quant = weight_quant
        self.act_quant = act_quant

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(self.act_quant(x), self.weight_quant(self.weight), None, self.stride, self.padding, 1,
                        self.groups)


class QuantLinear(nn.Linear):
    """A static linear layer whose input and weight pass through fixed quantizers."""

    def __init__(self, f_in: int, f_out: int, weight_quant: FixedQuantizer, act_quant: FixedQuantizer,
                 bias: bool) -> None:
        super().__init__(f_in, f_out, bias=bias)
        self.weight_quant = weight_quant
        self.act_quant = act_quant

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.act_quant(x), self.weight_quant(self.weight), self.bias)


class ElasticConv2d(nn.Module):
    """Quantized conv (no bias) + shared BN (+ ReLU), sliced to the active width, input width and kernel.

    ``depthwise`` layers have one filter per channel (their width follows their input); ``relu`` False for
    the layers whose output is summed with a shortcut or projected linearly.
    """

    def __init__(self, c_in: int, c_out: int, k: int, *, signed_input: bool, stride: int = 1,
                 depthwise: bool = False, relu: bool = True) -> None:
        super().__init__()
        if depthwise and c_in != c_out:
            raise ValueError(f"a depthwise layer keeps its channels (got {c_in} in, {c_out} out)")
        self.stride, self.depthwise, self.relu = stride, depthwise, relu
        self.weight = nn.Parameter(torch.empty(c_out, 1 if depthwise else c_in, k, k))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.bn = nn.BatchNorm2d(c_out)
        self.weight_quant = LSQQuantizer(signed=True)
        self.act_quant = LSQQuantizer(signed=signed_input)

    def active_weight(self, c_in: int, c_out: int, k: int) -> Tensor:
        w = self.weight[:c_out] if self.depthwise else self.weight[:c_out, :c_in]
        off = (self.weight.shape[-1] - k) // 2
        return w[:, :, off : off + k, off : off + k]

    def forward(
        self, x: Tensor, c_out: int, k: int, w_bits: int, a_bits: int, cim: CIMSettings | None, slot: int
    ) -> Tensor:
        if self.depthwise:
            c_out = x.shape[1]
        groups = c_out if self.depthwise else 1
        qa, sa = self.act_quant.codes(x, a_bits)
        qw, sw = self.weight_quant.codes(self.active_weight(x.shape[1], c_out, k), w_bits)
        if cim is None:
            y = F.conv2d(qa * sa, qw * sw, stride=self.stride, padding=k // 2, groups=groups)
        else:
            y = crossbar_conv2d(qa, qw, stride=self.stride, padding=k // 2, groups=groups, act_bits=a_bits,
                                act_signed=self.act_quant.signed, w_bits=w_bits, cim=cim.for_slot(slot),
                                layer=slot) * (sa * sw)
        y = _batch_norm(self.bn, y, c_out)
        return F.relu(y) if self.relu else y

    def export(self, c_in: int, c_out: int, k: int, w_bits: int, a_bits: int) -> nn.Sequential:
        """The static layer: quantized conv, BatchNorm and (when this layer has one) ReLU."""
        if self.depthwise:
            c_out = c_in
        conv = QuantConv2d(c_in, c_out, k, self.weight_quant.frozen(w_bits), self.act_quant.frozen(a_bits),
                           stride=self.stride, groups=c_in if self.depthwise else 1)
        with torch.no_grad():
            conv.weight.copy_(self.active_weight(c_in, c_out, k))
        layers = [conv, static_bn(self.bn, c_out)] + ([nn.ReLU()] if self.relu else [])
        return nn.Sequential(*layers)


class ElasticLinear(nn.Module):
    """Quantized linear layer sliced to the active input/output width; hidden layers add BN + ReLU."""

    def __init__(self, f_in: int, f_out: int, *, hidden: bool, signed_input: bool = False) -> None:
        super().__init__()
        self.hidden = hidden
        self.weight = nn.Parameter(torch.empty(f_out, f_in))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.bias = None if hidden else nn.Parameter(torch.zeros(f_out))
        self.bn = nn.BatchNorm1d(f_out) if hidden else None
        self.weight_quant = LSQQuantizer(signed=True)
        self.act_quant = LSQQuantizer(signed=signed_input)

    def forward(
        self, x: Tensor, f_out: int, w_bits: int, a_bits: int, cim: CIMSettings | None, slot: int
    ) -> Tensor:
        qa, sa = self.act_quant.codes(x, a_bits)
        qw, sw = self.weight_quant.codes(self.weight[:f_out, : x.shape[1]], w_bits)
        if cim is None:
            y = F.linear(qa * sa, qw * sw)
        else:
            y = crossbar_matmul(
                qa, qw, act_bits=a_bits, act_signed=self.act_quant.signed, w_bits=w_bits, cim=cim.for_slot(slot),
                layer=slot) * (sa * sw)
        if self.hidden:
            return F.relu(_batch_norm(self.bn, y, f_out))
        return y + self.bias[:f_out]

    def export(self, f_in: int, f_out: int, w_bits: int, a_bits: int) -> nn.Sequential:
        """The static layer: quantized linear and, for a hidden layer, BatchNorm and ReLU."""
        lin = QuantLinear(f_in, f_out, self.weight_quant.frozen(w_bits), self.act_quant.frozen(a_bits),
                          bias=not self.hidden)
        with torch.no_grad():
            lin.weight.copy_(self.weight[:f_out, :f_in])
            if not self.hidden:
                lin.bias.copy_(self.bias[:f_out])
        return nn.Sequential(lin, static_bn(self.bn, f_out), nn.ReLU()) if self.hidden else nn.Sequential(lin)
