"""Data-dependent energy inputs of the evaluation.

NeuroSim V1.4 reads the input bit activity of every subarray read from its traces (ProcessingUnit.cpp,
GetInputVector: ``activityRowRead`` = rows whose input bit is 1 over the subarray's rows) and charges the word
lines and the column currents of resistive cells only for those rows (SubArray.cpp, CalculatePower;
MultilevelSenseAmp.cpp, column power x sensing delay). The model takes that activity as one number per design,
the input bit density: the characterization table holds those energies per unit density and the evaluation
scales them.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor

# Input bit density when none is given: NeuroSim's activityRowRead default (half the rows driven).
DEFAULT_INPUT_DENSITY = 0.5


def input_density(density: Tensor | None, like: Tensor) -> Tensor:
    """[D] (or [D, L], one per layer) input bit density in [0, 1]: the given one (clamped) or
    :data:`DEFAULT_INPUT_DENSITY`."""
    if density is None:
        return torch.full_like(like, DEFAULT_INPUT_DENSITY)
    return torch.clamp(density.to(like.dtype), 0.0, 1.0)


# Mean stored level (0 = G_off, 1 = G_on) when none is given: weights uniform over the cell's levels.
DEFAULT_WEIGHT_LEVEL_MEAN = 0.5


def weight_level_mean(level: Tensor | None, like: Tensor) -> Tensor:
    """[D] (or [D, L], one per layer) mean stored cell level in [0, 1]: the given one (clamped) or
    :data:`DEFAULT_WEIGHT_LEVEL_MEAN`.

    NeuroSim's column currents sum the conductances of the cells on the active rows (ProcessingUnit.cpp,
    GetColumnResistance), so resistive memories' ADC energy follows the stored levels too.
    """
    if level is None:
        return torch.full_like(like, DEFAULT_WEIGHT_LEVEL_MEAN)
    return torch.clamp(level.to(like.dtype), 0.0, 1.0)
