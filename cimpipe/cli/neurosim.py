"""``cimpipe neurosim run`` and ``check``: NeuroSim V1.4 as an oracle beside the model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cimpipe.cli.common import (CliError, make_console, make_table, nonneg_float, positive_float, positive_int,
                                print_table, technologies)


def add_neurosim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("neurosim", help="run NeuroSim V1.4 (a checkout you name) beside the model")
    nsub = p.add_subparsers(dest="neurosim_command", required=True)
    r = nsub.add_parser("run", help="one network on one design: the model and NeuroSim side by side",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("network", help="network file: IFM_H,IFM_W,C_in,K_H,K_W,C_out,maxpool,stride per line")
    r.add_argument("--neurosim", required=True, help="a NeuroSim V1.4 checkout (its root or its NeuroSIM folder)")
    r.add_argument("--memory", choices=("sram", "rram", "fefet"), default="rram")
    r.add_argument("--node", type=positive_int, default=22, help="technology node (nm), 130 to 1")
    r.add_argument("--weight-bits", type=positive_int, default=8)
    r.add_argument("--input-bits", type=positive_int, default=8)
    r.add_argument("--subarray", type=positive_int, default=128)
    r.add_argument("--parallel-rows", type=positive_int, default=None, help="rows read at once (default: all)")
    r.add_argument("--adc-bits", type=positive_int, default=5)
    r.add_argument("--adc", choices=("flash", "sar"), default="flash")
    r.add_argument("--cell-bits", type=positive_int, default=2, help="bits per cell (SRAM: 1)")
    r.add_argument("--col-mux", type=positive_int, default=8, help="columns sharing one ADC")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--pipeline", dest="pipeline", action="store_true", default=False)
    mode.add_argument("--layer-by-layer", dest="pipeline", action="store_false")
    r.add_argument("--mapping", choices=("novel", "conventional"), default="novel")
    r.add_argument("--bus", choices=("xy", "htree"), default="xy", help="global bus: X-Y bus or H-tree")
    r.add_argument("--r-on", type=positive_float, default=100e3, help="Ron (ohm)")
    r.add_argument("--on-off", type=positive_float, default=17.0, help="on/off ratio")
    add_trace_options(r)
    r.set_defaults(run=_run_neurosim_run)
    c = nsub.add_parser("check", help="front designs: the model against NeuroSim, row by row",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    c.add_argument("front", help="a front file, e.g. results/pareto_demo.parquet")
    c.add_argument("--neurosim", required=True, help="a NeuroSim V1.4 checkout")
    c.add_argument("--rows", type=positive_int, default=3, help="designs checked, spread evenly over the front")
    c.add_argument("--config", default=None, help="config.yaml with the front's technologies (default ./config.yaml)")
    c.add_argument("--traces", choices=("synthetic", "recorded"), default="synthetic",
                   help="synthetic traces, or traces recorded from the workload's supernet on a validation image")
    add_trace_options(c)
    c.set_defaults(run=_run_neurosim_check)


def add_trace_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-bit-density", type=nonneg_float, default=0.2,
                   help="probability that an input bit of the synthetic traces is 1")
    p.add_argument("--weight-std", type=positive_float, default=None,
                   help="weights normal around 0 with this std (default: uniform over the levels)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traces")
    p.add_argument("--timeout", type=positive_float, default=1800.0, help="seconds one NeuroSim run may take")
    p.add_argument("--cache", default=None, help="build cache (default ~/.cache/cimpipe/neurosim)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _simulate(args: argparse.Namespace, layers, settings, traces=None):
    from cimpipe.hw import neurosim as ns

    if args.input_bit_density > 1:
        raise CliError(f"--input-bit-density {args.input_bit_density} must lie in [0, 1]")
    return ns.simulate(args.neurosim, layers, settings, traces=traces, input_density=args.input_bit_density,
                       weight_std=args.weight_std, seed=args.seed, timeout_s=args.timeout,
                       cache=Path(args.cache) if args.cache else None)


def _print_side_by_side(title: str, rows: list) -> None:
    console = make_console()
    t = make_table(console)
    for name, just in (("figure", "left"), ("model", "right"), ("NeuroSim", "right"), ("error", "right")):
        t.add_column(name, justify=just)
    for k, mv, ref, err in rows:
        t.add_row(k, "-" if mv is None else f"{mv:.5g}", f"{ref:.5g}", "-" if err is None else f"{100 * err:+.1f} %")
    print_table(console, t, title)


def _run_neurosim_run(args: argparse.Namespace) -> int:
    from cimpipe.hw import fidelity
    from cimpipe.hw import neurosim as ns
    from cimpipe.hw.network import read_network_csv

    ns.find_source(args.neurosim)
    layers = read_network_csv(args.network)
    settings = ns.NeuroSimSettings(
        memory=args.memory, node_nm=args.node, cell_bits=args.cell_bits, adc_bits=args.adc_bits, adc_type=args.adc,
        col_mux=args.col_mux, subarray_rows=args.subarray, subarray_cols=args.subarray,
        rows_parallel=args.parallel_rows if args.parallel_rows is not None else args.subarray,
        pipeline=args.pipeline, mapping=args.mapping, bus=args.bus, r_on_ohm=args.r_on, on_off_ratio=args.on_off,
        weight_bits=args.weight_bits, input_bits=args.input_bits)
    run = _simulate(args, layers, settings)
    rows = fidelity.side_by_side(fidelity.model_row(run), fidelity.neurosim_row(run))
    if args.json:
        print(json.dumps({"settings": settings.to_dict(), "neurosim": run.report.to_dict(),
                          "model": {k: mv for k, mv, _, _ in rows}}))
        return 0
    _print_side_by_side(f"{args.network} on {settings.memory} {settings.node_nm} nm "
                        f"(input bit density {run.stats.input_bit_density:.3f})", rows)
    return 0


def _run_neurosim_check(args: argparse.Namespace) -> int:
    import numpy as np
    import yaml

    from cimpipe.families import SubnetConfig, spec_from_dict
    from cimpipe.hw import fidelity
    from cimpipe.hw import neurosim as ns
    from cimpipe.predictor import Predictor
    from cimpipe.results import read_front, workload_dir
    from cimpipe.space import SIGN_ENCODINGS, HardwareConfig

    ns.find_source(args.neurosim)
    front = read_front(args.front)
    wdir = workload_dir(args.front)
    if wdir is None or not (wdir / "predictor.pt").is_file():
        raise CliError(f"the workload folder beside {args.front} has no predictor.pt to rebuild its networks from")
    predictor = Predictor.load(wdir / "predictor.pt")
    spec, statistics = spec_from_dict(predictor.state["spec"]), predictor.data_statistics
    techs = technologies(args.config)
    data_dir = None
    if args.traces == "recorded":
        cfg_path = Path(args.config) if args.config else Path("config.yaml")
        workloads = (yaml.safe_load(cfg_path.read_text()) or {}).get("workloads", {}) if cfg_path.is_file() else {}
        dataset = workloads.get(wdir.name, {}).get("dataset")
        if dataset is None:
            raise CliError(f"--traces recorded needs the workload {wdir.name!r} in {cfg_path} to find its dataset")
        data_dir = Path(args.front).resolve().parent.parent / "data" / "prepared" / dataset
        if not (data_dir / "meta.json").is_file():
            raise CliError(f"--traces recorded needs the prepared dataset {data_dir}")
    n = min(args.rows, front.height)
    picks = sorted({round(i * (front.height - 1) / max(n - 1, 1)) for i in range(n)})
    results = []
    for i in picks:
        design = json.loads(front["design_json"][i])
        subnet = SubnetConfig.from_dict(design["subnet"])
        hw = HardwareConfig(**design["hardware"])
        if hw.technology not in techs:
            raise CliError(f"the front's technology {hw.technology!r} is not among {sorted(techs)}")
        tech = techs[hw.technology]
        layers = spec.layer_shapes(subnet)
        wb, ib = spec.layer_bits(subnet)
        try:
            settings = ns.settings_for(hw, tech, max(wb), max(ib))
            traces = None
            if args.traces == "recorded":
                from cimpipe.hw.traces import workload_traces

                traces = workload_traces(wdir, data_dir, subnet, layers, max(wb), max(ib))
            run = _simulate(args, layers, settings, traces)
        except ns.NeuroSimError as e:  # NeuroSim refuses some designs (a subarray too large for the network)
            results.append({"row": i, "error": str(e)})
            if not args.json:
                print(f"front row {i}: {e}")
            continue
        model = fidelity.metrics_row(layers, [max(wb)] * len(layers), [max(ib)] * len(layers),
                                     HardwareConfig(**{**design["hardware"], "adc_bits": settings.adc_bits}), tech,
                                     mapping=settings.mapping, bus=settings.bus,
                                     input_density=run.stats.layer_input_bit_density or run.stats.input_bit_density,
                                     weight_level_mean=run.stats.layer_weight_level_mean or run.stats.weight_level_mean,
                                     zero_read_fraction=run.stats.layer_zero_read_fraction or None)
        rows = fidelity.side_by_side(model, fidelity.neurosim_row(run))
        results.append({"row": i, "input_bit_density": run.stats.input_bit_density,
                        **{k: {"model": mv, "neurosim": ref} for k, mv, ref, _ in rows}})
        if statistics is not None:  # the model as the search prices the design: the table's per-layer statistics
            slots = np.asarray(spec.active_slots(subnet))
            n = len(slots)
            dens, lev, zero = statistics.for_designs(
                np.full((1, spec.n_slots), max(wb)), np.full((1, spec.n_slots), max(ib)), np.array([hw.cell_bits]),
                np.array([SIGN_ENCODINGS.index(hw.sign_encoding)]), np.array([hw.subarray]))
            searched = fidelity.metrics_row(layers, [max(wb)] * n, [max(ib)] * n,
                                            HardwareConfig(**{**design["hardware"], "adc_bits": settings.adc_bits}),
                                            tech, mapping=settings.mapping, bus=settings.bus,
                                            input_density=dens[0, slots].tolist(),
                                            weight_level_mean=lev[0, slots].tolist(),
                                            zero_read_fraction=zero[0, slots].tolist())
            results[-1]["search_statistics"] = {"dynamic_energy_pj": searched.get("dynamic_energy_pj"),
                                                "input_bit_density": dens[0, slots].tolist()}
        if not args.json:
            _print_side_by_side(f"front row {i}: {hw.technology}, {len(layers)} layers, W{max(wb)}/A{max(ib)}, "
                                f"ADC {settings.adc_bits} b, {args.traces} traces (input bit density "
                                f"{run.stats.input_bit_density:.3f})", rows)
    if args.json:
        print(json.dumps(results))
    else:
        print("NeuroSim takes one operand width and ADC resolution per chip: each design ran at its largest, on "
              "both sides.")
    return 0


