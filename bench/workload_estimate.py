"""Estimated time of a workload's stages on this machine, from short measured slices of each.

    python bench/workload_estimate.py WORKLOAD [--config config.yaml] [--train-images 45000] [--threads 2]

Measures, for the workload's supernet (image shape from its prepared data when present, else 32x32 RGB with
10 classes): images/s of a sandwich training step at the recipe's batch size, and images/s in CIM mode
(5-bit ADC, 2-bit cells, 128 rows in parallel, sigma 0.05, on/off 100) of the largest and the smallest member
at 8 and 4 bits. It then prints each stage's estimate from the workload's settings: training = epochs x
training images / rate; accuracy table = rows x draws x eval images / mean CIM rate, over the shards run side by
side (one thread each); search = (refinement rounds + 1) x front size x draws x eval images / mean CIM rate.
Draws per row are taken as ``draws_min`` (most rows stop there; rows at sigma 0 take one). BatchNorm
recalibration, hardware cost and the predictor are left out (minutes at most).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from cimpipe.accuracy import AccuracySettings
from cimpipe.config import load_config, workload_section, workload_spec
from cimpipe.nn import build_supernet
from cimpipe.space import CIMSettings
from cimpipe.train import TrainRecipe, _sandwich_step


def _rate(fn, images: int, min_seconds: float = 3.0) -> float:
    fn()  # warm-up
    runs, t = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        dt = time.perf_counter() - t
        if dt > min_seconds:
            return images * runs / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--train-images", type=int, default=45000, help="training images per epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cim-images", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    section = workload_section(config, args.workload)
    meta_path = Path("data/prepared") / section["dataset"] / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {"channels": 3, "image_size": 32,
                                                                          "num_classes": 10}
    spec = workload_spec(config, args.workload, meta)
    recipe = TrainRecipe(**{k: v for k, v in (section.get("train") or {}).items()
                            if k in ("epochs", "batch_size", "lr", "random_subnets")})
    acc = AccuracySettings.from_config({k: v for k, v in (section.get("accuracy") or {}).items()
                                        if k not in ("sigma_max", "on_off_min", "on_off_max")})
    search = section.get("search") or {}
    torch.manual_seed(0)
    model = build_supernet(spec)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    b = recipe.batch_size
    x = torch.randn(b, spec.in_channels, spec.image_size, spec.image_size)
    y = torch.randint(0, spec.num_classes, (b,))
    rng = np.random.default_rng(0)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        _sandwich_step(model, spec, x, y, recipe, tuple(spec.bit_choices), rng, False)
        opt.step()

    train_rate = _rate(step, b, 10.0)
    model.eval()
    xc = x[: args.cim_images]
    cim = CIMSettings(adc_bits=5, cell_bits=2, rows_parallel=128, sigma=0.05, on_off_ratio=100.0, seed=1)
    rates = {}
    with torch.no_grad():
        for name, member in (("largest 8b", spec.largest(8)), ("largest 4b", spec.largest(4)),
                             ("smallest 8b", spec.smallest(8)), ("smallest 4b", spec.smallest(4))):
            digital = _rate(lambda: model(xc, member), len(xc), 1.0)
            rates[name] = _rate(lambda: model(xc, member, cim), len(xc), 2.0)
            print(f"{name:12s} digital {digital:8.1f} img/s  CIM {rates[name]:7.1f} img/s  "
                  f"CIM/digital {digital / rates[name]:5.1f}x", flush=True)
    cim_rate = float(np.mean(list(rates.values())))
    eval_images = acc.eval_images or 5000
    train_s = recipe.epochs * args.train_images / train_rate
    table_s = acc.rows * acc.draws_min * eval_images / cim_rate * args.threads / max(1, min(acc.shards, args.threads))
    fronts = int(search.get("refine", 1)) + 1
    search_s = fronts * int(search.get("front_size", 200)) * acc.draws_min * eval_images / cim_rate
    print(f"sandwich training: {train_rate:.1f} img/s at batch {b} ({recipe.random_subnets} random members)")
    print(f"train_supernet  ~{train_s / 60:6.1f} min  ({recipe.epochs} epochs x {args.train_images} images)")
    print(f"accuracy table  ~{table_s / 60:6.1f} min  ({acc.rows} rows x {acc.draws_min} draws x {eval_images} images, "
          f"{acc.shards} shards)")
    print(f"search remeasure ~{search_s / 60:5.1f} min  ({fronts} fronts x {search.get('front_size', 200)} designs)")


if __name__ == "__main__":
    main()
