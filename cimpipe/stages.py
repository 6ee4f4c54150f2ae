"""The workflow's stages as plain functions of paths and config slices.

Each rule's script (``workflow/scripts/*.py``) unpacks the Snakemake object and calls one function here
through :func:`run_stage`, which sends the stage's output to the rule's log and turns an error the user
caused (config, data, paths) into one sentence instead of a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger("cimpipe")


def _is_user_error(err: BaseException) -> bool:
    """Errors whose message is a sentence for the user: the package's ValueError subclasses, missing files."""
    if isinstance(err, FileNotFoundError):
        return True
    return isinstance(err, ValueError) and type(err).__module__.startswith("cimpipe")


def run_stage(log_path: str | os.PathLike, fn: Callable[..., Any], *, threads: int = 1, **kwargs: Any) -> Any:
    """Run ``fn(**kwargs)`` with stdout/stderr and logging sent to ``log_path``, on ``threads`` torch threads.

    A user error is written as one line to the log and to the terminal, and the process exits with
    status 1; any other exception keeps its traceback in the log. Torch is held to the job's thread count:
    its default (every core) makes parallel jobs fight over the same cores.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.__stderr__
    with open(log_path, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        start = time.perf_counter()
        try:
            result = fn(**kwargs)
        except BaseException as err:  # noqa: BLE001 - reported, then re-raised or turned into exit 1
            if _is_user_error(err):
                message = f"cimpipe: {err}"
                print(message, file=fh)
                print(message, file=terminal)
                raise SystemExit(1) from None
            traceback.print_exc(file=fh)
            raise
        finally:
            root.removeHandler(handler)
        log.info("stage %s finished in %.1f s", fn.__name__, time.perf_counter() - start)
        print(f"{fn.__name__} finished in {time.perf_counter() - start:.1f} s", file=fh)
    return result


# --------------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------------


def prepare_data(dataset: str, entry: dict, out_dir: str) -> None:
    from cimpipe.data import prepare_dataset

    prepare_dataset(dataset, dict(entry), Path(out_dir))


def hw_cost(tech: str, entry: dict, grid: dict, out_path: str) -> None:
    """Characterize every hardware option of the grid under one technology (``results/hwcost/{tech}.parquet``)."""
    from cimpipe.hw import HardwareGrid, Technology, characterize

    technology = Technology.from_config(tech, dict(entry))
    knobs = {k: tuple(v) for k, v in grid.items() if k in HardwareGrid.__dataclass_fields__}
    table = characterize(technology, HardwareGrid(**knobs))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.write_parquet(tmp)
    tmp.replace(out)
    feasible = int(table["feasible"].sum())
    print(f"{tech}: {table.height} hardware options characterized, {feasible} feasible")


def train(data_dir: str, recipe: dict, supernet_path: str, log_table: str) -> None:
    """Train the workload's supernet (``results/{workload}/supernet.pt`` + ``train_log.parquet``).

    Checkpoints go to ``checkpoints/`` beside the supernet, so a killed job resumes where it stopped.
    """
    from cimpipe.config import ConfigError, family_spec
    from cimpipe.data import default_augmentation, load_prepared
    from cimpipe.train import TrainRecipe, train_supernet

    data = load_prepared(Path(data_dir))
    meta = json.loads((Path(data_dir) / "meta.json").read_text())
    spec = family_spec(recipe, meta)
    try:
        train_recipe = TrainRecipe.from_config(recipe["train"])
    except ValueError as err:
        raise ConfigError(f"in the workload's train section: {err}") from None
    out = Path(supernet_path)
    train_supernet(
        spec,
        data,
        train_recipe,
        out,
        Path(log_table),
        seed=int(recipe["seed"]),
        checkpoint_dir=out.parent / "checkpoints",
        augment=default_augmentation(meta["kind"], int(meta["image_size"])),
    )


def _space_for(supernet_path: str, settings: dict):
    """The workload's space: the family as trained (from the checkpoint), the hardware knobs from config.

    The accuracy table and the predictor depend on no technology (the table's device bounds are its own
    settings), so without ``settings["technologies"]`` the space carries one neutral device.
    """
    from cimpipe.config import device_summaries
    from cimpipe.space import DeviceSummary, HardwareSpace, SearchSpace
    from cimpipe.train import load_supernet

    model, spec, _meta = load_supernet(Path(supernet_path))
    grid = settings["hardware_space"]
    if settings.get("technologies"):
        devices = device_summaries({"technologies": settings["technologies"]})
    else:
        devices = {"any": DeviceSummary(sigma=0.0, on_off_ratio=float("inf"), max_cell_bits=max(grid["cell_bits"]))}
    hardware = HardwareSpace.from_config({**grid, "technologies": list(devices)}, list(devices))
    return model, spec, SearchSpace(spec, hardware, devices)


def accuracy_shard(supernet_path: str, data_dir: str, settings: dict, shard: int, shards: int, out_path: str) -> None:
    """Measure one shard of the accuracy table (resumable; see :func:`cimpipe.accuracy.build_table`)."""
    from cimpipe.accuracy import AccuracySettings, build_table

    _, _, space = _space_for(supernet_path, settings)
    table = build_table(supernet_path, data_dir, space, AccuracySettings.from_config(settings["accuracy"]), out_path,
                        shard=int(shard), shards=int(shards))
    print(f"shard {shard}/{shards}: {table.height} rows, mean accuracy {table['accuracy'].mean():.4f}")


def merge_accuracy(shard_paths: list[str], out_path: str) -> None:
    from cimpipe.accuracy import merge_tables

    table = merge_tables(shard_paths, out_path)
    print(f"accuracy table: {table.height} rows from {len(shard_paths)} shard(s)")


def fit(table_path: str, supernet_path: str, settings: dict, predictor_path: str, metrics_path: str) -> None:
    """Fit the accuracy predictor on the table; held-out Kendall tau and RMSE go beside it."""
    import polars as pl

    from cimpipe.predictor import PredictorSettings, fit_predictor

    _, _, space = _space_for(supernet_path, settings)
    metrics = fit_predictor(pl.read_parquet(table_path), space, PredictorSettings.from_config(settings["predictor"]),
                            predictor_path, metrics_path)
    print(json.dumps(metrics, indent=2, sort_keys=True))


def _design_columns(space, genes: np.ndarray) -> dict[str, np.ndarray]:
    """Designs as the accuracy table's configuration columns: canonical architecture genes, CIM settings."""
    from cimpipe.accuracy import arch_columns

    names = arch_columns(space)
    arch = space.canonical_arch_values(space.arch_values(genes)) if len(genes) else np.zeros((0, len(names)))
    cim = space.cim_values(genes) if len(genes) else np.zeros((0, len(space.cim_columns)))
    return {n: arch[:, i] for i, n in enumerate(names)} | {n: cim[:, i] for i, n in enumerate(space.cim_columns)}


