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
SIGN_ENCODINGS = ("offset", "differential")
"""How a crossbar stores signed weights (:mod:`cimpipe.nn.cim` describes both): "offset", NeuroSim's scheme,
one array of ``ceil(w_bits / cell_bits)`` cells per weight; "differential", a positive and a negative array of
``ceil((w_bits - 1) / cell_bits)`` cells each. The first is the default of every value type."""


def slices_per_weight(w_bits: int, cell_bits: int, sign_encoding: str) -> int:
    """Cells per weight in one array: ``ceil((w_bits-1)/cell_bits)`` magnitude slices for differential
    arrays (two arrays), ``ceil(w_bits/cell_bits)`` for offset encoding (one array)."""
    if sign_encoding == "differential":
        return max(1, math.ceil((w_bits - 1) / cell_bits))
    return math.ceil(w_bits / cell_bits)


def columns_per_weight(w_bits: int, cell_bits: int, sign_encoding: str) -> int:
    """Crossbar columns (cells per row) one weight occupies: its slices in each array it has. The crossbar
    simulation stores this many and the hardware model prices this many (NeuroSim's ``numColPerSynapse``,
    doubled for differential arrays as NeuroSim's BNN parallel mode doubles it for a +-1 weight)."""
    return slices_per_weight(w_bits, cell_bits, sign_encoding) * (2 if sign_encoding == "differential" else 1)


@dataclass(frozen=True)
class CIMSettings:
    """What the crossbar does to a layer's arithmetic, as the accuracy side simulates it.

    ``adc_bits`` resolution of the ADC that reads every partial sum; ``cell_bits`` bits stored per cell
    (weights are bit-sliced over ``ceil(w_bits / cell_bits)`` cells); ``rows_parallel`` rows summed into one
    partial sum; ``sigma`` relative Gaussian conductance variation; ``on_off_ratio`` Gon/Goff (finite: an
    "off" cell still conducts); ``seed`` for the variation draw. ``layer_adc_bits``, when not empty, gives
    every weight-layer slot its own ADC resolution (``hardware_space.per_layer: [adc_bits]``) and
    :meth:`for_slot` hands each layer its own. ``sign_encoding`` one of :data:`SIGN_ENCODINGS`: a design's
    settings carry its hardware's (:class:`HardwareConfig`), so both sides simulate and price one chip.
    """

    adc_bits: int = 8
    cell_bits: int = 1
    rows_parallel: int = 128
    sigma: float = 0.0
    on_off_ratio: float = math.inf
    seed: int = 0
    adc_range: str = "dynamic"
    layer_adc_bits: tuple[int, ...] = ()
    sign_encoding: str = SIGN_ENCODINGS[0]

    def __post_init__(self) -> None:
        if self.adc_range not in ADC_RANGES:
            raise SpaceError(f"adc_range={self.adc_range!r} is not one of {ADC_RANGES}")
        if self.sign_encoding not in SIGN_ENCODINGS:
            raise SpaceError(f"sign_encoding={self.sign_encoding!r} is not one of {SIGN_ENCODINGS}")
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
    cell; ``pipeline`` pipelined (True) or layer-by-layer execution; ``sign_encoding`` how signed weights are
    stored (:data:`SIGN_ENCODINGS`). ``adc_bits`` is a tuple (one per
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
    sign_encoding: str = SIGN_ENCODINGS[0]

    def __post_init__(self) -> None:
        if self.sign_encoding not in SIGN_ENCODINGS:
            raise SpaceError(f"sign_encoding={self.sign_encoding!r} is not one of {SIGN_ENCODINGS}")
        if isinstance(self.adc_bits, list):  # read back from JSON
            object.__setattr__(self, "adc_bits", tuple(int(b) for b in self.adc_bits))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Design:
    """A complete co-design point: the sub-network and its hardware."""

    subnet: SubnetConfig
    hardware: HardwareConfig
