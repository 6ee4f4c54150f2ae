"""Families of residual blocks: ResNet (basic blocks) and MobileNetV2 (inverted residuals)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from cimpipe.families.base import ArchArrays, Family, LayerTable, SpaceError, conv_out



class BlockFamily(Family):
    """A family whose stages hold ``blocks[s]`` blocks of layers (``stages`` gives each stage's width)."""

    stages: tuple[int, ...]
    blocks: tuple[int, ...]

    def _check_stage_lists(self, *names: str) -> None:
        for name in names:
            if len(getattr(self, name)) != len(self.stages):
                raise SpaceError(f"{name} has {len(getattr(self, name))} entries but there are {len(self.stages)} stages")

    @property
    def max_depths(self) -> tuple[int, ...]:
        return tuple(self.blocks)

    @cached_property
    def _block_list(self) -> tuple:
        """Every block ``(stage, index)`` of the largest member, in execution order."""
        return tuple((s, i) for s, n in enumerate(self.blocks) for i in range(n))

    @cached_property
    def _block_position(self) -> dict:
        return {b: p for p, b in enumerate(self._block_list)}

    def block_index(self, stage: int, index: int) -> int:
        """The block's position in execution order (MobileNetV2: its kernel and expand slot)."""
        try:
            return self._block_position[(stage, index)]
        except KeyError:
            raise SpaceError(f"block ({stage}, {index}) is not in this {self.family} family") from None




@dataclass(frozen=True)
class ResNetSpec(BlockFamily):
    """An elastic ResNet of basic blocks (two 3x3 convs and a shortcut).

    ``stem`` the stem's largest channels and ``stem_type`` "cifar" (3x3 conv, stride 1) or "imagenet" (7x7
    conv, stride 2, then a 3x3 max-pool of stride 2). ``stages`` the largest output channels of each stage,
    ``blocks`` its largest number of blocks; the first block of stage ``s > 0`` halves the map. The first
    block of every stage has a 1x1 projection shortcut; the others add their input.

    Width slots: the stem, every stage's output (shared by its blocks' second convs and shortcut, which the
    residual sums tie together), then every block's inner width. Weight slots in execution order: the stem,
    then per block ``conv1, conv2`` and (first block) ``shortcut``, then the classifier after global average
    pooling. ResNet-18 is ``stages=(64, 128, 256, 512), blocks=(2, 2, 2, 2)``.
    """

    in_channels: int
    image_size: int
    num_classes: int
    stages: tuple[int, ...]
    blocks: tuple[int, ...]
    min_depth: tuple[int, ...]
    stem: int = 64
    stem_type: str = "cifar"
    width_ratios: tuple[float, ...] = (0.5, 0.75, 1.0)
    bit_choices: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    family: str = "resnet"

    STEM_TYPES: ClassVar[tuple[str, ...]] = ("cifar", "imagenet")

    def __post_init__(self) -> None:
        self._check_stage_lists("blocks")
        if self.stem_type not in self.STEM_TYPES:
            raise SpaceError(f"stem_type={self.stem_type!r} is not one of {self.STEM_TYPES}")
        self._check_common()
        if self.feature_sizes()[-1] < 1:
            raise SpaceError(f"{len(self.stages)} stages shrink a {self.image_size}px image below one pixel")

    def max_widths(self) -> tuple[int, ...]:
        mids = tuple(self.stages[s] for s, _ in self._block_list)
        return (self.stem, *self.stages, *mids)

    @property
    def width_blocks(self) -> tuple:
        return (None,) * (1 + len(self.stages)) + self._block_list

    def mid_slot(self, stage: int, index: int) -> int:
        """The width slot of a block's inner channels."""
        return 1 + len(self.stages) + self.block_index(stage, index)

    @cached_property
    def _roles(self) -> tuple[dict[str, int], ...]:
        """Weight slots of every block, in block order (the stem is slot 0)."""
        out, slot = [], 1
        for _, i in self._block_list:
            roles = ("conv1", "conv2", "shortcut") if i == 0 else ("conv1", "conv2")
            out.append({r: slot + j for j, r in enumerate(roles)})
            slot += len(roles)
        return tuple(out)

    def block_slots(self, stage: int, index: int) -> dict[str, int]:
        """Weight slots of one block: ``conv1``, ``conv2`` and, in the first block of a stage, ``shortcut``."""
        return dict(self._roles[self.block_index(stage, index)])

    @property
    def slot_blocks(self) -> tuple:
        return (None,) + tuple(b for b, roles in zip(self._block_list, self._roles) for _ in roles) + (None,)

    @property
    def stem_kernel(self) -> int:
        return 3 if self.stem_type == "cifar" else 7

    @property
    def stem_stride(self) -> int:
        return 1 if self.stem_type == "cifar" else 2

    def feature_sizes(self) -> list[int]:
        """Map size after the stem (and its pool) and after every stage."""
        size = conv_out(self.image_size, self.stem_stride)
        if self.stem_type == "imagenet":
            size = conv_out(size, 2)
        sizes = [size]
        for s in range(len(self.stages)):
            size = conv_out(size, 1 if s == 0 else 2)
            sizes.append(size)
        return sizes

    def layer_table(self, a: ArchArrays) -> dict[str, np.ndarray]:
        t = LayerTable(a.n, self.n_slots)
        k0 = self.stem_kernel
        t.set(0, ifm=self.image_size + k0 - 1, c_in=self.in_channels, k=k0, c_out=self._width(a, 0),
              stride=self.stem_stride, pool=self.stem_type == "imagenet")
        sizes = self.feature_sizes()
        c_prev = self._width(a, 0)
        for s, n in enumerate(self.blocks):
            c_stage = self._width(a, 1 + s)
            size = sizes[s]
            for i in range(n):
                sl = self.block_slots(s, i)
                stride = 2 if (i == 0 and s > 0) else 1
                c_in = c_prev if i == 0 else c_stage
                mid = self._width(a, self.mid_slot(s, i))
                t.set(sl["conv1"], ifm=size + 2, c_in=c_in, k=3, c_out=mid, stride=stride)
                out = conv_out(size, stride)
                t.set(sl["conv2"], ifm=out + 2, c_in=mid, k=3, c_out=c_stage)
                if i == 0:
                    t.set(sl["shortcut"], ifm=size, c_in=c_in, k=1, c_out=c_stage, stride=stride)
                size = out
            c_prev = c_stage
        t.set(self.n_slots - 1, ifm=1, c_in=c_prev, k=1, c_out=self.num_classes)
        return t.a




@dataclass(frozen=True)
class MobileNetV2Spec(BlockFamily):
    """An elastic MobileNetV2: stem, stages of inverted residual blocks, a 1x1 head, the classifier.

    ``stages`` the largest output channels of each stage, ``blocks`` its largest block count, ``strides``
    the stride of its first block. Each block expands its input by a ratio of ``expand_choices`` (1x1 conv),
    filters it depthwise with a kernel of ``kernel_choices`` (the stride sits here) and projects it linearly
    (1x1, no activation) to the stage's channels; blocks after the first add their input. ``stem`` and
    ``stem_stride`` the first 3x3 conv; ``head`` the 1x1 conv before global pooling.

    Width slots: stem, every stage's output, head. Kernel and expand slots: one per block. Weight slots in
    execution order: stem; per block ``expand, depthwise, project``; head; classifier. The CIFAR form of
    MobileNetV2 is ``stages=(16, 24, 32, 64, 96, 160, 320), blocks=(1, 2, 3, 4, 3, 3, 1), strides=(1, 1, 2,
    2, 1, 2, 1)``, stem 32 at stride 1, head 1280.
    """

    in_channels: int
    image_size: int
    num_classes: int
    stages: tuple[int, ...]
    blocks: tuple[int, ...]
    strides: tuple[int, ...]
    min_depth: tuple[int, ...]
    stem: int = 32
    stem_stride: int = 1
    head: int = 1280
    width_ratios: tuple[float, ...] = (0.5, 0.75, 1.0)
    kernel_choices: tuple[int, ...] = (3, 5, 7)
    expand_choices: tuple[float, ...] = (3.0, 4.0, 6.0)
    bit_choices: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    family: str = "mobilenetv2"

    def __post_init__(self) -> None:
        self._check_stage_lists("blocks", "strides")
        if any(s not in (1, 2) for s in (*self.strides, self.stem_stride)):
            raise SpaceError(f"strides {self.strides} and stem_stride {self.stem_stride} must be 1 or 2")
        self._check_common()
        if self.feature_sizes()[-1] < 1:
            raise SpaceError(f"the strides shrink a {self.image_size}px image below one pixel")

    def max_widths(self) -> tuple[int, ...]:
        return (self.stem, *self.stages, self.head)

    @property
    def width_blocks(self) -> tuple:
        return (None,) * (len(self.stages) + 2)

    @property
    def kernel_blocks(self) -> tuple:
        return self._block_list

    @property
    def expand_blocks(self) -> tuple:
        return self._block_list

    def block_slots(self, stage: int, index: int) -> dict[str, int]:
        """Weight slots of one block: ``expand``, ``depthwise``, ``project``."""
        first = 1 + 3 * self.block_index(stage, index)
        return {"expand": first, "depthwise": first + 1, "project": first + 2}

    @property
    def slot_blocks(self) -> tuple:
        return (None,) + tuple(b for b in self._block_list for _ in range(3)) + (None, None)

    def max_hidden(self, stage: int, index: int) -> int:
        """Largest expanded channels of a block (largest input channels times the largest ratio)."""
        c_in = (self.stem if stage == 0 else self.stages[stage - 1]) if index == 0 else self.stages[stage]
        return int(round(c_in * max(self.expand_choices)))

    def feature_sizes(self) -> list[int]:
        """Map size after the stem and after every stage."""
        size = conv_out(self.image_size, self.stem_stride)
        sizes = [size]
        for st in self.strides:
            size = conv_out(size, st)
            sizes.append(size)
        return sizes

    def layer_table(self, a: ArchArrays) -> dict[str, np.ndarray]:
        t = LayerTable(a.n, self.n_slots)
        t.set(0, ifm=self.image_size + 2, c_in=self.in_channels, k=3, c_out=self._width(a, 0), stride=self.stem_stride)
        sizes = self.feature_sizes()
        c_prev = self._width(a, 0)
        for s, n in enumerate(self.blocks):
            c_stage = self._width(a, 1 + s)
            size = sizes[s]
            for i in range(n):
                b = self.block_index(s, i)
                sl = self.block_slots(s, i)
                stride = self.strides[s] if i == 0 else 1
                c_in = c_prev if i == 0 else c_stage
                hidden = np.maximum(1.0, np.round(c_in * a.expands[:, b]))
                k = a.kernels[:, b]
                t.set(sl["expand"], ifm=size, c_in=c_in, k=1, c_out=hidden)
                t.set(sl["depthwise"], ifm=size + k - 1, c_in=hidden, k=k, c_out=hidden, stride=stride, groups=hidden)
                size = conv_out(size, stride)
                t.set(sl["project"], ifm=size, c_in=hidden, k=1, c_out=c_stage)
            c_prev = c_stage
        head = self._width(a, len(self.stages) + 1)
        t.set(self.n_slots - 2, ifm=sizes[-1], c_in=c_prev, k=1, c_out=head)
        t.set(self.n_slots - 1, ifm=1, c_in=head, k=1, c_out=self.num_classes)
        return t.a
