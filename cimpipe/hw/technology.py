"""Technology nodes and memory devices as data.

A :class:`Technology` is a CMOS node (from the package's ``data/nodes.yaml``) together with a memory
device: a packaged technology (``data/technologies.yaml``) or an entry of config.yaml's ``technologies``
section, resolved by :mod:`cimpipe.technologies`. Adding a technology is an entry of data; no code is
written per device. Node figures follow NeuroSim V1.3/V1.4 (Technology.cpp, Param.cpp).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import yaml

from cimpipe.technologies import (CELLS, DEVICE_FIELDS, MAX_CELL_BITS, MAX_CELL_BITS_WHY, MEMORIES, EntryError,
                                  packaged_technologies, resolve_technologies)

__all__ = ["CELLS", "MEMORIES", "DeviceParams", "NodeParams", "Technology", "TechnologyError",
           "builtin_technologies", "load_nodes", "load_technologies"]


class TechnologyError(ValueError):
    """A technology entry is missing a field, has an unknown one, or a value of the wrong kind."""


@dataclass(frozen=True)
class NodeParams:
    """One CMOS node. Units are in the names; ``*_f`` / ``*_f2`` are in feature sizes F / F^2."""

    node_nm: int
    vdd_v: float
    read_voltage_v: float
    wire_width_nm: float
    wire_rho_e8_ohm_m: float
    wire_ar: float
    wire_barrier_nm: float
    wire_cap_ff_per_um: float
    ion_ua_per_um: float
    ioff_na_per_um: float
    gate_cap_ff_per_um: float
    fo4_ps: float
    std_cell_height_f: float
    cpp_f: float
    sram6t_f2: float
    sram8t_f2: float
    sar_power_slope_uw: float
    sar_power_offset_uw: float

    @property
    def feature_um(self) -> float:
        return self.node_nm * 1e-3

    @property
    def wire_res_ohm_per_um(self) -> float:
        """Resistance of a minimum-width wire per um: rho' / (w * w * AR) (Param.cpp unitLengthWireResistance).

        Param.cpp corrects rho for the barrier, rho' = rho / (1 - (2*AR*w + w) * t_b / (AR * w^2)), but evaluates
        it with w in nm and t_b in m, so the correction is of order 1e-9; we evaluate it the same way, so that
        the wire resistance is the simulator's.
        """
        w_nm = self.wire_width_nm
        rho = self.wire_rho_e8_ohm_m * 1e-8
        t_b_m = self.wire_barrier_nm * 1e-9
        rho_eff = rho / (1.0 - (2 * self.wire_ar * w_nm + w_nm) * t_b_m / (self.wire_ar * w_nm * w_nm))
        w_m = w_nm * 1e-9
        return rho_eff / (w_m * w_m * self.wire_ar) * 1e-6

    @property
    def gate_area_um2(self) -> float:
        """Area of one NAND2-equivalent gate: a standard cell three contacted poly pitches wide."""
        return self.std_cell_height_f * 3.0 * self.cpp_f * self.feature_um**2

    @property
    def min_tx_area_um2(self) -> float:
        """Area of one minimum transistor (a quarter of a NAND2 cell)."""
        return self.gate_area_um2 / 4.0

    @property
    def gate_cap_ff(self) -> float:
        """Switched capacitance of one gate equivalent: gates, drains and local wiring, 16 minimum (2F) widths."""
        return 6.0 * 2.0 * self.feature_um * self.gate_cap_ff_per_um

    @property
    def gate_energy_fj(self) -> float:
        """Energy of one full swing of a gate equivalent, C * VDD^2 (fJ)."""
        return self.gate_cap_ff * self.vdd_v**2

    @property
    def gate_leakage_nw(self) -> float:
        """Leakage of one gate equivalent: Ioff over three minimum widths, times VDD (nW)."""
        return self.ioff_na_per_um * 3.0 * 2.0 * self.feature_um * self.vdd_v


@dataclass(frozen=True)
class DeviceParams:
    """A memory device, exactly the fields of a config.yaml ``device:`` entry."""

    memory: str
    cell: str
    r_on_ohm: float
    on_off_ratio: float
    max_cell_bits: int
    read_voltage_v: float
    read_pulse_ns: float
    write_voltage_v: float
    cell_area_f2: float
    sigma: float

    @property
    def r_off_ohm(self) -> float:
        return self.r_on_ohm * self.on_off_ratio

    @property
    def is_sram(self) -> bool:
        return self.memory == "sram"

    @property
    def needs_level_shifter(self) -> bool:
        """NeuroSim adds WL/BL/SL level shifters when the write voltage exceeds 1.5 V."""
        return self.write_voltage_v > 1.5


@dataclass(frozen=True)
class Technology:
    """A memory technology: its name, CMOS node and device."""

    name: str
    node: NodeParams
    device: DeviceParams

    @property
    def node_nm(self) -> int:
        return self.node.node_nm

    @property
    def cell_height_f(self) -> float:
        """Cell height in F (along a column). NeuroSim's 1T1R cell is 4 F x 12 F; SRAM is 10 F tall."""
        if self.device.cell.startswith("sram"):
            return 10.0
        return min(4.0, math.sqrt(self.device.cell_area_f2))

    @property
    def cell_width_f(self) -> float:
        return self.device.cell_area_f2 / self.cell_height_f

    @classmethod
    def from_config(cls, name: str, entry: Mapping[str, Any]) -> "Technology":
        """Build a technology from one config.yaml entry; any wrong field raises :class:`TechnologyError`."""
        if not isinstance(entry, Mapping):
            raise TechnologyError(f"technology {name!r} must be a mapping with node_nm and device")
        unknown = set(entry) - {"node_nm", "device"}
        if unknown:
            raise TechnologyError(f"technology {name!r} has an unknown field {sorted(unknown)[0]!r}")
        for key in ("node_nm", "device"):
            if key not in entry:
                raise TechnologyError(f"technology {name!r} lacks the field {key!r}")
        node_nm = entry["node_nm"]
        if isinstance(node_nm, bool) or not isinstance(node_nm, int):
            raise TechnologyError(f"technology {name!r} field 'node_nm' must be an integer, got {node_nm!r}")
        nodes = load_nodes()
        if node_nm not in nodes:
            raise TechnologyError(
                f"technology {name!r} field 'node_nm'={node_nm} is not a known node ({sorted(nodes)})"
            )
        device = _device_from_config(name, entry["device"])
        return cls(name=name, node=nodes[node_nm], device=device)

    def with_overrides(self, **changes: Any) -> "Technology":
        """A copy with device fields (or ``node_nm``) replaced, validated like a config entry."""
        dev = {f.name: getattr(self.device, f.name) for f in fields(DeviceParams)}
        node_nm = changes.pop("node_nm", self.node_nm)
        dev.update(changes)
        return Technology.from_config(self.name, {"node_nm": node_nm, "device": dev})


