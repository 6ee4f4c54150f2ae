"""The packaged memory technologies, and config.yaml's ``technologies`` section resolved against them.

Every technology has one definition. The package defines its technologies in ``hw/data/technologies.yaml``:
``<device>_<node>nm`` is one of its devices at a node of ``hw/data/nodes.yaml`` (``rram_22nm``, ``sram_7nm``,
``fefet_3nm``). A config entry takes one of three forms:

* ``sram_22nm: {}`` names a packaged technology as shipped;
* ``{node_nm: 14, device: {...}}`` defines a technology of its own, in full (under a packaged name only if it
  repeats the packaged values: a packaged name means the same device everywhere);
* ``{from: sram_22nm, override: {device: {sigma: 0.01}}}`` starts from a packaged technology and says which
  fields it changes (``from`` may be left out when the entry carries the packaged technology's own name).

:func:`resolve_technologies` turns a section into full entries (``node_nm`` and every device field, numbers
in one type per field), the form the rules hand to their jobs: a stage reruns when a technology's resolved
content changes, not when the way it is written does. This module reads YAML only (no torch), so that
Snakemake's parse can use it.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

DATA_DIR = Path(__file__).resolve().parent / "hw" / "data"
PACKAGED_FILE = DATA_DIR / "technologies.yaml"
NODES_FILE = DATA_DIR / "nodes.yaml"

MEMORIES = ("sram", "rram", "fefet", "pcm", "stt_mram")
CELLS = ("sram6t", "sram8t", "1t1r")

# a config entry's device fields and the type each value takes
DEVICE_FIELDS: dict[str, type] = {
    "memory": str,
    "cell": str,
    "r_on_ohm": float,
    "on_off_ratio": float,
    "max_cell_bits": int,
    "read_voltage_v": float,
    "read_pulse_ns": float,
    "write_voltage_v": float,
    "cell_area_f2": float,
    "sigma": float,
}

MAX_CELL_BITS = {"sram": 1, "stt_mram": 1, "rram": 8, "pcm": 8, "fefet": 8}
"""The most bits one cell of each memory stores. SRAM 1: a 6T cell holds one bit (NeuroSim's Param.cpp forces
``cellBit = 1`` for SRAM). STT-MRAM 1: a magnetic tunnel junction has two states, parallel and antiparallel
(NeuroSim's recommended STT-MRAM is a binary device). RRAM, PCM and FeFET are multi-level: 8, the hardware
model's and the config schema's bound (2**8 conductance levels)."""

MAX_CELL_BITS_WHY = {
    "sram": "a 6T cell holds one bit (NeuroSim's Param.cpp forces cellBit = 1 for SRAM)",
    "stt_mram": "a magnetic tunnel junction has two states",
}


class EntryError(ValueError):
    """A ``technologies`` entry that names, restates or overrides a technology wrongly (one sentence naming
    the key)."""


# --------------------------------------------------------------------------------------------------
# the packaged set
# --------------------------------------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    with open(path) as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def _packaged() -> dict[str, dict]:
    nodes = sorted((int(k) for k in _read_yaml(NODES_FILE)), reverse=True)
    devices = _read_yaml(PACKAGED_FILE)["devices"]
    techs: dict[str, dict] = {}
    for key, spec in devices.items():
        per_node = {int(k): v for k, v in (spec.get("per_node") or {}).items()}
        for node in nodes:
            if per_node and node not in per_node:
                continue
            device = {**spec["device"], **per_node.get(node, {})}
            techs[f"{key}_{node}nm"] = normalized({"node_nm": node, "device": device})
    return techs


def packaged_technologies() -> dict[str, dict]:
    """Every packaged technology as a full config entry, by name (``<device>_<node>nm``)."""
    return copy.deepcopy(_packaged())


def packaged_devices() -> list[str]:
    """The packaged devices' keys (the ``<device>`` of a packaged name)."""
    return list(_read_yaml(PACKAGED_FILE)["devices"])


def normalized(entry: Mapping[str, Any]) -> dict:
    """A full entry with its fields in :data:`DEVICE_FIELDS` order and each number in its field's type
    (``100000`` and ``1e5`` become ``100000.0``), so equal devices compare and print alike. A value of the
    wrong type is kept as it is, for the validation to name."""
    def number(value: Any, kind: type) -> Any:
        if kind is str or isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        if kind is int:
            return int(value) if float(value).is_integer() else value
        return float(value) if math.isfinite(value) else value

    device = entry.get("device")
    if isinstance(device, Mapping):
        known = {k: number(device[k], kind) for k, kind in DEVICE_FIELDS.items() if k in device}
        device = known | {k: v for k, v in device.items() if k not in DEVICE_FIELDS}
    out = {k: v for k, v in entry.items() if k not in ("node_nm", "device")}
    if "node_nm" in entry:
        out["node_nm"] = entry["node_nm"]
    if device is not None or "device" in entry:
        out["device"] = device
    return out


# --------------------------------------------------------------------------------------------------
# resolving a config section
# --------------------------------------------------------------------------------------------------


def _unknown_packaged(where: str, what: str) -> EntryError:
    names = ", ".join(f"{d}_<node>nm" for d in packaged_devices())
    return EntryError(f"config key {where} {what}, which is not a packaged technology (packaged: {names} at the "
                      "nodes of cimpipe/hw/data/nodes.yaml, e.g. sram_7nm)")


def resolve_entry(name: str, entry: Any) -> dict:
    """One ``technologies`` entry as a full entry (``node_nm`` and every device field); see the module's
    docstring for the forms. Raises :class:`EntryError` naming the key."""
    where = f"technologies.{name}"
    packaged = _packaged()
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise EntryError(f"config key {where} must be a mapping: {{}} for the packaged {name}, node_nm and device "
                         "for a technology of its own, or from and override")
    unknown = sorted(set(entry) - {"from", "override", "node_nm", "device"})
    if unknown:
        raise EntryError(f"config key {where}.{unknown[0]} is not known (a technology takes from and override, "
                         "or node_nm and device)")
    if "from" in entry or "override" in entry:
        return _resolve_override(name, entry)
    if not entry:
        if name not in packaged:
            raise _unknown_packaged(where, "is empty, so it names the packaged technology " + repr(name))
        return copy.deepcopy(packaged[name])
    for key in ("node_nm", "device"):
        if key not in entry:
            raise EntryError(f"config key {where}.{key} is required for a technology defined in full (or name a "
                             "packaged one with from)")
    full = normalized(entry)
    if name in packaged and isinstance(full["device"], Mapping):
        _check_restatement(name, full, packaged[name])
    return full


def _check_restatement(name: str, full: dict, shipped: dict) -> None:
    """A full entry under a packaged name must repeat the packaged values: refuse the first that differs."""
    where = f"technologies.{name}"
    missing = [k for k in DEVICE_FIELDS if k not in full["device"]]
    if missing:
        return  # the validation names the missing field
    diffs = [("node_nm", full["node_nm"], shipped["node_nm"])] + [
        (f"device.{k}", full["device"][k], shipped["device"][k]) for k in DEVICE_FIELDS]
    for key, given, packaged_value in diffs:
        if given != packaged_value:
            field = key.split(".")[-1]
            override = (f"{{node_nm: {given!r}}}" if key == "node_nm"
                        else f"{{device: {{{field}: {given!r}}}}}")
            raise EntryError(
                f"config key {where}.{key} is {given!r}, but the packaged {name} has {packaged_value!r}: write "
                f"'{name}: {{}}' for the packaged technology, or say that it changes it with "
                f"'override: {override}'")


def check_form(name: str, entry: Any) -> None:
    """Refuse an entry that mixes the forms: node_nm or device beside from or override (the fields that
    differ from a packaged technology go under override)."""
    if isinstance(entry, Mapping) and ("from" in entry or "override" in entry):
        for key in ("node_nm", "device"):
            if key in entry:
                raise EntryError(f"config key technologies.{name}.{key} sits beside from/override; put the fields "
                                 "that differ from the packaged technology under override")


def _resolve_override(name: str, entry: Mapping[str, Any]) -> dict:
    where = f"technologies.{name}"
    packaged = _packaged()
    check_form(name, entry)
    base_name = entry.get("from", name)
    if not isinstance(base_name, str):
        raise EntryError(f"config key {where}.from must name a packaged technology, got {base_name!r}")
    if base_name not in packaged:
        if "from" in entry:
            raise _unknown_packaged(f"{where}.from", f"names {base_name!r}")
        raise EntryError(f"config key {where}.override needs from (the packaged technology it changes): "
                         f"{name!r} is not a packaged technology")
    override = entry.get("override") or {}
    if not isinstance(override, Mapping):
        raise EntryError(f"config key {where}.override must be a mapping of node_nm and device fields")
    unknown = sorted(set(override) - {"node_nm", "device"})
    if unknown:
        raise EntryError(f"config key {where}.override.{unknown[0]} is not known (override takes node_nm and "
                         "device)")
    device_changes = override.get("device") or {}
    if not isinstance(device_changes, Mapping):
        raise EntryError(f"config key {where}.override.device must be a mapping of device fields")
    full = copy.deepcopy(packaged[base_name])
    if "node_nm" in override:
        full["node_nm"] = override["node_nm"]
    full["device"].update(device_changes)
    return normalized(full)


def resolve_technologies(section: Mapping[str, Any]) -> dict[str, dict]:
    """Every entry of a ``technologies`` section as a full entry, by name (in the section's order)."""
    if not isinstance(section, Mapping):
        raise EntryError("config key technologies must be a mapping of names to entries")
    return {str(name): resolve_entry(str(name), entry) for name, entry in section.items()}


def user_key(name: str, entry: Any, field: str) -> str:
    """The config key a resolved field came from: ``technologies.N.override.device.F`` when the entry
    overrides it, else ``technologies.N.device.F`` (``field`` is ``node_nm`` or ``device.F``)."""
    override = entry.get("override") if isinstance(entry, Mapping) else None
    if isinstance(override, Mapping):
        head, _, tail = field.partition(".")
        changed = head in override if not tail else isinstance(override.get(head), Mapping) and tail in override[head]
        if changed:
            return f"technologies.{name}.override.{field}"
    return f"technologies.{name}.{field}"
