"""Hypervolume at equal wall time and at equal evaluations: the default optimizer against honest baselines.

Spaces (``--space``)
    ``demo``: the demo workload's space (elastic VGG on 8x8 digits, rram_22nm + sram_22nm) with the real
    hardware model and the fitted predictor at ``--predictor`` (default ``results/demo/predictor.pt``;
    without it an analytic proxy, stated in the output, that falls with fewer bits, narrower layers and
    coarser ADCs -- a stand-in for the benchmark only). ``vgg16``: config.yaml's vgg16 space (Tiny-ImageNet
    64x64x3, both configured technologies, the full hardware space) with the real hardware model and a
    real ``Predictor`` (the default ensemble) fitted for a few epochs on a fabricated 300-row table; its
    fit does not matter here, its cost per query does.

The score
    Every method's evaluations go through one recorder: the hypervolume (moocore) of every feasible design
    the method evaluated so far, on losses normalized by one fixed sample of 5000 uniformly random designs,
    reference point 1.1. A run goes on to the longest budget (``--limit``) and is scored at each checkpoint
    of its own clock (``--checkpoints``, seconds: wall time from its start, less the recorder's
    bookkeeping, so the objective and the method's own work both count) and at ``--equal-evals``
    evaluations. A batch counts at a checkpoint only if it finished by then. One torch thread; methods and
    seeds run one after another; each (method, seed) is saved to a JSON cache as it ends (``--cache``), so an
    interrupted measurement resumes and the table is printed from the cache (``--table``).

The methods, each run as its library intends
    ``nsga2`` (cimpipe's default), ``nsga2_crowding`` (the same with NSGA-II's crowding distance in place of
    the hypervolume cut) and ``nsga_de`` (the former default: NSGA-II with Nevergrad's DE for a quarter of
    the offspring), through ``cimpipe.search.search`` with default settings otherwise.
    ``random``: uniform random designs (every gene uniform over its choices), 1000 per batch.
    ``pymoo_nsga2`` and ``pymoo_smsemoa``: pymoo's NSGA-II and SMS-EMOA (hypervolume-contribution survival),
    population 100 (pymoo's default), integer random sampling, SBX and polynomial mutation (eta 3, rounded
    to integers), duplicates eliminated; infeasible designs carry a penalty of 10 on every objective.
    ``optuna``: ``study.optimize`` with Optuna's default sampler (``TPESampler``, seeded), one trial per
    objective call, infeasible designs told through the sampler's ``constraints_func``.
    ``hyperopt``: ``fmin`` with ``tpe.suggest``, one evaluation per call, every gene an ``hp.choice``.
    Hyperopt is single-objective; the MO-NAS-for-IMC study (Amin, Mohammadi and Zand 2024) searches with
    Hyperopt's TPE on a ratio of accuracy to one hardware cost (accuracy/latency, accuracy/energy). With
    our four objectives the ratio is accuracy over the energy-delay-area product, minimized as
    ``log10(energy * latency * area) - log10(accuracy)``; infeasible designs return ``STATUS_FAIL``. Its
    hypervolume, like every method's, is that of all feasible designs it evaluated.
    The sequential methods (Optuna, Hyperopt) pay the objective's fixed cost per call (about 30 ms on the
    demo's fitted predictor) once per design; that is how those libraries are meant to be driven.

    python bench/search_quality.py --space demo --predictor results/demo/predictor.pt --seeds 5
    python bench/search_quality.py --space vgg16 --seeds 5 --methods nsga2,pymoo_nsga2
    python bench/search_quality.py --space demo --table          # the table from the cache only
    python bench/search_quality.py --vgg16-speed                 # wall time of 10^5 evaluations of VGG-16
    python bench/search_quality.py --vgg16-speed --per-layer-adc # ... with one ADC resolution per layer
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from cimpipe.hw.characterize import HardwareGrid
from cimpipe.hw.evaluate import Evaluator
from cimpipe.hw.technology import builtin_technologies
from cimpipe.pareto import Normalizer, ParetoArchive
from cimpipe.search import DEFAULT_OBJECTIVES, PENALTY, Objective, SearchSettings, search
from cimpipe.space import DeviceSummary, HardwareSpace, SearchSpace, VGGSpec

warnings.filterwarnings("ignore")
METHODS = ("nsga2", "nsga2_crowding", "nsga_de", "random", "pymoo_nsga2", "pymoo_smsemoa", "optuna", "hyperopt")
CHECKPOINTS_S = (10.0, 30.0, 60.0, 90.0)
EQUAL_EVALS = 10000


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


def _devices(techs, names) -> dict[str, DeviceSummary]:
    return {n: DeviceSummary(float(getattr(techs[n].device, "sigma", 0.0)),
                             float(min(getattr(techs[n].device, "on_off_ratio", 1e6), 1e6)),
                             int(getattr(techs[n].device, "max_cell_bits", 1))) for n in names}


def _evaluators(techs, hs: HardwareSpace) -> dict[str, Evaluator]:
    grid = HardwareGrid(subarray=hs.subarray, rows_parallel=hs.rows_parallel, col_mux=hs.col_mux,
                        adc_bits=hs.adc_bits, adc_type=hs.adc_type, cell_bits=hs.cell_bits)
    return {n: Evaluator.for_grid(techs[n], grid) for n in hs.technologies}


def demo_space() -> SearchSpace:
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((32, 32), (64, 64)), fc=(128,),
                   min_depth=(1, 1), width_ratios=(0.5, 0.75, 1.0), kernel_choices=(3,),
                   bit_choices=(2, 3, 4, 5, 6, 7, 8))
    hs = HardwareSpace(technologies=("rram_22nm", "sram_22nm"))
    return SearchSpace(spec, hs, _devices(builtin_technologies(), hs.technologies))


def demo_objective(space: SearchSpace, predictor: Path = Path("results/demo/predictor.pt")) -> tuple[Objective, str]:
    evaluators = _evaluators(builtin_technologies(), space.hardware)
    path = Path(predictor)
    if path.is_file():
        from cimpipe.predictor import Predictor
        return Objective(space, Predictor.load(path, space), evaluators), f"fitted predictor {path}"
    return Objective(space, ProxyAccuracy(space), evaluators), f"analytic accuracy proxy (no {path})"


def vgg16_objective(per_layer: tuple[str, ...] = ()) -> tuple[SearchSpace, Objective, str]:
    """config.yaml's vgg16 space, the real hardware model and a real predictor fitted on a fabricated table."""
    import tempfile

    import polars as pl
    import yaml

    from cimpipe.accuracy import sample_configurations
    from cimpipe.hw.technology import load_technologies
    from cimpipe.predictor import Predictor, PredictorSettings, fit_predictor

    cfg = yaml.safe_load(Path("config.yaml").read_text())
    arch = cfg["workloads"]["vgg16"]["arch"]
    spec = VGGSpec(in_channels=3, image_size=64, num_classes=200, stages=tuple(tuple(s) for s in arch["stages"]),
                   fc=tuple(arch["fc"]), min_depth=tuple(arch["min_depth"]), width_ratios=tuple(arch["width_ratios"]),
                   kernel_choices=tuple(arch["kernel_choices"]), bit_choices=tuple(arch["bit_choices"]))
    hcfg = cfg["hardware_space"]
    techs = load_technologies(cfg["technologies"])
    hs = HardwareSpace(technologies=("rram_22nm", "sram_22nm"),
                       **{k: tuple(v) for k, v in hcfg.items() if k != "per_layer"}, per_layer=per_layer)
    space = SearchSpace(spec, hs, _devices(techs, hs.technologies))
    t0 = time.perf_counter()
    evaluators = _evaluators(techs, hs)
    t_hw = time.perf_counter() - t0
    table = sample_configurations(space, 300, seed=0)
    wb = table.select(pl.col("^wbits_.*$")).to_numpy().mean(1)
    table = table.with_columns(pl.Series("accuracy", np.clip(0.7 - 0.3 * np.exp(-(wb - 2)), 0.0, 1.0)))
    with tempfile.TemporaryDirectory() as tmp:
        fit_predictor(table, space, PredictorSettings(epochs=3, holdout=0.0), f"{tmp}/p.pt", f"{tmp}/m.json")
        predictor = Predictor.load(f"{tmp}/p.pt", space)
    note = (f"hw characterization {t_hw:.1f} s (both technologies, not part of the search); accuracy from a "
            "Predictor fitted on a fabricated 300-row table")
    return space, Objective(space, predictor, evaluators), note


