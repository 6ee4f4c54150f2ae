"""How well the accuracy table's own labels rank its designs: the Kendall tau a second measurement would reach.

Run from a workflow folder after `snakemake -c2` (the demo):

    python bench/label_repeatability.py [--draws 8] [--jobs 2] [--rows N] [--cv]

Re-measures the table's rows with the table's protocol (the supernet's weights, BatchNorm recalibrated on the
same training images, the validation split, the rows' variation seeds ``row_seed(seed, config_id, k)``) on
``--draws`` variation draws each (one for a row without variation), keeping every image's result, in
``--jobs`` processes. The per-image results go to ``--out`` (default
``results/WORKLOAD/label_repeatability.npz``) and are read back from there on a second run. Prints the tau
between

* two bootstrap samples of the validation images (all draws): what a second validation set of the same size
  would agree with;
* two disjoint halves of the images (all draws);
* the first and the second half of the draws (all images): the noise of the variation draws alone.

With ``--cv`` it also prints the saved predictor recipe's five-fold cross-validated tau on labels from a
half, three quarters and all of the images (all draws), and on the table's own labels. On the demo (300
rows, 808 images, 8 draws: about 25 min on 2 cores) the bootstrap samples agree to 0.83, the halves to 0.75,
the draw halves to 0.93; the recipe reaches 0.79, 0.84, 0.84 and 0.83.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import numpy as np
import polars as pl
import torch
from scipy.stats import kendalltau

WORKLOAD = "demo"


def _measure(args: tuple[str, str, list[int], int]) -> tuple[list[int], np.ndarray]:
    """bool [rows, draws, images]: which validation images each row classifies correctly on each draw."""
    from cimpipe.accuracy import AccuracySettings, calibration_indices, cim_from_row, row_seed, subnet_from_row
    from cimpipe.data import load_prepared
    from cimpipe.nn.evaluate import correct_per_image, normalize_images, recalibrate_bn
    from cimpipe.train import load_supernet

    workload, dataset, ids, n_draws = args
    torch.set_num_threads(1)
    model, spec, _ = load_supernet(Path(f"results/{workload}/supernet.pt"))
    data = load_prepared(Path(f"data/prepared/{dataset}"))
    table = pl.read_parquet(Path(f"results/{workload}/accuracy.parquet")).filter(pl.col("config_id").is_in(ids))
    settings = AccuracySettings()
    val_x, val_y = np.array(data.val_x), np.array(data.val_y)
    calib = normalize_images(np.array(data.train_x[calibration_indices(len(data.train_x), settings)]), data.mean,
                             data.std)
    batches = [calib[i: i + settings.batch_size] for i in range(0, len(calib), settings.batch_size)]
    pristine = {k: v.clone() for k, v in model.state_dict().items()}
    out = np.zeros((table.height, n_draws, len(val_y)), dtype=bool)
    rows = list(table.iter_rows(named=True))
    for r, row in enumerate(rows):
        subnet = subnet_from_row(spec, row)
        model.load_state_dict(pristine)
        recalibrate_bn(model, subnet, batches)
        for k in range(n_draws if row["sigma"] > 0 else 1):
            seed = row_seed(settings.seed, int(row["config_id"]), k)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out[r, k] = correct_per_image(model, subnet, cim_from_row(row, seed), val_x, val_y, mean=data.mean,
                                              std=data.std, batch_size=settings.batch_size)
        if row["sigma"] == 0:
            out[r, 1:] = out[r, 0]
    return [int(row["config_id"]) for row in rows], out


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    return float(kendalltau(a, b).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default=WORKLOAD)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rows", type=int, help="only the first N rows by config_id (default: all)")
    ap.add_argument("--out", type=Path, help="default: results/WORKLOAD/label_repeatability.npz")
    ap.add_argument("--cv", action="store_true", help="also cross-validate the predictor recipe on these labels")
    args = ap.parse_args()
    if args.draws < 2:
        ap.error("--draws must be at least 2 (the draws are split in halves)")
    out = args.out or Path(f"results/{args.workload}/label_repeatability.npz")
    table = pl.read_parquet(Path(f"results/{args.workload}/accuracy.parquet")).sort("config_id")
    if args.rows:
        table = table.head(args.rows)
    ids = table["config_id"].to_list()
    cached = np.load(out) if out.is_file() else None
    if cached is not None and cached["ids"].tolist() == ids and cached["correct"].shape[1] == args.draws:
        correct = cached["correct"]
        print(f"per-image results read from {out}")
    else:
        parts = [ids[j:: args.jobs] for j in range(args.jobs)]
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            done = pool.map(_measure, [(args.workload, args.dataset, p, args.draws) for p in parts])
        where = {cid: (j, i) for j, (got, _) in enumerate(done) for i, cid in enumerate(got)}
        correct = np.stack([done[where[cid][0]][1][where[cid][1]] for cid in ids])
        np.savez_compressed(out, ids=np.array(ids), correct=correct)
        print(f"per-image results written to {out}")
    per_image = correct.mean(1)  # [rows, images]: each image's share of correct draws
    n_rows, n_images = per_image.shape
    # the table's rows average their first `draws` of the same seeds: they must come out as stored
    table_draws = table["draws"].to_numpy()
    comparable = table_draws <= args.draws
    redo = np.array([correct[i, : max(d, 1)].mean() for i, d in enumerate(np.minimum(table_draws, args.draws))])
    gap = np.abs(redo - table["accuracy"].to_numpy())[comparable]
    print(f"{n_rows} rows, {n_images} images, {args.draws} draws; the table's accuracy reproduced to "
          f"{gap.max() * 100 if len(gap) else 0:.2g} points on the {comparable.sum()} rows with at most {args.draws} "
          f"draws")
    rng = np.random.default_rng(0)
    boot = [_tau(per_image[:, rng.integers(0, n_images, n_images)].mean(1),
                 per_image[:, rng.integers(0, n_images, n_images)].mean(1)) for _ in range(50)]
    halves = []
    for _ in range(20):
        p = rng.permutation(n_images)
        halves.append(_tau(per_image[:, p[: n_images // 2]].mean(1), per_image[:, p[n_images // 2:]].mean(1)))
    h = args.draws // 2
    print(f"tau between two bootstrap samples of the {n_images} images: {np.mean(boot):.3f}")
    print(f"tau between two halves of the images: {np.mean(halves):.3f}")
    print(f"tau between draws 0-{h - 1} and {h}-{args.draws - 1}: "
          f"{_tau(correct[:, :h].mean((1, 2)), correct[:, h:].mean((1, 2))):.3f}")
    if args.cv:
        from predictor_quality import cross_validate, cv_folds, saved_recipe, table_features

        from cimpipe.predictor import PredictorSettings

        full, sets, trends = table_features(args.workload, None)
        full = full.with_row_index("_i").filter(pl.col("config_id").is_in(ids)).sort("config_id")
        keep = full["_i"].to_numpy()
        x = sets["space+xbar"][keep]
        others, folds = cv_folds(full, 5)
        recipe = saved_recipe(PredictorSettings(), trends)
        subsets = {f"{m} images": rng.permutation(n_images)[:m] for m in (n_images // 2, 3 * n_images // 4)}
        subsets[f"{n_images} images"] = np.arange(n_images)
        for name, cols in subsets.items():
            y = per_image[:, cols].mean(1)
            cv = cross_validate(recipe, x, y, folds)
            print(f"predictor recipe, five-fold CV tau on labels from {name} ({args.draws} draws): "
                  f"{_tau(cv[others], y[others]):.3f}")
        y = full["accuracy"].to_numpy()
        cv = cross_validate(recipe, x, y, folds)
        print(f"predictor recipe, five-fold CV tau on the table's labels: {_tau(cv[others], y[others]):.3f}")


if __name__ == "__main__":
    main()
