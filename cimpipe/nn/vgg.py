"""The elastic, switchable-precision VGG supernet.

Weight sharing follows once-for-all (``elastic_nn/modules/dynamic_op.py``): each layer owns the weight of
its largest form and a sub-network uses the slice ``weight[:out, :in]`` (the centre of the kernel for a
smaller kernel), so every member shares weights with no copies. The active member is one explicit value
passed to :meth:`Supernet.forward`; there is no mutable mode. Batch norm is shared (sliced) and its running
statistics are re-estimated per member before evaluation (:func:`cimpipe.nn.bn.recalibrate_bn`).

Layer ``slot`` numbering is :class:`cimpipe.space.VGGSpec`'s: conv layers stage by stage, hidden FC layers,
then the classifier. ``act_bits[slot]`` quantizes a layer's *input*; the first layer's input (the
normalised image) is signed, every other input follows a ReLU and is unsigned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cimpipe.nn.cim import crossbar_conv2d, crossbar_matmul
from cimpipe.nn.quant import FixedQuantizer, LSQQuantizer
from cimpipe.space import CIMSettings, SpaceError, SubnetConfig, VGGSpec


def _batch_norm(bn: nn.modules.batchnorm._BatchNorm, y: Tensor, c: int) -> Tensor:
    """Shared batch norm over the first ``c`` channels (running statistics updated in place in training).

    With ``bn.momentum`` None (set by :func:`cimpipe.nn.bn.recalibrate_bn`) the running statistics become
    the plain average over the batches seen, as in torch's own BatchNorm.
    """
    if bn.training and bn.momentum is None:
        return _cumulative_batch_norm(bn, y, c)
    return F.batch_norm(
        y, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c], bn.training, bn.momentum, bn.eps
    )


def _cumulative_batch_norm(bn: nn.modules.batchnorm._BatchNorm, y: Tensor, c: int) -> Tensor:
    """Training-mode batch norm whose running statistics become the average over batches (momentum None)."""
    bn.num_batches_tracked += 1
    factor = 1.0 / float(bn.num_batches_tracked)
    return F.batch_norm(
        y, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c], True, factor, bn.eps
    )


def _static_bn(bn: nn.modules.batchnorm._BatchNorm, c: int) -> nn.Module:
    out = type(bn)(c, eps=bn.eps, momentum=bn.momentum)
    with torch.no_grad():
        out.weight.copy_(bn.weight[:c])
        out.bias.copy_(bn.bias[:c])
        out.running_mean.copy_(bn.running_mean[:c])
        out.running_var.copy_(bn.running_var[:c])
        out.num_batches_tracked.copy_(bn.num_batches_tracked)
    return out


class ElasticConv2d(nn.Module):
    """Quantized conv (no bias) + shared BN + ReLU, sliced to the active width, input width and kernel."""

    def __init__(self, c_in: int, c_out: int, k: int, *, signed_input: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c_out, c_in, k, k))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.bn = nn.BatchNorm2d(c_out)
        self.weight_quant = LSQQuantizer(signed=True)
        self.act_quant = LSQQuantizer(signed=signed_input)

    def active_weight(self, c_in: int, c_out: int, k: int) -> Tensor:
        w = self.weight[:c_out, :c_in]
        off = (self.weight.shape[-1] - k) // 2
        return w[:, :, off : off + k, off : off + k]

    def forward(
        self, x: Tensor, c_out: int, k: int, w_bits: int, a_bits: int, cim: CIMSettings | None, slot: int
    ) -> Tensor:
        qa, sa = self.act_quant.codes(x, a_bits)
        qw, sw = self.weight_quant.codes(self.active_weight(x.shape[1], c_out, k), w_bits)
        if cim is None:
            y = F.conv2d(qa * sa, qw * sw, padding=k // 2)
        else:
            y = crossbar_conv2d(
                qa, qw, padding=k // 2, act_bits=a_bits, act_signed=self.act_quant.signed, w_bits=w_bits,
                cim=cim, layer=slot,
            ) * (sa * sw)
        return F.relu(_batch_norm(self.bn, y, c_out))

    def export(self, c_in: int, c_out: int, k: int, w_bits: int, a_bits: int) -> "QuantConv2d":
        conv = QuantConv2d(c_in, c_out, k, self.weight_quant.frozen(w_bits), self.act_quant.frozen(a_bits))
        with torch.no_grad():
            conv.weight.copy_(self.active_weight(c_in, c_out, k))
        return conv


class ElasticLinear(nn.Module):
    """Quantized linear layer sliced to the active input/output width; hidden layers add BN + ReLU."""

    def __init__(self, f_in: int, f_out: int, *, hidden: bool) -> None:
        super().__init__()
        self.hidden = hidden
        self.weight = nn.Parameter(torch.empty(f_out, f_in))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.bias = None if hidden else nn.Parameter(torch.zeros(f_out))
        self.bn = nn.BatchNorm1d(f_out) if hidden else None
        self.weight_quant = LSQQuantizer(signed=True)
        self.act_quant = LSQQuantizer(signed=False)

    def forward(
        self, x: Tensor, f_out: int, w_bits: int, a_bits: int, cim: CIMSettings | None, slot: int
    ) -> Tensor:
        qa, sa = self.act_quant.codes(x, a_bits)
        qw, sw = self.weight_quant.codes(self.weight[:f_out, : x.shape[1]], w_bits)
        if cim is None:
            y = F.linear(qa * sa, qw * sw)
        else:
            y = crossbar_matmul(
                qa, qw, act_bits=a_bits, act_signed=False, w_bits=w_bits, cim=cim, layer=slot
            ) * (sa * sw)
        if self.hidden:
            return F.relu(_batch_norm(self.bn, y, f_out))
        return y + self.bias[:f_out]

    def export(self, f_in: int, f_out: int, w_bits: int, a_bits: int) -> "QuantLinear":
        lin = QuantLinear(f_in, f_out, self.weight_quant.frozen(w_bits), self.act_quant.frozen(a_bits),
                          bias=not self.hidden)
        with torch.no_grad():
            lin.weight.copy_(self.weight[:f_out, :f_in])
            if not self.hidden:
                lin.bias.copy_(self.bias[:f_out])
        return lin


class QuantConv2d(nn.Conv2d):
    """A static conv layer whose input and weight pass through fixed quantizers."""

    def __init__(self, c_in: int, c_out: int, k: int, weight_quant: FixedQuantizer, act_quant: FixedQuantizer):
        super().__init__(c_in, c_out, k, padding=k // 2, bias=False)
        self.weight_quant = weight_quant
        self.act_quant = act_quant

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(self.act_quant(x), self.weight_quant(self.weight), None, self.stride, self.padding)


class QuantLinear(nn.Linear):
    """A static linear layer whose input and weight pass through fixed quantizers."""

    def __init__(self, f_in: int, f_out: int, weight_quant: FixedQuantizer, act_quant: FixedQuantizer,
                 bias: bool) -> None:
        super().__init__(f_in, f_out, bias=bias)
        self.weight_quant = weight_quant
        self.act_quant = act_quant

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(self.act_quant(x), self.weight_quant(self.weight), self.bias)


class Supernet(nn.Module):
    """Weight-sharing supernet of a :class:`VGGSpec` family: ``model(x, subnet, cim=None) -> logits``."""

    def __init__(self, spec: VGGSpec) -> None:
        super().__init__()
        self.spec = spec
        k_max = max(spec.kernel_choices)
        convs = []
        c_in = spec.in_channels
        for s, stage in enumerate(spec.stages):
            for i, c_out in enumerate(stage):
                convs.append(ElasticConv2d(c_in, c_out, k_max, signed_input=(s == 0 and i == 0)))
                c_in = c_out
            c_in = max(stage)  # any layer of the stage may be its last active one
        self.convs = nn.ModuleList(convs)
        f_in = max(spec.stages[-1]) * spec.final_size**2
        fcs = []
        for f_out in spec.fc:
            fcs.append(ElasticLinear(f_in, f_out, hidden=True))
            f_in = f_out
        fcs.append(ElasticLinear(f_in, spec.num_classes, hidden=False))
        self.fcs = nn.ModuleList(fcs)

    def _check_input(self, x: Tensor) -> None:
        s = self.spec
        if x.dim() != 4 or x.shape[1] != s.in_channels or x.shape[2] != s.image_size or x.shape[3] != s.image_size:
            raise SpaceError(
                f"input of shape {tuple(x.shape)} does not match the spec's "
                f"[batch, {s.in_channels}, {s.image_size}, {s.image_size}] images"
            )

    def forward(self, x: Tensor, subnet: SubnetConfig, cim: CIMSettings | None = None) -> Tensor:
        spec = self.spec
        spec.validate(subnet)
        self._check_input(x)
        chans = spec.channels(subnet)
        for s, depth in enumerate(subnet.depths):
            for i in range(depth):
                slot = spec.conv_slot(s, i)
                x = self.convs[slot](
                    x, chans[slot], subnet.kernels[slot], subnet.weight_bits[slot], subnet.act_bits[slot], cim, slot
                )
            x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        for j, fc in enumerate(self.fcs):
            slot = spec.n_conv + j
            f_out = chans[slot] if fc.hidden else spec.num_classes
            x = fc(x, f_out, subnet.weight_bits[slot], subnet.act_bits[slot], cim, slot)
        return x

    def export(self, subnet: SubnetConfig) -> nn.Sequential:
        """A plain static network (Conv2d/BatchNorm/Linear + fixed quantizers) computing the same outputs."""
        spec = self.spec
        spec.validate(subnet)
        chans = spec.channels(subnet)
        layers: list[nn.Module] = []
        c_in = spec.in_channels
        for s, depth in enumerate(subnet.depths):
            for i in range(depth):
                slot = spec.conv_slot(s, i)
                conv = self.convs[slot]
                c_out = chans[slot]
                layers += [
                    conv.export(c_in, c_out, subnet.kernels[slot], subnet.weight_bits[slot], subnet.act_bits[slot]),
                    _static_bn(conv.bn, c_out),
                    nn.ReLU(),
                ]
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.Flatten(1))
        f_in = c_in * spec.final_size**2
        for j, fc in enumerate(self.fcs):
            slot = spec.n_conv + j
            f_out = chans[slot] if fc.hidden else spec.num_classes
            layers.append(fc.export(f_in, f_out, subnet.weight_bits[slot], subnet.act_bits[slot]))
            if fc.hidden:
                layers += [_static_bn(fc.bn, f_out), nn.ReLU()]
            f_in = f_out
        out = nn.Sequential(*layers)
        out.train(self.training)
        return out
