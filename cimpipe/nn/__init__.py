"""Elastic, quantized supernets and the crossbar (CIM) simulation of their layers."""

from cimpipe.nn.cim import crossbar_conv2d, crossbar_matmul
from cimpipe.nn.evaluate import evaluate_subnet, normalize_images, recalibrate_bn
from cimpipe.nn.quant import FixedQuantizer, LSQQuantizer, code_range, grad_scale, round_ste
from cimpipe.nn.vgg import QuantConv2d, QuantLinear, Supernet

__all__ = [
    "FixedQuantizer",
    "LSQQuantizer",
    "QuantConv2d",
    "QuantLinear",
    "Supernet",
    "code_range",
    "crossbar_conv2d",
    "crossbar_matmul",
    "evaluate_subnet",
    "grad_scale",
    "normalize_images",
    "recalibrate_bn",
    "round_ste",
]
