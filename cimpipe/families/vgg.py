"""The VGG family: conv stages closed by 2x2 max-pools, hidden FC layers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from cimpipe.families.base import ArchArrays, Family, LayerTable, SpaceError



@dataclass(frozen=True)
class VGGSpec(Family):
    """An elastic VGG family: its largest member and the choices each layer has.

    ``stages`` lists the largest output channels of each conv layer, stage by stage; a 2x2 max-pool closes
    each stage. ``fc`` lists the hidden fully connected widths; a classifier of ``num_classes`` outputs
    follows. Elastic depth keeps the first ``d`` conv layers of a stage; every conv layer and hidden FC layer
    scales its width by one of ``width_ratios``; every conv layer picks a kernel from ``kernel_choices``;
    every weight layer (classifier included) picks weight and activation bits from ``bit_choices``.
    """

    in_channels: int
    image_size: int
    num_classes: int
    stages: tuple[tuple[int, ...], ...]
    fc: tuple[int, ...]
    min_depth: tuple[int, ...]
    width_ratios: tuple[float, ...] = (0.5, 0.75, 1.0)
    kernel_choices: tuple[int, ...] = (3,)
    bit_choices: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    family: str = "vgg"

    PADDED_IFM: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._check_common()
        size = self.image_size
        for _ in self.stages:
            size //= 2
        if size < 1:
            raise SpaceError(f"{len(self.stages)} pooling stages shrink a {self.image_size}px image below one pixel")

    @property
    def max_depths(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.stages)

    @property
    def n_conv(self) -> int:
        return sum(len(s) for s in self.stages)

    def conv_slot(self, stage: int, index: int) -> int:
        return sum(len(s) for s in self.stages[:stage]) + index

    @property
    def _conv_blocks(self) -> tuple:
        return tuple((s, i) for s, st in enumerate(self.stages) for i in range(len(st)))

    def max_widths(self) -> tuple[int, ...]:
        return tuple(c for stage in self.stages for c in stage) + tuple(self.fc)

    @property
    def width_blocks(self) -> tuple:
        return self._conv_blocks + (None,) * len(self.fc)

    @property
    def kernel_blocks(self) -> tuple:
        return self._conv_blocks

    @property
    def slot_blocks(self) -> tuple:
        return self._conv_blocks + (None,) * (len(self.fc) + 1)

    @property
    def final_size(self) -> int:
        return self.image_size // (2 ** len(self.stages))

    def layer_table(self, a: ArchArrays) -> dict[str, np.ndarray]:
        t = LayerTable(a.n, self.n_slots)
        size = float(self.image_size)
        c_prev = np.full(a.n, float(self.in_channels))
        for s, stage in enumerate(self.stages):
            depth = a.depths[:, s]
            for i in range(len(stage)):
                slot = self.conv_slot(s, i)
                c_out = self._width(a, slot)
                t.set(slot, ifm=size, c_in=c_prev, k=a.kernels[:, slot], c_out=c_out, pool=depth == i + 1)
                c_prev = np.where(depth > i, c_out, c_prev)
            size = math.floor(size / 2)
        c_prev = c_prev * size * size
        for j in range(len(self.fc) + 1):
            slot = self.n_conv + j
            c_out = self._width(a, slot) if j < len(self.fc) else float(self.num_classes)
            t.set(slot, ifm=1, c_in=c_prev, k=1, c_out=c_out)
            c_prev = c_out
        return t.a
