"""The accuracy table's settings (a workload's ``accuracy`` section) and its errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


class AccuracyError(ValueError):
    """A problem with the accuracy-table settings or files the user can fix (one sentence)."""




@dataclass(frozen=True)
class AccuracySettings:
    """The ``accuracy:`` section of a workload.

    ``rows`` configurations in the table (anchors included); ``shards`` jobs the table may be split over;
    ``chunk_rows`` rows measured between two resumable checkpoints; ``calib_images`` training images used to
    recalibrate BatchNorm per row; ``eval_images`` validation images per row (None: the whole split);
    ``seed`` drives the sampling, the calibration subset and the per-row variation draws; ``batch_size``
    images per forward pass. ``sigma_max``, ``on_off_min`` and ``on_off_max`` bound the device variation and
    on/off ratios the table covers. The workflow takes the bounds a workload leaves out from the span of the
    technologies the search covers (:func:`cimpipe.config.accuracy_section`), so the table's rows go to
    devices the search can pick; a technology added inside the bounds reuses the table, and the search refuses
    one outside bounds a workload pinned. The defaults here serve direct use of this module.
    ``draws_min`` .. ``draws_max`` conductance-variation draws are averaged per row with variation, stopping
    once the standard error of the mean accuracy is at most ``draw_sem`` (see :func:`measure_rows`).
    """

    rows: int = 400
    shards: int = 1
    chunk_rows: int = 25
    calib_images: int = 1024
    eval_images: int | None = None
    seed: int = 1
    batch_size: int = 512
    sigma_max: float = 0.1
    on_off_min: float = 10.0
    on_off_max: float = 1e6
    draws_min: int = 2
    draws_max: int = 8
    draw_sem: float = 0.003

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> "AccuracySettings":
        """Settings from a workload's ``accuracy`` dict; unknown keys and bad values are refused."""
        section = dict(section or {})
        floats = {k: section.pop(k) for k in ("sigma_max", "on_off_min", "on_off_max", "draw_sem") if k in section}
        for key, value in floats.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AccuracyError(f"accuracy.{key} must be a finite number, not {value!r}")
        if floats.get("draw_sem", 1.0) <= 0:
            raise AccuracyError(f"accuracy.draw_sem must be positive, not {floats['draw_sem']}")
        if floats.get("sigma_max", 0.0) < 0:
            raise AccuracyError(f"accuracy.sigma_max must not be negative, not {floats['sigma_max']}")
        lo, hi = floats.get("on_off_min", cls.on_off_min), floats.get("on_off_max", cls.on_off_max)
        if not 1 < lo <= hi:
            raise AccuracyError(f"accuracy.on_off_min ({lo}) must exceed 1 and not exceed accuracy.on_off_max ({hi})")
        ints = _checked_settings("accuracy", section, cls, optional_ints={"eval_images"}, non_negative={"seed"})
        lo_draws, hi_draws = ints.get("draws_min", cls.draws_min), ints.get("draws_max", cls.draws_max)
        if lo_draws > hi_draws:
            raise AccuracyError(f"accuracy.draws_min ({lo_draws}) must not exceed accuracy.draws_max ({hi_draws})")
        return cls(**ints, **{k: float(v) for k, v in floats.items()})


def _checked_settings(section_name: str, section: dict[str, Any] | None, cls: type,
                      optional_ints: set[str] = frozenset(), non_negative: set[str] = frozenset(),
                      ) -> dict[str, Any]:
    section = dict(section or {})
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise AccuracyError(f"{section_name}.{key} is not a known setting (known: {', '.join(known)})")
        if value is None and key in optional_ints:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise AccuracyError(f"{section_name}.{key} must be an integer, not {value!r}")
        lowest = 0 if key in non_negative else 1
        if value < lowest:
            raise AccuracyError(f"{section_name}.{key} must be at least {lowest}, not {value}")
        out[key] = value
    return out
