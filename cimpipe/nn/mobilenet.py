"""The elastic, switchable-precision MobileNetV2 supernet (inverted residuals) and its static exported form.

Slots, widths and shapes are :class:`cimpipe.space.MobileNetV2Spec`'s. A block (Sandler et al., 2018)
expands its input with a 1x1 conv (BN, ReLU) to ``round(c_in * expand_ratio)`` channels, filters them
depthwise with a KxK conv (BN, ReLU; the block's stride sits here) and projects them linearly with a 1x1
conv (BN, no activation); blocks after the first of a stage add their input. Elastic expansion slices the
first hidden channels; elastic kernels use the centre of the largest kernel (once-for-all). ReLU stands in
for ReLU6: the learned activation quantizers bound the range instead.

Because the projections are linear, a block's output (and so the next expand conv's and the head's input)
is signed, except after the stem; those layers quantize signed inputs, which the crossbar feeds in two's
complement.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cimpipe.nn.layers import ElasticConv2d, ElasticLinear, check_input
from cimpipe.space import CIMSettings, MobileNetV2Spec, SubnetConfig


class MobileNetV2Supernet(nn.Module):
    """Weight-sharing supernet of a :class:`MobileNetV2Spec` family: ``model(x, subnet, cim=None) -> logits``."""

    def __init__(self, spec: MobileNetV2Spec) -> None:
        super().__init__()
        self.spec = spec
        self.stem = ElasticConv2d(spec.in_channels, spec.stem, 3, signed_input=True, stride=spec.stem_stride)
        k_max = max(spec.kernel_choices)
        blocks = []
        c_in = spec.stem
        for s, (c_stage, n, stride) in enumerate(zip(spec.stages, spec.blocks, spec.strides)):
            for i in range(n):
                c_block_in = c_in if i == 0 else c_stage
                hidden = spec.max_hidden(s, i)
                signed = not (s == 0 and i == 0)
                blocks.append(nn.ModuleDict({
                    "expand": ElasticConv2d(c_block_in, hidden, 1, signed_input=signed),
                    "depthwise": ElasticConv2d(hidden, hidden, k_max, signed_input=False,
                                               stride=stride if i == 0 else 1, depthwise=True),
                    "project": ElasticConv2d(hidden, c_stage, 1, signed_input=False, relu=False),
                }))
            c_in = c_stage
        self.blocks = nn.ModuleList(blocks)
        self.head = ElasticConv2d(c_in, spec.head, 1, signed_input=True)
        self.fc = ElasticLinear(spec.head, spec.num_classes, hidden=False)

    def forward(self, x: Tensor, subnet: SubnetConfig, cim: CIMSettings | None = None) -> Tensor:
        spec = self.spec
        spec.validate(subnet)
        check_input(spec, x)
        ch = spec.channels(subnet)
        wb, ab = subnet.weight_bits, subnet.act_bits
        x = self.stem(x, ch[0], 3, wb[0], ab[0], cim, 0)
        for s, (depth, n) in enumerate(zip(subnet.depths, spec.blocks)):
            for i in range(min(depth, n)):
                b = spec.block_index(s, i)
                block, sl = self.blocks[b], spec.block_slots(s, i)
                hidden = max(1, int(round(x.shape[1] * subnet.expand_ratios[b])))
                h = block["expand"](x, hidden, 1, wb[sl["expand"]], ab[sl["expand"]], cim, sl["expand"])
                k = subnet.kernels[b]
                h = block["depthwise"](h, hidden, k, wb[sl["depthwise"]], ab[sl["depthwise"]], cim, sl["depthwise"])
                h = block["project"](h, ch[1 + s], 1, wb[sl["project"]], ab[sl["project"]], cim, sl["project"])
                x = h if i == 0 else h + x
        head = spec.n_slots - 2
        x = self.head(x, ch[-1], 1, wb[head], ab[head], cim, head)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x, spec.num_classes, wb[-1], ab[-1], cim, spec.n_slots - 1)

    def export(self, subnet: SubnetConfig) -> nn.Module:
        """A plain static network (Conv2d/BatchNorm/Linear + fixed quantizers) computing the same outputs."""
        spec = self.spec
        spec.validate(subnet)
        ch = spec.channels(subnet)
        wb, ab = subnet.weight_bits, subnet.act_bits
        layers: list[nn.Module] = [self.stem.export(spec.in_channels, ch[0], 3, wb[0], ab[0])]
        c_in = ch[0]
        for s, depth in enumerate(subnet.depths):
            for i in range(depth):
                b = spec.block_index(s, i)
                block, sl = self.blocks[b], spec.block_slots(s, i)
                hidden = max(1, int(round(c_in * subnet.expand_ratios[b])))
                k = subnet.kernels[b]
                body = nn.Sequential(
                    block["expand"].export(c_in, hidden, 1, wb[sl["expand"]], ab[sl["expand"]]),
                    block["depthwise"].export(hidden, hidden, k, wb[sl["depthwise"]], ab[sl["depthwise"]]),
                    block["project"].export(hidden, ch[1 + s], 1, wb[sl["project"]], ab[sl["project"]]),
                )
                layers.append(StaticInvertedResidual(body, residual=i > 0))
                c_in = ch[1 + s]
        head = spec.n_slots - 2
        layers += [self.head.export(c_in, ch[-1], 1, wb[head], ab[head]), nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                   *self.fc.export(ch[-1], spec.num_classes, wb[-1], ab[-1])]
        out = nn.Sequential(*layers)
        out.train(self.training)
        return out


class StaticInvertedResidual(nn.Module):
    """``body(x) + x`` when ``residual``, else ``body(x)``."""

    def __init__(self, body: nn.Module, residual: bool) -> None:
        super().__init__()
        self.body = body
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return y + x if self.residual else y