def _device_from_config(name: str, dev: Any) -> DeviceParams:
    if not isinstance(dev, Mapping):
        raise TechnologyError(f"technology {name!r} field 'device' must be a mapping")
    unknown = set(dev) - set(DEVICE_FIELDS)
    if unknown:
        raise TechnologyError(f"technology {name!r} has an unknown device field {sorted(unknown)[0]!r}")
    values: dict[str, Any] = {}
    for key, kind in DEVICE_FIELDS.items():
        if key not in dev:
            raise TechnologyError(f"technology {name!r} lacks the device field {key!r}")
        v = dev[key]
        if kind is str:
            if not isinstance(v, str):
                raise TechnologyError(f"technology {name!r} device field {key!r} must be a string, got {v!r}")
        elif kind is int:
            if isinstance(v, bool) or not isinstance(v, int):
                raise TechnologyError(f"technology {name!r} device field {key!r} must be an integer, got {v!r}")
        else:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise TechnologyError(f"technology {name!r} device field {key!r} must be a number, got {v!r}")
            v = float(v)
        values[key] = v
    if values["memory"] not in MEMORIES:
        raise TechnologyError(f"technology {name!r} device field 'memory' must be one of {MEMORIES}")
    if values["cell"] not in CELLS:
        raise TechnologyError(f"technology {name!r} device field 'cell' must be one of {CELLS}")
    if (values["memory"] == "sram") != values["cell"].startswith("sram"):
        raise TechnologyError(f"technology {name!r} device field 'cell'={values['cell']!r} does not fit memory "
                              f"{values['memory']!r}")
    positive = ("r_on_ohm", "read_voltage_v", "read_pulse_ns", "write_voltage_v", "cell_area_f2")
    for key in positive:
        if values[key] <= 0:
            raise TechnologyError(f"technology {name!r} device field {key!r} must be positive")
    if values["on_off_ratio"] <= 1:
        raise TechnologyError(f"technology {name!r} device field 'on_off_ratio' must exceed 1")
    most = MAX_CELL_BITS[values["memory"]]
    if not 1 <= values["max_cell_bits"] <= most:
        why = MAX_CELL_BITS_WHY.get(values["memory"], "the hardware model's bound")
        raise TechnologyError(f"technology {name!r} device field 'max_cell_bits' must lie in 1..{most} for "
                              f"{values['memory']} ({why})")
    if values["sigma"] < 0:
        raise TechnologyError(f"technology {name!r} device field 'sigma' must not be negative")
    return DeviceParams(**values)


@lru_cache(maxsize=1)
def load_nodes() -> dict[int, NodeParams]:
    """The package's technology nodes, keyed by node in nm."""
    text = resources.files("cimpipe.hw").joinpath("data/nodes.yaml").read_text()
    raw = yaml.safe_load(text)
    return {int(k): NodeParams(node_nm=int(k), **{n: float(x) for n, x in v.items()}) for k, v in raw.items()}


def load_technologies(cfg_technologies: Mapping[str, Any]) -> dict[str, Technology]:
    """Every entry of config.yaml's ``technologies`` section as a :class:`Technology`: packaged names
    (``sram_22nm: {}``), overrides of them and entries in full are resolved by
    :func:`cimpipe.technologies.resolve_technologies` first."""
    try:
        resolved = resolve_technologies(cfg_technologies)
    except EntryError as err:
        raise TechnologyError(str(err)) from None
    return {name: Technology.from_config(name, entry) for name, entry in resolved.items()}


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Technology]:
    return {name: Technology.from_config(name, entry) for name, entry in packaged_technologies().items()}


def builtin_technologies() -> dict[str, Technology]:
    """The packaged technologies (``data/technologies.yaml``: every packaged device at every node it is
    defined at, named ``<device>_<node>nm``), the set used when no config.yaml is given."""
    return dict(_builtin())
