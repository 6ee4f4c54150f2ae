"""The accuracy table: sampled sub-networks measured on the supernet in CIM mode.

The search cannot run the supernet on every design it considers, so a predictor
(:mod:`cimpipe.predictor`) is fitted on a table of sub-networks whose accuracy was measured here. Rows are
drawn from the one space declaration (:class:`cimpipe.space.SearchSpace`): a handful of fixed anchor rows
(the extremes of the space), then rows stratified over bit-width levels and ADC resolutions. Each row is
evaluated on the validation split (never used for training), after BatchNorm recalibration on a fixed
subset of training images, with the crossbar simulation of :class:`cimpipe.space.CIMSettings`. A row with
conductance variation is one die of a random population: its accuracy is the mean over independent variation
draws (seeded per row and draw), drawn until the mean's standard error is small (see :func:`measure_rows`).

Schema of ``results/{workload}/accuracy.parquet`` (one row per configuration, sorted by ``config_id``):

==================  =======  =======  =============================================================
column              type     unit     meaning
==================  =======  =======  =============================================================
config_id           Int64    -        row number in the sampling order (0 = first anchor)
anchor              Boolean  -        True for the fixed extreme rows that open the table
depth_{s}           Int64    layers   active conv layers of stage ``s``
width_{i}           Float64  ratio    channel ratio of conv / hidden-FC slot ``i``
kernel_{i}          Int64    px       kernel size of conv slot ``i``
wbits_{i}           Int64    bits     weight bits of weight-layer slot ``i`` (classifier last)
abits_{i}           Int64    bits     input-activation bits of weight-layer slot ``i``
adc_bits            Int64    bits     ADC resolution reading every partial sum (``adc_bits_{i}`` per
                                     weight-layer slot ``i`` with ``hardware_space.per_layer: [adc_bits]``)
cell_bits           Int64    bits     weight bits stored per memory cell
rows_parallel       Int64    rows     crossbar rows summed into one partial sum
sigma               Float64  -        relative Gaussian conductance variation (std / mean)
on_off_ratio        Float64  -        Gon / Goff of the memory device
accuracy            Float64  0..1     top-1 accuracy on the validation split, mean over the draws
loss                Float64  nats     mean cross-entropy on the validation split, mean over the draws
n_images            Int64    images   validation images the row was measured on
draws               Int64    -        conductance-variation draws averaged (1 without variation)
accuracy_std        Float64  0..1     standard deviation of the draws' accuracies (0 for one draw)
==================  =======  =======  =============================================================

Architecture columns hold gene *values* (not indices), canonicalized with :meth:`Family.canonical`:
slots a member does not use carry the largest choice. Their order is ``SearchSpace.arch_genes``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import polars as pl

from cimpipe.space import CIMSettings, Family, SearchSpace, SubnetConfig

ON_OFF_CAP = 1e6
"""Largest on/off ratio the table samples; beyond it a finite-on/off error is negligible (and
:func:`cimpipe.space.features` clips there too)."""

RESULT_COLUMNS = ("accuracy", "loss", "n_images", "draws", "accuracy_std")


class AccuracyError(ValueError):
    """A problem with the accuracy-table settings or files the user can fix (one sentence)."""


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccuracySettings:
    """The ``accuracy:`` section of a workload.

    ``rows`` configurations in the table (anchors included); ``shards`` jobs the table may be split over;
    ``chunk_rows`` rows measured between two resumable checkpoints; ``calib_images`` training images used to
    recalibrate BatchNorm per row; ``eval_images`` validation images per row (None: the whole split);
    ``seed`` drives the sampling, the calibration subset and the per-row variation draws; ``batch_size``
    images per forward pass. ``sigma_max``, ``on_off_min`` and ``on_off_max`` bound the device variation and
    on/off ratios the table covers. The workflow takes the bounds a workload leaves out from the span of the
    technologies the search covers (:func:`cimpipe.config.accuracy_section`), so the table's rows go to
    devices the search can pick; a technology added inside the bounds reuses the table, and the search refuses
    one outside bounds a workload pinned. The defaults here serve direct use of this module.
    ``draws_min`` .. ``draws_max`` conductance-variation draws are averaged per row with variation, stopping
    once the standard error of the mean accuracy is at most ``draw_sem`` (see :func:`measure_rows`).
    """

    rows: int = 400
    shards: int = 1
    chunk_rows: int = 25
    calib_images: int = 1024
    eval_images: int | None = None
    seed: int = 1
    batch_size: int = 512
    sigma_max: float = 0.1
    on_off_min: float = 10.0
    on_off_max: float = 1e6
    draws_min: int = 2
    draws_max: int = 8
    draw_sem: float = 0.003

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> "AccuracySettings":
        """Settings from a workload's ``accuracy`` dict; unknown keys and bad values are refused."""
        section = dict(section or {})
        floats = {k: section.pop(k) for k in ("sigma_max", "on_off_min", "on_off_max", "draw_sem") if k in section}
        for key, value in floats.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AccuracyError(f"accuracy.{key} must be a finite number, not {value!r}")
        if floats.get("draw_sem", 1.0) <= 0:
            raise AccuracyError(f"accuracy.draw_sem must be positive, not {floats['draw_sem']}")
        if floats.get("sigma_max", 0.0) < 0:
            raise AccuracyError(f"accuracy.sigma_max must not be negative, not {floats['sigma_max']}")
        lo, hi = floats.get("on_off_min", cls.on_off_min), floats.get("on_off_max", cls.on_off_max)
        if not 1 < lo <= hi:
            raise AccuracyError(f"accuracy.on_off_min ({lo}) must exceed 1 and not exceed accuracy.on_off_max ({hi})")
        ints = _checked_settings("accuracy", section, cls, optional_ints={"eval_images"}, non_negative={"seed"})
        lo_draws, hi_draws = ints.get("draws_min", cls.draws_min), ints.get("draws_max", cls.draws_max)
        if lo_draws > hi_draws:
            raise AccuracyError(f"accuracy.draws_min ({lo_draws}) must not exceed accuracy.draws_max ({hi_draws})")
        return cls(**ints, **{k: float(v) for k, v in floats.items()})


