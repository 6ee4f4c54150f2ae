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
ADC_RANGES = ("dynamic", "full")


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
    adc_range: str = "dynamic"

    def __post_init__(self) -> None:
        if self.adc_range not in ADC_RANGES:
            raise SpaceError(f"adc_range={self.adc_range!r} is not one of {ADC_RANGES}")
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


# --------------------------------------------------------------------------------------------------
# Hardware space and the joint gene encoding
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceSummary:
    """What the accuracy side and the space need to know of one technology's memory device."""

    sigma: float
    on_off_ratio: float
    max_cell_bits: int


@dataclass(frozen=True)
class HardwareSpace:
    """The hardware choices of config's ``hardware_space`` section (one list per knob)."""

    technologies: tuple[str, ...]
    subarray: tuple[int, ...] = (64, 128, 256)
    rows_parallel: tuple[int, ...] = (16, 32, 64, 128, 256)
    col_mux: tuple[int, ...] = (4, 8, 16)
    adc_bits: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    adc_type: tuple[str, ...] = ("flash", "sar")
    cell_bits: tuple[int, ...] = (1, 2, 4)
    pipeline: tuple[bool, ...] = (False, True)

    KNOBS = ("subarray", "rows_parallel", "col_mux", "adc_bits", "adc_type", "cell_bits", "pipeline")

    @classmethod
    def from_config(cls, section: dict[str, Any], technologies: Sequence[str]) -> "HardwareSpace":
        kwargs = {k: tuple(section[k]) for k in cls.KNOBS if k in section}
        techs = tuple(section.get("technologies", technologies))
        unknown = [t for t in techs if t not in technologies]
        if unknown:
            raise SpaceError(f"hardware_space.technologies names {unknown[0]!r}, which is not under technologies")
        return cls(technologies=techs, **kwargs)


@dataclass(frozen=True)
class Gene:
    """One discrete decision of the joint space; a design stores the index of its choice."""

    name: str
    choices: tuple

    @property
    def n(self) -> int:
        return len(self.choices)


CIM_COLUMNS = ("adc_bits", "cell_bits", "rows_parallel", "sigma", "on_off_ratio")
"""Columns of the accuracy table (beside the architecture genes) that set the CIM simulation."""


