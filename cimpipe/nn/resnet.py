"""The elastic, switchable-precision ResNet supernet (basic blocks) and its static exported form.

Slots, widths and shapes are :class:`cimpipe.space.ResNetSpec`'s. Each block computes
``relu(bn(conv2(relu(bn(conv1(x))))) + shortcut(x))`` where the shortcut is a 1x1 projection conv (with
BN) in the first block of a stage and the identity elsewhere (He et al., 2016). Every weight layer's input
follows a ReLU and is unsigned, except the stem's (the normalised image). The stem of the "imagenet" form
is a 7x7/2 conv followed by a 3x3/2 max-pool; the classifier follows global average pooling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cimpipe.nn.layers import ElasticConv2d, ElasticLinear, check_input
from cimpipe.space import CIMSettings, ResNetSpec, SubnetConfig


class ResNetSupernet(nn.Module):
    """Weight-sharing supernet of a :class:`ResNetSpec` family: ``model(x, subnet, cim=None) -> logits``."""

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.stem = ElasticConv2d(spec.in_channels, spec.stem, spec.stem_kernel, signed_input=True,
                                  stride=spec.stem_stride)
        blocks = []
        c_in = spec.stem
        for s, (c_stage, n) in enumerate(zip(spec.stages, spec.blocks)):
            for i in range(n):
                stride = 2 if (i == 0 and s > 0) else 1
                c_block_in = c_in if i == 0 else c_stage
                block = nn.ModuleDict({
                    "conv1": ElasticConv2d(c_block_in, c_stage, 3, signed_input=False, stride=stride),
                    "conv2": ElasticConv2d(c_stage, c_stage, 3, signed_input=False, relu=False),
                })
                if i == 0:
                    block["shortcut"] = ElasticConv2d(c_block_in, c_stage, 1, signed_input=False, stride=stride,
                                                      relu=False)
                blocks.append(block)
            c_in = c_stage
        self.blocks = nn.ModuleList(blocks)
        self.fc = ElasticLinear(c_in, spec.num_classes, hidden=False)

    def _stem_pool(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, 3, stride=2, padding=1) if self.spec.stem_type == "imagenet" else x

    def forward(self, x: Tensor, subnet: SubnetConfig, cim: CIMSettings | None = None) -> Tensor:
        spec = self.spec
        spec.validate(subnet)
        check_input(spec, x)
        ch = spec.channels(subnet)
        wb, ab = subnet.weight_bits, subnet.act_bits
        x = self._stem_pool(self.stem(x, ch[0], spec.stem_kernel, wb[0], ab[0], cim, 0))
        b = 0
        for s, (depth, n) in enumerate(zip(subnet.depths, spec.blocks)):
            c_stage = ch[1 + s]
            for i in range(n):
                block = self.blocks[b + i]
                if i >= depth:
                    continue
                sl = spec.block_slots(s, i)
                mid = ch[spec.mid_slot(s, i)]
                h = block["conv1"](x, mid, 3, wb[sl["conv1"]], ab[sl["conv1"]], cim, sl["conv1"])
                h = block["conv2"](h, c_stage, 3, wb[sl["conv2"]], ab[sl["conv2"]], cim, sl["conv2"])
                if "shortcut" in sl:
                    x = block["shortcut"](x, c_stage, 1, wb[sl["shortcut"]], ab[sl["shortcut"]], cim, sl["shortcut"])
                x = F.relu(h + x)
            b += n
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        last = spec.n_slots - 1
        return self.fc(x, spec.num_classes, wb[last], ab[last], cim, last)

    def export(self, subnet: SubnetConfig) -> nn.Module:
        """A plain static network (Conv2d/BatchNorm/Linear + fixed quantizers) computing the same outputs."""
        spec = self.spec
        spec.validate(subnet)
        ch = spec.channels(subnet)
        wb, ab = subnet.weight_bits, subnet.act_bits
        stem = self.stem.export(spec.in_channels, ch[0], spec.stem_kernel, wb[0], ab[0])
        if spec.stem_type == "imagenet":
            stem.append(nn.MaxPool2d(3, stride=2, padding=1))
        blocks: list[nn.Module] = []
        b, c_in = 0, ch[0]
        for s, (depth, n) in enumerate(zip(subnet.depths, spec.blocks)):
            c_stage = ch[1 + s]
            for i in range(depth):
                block = self.blocks[b + i]
                sl = spec.block_slots(s, i)
                mid = ch[spec.mid_slot(s, i)]
                conv1 = block["conv1"].export(c_in, mid, 3, wb[sl["conv1"]], ab[sl["conv1"]])
                conv2 = block["conv2"].export(mid, c_stage, 3, wb[sl["conv2"]], ab[sl["conv2"]])
                short = (block["shortcut"].export(c_in, c_stage, 1, wb[sl["shortcut"]], ab[sl["shortcut"]])
                         if "shortcut" in sl else None)
                blocks.append(StaticBasicBlock(nn.Sequential(conv1, conv2), short))
                c_in = c_stage
            b += n
        last = spec.n_slots - 1
        head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                             *self.fc.export(c_in, spec.num_classes, wb[last], ab[last]))
        out = nn.Sequential(stem, *blocks, head)
        out.train(self.training)
        return out


class StaticBasicBlock(nn.Module):
    """``relu(body(x) + shortcut(x))``; the identity when ``shortcut`` is None."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))
