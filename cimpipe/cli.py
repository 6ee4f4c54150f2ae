"""The ``cimpipe`` command. Each subcommand is one ``_add_<name>`` parser builder and one ``_run_<name>``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import yaml


class CliError(ValueError):
    """A user error on the command line (one sentence)."""


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return v


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="hardware cost of one network (NeuroSim NetWork.csv) on one design")
    p.add_argument("network", help="network file: IFM_H,IFM_W,C_in,K_H,K_W,C_out,maxpool,stride per line")
    p.add_argument("--technology", required=True, help="a key of the config's technologies")
    p.add_argument("--config", default=None, help="config.yaml (default ./config.yaml, else the built-in set)")
    p.add_argument("--weight-bits", type=_positive_int, default=8)
    p.add_argument("--input-bits", type=_positive_int, default=8)
    p.add_argument("--subarray", type=_positive_int, default=128)
    p.add_argument("--parallel-rows", type=_positive_int, default=None, help="rows read at once (default: all)")
    p.add_argument("--adc-bits", type=_positive_int, default=5)
    p.add_argument("--adc", choices=("flash", "sar"), default="flash")
    p.add_argument("--cell-bits", type=_positive_int, default=None, help="default: the device's maximum")
    p.add_argument("--col-mux", type=_positive_int, default=8)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--pipeline", dest="pipeline", action="store_true", default=False)
    mode.add_argument("--layer-by-layer", dest="pipeline", action="store_false")
    p.add_argument("--node", type=_positive_int, default=None, help="override the technology node (nm)")
    p.add_argument("--r-on", type=_positive_float, default=None, help="override Ron (ohm)")
    p.add_argument("--on-off", type=_positive_float, default=None, help="override the on/off ratio")
    p.add_argument("--sigma", type=_nonneg_float, default=None, help="override the conductance variation")
    p.add_argument("--cell-area-f2", type=_positive_float, default=None, help="override the cell area (F^2)")
    p.add_argument("--layers", action="store_true", help="also print per-layer figures")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_run_evaluate)


def _technologies(config: str | None) -> dict:
    from cimpipe.hw.technology import builtin_technologies, load_technologies

    path = Path(config) if config else Path("config.yaml")
    if config and not path.is_file():
        raise CliError(f"config file {path} does not exist")
    if path.is_file():
        try:
            cfg = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            raise CliError(f"config file {path} is not valid YAML") from None
        if "technologies" in cfg:
            return load_technologies(cfg["technologies"])
        if config:
            raise CliError(f"config file {path} has no 'technologies' section")
    return builtin_technologies()


def _run_evaluate(args: argparse.Namespace) -> int:
    from cimpipe.hw.evaluate import evaluate_design
    from cimpipe.hw.network import read_network_csv
    from cimpipe.space import HardwareConfig

    techs = _technologies(args.config)
    if args.technology not in techs:
        raise CliError(f"technology {args.technology!r} is not among {sorted(techs)}")
    tech = techs[args.technology]
    overrides = {k: v for k, v in (("node_nm", args.node), ("r_on_ohm", args.r_on), ("on_off_ratio", args.on_off),
                                   ("sigma", args.sigma), ("cell_area_f2", args.cell_area_f2)) if v is not None}
    if overrides:
        tech = tech.with_overrides(**overrides)
    shapes = read_network_csv(args.network)
    hw = HardwareConfig(
        technology=args.technology, subarray=args.subarray,
        rows_parallel=args.parallel_rows if args.parallel_rows is not None else args.subarray,
        col_mux=args.col_mux, adc_bits=args.adc_bits, adc_type=args.adc,
        cell_bits=args.cell_bits if args.cell_bits is not None else tech.device.max_cell_bits,
        pipeline=args.pipeline,
    )
    m = evaluate_design(shapes, args.weight_bits, args.input_bits, hw, tech, per_layer=args.layers)
    if not bool(m.feasible[0]):
        raise CliError(f"the design cannot be built: {m.reason_text(0)}")
    summary = m.summary(0)
    layers = []
    if args.layers and m.layers is not None:
        for j in range(len(shapes)):
            layers.append({
                "layer": j + 1,
                "latency_ns": float(m.layers["latency_ns"][0, j]),
                "dynamic_energy_pj": float(m.layers["dynamic_energy_pj"][0, j]),
                "tiles": float(m.layers["tiles"][0, j]),
                "speedup": float(m.layers["speedup"][0, j]),
                "utilization": float(m.layers["utilization"][0, j]),
            })
    if args.json:
        out = dict(summary)
        out["area_breakdown_mm2"] = {k: float(v[0]) for k, v in m.area_breakdown_mm2.items()}
        out["energy_breakdown_pj"] = {k: float(v[0]) for k, v in m.energy_breakdown_pj.items()}
        if args.layers:
            out["layers"] = layers
        print(json.dumps(out))
        return 0
    _print_tables(args.technology, summary, m, layers)
    return 0


def _print_tables(name: str, summary: dict, m, layers: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"chip metrics ({name})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in summary.items():
        t.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    for k, v in m.area_breakdown_mm2.items():
        t.add_row(f"area {k} (mm2)", f"{float(v[0]):.4g}")
    for k, v in m.energy_breakdown_pj.items():
        t.add_row(f"energy {k} (pJ)", f"{float(v[0]):.4g}")
    console.print(t)
    if layers:
        lt = Table(title="layers")
        for c in layers[0]:
            lt.add_column(c, justify="right")
        for row in layers:
            lt.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()))
        console.print(lt)


# --------------------------------------------------------------------------------------------------

SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_evaluate,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimpipe", description="CIM network/accelerator co-design")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as e:  # every user error of the package is a ValueError subclass
        print(f"cimpipe: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
