"""The hardware model against every stored NeuroSim V1.4 run (tests/data/neurosim, made by neurosim_sweep.py).

    python bench/neurosim_fidelity.py [--runs tests/data/neurosim] [--kind whole|small|all] [--csv out.csv]

Prints, per chip metric (area, latency, dynamic energy, leakage energy, TOPS/W), the mean and max absolute
relative error over all runs, over the held-out fifth (marked in plan.json before anything was fitted), and
split by memory, node, mapping, pipeline mode and bus; then the breakdowns (area and dynamic energy per
NeuroSim bucket, latency per bucket), the exactness of tiles and utilization, and the five worst runs.
Runs at nodes the model has no entry for, or that the model calls infeasible, are counted separately.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from cimpipe.hw.fidelity import AREA_PARTS, ENERGY_PARTS, METRICS, compare, error_summary, load_stored

ROOT = Path(__file__).resolve().parents[1] / "tests" / "data" / "neurosim"


def _stats(df: pl.DataFrame, col: str) -> tuple[int, float, float]:
    n, mean, mx = error_summary(df, [col[4:]])[col[4:]]
    return n, 100 * mean, 100 * mx


def _table(df: pl.DataFrame, title: str, cols: list[str], names: list[str]) -> None:
    print(f"\n{title}")
    print(f"  {'figure':28s} {'n':>4s} {'mean |err| %':>13s} {'max |err| %':>12s}")
    for c, n in zip(cols, names):
        k, mean, mx = _stats(df, c)
        if k:
            print(f"  {n:28s} {k:4d} {mean:13.1f} {mx:12.1f}")


def _split(df: pl.DataFrame, by: str) -> None:
    print(f"\nby {by}: mean |err| % (max) per metric, n")
    print(f"  {by:14s} {'n':>4s} " + " ".join(f"{m:>22s}" for m in METRICS))
    for key in sorted(df[by].unique().to_list(), key=str):
        part = df.filter(pl.col(by) == key)
        cells = []
        for m in METRICS:
            k, mean, mx = _stats(part, f"err_{m}")
            cells.append(f"{mean:9.1f} ({mx:8.1f})" if k else f"{'-':>22s}")
        print(f"  {str(key):14s} {part.height:4d} " + " ".join(f"{c:>22s}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, default=ROOT)
    ap.add_argument("--kind", choices=("whole", "small", "all"), default="whole")
    ap.add_argument("--csv", type=Path, default=None, help="also write the per-run comparison here")
    args = ap.parse_args(argv)
    runs, extra = load_stored(args.runs, args.kind)
    if not runs:
        print(f"no stored runs of kind {args.kind!r} in {args.runs / 'runs'}", file=sys.stderr)
        return 2
    df = compare(runs, extra)
    if args.csv:
        df.write_csv(args.csv)
    n_fail = len(list((args.runs / "failed").glob("*.json"))) if (args.runs / "failed").is_dir() else 0
    ok = df.filter(pl.col("model_feasible"))
    print(f"{len(runs)} stored NeuroSim runs ({args.kind}); NeuroSim refused {n_fail} planned configurations")
    print(f"model: {df.filter(~pl.col('model_covered')).height} at nodes it lacks, "
          f"{df.filter(pl.col('model_covered') & ~pl.col('model_feasible')).height} it calls infeasible, "
          f"{ok.height} compared ({ok.filter(pl.col('model_expresses')).height} whose every knob it expresses)")
    metric_cols = [f"err_{m}" for m in METRICS]
    _table(ok, "all compared runs", metric_cols, list(METRICS))
    _table(ok.filter(pl.col("held_out")), "held-out fifth", metric_cols, list(METRICS))
    _table(ok.filter(pl.col("model_expresses")), "runs whose every knob the model expresses", metric_cols,
           list(METRICS))
    for by in ("memory", "node_nm", "mapping", "pipeline", "bus", "adc_type", "network"):
        _split(ok, by)
    parts = ([f"err_area_{p}_mm2" for p in AREA_PARTS] + [f"err_energy_{p}_pj" for p in ENERGY_PARTS]
             + [f"err_latency_{p}_ns" for p in ("adc", "accumulation", "other", "buffer", "interconnect")]
             + ["err_clock_period_ns"])
    _table(ok, "breakdowns (all compared runs)", parts, [p[4:] for p in parts])
    tiles_exact = ok.filter((pl.col("model_tiles") - pl.col("ns_tiles")).abs() < 0.5).height
    util_exact = ok.filter((pl.col("model_utilization") - pl.col("ns_utilization")).abs() < 1e-4).height
    print(f"\ntiles equal on {tiles_exact}/{ok.height} runs; chip utilization equal (1e-4) on {util_exact}/{ok.height}")
    worst = ok.with_columns(pl.max_horizontal([pl.col(c).abs() for c in metric_cols]).alias("worst"))
    print("\nfive worst runs (largest |err| over the metrics, %):")
    for r in worst.sort("worst", descending=True).head(5).iter_rows(named=True):
        errs = " ".join(f"{m}={100 * r[f'err_{m}']:+.0f}" for m in METRICS if r[f"err_{m}"] is not None)
        print(f"  {r['label']:22s} {r['memory']:5s} {r['node_nm']:>3d}nm {r['mapping']:12s} "
              f"{'pipe' if r['pipeline'] else 'lbl ':4s} {r['adc_type']:5s} {errs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
