"""The value types of a batched hardware evaluation: layers and hardware of D designs in, chip metrics out.

Shapes: D designs, L layer slots. ``LayerBatch`` holds [D, L] tensors, ``HardwareBatch`` [D] tensors except
``adc_bits``, which may also be [D, L] (one ADC resolution per layer slot); every result is a float64 tensor.
Units: area mm^2, latency ns, energy pJ, leakage power uW; ``edap`` = total energy (uJ) x latency (ms) x
area (mm^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from cimpipe.hw.characterize import REASONS
from cimpipe.space import HardwareConfig, LayerShape

Tensor = torch.Tensor
F64 = torch.float64

EVAL_REASONS = REASONS + ("layer_shape_invalid", "operand_bits_out_of_range", "no_active_layer")


class DesignError(ValueError):
    """A design cannot be described (wrong lengths, unknown ADC type...)."""


@dataclass(frozen=True)
class LayerBatch:
    """Layers of D networks, padded to L slots; ``active`` marks real layers. All [D, L]."""

    ifm_h: Tensor
    ifm_w: Tensor
    c_in: Tensor
    k: Tensor
    c_out: Tensor
    pool: Tensor
    stride: Tensor
    weight_bits: Tensor
    input_bits: Tensor
    active: Tensor
    groups: Tensor | None = None  # [D, L] convolution groups (c_in for a depthwise layer); None: all 1

    @classmethod
    def from_shapes(
        cls,
        shapes: Sequence[Sequence[LayerShape]],
        weight_bits: Sequence[Sequence[int]] | int,
        input_bits: Sequence[Sequence[int]] | int,
    ) -> "LayerBatch":
        """Pad each network to the longest with inactive layers; bits per layer or one value for all."""
        d = len(shapes)
        n_layers = max((len(s) for s in shapes), default=0)
        grid = torch.zeros((8, d, n_layers), dtype=F64)
        wb = torch.zeros((d, n_layers), dtype=F64)
        ib = torch.zeros((d, n_layers), dtype=F64)
        active = torch.zeros((d, n_layers), dtype=torch.bool)
        for i, net in enumerate(shapes):
            for j, s in enumerate(net):
                grid[:, i, j] = torch.tensor([s.ifm_h, s.ifm_w, s.c_in, s.k, s.c_out, float(s.pool), s.stride,
                                              float(s.groups)])
                active[i, j] = True
            wb[i, : len(net)] = torch.tensor(_bits_for(weight_bits, i, len(net), "weight_bits"), dtype=F64)
            ib[i, : len(net)] = torch.tensor(_bits_for(input_bits, i, len(net), "input_bits"), dtype=F64)
        pad = ~active
        ones = torch.ones_like(wb)
        return cls(
            ifm_h=torch.where(pad, ones, grid[0]), ifm_w=torch.where(pad, ones, grid[1]),
            c_in=torch.where(pad, ones, grid[2]), k=torch.where(pad, ones, grid[3]),
            c_out=torch.where(pad, ones, grid[4]), pool=grid[5] > 0.5, stride=torch.where(pad, ones, grid[6]),
            weight_bits=torch.where(pad, ones * 8, wb), input_bits=torch.where(pad, ones * 8, ib), active=active,
            groups=torch.where(pad, ones, grid[7]),
        )


def _bits_for(bits: Sequence[Sequence[int]] | int, i: int, n: int, name: str) -> list[float]:
    if isinstance(bits, int):
        return [float(bits)] * n
    row = list(bits[i])
    if len(row) != n:
        raise DesignError(f"{name}[{i}] has {len(row)} entries but network {i} has {n} layers")
    return [float(b) for b in row]


@dataclass(frozen=True)
class HardwareBatch:
    """Hardware of D designs: [D] tensors (``adc_is_sar`` and ``pipeline`` bool), ``adc_bits`` [D] or [D, L].

    ``adc_bits`` [D] gives every layer of a design the same ADC resolution. ``adc_bits`` [D, L] (L the layer
    slots of the :class:`LayerBatch` it is evaluated with) gives each layer slot its own: the subarrays
    holding a layer's weights then carry that layer's ADCs, shift-adders and clock (see :mod:`cimpipe.hw.chip`).
    Entries of inactive slots are ignored (any value, characterized or not, is fine).
    """

    subarray: Tensor
    rows_parallel: Tensor
    col_mux: Tensor
    adc_bits: Tensor
    adc_is_sar: Tensor
    cell_bits: Tensor
    pipeline: Tensor
    novel_mapping: Tensor | None = None  # [D] bool, NeuroSim's novelMapping; None: on for every design
    global_htree: Tensor | None = None  # [D] bool, NeuroSim's globalBusType (H-tree); None: X-Y bus (V1.4 default)
    input_density: Tensor | None = None  # [D] or [D, L] fraction of input bits that are 1; None: the default
    weight_level_mean: Tensor | None = None  # [D] or [D, L] mean stored level in [0, 1] (G_off..G_on); None: default
    differential: Tensor | None = None  # [D] bool, signed weights in two arrays (SIGN_ENCODINGS); None: offset
    zero_read_fraction: Tensor | None = None  # [D] or [D, L] reads whose rows get no 1 bit; None: none

    @classmethod
    def from_configs(cls, configs: Sequence[HardwareConfig]) -> "HardwareBatch":
        """[D] tensors; ``adc_bits`` [D, L] when some config gives a tuple of L per-layer ADC resolutions
        (all such tuples must have the same length; an integer ``adc_bits`` is repeated L times)."""
        for c in configs:
            if c.adc_type not in ("flash", "sar"):
                raise DesignError(f"adc_type {c.adc_type!r} must be 'flash' or 'sar'")

        def col(name: str) -> Tensor:
            return torch.tensor([float(getattr(c, name)) for c in configs], dtype=F64)

        per_layer = [c.adc_bits for c in configs if isinstance(c.adc_bits, tuple)]
        if per_layer:
            lengths = sorted({len(a) for a in per_layer})
            if len(lengths) > 1:
                raise DesignError(f"per-layer adc_bits of different lengths {lengths} in one batch")
            n = lengths[0]
            adc_bits = torch.tensor([[float(b) for b in c.adc_bits] if isinstance(c.adc_bits, tuple)
                                     else [float(c.adc_bits)] * n for c in configs], dtype=F64).reshape(len(configs), n)
        else:
            adc_bits = col("adc_bits")
        return cls(
            subarray=col("subarray"), rows_parallel=col("rows_parallel"), col_mux=col("col_mux"),
            adc_bits=adc_bits, adc_is_sar=torch.tensor([c.adc_type == "sar" for c in configs]),
            cell_bits=col("cell_bits"), pipeline=torch.tensor([bool(c.pipeline) for c in configs]),
            differential=torch.tensor([c.sign_encoding == "differential" for c in configs]),
        )


@dataclass(frozen=True)
class ChipMetrics:
    """Chip-level results, [D] float64 tensors (``feasible`` bool, ``reason`` int64 into ``reasons``)."""

    area_mm2: Tensor
    latency_ns: Tensor
    dynamic_energy_pj: Tensor
    leakage_energy_pj: Tensor
    leakage_power_uw: Tensor
    edap: Tensor
    tops: Tensor
    tops_per_w: Tensor
    tops_per_mm2: Tensor
    fps: Tensor
    utilization: Tensor
    tiles: Tensor
    clock_period_ns: Tensor
    operations: Tensor
    feasible: Tensor
    reason: Tensor
    area_breakdown_mm2: dict[str, Tensor]
    energy_breakdown_pj: dict[str, Tensor]
    latency_breakdown_ns: dict[str, Tensor]
    layers: dict[str, Tensor] | None = None
    reasons: tuple[str, ...] = EVAL_REASONS

    def reason_text(self, i: int = 0) -> str:
        return self.reasons[int(self.reason[i])]

    def summary(self, i: int = 0) -> dict[str, float]:
        """One design's headline figures as plain floats (the CLI's JSON keys)."""
        keys = ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj", "leakage_power_uw", "tops",
                "tops_per_w", "tops_per_mm2", "fps", "utilization", "tiles", "clock_period_ns", "edap")
        out = {k: float(getattr(self, k)[i]) for k in keys}
        out["feasible"] = bool(self.feasible[i])
        out["reason"] = self.reason_text(i)
        return out
