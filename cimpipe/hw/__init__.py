"""Hardware model: technology library, circuit models, mapping and network-level evaluator."""

from cimpipe.hw.characterize import HardwareGrid, characterize
from cimpipe.hw.evaluate import ChipMetrics, DesignError, Evaluator, HardwareBatch, LayerBatch, evaluate_design
from cimpipe.hw.technology import Technology, TechnologyError, builtin_technologies, load_technologies

__all__ = [
    "ChipMetrics", "DesignError", "Evaluator", "HardwareBatch", "HardwareGrid", "LayerBatch", "Technology",
    "TechnologyError", "builtin_technologies", "characterize", "evaluate_design", "load_technologies",
]
