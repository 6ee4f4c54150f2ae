"""NeuroSim traces recorded from a trained supernet on real images, as NeuroSim's own trace writer records them.

NeuroSim's Python wrapper hooks every conv and linear layer and writes, for the first image of a batch, the
layer's quantized weights and the bits of its quantized inputs, unrolled as the crossbar sees them
(``Inference_pytorch/utee/hook.py``). :func:`record_traces` does the same on cimpipe's exported static
sub-network: BatchNorm statistics are first re-estimated on calibration images (as the accuracy table does),
then one image runs through the network and each weight layer's integer codes are kept.

NeuroSim takes one weight and one input width for the whole chip, so a layer quantized to fewer bits is
written at the chip's width without changing its values: a weight code ``q`` of ``w`` bits (value
``q / 2^(w-1)``) is NeuroSim's level ``q * 2^(W-w) + 2^(W-1)`` of ``W`` bits, and an input code of ``a`` bits
gets ``A - a`` zero bits below it. NeuroSim counts a layer's vectors from the network file (unpadded sizes for
cimpipe's VGG family); where the padded convolution has more output positions, an evenly spaced subset of them
is kept.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from cimpipe.families import LayerShape, SubnetConfig
from cimpipe.hw.neurosim import LayerTrace, NeuroSimError, num_vectors


def _bits(codes: np.ndarray, bits: int, width: int) -> np.ndarray:
    """Two's-complement bits of integer ``codes`` (MSB first) at ``bits``, padded with zeros to ``width``."""
    unsigned = np.mod(codes.astype(np.int64), 2**bits)
    shifts = np.arange(bits - 1, -1, -1)
    out = (unsigned[..., None] >> shifts) & 1
    if width > bits:
        out = np.concatenate([out, np.zeros(out.shape[:-1] + (width - bits,), dtype=out.dtype)], axis=-1)
    return out.astype(np.uint8)


@torch.no_grad()
def record_traces(model: torch.nn.Module, subnet: SubnetConfig, layers: Sequence[LayerShape], image: torch.Tensor,
                  calib: Sequence[torch.Tensor], weight_bits: int, input_bits: int) -> list[LayerTrace]:
    """Traces of ``subnet`` for one normalized ``image`` [1, C, H, W]; ``calib`` batches re-estimate BN first.

    ``weight_bits`` and ``input_bits`` are the chip's widths (at least every layer's own).
    """
    from cimpipe.nn.evaluate import recalibrate_bn
    from cimpipe.nn.layers import QuantConv2d, QuantLinear

    recalibrate_bn(model, subnet, calib)
    net = model.export(subnet).eval()
    seen: list[tuple[torch.nn.Module, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append((mod, args[0])))
             for m in net.modules() if isinstance(m, (QuantConv2d, QuantLinear))]
    try:
        net(image)
    finally:
        for h in hooks:
            h.remove()
    if len(seen) != len(layers):
        raise NeuroSimError(f"the sub-network ran {len(seen)} weight layers but its network file has {len(layers)}")
    traces = []
    for (mod, x), layer in zip(seen, layers):
        if isinstance(mod, QuantConv2d) and mod.groups != 1:
            raise NeuroSimError("NeuroSim has no grouped (depthwise) layers")
        w_q = mod.weight_quant.codes(mod.weight)[0]
        a_q = mod.act_quant.codes(x)[0]
        w_bits, a_bits = mod.weight_quant.bits, mod.act_quant.bits
        if w_bits > weight_bits or a_bits > input_bits:
            raise NeuroSimError(f"a layer of {w_bits}/{a_bits} bits does not fit the chip's {weight_bits}/{input_bits}")
        if isinstance(mod, QuantConv2d):
            k = mod.kernel_size[0]
            cols = F.unfold(a_q, k, padding=mod.padding[0], stride=mod.stride[0])[0]  # [C*k*k, positions]
            keep = np.unique(np.linspace(0, cols.shape[1] - 1, num_vectors(layer)).round().astype(int))
            vectors = cols[:, keep].T.numpy()  # [vectors, C*k*k]
            weights = w_q.reshape(w_q.shape[0], -1).T.numpy()
        else:
            vectors = a_q.reshape(1, -1).numpy()
            weights = w_q.T.numpy()
        level = weights * 2.0 ** (weight_bits - w_bits)  # NeuroSim's weight value, exactly representable
        bits = _bits(vectors.round().astype(np.int64), a_bits, input_bits)  # [vectors, rows, A]
        traces.append(LayerTrace(weights=level / 2 ** (weight_bits - 1),
                                 input_bits=bits.transpose(1, 0, 2).reshape(bits.shape[1], -1)))
    return traces


def workload_traces(workload_dir, data_dir, subnet: SubnetConfig, layers: Sequence[LayerShape], weight_bits: int,
                    input_bits: int, calib_images: int = 256) -> list[LayerTrace]:
    """Traces of a front design from its workload's ``supernet.pt`` and prepared data: BN re-estimated on the
    first ``calib_images`` training images, the trace of the first validation image."""
    from pathlib import Path

    from cimpipe.data import load_prepared
    from cimpipe.nn.evaluate import normalize_images
    from cimpipe.train import load_supernet

    model, _spec, meta = load_supernet(Path(workload_dir) / "supernet.pt")
    data = load_prepared(Path(data_dir))
    mean, std = meta.get("mean", data.mean), meta.get("std", data.std)
    calib = normalize_images(np.asarray(data.train_x[:calib_images]), mean, std, "cpu")
    image = normalize_images(np.asarray(data.val_x[:1]), mean, std, "cpu")
    batches = [calib[i:i + 128] for i in range(0, calib.shape[0], 128)]
    return record_traces(model, subnet, layers, image, batches, weight_bits, input_bits)
