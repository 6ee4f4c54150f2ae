"""The elastic, switchable-precision VGG supernet.

Built from the shared elastic layers of :mod:`cimpipe.nn.layers` (once-for-all weight slicing). The active
member is one explicit value passed to :meth:`Supernet.forward`; there is no mutable mode.

Layer ``slot`` numbering is :class:`cimpipe.space.VGGSpec`'s: conv layers stage by stage, hidden FC layers,
then the classifier. ``act_bits[slot]`` quantizes a layer's *input*; the first layer's input (the
normalised image) is signed, every other input follows a ReLU and is unsigned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cimpipe.nn.layers import ElasticConv2d, ElasticLinear, QuantConv2d, QuantLinear, check_input  # noqa: F401
from cimpipe.space import CIMSettings, SubnetConfig, VGGSpec


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
        check_input(self.spec, x)

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
                layers += list(conv.export(c_in, c_out, subnet.kernels[slot], subnet.weight_bits[slot],
                                           subnet.act_bits[slot]))
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.Flatten(1))
        f_in = c_in * spec.final_size**2
        for j, fc in enumerate(self.fcs):
            slot = spec.n_conv + j
            f_out = chans[slot] if fc.hidden else spec.num_classes
            layers += list(fc.export(f_in, f_out, subnet.weight_bits[slot], subnet.act_bits[slot]))
            f_in = f_out
        out = nn.Sequential(*layers)
        out.train(self.training)
        return out