class OutOfTime(Exception):
    """Raised by the recorder once a run's clock passes its limit (it ends every library's loop alike)."""


@dataclass
class Recorder:
    """The objective as every method sees it, keeping what the score needs: each batch's end on the
    method's clock, its size and its feasible designs' normalized losses."""

    objective: Objective
    norm: Normalizer
    limit_s: float
    start: float = field(default_factory=time.perf_counter)
    own_s: float = 0.0
    objective_s: float = 0.0
    n: int = 0
    ends: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    feasible: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)

    def clock(self) -> float:
        return time.perf_counter() - self.start - self.own_s

    def __call__(self, genes: np.ndarray):
        if self.clock() > self.limit_s:
            raise OutOfTime
        t = time.perf_counter()
        b = self.objective(np.asarray(genes, dtype=np.int64))
        nl = self.norm(b.losses(DEFAULT_OBJECTIVES))
        t_end = time.perf_counter()
        self.objective_s += t_end - t
        keep = b.feasible & np.all(np.isfinite(nl), axis=1)
        self.ends.append(t_end - self.start - self.own_s)
        self.counts.append(len(genes))
        self.feasible.append(nl[keep])
        self.rows.append(self.n + np.flatnonzero(keep))
        self.n += len(genes)
        self.own_s += time.perf_counter() - t_end
        return b, nl

    def score(self, checkpoints_s: tuple[float, ...], equal_evals: int) -> dict:
        """HV at each checkpoint time and at ``equal_evals`` evaluations (or at the last one, if fewer)."""
        ends = np.asarray(self.ends)
        cum = np.cumsum(self.counts) if self.counts else np.zeros(0, dtype=np.int64)
        points = np.vstack(self.feasible) if self.feasible else np.zeros((0, len(DEFAULT_OBJECTIVES)))
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, dtype=np.int64)
        batch_of_row = np.repeat(np.arange(len(self.counts)), [len(r) for r in self.rows])
        out: dict = {"evaluations": int(self.n), "objective_share": self.objective_s / max(ends[-1], 1e-9) if len(ends) else 0.0,
                     "hv_at_s": {}, "evals_at_s": {}}
        archive, taken = ParetoArchive(points.shape[1]), 0
        for t in sorted(checkpoints_s):
            done = int(np.searchsorted(ends, t, side="right"))  # batches finished by t
            upto = int(np.searchsorted(batch_of_row, done, side="left"))
            archive.add(points[taken:upto], rows[taken:upto])
            taken = upto
            out["hv_at_s"][f"{t:g}"] = archive.hypervolume()
            out["evals_at_s"][f"{t:g}"] = int(cum[done - 1]) if done else 0
        reached = min(equal_evals, self.n)
        archive = ParetoArchive(points.shape[1])
        sel = rows < reached
        archive.add(points[sel], rows[sel])
        out["hv_at_evals"], out["evals_for_hv_at_evals"] = archive.hypervolume(), int(reached)
        out["time_at_evals"] = float(ends[np.searchsorted(cum, reached)]) if reached and reached <= cum[-1] else None
        return out