def _checked_settings(section_name: str, section: dict[str, Any] | None, cls: type,
                      optional_ints: set[str] = frozenset(), non_negative: set[str] = frozenset(),
                      ) -> dict[str, Any]:
    section = dict(section or {})
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise AccuracyError(f"{section_name}.{key} is not a known setting (known: {', '.join(known)})")
        if value is None and key in optional_ints:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise AccuracyError(f"{section_name}.{key} must be an integer, not {value!r}")
        lowest = 0 if key in non_negative else 1
        if value < lowest:
            raise AccuracyError(f"{section_name}.{key} must be at least {lowest}, not {value}")
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CIMRanges:
    """The CIM settings the table covers, derived from the hardware space and its technologies."""

    adc_bits: tuple[int, ...]
    cell_bits: tuple[int, ...]
    rows_parallel: tuple[int, ...]
    sigma_max: float
    on_off_min: float
    on_off_max: float

    @classmethod
    def of(cls, space: SearchSpace, settings: "AccuracySettings | None" = None) -> "CIMRanges":
        """The hardware space's ADC bits, cell bits and rows in parallel (rows capped at the largest
        subarray, as the search repairs them), and the settings' variation and on/off bounds."""
        hw = space.hardware
        settings = settings or AccuracySettings()
        rows = tuple(sorted(r for r in hw.rows_parallel if r <= max(hw.subarray))) or (min(hw.rows_parallel),)
        on_off_max = min(settings.on_off_max, ON_OFF_CAP)
        return cls(
            adc_bits=tuple(sorted(hw.adc_bits)),
            cell_bits=tuple(sorted(hw.cell_bits)),
            rows_parallel=rows,
            sigma_max=float(settings.sigma_max),
            on_off_min=float(min(settings.on_off_min, on_off_max)),
            on_off_max=float(on_off_max),
        )


def arch_columns(space: SearchSpace) -> list[str]:
    """The architecture columns of the table, in gene order."""
    return [g.name for g in space.arch_genes]


def _gene_dtype(choices: Sequence[Any]) -> pl.DataType:
    return pl.Int64 if all(float(c).is_integer() and not isinstance(c, float) for c in choices) else pl.Float64


def _subnet_values(cfg: SubnetConfig) -> list[float]:
    """A member's architecture values in gene order (:class:`cimpipe.space.SearchSpace`'s arch genes)."""
    return [*cfg.depths, *cfg.width_ratios, *cfg.kernels, *cfg.expand_ratios, *cfg.weight_bits, *cfg.act_bits]