def _measured_rows(space, rounds):
    """Every design the rounds measured, in accuracy-table columns (:func:`_design_columns`, ``accuracy``)
    with ``accuracy_predicted`` and ``round``, round by round."""
    import polars as pl

    def cat(part: str, empty: np.ndarray) -> np.ndarray:
        return np.concatenate([getattr(r, part) for r in rounds]) if rounds else empty

    genes = cat("genes", np.zeros((0, space.n_genes), dtype=np.int64))
    round_of = np.concatenate([np.full(len(r.genes), r.round) for r in rounds]) if rounds else np.zeros(0)
    return pl.DataFrame({"round": pl.Series(round_of, dtype=pl.Int32), **_design_columns(space, genes),
                         "accuracy": pl.Series(cat("measured", np.zeros(0)), dtype=pl.Float64),
                         "accuracy_predicted": pl.Series(cat("predicted", np.zeros(0)), dtype=pl.Float64)})


def _remeasure(model, spec, space, data_dir: str, accuracy_settings: dict):
    """A function measuring designs' accuracy on the supernet in CIM mode, exactly as the table does."""
    import polars as pl

    from cimpipe.accuracy import AccuracySettings, measure_rows
    from cimpipe.data import load_prepared

    data = load_prepared(Path(data_dir))
    settings = AccuracySettings.from_config(accuracy_settings)

    def remeasure(designs) -> np.ndarray:
        """Accuracy of each design; designs that differ only in hardware the accuracy does not see (subarray,
        column mux, ADC type, pipelining) share one measurement."""
        if not designs:
            return np.zeros(0)
        rows = pl.DataFrame(_design_columns(space, np.stack([space.encode(d) for d in designs])))
        keys = [tuple(r) for r in rows.rows()]
        new = pl.DataFrame([dict(zip(rows.columns, k)) for k in dict.fromkeys(k for k in keys if k not in known)],
                           schema=rows.schema)
        if new.height:
            distinct = new.with_row_index("config_id").with_columns(pl.col("config_id").cast(pl.Int64))
            measured = measure_rows(model, spec, data, distinct, settings)
            known.update(zip([tuple(r) for r in new.rows()], measured["accuracy"].to_list()))
        print(f"re-measured {new.height} distinct (sub-network, CIM setting) pairs for {len(designs)} designs "
              f"({len(set(keys)) - new.height} measured before)")
        return np.array([known[k] for k in keys], dtype=np.float64)

    known: dict[tuple, float] = {}  # a design measured once keeps its accuracy (refinement rounds meet it again)
    return remeasure


