"""What every supernet family shares: sub-network configurations, layer shapes, and the :class:`Family` base."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
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


class LayerTable:
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


def conv_out(size: int, stride: int) -> int:
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


def as_ints(v: Iterable) -> tuple[int, ...]:
    return tuple(int(x) for x in v)
