"""The fitted predictor: its file, the checks of a query, and the blended prediction of its models."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl
import torch

from cimpipe.io import write_torch
from cimpipe.predictor.features import crossbar_features, features
from cimpipe.predictor.gp import predict_gp
from cimpipe.predictor.mlp import Stacked
from cimpipe.predictor.settings import FORMAT, PredictorError
from cimpipe.predictor.trees import predict_trees
from cimpipe.statistics import DataStatistics
from cimpipe.space import (
    CIM_COLUMNS,
    SIGN_ENCODINGS,
    DeviceSummary,
    HardwareSpace,
    SearchSpace,
    cim_columns,
    nearest_choice,
    spec_from_dict,
)


def blend(members: torch.Tensor, trees: torch.Tensor | None, gp: torch.Tensor | None, mlp_weight: float,
           gp_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction and spread from the MLP members' [M, D] predictions, the trees' [D] and the Gaussian
    process's [D] (either may be absent): ``mlp_weight`` times the ensemble's mean plus ``gp_weight`` times
    the process plus the rest times the trees (or the ensemble, without trees). The spread combines the
    members' standard deviation and half the largest distance between the models in quadrature."""
    mean, spread = members.mean(0).double(), members.std(0, unbiased=False).double()
    models = [m for m in (mean, trees, gp) if m is not None]
    if len(models) == 1:
        return mean, spread
    stacked = torch.stack(models)
    gap = stacked.amax(0) - stacked.amin(0)
    if gp is None:
        gp, gp_weight = mean, 0.0
    rest = trees if trees is not None else mean
    pred = mlp_weight * mean + gp_weight * gp + (1.0 - mlp_weight - gp_weight) * rest
    return pred, torch.sqrt(spread ** 2 + (gap / 2) ** 2)


def gene_table(space: SearchSpace) -> list[tuple[str, list]]:
    return [(g.name, [c.item() if hasattr(c, "item") else c for c in g.choices]) for g in space.arch_genes]


def table_cim_ranges(table: pl.DataFrame) -> dict[str, Any]:
    """The CIM settings the predictor may be asked about: the intervals its table was measured over
    (between measured values it interpolates; beyond them it refuses). Per-layer ADC columns share one."""
    def span(name: str) -> list[float]:
        return [float(table[name].min()), float(table[name].max())]

    adc = [c for c in table.columns if c == "adc_bits" or c.startswith("adc_bits_")]
    adc_span = [min(span(c)[0] for c in adc), max(span(c)[1] for c in adc)]
    return {"adc_bits": adc_span, "cell_bits": span("cell_bits"), "rows_parallel": span("rows_parallel"),
            "sigma": [0.0, float(table["sigma"].max())], "on_off_ratio": [float(table["on_off_ratio"].min()), math.inf],
            "sign_encoding": span("sign_encoding")}


def space_from_spec(spec_dict: dict[str, Any], cim: dict[str, Any], per_layer_adc: bool) -> SearchSpace:
    """A search space with the stored architecture and a hardware part spanning the table's CIM range
    (only the architecture genes enter the features)."""
    spec = spec_from_dict(spec_dict)
    lo, hi = (int(c) for c in cim["sign_encoding"])
    hw = HardwareSpace(technologies=("table",), adc_bits=tuple(cim["adc_bits"]), cell_bits=tuple(cim["cell_bits"]),
                       rows_parallel=tuple(cim["rows_parallel"]), sign_encoding=SIGN_ENCODINGS[lo: hi + 1],
                       per_layer=("adc_bits",) if per_layer_adc else ())
    return SearchSpace(spec, hw, {"table": DeviceSummary(cim["sigma"][1], cim["on_off_ratio"][0], max(cim["cell_bits"]))})


def value_columns(values: Any, names: Sequence[str], what: str) -> np.ndarray:
    """float64 [D, len(names)] from an array in that column order or a mapping / DataFrame by column name."""
    if isinstance(values, pl.DataFrame) or isinstance(values, Mapping):
        cols = []
        for n in names:
            if n not in values:
                raise PredictorError(f"the {what} lack the column {n!r}")
            cols.append(np.asarray(values[n], dtype=np.float64))
        if not cols:
            return np.zeros((0, 0))
        return np.stack(cols, axis=1)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise PredictorError(f"the {what} must have {len(names)} columns ({', '.join(names[:3])}, ...), not shape {arr.shape}")
    return arr