def _check_devices_covered(space, cim_ranges: dict) -> None:
    """Refuse a technology whose device lies outside what the accuracy table measured (one sentence)."""
    from cimpipe.config import ConfigError

    sigma_max = cim_ranges["sigma"][1]
    on_off_min = cim_ranges["on_off_ratio"][0]
    for name, device in space.devices.items():
        if device.sigma > sigma_max * (1 + 1e-9):
            raise ConfigError(f"technology {name} has sigma {device.sigma:g}, beyond the {sigma_max:g} the accuracy "
                              f"table covers: raise the workload's accuracy.sigma_max")
        if min(device.on_off_ratio, 1e6) < on_off_min * (1 - 1e-9):
            raise ConfigError(f"technology {name} has on_off_ratio {device.on_off_ratio:g}, below the {on_off_min:g} "
                              f"the accuracy table covers: lower the workload's accuracy.on_off_min")


def _search_objective(predictor_path: str, supernet_path: str, hwcost_paths: list[str], settings: dict):
    """The workload's space, the search settings and the batched objective (predictor + hardware model)."""
    import polars as pl

    from cimpipe.hw import Evaluator, Technology
    from cimpipe.predictor import Predictor
    from cimpipe.search import Objective, SearchSettings

    model, spec, space = _space_for(supernet_path, settings)
    print(f"search space: 10^{space.log10_size():.1f} designs over {space.n_genes} genes")
    tables = {Path(p).stem: p for p in hwcost_paths}
    evaluators = {
        name: Evaluator.from_frame(pl.read_parquet(tables[name]), Technology.from_config(name, entry))
        for name, entry in settings["technologies"].items()
    }
    search_settings = SearchSettings.from_config(settings["search"])
    predictor = Predictor.load(predictor_path)
    _check_devices_covered(space, predictor.cim_ranges)
    objective = Objective(space, predictor, evaluators, search_settings.objectives, search_settings.constraints)
    return model, spec, space, search_settings, objective


def search_island(predictor_path: str, supernet_path: str, hwcost_paths: list[str], settings: dict, island: int,
                  front_path: str, history_path: str) -> None:
    """Run island ``island`` of the search: its history, its predicted front and its summary, for the merge."""
    from cimpipe.search import run_island

    _, _, space, search_settings, objective = _search_objective(predictor_path, supernet_path, hwcost_paths, settings)
    front = run_island(space, objective, search_settings, int(island), history_path, front_path)
    print(f"island {island}: {front.height} designs on its predicted front")


