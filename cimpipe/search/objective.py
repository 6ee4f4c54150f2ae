"""The batched objective: the predictor's accuracy and each technology's chip metrics for a batch of designs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

import numpy as np
import torch

from cimpipe.hw.evaluate import HardwareBatch, LayerBatch
from cimpipe.pareto import non_dominated, to_losses
from cimpipe.search.settings import DEFAULT_OBJECTIVES, Constraints, ObjectiveSpec, SearchConfigError
from cimpipe.space import SIGN_ENCODINGS, SearchSpace
from cimpipe.statistics import DataStatistics


class AccuracyPredictor(Protocol):
    """Accuracy mean and std [D] from architecture values [D, n_arch] and CIM values [D, 5]
    (:class:`cimpipe.predictor.Predictor` is one)."""

    def predict(self, arch_values: np.ndarray, cim_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class HardwareEvaluator(Protocol):
    """One technology's network-level cost model, batched over designs (see ``cimpipe.hw``)."""

    def evaluate(self, layers: Any, hw: Any) -> Any: ...


@dataclass
class ObjectiveBatch:
    """What the objective says about a batch of D designs (numpy arrays of length D)."""

    accuracy: np.ndarray
    accuracy_std: np.ndarray
    metrics: dict[str, np.ndarray]
    hw_feasible: np.ndarray
    violation: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        return self.hw_feasible & (self.violation <= 0)

    def value(self, metric: str) -> np.ndarray:
        return self.accuracy if metric == "accuracy" else self.metrics[metric]

    def losses(self, objectives: Sequence[ObjectiveSpec]) -> np.ndarray:
        """[D, M] losses (minimization form, log where the metric says so)."""
        vals = np.stack([self.value(o.metric) for o in objectives], axis=1)
        return to_losses(vals, [o.maximize for o in objectives], [o.log_scale for o in objectives])

    def take(self, rows: np.ndarray | Sequence[int]) -> "ObjectiveBatch":
        """The designs at ``rows`` (indices, or a boolean mask), in that order."""
        return ObjectiveBatch(self.accuracy[rows], self.accuracy_std[rows], {k: v[rows] for k, v in self.metrics.items()},
                              self.hw_feasible[rows], self.violation[rows])

    def empty(self) -> "ObjectiveBatch":
        """No designs, with this batch's metrics (an empty front's table keeps its columns)."""
        return self.take(np.zeros(0, dtype=np.int64))

    def feasible_front(self, objectives: Sequence[ObjectiveSpec]) -> np.ndarray:
        """Indices (ascending) of the feasible designs that no other feasible design dominates."""
        rows = np.flatnonzero(self.feasible)
        return rows[non_dominated(self.losses(objectives)[rows])] if len(rows) else rows

    @staticmethod
    def concat(batches: Sequence["ObjectiveBatch"]) -> "ObjectiveBatch":
        return ObjectiveBatch(
            accuracy=np.concatenate([b.accuracy for b in batches]),
            accuracy_std=np.concatenate([b.accuracy_std for b in batches]),
            metrics={k: np.concatenate([b.metrics[k] for b in batches]) for k in batches[0].metrics},
            hw_feasible=np.concatenate([b.hw_feasible for b in batches]),
            violation=np.concatenate([b.violation for b in batches]),
        )


def _hw_batches(layers: dict[str, np.ndarray], hw: dict[str, np.ndarray], space: SearchSpace,
                statistics: DataStatistics | None = None) -> tuple[LayerBatch, HardwareBatch]:
    """The evaluator's tensors from the space's [D, L] layer arrays and [D] hardware arrays; with ``statistics``,
    every layer's input bit density, stored cell level and zero-read fraction (the model's defaults otherwise)."""
    density = level = zero = None
    if statistics is not None:
        encoding = space.encoding_codes(hw["sign_encoding"])
        stats = statistics.for_designs(layers["weight_bits"], layers["input_bits"], hw["cell_bits"], encoding,
                                       hw["subarray"])
        density, level, zero = (torch.as_tensor(s) for s in stats)
    lt = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in layers.items()}
    lt["active"] = lt["active"].bool()
    lt["pool"] = lt["pool"] > 0.5
    sar = np.asarray([t == "sar" for t in space.hardware.adc_type])[hw["adc_type"].astype(np.int64)]
    differential = space.encoding_codes(hw["sign_encoding"]) == SIGN_ENCODINGS.index("differential")
    f64 = lambda name: torch.as_tensor(np.asarray(hw[name], dtype=np.float64))  # noqa: E731
    hb = HardwareBatch(subarray=f64("subarray"), rows_parallel=f64("rows_parallel"), col_mux=f64("col_mux"),
                       adc_bits=f64("adc_bits"), adc_is_sar=torch.as_tensor(sar), cell_bits=f64("cell_bits"),
                       pipeline=f64("pipeline") > 0.5, differential=torch.as_tensor(differential),
                       input_density=density, weight_level_mean=level, zero_read_fraction=zero)
    return LayerBatch(**lt), hb


