"""Training cost of each workload's recipe in floating-point operations, and the GPU time it implies.

    python bench/training_flops.py [--tflops 10] [--workloads vgg8,vgg16,resnet18,mobilenetv2]

For every workload of config.yaml: the multiply-accumulates of one image through the largest, the smallest
and (averaged over 20 samples) a random member, counted on the exported static network with forward hooks
(conv: output elements x C_in/groups x K x K; linear: inputs x outputs). A sandwich step runs the largest,
the smallest and ``random_subnets`` random members, forward and backward (3x the forward cost, 2 FLOPs per
MAC). Multiplied by the training images and the epochs of the recipe, and divided by an assumed effective
throughput (``--tflops``), this is an estimate of the training time on one GPU, not a measurement; depthwise
layers are memory-bound on GPUs and run slower than their FLOPs suggest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from cimpipe.config import family_spec, load_config, workload_section
from cimpipe.nn import build_supernet
from cimpipe.train import TrainRecipe

# input shape, classes and training images (the official train split less the validation split) per dataset kind
DATASETS = {"cifar10": (3, 32, 10, 45_000), "cifar100": (3, 32, 100, 45_000), "tinyimagenet": (3, 64, 200, 90_000)}


def member_macs(model: torch.nn.Module, subnet, image: torch.Tensor) -> int:
    """Multiply-accumulates of one image through the exported static network of ``subnet``."""
    total = [0]
    net = model.export(subnet).eval()
    hooks = []
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda mod, i, o: total.__setitem__(
                0, total[0] + o[0].numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1])))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(lambda mod, i, o: total.__setitem__(
                0, total[0] + mod.in_features * mod.out_features)))
    with torch.no_grad():
        net(image)
    for h in hooks:
        h.remove()
    return total[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("config.yaml"))
    ap.add_argument("--tflops", type=float, default=10.0, help="assumed effective TFLOP/s of the GPU")
    ap.add_argument("--workloads", default="vgg8,vgg16,resnet18,mobilenetv2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    print(f"{'workload':12s} {'largest GMAC':>12s} {'step GMAC/img':>13s} {'epochs':>6s} {'images':>7s} "
          f"{'PFLOP':>7s} {'hours at ' + str(args.tflops) + ' TFLOP/s':>22s}")
    for name in args.workloads.split(","):
        section = workload_section(config, name)
        kind = config["datasets"][section["dataset"]]["kind"]
        channels, size, classes, images = DATASETS[kind]
        spec = family_spec(section, {"channels": channels, "image_size": size, "num_classes": classes},
                           f"workloads.{name}")
        recipe = TrainRecipe.from_config(section.get("train", {}))
        model = build_supernet(spec).eval()
        image = torch.randn(1, channels, size, size)
        rng = np.random.default_rng(0)
        random_mean = float(np.mean([member_macs(model, spec.sample(rng), image) for _ in range(20)]))
        largest = member_macs(model, spec.largest(), image)
        step = largest + member_macs(model, spec.smallest(), image) + recipe.random_subnets * random_mean
        flops = 3 * 2 * step * images * recipe.epochs
        print(f"{name:12s} {largest / 1e9:12.3f} {step / 1e9:13.2f} {recipe.epochs:6d} {images:7d} "
              f"{flops / 1e15:7.1f} {flops / (args.tflops * 1e12) / 3600:22.2f}")


if __name__ == "__main__":
    main()
