"""``cimpipe evaluate``: one network on one design, through the hardware model."""

from __future__ import annotations

import argparse
import json

from cimpipe.cli.common import (CliError, DefaultsFormatter, adc_bits_arg, make_console, make_table, nonneg_float,
                                positive_float, positive_int, print_table, technologies)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="hardware cost of one network (NeuroSim NetWork.csv) on one design",
                       formatter_class=DefaultsFormatter)
    p.add_argument("network", help="network file: IFM_H,IFM_W,C_in,K_H,K_W,C_out,maxpool,stride per line")
    p.add_argument("--technology", required=True, help="a key of the config's technologies")
    p.add_argument("--config", default=None, help="config.yaml (default ./config.yaml, else the built-in set)")
    p.add_argument("--weight-bits", type=positive_int, default=8, help="bits per weight")
    p.add_argument("--input-bits", type=positive_int, default=8, help="bits per input (activation)")
    p.add_argument("--subarray", type=positive_int, default=128, help="crossbar rows (= columns)")
    p.add_argument("--parallel-rows", type=positive_int, default=None, help="rows read at once (default: all)")
    p.add_argument("--adc-bits", type=adc_bits_arg, default=5,
                   help="ADC resolution, or one per layer of the network file separated by commas (e.g. 5,4,4,6)")
    p.add_argument("--adc", choices=("flash", "sar"), default="flash", help="ADC type")
    p.add_argument("--cell-bits", type=positive_int, default=None, help="bits per cell (default: the device's maximum)")
    p.add_argument("--col-mux", type=positive_int, default=8, help="columns sharing one ADC")
    p.add_argument("--sign-encoding", choices=("offset", "differential"), default="offset",
                   help="signed weights with an offset (NeuroSim's scheme, the default) or in differential arrays")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--pipeline", dest="pipeline", action="store_true", default=False,
                      help="layers run as a pipeline (latency: the slowest layer's time, one image per that "
                           "interval, as NeuroSim reports it)")
    mode.add_argument("--layer-by-layer", dest="pipeline", action="store_false",
                      help="layers run one after another (the default)")
    p.add_argument("--mapping", choices=("novel", "conventional"), default="novel",
                   help="novel: 3x3 layers split by kernel position (NeuroSim's default); conventional: unrolled")
    p.add_argument("--bus", choices=("xy", "htree"), default="xy", help="global interconnect: X-Y bus or H-tree")
    p.add_argument("--input-bit-density", type=nonneg_float, default=None,
                   help="fraction of input bits that are 1; the energy follows it (default: 0.5)")
    p.add_argument("--node", type=positive_int, default=None, help="override the technology's node, nm")
    p.add_argument("--r-on", type=positive_float, default=None, help="override the device's Ron, ohm")
    p.add_argument("--on-off", type=positive_float, default=None, help="override the device's on/off ratio")
    p.add_argument("--sigma", type=nonneg_float, default=None, help="override the device's conductance variation")
    p.add_argument("--cell-area-f2", type=positive_float, default=None, help="override the device's cell area, F^2")
    p.add_argument("--layers", action="store_true", help="also print per-layer figures")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from cimpipe.evaluation import check_row_widths, design_echo, front_units
    from cimpipe.hw.evaluate import evaluate_design
    from cimpipe.hw.network import read_network_csv
    from cimpipe.space import HardwareConfig

    techs = technologies(args.config)
    if args.technology not in techs:
        raise CliError(f"technology {args.technology!r} is not among {sorted(techs)}")
    tech = techs[args.technology]
    overrides = {k: v for k, v in (("node_nm", args.node), ("r_on_ohm", args.r_on), ("on_off_ratio", args.on_off),
                                   ("sigma", args.sigma), ("cell_area_f2", args.cell_area_f2)) if v is not None}
    if overrides:
        tech = tech.with_overrides(**overrides)
    check_row_widths(args.network)
    shapes = read_network_csv(args.network)
    if isinstance(args.adc_bits, tuple) and len(args.adc_bits) != len(shapes):
        raise CliError(f"--adc-bits gives {len(args.adc_bits)} resolutions but {args.network} has {len(shapes)} layers")
    hw = HardwareConfig(
        technology=args.technology, subarray=args.subarray,
        rows_parallel=args.parallel_rows if args.parallel_rows is not None else args.subarray,
        col_mux=args.col_mux, adc_bits=args.adc_bits, adc_type=args.adc,
        cell_bits=args.cell_bits if args.cell_bits is not None else tech.device.max_cell_bits,
        pipeline=args.pipeline, sign_encoding=args.sign_encoding,
    )
    if args.input_bit_density is not None and args.input_bit_density > 1:
        raise CliError(f"--input-bit-density {args.input_bit_density} must lie in [0, 1]")
    m = evaluate_design(shapes, args.weight_bits, args.input_bits, hw, tech, per_layer=args.layers,
                        mapping=args.mapping, bus=args.bus, input_density=args.input_bit_density)
    if not bool(m.feasible[0]):
        raise CliError(f"the design cannot be built: {m.reason_text(0)}")
    design = design_echo(args.network, len(shapes), args.technology, tech, hw, args.weight_bits, args.input_bits,
                         args.mapping, args.bus, args.input_bit_density)
    summary = front_units(m.summary(0))
    layers = []
    if args.layers and m.layers is not None:
        for j in range(len(shapes)):
            layers.append({
                "layer": j + 1,
                "latency_ms": float(m.layers["latency_ns"][0, j]) * 1e-6,
                "dynamic_energy_uj": float(m.layers["dynamic_energy_pj"][0, j]) * 1e-6,
                "tiles": float(m.layers["tiles"][0, j]),
                "speedup": float(m.layers["speedup"][0, j]),
                "utilization": float(m.layers["utilization"][0, j]),
            })
    area = {k: float(v[0]) for k, v in m.area_breakdown_mm2.items()}
    energy = {k: float(v[0]) * 1e-6 for k, v in m.energy_breakdown_pj.items()}
    if args.json:
        out = {"design": design, **summary, "area_breakdown_mm2": area, "energy_breakdown_uj": energy}
        if args.layers:
            out["layers"] = layers
        print(json.dumps(out))
        return 0
    _print_evaluation(design, summary, area, energy, layers)
    return 0


def _print_evaluation(design: dict, summary: dict, area: dict, energy: dict, layers: list[dict]) -> None:
    from cimpipe.evaluation import AREA_PARTS

    console = make_console()
    d = make_table(console)
    d.add_column("knob")
    d.add_column("value", justify="right")
    for k, v in design.items():
        d.add_row(k, str(v))
    print_table(console, d, "design evaluated")
    t = make_table(console)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in summary.items():
        t.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    total = summary["area_mm2"] or 1.0
    for k, v in area.items():
        t.add_row(f"area {k} (mm2, {100 * v / total:.0f} % of the chip)", f"{v:.4g}")
    for k, v in energy.items():
        t.add_row(f"energy {k} (uJ)", f"{v:.4g}")
    notes = "; ".join(f"{k}: {AREA_PARTS[k]}" for k in area if k in AREA_PARTS)
    print_table(console, t, f"chip metrics ({design['technology']}) in the front's units",
                 f"area buckets: {notes}")
    if layers:
        lt = make_table(console)
        for c in layers[0]:
            lt.add_column(c, justify="right")
        for row in layers:
            lt.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()))
        print_table(console, lt, "layers")