def _field(result: Any, name: str) -> np.ndarray:
    v = result[name] if isinstance(result, Mapping) else getattr(result, name)
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


class Objective:
    """Accuracy (predictor) and chip metrics (one hardware evaluator per technology) for gene batches.

    ``evaluators`` maps technology names (the space's ``technology`` choices) to evaluators; designs are
    grouped by their technology gene with a mask, never looped over.
    """

    def __init__(self, space: SearchSpace, predictor: AccuracyPredictor,
                 evaluators: Mapping[str, HardwareEvaluator],
                 objectives: Sequence[ObjectiveSpec] = DEFAULT_OBJECTIVES,
                 constraints: Constraints = Constraints()):
        missing = [t for t in space.hardware.technologies if t not in evaluators]
        if missing:
            raise SearchConfigError(f"no hardware cost table for technology {missing[0]!r} (run hw_cost for it)")
        self.space, self.predictor, self.evaluators = space, predictor, dict(evaluators)
        self.objectives, self.constraints = tuple(objectives), constraints
        # the data statistics the hardware cost follows, where the predictor carries them
        self.statistics: DataStatistics | None = getattr(predictor, "data_statistics", None)

    def __call__(self, genes: np.ndarray) -> ObjectiveBatch:
        genes = np.asarray(genes, dtype=np.int64)
        d = genes.shape[0]
        mean, std = self.predictor.predict(self.space.arch_values(genes), self.space.cim_values(genes))
        mean = np.asarray(mean, dtype=np.float64).reshape(d)
        std = np.asarray(std, dtype=np.float64).reshape(d)
        layers = self.space.layer_arrays(genes)
        hw = self.space.hardware_arrays(genes)
        tech = hw["technology"].astype(np.int64)
        raw = {k: np.full(d, np.nan) for k in ("area_mm2", "latency_ns", "dynamic_energy_pj", "leakage_energy_pj",
                                                 "tops", "tops_per_w", "tops_per_mm2", "utilization", "tiles")}
        hw_ok = np.zeros(d, dtype=bool)
        for t_index, t_name in enumerate(self.space.hardware.technologies):
            mask = tech == t_index
            if not mask.any():
                continue
            lb, hb = _hw_batches({k: v[mask] for k, v in layers.items()}, {k: v[mask] for k, v in hw.items()},
                                 self.space, self.statistics)
            res = self.evaluators[t_name].evaluate(lb, hb)
            for k in raw:
                raw[k][mask] = _field(res, k)
            hw_ok[mask] = _field(res, "feasible").astype(bool)
        energy_uj = (raw["dynamic_energy_pj"] + raw["leakage_energy_pj"]) * 1e-6
        latency_ms = raw["latency_ns"] * 1e-6
        metrics = {
            "energy_uj": energy_uj, "latency_ms": latency_ms, "area_mm2": raw["area_mm2"],
            "edap_uj_ms_mm2": energy_uj * latency_ms * raw["area_mm2"], "tops": raw["tops"],
            "tops_per_w": raw["tops_per_w"], "tops_per_mm2": raw["tops_per_mm2"],
            "utilization": raw["utilization"], "tiles": raw["tiles"],
            "leakage_energy_uj": raw["leakage_energy_pj"] * 1e-6,
        }
        finite = np.isfinite(mean) & np.all(np.stack([np.isfinite(v) for v in metrics.values()]), axis=0)
        return ObjectiveBatch(mean, std, metrics, hw_ok & finite, self.constraints.violation(mean, metrics))
