"""The predictor's inputs: the design's gene values and CIM settings scaled (:func:`features`), and what the
crossbar does to each layer's signal (:func:`crossbar_features`); how the error rate moves with each."""

from __future__ import annotations

import numpy as np

from cimpipe.space import CIM_COLUMNS, ON_OFF_CAP, SearchSpace, split_cim


DERIVED_TRENDS = (-1, -1, -1, -1, 0, -1, 0, 0, 1, -1, 0)
"""How a design's error rate moves as each derived column of :func:`features` grows, all else equal: mean and
least weight bits, mean and least activation bits, MACs (either way), ADC bits, cell bits and rows in
parallel (either way: they trade the ADC's range against the read count), sigma, on/off ratio, sign encoding
(0 offset, 1 differential: either way, as the crossbar's noise features carry its effect)."""


def feature_trends(space: SearchSpace) -> np.ndarray:
    """int [F] for the columns of :func:`features`: -1 where a larger value can only lower the expected error
    rate (more weight or activation bits, a finer ADC, a higher on/off ratio), +1 where it can only raise it
    (more device variation), 0 where it may go either way (depths, widths, kernels, expansion, cell bits, rows
    read in parallel). The predictor's trees are constrained to these trends."""
    genes = [-1 if g.name.startswith(("wbits_", "abits_")) else 0 for g in space.arch_genes]
    return np.array(genes + list(DERIVED_TRENDS), dtype=np.int64)


