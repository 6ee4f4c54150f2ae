"""Training throughput: a sandwich step of the supernet vs a plain step of the largest static network.

Prints images/second for the demo, VGG-8, ResNet-18 and MobileNetV2 (CIFAR) shapes on CPU (and CUDA when
present). A sandwich step runs
2 + ``--random`` members, so it costs several forward/backward passes per batch.

    python bench/train_throughput.py [--steps 5] [--random 2] [--threads 1] [--shapes demo,vgg8,resnet18]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from cimpipe.nn import build_supernet
from cimpipe.space import MobileNetV2Spec, ResNetSpec, VGGSpec
from cimpipe.train import TrainRecipe, _sandwich_step

SHAPES = {
    "demo": (VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((32, 32), (64, 64)), fc=(128,),
                     min_depth=(1, 1)), 64),
    "vgg8": (VGGSpec(in_channels=3, image_size=32, num_classes=10, stages=((128, 128), (256, 256), (512, 512)),
                     fc=(1024,), min_depth=(1, 1, 1)), 64),
    "resnet18": (ResNetSpec(in_channels=3, image_size=32, num_classes=10, stages=(64, 128, 256, 512),
                            blocks=(2, 2, 2, 2), min_depth=(1, 1, 1, 1)), 64),
    "mobilenetv2": (MobileNetV2Spec(in_channels=3, image_size=32, num_classes=10,
                                    stages=(16, 24, 32, 64, 96, 160, 320), blocks=(1, 2, 3, 4, 3, 3, 1),
                                    strides=(1, 1, 2, 2, 1, 2, 1), min_depth=(1,) * 7), 64),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(name: str, device: torch.device, steps: int, n_random: int) -> None:
    spec, batch = SHAPES[name]
    torch.manual_seed(0)
    model = build_supernet(spec).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, spec.in_channels, spec.image_size, spec.image_size, device=device)
    y = torch.randint(0, spec.num_classes, (batch,), device=device)
    recipe = TrainRecipe(random_subnets=n_random)
    rng = np.random.default_rng(0)
    amp = device.type == "cuda"
    bits = tuple(range(2, 9))

    def sandwich() -> None:
        opt.zero_grad(set_to_none=True)
        _sandwich_step(model, spec, x, y, recipe, bits, rng, amp)
        opt.step()

    static = model.export(spec.largest()).to(device).train()
    opt_s = torch.optim.SGD(static.parameters(), lr=0.01, momentum=0.9, nesterov=True)

    def plain() -> None:
        opt_s.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(static(x).float(), y)
        loss.backward()
        opt_s.step()

    for label, fn in (("plain largest (8/8 bit)", plain), (f"sandwich (2+{n_random} members)", sandwich)):
        fn()
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        dt = (time.perf_counter() - t) / steps
        print(f"{name:11s} {device.type:4s} batch {batch:3d} {label:26s} {batch / dt:9.1f} images/s  ({dt * 1e3:.1f} ms/step)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--random", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--shapes", default="demo,vgg8")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        for name in args.shapes.split(","):
            steps = args.steps if device.type == "cuda" or name == "demo" else max(1, args.steps // 5)
            bench(name, device, steps, args.random)


if __name__ == "__main__":
    main()
