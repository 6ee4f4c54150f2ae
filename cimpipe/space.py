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
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from cimpipe.families import (  # noqa: F401 - the families are part of the space's declaration
    BIT_RANGE,
    FAMILIES,
    ArchArrays,
    Family,
    FamilySpec,
    LayerShape,
    MobileNetV2Spec,
    ResNetSpec,
    SpaceError,
    SubnetConfig,
    VGGSpec,
    spec_from_dict,
)

from cimpipe.design import (  # noqa: F401 - the design's value types
    ADC_RANGES,
    SIGN_ENCODINGS,
    CIMSettings,
    Design,
    HardwareConfig,
)


# --------------------------------------------------------------------------------------------------
# Hardware space and the joint gene encoding
# --------------------------------------------------------------------------------------------------


ON_OFF_CAP = 1e6
"""Largest on/off ratio the accuracy table samples; beyond it a finite-on/off error is negligible (and
:func:`cimpipe.predictor.features` clips there too)."""


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
    sign_encoding: tuple[str, ...] = SIGN_ENCODINGS
    per_layer: tuple[str, ...] = ()

    KNOBS = ("subarray", "rows_parallel", "col_mux", "adc_bits", "adc_type", "cell_bits", "pipeline", "sign_encoding")
    CHARACTERIZED = ("subarray", "rows_parallel", "col_mux", "adc_bits", "adc_type", "cell_bits")
    """The knobs a technology's subarray characterization (``hw_cost``) spans; the others are chip-level."""
    PER_LAYER_KNOBS = ("adc_bits",)
    """Knobs a design may choose per weight layer: each layer's subarrays carry their own ADCs. The subarray
    size, cell bits and device are the chip's, and the partial-parallel read and column multiplexing are
    left chip-wide (one read and output-bus schedule), as NeuroSim models them."""

    def __post_init__(self) -> None:
        odd = [e for e in self.sign_encoding if e not in SIGN_ENCODINGS]
        if odd:
            raise SpaceError(f"hardware_space.sign_encoding names {odd[0]!r}, which is not one of "
                             f"{', '.join(SIGN_ENCODINGS)}")
        bad = [k for k in self.per_layer if k not in self.PER_LAYER_KNOBS]
        if bad:
            raise SpaceError(f"hardware_space.per_layer names {bad[0]!r}, which cannot vary per layer "
                             f"(knobs that can: {', '.join(self.PER_LAYER_KNOBS)})")

    @classmethod
    def from_config(cls, section: dict[str, Any], technologies: Sequence[str]) -> "HardwareSpace":
        kwargs = {k: tuple(section[k]) for k in (*cls.KNOBS, "per_layer") if k in section}
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

    @property
    def slot(self) -> int | None:
        """The layer slot or stage of a gene named ``{knob}_{i}`` (``wbits_3``, ``adc_bits_0``); None otherwise."""
        head, _, tail = self.name.rpartition("_")
        return int(tail) if head and tail.isdigit() else None

    @property
    def knob(self) -> str:
        """The name without its slot (``adc_bits_3`` -> ``adc_bits``; ``technology`` stays)."""
        return self.name.rpartition("_")[0] if self.slot is not None else self.name


CIM_COLUMNS = ("adc_bits", "cell_bits", "rows_parallel", "sigma", "on_off_ratio", "sign_encoding")
"""Columns of the accuracy table (beside the architecture genes) that set the CIM simulation; with per-layer
ADC bits, ``adc_bits`` becomes ``adc_bits_0 .. adc_bits_{n_slots - 1}`` (see :meth:`SearchSpace.cim_columns`).
``sign_encoding`` holds the index into :data:`~cimpipe.design.SIGN_ENCODINGS` (0 offset, 1 differential)."""


