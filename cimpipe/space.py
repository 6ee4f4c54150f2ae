"""The joint search space: one declaration of what can vary.

A design is a sub-network of a supernet family (:class:`SubnetConfig`) together with the hardware that
runs it (:class:`HardwareConfig`). This module is the only place that lists the choices; the supernet
sampler, the accuracy-table sampler, the predictor's encoding and the Nevergrad search all read them from
a :class:`SearchSpace`, which is built from one workload's and the hardware space's sections of config.

Every design also has a flat *gene* form: one integer per :class:`Gene` (an index into that gene's list of
choices). Genes are what the search mutates and what the predictor encodes; :meth:`SearchSpace.decode`
turns a batch of gene rows back into layer shapes and hardware fields as arrays, with no Python loop over
designs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np

BIT_RANGE = (2, 8)


class SpaceError(ValueError):
    """A configuration lies outside the declared space (one sentence naming the field)."""


# --------------------------------------------------------------------------------------------------
# Network family
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerShape:
    """One weight layer in NeuroSim's network format (NetWork.csv).

    ``ifm_h, ifm_w`` input feature map, ``c_in`` input channels, ``k`` kernel (square), ``c_out`` output
    channels, ``pool`` whether a 2x2 max-pool follows, ``stride`` the convolution stride. Fully connected
    layers are ``1 x 1 x c_in`` inputs with a 1x1 kernel, as in NeuroSim.
    """

    ifm_h: int
    ifm_w: int
    c_in: int
    k: int
    c_out: int
    pool: bool
    stride: int = 1

    def as_row(self) -> tuple[int, ...]:
        return (self.ifm_h, self.ifm_w, self.c_in, self.k, self.k, self.c_out, int(self.pool), self.stride)


@dataclass(frozen=True)
class VGGSpec:
    """An elastic VGG family: its largest member and the choices each layer has.

    ``stages`` lists the largest output channels of each conv layer, stage by stage; a 2x2 max-pool closes
    each stage. ``fc`` lists the hidden fully connected widths; a classifier of ``num_classes`` outputs
    follows. Elastic depth keeps the first ``d`` conv layers of a stage, ``min_depth[s] <= d <=
    len(stages[s])``. Every conv layer and hidden FC layer scales its width by one of ``width_ratios``; every
    conv layer picks a kernel from ``kernel_choices``; every weight layer (classifier included) picks weight
    and activation bits from ``bit_choices``.
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

    def __post_init__(self) -> None:
        if len(self.min_depth) != len(self.stages):
            raise SpaceError(f"min_depth has {len(self.min_depth)} entries but there are {len(self.stages)} stages")
        for s, (lo, stage) in enumerate(zip(self.min_depth, self.stages)):
            if not 1 <= lo <= len(stage):
                raise SpaceError(f"min_depth[{s}]={lo} must lie between 1 and the stage's {len(stage)} layers")
        for b in self.bit_choices:
            if not BIT_RANGE[0] <= b <= BIT_RANGE[1]:
                raise SpaceError(f"bit choice {b} is outside {BIT_RANGE[0]}..{BIT_RANGE[1]}")
        if any(not 0 < r <= 1 for r in self.width_ratios):
            raise SpaceError(f"width_ratios {self.width_ratios} must lie in (0, 1]")
        if any(k % 2 == 0 or k < 1 for k in self.kernel_choices):
            raise SpaceError(f"kernel_choices {self.kernel_choices} must be odd positive sizes")
        size = self.image_size
        for _ in self.stages:
            size //= 2
        if size < 1:
            raise SpaceError(f"{len(self.stages)} pooling stages shrink a {self.image_size}px image below one pixel")

    # slots --------------------------------------------------------------------------------------
    @property
    def n_conv(self) -> int:
        return sum(len(s) for s in self.stages)

    @property
    def n_slots(self) -> int:
        """Weight layers of the largest member: conv layers, hidden FC layers, classifier."""
        return self.n_conv + len(self.fc) + 1

    @property
    def n_width_slots(self) -> int:
        """Layers with an elastic width: every conv and hidden FC layer (not the classifier)."""
        return self.n_conv + len(self.fc)

    def conv_slot(self, stage: int, index: int) -> int:
        return sum(len(s) for s in self.stages[:stage]) + index

    def max_widths(self) -> tuple[int, ...]:
        return tuple(c for stage in self.stages for c in stage) + tuple(self.fc)

    @property
    def final_size(self) -> int:
        return self.image_size // (2 ** len(self.stages))

    # members ------------------------------------------------------------------------------------
    def largest(self, bits: int | None = None) -> "SubnetConfig":
        b = max(self.bit_choices) if bits is None else bits
        return SubnetConfig(
            depths=tuple(len(s) for s in self.stages),
            width_ratios=(max(self.width_ratios),) * self.n_width_slots,
            kernels=(max(self.kernel_choices),) * self.n_conv,
            weight_bits=(b,) * self.n_slots,
            act_bits=(b,) * self.n_slots,
        )

    def smallest(self, bits: int | None = None) -> "SubnetConfig":
        b = min(self.bit_choices) if bits is None else bits
        return SubnetConfig(
            depths=tuple(self.min_depth),
            width_ratios=(min(self.width_ratios),) * self.n_width_slots,
            kernels=(min(self.kernel_choices),) * self.n_conv,
            weight_bits=(b,) * self.n_slots,
            act_bits=(b,) * self.n_slots,
        )

    def sample(self, rng: np.random.Generator, bits: Sequence[int] | None = None) -> "SubnetConfig":
        """A uniformly random member; ``bits`` restricts the bit choices (e.g. during a training phase)."""
        bit_pool = list(self.bit_choices if bits is None else bits)
        depths = tuple(int(rng.integers(lo, len(st) + 1)) for lo, st in zip(self.min_depth, self.stages))
        cfg = SubnetConfig(
            depths=depths,
            width_ratios=tuple(float(rng.choice(self.width_ratios)) for _ in range(self.n_width_slots)),
            kernels=tuple(int(rng.choice(self.kernel_choices)) for _ in range(self.n_conv)),
            weight_bits=tuple(int(rng.choice(bit_pool)) for _ in range(self.n_slots)),
            act_bits=tuple(int(rng.choice(bit_pool)) for _ in range(self.n_slots)),
        )
        return self.canonical(cfg)

    def active_slots(self, cfg: "SubnetConfig") -> list[int]:
        """Indices of the weight layers a member uses, in order."""
        slots = [self.conv_slot(s, i) for s, d in enumerate(cfg.depths) for i in range(d)]
        return slots + list(range(self.n_conv, self.n_slots))

    def channels(self, cfg: "SubnetConfig") -> tuple[int, ...]:
        """Output channels of every width slot under ``cfg`` (inactive slots included)."""
        return tuple(max(1, int(round(r * w))) for r, w in zip(cfg.width_ratios, self.max_widths()))

    def canonical(self, cfg: "SubnetConfig") -> "SubnetConfig":
        """The same member with every unused slot set to the largest choice, so equal members compare equal."""
        self.validate(cfg)
        active = set(self.active_slots(cfg))
        top_w, top_k, top_b = max(self.width_ratios), max(self.kernel_choices), max(self.bit_choices)
        return replace(
            cfg,
            width_ratios=tuple(r if i in active else top_w for i, r in enumerate(cfg.width_ratios)),
            kernels=tuple(k if i in active else top_k for i, k in enumerate(cfg.kernels)),
            weight_bits=tuple(b if i in active else top_b for i, b in enumerate(cfg.weight_bits)),
            act_bits=tuple(b if i in active else top_b for i, b in enumerate(cfg.act_bits)),
        )

    def validate(self, cfg: "SubnetConfig") -> None:
        """Raise :class:`SpaceError` naming the first field of ``cfg`` that the family cannot build."""
        expect = {
            "depths": len(self.stages),
            "width_ratios": self.n_width_slots,
            "kernels": self.n_conv,
            "weight_bits": self.n_slots,
            "act_bits": self.n_slots,
        }
        for name, n in expect.items():
            got = len(getattr(cfg, name))
            if got != n:
                raise SpaceError(f"{name} has {got} entries but this {self.family} family has {n}")
        for s, (d, lo, st) in enumerate(zip(cfg.depths, self.min_depth, self.stages)):
            if not lo <= d <= len(st):
                raise SpaceError(f"depths[{s}]={d} is outside this stage's range {lo}..{len(st)}")
        for i, r in enumerate(cfg.width_ratios):
            if not any(math.isclose(r, c) for c in self.width_ratios):
                raise SpaceError(f"width_ratios[{i}]={r} is not one of {self.width_ratios}")
        for i, k in enumerate(cfg.kernels):
            if k not in self.kernel_choices:
                raise SpaceError(f"kernels[{i}]={k} is not one of {self.kernel_choices}")
        for name in ("weight_bits", "act_bits"):
            for i, b in enumerate(getattr(cfg, name)):
                if not BIT_RANGE[0] <= b <= BIT_RANGE[1]:
                    raise SpaceError(f"{name}[{i}]={b} is outside {BIT_RANGE[0]}..{BIT_RANGE[1]} bits")

    def layer_shapes(self, cfg: "SubnetConfig") -> list[LayerShape]:
        """The member's weight layers in NeuroSim's network format, in execution order."""
        self.validate(cfg)
        chans = self.channels(cfg)
        shapes: list[LayerShape] = []
        size, c_in = self.image_size, self.in_channels
        for s, d in enumerate(cfg.depths):
            for i in range(d):
                slot = self.conv_slot(s, i)
                c_out = chans[slot]
                shapes.append(LayerShape(size, size, c_in, cfg.kernels[slot], c_out, pool=(i == d - 1)))
                c_in = c_out
            size //= 2
        c_in = c_in * size * size
        for j in range(len(self.fc)):
            c_out = chans[self.n_conv + j]
            shapes.append(LayerShape(1, 1, c_in, 1, c_out, pool=False))
            c_in = c_out
        shapes.append(LayerShape(1, 1, c_in, 1, self.num_classes, pool=False))
        return shapes

    def layer_bits(self, cfg: "SubnetConfig") -> tuple[list[int], list[int]]:
        """Weight and activation bits of the active layers, aligned with :meth:`layer_shapes`."""
        slots = self.active_slots(cfg)
        return [cfg.weight_bits[i] for i in slots], [cfg.act_bits[i] for i in slots]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FamilySpec = VGGSpec  # the families the package builds; ResNet/MobileNet join this union when they land


