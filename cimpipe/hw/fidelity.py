"""The hardware model against NeuroSim runs: the same design on both sides, metric by metric.

A stored :class:`~cimpipe.hw.neurosim.OracleRun` names NeuroSim's settings; :func:`model_inputs` turns them
into the model's technology, hardware configuration and layers (the run's 1T1R cell for RRAM and FeFET,
NeuroSim's per-node SRAM cell and read voltage), and :func:`compare` evaluates the model on every run and
puts the two side by side. The run's global bus (X-Y bus or H-tree) and its traces' input bit density are passed
through; knobs the model cannot yet express (a node missing from its table, non-square subarrays) are
evaluated with the model's own choice and flagged in ``model_expresses`` so a reader can split the errors.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import polars as pl

from cimpipe.families import LayerShape
from cimpipe.hw.neurosim import NeuroSimSettings, OracleRun
from cimpipe.hw.technology import Technology, TechnologyError, builtin_technologies, load_nodes
from cimpipe.space import HardwareConfig

# Chip figures compared; NeuroSim's TOPS/W already divides by its post-layout factor, as the model's does.
METRICS = ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj", "tops_per_w")
EXACT = ("tiles", "utilization")
AREA_PARTS = ("array", "interconnect", "adc", "accumulation", "other")
ENERGY_PARTS = ("adc", "accumulation", "other", "buffer", "interconnect")
_TEMPLATE = {"sram": "sram_22nm", "rram": "rram_22nm", "fefet": "fefet_22nm"}


@dataclass(frozen=True)
class ModelInputs:
    layers: list[LayerShape]
    hardware: HardwareConfig
    technology: Technology
    expresses: bool
    mapping: str = "novel"
    bus: str = "xy"
    input_density: float | None = None
    weight_level_mean: float | None = None


def model_inputs(settings: NeuroSimSettings, layers: Sequence[LayerShape],
                 input_density: float | None = None) -> ModelInputs | None:
    """The model's view of one NeuroSim configuration (and of its traces' input bit density, when given);
    None where the model has no entry for the node."""
    nodes = load_nodes()
    if settings.node_nm not in nodes:
        return None
    node = nodes[settings.node_nm]
    base = builtin_technologies()[_TEMPLATE[settings.memory]]
    sram = settings.memory == "sram"
    try:
        tech = base.with_overrides(
            node_nm=settings.node_nm, r_on_ohm=float(settings.r_on_ohm), on_off_ratio=float(settings.on_off_ratio),
            cell_area_f2=node.sram6t_f2 if sram else float(settings.cell_area_f2),
            read_voltage_v=base.device.read_voltage_v if sram else node.read_voltage_v,
            read_pulse_ns=base.device.read_pulse_ns if sram else float(settings.read_pulse_ns),
            max_cell_bits=max(base.device.max_cell_bits, settings.effective_cell_bits),
        )
    except TechnologyError:
        return None
    hw = HardwareConfig(technology=tech.name, subarray=int(settings.subarray_rows),
                        rows_parallel=int(settings.rows_parallel), col_mux=int(settings.col_mux),
                        adc_bits=int(settings.adc_bits), adc_type=settings.adc_type,
                        cell_bits=settings.effective_cell_bits, pipeline=bool(settings.pipeline))
    expresses = settings.subarray_rows == settings.subarray_cols
    return ModelInputs(list(layers), hw, tech, expresses, settings.mapping, settings.bus, input_density)


def model_row(run: OracleRun) -> dict[str, float] | None:
    """The model's figures for a run's configuration (None at a node the model lacks)."""
    mi = model_inputs(run.settings, run.layers, run.stats.input_bit_density)
    if mi is None:
        return None
    return metrics_row(mi.layers, int(run.settings.weight_bits), int(run.settings.input_bits), mi.hardware,
                       mi.technology, mi.expresses, mi.mapping, mi.bus, mi.input_density,
                       getattr(run.stats, "weight_level_mean", None))


def metrics_row(layers: Sequence[LayerShape], weight_bits: int | Sequence[int], input_bits: int | Sequence[int],
                hw: HardwareConfig, tech: Technology, expresses: bool = True,
                mapping: str = "novel", bus: str = "xy", input_density: float | None = None,
                weight_level_mean: float | None = None, zero_read_fraction: Any = None) -> dict[str, float]:
    """The model's chip figures and breakdowns for one design, in NeuroSim's report names."""
    from cimpipe.hw.evaluate import evaluate_design

    m = evaluate_design(list(layers), weight_bits, input_bits, hw, tech, mapping=mapping, bus=bus,
                        input_density=input_density, weight_level_mean=weight_level_mean,
                        zero_read_fraction=zero_read_fraction)
    if not bool(m.feasible[0]):
        return {"feasible": False, "expresses": expresses, "reason": m.reason_text(0)}
    row = {k: float(getattr(m, k)[0]) for k in METRICS + EXACT}
    row.update({f"area_{k}_mm2": float(m.area_breakdown_mm2[k][0]) for k in AREA_PARTS if k in m.area_breakdown_mm2})
    row.update({f"energy_{k}_pj": float(m.energy_breakdown_pj[k][0]) for k in ENERGY_PARTS
                if k in m.energy_breakdown_pj})
    row.update({f"latency_{k}_ns": float(v[0]) for k, v in m.latency_breakdown_ns.items()})
    # NeuroSim's "other" bucket holds its buffers and interconnect, which it also prints on their own
    for kind in ("energy", "latency"):
        unit = "pj" if kind == "energy" else "ns"
        row[f"{kind}_other_{unit}"] = sum(row.get(f"{kind}_{k}_{unit}", 0.0) for k in ("other", "buffer", "interconnect"))
    row["clock_period_ns"] = float(m.clock_period_ns[0])
    row.update({"feasible": True, "expresses": expresses})
    return row


def neurosim_row(run: OracleRun) -> dict[str, float]:
    r = run.report
    row = {k: float(getattr(r, k)) for k in METRICS + EXACT}
    row.update({k: float(v) for k, v in r.breakdowns.items()})
    row["clock_period_ns"] = float(r.clock_period_ns)
    return row


def compare(runs: Sequence[OracleRun], extra: Sequence[dict] | None = None) -> pl.DataFrame:
    """One row per run: its settings, ``ns_<figure>`` (NeuroSim), ``model_<figure>`` and ``err_<figure>``
    (relative error, model / NeuroSim - 1), ``model_feasible`` and ``model_expresses``. ``extra`` adds columns
    per run (e.g. ``held_out``)."""
    rows = []
    for i, run in enumerate(runs):
        s = run.settings
        base = {"label": run.label, "memory": s.memory, "node_nm": s.node_nm, "mapping": s.mapping,
                "pipeline": s.pipeline, "bus": s.bus, "adc_type": s.adc_type, "layers": len(run.network),
                "input_density": run.stats.input_bit_density}
        if extra is not None:
            base.update(extra[i])
        ref = neurosim_row(run)
        mod = model_row(run)
        base["model_covered"] = mod is not None
        base["model_feasible"] = bool(mod and mod["feasible"])
        base["model_expresses"] = bool(mod and mod["expresses"])
        for k, v in ref.items():
            base[f"ns_{k}"] = v
            mv = mod.get(k) if mod and mod["feasible"] else None
            base[f"model_{k}"] = mv
            base[f"err_{k}"] = (mv / v - 1.0) if (mv is not None and v not in (0.0,) and v == v) else None
        rows.append(base)
    return pl.DataFrame(rows, infer_schema_length=None)


SIDE_BY_SIDE = METRICS + ("clock_period_ns", "tiles", "utilization") + tuple(
    f"area_{k}_mm2" for k in AREA_PARTS) + tuple(f"energy_{k}_pj" for k in ENERGY_PARTS)


def side_by_side(model: dict[str, float] | None, neurosim: dict[str, float]) -> list[tuple[str, float | None, float,
                                                                                           float | None]]:
    """(figure, model, NeuroSim, relative error) for the figures a reader compares first."""
    out = []
    for k in SIDE_BY_SIDE:
        ref = neurosim.get(k, float("nan"))
        mv = model.get(k) if model and model.get("feasible") else None
        err = mv / ref - 1.0 if mv is not None and ref == ref and ref != 0 else None
        out.append((k, mv, ref, err))
    return out


def plausible_report(report: dict) -> bool:
    """Whether a stored NeuroSim report is physical: its chip figures finite and below 1e30 (some V1.4 runs
    overflow in the flash sense-amp model and print energies of ~1e88 pJ)."""
    vals = [report.get(k) for k in ("dynamic_energy_pj", "leakage_energy_pj", "latency_ns", "area_mm2")]
    vals += list(report.get("breakdowns", {}).values())
    return all(isinstance(v, (int, float)) and math.isfinite(v) and abs(v) < 1e30 for v in vals if v is not None)


def load_stored(root: Path, kind: str = "all") -> tuple[list[OracleRun], list[dict]]:
    """The stored runs of ``bench/neurosim_sweep.py`` under ``root`` (``runs/*.json``) of one kind ("whole",
    "small" or "all"), with each run's ``kind``, ``network`` name and ``held_out`` mark."""
    runs, extra = [], []
    for f in sorted((Path(root) / "runs").glob("*.json")):
        d = json.loads(f.read_text())
        if kind != "all" and d.get("kind") != kind:
            continue
        if not plausible_report(d.get("report", {})):
            warnings.warn(f"{f.name}: NeuroSim's report is not physical (overflowed figures); left out")
            continue
        runs.append(OracleRun.from_dict(d))
        extra.append({"kind": d.get("kind", "?"), "network": d.get("network_name", "?"),
                      "held_out": bool(d.get("held_out", False))})
    return runs, extra


def error_summary(frame, metrics: Sequence[str] = METRICS) -> dict[str, tuple[int, float, float]]:
    """Per figure: (runs, mean |relative error|, max |relative error|) over the rows of a :func:`compare` frame."""
    out = {}
    for m in metrics:
        e = frame[f"err_{m}"].drop_nulls().abs()
        out[m] = (e.len(), float(e.mean()) if e.len() else float("nan"), float(e.max()) if e.len() else float("nan"))
    return out
