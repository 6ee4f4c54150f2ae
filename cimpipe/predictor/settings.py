"""The predictor's settings (a workload's ``predictor`` section), its errors and its file format."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


FORMAT = "cimpipe-predictor-1"


class PredictorError(ValueError):
    """A predictor setting, file or query the user can fix (one sentence naming the key, file or column)."""




@dataclass(frozen=True)
class PredictorSettings:
    """The ``predictor:`` section of a workload.

    ``ensemble`` members (different initializations and minibatch orders); ``hidden`` widths of each MLP;
    ``epochs`` passes over the fit rows in minibatches of ``batch_size``; ``lr`` Adam's learning rate
    (cosine-decayed); ``weight_decay`` AdamW's decoupled decay; ``holdout`` fraction of the rows scored
    and never fitted; ``seed`` for the split and the members; ``trees`` boosting iterations of the
    gradient-boosted trees (0: none); ``gp_weight`` the Gaussian process's share of the prediction (0: no
    Gaussian process is fitted); ``mlp_weight`` the MLP ensemble's share. The trees take the rest, or the MLP
    ensemble where there are no trees; ``mlp_weight + gp_weight`` must not exceed 1. With ``mlp_weight`` 0
    the ensemble only gives the spread.
    """

    ensemble: int = 5
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 300
    lr: float = 0.003
    holdout: float = 0.2
    seed: int = 2
    batch_size: int = 64
    weight_decay: float = 1e-4
    trees: int = 150
    mlp_weight: float = 0.0
    gp_weight: float = 0.5

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> "PredictorSettings":
        """Settings from a workload's ``predictor`` dict; unknown keys and bad values are refused."""
        section = dict(section or {})
        known = [f.name for f in fields(cls)]
        out: dict[str, Any] = {}
        for key, value in section.items():
            if key not in known:
                raise PredictorError(f"predictor.{key} is not a known setting (known: {', '.join(known)})")
            if key == "hidden":
                if (not isinstance(value, (list, tuple)) or not value
                        or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in value)):
                    raise PredictorError(f"predictor.hidden must be a non-empty list of positive integers, not {value!r}")
                out[key] = tuple(value)
            elif key in ("lr", "holdout", "weight_decay", "mlp_weight", "gp_weight"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise PredictorError(f"predictor.{key} must be a number, not {value!r}")
                if key == "lr" and value <= 0:
                    raise PredictorError(f"predictor.lr must be positive, not {value}")
                if key == "holdout" and not 0 <= value < 1:
                    raise PredictorError(f"predictor.holdout must lie in [0, 1), not {value}")
                if key in ("mlp_weight", "gp_weight") and not 0 <= value <= 1:
                    raise PredictorError(f"predictor.{key} must lie in [0, 1], not {value}")
                if key == "weight_decay" and value < 0:
                    raise PredictorError(f"predictor.weight_decay must not be negative, not {value}")
                out[key] = float(value)
            else:
                lowest = 0 if key in ("seed", "trees") else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                    raise PredictorError(f"predictor.{key} must be an integer of at least {lowest}, not {value!r}")
                out[key] = value
        mixed = out.get("mlp_weight", cls.mlp_weight) + out.get("gp_weight", cls.gp_weight)
        if mixed > 1 + 1e-12:
            raise PredictorError(f"predictor.mlp_weight + predictor.gp_weight must not exceed 1, not {mixed:g}")
        return cls(**out)
