"""A search job's inputs assembled once: the supernet, the space, the typed settings and the batched objective."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from cimpipe.config import ConfigError
from cimpipe.hw import Evaluator, Technology
from cimpipe.predictor import Predictor
from cimpipe.search.objective import AccuracyPredictor, HardwareEvaluator, Objective
from cimpipe.search.settings import SearchConfigError, SearchSettings
from cimpipe.space import SearchSpace
from cimpipe.workload import load_workload


def check_devices_covered(space: SearchSpace, cim_ranges: Mapping[str, Sequence[float]]) -> None:
    """Refuse a technology whose device lies outside what the accuracy table measured (one sentence)."""
    sigma_max = cim_ranges["sigma"][1]
    on_off_min = cim_ranges["on_off_ratio"][0]
    for name, device in space.devices.items():
        if device.sigma > sigma_max * (1 + 1e-9):
            raise ConfigError(f"technology {name} has sigma {device.sigma:g}, beyond the {sigma_max:g} the accuracy "
                              f"table covers: raise the workload's accuracy.sigma_max")
        if min(device.on_off_ratio, 1e6) < on_off_min * (1 - 1e-9):
            raise ConfigError(f"technology {name} has on_off_ratio {device.on_off_ratio:g}, below the {on_off_min:g} "
                              f"the accuracy table covers: lower the workload's accuracy.on_off_min")


@dataclass(frozen=True)
class SearchInputs:
    """What a search works with. ``supernet`` and ``spec`` (the trained model, for re-measurement) are set
    when the inputs come from files (:meth:`load`)."""

    space: SearchSpace
    settings: SearchSettings
    objective: Objective
    supernet: Any = None
    spec: Any = None

    @classmethod
    def assemble(cls, space: SearchSpace, predictor: AccuracyPredictor, evaluators: Mapping[str, HardwareEvaluator],
                 settings: SearchSettings, supernet: Any = None, spec: Any = None) -> "SearchInputs":
        """The objective over ``space`` from a predictor and one evaluator per technology; a predictor that
        records the device span of its table (:class:`~cimpipe.predictor.Predictor`) must cover the space's."""
        cim_ranges = getattr(predictor, "cim_ranges", None)
        if cim_ranges is not None:
            check_devices_covered(space, cim_ranges)
        objective = Objective(space, predictor, evaluators, settings.objectives, settings.constraints)
        return cls(space, settings, objective, supernet, spec)

    @classmethod
    def load(cls, predictor_path: str | Path, supernet_path: str | Path, hwcost_paths: Sequence[str | Path],
             settings: Mapping[str, Any]) -> "SearchInputs":
        """From a workload's files: the predictor, the supernet, the ``hw_cost`` tables (named by technology)
        and the search rule's config slice (``search``, ``hardware_space``, ``technologies``)."""
        model, spec, space = load_workload(supernet_path, settings["hardware_space"], settings["technologies"])
        print(f"search space: 10^{space.log10_size():.1f} designs over {space.n_genes} genes")
        tables = {Path(p).stem: p for p in hwcost_paths}
        evaluators = {}
        for name, entry in settings["technologies"].items():
            if name not in tables:
                raise SearchConfigError(f"no hardware cost table for technology {name!r} among the inputs "
                                        "(run hw_cost for it)")
            evaluators[name] = Evaluator.from_frame(pl.read_parquet(tables[name]), Technology.from_config(name, entry))
        search_settings = SearchSettings.from_config(settings["search"])
        return cls.assemble(space, Predictor.load(predictor_path), evaluators, search_settings, model, spec)
