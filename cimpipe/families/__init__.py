"""Supernet families: VGG, ResNet (basic blocks) and MobileNetV2 (inverted residuals).

Every family declares itself to the rest of the package through one generic interface (:class:`Family`),
so the samplers, the gene encoding, the predictor and the hardware evaluator never branch on the family:

* **Depth.** Stages of blocks; stage ``s`` keeps its first ``d`` blocks, ``min_depth[s] <= d <=
  max_depths[s]``. A block is one conv layer (VGG), a basic block (ResNet) or an inverted residual
  (MobileNetV2).
* **Slots.** Width slots (layers whose output channels are ``round(ratio * max)``, the ratio one of
  ``width_ratios``), kernel slots (one of ``kernel_choices``), expand slots (MobileNetV2's expansion
  ratio, one of ``expand_choices``) and weight slots (every weight layer of the largest member in execution
  order, each with its weight and activation bits). Every slot belongs to a block ``(stage, index)``, whose
  activity it follows, or to none (always present). :attr:`Family.width_blocks` and its siblings say which.
* **Shapes.** :meth:`Family.layer_table` gives every weight slot's shape in NeuroSim's network format for a
  batch of members at once ([D, n_slots] arrays), the form the hardware evaluator takes; one member's
  :meth:`Family.layer_shapes` is the same table for D = 1.

Shapes follow NeuroSim's network file (IFM, C_in, K, C_out, pool, stride). NeuroSim counts the output
pixels of a layer as ``(IFM - K + 1) / stride``; its own VGG files give the unpadded input, and the VGG family
keeps that convention so the largest VGG-8 member reproduces NeuroSim's ``NetWork_VGG8.csv``. ResNet and
MobileNetV2 have strided and large-kernel layers on small maps, so their tables give the *zero-padded*
input size, with which the same formula counts the true output pixels. A depthwise convolution
(``groups == c_in == c_out``) is mapped block-diagonally: its ``C * K * K`` by ``C`` matrix occupies the
crossbar densely, because a crossbar column can only read the rows that all columns share.

The ResNet basic block follows He et al. (2016) with a 1x1 projection shortcut in the first block of every
stage (as once-for-all's elastic ResNets do, so the stage's channels can change freely); MobileNetV2 follows
Sandler et al. (2018): expand 1x1, depthwise KxK, linear projection 1x1, residual when the block keeps its
stride and width, a 1x1 head before the classifier.

The package: ``base`` (:class:`SubnetConfig`, :class:`LayerShape`, :class:`Family`), ``vgg`` and ``blocks``
(ResNet, MobileNetV2); :func:`spec_from_dict` dispatches on the family's name, the one place that does.
"""

from __future__ import annotations

from typing import Any

from cimpipe.families.base import (BIT_RANGE, FAMILIES, LAYER_KEYS, ArchArrays, Family, LayerShape, SpaceError,
                                   SubnetConfig)
from cimpipe.families.blocks import MobileNetV2Spec, ResNetSpec
from cimpipe.families.vgg import VGGSpec

FamilySpec = VGGSpec | ResNetSpec | MobileNetV2Spec
SPEC_TYPES = {"vgg": VGGSpec, "resnet": ResNetSpec, "mobilenetv2": MobileNetV2Spec}


def spec_from_dict(d: dict[str, Any]) -> Family:
    """Rebuild a family from :meth:`Family.to_dict` output (lists become tuples; unknown fields refused)."""
    d = dict(d)
    family = d.get("family", "vgg")
    cls = SPEC_TYPES.get(family)
    if cls is None:
        raise SpaceError(f"supernet family {family!r} is not one of {', '.join(FAMILIES)}")
    fields = set(cls.__dataclass_fields__)
    unknown = sorted(set(d) - fields)
    if unknown:
        raise SpaceError(f"the {family} family has no field {unknown[0]!r}")

    def norm(v: Any) -> Any:
        return tuple(norm(x) for x in v) if isinstance(v, (list, tuple)) else v

    try:
        return cls(**{k: norm(v) for k, v in d.items()})
    except TypeError as e:
        raise SpaceError(f"the {family} family description is incomplete ({e})") from None


__all__ = ["BIT_RANGE", "FAMILIES", "LAYER_KEYS", "SPEC_TYPES", "ArchArrays", "Family", "FamilySpec", "LayerShape",
           "MobileNetV2Spec", "ResNetSpec", "SpaceError", "SubnetConfig", "VGGSpec", "spec_from_dict"]
