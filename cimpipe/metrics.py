"""The front's metrics by name: direction, scale and how a person reads them (label, unit, number format).

Kept free of torch, nevergrad and numpy so that reading a result (``cimpipe show``, the explorer) starts fast;
the search imports its metric registry and objectives (:data:`METRICS`, :data:`ALIASES`, :class:`ObjectiveSpec`)
from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

METRICS: dict[str, tuple[bool, bool]] = {
    # name: (maximized by default, log-scaled in the normalization)
    "accuracy": (True, False),
    "energy_uj": (False, True),
    "latency_ms": (False, True),
    "area_mm2": (False, True),
    "edap_uj_ms_mm2": (False, True),
    "tops": (True, True),
    "tops_per_w": (True, True),
    "tops_per_mm2": (True, True),
}
ALIASES = {"edap": "edap_uj_ms_mm2", "energy": "energy_uj", "latency": "latency_ms", "area": "area_mm2"}


class SearchConfigError(ValueError):
    """A search setting in config is invalid (one sentence naming the key)."""


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective: a metric, its direction, and whether it is compared on a log scale."""

    metric: str
    maximize: bool
    log_scale: bool


def parse_objectives(section: Mapping[str, str]) -> tuple[ObjectiveSpec, ...]:
    """``{"accuracy": "max", "energy_uj": "min", ...}`` (config's ``search.objectives``) to specs, in the order of
    :data:`METRICS` whatever the order of the keys."""
    out = []
    for key, direction in section.items():
        name = ALIASES.get(key, key)
        if name not in METRICS:
            raise SearchConfigError(f"search.objectives.{key} is not a known metric; use one of {sorted(METRICS)}")
        if direction not in ("min", "max"):
            raise SearchConfigError(f"search.objectives.{key} must be 'min' or 'max', not {direction!r}")
        out.append(ObjectiveSpec(name, direction == "max", METRICS[name][1]))
    if len(out) < 2:
        raise SearchConfigError("search.objectives needs at least two objectives for a Pareto front")
    order = list(METRICS)  # the registry's order, not the config's: the same objectives give the same search
    return tuple(sorted(out, key=lambda spec: order.index(spec.metric)))


DEFAULT_OBJECTIVES = parse_objectives({"accuracy": "max", "energy_uj": "min", "latency_ms": "min", "area_mm2": "min"})


@dataclass(frozen=True)
class Column:
    """How a front column is shown: a short header, its unit, one number format for the whole column, and
    whether larger is better (None: neither, e.g. a gene)."""

    header: str
    unit: str
    fmt: str
    maximize: bool | None = None
    percent: bool = False  # stored as a fraction, shown x100
    log: bool = False  # spans decades: plotted on a log axis

    def format(self, value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (int, float)):
            return format(100.0 * value if self.percent else value, self.fmt)
        return str(value)

    @property
    def label(self) -> str:
        return f"{self.header} ({self.unit})" if self.unit else self.header


COLUMNS: dict[str, Column] = {
    "accuracy": Column("accuracy", "%", ".2f", True, percent=True),
    "accuracy_measured": Column("measured", "%", ".2f", True, percent=True),
    "accuracy_predicted": Column("predicted", "%", ".2f", True, percent=True),
    "accuracy_std": Column("acc. std", "%", ".2f", False, percent=True),
    "energy_uj": Column("energy", "uJ", ".4f", False, log=True),
    "latency_ms": Column("latency", "ms", ".4f", False, log=True),
    "area_mm2": Column("area", "mm2", ".2f", False, log=True),
    "edap_uj_ms_mm2": Column("EDAP", "uJ ms mm2", ".2e", False, log=True),
    "edap_reduction_vs_reference": Column("EDAP gain", "x", ".3g", True, log=True),
    "edap_gain_at_reference_accuracy": Column("EDAP gain at ref. acc.", "x", ".3g", True, log=True),
    "tops": Column("TOPS", "", ".3g", True, log=True),
    "tops_per_w": Column("TOPS/W", "", ".1f", True, log=True),
    "tops_per_mm2": Column("TOPS/mm2", "", ".3f", True, log=True),
    "utilization": Column("utilization", "%", ".1f", True, percent=True),
    "tiles": Column("tiles", "", ".0f", False),
    "leakage_energy_uj": Column("leakage", "uJ", ".2e", False, log=True),
    "round": Column("round", "", "d"),
}
"""Display of the front's metric columns (the explorer, ``cimpipe show`` and ``cimpipe evaluate`` share it)."""


def column(name: str) -> Column:
    """The display of ``name`` (a gene or unknown column: its own name, 4 significant digits)."""
    return COLUMNS.get(name, Column(name, "", ".4g"))
