"""Start-up time of `cimpipe show`: wall time and peak memory of the whole command printing a front, median of
several runs, each a fresh Python process (goal: under 1 s).

    python bench/show_startup.py [FRONT] [--runs 7]

FRONT defaults to results/pareto_demo.parquet. Also prints which of torch and nevergrad the command imported.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROBE = ("import sys, runpy; sys.argv = ['cimpipe', 'show', {front!r}]; "
         "from cimpipe.cli import main; code = main(); "
         "sys.stderr.write('HEAVY ' + ','.join(m for m in ('torch', 'nevergrad') if m in sys.modules) + '\\n'); "
         "sys.exit(code)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("front", nargs="?", default="results/pareto_demo.parquet")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if not Path(args.front).is_file():
        sys.exit(f"show_startup: the front file {args.front} does not exist (run the demo first or name one)")
    times, heavy = [], ""
    for _ in range(args.runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE.format(front=args.front)], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if out.returncode != 0:
            sys.exit(f"show_startup: cimpipe show failed: {out.stderr.strip()}")
        heavy = next((line[6:] for line in out.stderr.splitlines() if line.startswith("HEAVY ")), "")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = sum(1 for line in out.stdout.splitlines() if line.strip()[:1].isdigit())
    print(f"cimpipe show {args.front}: {rows} rows printed")
    print(f"wall time per run: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
          f"max {max(times):.2f} s over {args.runs} runs (goal < 1 s)")
    print(f"peak memory of a run: {peak_mb:.0f} MB")
    print(f"heavy modules imported: {heavy or 'none (no torch, no nevergrad)'}")


if __name__ == "__main__":
    main()
