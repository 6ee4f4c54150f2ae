"""How much of an accuracy-table row is measurement noise: the spread between conductance-variation draws.

Run from a workflow folder after `snakemake -c2` (the demo):

    python bench/accuracy_noise.py [--rows 40] [--draws 3] [--table results/demo/accuracy.parquet]

Re-measures ``--rows`` random non-anchor rows of the table ``--draws`` times each, every time with another
variation seed (same calibration images, same validation split), and prints the root-mean-square standard
deviation between draws for rows below and above 90 % accuracy, beside the binomial standard deviation
``sqrt(p (1 - p) / n)`` of an accuracy on the split's ``n`` images. The predictor's held-out RMSE cannot fall
below the spread of the numbers it is scored against.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import polars as pl
import torch

from cimpipe.accuracy import AccuracySettings, calibration_indices, cim_from_row, row_seed, subnet_from_row
from cimpipe.data import load_prepared
from cimpipe.nn.evaluate import evaluate_subnet
from cimpipe.train import load_supernet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="demo")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--table", type=Path, help="default: results/WORKLOAD/accuracy.parquet")
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, spec, _ = load_supernet(Path(f"results/{args.workload}/supernet.pt"))
    data = load_prepared(Path(f"data/prepared/{args.dataset}"))
    table = pl.read_parquet(args.table or Path(f"results/{args.workload}/accuracy.parquet"))
    table = table.filter(~pl.col("anchor") & (pl.col("sigma") > 0))
    picked = np.sort(np.random.default_rng(args.seed).choice(table.height, min(args.rows, table.height), replace=False))
    settings = AccuracySettings()
    vx, vy = np.array(data.val_x), np.array(data.val_y)
    calib = np.array(data.train_x[calibration_indices(len(data.train_x), settings)])
    pristine = {k: v.detach().clone() for k, v in model.state_dict().items()}
    means, stds = [], []
    for i in picked:
        row = table.row(int(i), named=True)
        subnet = subnet_from_row(spec, row)
        accs = []
        for k in range(args.draws):
            model.load_state_dict(pristine)
            seed = row_seed(settings.seed, int(row["config_id"]), k)
            accs.append(evaluate_subnet(model, subnet, cim_from_row(row, seed), vx, vy, mean=data.mean, std=data.std,
                                        calib_images=calib, batch_size=settings.batch_size)[0])
        means.append(np.mean(accs))
        stds.append(np.std(accs, ddof=1))
    means, stds = np.array(means), np.array(stds)
    n = len(vy)
    print(f"validation images {n} (one image = {100 / n:.2f} points); {len(picked)} rows x {args.draws} draws")
    for name, mask in (("all rows", np.ones_like(means, bool)), ("below 90 %", means < 0.9), ("90 % and above", means >= 0.9)):
        if not mask.any():
            continue
        binom = np.sqrt(np.mean(means[mask] * (1 - means[mask]) / n)) * 100
        print(f"{name:15s} rows {mask.sum():3d}  draw-to-draw std {math.sqrt(np.mean(stds[mask] ** 2)) * 100:5.2f} points"
              f"  (binomial {binom:4.2f})")


if __name__ == "__main__":
    main()
