"""A design's value types: the sub-network's CIM settings and the hardware that runs it (NeuroSim's knobs).

:class:`Design` pairs a :class:`~cimpipe.families.SubnetConfig` with a :class:`HardwareConfig`; the same value
becomes a network, a hardware description and a row of a table. The choices they take are declared in
:mod:`cimpipe.space`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from cimpipe.families import SpaceError, SubnetConfig


ADC_RANGES = ("dynamic", "full")


@dataclass(frozen=True)
class CIMSettings:
    """What the crossbar does to a layer's arithmetic, as the accuracy side simulates it.

    ``adc_bits`` resolution of the ADC that reads every partial sum; ``cell_bits`` bits stored per cell
    (weights are bit-sliced over ``ceil(w_bits / cell_bits)`` cells); ``rows_parallel`` rows summed into one
    partial sum; ``sigma`` relative Gaussian conductance variation; ``on_off_ratio`` Gon/Goff (finite: an
    "off" cell still conducts); ``seed`` for the variation draw. ``layer_adc_bits``, when not empty, gives
    every weight-layer slot its own ADC resolution (``hardware_space.per_layer: [adc_bits]``) and
    :meth:`for_slot` hands each layer its own.
    """

    adc_bits: int = 8
    cell_bits: int = 1
    rows_parallel: int = 128
    sigma: float = 0.0
    on_off_ratio: float = math.inf
    seed: int = 0
    adc_range: str = "dynamic"
    layer_adc_bits: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.adc_range not in ADC_RANGES:
            raise SpaceError(f"adc_range={self.adc_range!r} is not one of {ADC_RANGES}")
        for bits in (self.adc_bits, *self.layer_adc_bits):
            if not 1 <= bits <= 16:
                raise SpaceError(f"adc_bits={bits} is outside 1..16")
        if not 1 <= self.cell_bits <= 8:
            raise SpaceError(f"cell_bits={self.cell_bits} is outside 1..8")
        if self.rows_parallel < 1:
            raise SpaceError(f"rows_parallel={self.rows_parallel} must be at least 1")
        if self.sigma < 0:
            raise SpaceError(f"sigma={self.sigma} must not be negative")
        if not self.on_off_ratio > 1:
            raise SpaceError(f"on_off_ratio={self.on_off_ratio} must exceed 1")

    def for_slot(self, slot: int) -> "CIMSettings":
        """The settings weight-layer ``slot`` runs with (its own ADC bits when they vary per layer)."""
        if not self.layer_adc_bits:
            return self
        if not 0 <= slot < len(self.layer_adc_bits):
            raise SpaceError(f"layer slot {slot} has no ADC bits (the settings give {len(self.layer_adc_bits)} layers)")
        return replace(self, adc_bits=int(self.layer_adc_bits[slot]), layer_adc_bits=())


@dataclass(frozen=True)
class HardwareConfig:
    """The crossbar accelerator of one design (NeuroSim's knobs).

    ``technology`` a key of config's ``technologies``; ``subarray`` rows = columns of one crossbar;
    ``rows_parallel`` rows activated at once (partial-parallel read when below ``subarray``); ``col_mux``
    columns sharing one ADC; ``adc_bits`` and ``adc_type`` ("flash" or "sar"); ``cell_bits`` bits per
    cell; ``pipeline`` pipelined (True) or layer-by-layer execution. ``adc_bits`` is a tuple (one per
    weight-layer slot) in a space whose ADC resolution varies per layer.
    """

    technology: str
    subarray: int = 128
    rows_parallel: int = 128
    col_mux: int = 8
    adc_bits: int | tuple[int, ...] = 5
    adc_type: str = "flash"
    cell_bits: int = 2
    pipeline: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.adc_bits, list):  # read back from JSON
            object.__setattr__(self, "adc_bits", tuple(int(b) for b in self.adc_bits))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Design:
    """A complete co-design point: the sub-network and its hardware."""

    subnet: SubnetConfig
    hardware: HardwareConfig
