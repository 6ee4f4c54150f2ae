"""How a front's energies move once the hardware model follows the network's own data statistics.

Scores the designs of a published front twice with the search's objective (the workload's predictor, supernet
and ``hw_cost`` tables, config.yaml's search slice): once with the per-layer input bit densities and stored
cell levels the predictor file carries (what the search uses), once with the hardware model's defaults (input
bit density 0.5, cell level 0.5, NeuroSim's defaults). Prints the energy change per technology and sign
encoding (median, range), how many designs the defaults would have kept on the front, and the statistics
themselves.

    python bench/statistics_effect.py                       # results/pareto_demo.parquet
    python bench/statistics_effect.py --workload vgg8_cpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl

from cimpipe.config import grid_section, load_config, search_technologies
from cimpipe.design import Design
from cimpipe.pareto import non_dominated
from cimpipe.search import SearchInputs
from cimpipe.search.objective import Objective


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="demo")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--results", default="results")
    args = ap.parse_args()
    config = load_config(args.config)
    res = Path(args.results)
    techs = search_technologies(config)
    settings = {"search": config["workloads"][args.workload]["search"], "hardware_space": grid_section(config),
                "technologies": {t: config["technologies"][t] for t in techs}}
    inputs = SearchInputs.load(res / args.workload / "predictor.pt", res / args.workload / "supernet.pt",
                               [res / "hwcost" / f"{t}.parquet" for t in techs], settings)
    space, with_stats = inputs.space, inputs.objective
    if with_stats.statistics is None:
        raise SystemExit("the predictor file carries no data statistics (refit it with this version)")
    defaults = Objective(space, with_stats.predictor, with_stats.evaluators, with_stats.objectives,
                         with_stats.constraints)
    defaults.statistics = None
    front = pl.read_parquet(res / f"pareto_{args.workload}.parquet")
    designs = [_design(t) for t in front["design_json"]]
    genes = np.stack([space.encode(d) for d in designs])
    a, b = with_stats(genes), defaults(genes)
    e_stats, e_default = a.metrics["energy_uj"], b.metrics["energy_uj"]
    change = e_stats / e_default - 1.0
    tech = [d.hardware.technology for d in designs]
    enc = [d.hardware.sign_encoding for d in designs]
    print(f"{args.workload}: {len(designs)} front designs; energy with the network's statistics against the "
          f"model's defaults (input bit density 0.5, cell level 0.5)")
    for t in sorted(set(tech)):
        for e in sorted(set(enc)):
            rows = [i for i in range(len(designs)) if tech[i] == t and enc[i] == e]
            if rows:
                c = 100 * change[rows]
                print(f"  {t:12s} {e:12s} {len(rows):4d} designs: median {np.median(c):+6.1f} %, "
                      f"range {c.min():+6.1f} .. {c.max():+6.1f} %")
    print(f"  all: median {100 * np.median(change):+.1f} %")
    acc = front["accuracy"].to_numpy()
    print("  the front's sign encodings (designs, accuracy range, energy range in uJ):")
    for t in sorted(set(tech)):
        for e in sorted(set(enc)):
            rows = [i for i in range(len(designs)) if tech[i] == t and enc[i] == e]
            if rows:
                lo, hi = 100 * acc[rows].min(), 100 * acc[rows].max()
                print(f"    {t:12s} {e:12s} {len(rows):4d}: accuracy {lo:5.1f}-{hi:5.1f} %, "
                      f"energy {e_stats[rows].min():.4g}-{e_stats[rows].max():.4g}")
    losses = np.stack([-a.accuracy, b.metrics["energy_uj"], b.metrics["latency_ms"], b.metrics["area_mm2"]], axis=1)
    kept = np.arange(len(designs))[non_dominated(losses)]
    print(f"  on the defaults' numbers, {len(kept)} of {len(designs)} of these designs stay mutually non-dominated")
    s = with_stats.statistics
    print("  input bit density by layer slot (rows) and activation bits " + str(list(s.bit_choices)) + ":")
    for slot, row in enumerate(s.input_density):
        print(f"    slot {slot}: " + " ".join(f"{v:.3f}" for v in row))


def _design(text: str) -> Design:
    from cimpipe.families import SubnetConfig
    from cimpipe.space import HardwareConfig

    d = json.loads(text)
    return Design(SubnetConfig.from_dict(d["subnet"]), HardwareConfig(**d["hardware"]))


if __name__ == "__main__":
    main()