@dataclass(frozen=True)
class SubnetConfig:
    """One member of a supernet family: the active architecture and its per-layer precision.

    ``depths`` active conv layers per stage; ``width_ratios`` per conv and hidden FC slot; ``kernels`` per
    conv slot; ``weight_bits`` and ``act_bits`` per weight-layer slot (classifier last), where ``act_bits`` is
    the precision of the layer's *input*. Slots a member does not use are kept (at the largest choice, see
    :meth:`VGGSpec.canonical`) so every member of a family has the same field lengths.
    """

    depths: tuple[int, ...]
    width_ratios: tuple[float, ...]
    kernels: tuple[int, ...]
    weight_bits: tuple[int, ...]
    act_bits: tuple[int, ...]

    def to_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Iterable]) -> "SubnetConfig":
        try:
            return cls(
                depths=tuple(int(x) for x in d["depths"]),
                width_ratios=tuple(float(x) for x in d["width_ratios"]),
                kernels=tuple(int(x) for x in d["kernels"]),
                weight_bits=tuple(int(x) for x in d["weight_bits"]),
                act_bits=tuple(int(x) for x in d["act_bits"]),
            )
        except KeyError as e:
            raise SpaceError(f"a sub-network description lacks the field {e.args[0]!r}") from None


@dataclass(frozen=True)
class CIMSettings:
    """What the crossbar does to a layer's arithmetic, as the accuracy side simulates it.

    ``adc_bits`` resolution of the ADC that reads every partial sum; ``cell_bits`` bits stored per cell
    (weights are bit-sliced over ``ceil(w_bits / cell_bits)`` cells); ``rows_parallel`` rows summed into one
    partial sum; ``sigma`` relative Gaussian conductance variation; ``on_off_ratio`` Gon/Goff (finite: an
    "off" cell still conducts); ``seed`` for the variation draw.
    """

    adc_bits: int = 8
    cell_bits: int = 1
    rows_parallel: int = 128
    sigma: float = 0.0
    on_off_ratio: float = math.inf
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.adc_bits <= 16:
            raise SpaceError(f"adc_bits={self.adc_bits} is outside 1..16")
        if not 1 <= self.cell_bits <= 8:
            raise SpaceError(f"cell_bits={self.cell_bits} is outside 1..8")
        if self.rows_parallel < 1:
            raise SpaceError(f"rows_parallel={self.rows_parallel} must be at least 1")
        if self.sigma < 0:
            raise SpaceError(f"sigma={self.sigma} must not be negative")
        if not self.on_off_ratio > 1:
            raise SpaceError(f"on_off_ratio={self.on_off_ratio} must exceed 1")


@dataclass(frozen=True)
class HardwareConfig:
    """The crossbar accelerator of one design (NeuroSim's knobs).

    ``technology`` a key of config's ``technologies``; ``subarray`` rows = columns of one crossbar;
    ``rows_parallel`` rows activated at once (partial-parallel read when below ``subarray``); ``col_mux``
    columns sharing one ADC; ``adc_bits`` and ``adc_type`` ("flash" or "sar"); ``cell_bits`` bits per
    cell; ``pipeline`` pipelined (True) or layer-by-layer execution.
    """

    technology: str
    subarray: int = 128
    rows_parallel: int = 128
    col_mux: int = 8
    adc_bits: int = 5
    adc_type: str = "flash"
    cell_bits: int = 2
    pipeline: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Design:
    """A complete co-design point: the sub-network and its hardware."""

    subnet: SubnetConfig
    hardware: HardwareConfig