def sample_configurations(space: SearchSpace, n: int, seed: int,
                          settings: "AccuracySettings | None" = None) -> pl.DataFrame:
    """``n`` configurations to measure: fixed anchors at the extremes first, then stratified random rows.

    The anchors pair the largest and smallest members at the highest and lowest bit-widths with ideal-ish
    hardware (most ADC bits, fewest cell bits, fewest rows in parallel, no variation, highest on/off) and
    with the harshest hardware (the opposite of each). The random rows cycle through every (bit level, ADC
    bits) pair: a bit level restricts each layer's bits to three neighbouring choices, or to all of them for
    the last level, so networks quantized uniformly low or high are as common as mixed ones. Sigma and the
    on/off ratio are Latin-hypercube stratified over ``[0, max sigma]`` and log-uniform over the
    settings' on/off range. With ADC bits per layer, the anchors give every layer the same ADC and each
    random row moves each layer's ADC one step up or down from its stratum (or keeps it), at random.
    Deterministic under ``seed``.
    """
    spec = space.spec
    r = CIMRanges.of(space, settings)
    ideal = dict(adc_bits=r.adc_bits[-1], cell_bits=r.cell_bits[0], rows_parallel=r.rows_parallel[0],
                 sigma=0.0, on_off_ratio=r.on_off_max)
    harsh = dict(adc_bits=r.adc_bits[0], cell_bits=r.cell_bits[-1], rows_parallel=r.rows_parallel[-1],
                 sigma=r.sigma_max, on_off_ratio=r.on_off_min)
    big, small = spec.canonical(spec.largest()), spec.canonical(spec.smallest())
    big_low = spec.canonical(spec.largest(min(spec.bit_choices)))
    small_high = spec.canonical(spec.smallest(max(spec.bit_choices)))
    anchors: list[tuple[SubnetConfig, dict[str, float]]] = [
        (big, ideal),
        (small, harsh),
        (big_low, ideal),
        (small_high, ideal),
        (small, ideal),
        (big, {**ideal, "adc_bits": r.adc_bits[0]}),
        (big, {**ideal, "sigma": r.sigma_max, "on_off_ratio": r.on_off_min}),
        (big, {**ideal, "cell_bits": r.cell_bits[-1], "rows_parallel": r.rows_parallel[-1]}),
    ]
    if n < len(anchors):
        raise AccuracyError(f"accuracy.rows={n} must be at least {len(anchors)}, the number of fixed anchor rows")
    rng = np.random.default_rng(seed)
    m = n - len(anchors)
    bits = sorted(spec.bit_choices)
    levels = [tuple(bits[max(0, i - 1): i + 2]) for i in range(len(bits))] + [tuple(bits)]
    grid = [(lv, a) for lv in range(len(levels)) for a in r.adc_bits]
    reps = -(-m // len(grid)) if m else 0
    strata = np.concatenate([rng.permutation(len(grid)) for _ in range(reps)])[:m] if m else np.zeros(0, int)
    sigma = r.sigma_max * (rng.permutation(m) + rng.random(m)) / max(m, 1)
    log_lo, log_hi = math.log(r.on_off_min), math.log(r.on_off_max)
    on_off = np.clip(np.exp(log_lo + (log_hi - log_lo) * (rng.permutation(m) + rng.random(m)) / max(m, 1)),
                     r.on_off_min, r.on_off_max)  # exp(log(x)) may land an ulp outside
    cells = rng.choice(np.asarray(r.cell_bits), size=m)
    rows_p = rng.choice(np.asarray(r.rows_parallel), size=m)
    randoms: list[tuple[SubnetConfig, dict[str, float]]] = []
    for j in range(m):
        level, adc = grid[int(strata[j])]
        cfg = spec.sample(rng, bits=levels[level])
        randoms.append((cfg, dict(adc_bits=adc, cell_bits=int(cells[j]), rows_parallel=int(rows_p[j]),
                                  sigma=float(sigma[j]), on_off_ratio=float(on_off[j]))))
    rows = [(cfg, dict(hw)) for cfg, hw in anchors + randoms]
    if space.per_layer_adc:  # every layer its own ADC: the row's stratum, moved a step up or down per layer
        layer_rng = np.random.default_rng([seed, 11])
        adc_levels = np.asarray(r.adc_bits)
        for j, (_, hw) in enumerate(rows):
            at = int(np.searchsorted(adc_levels, hw.pop("adc_bits")))
            moves = layer_rng.integers(-1, 2, size=spec.n_slots) if j >= len(anchors) else np.zeros(spec.n_slots, int)
            for i, k in enumerate(np.clip(at + moves, 0, len(adc_levels) - 1)):
                hw[f"adc_bits_{i}"] = int(adc_levels[k])
    arch = np.array([_subnet_values(cfg) for cfg, _ in rows], dtype=np.float64)
    cols: dict[str, pl.Series] = {
        "config_id": pl.Series("config_id", np.arange(n), dtype=pl.Int64),
        "anchor": pl.Series("anchor", [i < len(anchors) for i in range(n)], dtype=pl.Boolean),
    }
    for i, g in enumerate(space.arch_genes):
        cols[g.name] = pl.Series(g.name, arch[:, i]).cast(_gene_dtype(g.choices))
    for c in space.cim_columns:
        dtype = pl.Float64 if c in ("sigma", "on_off_ratio") else pl.Int64
        cols[c] = pl.Series(c, [hw[c] for _, hw in rows]).cast(dtype)
    return pl.DataFrame(list(cols.values()))


def subnet_from_row(spec: Family, row: dict[str, Any]) -> SubnetConfig:
    """The sub-network a table row describes (columns named as the genes), canonicalized."""

    def take(prefix: str, count: int, cast: type) -> tuple:
        try:
            return tuple(cast(row[f"{prefix}_{i}"]) for i in range(count))
        except KeyError as e:
            raise AccuracyError(f"the configuration table lacks the column {e.args[0]!r}") from None

    cfg = SubnetConfig(depths=take("depth", spec.n_stages, int), width_ratios=take("width", spec.n_width_slots, float),
                       kernels=take("kernel", spec.n_kernel_slots, int),
                       expand_ratios=take("expand", spec.n_expand_slots, float),
                       weight_bits=take("wbits", spec.n_slots, int), act_bits=take("abits", spec.n_slots, int))
    return spec.canonical(cfg)


def cim_from_row(row: dict[str, Any], seed: int) -> CIMSettings:
    """The crossbar simulation settings of a table row; ``seed`` draws its conductance variation."""
    per_layer: list[int] = []  # adc_bits_0, adc_bits_1, ... where the ADC bits vary per layer
    while f"adc_bits_{len(per_layer)}" in row:
        per_layer.append(int(row[f"adc_bits_{len(per_layer)}"]))
    try:
        return CIMSettings(adc_bits=max(per_layer) if per_layer else int(row["adc_bits"]),
                           cell_bits=int(row["cell_bits"]), rows_parallel=int(row["rows_parallel"]),
                           sigma=float(row["sigma"]), on_off_ratio=float(row["on_off_ratio"]), seed=seed,
                           layer_adc_bits=tuple(per_layer))
    except KeyError as e:
        raise AccuracyError(f"the configuration table lacks the column {e.args[0]!r}") from None


def row_seed(table_seed: int, config_id: int, draw: int = 0) -> int:
    """The variation seed of one row's ``draw``: independent of which shard or chunk measures it."""
    key = [table_seed, config_id] if draw == 0 else [table_seed, config_id, draw]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


def calibration_indices(n_train: int, settings: AccuracySettings) -> np.ndarray:
    """The fixed training-image subset used for BatchNorm recalibration of every row."""
    rng = np.random.default_rng([settings.seed, 7])
    return np.sort(rng.permutation(n_train)[: min(settings.calib_images, n_train)])


def measure_rows(model: Any, spec: Family, data: Any, configs_df: pl.DataFrame, settings: AccuracySettings,
                 device: str | Any = "cpu") -> pl.DataFrame:
    """``configs_df`` with the :data:`RESULT_COLUMNS` measured on the validation split.

    Each row: the supernet's weights as loaded (BatchNorm statistics restored, so a row never depends on
    the rows measured before it), BatchNorm recalibrated on :func:`calibration_indices` of the training
    split, then evaluated in CIM mode with the row's settings. A row with conductance variation is evaluated
    on independent variation draws (:func:`row_seed` of the row and draw) until :func:`enough_draws`; its
    accuracy and loss are the draws' means. One draw's accuracy spreads by points where a coarse ADC meets
    variation (on the demo, 1.2 points standard deviation between draws below 90 % accuracy, 0.5 above:
    ``python bench/accuracy_noise.py``), as much as the predictor fitted on the table may err, so the table
    stores the expectation over dies.
    """
    import torch

    from cimpipe.nn.evaluate import evaluate_calibrated, normalize_images, recalibrate_bn

    if len(data.val_y) == 0:
        raise AccuracyError("the prepared dataset has an empty validation split, so accuracies cannot be measured")
    n_eval = len(data.val_y) if settings.eval_images is None else min(settings.eval_images, len(data.val_y))
    val_x, val_y = np.array(data.val_x[:n_eval]), np.array(data.val_y[:n_eval])  # off the read-only memmap
    calib = np.array(data.train_x[calibration_indices(len(data.train_x), settings)])
    model = model.to(device)
    calib_batches = [normalize_images(calib[i: i + settings.batch_size], data.mean, data.std, device)
                     for i in range(0, len(calib), settings.batch_size)]
    pristine = {k: v.detach().clone() for k, v in model.state_dict().items()}
    acc, loss, draws, spread = [], [], [], []
    for row in configs_df.iter_rows(named=True):
        subnet = subnet_from_row(spec, row)
        config_id = int(row["config_id"])
        model.load_state_dict(pristine)
        recalibrate_bn(model, subnet, calib_batches)
        row_acc: list[float] = []
        row_loss: list[float] = []
        while not enough_draws(row_acc, float(row["sigma"]), n_eval, settings):
            seed = row_seed(settings.seed, config_id, len(row_acc))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                top1, draw_loss = evaluate_calibrated(model, subnet, cim_from_row(row, seed), val_x, val_y,
                                                      mean=data.mean, std=data.std, batch_size=settings.batch_size)
            if not (math.isfinite(top1) and math.isfinite(draw_loss)):
                raise AccuracyError(f"configuration {config_id} measured a non-finite accuracy or loss")
            row_acc.append(float(top1))
            row_loss.append(float(draw_loss))
        acc.append(float(np.mean(row_acc)))
        loss.append(float(np.mean(row_loss)))
        draws.append(len(row_acc))
        spread.append(float(np.std(row_acc, ddof=1)) if len(row_acc) > 1 else 0.0)
    model.load_state_dict(pristine)
    return configs_df.with_columns(
        pl.Series("accuracy", acc, dtype=pl.Float64),
        pl.Series("loss", loss, dtype=pl.Float64),
        pl.lit(n_eval, dtype=pl.Int64).alias("n_images"),
        pl.Series("draws", draws, dtype=pl.Int64),
        pl.Series("accuracy_std", spread, dtype=pl.Float64),
    )


def enough_draws(accuracies: Sequence[float], sigma: float, n_images: int, settings: AccuracySettings) -> bool:
    """Whether a row's variation draws measured so far pin its mean accuracy down.

    Without variation one draw is exact. Otherwise at least ``draws_min`` and at most ``draws_max`` draws;
    in between, stop once the standard error of the mean, ``s / sqrt(n)``, is at most ``draw_sem``. A spread
    ``s`` estimated from two or three draws is itself noisy, so it is taken as at least half the binomial
    standard deviation ``sqrt(p (1 - p) / n_images)`` of an accuracy ``p`` on ``n_images`` images (on the
    demo the draws spread about 0.7 times that): two draws that agree by chance do not stop a row in the
    steep region where a die's accuracy varies most.
    """
    n = len(accuracies)
    if n == 0:
        return False
    if sigma == 0:
        return True
    if n < settings.draws_min:
        return False
    if n >= settings.draws_max:
        return True
    p = float(np.mean(accuracies))
    spread = float(np.std(accuracies, ddof=1)) if n > 1 else 0.0
    s = max(spread, 0.5 * math.sqrt(p * (1 - p) / max(n_images, 1)))
    return s / math.sqrt(n) <= settings.draw_sem


# --------------------------------------------------------------------------------------------------
# Building, resuming and merging tables
# --------------------------------------------------------------------------------------------------


def _write_parquet_atomic(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        df.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(configs: pl.DataFrame, settings: AccuracySettings, supernet_path: Path, data_dir: Path,
                 shard: int, shards: int) -> str:
    """What a sidecar's chunks depend on; a sidecar with another fingerprint is discarded."""
    s = asdict(settings)
    s.pop("shards")
    payload = {
        "settings": s, "shard": shard, "shards": shards, "supernet": _file_digest(supernet_path),
        "data_dir": str(Path(data_dir).resolve()), "configs": configs.write_json(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def shard_rows(configs: pl.DataFrame, shard: int, shards: int) -> pl.DataFrame:
    """The rows one shard measures: ``config_id % shards == shard``."""
    if shards < 1 or not 0 <= shard < shards:
        raise AccuracyError(f"shard={shard} must lie in 0..{shards - 1} for shards={shards}")
    return configs.filter(pl.col("config_id") % shards == shard)


def build_table(supernet_path: str | Path, data_dir: str | Path, space: SearchSpace, settings: AccuracySettings,
                out_path: str | Path, *, shard: int = 0, shards: int = 1, progress: bool | None = None,
                device: str = "cpu") -> pl.DataFrame:
    """Measure this shard's rows of the accuracy table and write them to ``out_path`` (Parquet).

    Rows are measured in chunks of ``settings.chunk_rows``, each written atomically to
    ``out_path.with_suffix('.parts')/chunk_NNNNN.parquet``; a killed run started again skips the chunks
    already there, so the finished table is the same as an uninterrupted one. The sidecar is removed once
    ``out_path`` is in place. ``progress`` None shows a bar only on a terminal (a log gets a line at every
    10 % of the rows instead).
    """
    from cimpipe.data import load_prepared
    from cimpipe.progress import StepLines, on_terminal, progress_bar
    from cimpipe.train import load_supernet

    supernet_path, data_dir, out_path = Path(supernet_path), Path(data_dir), Path(out_path)
    if not supernet_path.is_file():
        raise AccuracyError(f"the supernet checkpoint {supernet_path} does not exist")
    configs = sample_configurations(space, settings.rows, settings.seed, settings)
    mine = shard_rows(configs, shard, shards)
    model, spec, _meta = load_supernet(supernet_path, device=device)
    if json.dumps(asdict(spec)) != json.dumps(asdict(space.spec)):
        raise AccuracyError(f"the supernet {supernet_path} was trained for another family than this search space")
    data = load_prepared(data_dir)

    parts = out_path.with_suffix(".parts")
    fingerprint = _fingerprint(mine, settings, supernet_path, data_dir, shard, shards)
    manifest = parts / "manifest.json"
    if parts.exists():
        try:
            same = json.loads(manifest.read_text()).get("fingerprint") == fingerprint
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "rows": mine.height}))
        os.replace(tmp, manifest)

    chunk = settings.chunk_rows
    starts = list(range(0, mine.height, chunk))
    done = [s for s in starts if (parts / f"chunk_{s // chunk:05d}.parquet").exists()]
    completed = sum(min(chunk, mine.height - s) for s in done)
    lines = StepLines(mine.height)
    with progress_bar(on_terminal() if progress is None else bool(progress)) as bar:
        task = bar.add_task(f"accuracy table shard {shard}", total=mine.height, completed=completed) if bar else None
        for s in starts:
            part = parts / f"chunk_{s // chunk:05d}.parquet"
            if part.exists():
                continue
            rows = mine.slice(s, chunk)
            measured = measure_rows(model, spec, data, rows, settings, device)
            _write_parquet_atomic(measured, part)
            completed += rows.height
            if bar:
                bar.advance(task, rows.height)
            else:
                lines(completed, f"accuracy table shard {shard}: {completed}/{mine.height} rows")

    table = pl.concat([pl.read_parquet(parts / f"chunk_{s // chunk:05d}.parquet") for s in starts]) \
        if starts else measure_rows(model, spec, data, mine, settings, device)
    if table["config_id"].to_list() != mine["config_id"].to_list():
        raise AccuracyError(f"the chunks under {parts} do not match this table's rows; delete that folder")
    _write_parquet_atomic(table, out_path)
    shutil.rmtree(parts, ignore_errors=True)
    return table


def merge_tables(paths: Iterable[str | Path], out_path: str | Path) -> pl.DataFrame:
    """Concatenate shard tables, sorted by ``config_id``; equals the table one unsharded job writes."""
    paths = [Path(p) for p in paths]
    frames = []
    for p in paths:
        if not p.is_file():
            raise AccuracyError(f"the accuracy table shard {p} does not exist")
        frames.append(pl.read_parquet(p))
    if not frames:
        raise AccuracyError("merge_tables needs at least one shard table")
    first = frames[0].columns
    for p, f in zip(paths, frames):
        if f.columns != first:
            raise AccuracyError(f"the accuracy table shard {p} has other columns than {paths[0]}")
    table = pl.concat(frames).sort("config_id")
    dup = table["config_id"].is_duplicated()
    if dup.any():
        raise AccuracyError(f"config_id {table['config_id'].filter(dup)[0]} appears in more than one shard")
    _write_parquet_atomic(table, Path(out_path))
    return table
