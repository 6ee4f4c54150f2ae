"""Elastic, quantized supernets and the crossbar (CIM) simulation of their layers."""

from torch import nn

from cimpipe.nn.cim import crossbar_conv2d, crossbar_matmul
from cimpipe.nn.evaluate import evaluate_subnet, normalize_images, recalibrate_bn
from cimpipe.nn.layers import QuantConv2d, QuantLinear
from cimpipe.nn.mobilenet import MobileNetV2Supernet
from cimpipe.nn.quant import FixedQuantizer, LSQQuantizer, code_range, grad_scale, round_ste
from cimpipe.nn.resnet import ResNetSupernet
from cimpipe.nn.vgg import Supernet
from cimpipe.space import Family, MobileNetV2Spec, ResNetSpec, SpaceError, VGGSpec


def build_supernet(spec: Family) -> nn.Module:
    """The weight-sharing supernet of a family spec (VGG, ResNet or MobileNetV2)."""
    if isinstance(spec, VGGSpec):
        return Supernet(spec)
    if isinstance(spec, ResNetSpec):
        return ResNetSupernet(spec)
    if isinstance(spec, MobileNetV2Spec):
        return MobileNetV2Supernet(spec)
    raise SpaceError(f"no supernet is built for a {type(spec).__name__}")


__all__ = [
    "FixedQuantizer",
    "LSQQuantizer",
    "MobileNetV2Supernet",
    "QuantConv2d",
    "QuantLinear",
    "ResNetSupernet",
    "Supernet",
    "build_supernet",
    "code_range",
    "crossbar_conv2d",
    "crossbar_matmul",
    "evaluate_subnet",
    "grad_scale",
    "normalize_images",
    "recalibrate_bn",
    "round_ste",
]
