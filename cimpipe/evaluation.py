"""What ``cimpipe evaluate`` prints: the design it evaluated, and the model's figures in the front's units.

The hardware model reports nanoseconds and picojoules (:mod:`cimpipe.hw.evaluate`); a front carries
``energy_uj``, ``latency_ms``, ``area_mm2`` and ``edap_uj_ms_mm2``. :func:`front_units` turns one into the
other so a design evaluated by hand compares with a front row directly.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

AREA_PARTS = {
    "array": "the memory cells of every subarray",
    "adc": "the ADCs (sense amplifiers and references)",
    "accumulation": "shift-adds and adder trees (subarray, PE, tile and chip)",
    "interconnect": "H-trees and the global bus with its repeaters",
    "other": "wordline and bitline drivers, switch matrices, decoders and column multiplexers of the subarrays, "
             "the PE, tile and global buffers, activation and pooling units",
    "empty": "space inside the subarray and PE outlines that no component fills (NeuroSim's empty area)",
}
"""What each area bucket holds (NeuroSim's buckets, :mod:`cimpipe.hw.chip_area`)."""


class NetworkRowsError(ValueError):
    """A network file mixes row widths (one sentence naming the file and the line)."""


def check_row_widths(path: str | Path) -> int:
    """Refuse a network file whose rows do not all have the same number of columns (8 in NeuroSim's
    NetWork.csv: IFM_H, IFM_W, C_in, K_H, K_W, C_out, maxpool, stride; 7 without the stride; 9 with this
    package's groups column); return that number. A missing file is left to the reader to report."""
    p = Path(path)
    if not p.is_file():
        return 0
    first: tuple[int, int] | None = None
    with p.open(newline="") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            cells = [c for c in row if c.strip() != ""]
            if not cells:
                continue
            if first is None:
                first = (n, len(cells))
            elif len(cells) != first[1]:
                raise NetworkRowsError(
                    f"network file {p} line {n} has {len(cells)} columns but line {first[0]} has {first[1]}; every "
                    "row needs the same columns (IFM_H, IFM_W, C_in, K_H, K_W, C_out, maxpool, stride)")
    return first[1] if first else 0


def front_units(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The model's headline figures (:meth:`Metrics.summary`) under the front's names and units."""
    dynamic_uj = summary["dynamic_energy_pj"] * 1e-6
    leakage_uj = summary["leakage_energy_pj"] * 1e-6
    out = {
        "energy_uj": dynamic_uj + leakage_uj,
        "dynamic_energy_uj": dynamic_uj,
        "leakage_energy_uj": leakage_uj,
        "latency_ms": summary["latency_ns"] * 1e-6,
        "area_mm2": summary["area_mm2"],
        "edap_uj_ms_mm2": summary["edap"],
    }
    for key in ("tops", "tops_per_w", "tops_per_mm2", "fps", "utilization", "tiles", "clock_period_ns",
                "leakage_power_uw", "feasible", "reason"):
        if key in summary:
            out[key] = summary[key]
    return out


def design_echo(network: str, n_layers: int, technology: str, tech: Any, hw: Any, weight_bits: int,
                input_bits: int, mapping: str, bus: str, input_density: float | None) -> dict[str, Any]:
    """The design that was evaluated, every knob with the value it ran with (defaults filled in)."""
    device = tech.device
    return {
        "network": str(network), "layers": n_layers, "technology": technology, "node_nm": tech.node_nm,
        "memory": device.memory, "r_on_ohm": device.r_on_ohm, "on_off_ratio": device.on_off_ratio,
        "weight_bits": weight_bits, "input_bits": input_bits, "subarray": hw.subarray,
        "rows_parallel": hw.rows_parallel, "col_mux": hw.col_mux,
        "adc_bits": list(hw.adc_bits) if isinstance(hw.adc_bits, tuple) else hw.adc_bits, "adc_type": hw.adc_type,
        "cell_bits": hw.cell_bits, "pipeline": hw.pipeline, "sign_encoding": hw.sign_encoding, "mapping": mapping,
        "bus": bus,
        "input_bit_density": 0.5 if input_density is None else input_density,
    }