def run_ours(optimizer: str, **options) -> Callable:
    def run(space: SearchSpace, rec: Recorder, seed: int) -> None:
        settings = SearchSettings(optimizer=optimizer, budget=10**9, seed=seed, **options)
        search(space, lambda g: rec(g)[0], settings, normalizer=rec.norm)
    return run


def run_random(space: SearchSpace, rec: Recorder, seed: int) -> None:
    rng = np.random.default_rng(seed)
    while True:
        rec(space.random_genes(rng, 1000))


def run_pymoo(algorithm: str) -> Callable:
    def run(space: SearchSpace, rec: Recorder, seed: int) -> None:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.algorithms.moo.sms import SMSEMOA
        from pymoo.core.problem import Problem
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling
        from pymoo.optimize import minimize

        card = space.cardinalities()

        class P(Problem):
            def __init__(self):
                super().__init__(n_var=space.n_genes, n_obj=len(DEFAULT_OBJECTIVES), xl=np.zeros(space.n_genes),
                                 xu=(card - 1).astype(float), vtype=int)

            def _evaluate(self, x, out, *a, **k):
                b, nl = rec(np.clip(np.round(x).astype(np.int64), 0, card - 1))
                out["F"] = np.nan_to_num(nl, nan=PENALTY) + np.where(b.feasible, 0.0, PENALTY)[:, None]

        cls = {"nsga2": NSGA2, "smsemoa": SMSEMOA}[algorithm]
        alg = cls(pop_size=100, sampling=IntegerRandomSampling(),
                  crossover=SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                  mutation=PM(eta=3.0, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True)
        minimize(P(), alg, ("n_eval", 10**9), seed=seed, verbose=False)
    return run


def run_optuna(space: SearchSpace, rec: Recorder, seed: int) -> None:
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    card = space.cardinalities()

    def objective(trial):
        genes = np.array([[trial.suggest_int(g.name, 0, int(c) - 1) for g, c in zip(space.genes, card)]])
        b, nl = rec(genes)
        trial.set_user_attr("violation", 0.0 if b.feasible[0] else 1.0 + float(min(b.violation[0], 1e3)))
        return [float(v) for v in np.nan_to_num(nl[0], nan=PENALTY)]

    sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=lambda t: (t.user_attrs["violation"],))
    study = optuna.create_study(directions=["minimize"] * len(DEFAULT_OBJECTIVES), sampler=sampler)
    study.optimize(objective, n_trials=10**9, catch=())


