"""Hypervolume against evaluations: our default optimizer against Nevergrad, pymoo and Optuna baselines.

Objective: the demo workload's space (elastic VGG on 8x8 digits, rram_22nm + sram_22nm) with the real
hardware model (``cimpipe.hw`` characterization + evaluator). Accuracy: the fitted predictor at
``results/demo/predictor.pt`` (or ``--predictor PATH``) when it exists; otherwise an analytic proxy (stated
in the output) that falls with fewer bits, narrower layers and coarser ADCs -- a stand-in for the benchmark
only, never used by the package.

Every method gets the same budget and seeds; HV is computed the same way for all: moocore on losses
normalized by one fixed sample of 5000 random designs, reference point 1.1, over every feasible design the
method evaluated so far. Optuna (its default multi-objective sampler, TPE in optuna 5) is capped at
``--optuna-cap`` evaluations because its cost per trial grows with the trials it has seen: on this 2-core
machine one seed took 1420 s for 3000 evaluations, the last hundreds at about 0.75 s each, which puts 10^4
at hours per seed. Every seed's figures are printed as it finishes.

    python bench/search_quality.py --budget 10000 --seeds 5
    python bench/search_quality.py --budget 10000 --seeds 5 --first-seed 5   # fresh seeds
    python bench/search_quality.py --methods nsga_de,optuna --optuna-cap 3000 --checkpoints 1000,2000,3000,10000
    python bench/search_quality.py --vgg16-speed        # wall time of 10^5 evaluations of the VGG-16 space
    python bench/search_quality.py --vgg16-speed --per-layer-adc   # ... with one ADC resolution per layer

The speed mode builds config.yaml's vgg16 space (Tiny-ImageNet 64x64x3, 200 classes, both configured
technologies, the full hardware space) with the real hardware model and a real ``Predictor`` (the default
5 x [128, 128] ensemble) fitted for a few epochs on a fabricated 300-row accuracy table (the fit quality
does not matter for speed; its cost per query does), and runs the default optimizer for 10^5 evaluations
on one torch thread.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from cimpipe.hw.characterize import HardwareGrid
from cimpipe.hw.evaluate import Evaluator
from cimpipe.hw.technology import builtin_technologies
from cimpipe.pareto import Normalizer, ParetoArchive
from cimpipe.search import DEFAULT_OBJECTIVES, PENALTY, Objective, SearchSettings, search
from cimpipe.space import DeviceSummary, HardwareSpace, SearchSpace, VGGSpec

warnings.filterwarnings("ignore")
CHECKPOINTS = (1000, 10000, 100000)


class ProxyAccuracy:
    """Benchmark-only accuracy proxy (used when no fitted predictor exists)."""

    def __init__(self, space: SearchSpace):
        self.space = space
        names = [g.name for g in space.arch_genes]
        self.bits = [i for i, n in enumerate(names) if n.startswith(("wbits", "abits"))]
        self.width = [i for i, n in enumerate(names) if n.startswith("width")]
        self.depth = [i for i, n in enumerate(names) if n.startswith("depth")]

    def predict(self, arch, cim):
        b = arch[:, self.bits]
        acc = (0.97 - 0.25 * np.mean(1.0 / b ** 2, 1) * 4 - 0.5 * (1 / np.min(b, 1) ** 3)
               - 0.08 * (1 - arch[:, self.width].mean(1)) - 0.015 * (4 - arch[:, self.depth].sum(1))
               - 0.4 / 2 ** (cim[:, 0] - 2) * np.log2(cim[:, 2]) / 8 - 0.02 * (cim[:, 1] - 1) - 0.5 * cim[:, 3])
        return np.clip(acc, 0.05, 1.0), np.zeros(len(acc))


def demo_space() -> SearchSpace:
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((32, 32), (64, 64)), fc=(128,),
                   min_depth=(1, 1), width_ratios=(0.5, 0.75, 1.0), kernel_choices=(3,),
                   bit_choices=(2, 3, 4, 5, 6, 7, 8))
    techs = builtin_technologies()
    hs = HardwareSpace(technologies=("rram_22nm", "sram_22nm"))
    devices = {n: DeviceSummary(float(getattr(techs[n].device, "sigma", 0.0)),
                                float(min(getattr(techs[n].device, "on_off_ratio", 1e6), 1e6)),
                                int(getattr(techs[n].device, "max_cell_bits", 1))) for n in hs.technologies}
    return SearchSpace(spec, hs, devices)


def demo_objective(space: SearchSpace, predictor: Path = Path("results/demo/predictor.pt")) -> tuple[Objective, str]:
    techs = builtin_technologies()
    h = space.hardware
    grid = HardwareGrid(subarray=h.subarray, rows_parallel=h.rows_parallel, col_mux=h.col_mux, adc_bits=h.adc_bits,
                        adc_type=h.adc_type, cell_bits=h.cell_bits)
    evaluators = {n: Evaluator.for_grid(techs[n], grid) for n in h.technologies}
    path = Path(predictor)
    if path.is_file():
        from cimpipe.predictor import Predictor
        return Objective(space, Predictor.load(path, space), evaluators), f"fitted predictor {path}"
    return Objective(space, ProxyAccuracy(space), evaluators), f"analytic accuracy proxy (no {path})"


class Logger:
    """Evaluates gene batches, keeps the HV of everything seen at the checkpoints."""

    def __init__(self, objective: Objective, norm: Normalizer, checkpoints: list[int]):
        self.objective, self.norm = objective, norm
        self.archive = ParetoArchive(len(DEFAULT_OBJECTIVES))
        self.n, self.hv, self.checkpoints = 0, {}, checkpoints

    def __call__(self, genes: np.ndarray):
        b = self.objective(genes)
        nl = self.norm(b.losses(DEFAULT_OBJECTIVES))
        start = self.n
        cuts = sorted({0, len(genes), *(c - start for c in self.checkpoints if start < c <= start + len(genes))})
        for lo, hi in zip(cuts[:-1], cuts[1:]):  # a checkpoint falls exactly on its evaluation count
            f = b.feasible[lo:hi]
            self.archive.add(nl[lo:hi][f], start + np.arange(lo, hi)[f])
            if start + hi in self.checkpoints:
                self.hv[start + hi] = self.archive.hypervolume()
        self.n += len(genes)
        return b, nl


def run_ours(space, objective, norm, optimizer, budget, seed, batch, cps, **settings):
    log = Logger(objective, norm, cps)
    s = SearchSettings(optimizer=optimizer, budget=budget, batch=batch, seed=seed, **settings)
    search(space, lambda g: log(g)[0], s, normalizer=norm)
    return log.hv


def run_nsga2(space, objective, norm, budget, seed, batch, cps):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    log = Logger(objective, norm, cps)
    card = space.cardinalities()

    class P(Problem):
        def __init__(self):
            super().__init__(n_var=space.n_genes, n_obj=len(DEFAULT_OBJECTIVES), xl=np.zeros(space.n_genes),
                             xu=(card - 1).astype(float), vtype=int)

        def _evaluate(self, x, out, *a, **k):
            genes = np.clip(np.round(x).astype(np.int64), 0, card - 1)
            b, nl = log(genes)
            out["F"] = np.nan_to_num(nl, nan=PENALTY) + np.where(b.feasible, 0.0, PENALTY)[:, None]

    alg = NSGA2(pop_size=batch, sampling=IntegerRandomSampling(),
                crossover=SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                mutation=PM(eta=3.0, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True)
    minimize(P(), alg, ("n_eval", budget), seed=seed, verbose=False)
    return log.hv


def run_optuna(space, objective, norm, budget, seed, batch, cps):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    log = Logger(objective, norm, cps)
    study = optuna.create_study(directions=["minimize"] * len(DEFAULT_OBJECTIVES),
                                sampler=optuna.samplers.TPESampler(seed=seed))
    card = space.cardinalities()
    done = 0
    while done < budget:
        n = min(batch, budget - done)
        trials = [study.ask() for _ in range(n)]
        genes = np.array([[t.suggest_int(g.name, 0, int(c) - 1) for g, c in zip(space.genes, card)] for t in trials])
        b, nl = log(genes)
        f = np.nan_to_num(nl, nan=PENALTY) + np.where(b.feasible, 0.0, PENALTY)[:, None]
        for t, row in zip(trials, f):
            study.tell(t, [float(v) for v in row])
        done += n
    return log.hv


def vgg16_speed(budget: int, batch: int, per_layer: tuple[str, ...] = ()) -> None:
    import tempfile

    import polars as pl
    import torch
    import yaml

    from cimpipe.accuracy import sample_configurations
    from cimpipe.hw.technology import load_technologies
    from cimpipe.predictor import Predictor, PredictorSettings, fit_predictor

    torch.set_num_threads(1)
    cfg = yaml.safe_load(Path("config.yaml").read_text())
    arch = cfg["workloads"]["vgg16"]["arch"]
    spec = VGGSpec(in_channels=3, image_size=64, num_classes=200, stages=tuple(tuple(s) for s in arch["stages"]),
                   fc=tuple(arch["fc"]), min_depth=tuple(arch["min_depth"]), width_ratios=tuple(arch["width_ratios"]),
                   kernel_choices=tuple(arch["kernel_choices"]), bit_choices=tuple(arch["bit_choices"]))
    hcfg = cfg["hardware_space"]
    techs = load_technologies(cfg["technologies"])
    hs = HardwareSpace(technologies=("rram_22nm", "sram_22nm"),
                       **{k: tuple(v) for k, v in hcfg.items() if k != "per_layer"}, per_layer=per_layer)
    devices = {n: DeviceSummary(float(getattr(techs[n].device, "sigma", 0.0)),
                                float(min(getattr(techs[n].device, "on_off_ratio", 1e6), 1e6)),
                                int(getattr(techs[n].device, "max_cell_bits", 1))) for n in hs.technologies}
    space = SearchSpace(spec, hs, devices)
    t0 = time.perf_counter()
    grid = HardwareGrid(subarray=hs.subarray, rows_parallel=hs.rows_parallel, col_mux=hs.col_mux,
                        adc_bits=hs.adc_bits, adc_type=hs.adc_type, cell_bits=hs.cell_bits)
    evaluators = {n: Evaluator.for_grid(techs[n], grid) for n in hs.technologies}
    t_hw = time.perf_counter() - t0
    table = sample_configurations(space, 300, seed=0)
    wb = table.select(pl.col("^wbits_.*$")).to_numpy().mean(1)
    table = table.with_columns(pl.Series("accuracy", np.clip(0.7 - 0.3 * np.exp(-(wb - 2)), 0.0, 1.0)))
    with tempfile.TemporaryDirectory() as tmp:
        fit_predictor(table, space, PredictorSettings(epochs=3, holdout=0.0), f"{tmp}/p.pt", f"{tmp}/m.json")
        predictor = Predictor.load(f"{tmp}/p.pt", space)
    objective = Objective(space, predictor, evaluators)
    timing = {"objective": 0.0}

    def timed(genes):
        t = time.perf_counter()
        out = objective(genes)
        timing["objective"] += time.perf_counter() - t
        return out

    print(f"vgg16 space{' (ADC bits per layer)' if per_layer else ''}: {space.n_genes} genes, "
          f"10^{space.log10_size():.1f} designs; hw characterization "
          f"{t_hw:.1f} s (both technologies, not part of the search)")
    settings = SearchSettings(budget=budget, batch=batch, seed=0)
    t0 = time.perf_counter()
    result = search(space, timed, settings)
    wall = time.perf_counter() - t0
    print(f"{settings.optimizer} (population {settings.population}, batch {batch}): {budget} evaluations in "
          f"{wall:.1f} s; objective {timing['objective']:.1f} s, search overhead {wall - timing['objective']:.1f} s; "
          f"final HV {result.hypervolume[-1]:.4f}, archive {len(result.front_rows)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=int, default=10000)
    ap.add_argument("--seeds", type=int, default=5, help="seeds per method")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run from this one up (fresh seeds: a new range)")
    ap.add_argument("--predictor", type=Path, default=Path("results/demo/predictor.pt"),
                    help="the demo workload's fitted predictor (the analytic proxy stands in when it is missing)")
    ap.add_argument("--batch", type=int, default=SearchSettings.batch)
    ap.add_argument("--optuna-cap", type=int, default=1000)
    ap.add_argument("--checkpoints", default=",".join(str(c) for c in CHECKPOINTS),
                    help="evaluation counts at which the hypervolume is reported")
    ap.add_argument("--population", type=int, default=SearchSettings.population, help="nsga_de's population")
    ap.add_argument("--de-share", type=float, default=SearchSettings.de_share,
                    help="share of nsga_de's offspring asked from Nevergrad's DE")
    ap.add_argument("--methods", default=f"{SearchSettings.optimizer},DE,TwoPointsDE,RandomSearch,nsga2,optuna")
    ap.add_argument("--vgg16-speed", action="store_true", help="time 10^5 evaluations of the VGG-16 space instead")
    ap.add_argument("--per-layer-adc", action="store_true",
                    help="with --vgg16-speed: every weight layer chooses its own ADC resolution")
    args = ap.parse_args()
    if args.vgg16_speed:
        vgg16_speed(100000, args.batch, ("adc_bits",) if args.per_layer_adc else ())
        return
    space = demo_space()
    objective, acc_source = demo_objective(space, args.predictor)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"demo space: {space.n_genes} genes, 10^{space.log10_size():.1f} designs; accuracy from {acc_source}; "
          f"seeds {seeds.start}..{seeds.stop - 1}")
    sample = objective(space.random_genes(np.random.default_rng(12345), 5000))
    norm = Normalizer.from_losses(sample.losses(DEFAULT_OBJECTIVES)[sample.hw_feasible])
    cps = [c for c in sorted(int(c) for c in args.checkpoints.split(",")) if c <= args.budget]
    rows = []
    for method in args.methods.split(","):
        budget = min(args.budget, args.optuna_cap) if method == "optuna" else args.budget
        mcps = [c for c in cps if c <= budget]
        hvs, walls = {c: [] for c in mcps}, []
        for seed in seeds:
            t0 = time.perf_counter()
            if method == "nsga2":
                hv = run_nsga2(space, objective, norm, budget, seed, 100, mcps)
            elif method == "optuna":
                hv = run_optuna(space, objective, norm, budget, seed, 100, mcps)
            else:
                extra = {"population": args.population, "de_share": args.de_share} if method == "nsga_de" else {}
                hv = run_ours(space, objective, norm, method, budget, seed, args.batch, mcps, **extra)
            walls.append(time.perf_counter() - t0)
            for c in mcps:
                hvs[c].append(hv[c])
            print(f"  {method} seed {seed}: " + " ".join(f"HV@{c} {hv[c]:.4f}" for c in mcps)
                  + f"  wall {walls[-1]:.1f} s", flush=True)
        tuned = (args.population, args.de_share) != (SearchSettings.population, SearchSettings.de_share)
        name = method
        if method == SearchSettings.optimizer:
            name += f" (population {args.population}, de_share {args.de_share})" if tuned else " (default)"
        cells = [f"{statistics.median(hvs[c]):.4f}" if c in hvs else "-" for c in cps]
        rows.append((name, cells, statistics.median(walls), budget))
        print(f"{name:18s} " + " ".join(f"{x:>8s}" for x in cells) + f"  wall {statistics.median(walls):7.1f} s"
              f" ({budget} evals)", flush=True)
    print("\n| method | " + " | ".join(f"HV@{c}" for c in cps) + " | median wall (s) | evals |")
    print("|---|" + "---|" * (len(cps) + 2))
    for name, cells, wall, budget in rows:
        print(f"| {name} | " + " | ".join(cells) + f" | {wall:.1f} | {budget} |")


if __name__ == "__main__":
    main()
