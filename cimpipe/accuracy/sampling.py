"""The accuracy table's rows: which configurations to measure, and each row as a sub-network and CIM settings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import polars as pl

from cimpipe.accuracy.settings import AccuracyError, AccuracySettings
from cimpipe.space import ON_OFF_CAP, SIGN_ENCODINGS, CIMSettings, Family, SearchSpace, SubnetConfig


@dataclass(frozen=True)
class CIMRanges:
    """The CIM settings the table covers, derived from the hardware space and its technologies."""

    adc_bits: tuple[int, ...]
    cell_bits: tuple[int, ...]
    rows_parallel: tuple[int, ...]
    sign_encoding: tuple[int, ...]  # codes into SIGN_ENCODINGS, ascending (0 offset, 1 differential)
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
            sign_encoding=tuple(sorted(SIGN_ENCODINGS.index(e) for e in hw.sign_encoding)),
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
    hardware (most ADC bits, fewest cell bits, fewest rows in parallel, no variation, highest on/off,
    differential arrays where the space has them) and
    with the harshest hardware (the opposite of each). The random rows cycle through every (bit level, ADC
    bits) pair: a bit level restricts each layer's bits to three neighbouring choices, or to all of them for
    the last level, so networks quantized uniformly low or high are as common as mixed ones. The sign
    encoding, cell bits and rows in parallel are drawn uniformly from the space's choices. Sigma and the
    on/off ratio are Latin-hypercube stratified over ``[0, max sigma]`` and log-uniform over the
    settings' on/off range. With ADC bits per layer, the anchors give every layer the same ADC and each
    random row moves each layer's ADC one step up or down from its stratum (or keeps it), at random.
    Deterministic under ``seed``.
    """
    r = CIMRanges.of(space, settings)
    anchors = _anchor_rows(space.spec, r)
    if n < len(anchors):
        raise AccuracyError(f"accuracy.rows={n} must be at least {len(anchors)}, the number of fixed anchor rows")
    randoms = _random_rows(space.spec, r, n - len(anchors), np.random.default_rng(seed))
    rows = [(cfg, dict(hw)) for cfg, hw in anchors + randoms]  # the anchors share their hardware dicts
    if space.per_layer_adc:
        _spread_adc_over_layers(space.spec, r, rows, len(anchors), np.random.default_rng([seed, 11]))
    return _rows_frame(space, rows, len(anchors))


Row = tuple[SubnetConfig, dict[str, float]]


def _anchor_rows(spec: Family, r: CIMRanges) -> list[Row]:
    """The fixed extremes: the largest and smallest members at the highest and lowest bit-widths, on ideal-ish
    and on the harshest hardware."""
    ideal = dict(adc_bits=r.adc_bits[-1], cell_bits=r.cell_bits[0], rows_parallel=r.rows_parallel[0],
                 sigma=0.0, on_off_ratio=r.on_off_max, sign_encoding=r.sign_encoding[-1])
    harsh = dict(adc_bits=r.adc_bits[0], cell_bits=r.cell_bits[-1], rows_parallel=r.rows_parallel[-1],
                 sigma=r.sigma_max, on_off_ratio=r.on_off_min, sign_encoding=r.sign_encoding[0])
    big, small = spec.canonical(spec.largest()), spec.canonical(spec.smallest())
    big_low = spec.canonical(spec.largest(min(spec.bit_choices)))
    small_high = spec.canonical(spec.smallest(max(spec.bit_choices)))
    return [
        (big, ideal),
        (small, harsh),
        (big_low, ideal),
        (small_high, ideal),
        (small, ideal),
        (big, {**ideal, "adc_bits": r.adc_bits[0]}),
        (big, {**ideal, "sigma": r.sigma_max, "on_off_ratio": r.on_off_min}),
        (big, {**ideal, "cell_bits": r.cell_bits[-1], "rows_parallel": r.rows_parallel[-1]}),
    ]


def _random_rows(spec: Family, r: CIMRanges, m: int, rng: np.random.Generator) -> list[Row]:
    """``m`` rows cycling through every (bit level, ADC bits) stratum, sigma and on/off Latin-hypercube
    stratified (see :func:`sample_configurations`)."""
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
    encodings = rng.choice(np.asarray(r.sign_encoding), size=m)
    randoms: list[Row] = []
    for j in range(m):
        level, adc = grid[int(strata[j])]
        cfg = spec.sample(rng, bits=levels[level])
        randoms.append((cfg, dict(adc_bits=adc, cell_bits=int(cells[j]), rows_parallel=int(rows_p[j]),
                                  sigma=float(sigma[j]), on_off_ratio=float(on_off[j]),
                                  sign_encoding=int(encodings[j]))))
    return randoms


def _spread_adc_over_layers(spec: Family, r: CIMRanges, rows: list[Row], n_anchors: int,
                            rng: np.random.Generator) -> None:
    """Every layer its own ADC, in place: the row's stratum, moved a step up or down per layer (anchors keep
    one ADC for all layers)."""
    adc_levels = np.asarray(r.adc_bits)
    for j, (_, hw) in enumerate(rows):
        at = int(np.searchsorted(adc_levels, hw.pop("adc_bits")))
        moves = rng.integers(-1, 2, size=spec.n_slots) if j >= n_anchors else np.zeros(spec.n_slots, int)
        for i, k in enumerate(np.clip(at + moves, 0, len(adc_levels) - 1)):
            hw[f"adc_bits_{i}"] = int(adc_levels[k])


def _rows_frame(space: SearchSpace, rows: list[Row], n_anchors: int) -> pl.DataFrame:
    n = len(rows)
    arch = np.array([_subnet_values(cfg) for cfg, _ in rows], dtype=np.float64)
    cols: dict[str, pl.Series] = {
        "config_id": pl.Series("config_id", np.arange(n), dtype=pl.Int64),
        "anchor": pl.Series("anchor", [i < n_anchors for i in range(n)], dtype=pl.Boolean),
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
                           layer_adc_bits=tuple(per_layer), sign_encoding=SIGN_ENCODINGS[int(row["sign_encoding"])])
    except KeyError as e:
        raise AccuracyError(f"the configuration table lacks the column {e.args[0]!r}") from None


def row_seed(table_seed: int, config_id: int, draw: int = 0) -> int:
    """The variation seed of one row's ``draw``: independent of which shard or chunk measures it."""
    key = [table_seed, config_id] if draw == 0 else [table_seed, config_id, draw]
    return int(np.random.SeedSequence(key).generate_state(1)[0])