def run_hyperopt(space: SearchSpace, rec: Recorder, seed: int) -> None:
    from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, hp, tpe

    card = space.cardinalities()
    names = [g.name for g in space.genes]
    domain = {n: hp.choice(n, list(range(int(c)))) for n, c in zip(names, card)}

    def objective(params):
        b, _ = rec(np.array([[params[n] for n in names]]))
        if not b.feasible[0]:
            return {"status": STATUS_FAIL}
        m = b.metrics
        loss = (np.log10(m["energy_uj"][0] * m["latency_ms"][0] * m["area_mm2"][0]) - np.log10(max(b.accuracy[0], 1e-6)))
        return {"loss": float(loss), "status": STATUS_OK}

    fmin(objective, domain, algo=tpe.suggest, max_evals=10**9, trials=Trials(), rstate=np.random.default_rng(seed),
         show_progressbar=False)


RUNNERS: dict[str, Callable] = {
    "nsga2": run_ours("nsga2"), "nsga2_crowding": run_ours("nsga2", survival="crowding"),
    "nsga_de": run_ours("nsga_de"), "random": run_random,
    "pymoo_nsga2": run_pymoo("nsga2"), "pymoo_smsemoa": run_pymoo("smsemoa"), "optuna": run_optuna,
    "hyperopt": run_hyperopt,
}


