"""Run NeuroSim V1.4 on a designed set of configurations and store every run as the project's oracle data.

    python bench/neurosim_sweep.py --neurosim ../shared/neurosim-v1.4 [--jobs 2] [--kind whole|small|all]

The plan is drawn once from a fixed seed and written to ``tests/data/neurosim/plan.json`` before any run, with
the held-out set marked in it: within each network, the configurations are shuffled with a seed of their own
and every fifth one (positions 0, 5, 10, ...) is held out, so the held-out fifth covers every network and is
chosen before anything is fitted. Each finished run is one JSON file in ``tests/data/neurosim/runs/`` (settings,
trace statistics, every figure NeuroSim printed: chip summary, breakdowns, per-layer figures) plus its
gzipped standard output in ``logs/``; a run whose file exists is skipped, so an interrupted sweep resumes. A
run NeuroSim refuses is stored under ``failed/`` with its error sentence and not retried.

Two kinds of configuration:
* ``whole``: whole networks (VGG-8, VGG-16 and ResNet-18 on 32x32 inputs, and two sub-networks of cimpipe's own
  VGG-8 family) over every knob both sides have: memory, node, subarray size, rows read in parallel, ADC bits and
  type, bits per cell, columns per ADC, pipelining, mapping, global bus, Ron and on/off ratio, operand bits and
  input bit density.
* ``small``: two- and three-layer networks, for checking the components one at a time; each runs in seconds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from cimpipe.families import LayerShape
from cimpipe.hw import neurosim as ns

ROOT = Path(__file__).resolve().parents[1] / "tests" / "data" / "neurosim"
PLAN_SEED = 20261203


def _conv(h: int, c_in: int, c_out: int, pool: bool = False, k: int = 3, stride: int = 1) -> LayerShape:
    """A convolution given with its padded input size, as NeuroSim counts vectors."""
    pad = k // 2
    return LayerShape(h + 2 * pad, h + 2 * pad, c_in, k, c_out, pool, stride)


def _fc(c_in: int, c_out: int) -> LayerShape:
    return LayerShape(1, 1, c_in, 1, c_out, False, 1)


def vgg8() -> list[LayerShape]:
    return [_conv(32, 3, 128), _conv(32, 128, 128, True), _conv(16, 128, 256), _conv(16, 256, 256, True),
            _conv(8, 256, 512), _conv(8, 512, 512, True), _fc(8192, 1024), _fc(1024, 10)]


def vgg16() -> list[LayerShape]:
    cfg = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    out, c, h = [], 3, 32
    for width, n in cfg:
        for i in range(n):
            out.append(_conv(h, c, width, pool=i == n - 1))
            c = width
        h //= 2
    return out + [_fc(512, 512), _fc(512, 512), _fc(512, 10)]


def resnet18() -> list[LayerShape]:
    """ResNet-18 for 32x32 inputs: 3x3 stem, four stages of two basic blocks, 1x1 stride-2 shortcuts."""
    out = [_conv(32, 3, 64)]
    c, h = 64, 32
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for b in range(2):
            s = stride if b == 0 else 1
            out.append(_conv(h, c, width, stride=s))
            if s == 2 or c != width:
                out.append(LayerShape(h, h, c, 1, width, False, s))
            h = h // s
            out.append(_conv(h, width, width))
            c = width
    return out + [_fc(512, 10)]


def project_subnets() -> dict[str, list[LayerShape]]:
    """Two members of cimpipe's own VGG-8 family (config.yaml's vgg8 workload), as the hardware model sees them."""
    from cimpipe.families import VGGSpec

    spec = VGGSpec(in_channels=3, image_size=32, num_classes=10, stages=((128, 128), (256, 256), (512, 512)),
                   fc=(1024,), min_depth=(1, 1, 1), width_ratios=(0.25, 0.5, 0.75, 1.0))
    rng = np.random.default_rng(7)
    out = {}
    for name in ("cimpipe_vgg8_a", "cimpipe_vgg8_b"):
        cfg = spec.sample(rng)
        out[name] = spec.layer_shapes(cfg)
    return out


def networks() -> dict[str, list[LayerShape]]:
    return {"vgg8": vgg8(), "vgg16": vgg16(), "resnet18": resnet18(), **project_subnets()}


WHOLE_COUNTS = {"vgg8": 48, "vgg16": 24, "resnet18": 24, "cimpipe_vgg8_a": 12, "cimpipe_vgg8_b": 12}


def _draw_settings(rng: np.random.Generator, small: bool = False) -> tuple[ns.NeuroSimSettings, float]:
    memory = str(rng.choice(["sram", "rram", "fefet"]))
    nodes = ns.NODES_NM if memory == "sram" else tuple(n for n in ns.NODES_NM if n >= 22)
    node = int(rng.choice(nodes))
    sub = int(rng.choice([64, 128, 256]))
    rp = int(rng.choice([r for r in (sub, sub // 2, sub // 4, 16) if 1 <= r <= sub]))
    weight_bits = int(rng.choice([4, 5, 6, 8]))
    cell_bits = 1 if memory == "sram" else int(rng.choice([1, 2]))
    r_on = {"sram": 6e3, "rram": float(np.exp(rng.uniform(np.log(6e3), np.log(3e5)))),
            "fefet": float(np.exp(rng.uniform(np.log(1e5), np.log(5e5))))}[memory]
    s = ns.NeuroSimSettings(
        memory=memory, node_nm=node, cell_bits=cell_bits, adc_bits=int(rng.integers(3, 7)),
        adc_type=str(rng.choice(["flash", "sar"])), col_mux=int(rng.choice([4, 8, 16])),
        subarray_rows=sub, subarray_cols=sub, rows_parallel=rp, pipeline=bool(rng.random() < 0.5),
        mapping=str(rng.choice(["novel", "conventional"])), bus=str(rng.choice(["xy", "htree"])),
        r_on_ohm=round(r_on, -2), on_off_ratio=float(rng.choice([10.0, 17.0, 50.0, 100.0])),
        weight_bits=weight_bits, input_bits=int(rng.choice([4, 6, 8])),
    )
    density = float(rng.choice([0.1, 0.2, 0.35, 0.5]))
    return s, density


def _small_networks(rng: np.random.Generator) -> list[LayerShape]:
    h = int(rng.choice([4, 6, 8]))
    c_in = int(rng.choice([3, 16, 64, 128]))
    c_mid = int(rng.choice([16, 64, 128, 256]))
    layers = [_conv(h, c_in, c_mid, pool=bool(rng.random() < 0.5))]
    if rng.random() < 0.5:
        layers.append(_conv(h // (2 if layers[0].pool else 1), c_mid, int(rng.choice([32, 128])), pool=False))
    last = layers[-1]
    size = (last.ifm_h - 2) // (2 if last.pool else 1)
    layers.append(_fc(last.c_out * size * size, int(rng.choice([10, 64]))))
    return layers


def make_plan(n_small: int = 96) -> list[dict]:
    """The designed configurations, with ``held_out`` marked before any run (see the module docstring)."""
    rng = np.random.default_rng(PLAN_SEED)
    nets = networks()
    plan: list[dict] = []
    for name, count in WHOLE_COUNTS.items():
        entries = []
        for i in range(count):
            s, density = _draw_settings(rng)
            entries.append({"label": f"{name}-{i:03d}", "kind": "whole", "network_name": name,
                            "network": [list(l.as_row()[:8]) for l in nets[name]], "settings": s.to_dict(),
                            "input_density": density, "seed": i})
        order = np.random.default_rng(PLAN_SEED + len(plan)).permutation(count)
        for pos, idx in enumerate(order):
            entries[idx]["held_out"] = pos % 5 == 0
        plan += entries
    for i in range(n_small):
        s, density = _draw_settings(rng, small=True)
        layers = _small_networks(rng)
        plan.append({"label": f"small-{i:03d}", "kind": "small", "network_name": "small",
                     "network": [list(l.as_row()[:8]) for l in layers], "settings": s.to_dict(),
                     "input_density": density, "seed": 1000 + i, "held_out": i % 5 == 0})
    return plan


def _run_one(entry: dict, checkout: str, cache: Path, root: Path) -> str:
    label = entry["label"]
    out = root / "runs" / f"{label}.json"
    failed = root / "failed" / f"{label}.json"
    if out.exists() or failed.exists():
        return "skip"
    layers = [LayerShape(r[0], r[1], r[2], r[3], r[5], bool(r[6]), r[7]) for r in entry["network"]]
    settings = ns.NeuroSimSettings.from_dict(entry["settings"])
    keep = root / ".keep" / label
    t0 = time.time()
    try:
        run = ns.simulate(checkout, layers, settings, input_density=entry["input_density"], seed=entry["seed"],
                          cache=cache, label=label, keep=keep, timeout_s=3600)
    except ns.NeuroSimTimeout as e:  # not stored: a later resume tries again
        return f"not stored: {e}"
    except ns.NeuroSimError as e:
        failed.parent.mkdir(parents=True, exist_ok=True)
        failed.write_text(json.dumps({"label": label, "error": str(e), "settings": entry["settings"]}, indent=1))
        return f"failed: {e}"
    log = (keep / "neurosim.log").read_bytes()
    (root / "logs").mkdir(parents=True, exist_ok=True)
    with gzip.open(root / "logs" / f"{label}.log.gz", "wb", compresslevel=9) as fh:
        fh.write(log)
    record = run.to_dict()
    record.update({"kind": entry["kind"], "network_name": entry["network_name"], "held_out": entry["held_out"],
                   "input_density": entry["input_density"], "seed": entry["seed"],
                   "wall_s": round(time.time() - t0, 2)})
    tmp = out.with_suffix(".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(out)
    for f in keep.iterdir():
        f.unlink()
    keep.rmdir()
    return f"{time.time() - t0:.0f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--neurosim", required=True, help="a NeuroSim V1.4 checkout")
    ap.add_argument("--out", type=Path, default=ROOT)
    ap.add_argument("--cache", type=Path, default=None, help="build cache (default ~/.cache/cimpipe/neurosim)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--kind", choices=("whole", "small", "all"), default="all")
    ap.add_argument("--only", default=None, help="comma-separated network names to run")
    args = ap.parse_args(argv)
    ns.find_source(args.neurosim)
    plan = make_plan()
    args.out.mkdir(parents=True, exist_ok=True)
    plan_path = args.out / "plan.json"
    if plan_path.exists():
        # settings gain fields with defaults over time; the stored plan stands if it agrees once read back
        stored = json.loads(plan_path.read_text())
        for e in stored:
            e["settings"] = ns.NeuroSimSettings.from_dict(e["settings"]).to_dict()
        if stored != plan:
            print(f"{plan_path} differs from this script's plan; remove it to re-plan", file=sys.stderr)
            return 2
    else:
        plan_path.write_text(json.dumps(plan, indent=1))
    todo = [e for e in plan if args.kind in ("all", e["kind"])
            and (args.only is None or e["network_name"] in args.only.split(","))]
    # small runs first (fast), then whole networks from the quickest kind, larger subarrays (fewer to model) first
    todo.sort(key=lambda e: (e["kind"] != "small", sum(r[0] * r[1] * r[2] * r[3] * r[4] for r in e["network"]),
                             -e["settings"]["subarray_rows"]))
    ns.build(args.neurosim, ns.NeuroSimSettings(), args.cache)  # the base build, once, before the threads
    done = 0
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_run_one, e, args.neurosim, args.cache, args.out): e["label"] for e in todo}
        for fut in as_completed(futures):
            done += 1
            print(f"[{done}/{len(todo)}] {futures[fut]}: {fut.result()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
