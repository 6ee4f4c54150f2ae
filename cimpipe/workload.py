"""A workload as the stages after training see it: the supernet as trained, and the space over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from cimpipe.config import device_summaries
from cimpipe.space import DeviceSummary, Family, HardwareSpace, SearchSpace
from cimpipe.train import load_supernet


def workload_space(spec: Family, hardware_space: Mapping[str, Any],
                   technologies: Mapping[str, Any] | None = None) -> SearchSpace:
    """The space over family ``spec``, the knobs of config's ``hardware_space`` (less ``technologies``) and the
    ``technologies`` entries given.

    The accuracy table and the predictor depend on no technology (the table's device bounds are its own
    settings), so without ``technologies`` the space carries one neutral device.
    """
    if technologies:
        devices = device_summaries({"technologies": technologies})
    else:
        cell_bits = max(hardware_space["cell_bits"])
        devices = {"any": DeviceSummary(sigma=0.0, on_off_ratio=float("inf"), max_cell_bits=cell_bits)}
    hardware = HardwareSpace.from_config({**hardware_space, "technologies": list(devices)}, list(devices))
    return SearchSpace(spec, hardware, devices)


def load_workload(supernet_path: str | Path, hardware_space: Mapping[str, Any],
                  technologies: Mapping[str, Any] | None = None) -> tuple[Any, Family, SearchSpace]:
    """The trained supernet, its family (from the checkpoint) and :func:`workload_space` over it."""
    model, spec, _meta = load_supernet(Path(supernet_path))
    return model, spec, workload_space(spec, hardware_space, technologies)