def run_one(method: str, space: SearchSpace, objective: Objective, norm: Normalizer, seed: int, limit_s: float,
            checkpoints_s: tuple[float, ...], equal_evals: int) -> dict:
    rec = Recorder(objective, norm, limit_s)
    try:
        RUNNERS[method](space, rec, seed)
    except OutOfTime:
        pass
    return {"method": method, "seed": seed, "limit_s": limit_s, **rec.score(checkpoints_s, equal_evals)}


def table(results: dict, methods: list[str], checkpoints_s: tuple[float, ...], equal_evals: int) -> str:
    """The markdown table of medians over seeds, from the cached per-seed results."""
    cols = [f"{t:g}" for t in checkpoints_s]
    lines = ["| method | seeds | " + " | ".join(f"HV@{c} s" for c in cols) + f" | HV@{equal_evals // 1000}k evals"
             " | evals/s | objective share |", "|---|" + "---|" * (len(cols) + 4)]
    for m in methods:
        runs = [r for r in results.values() if r["method"] == m]
        if not runs:
            continue
        cells = []
        for c in cols:
            v = [r["hv_at_s"][c] for r in runs if c in r["hv_at_s"]]
            cells.append(f"{statistics.median(v):.4f}" if v else "-")
        at_evals = statistics.median(r["hv_at_evals"] for r in runs)
        reached = statistics.median(r["evals_for_hv_at_evals"] for r in runs)
        note = "" if reached >= equal_evals else f" (at {reached:.0f} evals)"
        rate = statistics.median(max(r["evals_at_s"].values()) / float(max(r["evals_at_s"], key=float)) for r in runs)
        lines.append(f"| {m} | {len(runs)} | " + " | ".join(cells) + f" | {at_evals:.4f}{note} | {rate:,.0f} | "
                     f"{statistics.median(r['objective_share'] for r in runs):.0%} |")
    return "\n".join(lines)


def head_to_head(results: dict, methods: list[str], checkpoints_s: tuple[float, ...], ours: str = "nsga2") -> str:
    """Per peer, on how many shared seeds ``ours`` scores at least the peer's HV, at each checkpoint and at the
    equal-evaluations mark (the same seed on both sides)."""
    mine = {r["seed"]: r for r in results.values() if r["method"] == ours}
    lines = []
    for m in methods:
        theirs = {r["seed"]: r for r in results.values() if r["method"] == m}
        seeds = sorted(set(mine) & set(theirs))
        if m == ours or not seeds:
            continue
        cells = []
        for c in (f"{t:g}" for t in checkpoints_s):
            both = [s for s in seeds if c in mine[s]["hv_at_s"] and c in theirs[s]["hv_at_s"]]
            if both:
                wins = sum(mine[s]["hv_at_s"][c] >= theirs[s]["hv_at_s"][c] for s in both)
                cells.append(f"{c} s {wins}/{len(both)}")
        wins = sum(mine[s]["hv_at_evals"] >= theirs[s]["hv_at_evals"] for s in seeds)
        cells.append(f"equal evals {wins}/{len(seeds)}")
        lines.append(f"{ours} at or above {m} on seeds: " + ", ".join(cells))
    return "\n".join(lines)


