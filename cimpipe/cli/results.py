"""``cimpipe show``, ``compare``, ``techs``, ``space`` and ``plot``: fronts, histories, technologies and
spaces."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cimpipe.cli.common import CliError, make_console, make_table, positive_int, print_table


def add_show(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a Pareto front as a table, sorted by one metric")
    p.add_argument("front", help="a front file, e.g. results/pareto_demo.parquet")
    p.add_argument("--sort", default="accuracy",
                   help="column to sort by: accuracy, energy_uj, latency_ms, area_mm2, edap_uj_ms_mm2, "
                        "edap_reduction_vs_reference, ... (default accuracy; best first)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--desc", dest="descending", action="store_const", const=True, default=None,
                       help="largest first")
    order.add_argument("--asc", dest="descending", action="store_const", const=False, help="smallest first")
    p.add_argument("--limit", type=positive_int, default=None, help="print only the first N rows")
    p.add_argument("--columns", default=None, help="comma-separated columns to print instead of the default set "
                                                   "(any front column, plus 'hardware' and 'bits')")
    p.add_argument("--csv", action="store_true", help="print CSV (raw values) instead of a table")
    p.set_defaults(run=_run_show)


def _run_show(args: argparse.Namespace) -> int:
    from cimpipe.results import read_front
    from cimpipe.show import show

    show(read_front(args.front), args.front, args.sort, args.descending, args.limit, args.columns, args.csv)
    return 0



def add_compare(sub: argparse._SubParsersAction) -> None:
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
    console = make_console()
    t = make_table(console)
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
    print_table(console, t, "front comparison", "\n".join(notes))
    if c.better == "tie":
        console.print(f"the fronts tie by hypervolume ({c.hv_a:.6g})")
    else:
        label = "A" if c.better == "a" else "B"
        console.print(f"{label} ({verdict}) is better by hypervolume: {max(c.hv_a, c.hv_b):.6g} "
                      f"against {min(c.hv_a, c.hv_b):.6g}")
    return 0



def add_techs(sub: argparse._SubParsersAction) -> None:
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
    console = make_console()
    t = make_table(console)
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
    print_table(console, t, f"technologies ({source})")
    return 0



def add_space(sub: argparse._SubParsersAction) -> None:
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
    console = make_console()
    t = make_table(console)
    for h in ("genes", "count", "choices each", "log10 designs"):
        t.add_column(h, justify="left" if h == "genes" else "right")
    for knob, sizes in groups.items():
        t.add_row(knob, str(len(sizes)), "/".join(str(n) for n in sorted(set(sizes))),
                  f"{sum(math.log10(n) for n in sizes):.1f}")
    per_layer = f", {', '.join(space.hardware.per_layer)} per layer" if space.hardware.per_layer else ""
    print_table(console, t, f"workload {args.workload}: {space.spec.n_slots} weight layers{per_layer}",
                 f"10^{space.log10_size():.1f} designs over {space.n_genes} genes (gene combinations; "
                 "sub-networks that differ only in unused slots count apart)")
    return 0



def add_plot(sub: argparse._SubParsersAction) -> None:
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