def search(predictor_path: str, supernet_path: str, data_dir: str, table_path: str, hwcost_paths: list[str],
           settings: dict, island_dirs: list[str], front_path: str, history_path: str, refine_path: str) -> None:
    """Merge the islands' fronts, re-measure the merged front, refine (``search.refine`` rounds: refit the
    predictor on the table plus the measured designs, search again, re-measure); write the history, the
    measured front, the summary and every measured design (``refine_path``)."""
    import polars as pl

    from cimpipe.accuracy import arch_columns
    from cimpipe.predictor import Predictor, PredictorSettings, fit_predictor
    from cimpipe.search import MeasureRecorder, MeasuredDesigns, merge_islands, refine, write_refined

    model, spec, space, search_settings, objective = _search_objective(predictor_path, supernet_path, hwcost_paths,
                                                                        settings)
    if not settings["search"].get("remeasure", True):  # nothing measured: no refinement either
        merge_islands(space, objective, search_settings, island_dirs, history_path, front_path)
        _measured_rows(space, []).write_parquet(refine_path)
        return
    recorder = MeasureRecorder(space, _remeasure(model, spec, space, data_dir, settings["accuracy"]))
    first_front = merge_islands(space, objective, search_settings, island_dirs, history_path, front_path,
                                remeasure_fn=recorder)
    genes, measured = recorder.taken()
    rounds = [MeasuredDesigns(0, genes, objective(genes).accuracy if len(genes) else np.zeros(0), measured)]
    if search_settings.refine:
        table = pl.read_parquet(table_path)
        _, _, fit_space = _space_for(supernet_path, {"hardware_space": settings["hardware_space"]})
        predictor_settings = PredictorSettings.from_config(settings["predictor"])
        names = arch_columns(space) + list(space.cim_columns)

        def refit(done):
            extra = _measured_rows(space, done)
            rows = pl.concat([table.select(*names, "accuracy"),
                              extra.select(*names, "accuracy").cast({c: table.schema[c] for c in names})])
            rows = rows.with_columns(pl.lit(False).alias("anchor"))
            with tempfile.TemporaryDirectory() as tmp:
                metrics = fit_predictor(rows, fit_space, predictor_settings, Path(tmp) / "predictor.pt",
                                        Path(tmp) / "metrics.json")
                fitted = Predictor.load(Path(tmp) / "predictor.pt")
            print(f"predictor refitted on {table.height} table rows and {extra.height} measured designs: held-out "
                  f"RMSE {metrics['rmse_pct']:.2f} points, Kendall tau {metrics['kendall_tau']:.3f}", flush=True)
            return fitted, {k: metrics[k] for k in ("rows_total", "rows_heldout", "kendall_tau", "rmse_pct")}

        rounds = refine(space, objective, search_settings, rounds[0], refit, recorder)
    front = write_refined(space, objective, search_settings, rounds, first_front, front_path,
                          Path(history_path).parent / "search_summary.json")
    _measured_rows(space, rounds).write_parquet(refine_path)
    for r in rounds:
        e = r.error()
        if e["designs_measured"]:
            print(f"round {e['round']}: {e['designs_measured']} designs measured; predicted minus measured accuracy: "
                  f"RMSE {e['front_rmse_pct']:.2f}, mean {e['front_bias_pct']:+.2f} points")
    print(f"front: {front.height} designs")


def report(front_path: str, history_path: str, train_log: str, predictor_metrics: str, out_dir: str,
           settings: dict | None = None) -> None:
    from cimpipe.report import write_report
    from cimpipe.train import TrainRecipe

    settings = settings or {}
    phases = TrainRecipe.from_config(settings.get("train")).bit_phases
    for path in write_report(front_path, history_path, out_dir, train_log_path=train_log,
                             predictor_metrics=predictor_metrics, bit_phases=phases, workload=settings.get("workload")):
        print(path)