def features(space: SearchSpace, arch_values: np.ndarray, cim_values: np.ndarray,
             layers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The predictor's input: float32 [D, F] from architecture values and CIM settings.

    Each gene value is scaled to [0, 1] over its choices (inactive slots carry the canonical largest choice,
    so they never look like small layers); the CIM settings enter as log2 / log10 of their physical values.
    A few derived columns (mean and minimum active bits, relative MAC count) help a small model. ``layers``:
    the designs' :meth:`SearchSpace.layer_arrays`, where the caller has them already.
    """
    arch_values = space.canonical_arch_values(arch_values)
    lo = np.array([min(float(c) for c in g.choices) for g in space.arch_genes])
    hi = np.array([max(float(c) for c in g.choices) for g in space.arch_genes])
    scaled = (arch_values - lo) / np.where(hi > lo, hi - lo, 1.0)
    parts = split_cim(cim_values, space.spec.n_slots)
    cell, rows, sigma, onoff, encoding = (parts[c][:, 0] for c in CIM_COLUMNS[1:])
    if layers is None:
        layers = space.layer_arrays(space.genes_from_arch_values(arch_values))
    act = layers["active"]
    macs = (layers["ifm_h"] * layers["ifm_w"] * layers["c_in"] * layers["k"] ** 2 * layers["c_out"] / layers["groups"]
            * act).sum(1)
    macs_max = space.largest_macs()
    wb = np.where(act, layers["weight_bits"], np.nan)
    ab = np.where(act, layers["input_bits"], np.nan)
    adc = np.nanmean(np.where(act, parts["adc_bits"], np.nan), 1)  # mean over the active layers
    derived = np.stack([
        np.nanmean(wb, 1) / 8, np.nanmin(wb, 1) / 8, np.nanmean(ab, 1) / 8, np.nanmin(ab, 1) / 8,
        np.log10(np.maximum(macs, 1.0)) / max(np.log10(macs_max), 1.0),
        adc / 8, cell / 4, np.log2(rows) / 8, sigma * 10, np.log10(np.minimum(onoff, ON_OFF_CAP)) / 6, encoding,
    ], axis=1)
    return np.concatenate([scaled, derived], axis=1).astype(np.float32)


NSR_FLOOR = 1e-6
"""Noise-to-signal ratios below this read as this in the log-scaled crossbar features (an error of 0.1 %)."""


def crossbar_features(space: SearchSpace, arch: np.ndarray, cim: np.ndarray,
                      layers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """float32 [D, 7 + 2 * n_slots]: how far each design's ADC falls short of its partial sums' range, and the
    noise the crossbar adds to each layer relative to its signal.

    Per active weight layer, with the arrays of :mod:`cimpipe.nn.cim` (``m = w_bits - 1`` magnitude bits;
    differential: ``S = ceil(m / cell_bits)`` cells in each of two arrays; offset: ``S = ceil(w_bits /
    cell_bits)`` cells of one array, each holding a mid-range level on average; input bits fed serially):

    * ADC range: one read of ``r = min(rows_parallel, c_in * k * k)`` cells sums to at most
      ``F = r * (2**min(cell_bits, m) - 1 + g_off)`` level steps, ``g_off = (2**cell_bits - 1) / (on_off - 1)``
      the off-state conductance (NeuroSim's partial-sum range). The shortfall ``max(0, log2 F - adc_bits)``
      is the ADC bits missing to resolve every level.
    * ADC noise: an ADC step ``q = F / (2**adc_bits - 1)`` (the dynamic ADC's references span the sums' range,
      not the cells' levels) rounds each partial sum by ``q**2 / 12`` in variance (uniform quantization
      noise); the shift-add weighs slice ``s`` by ``2**(cell_bits * s)`` and input bit ``t`` by ``2**t``,
      over ``ceil(fan_in / r)`` row groups and the arrays (two or one). Relative to the variance of the exact dot product (uniform codes:
      ``fan_in * E[x^2] * E[w^2]``, ``E[w^2] = (2**m - 1)**2 / 3``) that is
      ``NSR_adc = 2 * groups * q**2 / 12 * sum_s 4**(cell_bits * s) * 3 / (2**m - 1)**2 / fan_in``.
    * Variation: every cell's conductance is scaled by ``1 + sigma * N(0, 1)``, an on cell's error is
      ``sigma`` of its weight share and each of the ``2 S`` cells adds ``sigma * g_off`` of its slice's weight
      even when off, so ``NSR_var = sigma**2 * (1 + 2 g_off**2 * sum_s 4**(cell_bits * s) * 3 / (2**m - 1)**2)``
      for differential arrays; with offset encoding every cell's whole conductance varies, ``NSR_var = sigma**2 *
      E[(l + g_off)**2] * sum_s 4**(cell_bits * s) * 3 / (2**m - 1)**2`` (levels ``l`` uniform).

    Columns: the shortfall's maximum, mean, MAC-weighted mean and share of layers short (over 4 bits);
    ``log10`` of the summed and the largest layer NSR (over 6, floored at :data:`NSR_FLOOR`); the shortfall per
    slot; ``log10`` NSR per slot. The demo table's accuracy falls off a cliff where these grow: a coarse ADC
    on wide row groups. ``layers``: the designs' :meth:`SearchSpace.layer_arrays`, where the caller has them.
    """
    if layers is None:
        layers = space.layer_arrays(space.genes_from_arch_values(arch))
    active = layers["active"]
    parts = split_cim(cim, space.spec.n_slots)
    # rows one column sums over: a grouped (depthwise) layer's block-diagonal column holds only its group's
    fan_in = np.maximum(layers["c_in"] / layers["groups"] * layers["k"] ** 2, 1.0)
    adc, cell, rows = parts["adc_bits"], parts["cell_bits"], parts["rows_parallel"]  # adc: [D, 1] or per layer
    sigma, on_off = parts["sigma"], np.minimum(parts["on_off_ratio"], 1e6)
    diff = parts["sign_encoding"] >= 0.5  # [D, 1]: differential arrays
    mag = np.maximum(layers["weight_bits"] - 1, 1.0)  # magnitude bits of a signed weight
    stored = np.where(diff, mag, layers["weight_bits"])  # bits one array stores per weight
    r = np.maximum(np.minimum(rows, fan_in), 1.0)
    g_off = (2.0 ** cell - 1) / (on_off - 1)
    full = r * (2.0 ** np.minimum(cell, stored) - 1 + g_off)
    short = np.where(active, np.maximum(np.log2(full) - adc, 0.0), 0.0)
    step = full / (2.0 ** adc - 1)
    slices = np.ceil(stored / cell)
    slice_gain = (4.0 ** (cell * slices) - 1) / (4.0 ** cell - 1) * 3 / (2.0 ** mag - 1) ** 2
    groups = np.ceil(fan_in / r)
    arrays = np.where(diff, 2.0, 1.0)
    nsr_adc = arrays * groups * step ** 2 / 12 * slice_gain / fan_in
    level_max = 2.0 ** cell - 1
    mid_square = level_max * (2 * level_max + 1) / 6 + g_off * level_max + g_off ** 2  # E[(l + g_off)^2], uniform l
    nsr_var = sigma ** 2 * np.where(diff, 1 + 2 * g_off ** 2 * slice_gain, mid_square * slice_gain)
    nsr = np.where(active, nsr_adc + nsr_var, 0.0)
    n_active = active.sum(1)
    macs = layers["ifm_h"] * layers["ifm_w"] * fan_in * layers["c_out"] * active

    def log_nsr(x: np.ndarray) -> np.ndarray:
        return np.log10(np.maximum(x, NSR_FLOOR)) / 6

    summary = np.stack([
        short.max(1) / 4, short.sum(1) / n_active / 4, (short * macs).sum(1) / np.maximum(macs.sum(1), 1.0) / 4,
        (short > 0).sum(1) / n_active, log_nsr(nsr.sum(1)), log_nsr(nsr.max(1)),
        log_nsr(np.where(active, nsr_adc, 0.0).sum(1)),
    ], axis=1)
    return np.concatenate([summary, short / 4, log_nsr(nsr)], axis=1).astype(np.float32)


def predictor_trends(space: SearchSpace) -> np.ndarray:
    """int [F]: how the expected error rate moves with each column of :meth:`Predictor.features`: the trends of
    :func:`feature_trends`, then +1 for every column of :func:`crossbar_features` (a larger ADC
    shortfall or crossbar noise never helps)."""
    n_xbar = 7 + 2 * space.spec.n_slots
    return np.concatenate([feature_trends(space), np.ones(n_xbar, dtype=np.int64)])
