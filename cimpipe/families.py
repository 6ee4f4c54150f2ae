"""Supernet families: VGG, ResNet (basic blocks) and MobileNetV2 (inverted residuals).

Every family declares itself to the rest of the package through one generic interface (:class:`Family`),
so the samplers, the gene encoding, the predictor and the hardware evaluator never branch on the family:

* **Depth.** Stages of blocks; stage ``s`` keeps its first ``d`` blocks, ``min_depth[s] <= d <=
  max_depths[s]``. A block is one conv layer (VGG), a basic block (ResNet) or an inverted residual
  (MobileNetV2).
* **Slots.** Width slots (layers whose output channels are ``round(ratio * max)``, the ratio one of
  ``width_ratios``), kernel slots (one of ``kernel_choices``), expand slots (MobileNetV2's expansion
  ratio, one of ``expand_choices``) and weight slots (every weight layer of the largest member in execution
  order, each with its weight and activation bits). Every slot belongs to a block ``(stage, index)``, whose
  activity it follows, or to none (always present). :attr:`Family.width_blocks` and its siblings say which.
* **Shapes.** :meth:`Family.layer_table` gives every weight slot's shape in NeuroSim's network format for a
  batch of members at once ([D, n_slots] arrays), the form the hardware evaluator takes; one member's
  :meth:`Family.layer_shapes` is the same table for D = 1.

Shapes follow NeuroSim's network file (IFM, C_in, K, C_out, pool, stride). NeuroSim counts the output
pixels of a layer as ``(IFM - K + 1) / stride``; its own VGG files give the unpadded input, and the VGG family
keeps that convention so the largest VGG-8 member reproduces NeuroSim's ``NetWork_VGG8.csv``. ResNet and
MobileNetV2 have strided and large-kernel layers on small maps, so their tables give the *zero-padded*
input size, with which the same formula counts the true output pixels. A depthwise convolution
(``groups == c_in == c_out``) is mapped block-diagonally: its ``C * K * K`` by ``C`` matrix occupies the
crossbar densely, because a crossbar column can only read the rows that all columns share.

The ResNet basic block follows He et al. (2016) with a 1x1 projection shortcut in the first block of every
stage (as once-for-all's elastic ResNets do, so the stage's channels can change freely); MobileNetV2 follows
Sandler et al. (2018): expand 1x1, depthwise KxK, linear projection 1x1, residual when the block keeps its
stride and width, a 1x1 head before the classifier.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

BIT_RANGE = (2, 8)
FAMILIES = ("vgg", "resnet", "mobilenetv2")

class SpaceError(ValueError):
    """A configuration lies outside the declared space (one sentence naming the field)."""


@dataclass(frozen=True)
class LayerShape:
    """One weight layer in NeuroSim's network format (NetWork.csv).

    ``ifm_h, ifm_w`` input feature map, ``c_in`` input channels, ``k`` kernel (square), ``c_out`` output
    channels, ``pool`` whether a 2x2 max-pool follows, ``stride`` the convolution stride, ``groups`` the
    convolution groups (``c_in`` for a depthwise layer). Fully connected layers are ``1 x 1 x c_in`` inputs
    with a 1x1 kernel, as in NeuroSim.
    """

    ifm_h: int
    ifm_w: int
    c_in: int
    k: int
    c_out: int
    pool: bool
    stride: int = 1
    groups: int = 1

    def as_row(self) -> tuple[int, ...]:
        row = (self.ifm_h, self.ifm_w, self.c_in, self.k, self.k, self.c_out, int(self.pool), self.stride)
        return row + ((self.groups,) if self.groups != 1 else ())

    @property
    def macs(self) -> float:
        """Multiply-accumulates as NeuroSim counts them (``IFM_H * IFM_W * C_in * K * K * C_out / groups``)."""
        return float(self.ifm_h * self.ifm_w * self.c_in * self.k * self.k * self.c_out / self.groups)


@dataclass(frozen=True)
class SubnetConfig:
    """One member of a supernet family: the active architecture and its per-layer precision.

    ``depths`` active blocks per stage; ``width_ratios`` per width slot; ``kernels`` per kernel slot;
    ``weight_bits`` and ``act_bits`` per weight slot (classifier last), where ``act_bits`` is the precision
    of the layer's *input*; ``expand_ratios`` per expand slot (MobileNetV2 only). Slots a member does not use
    are kept (at the largest choice, see :meth:`Family.canonical`) so every member of a family has the same
    field lengths.
    """

    depths: tuple[int, ...]
    width_ratios: tuple[float, ...]
    kernels: tuple[int, ...]
    weight_bits: tuple[int, ...]
    act_bits: tuple[int, ...]
    expand_ratios: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, list]:
        d = {k: list(v) for k, v in asdict(self).items()}
        if not self.expand_ratios:
            del d["expand_ratios"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Iterable]) -> "SubnetConfig":
        try:
            return cls(
                depths=tuple(int(x) for x in d["depths"]),
                width_ratios=tuple(float(x) for x in d["width_ratios"]),
                kernels=tuple(int(x) for x in d["kernels"]),
                weight_bits=tuple(int(x) for x in d["weight_bits"]),
                act_bits=tuple(int(x) for x in d["act_bits"]),
                expand_ratios=tuple(float(x) for x in d.get("expand_ratios", ())),
            )
        except KeyError as e:
            raise SpaceError(f"a sub-network description lacks the field {e.args[0]!r}") from None


@dataclass(frozen=True)
class ArchArrays:
    """The elastic choices of D members as arrays: ``depths`` [D, S], ``widths`` (ratios) [D, W],
    ``kernels`` [D, K], ``expands`` [D, E]."""

    depths: np.ndarray
    widths: np.ndarray
    kernels: np.ndarray
    expands: np.ndarray

    @classmethod
    def of(cls, cfg: SubnetConfig) -> "ArchArrays":
        row = lambda v: np.asarray(v, dtype=np.float64).reshape(1, -1)  # noqa: E731
        return cls(row(cfg.depths), row(cfg.width_ratios), row(cfg.kernels), row(cfg.expand_ratios))

    @property
    def n(self) -> int:
        return self.depths.shape[0]


LAYER_KEYS = ("ifm_h", "ifm_w", "c_in", "k", "c_out", "pool", "stride", "groups")


class _Table:
    """[D, L] layer arrays filled slot by slot (the loop runs over a family's slots, never over members)."""

    def __init__(self, d: int, n_slots: int) -> None:
        self.a = {k: np.ones((d, n_slots)) for k in LAYER_KEYS}
        self.a["pool"][:] = 0.0
        self.d = d

    def set(self, slot: int, *, ifm: Any, c_in: Any, k: Any, c_out: Any, stride: Any = 1, pool: Any = 0,
            groups: Any = 1) -> None:
        for key, v in (("ifm_h", ifm), ("ifm_w", ifm), ("c_in", c_in), ("k", k), ("c_out", c_out),
                       ("stride", stride), ("pool", pool), ("groups", groups)):
            self.a[key][:, slot] = v


def _conv_out(size: int, stride: int) -> int:
    """Output size of a 'same'-padded convolution (or a 3x3/2 max-pool with padding 1): ceil(size / stride)."""
    return -(-size // stride)


class Family:
    """The generic interface of a supernet family (see the module notes). Subclasses are frozen dataclasses
    with ``in_channels, image_size, num_classes, min_depth, width_ratios, bit_choices`` and whatever their
    shape needs, and implement the slot declarations and :meth:`layer_table`."""

    family: str
    in_channels: int
    image_size: int
    num_classes: int
    min_depth: tuple[int, ...]
    width_ratios: tuple[float, ...]
    bit_choices: tuple[int, ...]
    kernel_choices: tuple[int, ...] = (3,)
    expand_choices: tuple[float, ...] = ()
    PADDED_IFM: ClassVar[bool] = True

    # declarations (subclasses) -------------------------------------------------------------------
    @property
    def max_depths(self) -> tuple[int, ...]:
        raise NotImplementedError

    def max_widths(self) -> tuple[int, ...]:
        """Largest output channels of every width slot."""
        raise NotImplementedError

    @property
    def width_blocks(self) -> tuple:
        raise NotImplementedError

    @property
    def kernel_blocks(self) -> tuple:
        return ()

    @property
    def expand_blocks(self) -> tuple:
        return ()

    @property
    def slot_blocks(self) -> tuple:
        """The block each weight slot belongs to (None: always present), in execution order."""
        raise NotImplementedError

    def layer_table(self, a: ArchArrays) -> dict[str, np.ndarray]:
        """[D, n_slots] arrays ``ifm_h, ifm_w, c_in, k, c_out, pool, stride, groups`` of every weight slot."""
        raise NotImplementedError

    # counts --------------------------------------------------------------------------------------
    @property
    def n_stages(self) -> int:
        return len(self.min_depth)

    @property
    def n_width_slots(self) -> int:
        return len(self.width_blocks)

    @property
    def n_kernel_slots(self) -> int:
        return len(self.kernel_blocks)

    @property
    def n_expand_slots(self) -> int:
        return len(self.expand_blocks)

    @property
    def n_slots(self) -> int:
        return len(self.slot_blocks)

    def _check_common(self) -> None:
        if len(self.min_depth) != len(self.max_depths):
            raise SpaceError(f"min_depth has {len(self.min_depth)} entries but there are {len(self.max_depths)} stages")
        for s, (lo, hi) in enumerate(zip(self.min_depth, self.max_depths)):
            if not 1 <= lo <= hi:
                raise SpaceError(f"min_depth[{s}]={lo} must lie between 1 and the stage's {hi} blocks")
        for b in self.bit_choices:
            if not BIT_RANGE[0] <= b <= BIT_RANGE[1]:
                raise SpaceError(f"bit choice {b} is outside {BIT_RANGE[0]}..{BIT_RANGE[1]}")
        if not self.width_ratios or any(not 0 < r <= 1 for r in self.width_ratios):
            raise SpaceError(f"width_ratios {self.width_ratios} must lie in (0, 1]")
        if not self.kernel_choices or any(k % 2 == 0 or k < 1 for k in self.kernel_choices):
            raise SpaceError(f"kernel_choices {self.kernel_choices} must be odd positive sizes")
        if self.n_expand_slots and (not self.expand_choices or any(e <= 0 for e in self.expand_choices)):
            raise SpaceError(f"expand_choices {self.expand_choices} must be positive ratios")

    # members -------------------------------------------------------------------------------------
    def largest(self, bits: int | None = None) -> SubnetConfig:
        b = max(self.bit_choices) if bits is None else bits
        return SubnetConfig(
            depths=tuple(self.max_depths),
            width_ratios=(max(self.width_ratios),) * self.n_width_slots,
            kernels=(max(self.kernel_choices),) * self.n_kernel_slots,
            weight_bits=(b,) * self.n_slots,
            act_bits=(b,) * self.n_slots,
            expand_ratios=(max(self.expand_choices),) * self.n_expand_slots if self.n_expand_slots else (),
        )

    def smallest(self, bits: int | None = None) -> SubnetConfig:
        b = min(self.bit_choices) if bits is None else bits
        return SubnetConfig(
            depths=tuple(self.min_depth),
            width_ratios=(min(self.width_ratios),) * self.n_width_slots,
            kernels=(min(self.kernel_choices),) * self.n_kernel_slots,
            weight_bits=(b,) * self.n_slots,
            act_bits=(b,) * self.n_slots,
            expand_ratios=(min(self.expand_choices),) * self.n_expand_slots if self.n_expand_slots else (),
        )

    def sample(self, rng: np.random.Generator, bits: Sequence[int] | None = None) -> SubnetConfig:
        """A uniformly random member; ``bits`` restricts the bit choices (e.g. during a training phase)."""
        bit_pool = list(self.bit_choices if bits is None else bits)
        depths = tuple(int(rng.integers(lo, hi + 1)) for lo, hi in zip(self.min_depth, self.max_depths))
        cfg = SubnetConfig(
            depths=depths,
            width_ratios=tuple(float(rng.choice(self.width_ratios)) for _ in range(self.n_width_slots)),
            kernels=tuple(int(rng.choice(self.kernel_choices)) for _ in range(self.n_kernel_slots)),
            weight_bits=tuple(int(rng.choice(bit_pool)) for _ in range(self.n_slots)),
            act_bits=tuple(int(rng.choice(bit_pool)) for _ in range(self.n_slots)),
            expand_ratios=tuple(float(rng.choice(self.expand_choices)) for _ in range(self.n_expand_slots)),
        )
        return self.canonical(cfg)

    @staticmethod
    def _is_on(block: Any, depths: Sequence[int]) -> bool:
        return block is None or depths[block[0]] > block[1]

    def active_slots(self, cfg: SubnetConfig) -> list[int]:
        """Indices of the weight layers a member uses, in execution order."""
        return [i for i, b in enumerate(self.slot_blocks) if self._is_on(b, cfg.depths)]

    def channels(self, cfg: SubnetConfig) -> tuple[int, ...]:
        """Output channels of every width slot under ``cfg`` (inactive slots included)."""
        return tuple(max(1, int(round(r * w))) for r, w in zip(cfg.width_ratios, self.max_widths()))

    def canonical(self, cfg: SubnetConfig) -> SubnetConfig:
        """The same member with every unused slot set to the largest choice, so equal members compare equal."""
        self.validate(cfg)

        def keep(values: tuple, blocks: tuple, top: Any) -> tuple:
            return tuple(v if self._is_on(b, cfg.depths) else top for v, b in zip(values, blocks))

        top_b = max(self.bit_choices)
        slots = self.slot_blocks
        return replace(
            cfg,
            width_ratios=keep(cfg.width_ratios, self.width_blocks, max(self.width_ratios)),
            kernels=keep(cfg.kernels, self.kernel_blocks, max(self.kernel_choices)),
            expand_ratios=keep(cfg.expand_ratios, self.expand_blocks, max(self.expand_choices, default=0.0)),
            weight_bits=keep(cfg.weight_bits, slots, top_b),
            act_bits=keep(cfg.act_bits, slots, top_b),
        )

    def validate(self, cfg: SubnetConfig) -> None:
        """Raise :class:`SpaceError` naming the first field of ``cfg`` that the family cannot build."""
        expect = {"depths": self.n_stages, "width_ratios": self.n_width_slots, "kernels": self.n_kernel_slots,
                  "weight_bits": self.n_slots, "act_bits": self.n_slots, "expand_ratios": self.n_expand_slots}
        for name, n in expect.items():
            got = len(getattr(cfg, name))
            if got != n:
                raise SpaceError(f"{name} has {got} entries but this {self.family} family has {n}")
        for s, (d, lo, hi) in enumerate(zip(cfg.depths, self.min_depth, self.max_depths)):
            if not lo <= d <= hi:
                raise SpaceError(f"depths[{s}]={d} is outside this stage's range {lo}..{hi}")
        for name, values, choices in (("width_ratios", cfg.width_ratios, self.width_ratios),
                                      ("expand_ratios", cfg.expand_ratios, self.expand_choices)):
            for i, r in enumerate(values):
                if not any(math.isclose(r, c) for c in choices):
                    raise SpaceError(f"{name}[{i}]={r} is not one of {tuple(choices)}")
        for i, k in enumerate(cfg.kernels):
            if k not in self.kernel_choices:
                raise SpaceError(f"kernels[{i}]={k} is not one of {self.kernel_choices}")
        for name in ("weight_bits", "act_bits"):
            for i, b in enumerate(getattr(cfg, name)):
                if not BIT_RANGE[0] <= b <= BIT_RANGE[1]:
                    raise SpaceError(f"{name}[{i}]={b} is outside {BIT_RANGE[0]}..{BIT_RANGE[1]} bits")

    def layer_shapes(self, cfg: SubnetConfig) -> list[LayerShape]:
        """The member's weight layers in NeuroSim's network format, in execution order."""
        self.validate(cfg)
        t = self.layer_table(ArchArrays.of(cfg))
        return [LayerShape(int(t["ifm_h"][0, i]), int(t["ifm_w"][0, i]), int(t["c_in"][0, i]), int(t["k"][0, i]),
                           int(t["c_out"][0, i]), bool(t["pool"][0, i]), int(t["stride"][0, i]), int(t["groups"][0, i]))
                for i in self.active_slots(cfg)]

    def layer_bits(self, cfg: SubnetConfig) -> tuple[list[int], list[int]]:
        """Weight and activation bits of the active layers, aligned with :meth:`layer_shapes`."""
        slots = self.active_slots(cfg)
        return [cfg.weight_bits[i] for i in slots], [cfg.act_bits[i] for i in slots]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _width(self, a: ArchArrays, slot: int) -> np.ndarray:
        return np.maximum(1.0, np.round(a.widths[:, slot] * self.max_widths()[slot]))


def _ints(v: Iterable) -> tuple[int, ...]:
    return tuple(int(x) for x in v)


# --------------------------------------------------------------------------------------------------
# VGG
# --------------------------------------------------------------------------------------------------


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
        t = _Table(a.n, self.n_slots)
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


# --------------------------------------------------------------------------------------------------
# Families of residual blocks (ResNet, MobileNetV2)
# --------------------------------------------------------------------------------------------------


class _BlockFamily(Family):
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


# --------------------------------------------------------------------------------------------------
# ResNet (basic blocks)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResNetSpec(_BlockFamily):
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
        size = _conv_out(self.image_size, self.stem_stride)
        if self.stem_type == "imagenet":
            size = _conv_out(size, 2)
        sizes = [size]
        for s in range(len(self.stages)):
            size = _conv_out(size, 1 if s == 0 else 2)
            sizes.append(size)
        return sizes

    def layer_table(self, a: ArchArrays) -> dict[str, np.ndarray]:
        t = _Table(a.n, self.n_slots)
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
                out = _conv_out(size, stride)
                t.set(sl["conv2"], ifm=out + 2, c_in=mid, k=3, c_out=c_stage)
                if i == 0:
                    t.set(sl["shortcut"], ifm=size, c_in=c_in, k=1, c_out=c_stage, stride=stride)
                size = out
            c_prev = c_stage
        t.set(self.n_slots - 1, ifm=1, c_in=c_prev, k=1, c_out=self.num_classes)
        return t.a


# --------------------------------------------------------------------------------------------------
# MobileNetV2 (inverted residuals)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MobileNetV2Spec(_BlockFamily):
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
        size = _conv_out(self.image_size, self.stem_stride)
        sizes = [size]
        for st in self.strides:
            size = _conv_out(size, st)
            sizes.append(size)
        return sizes

    def layer_table(self, a: ArchArrays) -> dict[str, np.ndarray]:
        t = _Table(a.n, self.n_slots)
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
                size = _conv_out(size, stride)
                t.set(sl["project"], ifm=size, c_in=hidden, k=1, c_out=c_stage)
            c_prev = c_stage
        head = self._width(a, len(self.stages) + 1)
        t.set(self.n_slots - 2, ifm=sizes[-1], c_in=c_prev, k=1, c_out=head)
        t.set(self.n_slots - 1, ifm=1, c_in=head, k=1, c_out=self.num_classes)
        return t.a


FamilySpec = VGGSpec | ResNetSpec | MobileNetV2Spec
_SPEC_TYPES = {"vgg": VGGSpec, "resnet": ResNetSpec, "mobilenetv2": MobileNetV2Spec}


def spec_from_dict(d: dict[str, Any]) -> Family:
    """Rebuild a family from :meth:`Family.to_dict` output (lists become tuples; unknown fields refused)."""
    d = dict(d)
    family = d.get("family", "vgg")
    cls = _SPEC_TYPES.get(family)
    if cls is None:
        raise SpaceError(f"supernet family {family!r} is not one of {', '.join(FAMILIES)}")
    fields = set(cls.__dataclass_fields__)
    unknown = sorted(set(d) - fields)
    if unknown:
        raise SpaceError(f"the {family} family has no field {unknown[0]!r}")

    def norm(v: Any) -> Any:
        return tuple(norm(x) for x in v) if isinstance(v, (list, tuple)) else v

    try:
        return cls(**{k: norm(v) for k, v in d.items()})
    except TypeError as e:
        raise SpaceError(f"the {family} family description is incomplete ({e})") from None