class SearchSpace:
    """The joint space of one workload: architecture x per-layer bits x hardware x technology.

    Built once from config; every consumer (supernet sampler, accuracy-table sampler, predictor encoding,
    search) reads its genes from here.
    """

    def __init__(self, spec: VGGSpec, hardware: HardwareSpace, devices: dict[str, DeviceSummary]):
        self.spec = spec
        self.hardware = hardware
        self.devices = {t: devices[t] for t in hardware.technologies}
        arch: list[Gene] = []
        for s, (lo, stage) in enumerate(zip(spec.min_depth, spec.stages)):
            arch.append(Gene(f"depth_{s}", tuple(range(lo, len(stage) + 1))))
        arch += [Gene(f"width_{i}", tuple(spec.width_ratios)) for i in range(spec.n_width_slots)]
        arch += [Gene(f"kernel_{i}", tuple(spec.kernel_choices)) for i in range(spec.n_conv)]
        arch += [Gene(f"wbits_{i}", tuple(spec.bit_choices)) for i in range(spec.n_slots)]
        arch += [Gene(f"abits_{i}", tuple(spec.bit_choices)) for i in range(spec.n_slots)]
        hw = [Gene("technology", tuple(hardware.technologies))]
        hw += [Gene(k, tuple(getattr(hardware, k))) for k in HardwareSpace.KNOBS]
        self.arch_genes: tuple[Gene, ...] = tuple(arch)
        self.hw_genes: tuple[Gene, ...] = tuple(hw)
        self.genes: tuple[Gene, ...] = self.arch_genes + self.hw_genes
        self.index = {g.name: i for i, g in enumerate(self.genes)}
        self._numeric = [np.asarray(g.choices if not isinstance(g.choices[0], str) else range(g.n), dtype=np.float64)
                         for g in self.genes]

    # sizes -------------------------------------------------------------------------------------
    def largest_macs(self) -> float:
        """Multiply-accumulates of the family's largest member (a fixed scale for the predictor's features)."""
        return float(sum(s.ifm_h * s.ifm_w * s.c_in * s.k * s.k * s.c_out
                         for s in self.spec.layer_shapes(self.spec.largest())))

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def log10_size(self) -> float:
        """log10 of the number of gene combinations (before canonicalization merges equivalent ones)."""
        return float(sum(math.log10(g.n) for g in self.genes))

    def cardinalities(self) -> np.ndarray:
        return np.array([g.n for g in self.genes], dtype=np.int64)

    # sampling ----------------------------------------------------------------------------------
    def random_genes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniformly random gene rows, int64 [n, n_genes]."""
        return (rng.random((n, self.n_genes)) * self.cardinalities()).astype(np.int64)

    # genes <-> values --------------------------------------------------------------------------
    def values(self, genes: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The chosen values of the named genes for a batch (string choices come back as indices)."""
        genes = np.asarray(genes)
        return {n: self._numeric[self.index[n]][genes[:, self.index[n]]] for n in names}

    def arch_values(self, genes: np.ndarray) -> np.ndarray:
        """float64 [D, n_arch]: the architecture genes' values, the accuracy table's column order."""
        genes = np.asarray(genes)
        return np.stack([self._numeric[i][genes[:, i]] for i in range(len(self.arch_genes))], axis=1)

    def canonical_arch_values(self, arch_values: np.ndarray) -> np.ndarray:
        """Architecture values with every slot a design does not use set to the largest choice (as
        :meth:`VGGSpec.canonical`), batched: equal sub-networks get equal rows whatever their unused genes."""
        vals = np.array(arch_values, dtype=np.float64, copy=True)
        spec, col = self.spec, {g.name: i for i, g in enumerate(self.arch_genes)}
        top_w, top_k, top_b = max(spec.width_ratios), max(spec.kernel_choices), max(spec.bit_choices)
        for s, stage in enumerate(spec.stages):
            depth = vals[:, col[f"depth_{s}"]]
            for i in range(len(stage)):
                slot = spec.conv_slot(s, i)
                off = depth <= i
                vals[off, col[f"width_{slot}"]] = top_w
                vals[off, col[f"kernel_{slot}"]] = top_k
                vals[off, col[f"wbits_{slot}"]] = top_b
                vals[off, col[f"abits_{slot}"]] = top_b
        return vals

    def genes_from_arch_values(self, arch_values: np.ndarray) -> np.ndarray:
        """Gene rows for architecture values (nearest choice of each gene), hardware genes at index 0: the
        input :meth:`layer_arrays` needs when only the table's value columns are at hand."""
        arch_values = np.asarray(arch_values, dtype=np.float64)
        genes = np.zeros((arch_values.shape[0], self.n_genes), dtype=np.int64)
        for i, g in enumerate(self.arch_genes):
            choices = np.asarray(g.choices, dtype=np.float64)
            genes[:, i] = np.abs(arch_values[:, i : i + 1] - choices[None, :]).argmin(1)
        return genes

    def encode_subnet(self, cfg: SubnetConfig) -> np.ndarray:
        """The architecture gene indices of one member (inverse of :meth:`decode_subnet`)."""
        self.spec.validate(cfg)
        vals = list(cfg.depths) + list(cfg.width_ratios) + list(cfg.kernels) + list(cfg.weight_bits) + list(cfg.act_bits)
        out = []
        for g, v in zip(self.arch_genes, vals):
            idx = [i for i, c in enumerate(g.choices) if math.isclose(float(c), float(v))]
            if not idx:
                raise SpaceError(f"{g.name}={v} is not one of {g.choices}")
            out.append(idx[0])
        return np.asarray(out, dtype=np.int64)

    def encode_hardware(self, hw: HardwareConfig) -> np.ndarray:
        out = []
        for g in self.hw_genes:
            v = getattr(hw, g.name)
            if v not in g.choices:
                raise SpaceError(f"hardware {g.name}={v!r} is not one of {g.choices}")
            out.append(g.choices.index(v))
        return np.asarray(out, dtype=np.int64)

    def encode(self, design: Design) -> np.ndarray:
        return np.concatenate([self.encode_subnet(design.subnet), self.encode_hardware(design.hardware)])

    def decode_subnet(self, genes_row: np.ndarray) -> SubnetConfig:
        vals = [g.choices[int(i)] for g, i in zip(self.arch_genes, genes_row[: len(self.arch_genes)])]
        spec, it = self.spec, iter(vals)
        take = lambda n: tuple(next(it) for _ in range(n))  # noqa: E731
        cfg = SubnetConfig(
            depths=tuple(int(v) for v in take(len(spec.stages))),
            width_ratios=tuple(float(v) for v in take(spec.n_width_slots)),
            kernels=tuple(int(v) for v in take(spec.n_conv)),
            weight_bits=tuple(int(v) for v in take(spec.n_slots)),
            act_bits=tuple(int(v) for v in take(spec.n_slots)),
        )
        return spec.canonical(cfg)

    def decode_hardware(self, genes_row: np.ndarray) -> HardwareConfig:
        """The hardware of one gene row, repaired: rows in parallel at most the subarray's rows, cell bits at
        most the device's (the same repair :meth:`hardware_arrays` applies)."""
        hw = self.hardware_arrays(np.asarray(genes_row)[None, :])
        tech = self.hardware.technologies[int(hw["technology"][0])]
        return HardwareConfig(
            technology=tech,
            subarray=int(hw["subarray"][0]),
            rows_parallel=int(hw["rows_parallel"][0]),
            col_mux=int(hw["col_mux"][0]),
            adc_bits=int(hw["adc_bits"][0]),
            adc_type=self.hardware.adc_type[int(hw["adc_type"][0])],
            cell_bits=int(hw["cell_bits"][0]),
            pipeline=bool(hw["pipeline"][0]),
        )

    def decode(self, genes_row: np.ndarray) -> Design:
        return Design(self.decode_subnet(genes_row), self.decode_hardware(genes_row))

    # batched decoding for the evaluators --------------------------------------------------------
    def hardware_arrays(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """[D] arrays of the hardware knobs (technology and adc_type as indices), with the repairs applied."""
        names = ["technology", *HardwareSpace.KNOBS]
        v = self.values(genes, names)
        v["rows_parallel"] = np.minimum(v["rows_parallel"], v["subarray"])
        max_bits = np.array([self.devices[t].max_cell_bits for t in self.hardware.technologies], dtype=np.float64)
        v["cell_bits"] = np.minimum(v["cell_bits"], max_bits[v["technology"].astype(np.int64)])
        return v

    def device_arrays(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """[D] sigma and on/off ratio of each design's technology."""
        t = np.asarray(genes)[:, self.index["technology"]]
        sig = np.array([self.devices[n].sigma for n in self.hardware.technologies])
        onoff = np.array([self.devices[n].on_off_ratio for n in self.hardware.technologies])
        return {"sigma": sig[t], "on_off_ratio": onoff[t]}

    def cim_values(self, genes: np.ndarray) -> np.ndarray:
        """float64 [D, len(CIM_COLUMNS)]: the CIM settings the accuracy side sees for each design."""
        hw = self.hardware_arrays(genes)
        dev = self.device_arrays(genes)
        cols = {**hw, **dev}
        return np.stack([cols[c] for c in CIM_COLUMNS], axis=1)

    def layer_arrays(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """[D, n_slots] arrays of every weight layer in NeuroSim's format, slot-aligned; ``active`` masks the
        slots a design does not use. Vectorized over designs (the loop runs over the family's slots)."""
        spec = self.spec
        genes = np.asarray(genes)
        d = genes.shape[0]
        vals = self.arch_values(genes)
        col = {g.name: vals[:, i] for i, g in enumerate(self.arch_genes)}
        max_w = spec.max_widths()
        L = spec.n_slots
        out = {k: np.zeros((d, L)) for k in ("ifm_h", "ifm_w", "c_in", "k", "c_out", "pool", "stride",
                                               "weight_bits", "input_bits")}
        active = np.zeros((d, L), dtype=bool)
        size = np.full(d, float(spec.image_size))
        c_prev = np.full(d, float(spec.in_channels))
        for s, stage in enumerate(spec.stages):
            depth = col[f"depth_{s}"]
            for i in range(len(stage)):
                slot = spec.conv_slot(s, i)
                on = depth > i
                c_out = np.maximum(1.0, np.round(col[f"width_{slot}"] * max_w[slot]))
                active[:, slot] = on
                out["ifm_h"][:, slot] = size
                out["ifm_w"][:, slot] = size
                out["c_in"][:, slot] = c_prev
                out["k"][:, slot] = col[f"kernel_{slot}"]
                out["c_out"][:, slot] = c_out
                out["pool"][:, slot] = depth == i + 1
                c_prev = np.where(on, c_out, c_prev)
            size = np.floor(size / 2)
        c_prev = c_prev * size * size
        for j in range(len(spec.fc) + 1):
            slot = spec.n_conv + j
            c_out = (np.maximum(1.0, np.round(col[f"width_{slot}"] * max_w[slot]))
                     if j < len(spec.fc) else np.full(d, float(spec.num_classes)))
            active[:, slot] = True
            out["ifm_h"][:, slot] = 1
            out["ifm_w"][:, slot] = 1
            out["c_in"][:, slot] = c_prev
            out["k"][:, slot] = 1
            out["c_out"][:, slot] = c_out
            c_prev = c_out
        out["stride"][:] = 1
        for slot in range(L):
            out["weight_bits"][:, slot] = col[f"wbits_{slot}"]
            out["input_bits"][:, slot] = col[f"abits_{slot}"]
        out["active"] = active
        return out


def features(space: SearchSpace, arch_values: np.ndarray, cim_values: np.ndarray) -> np.ndarray:
    """The predictor's input: float32 [D, F] from architecture values and CIM settings.

    Each gene value is scaled to [0, 1] over its choices (inactive slots carry the canonical largest choice,
    so they never look like small layers); the CIM settings enter as log2 / log10 of their physical values.
    A few derived columns (mean and minimum active bits, relative MAC count) help a small model.
    """
    arch_values = space.canonical_arch_values(arch_values)
    lo = np.array([min(float(c) for c in g.choices) for g in space.arch_genes])
    hi = np.array([max(float(c) for c in g.choices) for g in space.arch_genes])
    scaled = (arch_values - lo) / np.where(hi > lo, hi - lo, 1.0)
    cim = np.asarray(cim_values, dtype=np.float64)
    adc, cell, rows, sigma, onoff = (cim[:, i] for i in range(cim.shape[1]))
    genes_for_layers = space.genes_from_arch_values(arch_values)
    layers = space.layer_arrays(genes_for_layers)
    act = layers["active"]
    macs = (layers["ifm_h"] * layers["ifm_w"] * layers["c_in"] * layers["k"] ** 2 * layers["c_out"] * act).sum(1)
    macs_max = space.largest_macs()
    wb = np.where(act, layers["weight_bits"], np.nan)
    ab = np.where(act, layers["input_bits"], np.nan)
    derived = np.stack([
        np.nanmean(wb, 1) / 8, np.nanmin(wb, 1) / 8, np.nanmean(ab, 1) / 8, np.nanmin(ab, 1) / 8,
        np.log10(np.maximum(macs, 1.0)) / max(np.log10(macs_max), 1.0),
        adc / 8, cell / 4, np.log2(rows) / 8, sigma * 10, np.log10(np.minimum(onoff, 1e6)) / 6,
    ], axis=1)
    return np.concatenate([scaled, derived], axis=1).astype(np.float32)
