"""The ``cimpipe`` command. Each subcommand is one ``_add_<name>`` parser builder and one ``_run_<name>``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

class CliError(ValueError):
    """A user error on the command line (one sentence)."""


def _console():
    """A rich console; off a terminal (pipes, files) it is wide and plain so tables stay one row per line."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=200, no_color=True, highlight=False, emoji=False)


def _table(console):
    from rich import box
    from rich.table import Table

    return Table(box=box.HEAVY_HEAD) if console.is_terminal else Table(box=box.SIMPLE, show_edge=False, pad_edge=False)


def _print_table(console, table, title: str | None = None, caption: str | None = None) -> None:
    """Print ``table``; off a terminal its title and caption become plain lines above and below it."""
    if console.is_terminal:
        table.title, table.caption = title, caption
        console.print(table)
        return
    if title:
        console.print(title)
    console.print(table)
    if caption:
        console.print(caption)


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that states every option's default value (options without one say what they fall back to)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
                and "%(default)" not in text and "(default" not in text):
            text += " (default: %(default)s)"
        return text


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


def _adc_bits(text: str) -> int | tuple[int, ...]:
    """One positive integer, or a comma-separated list of them (one per layer)."""
    parts = [_positive_int(t.strip()) for t in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="hardware cost of one network (NeuroSim NetWork.csv) on one design",
                       formatter_class=_DefaultsFormatter)
    p.add_argument("network", help="network file: IFM_H,IFM_W,C_in,K_H,K_W,C_out,maxpool,stride per line")
    p.add_argument("--technology", required=True, help="a key of the config's technologies")
    p.add_argument("--config", default=None, help="config.yaml (default ./config.yaml, else the built-in set)")
    p.add_argument("--weight-bits", type=_positive_int, default=8, help="bits per weight")
    p.add_argument("--input-bits", type=_positive_int, default=8, help="bits per input (activation)")
    p.add_argument("--subarray", type=_positive_int, default=128, help="crossbar rows (= columns)")
    p.add_argument("--parallel-rows", type=_positive_int, default=None, help="rows read at once (default: all)")
    p.add_argument("--adc-bits", type=_adc_bits, default=5,
                   help="ADC resolution, or one per layer of the network file separated by commas (e.g. 5,4,4,6)")
    p.add_argument("--adc", choices=("flash", "sar"), default="flash", help="ADC type")
    p.add_argument("--cell-bits", type=_positive_int, default=None, help="bits per cell (default: the device's maximum)")
    p.add_argument("--col-mux", type=_positive_int, default=8, help="columns sharing one ADC")
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
    p.add_argument("--input-bit-density", type=_nonneg_float, default=None,
                   help="fraction of input bits that are 1; the energy follows it (default: 0.5)")
    p.add_argument("--node", type=_positive_int, default=None, help="override the technology's node, nm")
    p.add_argument("--r-on", type=_positive_float, default=None, help="override the device's Ron, ohm")
    p.add_argument("--on-off", type=_positive_float, default=None, help="override the device's on/off ratio")
    p.add_argument("--sigma", type=_nonneg_float, default=None, help="override the device's conductance variation")
    p.add_argument("--cell-area-f2", type=_positive_float, default=None, help="override the device's cell area, F^2")
    p.add_argument("--layers", action="store_true", help="also print per-layer figures")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_run_evaluate)


def _technologies(config: str | None) -> dict:
    """The technologies of ``config`` (default ./config.yaml), resolved against the packaged set; the packaged
    set where no config file is found."""
    from cimpipe.config import read_config_file
    from cimpipe.hw.technology import builtin_technologies, load_technologies

    path = Path(config) if config else Path("config.yaml")
    if config and not path.is_file():
        raise CliError(f"config file {path} does not exist")
    if path.is_file():
        cfg = read_config_file(path) or {}
        if not isinstance(cfg, dict):
            raise CliError(f"config file {path} must hold a mapping of sections")
        if "technologies" in cfg:
            return load_technologies(cfg["technologies"])
        if config:
            raise CliError(f"config file {path} has no 'technologies' section")
    return builtin_technologies()


