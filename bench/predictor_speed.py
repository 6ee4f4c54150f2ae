"""How fast the accuracy predictor answers the search: seconds per batch of random designs.

    python bench/predictor_speed.py                                  # demo space, a freshly fitted predictor
    python bench/predictor_speed.py --predictor results/demo/predictor.pt --n 100000 --threads 2

Prints the time of the input checks, of ``cimpipe.space.features``, of the crossbar features, of the MLP
ensemble's forward pass and of the gradient-boosted trees separately, then of the whole ``Predictor.predict``
call (median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from cimpipe.accuracy import sample_configurations
from cimpipe.predictor import (Predictor, PredictorSettings, crossbar_features, features, fit_predictor, predict_gp,
                               predict_trees)
from cimpipe.space import DeviceSummary, HardwareSpace, SearchSpace, VGGSpec

DEMO_SPEC = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((32, 32), (64, 64)), fc=(128,),
                    min_depth=(1, 1))
DEMO_HW = HardwareSpace(technologies=("rram_22nm", "sram_22nm"))
DEMO_DEVICES = {"rram_22nm": DeviceSummary(0.05, 100.0, 2), "sram_22nm": DeviceSummary(0.0, 1e5, 1)}


def _timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictor", type=Path, help="a fitted predictor.pt (default: fit one on a fabricated table)")
    ap.add_argument("--n", type=int, default=100_000, help="designs per predict call")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    space = SearchSpace(DEMO_SPEC, DEMO_HW, DEMO_DEVICES)
    if args.predictor is None:
        table = sample_configurations(space, 200, seed=0)
        bits = table.select(pl.col("^wbits_.*$")).to_numpy().mean(1)
        table = table.with_columns(pl.Series("accuracy", 0.98 - 0.4 * np.exp(-(bits - 2)) - 2 * table["sigma"]))
        tmp = Path(tempfile.mkdtemp())
        fit_predictor(table, space, PredictorSettings(epochs=20), tmp / "p.pt", tmp / "m.json")
        predictor = Predictor.load(tmp / "p.pt", space)
    else:
        predictor = Predictor.load(args.predictor)
        space = predictor.space
    genes = space.random_genes(np.random.default_rng(0), args.n)
    arch, cim = space.arch_values(genes), space.cim_values(genes)
    cim[:, 4] = np.minimum(cim[:, 4], predictor.cim_ranges["on_off_ratio"][1])
    feats = torch.from_numpy(predictor.features(arch, cim))
    stand = (feats - predictor.feature_mean) / predictor.feature_std

    t_check = _timed(lambda: predictor.checked(arch, cim), args.repeat)
    t_feat = _timed(lambda: features(space, arch, cim), args.repeat)
    t_xbar = _timed(lambda: crossbar_features(space, arch, cim), args.repeat)
    t_net = _timed(lambda: predictor.ensemble(stand), args.repeat)
    trees = predictor.state.get("trees")
    t_trees = _timed(lambda: predict_trees(trees, feats), args.repeat) if trees is not None else 0.0
    gp = predictor.state.get("gp")
    t_gp = _timed(lambda: predict_gp(gp, feats), args.repeat) if gp is not None else 0.0
    t_all = _timed(lambda: predictor.predict(arch, cim), args.repeat)
    members = predictor.ensemble.weights[0].shape[0]
    hidden = [w.shape[2] for w in predictor.ensemble.weights[:-1]]
    print(f"designs {args.n}  threads {args.threads}  ensemble {members} x {hidden}  features {feats.shape[1]}")
    print(f"checks   {t_check * 1e3:8.1f} ms")
    print(f"features {t_feat * 1e3:8.1f} ms  (cimpipe.predictor.features)")
    print(f"crossbar {t_xbar * 1e3:8.1f} ms  (ADC shortfall and crossbar noise features)")
    print(f"ensemble {t_net * 1e3:8.1f} ms")
    if trees is not None:
        print(f"trees    {t_trees * 1e3:8.1f} ms  ({trees['feature'].shape[0]} trees of depth "
              f"{(trees['feature'].shape[1] + 1).bit_length() - 1})")
    if gp is not None:
        print(f"process  {t_gp * 1e3:8.1f} ms  (Gaussian process over {gp['x'].shape[0]} table rows)")
    print(f"predict  {t_all * 1e3:8.1f} ms  ({args.n / t_all:,.0f} designs/s)")
    if not math.isfinite(t_all):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
