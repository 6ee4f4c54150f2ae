"""Mapping of layers onto tiles, PEs and subarrays, vectorized over designs (NeuroSim Chip.cpp).

Every tensor is float64 shaped [D, L] (designs x layers) or [D]. The rules are NeuroSim's
(ChipDesignInitialize, ChipFloorPlan, TileDesignCM/NM, PEDesign, SubArrayDup, OverallEachLayer):

* a layer's unrolled matrix has ``C_in*K*K`` rows and ``C_out*ceil(w_bits/cell_bits)`` columns;
* "novel" mapping for layers whose K*K equals the most frequent K*K > 1 and whose ``C_in*K*K`` reaches the
  subarray height: the kernel is split by position over K*K PEs of ``C_in`` rows each;
* tile (conventional) and PE (novel) sizes are powers of two found by maximizing memory utilization,
  starting from the largest layer and halving; PE size of conventional tiles likewise with duplication;
* small layers are duplicated at PE and subarray level (speed-up); pipelined chips also replicate tiles
  by ``ceil((IFM/boundIFM)^2 / dup)``.

NeuroSim tries the candidate sizes one after the other, keeping the first that beats the best utilization
so far. Here every candidate power of two is evaluated at once ([D, E, L'] tensors, E candidates, L' the
layer slots that can take part) and the winner is the first maximum, which is the same choice. Tile and
cell counts are integers, so they are computed in float32 where every value stays below 2^24 (exact) and
in float64 otherwise; the results do not depend on that choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor

MAX_SPEEDUP_DEGREE = 8  # NeuroSim's speedUpDegree
_F32_EXACT = 2.0**24  # integers below this are exact in float32


@dataclass(frozen=True)
class Mapping:
    """The floorplan of every design. [D] tensors unless marked [D, L]."""

    novel: Tensor  # [D, L] bool, layer uses novel mapping
    tile_size_cm: Tensor  # conventional tile edge (rows = cols)
    pe_size_cm: Tensor
    pe_size_nm: Tensor
    num_pe_nm: Tensor  # PEs per novel tile (K*K)
    tiles: Tensor  # [D, L] tiles per layer
    tile_rows: Tensor  # [D, L] tiles along the matrix rows (number of partial sums to add across tiles)
    speedup: Tensor  # [D, L] duplication of the layer's weights
    utilization: Tensor  # [D, L] memory utilization of the layer's tiles
    tiles_cm: Tensor
    tiles_nm: Tensor
    total_tiles: Tensor
    chip_utilization: Tensor
    rows_layer: Tensor  # [D, L] rows of the matrix one PE group holds: C_in (novel) or C_in*K*K
    subarray_rows: Tensor  # [D, L] ceil(rows_layer / subarray)
    kernel_split: Tensor  # [D, L] PEs a layer's kernel is split over: K*K (novel) or 1


def _pow2_ceil(x: Tensor) -> Tensor:
    return torch.pow(2.0, torch.ceil(torch.log2(torch.clamp(x, min=1.0))))


def _log2_int(x: float) -> int:
    """Exponent of a power of two given as a float (exact)."""
    return int(x).bit_length() - 1


def _most_frequent_kernel(kk: Tensor, active: Tensor) -> Tensor:
    """NeuroSim's numPENM: the K*K (>1) shared by most active layers; first in layer order on ties.

    Ranks each candidate value by ``count*(L+1) + (L - first position)`` (0 when absent), so the largest
    score is the most frequent value and, among equally frequent ones, the one met first.
    """
    d, n_layers = kk.shape
    col_lo, col_hi = kk.amin(dim=0), kk.amax(dim=0)
    if bool(torch.equal(col_lo, col_hi)):  # one K*K per layer slot: the candidates are the slots' values
        values = torch.unique(col_lo).tolist()
    else:
        values = torch.unique(kk).tolist()
    valid = active & (kk > 1)
    weight = torch.arange(n_layers, 0, -1, dtype=kk.dtype)  # L - position
    best_score = torch.zeros(d, dtype=kk.dtype)
    best_kk = torch.zeros(d, dtype=kk.dtype)
    for value in values:
        if value <= 1:
            continue
        hit = (valid & (kk == value)).to(kk.dtype)
        score = hit.sum(dim=1) * (n_layers + 1) + (hit * weight).amax(dim=1)
        better = score > best_score
        best_score = torch.where(better, score, best_score)
        best_kk = torch.where(better, torch.full_like(best_kk, value), best_kk)
    return best_kk


def _used_columns(mask: Tensor) -> Tensor | None:
    """Indices of the layer slots where ``mask`` holds for some design (None: all of them)."""
    used = mask.any(dim=0)
    if bool(used.all()):
        return None
    return used.nonzero().squeeze(1)


def _take(x: Tensor, cols: Tensor | None) -> Tensor:
    return x if cols is None else x.index_select(1, cols)


def _counting_dtype(bound: float) -> torch.dtype:
    return torch.float32 if bound < _F32_EXACT else torch.float64


def _tile_counts(r: Tensor, c: Tensor, inv_sizes: Tensor, n_layers: int) -> Tensor:
    """[D, E] sum over layers of ceil(r/size)*ceil(c/size) for every candidate size (r, c [D, L'] zero where
    a layer does not take part; ``inv_sizes`` [E] reciprocals of powers of two, so the products are exact)."""
    if r.shape[1] == 0:
        return torch.zeros(r.shape[0], inv_sizes.shape[0], dtype=torch.float64)
    bound = n_layers * float(torch.ceil(r.max() * inv_sizes.max())) * float(torch.ceil(c.max() * inv_sizes.max()))
    dt = _counting_dtype(bound)
    inv = inv_sizes.to(dt)[None, :, None]
    rr = torch.ceil(r.to(dt)[:, None, :] * inv)
    cc = torch.ceil(c.to(dt)[:, None, :] * inv)
    return (rr * cc).sum(dim=2).to(torch.float64)


def _first_best(util: Tensor, ok: Tensor, sizes: Tensor, size0: Tensor, best0: Tensor) -> tuple[Tensor, Tensor]:
    """The sequential search's outcome: the first candidate (in ``sizes`` order) with the largest utilization
    among the allowed ones, if it beats ``best0``; else ``size0``. Returns (size, best utilization)."""
    masked = torch.where(ok, util, torch.full_like(util, -1.0))
    idx = masked.argmax(dim=1)  # first maximum
    top = masked.gather(1, idx[:, None]).squeeze(1)
    take = top > best0
    size = torch.where(take, sizes[idx], size0)
    best = torch.where(take, top, best0)
    return size, best


def map_network(
    rows: Tensor,
    cols: Tensor,
    c_in: Tensor,
    kk: Tensor,
    ifm: Tensor,
    active: Tensor,
    subarray: Tensor,
    pipeline: Tensor,
    grouped: Tensor | None = None,
    novel_mapping: Tensor | None = None,
) -> Mapping:
    """Floorplan of a batch. ``rows``=C_in*K*K, ``cols``=C_out*cells per weight, ``kk``=K*K, ``ifm``=IFM height
    (all [D, L]); ``active`` [D, L] bool; ``subarray`` [D] edge of one subarray (a power of two);
    ``pipeline`` [D] bool; ``grouped`` [D, L] bool marks grouped (depthwise) layers, which are mapped
    conventionally as their dense block-diagonal matrix (NeuroSim's novel mapping splits a dense kernel);
    ``novel_mapping`` [D] bool is NeuroSim's ``novelMapping`` switch (None: on for every design; off maps every
    layer conventionally)."""
    f64 = rows.dtype
    d, n_layers = rows.shape
    n = subarray[:, None]
    dense = active if grouped is None else active & ~grouped
    if novel_mapping is not None:
        dense = dense & novel_mapping[:, None]
    num_pe_nm = _most_frequent_kernel(kk, dense)
    novel = dense & (kk == num_pe_nm[:, None]) & (rows >= n)  # num_pe_nm is 0 or a K*K > 1
    conv = active & ~novel
    novel_f, conv_f = novel.to(f64), conv.to(f64)
    active_f = active.to(f64)
    matrix = rows * cols
    ppe = torch.clamp(num_pe_nm, min=1.0)
    cols_nm, cols_cm = cols * novel_f, cols * conv_f  # zero where the layer takes no part
    widest_nm, widest_cm = cols_nm.amax(dim=1), cols_cm.amax(dim=1)
    max_pe_nm = _pow2_ceil(widest_nm) * (widest_nm > 0)
    max_tile_cm = _pow2_ceil(widest_cm) * (widest_cm > 0)
    e_floor = _log2_int(float(subarray.min())) + 1  # log2 of the smallest 2*subarray
    two_n = 2 * subarray

    # novel-mapped tiles: PE size search over p in (2n, max(max_pe_nm, 2n)]
    size0_nm = torch.maximum(max_pe_nm, two_n)
    e_hi = _log2_int(float(size0_nm.max()))
    if e_hi > e_floor:
        sizes = torch.pow(2.0, torch.arange(e_hi, e_floor, -1, dtype=f64))
        sel = _used_columns(novel)
        t = _tile_counts(_take(c_in * novel_f, sel), _take(cols_nm, sel), 1.0 / sizes,
                         n_layers if sel is None else len(sel))
        ok = (sizes[None, :] <= size0_nm[:, None]) & (sizes[None, :] > two_n[:, None])
        util = (matrix * novel_f).sum(dim=1)[:, None] / torch.clamp(t * sizes * sizes * ppe[:, None], min=1.0)
        pe_nm, _ = _first_best(util, ok, sizes, size0_nm, torch.zeros_like(size0_nm))
    else:
        pe_nm = size0_nm

    # conventional tiles: tile size search over t in (4n, max(max_tile_cm, 4n)]; the counts include every
    # size down to 2n so the starting size's tile count can be read off too
    four_n = 4 * subarray
    size0_cm = torch.maximum(max_tile_cm, four_n)
    e_hi = _log2_int(float(size0_cm.max()))
    sizes = torch.pow(2.0, torch.arange(e_hi, e_floor - 1, -1, dtype=f64))
    sel_cm = _used_columns(conv)
    rows_cm = rows * conv_f
    counts = _tile_counts(_take(rows_cm, sel_cm), _take(cols_cm, sel_cm), 1.0 / sizes,
                          n_layers if sel_cm is None else len(sel_cm))
    ok = (sizes[None, :] <= size0_cm[:, None]) & (sizes[None, :] > four_n[:, None])
    matrix_cm = (matrix * conv_f).sum(dim=1)
    util = matrix_cm[:, None] / torch.clamp(counts * sizes * sizes, min=1.0)
    tile_cm, util_cm = _first_best(util, ok, sizes, size0_cm, torch.zeros_like(size0_cm))
    at = torch.round(e_hi - torch.log2(tile_cm)).to(torch.int64)
    tiles_cm_total = counts.gather(1, at[:, None]).squeeze(1)

    # PE size of conventional tiles, p in (2n, max(t/2, 2n)], with PE-level duplication of small layers:
    # utilization = sum(dr*dc*matrix) / (tiles * t^2), dr = max(floor(ceil(t/p) / ceil(rows/p)), 1)
    t_col = tile_cm[:, None]
    small_pe = conv & ((rows <= t_col) | (cols <= t_col))
    half = tile_cm / 2
    size0_pe = torch.maximum(half, two_n)
    e_hi = _log2_int(float(size0_pe.max()))
    cap_cm = torch.clamp(tiles_cm_total * tile_cm * tile_cm, min=1.0)
    if e_hi > e_floor:
        sizes = torch.pow(2.0, torch.arange(e_hi, e_floor, -1, dtype=f64))
        ok = (sizes[None, :] <= size0_pe[:, None]) & (sizes[None, :] > two_n[:, None])
        base = matrix_cm
        sel = _used_columns(small_pe)
        if sel is None or len(sel) > 0:
            inv = (1.0 / sizes)[None, :, None]
            per = torch.ceil(tile_cm[:, None] / sizes[None, :])[:, :, None]  # [D, E, 1]
            r_s, c_s = _take(rows, sel)[:, None, :], _take(cols, sel)[:, None, :]
            dr = torch.clamp(torch.floor(per / torch.ceil(r_s * inv)), min=1.0)
            dc = torch.clamp(torch.floor(per / torch.ceil(c_s * inv)), min=1.0)
            m_small = _take(matrix * small_pe.to(f64), sel)[:, None, :]
            extra = ((dr * dc - 1.0) * m_small).sum(dim=2)  # integers: exact in any order
            summed = base[:, None] + extra
        else:
            summed = base[:, None].expand(d, len(sizes))
        util = summed / cap_cm[:, None]
        pe_cm, _ = _first_best(util, ok, sizes, size0_pe, util_cm)
    else:
        pe_cm = size0_pe
    pe_cm = torch.where(half > two_n, pe_cm, half)
    one = torch.ones_like(rows)

    # PE- and subarray-level duplication: max(floor(ceil(P/p) / ceil(rows/p)), 1) along rows, likewise along
    # columns. With p dividing P, a layer that is not small (rows > P and cols > P) gets 1 from the formula
    # itself, so only the conventional/novel choice needs a mask. Inactive slots get values nobody reads.
    p_col = pe_cm[:, None]
    sel = _used_columns(small_pe)
    if sel is None or len(sel) > 0:
        per = t_col / p_col
        r_s, c_s, p_s = _take(rows, sel), _take(cols, sel), p_col
        dr = torch.clamp(torch.floor(per / torch.ceil(r_s / p_s)), min=1.0)
        dc = torch.clamp(torch.floor(per / torch.ceil(c_s / p_s)), min=1.0)
        pe_dup_s = torch.where(_take(conv, sel), dr * dc, 1.0)
        pe_dup = pe_dup_s if sel is None else one.index_copy(1, sel, pe_dup_s)
    else:
        pe_dup = one
    p_layer = torch.where(novel, pe_nm[:, None], p_col)
    r_layer = torch.where(novel, c_in, rows)
    per = p_layer / n  # a power of two >= 2
    sub_rows = torch.ceil(r_layer / n)
    sr = torch.clamp(torch.floor(per / sub_rows), min=1.0)
    sc = torch.clamp(torch.floor(per / torch.ceil(cols / n)), min=1.0)
    dup = pe_dup * (sr * sc)

    # pipeline replication
    max_ifm = (ifm * active_f).amax(dim=1)
    conv_layers = active & (kk > 1)
    min_ifm = torch.where(conv_layers, ifm, torch.full_like(ifm, float("inf"))).amin(dim=1)
    min_ifm = torch.where(torch.isfinite(min_ifm), min_ifm, max_ifm)
    degree = torch.clamp(torch.floor(max_ifm / torch.clamp(min_ifm, min=1.0)), min=1.0, max=MAX_SPEEDUP_DEGREE)
    bound = torch.clamp(torch.ceil(max_ifm / degree), min=1.0)  # >= 1 also for a design without layers
    if bool(pipeline.any()):
        pipe_speed = torch.ceil((ifm / bound[:, None]) ** 2)
        replicate = torch.where(pipeline[:, None], torch.ceil(pipe_speed / dup), one)
        eff_dup = torch.where(pipeline[:, None], torch.maximum(pipe_speed, dup), dup)
    else:
        replicate, eff_dup = one, dup

    edge = torch.where(novel, pe_nm[:, None], t_col)
    tile_rows = torch.ceil(r_layer / edge) * active_f
    tiles = tile_rows * replicate * torch.ceil(cols / edge)
    kernel_split = torch.where(novel, num_pe_nm[:, None], one)
    cap = edge * edge * kernel_split
    utilization = torch.where(active, eff_dup * matrix / torch.clamp(tiles * cap, min=1.0), 0.0)
    speedup = torch.where(active, dup * replicate, one)
    tiles_cm = (tiles * conv_f).sum(dim=1)
    total = tiles.sum(dim=1)
    tiles_nm = total - tiles_cm  # integers: exact
    chip_util = (tiles * utilization).sum(dim=1) / torch.clamp(total, min=1.0)
    return Mapping(
        novel=novel,
        tile_size_cm=tile_cm,
        pe_size_cm=pe_cm,
        pe_size_nm=pe_nm,
        num_pe_nm=num_pe_nm,
        tiles=tiles,
        tile_rows=tile_rows,
        speedup=speedup,
        utilization=utilization,
        tiles_cm=tiles_cm,
        tiles_nm=tiles_nm,
        total_tiles=total,
        chip_utilization=chip_util,
        rows_layer=r_layer,
        subarray_rows=sub_rows,
        kernel_split=kernel_split,
    )


@dataclass(frozen=True)
class DimensionCut:
    """One dimension of a conventional layer's matrix cut into tiles, PEs and subarrays ([D, L]): per unit
    counted (``*_sub``: subarrays, ``*_pe``: PEs) the summed weight of the used PEs (``total``), the empty PE
    slots of the last tile times the weight of its last PE (``gap``), the summed weight of every tile's last
    PE (``last``); and ``first_pe_sub``, the subarrays of each tile's first PE block."""

    total_sub: Tensor
    gap_sub: Tensor
    last_sub: Tensor
    total_pe: Tensor
    gap_pe: Tensor
    last_pe: Tensor
    first_pe_sub: Tensor


def cut_dimension(n: Tensor, tile: Tensor, pe: Tensor, sub: Tensor) -> DimensionCut:
    """:class:`DimensionCut` of ``n`` cells on tiles of ``tile``, PEs of ``pe`` and subarrays of ``sub``
    (powers of two, ``sub`` dividing ``pe`` dividing ``tile``)."""
    tiles = torch.ceil(n / tile)
    last = n - (tiles - 1) * tile
    pes_last = torch.ceil(last / pe)
    side = tile / pe
    w_last = torch.ceil((last - (pes_last - 1) * pe) / sub)
    return DimensionCut(
        total_sub=(tiles - 1) * (tile / sub) + torch.ceil(last / sub), gap_sub=(side - pes_last) * w_last,
        last_sub=(tiles - 1) * (pe / sub) + w_last, total_pe=(tiles - 1) * side + pes_last, gap_pe=side - pes_last,
        last_pe=tiles,
        first_pe_sub=(tiles - 1) * torch.ceil(torch.minimum(tile, pe) / sub) + torch.ceil(torch.minimum(last, pe) / sub))


def conventional_slot_repeat(row: tuple[Tensor, Tensor, Tensor], col: tuple[Tensor, Tensor, Tensor],
                             pes_per_side: Tensor, applies: Tensor) -> Tensor:
    """[D, L] factor on the PE-level energy of a conventional layer without duplication, as NeuroSim charges it.

    Tile.cpp TileCalculatePerformance (conventional mapping, no duplication) visits all numPE x numPE PE
    slots of a tile and adds the PE energies after the test for a used slot, so an empty slot repeats the
    last PE it computed (row-major order): a slot right of a PE row's last used PE repeats that PE, and every
    slot of an empty PE row repeats the tile's last PE. A PE's energy is taken as separable, its row share
    times its column share (``row`` and ``col``: (total, gap, last) of :class:`DimensionCut` in the units
    each share counts); the factor is the charged over the used sum (1 where ``applies`` is False)."""
    a_total, a_gap, _ = row
    b_total, b_gap, b_last = col
    used = torch.clamp(a_total * b_total, min=1.0)
    charged = a_total * (b_total + b_gap) + pes_per_side * a_gap * b_last
    return torch.where(applies, charged / used, torch.ones_like(used))


def full_duplication_share(row: DimensionCut, col: DimensionCut, applies: Tensor) -> Tensor:
    """[D, L] share of a conventional layer's subarrays that NeuroSim charges when its tiles are fully
    duplicated over their PEs but each PE's own subarrays are not (speedUpRow and speedUpCol at least numPE,
    ceil(speedUp / numPE) = 1 along both): Tile.cpp hands one PE the whole tile matrix, and
    ProcessingUnitCalculatePerformance (no subarray duplication) reads only the subarrays of one PE,
    numSubArrayRow x numSubArrayCol, so a tile matrix larger than a PE is charged its first PE's block
    (1 where ``applies`` is False)."""
    share = row.first_pe_sub * col.first_pe_sub / torch.clamp(row.total_sub * col.total_sub, min=1.0)
    return torch.where(applies, share, torch.ones_like(share))