def _run_evaluate(args: argparse.Namespace) -> int:
    from cimpipe.evaluation import check_row_widths, design_echo, front_units
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

    console = _console()
    d = _table(console)
    d.add_column("knob")
    d.add_column("value", justify="right")
    for k, v in design.items():
        d.add_row(k, str(v))
    _print_table(console, d, "design evaluated")
    t = _table(console)
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
    _print_table(console, t, f"chip metrics ({design['technology']}) in the front's units",
                 f"area buckets: {notes}")
    if layers:
        lt = _table(console)
        for c in layers[0]:
            lt.add_column(c, justify="right")
        for row in layers:
            lt.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()))
        _print_table(console, lt, "layers")


# --------------------------------------------------------------------------------------------------
# show
# --------------------------------------------------------------------------------------------------

def _add_show(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a Pareto front as a table, sorted by one metric")
    p.add_argument("front", help="a front file, e.g. results/pareto_demo.parquet")
    p.add_argument("--sort", default="accuracy",
                   help="column to sort by: accuracy, energy_uj, latency_ms, area_mm2, edap_uj_ms_mm2, "
                        "edap_reduction_vs_reference, ... (default accuracy; best first)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--desc", dest="descending", action="store_const", const=True, default=None,
                       help="largest first")
    order.add_argument("--asc", dest="descending", action="store_const", const=False, help="smallest first")
    p.add_argument("--limit", type=_positive_int, default=None, help="print only the first N rows")
    p.add_argument("--columns", default=None, help="comma-separated columns to print instead of the default set "
                                                   "(any front column, plus 'hardware' and 'bits')")
    p.add_argument("--csv", action="store_true", help="print CSV (raw values) instead of a table")
    p.set_defaults(run=_run_show)


def _run_show(args: argparse.Namespace) -> int:
    from cimpipe.results import read_front
    from cimpipe.show import show

    show(read_front(args.front), args.front, args.sort, args.descending, args.limit, args.columns, args.csv)
    return 0


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="dominance and hypervolume of two Pareto fronts on a common normalization")
    p.add_argument("a", help="first front file")
    p.add_argument("b", help="second front file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from cimpipe.results import compare_fronts, front_hypervolume, read_front, read_summary_beside

    a, b = read_front(args.a), read_front(args.b)
    c = compare_fronts(a, b)
    summary = read_summary_beside(args.a)
    searched = None  # both fronts on A's search normalization: the figure A's report states
    if summary is not None and "normalizer" in summary and "objectives" in summary:
        searched = (front_hypervolume(a, summary), front_hypervolume(b, summary))
    names = {"a": args.a, "b": args.b}
    verdict = "tie" if c.better == "tie" else names[c.better]
    if args.json:
        print(json.dumps({
            "a": args.a, "b": args.b, "points_a": c.n_a, "points_b": c.n_b,
            "a_points_dominating_b": c.a_dominating, "b_points_dominated_by_a": c.b_dominated,
            "b_points_dominating_a": c.b_dominating, "a_points_dominated_by_b": c.a_dominated,
            "a_share_not_dominated": c.a_share_undominated, "b_share_not_dominated": c.b_share_undominated,
            "hypervolume_a": c.hv_a, "hypervolume_b": c.hv_b, "better": verdict,
            "objectives": {o.metric: "max" if o.maximize else "min" for o in c.objectives},
            "normalizer": c.normalizer.to_dict() if c.normalizer else None,
            "hypervolume_reference_point": c.reference,
            "hypervolume_a_search_normalization": searched[0].value if searched else None,
            "hypervolume_b_search_normalization": searched[1].value if searched else None,
            "search_reference_point": searched[0].reference if searched else None,
        }))
        return 0
    objectives = ", ".join(f"{o.metric} {'max' if o.maximize else 'min'}{' (log)' if o.log_scale else ''}"
                           for o in c.objectives)
    console = _console()
    t = _table(console)
    t.add_column("")
    t.add_column(f"A: {args.a}", justify="right")
    t.add_column(f"B: {args.b}", justify="right")
    t.add_row("designs", str(c.n_a), str(c.n_b))
    t.add_row("designs that dominate one of the other front", str(c.a_dominating), str(c.b_dominating))
    t.add_row("designs dominated by the other front", str(c.a_dominated), str(c.b_dominated))
    t.add_row("share not dominated by the other front",
              *(f"{100 * share:.1f}%" if n else "-" for share, n in ((c.a_share_undominated, c.n_a),
                                                                     (c.b_share_undominated, c.n_b))))
    t.add_row("hypervolume (common normalization)", f"{c.hv_a:.4f}", f"{c.hv_b:.4f}")
    if searched:
        t.add_row("hypervolume (A's search normalization)", f"{searched[0].value:.4f}", f"{searched[1].value:.4f}")
    notes = [f"objectives: {objectives}",
             f"common normalization: both fronts' range mapped to [0, 1]; reference point {c.reference_text()}"]
    if searched:
        notes.append(f"A's search normalization (as in A's report): reference point {searched[0].reference_text()}")
    _print_table(console, t, "front comparison", "\n".join(notes))
    if c.better == "tie":
        console.print(f"the fronts tie by hypervolume ({c.hv_a:.6g})")
    else:
        label = "A" if c.better == "a" else "B"
        console.print(f"{label} ({verdict}) is better by hypervolume: {max(c.hv_a, c.hv_b):.6g} "
                      f"against {min(c.hv_a, c.hv_b):.6g}")
    return 0


# --------------------------------------------------------------------------------------------------
# techs
# --------------------------------------------------------------------------------------------------


def _add_techs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("techs", help="list the memory technologies with their node and device figures")
    p.add_argument("--config", default=None,
                   help="config.yaml (default ./config.yaml if present, else the package's built-in set)")
    p.set_defaults(run=_run_techs)


def _run_techs(args: argparse.Namespace) -> int:
    from cimpipe.config import load_config, search_technologies
    from cimpipe.hw.technology import builtin_technologies, load_technologies

    path = Path(args.config) if args.config else Path("config.yaml")
    if args.config or path.is_file():
        cfg = load_config(path)
        techs, searched, source = load_technologies(cfg["technologies"]), set(search_technologies(cfg)), str(path)
    else:
        techs, searched, source = builtin_technologies(), None, "built-in technologies"
    console = _console()
    t = _table(console)
    heads = ["name", "node (nm)", "memory", "cell", "Ron (kOhm)", "on/off", "max cell bits", "read (V)",
             "cell area (F2)", "cell area (um2)", "sigma"] + (["searched"] if searched is not None else [])
    for h in heads:
        t.add_column(h, justify="left" if h in ("name", "memory", "cell", "searched") else "right")
    for name, tech in techs.items():
        d = tech.device
        area_um2 = d.cell_area_f2 * (tech.node_nm * 1e-3) ** 2
        row = [name, str(tech.node_nm), d.memory, d.cell, f"{d.r_on_ohm / 1e3:.4g}", f"{d.on_off_ratio:.4g}",
               str(d.max_cell_bits), f"{d.read_voltage_v:.3g}", f"{d.cell_area_f2:.4g}", f"{area_um2:.4g}",
               f"{d.sigma:.3g}"]
        if searched is not None:
            row.append("yes" if name in searched else "no")
        t.add_row(*row)
    _print_table(console, t, f"technologies ({source})")
    return 0


# --------------------------------------------------------------------------------------------------
# space
# --------------------------------------------------------------------------------------------------


def _add_space(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("space", help="the size of a workload's joint search space, gene by gene")
    p.add_argument("workload", help="a workload of config.yaml, e.g. vgg16")
    p.add_argument("--config", default="config.yaml", help="the workflow's config (default ./config.yaml)")
    p.set_defaults(run=_run_space)


def _dataset_meta(config: dict, workload: dict, base: Path) -> dict:
    """Channels, image size and classes of a workload's dataset: its prepared meta.json when there is one,
    else the kind's native shape (resized by the entry's ``image_size``)."""
    from cimpipe.data.config import NATIVE_SHAPES

    name = workload["dataset"]
    meta_path = base / "data" / "prepared" / name / "meta.json"
    if meta_path.is_file():
        return json.loads(meta_path.read_text())
    entry = config["datasets"][name]
    if entry["kind"] not in NATIVE_SHAPES:
        raise CliError(f"dataset {name!r} ({entry['kind']}) has its classes fixed when prepared; "
                       f"run `snakemake data/prepared/{name}` first")
    channels, size, classes = NATIVE_SHAPES[entry["kind"]]
    return {"channels": channels, "image_size": entry.get("image_size") or size, "num_classes": classes}


def _run_space(args: argparse.Namespace) -> int:
    import math

    from cimpipe.config import load_config, search_space, workload_section, workload_spec

    path = Path(args.config)
    if not path.is_file():
        raise CliError(f"the config file {path} does not exist")
    config = load_config(path)
    section = workload_section(config, args.workload)
    space = search_space(config, workload_spec(config, args.workload, _dataset_meta(config, section, path.parent)))
    groups: dict[str, list[int]] = {}  # adc_bits_3 -> adc_bits, wbits_0 -> wbits: the choice counts
    for g in space.genes:
        groups.setdefault(g.knob, []).append(g.n)
    console = _console()
    t = _table(console)
    for h in ("genes", "count", "choices each", "log10 designs"):
        t.add_column(h, justify="left" if h == "genes" else "right")
    for knob, sizes in groups.items():
        t.add_row(knob, str(len(sizes)), "/".join(str(n) for n in sorted(set(sizes))),
                  f"{sum(math.log10(n) for n in sizes):.1f}")
    per_layer = f", {', '.join(space.hardware.per_layer)} per layer" if space.hardware.per_layer else ""
    _print_table(console, t, f"workload {args.workload}: {space.spec.n_slots} weight layers{per_layer}",
                 f"10^{space.log10_size():.1f} designs over {space.n_genes} genes (gene combinations; "
                 "sub-networks that differ only in unused slots count apart)")
    return 0


# --------------------------------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------------------------------


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="write the front plots (and the search report when the history is found)")
    p.add_argument("front", help="a front file, e.g. results/pareto_demo.parquet")
    p.add_argument("--history", default=None,
                   help="search_history.parquet (default results/{workload}/search_history.parquet if present)")
    p.add_argument("--out", default=None, help="output folder (default {front folder}/{front name}_plots)")
    p.set_defaults(run=_run_plot)


def _check_history(path: Path) -> None:
    import polars as pl

    if not path.is_file():
        raise CliError(f"the history file {path} does not exist")
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:
        raise CliError(f"the file {path} is not a Parquet file") from None
    for name in ("generation", "hypervolume"):
        if name not in schema:
            raise CliError(f"the file {path} is not a cimpipe search history: it lacks the column {name!r}")


def _run_plot(args: argparse.Namespace) -> int:
    from cimpipe.report import plots, write_explorer, write_report
    from cimpipe.results import read_front, read_summary_beside, workload_dir, workload_of

    front_path = Path(args.front)
    front = read_front(front_path)
    if front.height == 0:
        raise CliError(f"the front file {front_path} holds no designs to plot")
    wdir = workload_dir(front_path)
    if args.history is not None:
        history = Path(args.history)
    else:
        history = wdir / "search_history.parquet" if wdir is not None else None
        history = history if history is not None and history.is_file() else None
    out = Path(args.out) if args.out else front_path.with_name(f"{front_path.stem}_plots")
    if history is not None:
        _check_history(history)
        beside = history.parent
        train_log = beside / "train_log.parquet"
        metrics = beside / "predictor_metrics.json"
        written = write_report(front_path, history, out, train_log if train_log.is_file() else None,
                               metrics if metrics.is_file() else None)
    else:
        out.mkdir(parents=True, exist_ok=True)
        summary = read_summary_beside(front_path)
        reference = (summary or {}).get("reference")
        written = [write_explorer(front, summary, out / "explorer.html",
                                  f"Pareto front of {workload_of(front_path) or front_path.stem}")]
        for stem, (column, label) in plots.FRONT_PLOTS.items():
            plots.front_plot(front, column, label, reference, out / f"{stem}.png")
            written.append(out / f"{stem}.png")
    for p in written:
        print(p)
    return 0


# --------------------------------------------------------------------------------------------------
# neurosim
# --------------------------------------------------------------------------------------------------


def _add_neurosim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("neurosim", help="run NeuroSim V1.4 (a checkout you name) beside the model")
    nsub = p.add_subparsers(dest="neurosim_command", required=True)
    r = nsub.add_parser("run", help="one network on one design: the model and NeuroSim side by side",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("network", help="network file: IFM_H,IFM_W,C_in,K_H,K_W,C_out,maxpool,stride per line")
    r.add_argument("--neurosim", required=True, help="a NeuroSim V1.4 checkout (its root or its NeuroSIM folder)")
    r.add_argument("--memory", choices=("sram", "rram", "fefet"), default="rram")
    r.add_argument("--node", type=_positive_int, default=22, help="technology node (nm), 130 to 1")
    r.add_argument("--weight-bits", type=_positive_int, default=8)
    r.add_argument("--input-bits", type=_positive_int, default=8)
    r.add_argument("--subarray", type=_positive_int, default=128)
    r.add_argument("--parallel-rows", type=_positive_int, default=None, help="rows read at once (default: all)")
    r.add_argument("--adc-bits", type=_positive_int, default=5)
    r.add_argument("--adc", choices=("flash", "sar"), default="flash")
    r.add_argument("--cell-bits", type=_positive_int, default=2, help="bits per cell (SRAM: 1)")
    r.add_argument("--col-mux", type=_positive_int, default=8, help="columns sharing one ADC")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--pipeline", dest="pipeline", action="store_true", default=False)
    mode.add_argument("--layer-by-layer", dest="pipeline", action="store_false")
    r.add_argument("--mapping", choices=("novel", "conventional"), default="novel")
    r.add_argument("--bus", choices=("xy", "htree"), default="xy", help="global bus: X-Y bus or H-tree")
    r.add_argument("--r-on", type=_positive_float, default=100e3, help="Ron (ohm)")
    r.add_argument("--on-off", type=_positive_float, default=17.0, help="on/off ratio")
    _add_trace_options(r)
    r.set_defaults(run=_run_neurosim_run)
    c = nsub.add_parser("check", help="front designs: the model against NeuroSim, row by row",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    c.add_argument("front", help="a front file, e.g. results/pareto_demo.parquet")
    c.add_argument("--neurosim", required=True, help="a NeuroSim V1.4 checkout")
    c.add_argument("--rows", type=_positive_int, default=3, help="designs checked, spread evenly over the front")
    c.add_argument("--config", default=None, help="config.yaml with the front's technologies (default ./config.yaml)")
    c.add_argument("--traces", choices=("synthetic", "recorded"), default="synthetic",
                   help="synthetic traces, or traces recorded from the workload's supernet on a validation image")
    _add_trace_options(c)
    c.set_defaults(run=_run_neurosim_check)


def _add_trace_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-bit-density", type=_nonneg_float, default=0.2,
                   help="probability that an input bit of the synthetic traces is 1")
    p.add_argument("--weight-std", type=_positive_float, default=None,
                   help="weights normal around 0 with this std (default: uniform over the levels)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traces")
    p.add_argument("--timeout", type=_positive_float, default=1800.0, help="seconds one NeuroSim run may take")
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
    console = _console()
    t = _table(console)
    for name, just in (("figure", "left"), ("model", "right"), ("NeuroSim", "right"), ("error", "right")):
        t.add_column(name, justify=just)
    for k, mv, ref, err in rows:
        t.add_row(k, "-" if mv is None else f"{mv:.5g}", f"{ref:.5g}", "-" if err is None else f"{100 * err:+.1f} %")
    _print_table(console, t, title)


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
    techs = _technologies(args.config)
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


# --------------------------------------------------------------------------------------------------

SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_evaluate, _add_show, _add_compare, _add_techs, _add_space, _add_plot, _add_neurosim)


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
    except BrokenPipeError:  # the reader went away (`cimpipe show f | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as e:
        print(f"cimpipe: error: cannot use {e.filename}: {e.strerror}" if e.filename else f"cimpipe: error: {e}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