def vgg16_speed(budget: int, batch: int, per_layer: tuple[str, ...] = ()) -> None:
    space, objective, note = vgg16_objective(per_layer)
    timing = {"objective": 0.0}

    def timed(genes):
        t = time.perf_counter()
        out = objective(genes)
        timing["objective"] += time.perf_counter() - t
        return out

    print(f"vgg16 space{' (ADC bits per layer)' if per_layer else ''}: {space.n_genes} genes, "
          f"10^{space.log10_size():.1f} designs; {note}")
    settings = SearchSettings(budget=budget, batch=batch, seed=0)
    t0 = time.perf_counter()
    result = search(space, timed, settings)
    wall = time.perf_counter() - t0
    print(f"{settings.optimizer} (population {settings.population}, first batch {batch}): {budget} evaluations in "
          f"{wall:.1f} s; objective {timing['objective']:.1f} s, search overhead {wall - timing['objective']:.1f} s; "
          f"final HV {result.hypervolume[-1]:.4f}, archive {len(result.front_rows)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", choices=("demo", "vgg16"), default="demo")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per method")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run from this one up (fresh seeds: a new range)")
    ap.add_argument("--predictor", type=Path, default=Path("results/demo/predictor.pt"),
                    help="the demo workload's fitted predictor (the analytic proxy stands in when it is missing)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--checkpoints", default=",".join(f"{t:g}" for t in CHECKPOINTS_S),
                    help="seconds of each run's clock at which the hypervolume is scored")
    ap.add_argument("--limit", default="",
                    help="per-method longest budget in seconds, e.g. 'optuna=60,hyperopt=60' (default: the last "
                         "checkpoint)")
    ap.add_argument("--equal-evals", type=int, default=EQUAL_EVALS)
    ap.add_argument("--cache", type=Path, default=None,
                    help="JSON file of per-seed results (default bench/results/search_quality_{space}.json)")
    ap.add_argument("--table", action="store_true", help="print the table from the cache, run nothing")
    ap.add_argument("--vgg16-speed", action="store_true", help="time 10^5 evaluations of the VGG-16 space instead")
    ap.add_argument("--per-layer-adc", action="store_true",
                    help="with --vgg16-speed: every weight layer chooses its own ADC resolution")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.vgg16_speed:
        vgg16_speed(100000, SearchSettings.batch, ("adc_bits",) if args.per_layer_adc else ())
        return
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown:
        raise SystemExit(f"unknown method {unknown[0]!r}; known: {', '.join(RUNNERS)}")
    checkpoints = tuple(sorted(float(c) for c in args.checkpoints.split(",")))
    limits = {m: checkpoints[-1] for m in methods}
    for item in filter(None, args.limit.split(",")):
        name, value = item.split("=")
        limits[name] = float(value)
    cache = args.cache or Path(f"bench/results/search_quality_{args.space}.json")
    results = json.loads(cache.read_text()) if cache.is_file() else {}
    if args.table:
        print(table(results, methods, checkpoints, args.equal_evals))
        print(head_to_head(results, methods, checkpoints))
        return
    if args.space == "demo":
        space = demo_space()
        objective, note = demo_objective(space, args.predictor)
        note = f"accuracy from {note}"
    else:
        space, objective, note = vgg16_objective()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"{args.space} space: {space.n_genes} genes, 10^{space.log10_size():.1f} designs; {note}; "
          f"seeds {seeds.start}..{seeds.stop - 1}; checkpoints {', '.join(f'{t:g}' for t in checkpoints)} s; "
          f"cache {cache}", flush=True)
    sample = objective(space.random_genes(np.random.default_rng(12345), 5000))
    norm = Normalizer.from_losses(sample.losses(DEFAULT_OBJECTIVES)[sample.hw_feasible])
    for method in methods:
        for seed in seeds:
            key = f"{method}/{seed}"
            if key in results and results[key]["limit_s"] >= limits[method]:
                continue
            mcps = tuple(t for t in checkpoints if t <= limits[method])
            r = run_one(method, space, objective, norm, seed, limits[method], mcps, args.equal_evals)
            results[key] = r
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
            print(f"  {key}: " + " ".join(f"HV@{t}s {v:.4f}" for t, v in r["hv_at_s"].items())
                  + f"  HV@{r['evals_for_hv_at_evals']} evals {r['hv_at_evals']:.4f}; {r['evaluations']} evals, "
                  f"objective {r['objective_share']:.0%} of the time", flush=True)
    print()
    print(table(results, methods, checkpoints, args.equal_evals))
    print(head_to_head(results, methods, checkpoints))


if __name__ == "__main__":
    main()