def off_choices(col: np.ndarray, choices: np.ndarray) -> np.ndarray:
    """bool [D]: which values of ``col`` lie further than 1e-6 from every one of ``choices`` (NaN and inf
    included)."""
    return ~(nearest_choice(col, choices)[1] <= 1e-6)


class Predictor:
    """A fitted ensemble with what it needs to check queries: the genes' names and choices, the CIM range."""

    def __init__(self, state: dict[str, Any], space: SearchSpace | None = None) -> None:
        self.state = state
        self.genes: list[tuple[str, list]] = [(n, list(c)) for n, c in state["arch_genes"]]
        self.cim_ranges: dict[str, Any] = state["cim_ranges"]
        missing = [c for c in CIM_COLUMNS[1:] if c not in self.cim_ranges]
        if missing:
            raise PredictorError(f"the predictor was fitted on a table without the CIM column {missing[0]!r}; refit it "
                                 f"(rerun the workload's predictor stage)")
        self.per_layer_adc = bool(state.get("per_layer_adc", False))
        self.space = space if space is not None else space_from_spec(state["spec"], self.cim_ranges,
                                                                      self.per_layer_adc)
        self.check_space(self.space)
        self.cim_columns = cim_columns(self.space.spec.n_slots, self.per_layer_adc)
        self.feature_mean = torch.as_tensor(state["feature_mean"], dtype=torch.float32)
        self.feature_std = torch.as_tensor(state["feature_std"], dtype=torch.float32)
        self.ensemble = Stacked(tuple(state["weights"]), tuple(state["biases"]))
        self._trees: dict[str, torch.Tensor] | None = state.get("trees")
        self._gp: dict[str, torch.Tensor] | None = state.get("gp")
        self._mlp_weight = float(state.get("mlp_weight", 0.5))  # files written before the weight: the plain mean
        self._gp_weight = float(state.get("gp_weight", 0.0))
        self._choices = [np.asarray(c, dtype=np.float64) for _, c in self.genes]

    @property
    def arch_columns(self) -> list[str]:
        return [n for n, _ in self.genes]

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.state.get("metrics", {}))

    @property
    def data_statistics(self) -> DataStatistics | None:
        """The per-layer data statistics the hardware cost follows (None: the hardware model's defaults)."""
        d = self.state.get("data_statistics")
        return None if d is None else DataStatistics.from_dict(d)

    def attach_statistics(self, stats: DataStatistics) -> None:
        """Keep ``stats`` in the predictor's file (the search reads them with the predictor)."""
        self.state["data_statistics"] = stats.to_dict()

    def check_space(self, space: SearchSpace) -> None:
        """Refuse a space whose architecture genes differ from the ones the predictor was fitted on, or that
        sets the ADC bits per layer where the predictor's table did not (or the reverse)."""
        if space.per_layer_adc != self.per_layer_adc:
            how = {True: "one ADC resolution per layer", False: "one ADC resolution for all layers"}
            raise PredictorError(f"the predictor was fitted with {how[self.per_layer_adc]} but this search space "
                                 f"has {how[space.per_layer_adc]} (hardware_space.per_layer); refit it for this space")
        mine = self.genes
        theirs = gene_table(space)
        if [n for n, _ in mine] != [n for n, _ in theirs]:
            raise PredictorError(
                f"the predictor was fitted on {len(mine)} architecture genes ({mine[0][0]}..{mine[-1][0]}) but this "
                f"search space has {len(theirs)} ({theirs[0][0]}..{theirs[-1][0]}); refit it for this space")
        for (name, a), (_, b) in zip(mine, theirs):
            if len(a) != len(b) or not np.allclose(np.asarray(a, float), np.asarray(b, float)):
                raise PredictorError(f"gene {name} has the choices {b} in this search space but {a} in the predictor; "
                                     f"refit the predictor for this space")

    # queries ------------------------------------------------------------------------------------
    def checked(self, arch_values: Any, cim_values: Any) -> tuple[np.ndarray, np.ndarray]:
        arch = value_columns(arch_values, self.arch_columns, "architecture values")
        cim = value_columns(cim_values, self.cim_columns, "CIM values")
        if arch.shape[0] != cim.shape[0]:
            raise PredictorError(f"architecture values have {arch.shape[0]} rows but CIM values have {cim.shape[0]}")
        for j, (name, choices) in enumerate(zip(self.arch_columns, self._choices)):
            col = arch[:, j]
            off = off_choices(col, choices)
            if off.any():
                raise PredictorError(f"column {name} holds {col[off][0]:g}, which is not one of its choices "
                                     f"{self.genes[j][1]}")
        for j, name in enumerate(self.cim_columns):
            col = cim[:, j]
            allowed = self.cim_ranges["adc_bits" if name.startswith("adc_bits") else name]
            lo, hi = allowed[0], allowed[-1]
            off = np.isnan(col) | (col < lo * (1 - 1e-9) - 1e-12) | (col > hi * (1 + 1e-9) + 1e-12)
            what = f"outside the range the accuracy table covers [{lo:g}, {hi:g}]"
            if off.any():
                raise PredictorError(f"column {name} holds {col[off][0]:g}, {what}")
        return arch, cim

    def features(self, arch_values: Any, cim_values: Any) -> np.ndarray:
        """The checked, unstandardized feature matrix float32 [D, F]."""
        arch, cim = self.checked(arch_values, cim_values)
        layers = self.space.layer_arrays(self.space.genes_from_arch_values(self.space.canonical_arch_values(arch)))
        return np.concatenate([features(self.space, arch, cim, layers), crossbar_features(self.space, arch, cim, layers)],
                              axis=1)

    @torch.no_grad()
    def predict(self, arch_values: Any, cim_values: Any, batch: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """Mean and ensemble std of predicted top-1 accuracy (0..1), float64 [D] each.

        ``arch_values`` [D, n_arch] in ``SearchSpace.arch_genes`` order (``SearchSpace.arch_values``) or a
        mapping / DataFrame with the gene columns; ``cim_values`` [D, C] in ``cim_columns`` order
        (``SearchSpace.cim_values``) or with those columns.
        """
        feats = torch.from_numpy(self.features(arch_values, cim_values))
        if feats.shape[1] != self.feature_mean.shape[0]:
            raise PredictorError(f"the predictor was fitted on {self.feature_mean.shape[0]} features but this version of "
                                 f"cimpipe computes {feats.shape[1]}; refit it (snakemake reruns fit_predictor)")
        means, stds = [], []
        for lo in range(0, feats.shape[0], batch):
            part = feats[lo: lo + batch]
            out = self.ensemble((part - self.feature_mean) / self.feature_std)
            mean, spread = blend(out, None if self._trees is None else predict_trees(self._trees, part),
                                  None if self._gp is None else predict_gp(self._gp, part),
                                  self._mlp_weight, self._gp_weight)
            means.append(mean)
            stds.append(spread)
        if not means:
            return np.zeros(0), np.zeros(0)
        return torch.cat(means).double().numpy(), torch.cat(stds).double().numpy()

    def predict_table(self, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Predictions for the rows of an accuracy-table-shaped DataFrame."""
        return self.predict(table, table)

    # files --------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the predictor (whole or not at all, :mod:`cimpipe.io`)."""
        write_torch(self.state, path)

    @classmethod
    def load(cls, path: str | Path, space: SearchSpace | None = None) -> "Predictor":
        """Read a predictor file; with ``space``, refuse it when the space's architecture genes differ."""
        path = Path(path)
        if not path.is_file():
            raise PredictorError(f"the predictor file {path} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a corrupt or foreign file: say which
            raise PredictorError(f"the predictor file {path} cannot be read ({type(e).__name__})") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise PredictorError(f"the file {path} is not a cimpipe predictor ({FORMAT})")
        return cls(state, space)