def nearest_choice(values: np.ndarray, choices: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """For every value, the index of the nearest of ``choices`` (int64 [D]; the smaller one at a tie) and the
    distance to it (float64 [D], NaN for a NaN value): one binary search among the midpoints of the sorted
    choices rather than a [D, n_choices] distance table."""
    choices = np.asarray(choices, dtype=np.float64)
    order = np.argsort(choices, kind="stable")
    ordered = choices[order]
    nearest = np.searchsorted((ordered[1:] + ordered[:-1]) / 2, values)
    return order[nearest], np.abs(values - ordered[nearest])


def cim_columns(n_slots: int, per_layer_adc: bool) -> tuple[str, ...]:
    """The CIM columns of a space with ``n_slots`` weight layers, the ADC bits per layer or not."""
    adc = tuple(f"adc_bits_{i}" for i in range(n_slots)) if per_layer_adc else ("adc_bits",)
    return adc + CIM_COLUMNS[1:]


def split_cim(cim: np.ndarray, n_slots: int) -> dict[str, np.ndarray]:
    """CIM values [D, len(cim_columns)] as named arrays: ``adc_bits`` [D, 1] (one for all layers) or
    [D, n_slots] (per layer), the others [D, 1]; told apart by the column count."""
    cim = np.asarray(cim, dtype=np.float64)
    n_adc = cim.shape[1] - (len(CIM_COLUMNS) - 1)
    if n_adc not in (1, n_slots):
        raise SpaceError(f"CIM values have {cim.shape[1]} columns; expected {len(CIM_COLUMNS)} or "
                         f"{len(CIM_COLUMNS) - 1 + n_slots} (ADC bits per layer)")
    out = {"adc_bits": cim[:, :n_adc]}
    for j, name in enumerate(CIM_COLUMNS[1:]):
        out[name] = cim[:, n_adc + j: n_adc + j + 1]
    return out


class SearchSpace:
    """The joint space of one workload: architecture x per-layer bits x hardware x technology.

    Built once from config; every consumer (supernet sampler, accuracy-table sampler, predictor encoding,
    search) reads its genes from here.
    """

    def __init__(self, spec: Family, hardware: HardwareSpace, devices: dict[str, DeviceSummary]):
        self.spec = spec
        self.hardware = hardware
        self.devices = {t: devices[t] for t in hardware.technologies}
        arch: list[Gene] = []
        for s, (lo, hi) in enumerate(zip(spec.min_depth, spec.max_depths)):
            arch.append(Gene(f"depth_{s}", tuple(range(lo, hi + 1))))
        arch += [Gene(f"width_{i}", tuple(spec.width_ratios)) for i in range(spec.n_width_slots)]
        arch += [Gene(f"kernel_{i}", tuple(spec.kernel_choices)) for i in range(spec.n_kernel_slots)]
        arch += [Gene(f"expand_{i}", tuple(float(e) for e in spec.expand_choices)) for i in range(spec.n_expand_slots)]
        arch += [Gene(f"wbits_{i}", tuple(spec.bit_choices)) for i in range(spec.n_slots)]
        arch += [Gene(f"abits_{i}", tuple(spec.bit_choices)) for i in range(spec.n_slots)]
        # the block whose activity each architecture gene follows (None: always used)
        self._gene_blocks: tuple = ((None,) * spec.n_stages + tuple(spec.width_blocks) + tuple(spec.kernel_blocks)
                                    + tuple(spec.expand_blocks) + tuple(spec.slot_blocks) * 2)
        hw = [Gene("technology", tuple(hardware.technologies))]
        for k in HardwareSpace.KNOBS:
            if k in hardware.per_layer:
                hw += [Gene(f"{k}_{i}", tuple(getattr(hardware, k))) for i in range(spec.n_slots)]
            else:
                hw.append(Gene(k, tuple(getattr(hardware, k))))
        self.arch_genes: tuple[Gene, ...] = tuple(arch)
        self.hw_genes: tuple[Gene, ...] = tuple(hw)
        self.genes: tuple[Gene, ...] = self.arch_genes + self.hw_genes
        self.index = {g.name: i for i, g in enumerate(self.genes)}
        self._numeric = [np.asarray(g.choices if not isinstance(g.choices[0], str) else range(g.n), dtype=np.float64)
                         for g in self.genes]

    @property
    def per_layer_adc(self) -> bool:
        """Whether every weight layer chooses its own ADC resolution."""
        return "adc_bits" in self.hardware.per_layer

    @property
    def cim_columns(self) -> tuple[str, ...]:
        """The CIM columns of this space's accuracy table and predictor input (:func:`cim_columns`)."""
        return cim_columns(self.spec.n_slots, self.per_layer_adc)

    # sizes -------------------------------------------------------------------------------------
    def largest_macs(self) -> float:
        """Multiply-accumulates of the family's largest member (a fixed scale for the predictor's features)."""
        return float(sum(s.macs for s in self.spec.layer_shapes(self.spec.largest())))

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
        :meth:`Family.canonical`), batched: equal sub-networks get equal rows whatever their unused genes."""
        vals = np.array(arch_values, dtype=np.float64, copy=True)
        for i, (g, block) in enumerate(zip(self.arch_genes, self._gene_blocks)):
            if block is not None:
                off = vals[:, block[0]] <= block[1]
                vals[off, i] = max(float(c) for c in g.choices)
        return vals

    def genes_from_arch_values(self, arch_values: np.ndarray) -> np.ndarray:
        """Gene rows for architecture values (nearest choice of each gene), hardware genes at index 0: the
        input :meth:`layer_arrays` needs when only the table's value columns are at hand."""
        arch_values = np.asarray(arch_values, dtype=np.float64)
        genes = np.zeros((arch_values.shape[0], self.n_genes), dtype=np.int64)
        for i, g in enumerate(self.arch_genes):
            genes[:, i] = nearest_choice(arch_values[:, i], [float(c) for c in g.choices])[0]
        return genes

    def encode_subnet(self, cfg: SubnetConfig) -> np.ndarray:
        """The architecture gene indices of one member (inverse of :meth:`decode_subnet`)."""
        self.spec.validate(cfg)
        vals = [*cfg.depths, *cfg.width_ratios, *cfg.kernels, *cfg.expand_ratios, *cfg.weight_bits, *cfg.act_bits]
        out = []
        for g, v in zip(self.arch_genes, vals):
            idx = [i for i, c in enumerate(g.choices) if math.isclose(float(c), float(v))]
            if not idx:
                raise SpaceError(f"{g.name}={v} is not one of {g.choices}")
            out.append(idx[0])
        return np.asarray(out, dtype=np.int64)

    def encode_hardware(self, hw: HardwareConfig) -> np.ndarray:
        """The hardware gene indices of one design; a single ``adc_bits`` fills every layer's gene of a
        per-layer space, a tuple must give one per weight-layer slot."""
        out = []
        for g in self.hw_genes:
            v = getattr(hw, g.knob)
            if isinstance(v, tuple):
                if g.slot is None:
                    raise SpaceError(f"hardware {g.knob}={v!r} gives one value per layer, but this space has one {g.knob}")
                if len(v) != self.spec.n_slots:
                    raise SpaceError(f"hardware {g.knob} gives {len(v)} values for {self.spec.n_slots} weight layers")
                v = v[g.slot]
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
            depths=tuple(int(v) for v in take(spec.n_stages)),
            width_ratios=tuple(float(v) for v in take(spec.n_width_slots)),
            kernels=tuple(int(v) for v in take(spec.n_kernel_slots)),
            expand_ratios=tuple(float(v) for v in take(spec.n_expand_slots)),
            weight_bits=tuple(int(v) for v in take(spec.n_slots)),
            act_bits=tuple(int(v) for v in take(spec.n_slots)),
        )
        return spec.canonical(cfg)

    def decode_hardware(self, genes_row: np.ndarray) -> HardwareConfig:
        """The hardware of one gene row, repaired: rows in parallel at most the subarray's rows, cell bits at
        most the device's (the same repair :meth:`hardware_arrays` applies)."""
        hw = self.hardware_arrays(np.asarray(genes_row)[None, :])
        tech = self.hardware.technologies[int(hw["technology"][0])]
        adc = hw["adc_bits"][0]
        return HardwareConfig(
            technology=tech,
            subarray=int(hw["subarray"][0]),
            rows_parallel=int(hw["rows_parallel"][0]),
            col_mux=int(hw["col_mux"][0]),
            adc_bits=tuple(int(b) for b in adc) if self.per_layer_adc else int(adc),
            adc_type=self.hardware.adc_type[int(hw["adc_type"][0])],
            cell_bits=int(hw["cell_bits"][0]),
            pipeline=bool(hw["pipeline"][0]),
            sign_encoding=self.hardware.sign_encoding[int(hw["sign_encoding"][0])],
        )

    def decode(self, genes_row: np.ndarray) -> Design:
        return Design(self.decode_subnet(genes_row), self.decode_hardware(genes_row))

    # batched decoding for the evaluators --------------------------------------------------------
    def hardware_arrays(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """[D] arrays of the hardware knobs (technology and adc_type as indices), with the repairs applied;
        a per-layer knob is [D, n_slots]."""
        per_layer = self.hardware.per_layer
        v = self.values(genes, ["technology", *(k for k in HardwareSpace.KNOBS if k not in per_layer)])
        for k in per_layer:
            v[k] = np.stack(list(self.values(genes, [f"{k}_{i}" for i in range(self.spec.n_slots)]).values()), axis=1)
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

    def encoding_codes(self, encoding_index: np.ndarray) -> np.ndarray:
        """Indices into this space's ``sign_encoding`` choices as indices into
        :data:`~cimpipe.design.SIGN_ENCODINGS` (the code tables and the hardware model read)."""
        codes = np.array([SIGN_ENCODINGS.index(e) for e in self.hardware.sign_encoding], dtype=np.float64)
        return codes[np.asarray(encoding_index).astype(np.int64)]

    def cim_values(self, genes: np.ndarray) -> np.ndarray:
        """float64 [D, len(cim_columns)]: the CIM settings the accuracy side sees for each design."""
        hw = self.hardware_arrays(genes)
        dev = self.device_arrays(genes)
        cols = {**hw, **dev, "sign_encoding": self.encoding_codes(hw["sign_encoding"])}
        adc = cols["adc_bits"].reshape(len(cols["cell_bits"]), -1)
        return np.concatenate([adc, np.stack([cols[c] for c in CIM_COLUMNS[1:]], axis=1)], axis=1)

    def arch_arrays(self, arch_values: np.ndarray) -> ArchArrays:
        """The elastic choices of a batch of architecture value rows, grouped as the family's
        :meth:`Family.layer_table` takes them."""
        spec, v = self.spec, np.asarray(arch_values, dtype=np.float64)
        bounds = np.cumsum([0, spec.n_stages, spec.n_width_slots, spec.n_kernel_slots, spec.n_expand_slots])
        part = [v[:, bounds[i]: bounds[i + 1]] for i in range(4)]
        return ArchArrays(depths=part[0], widths=part[1], kernels=part[2], expands=part[3])

    def layer_arrays(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """[D, n_slots] arrays of every weight layer in NeuroSim's format (the family's
        :meth:`Family.layer_table`), slot-aligned, with ``weight_bits``, ``input_bits`` and ``active`` (which
        masks the slots a design does not use). Vectorized over designs."""
        spec = self.spec
        vals = self.arch_values(np.asarray(genes))
        out = spec.layer_table(self.arch_arrays(vals))
        n_slots = spec.n_slots
        first_bits = vals.shape[1] - 2 * n_slots
        out["weight_bits"] = vals[:, first_bits: first_bits + n_slots].copy()
        out["input_bits"] = vals[:, first_bits + n_slots:].copy()
        active = np.ones_like(out["weight_bits"], dtype=bool)
        for slot, block in enumerate(spec.slot_blocks):
            if block is not None:
                active[:, slot] = vals[:, block[0]] > block[1]
        out["active"] = active
        return out
