"""Dynamic energy of NeuroSim V1.4's "accumulation" bucket, per layer ([D, L] tensors, pJ).

Counted as NeuroSim counts it, once per weight block (duplicated copies only shorten latency):

* subarray, per subarray read (an input bit-vector), SubArray.cpp CalculatePower (conventionalParallel):
  partial-parallel sums when numAdd > 1: ``numColMuxed (numAdd - 1)`` additions by the N/mux adders of
  ``log2 L + ceil(log2 numAdd) - 1`` bits and clocks of their flip-flops; the weight shift-add
  ``(cps - 1) * (mux div cps)`` reads and the input shift-add ``mux div cps`` reads (integer division, as the
  C++ divides two ints: zero when a column group holds fewer columns than a weight's cells);
* PE adder tree (ProcessingUnit.cpp): ``n_vec * (mux div cps)`` reads of P/mux trees over the PE's
  subarray rows, inputs of numBitSubarrayOutput bits;
* tile adder tree (Tile.cpp): conventional tiles spanning several PE rows, ``n_vec * ceil(mux/cps)`` reads of
  T/mux trees over the PE rows; novel tiles ``n_vec * (mux div cps)`` reads of P/mux trees over the K*K PEs,
  inputs of numBitSubarrayOutput + P/N bits;
* chip adder tree (Chip.cpp): layers spanning several tile rows, ``cols/cps * n_vec`` tree reads over the tile
  rows, inputs of numBitSubarrayOutput + ceil(log2 maxAddFromSubArray) bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cimpipe.hw import digital_energy as DE
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor


@dataclass(frozen=True)
class AccumInputs:
    """[D, L] (or broadcastable) operands. ``sub`` subarray edge N, ``mux`` numColMuxed, ``levels`` ADC levels,
    ``num_add`` partial-parallel reads, ``cps`` cells per weight, ``cell_bits``, ``input_bits``, ``n_vec``
    output pixels, ``rows``/``cols`` the layer matrix, ``c_in``, ``kk`` K*K, ``novel`` bool, ``tile_cm``,
    ``pe_cm``, ``pe_nm``, ``num_pe_nm``, ``tile_rows`` tiles along the rows, ``subarray_reads`` input
    bit-vectors x subarrays holding the layer, ``pipeline`` bool, ``layers`` active layers of the design."""

    sub: Tensor
    mux: Tensor
    levels: Tensor
    num_add: Tensor
    cps: Tensor
    cell_bits: Tensor
    input_bits: Tensor
    n_vec: Tensor
    rows: Tensor
    cols: Tensor
    c_in: Tensor
    kk: Tensor
    novel: Tensor
    tile_cm: Tensor
    pe_cm: Tensor
    pe_nm: Tensor
    num_pe_nm: Tensor
    tile_rows: Tensor
    subarray_reads: Tensor
    pipeline: Tensor
    layers: Tensor
    repeat_sub: Tensor | float = 1.0  # PE-slot repeat of subarray-level work (mapping.conventional_slot_repeat)
    repeat_pe: Tensor | float = 1.0  # the same for the PE adder trees


def _log2c(x: Tensor) -> Tensor:
    return torch.ceil(torch.log2(torch.clamp(x, min=1.0)))


def subarray_output_bits(x: AccumInputs) -> Tensor:
    """Tile.cpp numBitSubarrayOutput: log2 L + ceil(log2 numAdd) + inputBits + (cps - 1) * cellBit + 1."""
    return torch.log2(x.levels) + _log2c(x.num_add) + x.input_bits + (x.cps - 1) * x.cell_bits + 1


def subarray_read_pj(tech: Technology, x: AccumInputs) -> Tensor:
    """Accumulation energy of one subarray for one input bit-vector. The adder energy is affine in its width
    (``a0 + a1 b``) and a shift-add's flip-flops are all clocked with new data (``flop`` each)."""
    lanes = torch.ceil(x.sub / x.mux)
    log_l = torch.log2(x.levels)
    a0, a1 = DE.adder_affine_pj(tech)
    flop = float(DE.dff_pj(tech, 1.0, 1.0))
    add_bits = _log2c(x.num_add)
    adder_bits = log_l + add_bits
    partial = x.mux * (x.num_add - 1) * (lanes * (a0 + a1 * (adder_bits - 1))
                                         + DE.dff_pj(tech, adder_bits * lanes, lanes * (log_l + add_bits / 2)))
    partial = partial * (x.num_add > 1)
    groups = torch.floor(x.mux / x.cps) * lanes
    weight = (x.cps - 1) * (a0 + a1 * log_l + flop * (log_l + x.cps))
    inputs = (a0 + a1 * (log_l + x.cps) + flop * (log_l + x.cps + x.input_bits)) * (x.input_bits > 1)
    return partial + groups * (weight + inputs)


def layer_accumulation_pj(tech: Technology, x: AccumInputs) -> Tensor:
    """[D, L] accumulation energy of every layer (subarrays, PE, tile and chip adder trees)."""
    out_bits = subarray_output_bits(x)
    groups_floor = torch.floor(x.mux / x.cps)
    e_sub = x.subarray_reads * subarray_read_pj(tech, x) * x.repeat_sub

    # PE trees: the weight blocks of the layer and the subarray rows each holds
    pe = torch.where(x.novel, x.pe_nm, x.pe_cm)
    block_rows = torch.where(x.novel, x.c_in, x.rows)
    pe_rows = torch.ceil(block_rows / pe)
    pe_cols = torch.ceil(x.cols / pe)
    pes = pe_rows * pe_cols * torch.where(x.novel, x.kk, torch.ones_like(x.kk))
    e_pe = pes * x.n_vec * groups_floor * torch.ceil(pe / x.mux) * DE.adder_tree_pj(
        tech, torch.ceil(block_rows / pe_rows / x.sub), out_bits)

    # tile trees: conventional tiles over their PE rows (ceil(mux/cps) reads), novel ones over their K x K PEs
    pe_bits = out_bits + pe / x.sub
    t_rows = torch.ceil(x.rows / x.tile_cm)
    tiles = torch.where(x.novel, pe_rows * pe_cols, t_rows * torch.ceil(x.cols / x.tile_cm))
    inputs = torch.where(x.novel, x.num_pe_nm, torch.ceil(x.rows / t_rows / x.pe_cm))
    reads = torch.where(x.novel, groups_floor * torch.ceil(x.pe_nm / x.mux),
                        torch.ceil(x.mux / x.cps) * torch.ceil(x.tile_cm / x.mux))
    e_tile = tiles * x.n_vec * reads * DE.adder_tree_pj(tech, inputs, pe_bits)

    # chip tree over the tile rows (AdderTree inputs of one tile row give no additions)
    stages = torch.where(x.pipeline, x.layers + 1, torch.ones_like(x.layers))
    max_add = torch.maximum(torch.ceil(x.pe_cm / x.sub), torch.ceil(x.pe_nm / x.sub)) * torch.maximum(
        torch.ceil(x.tile_cm / x.pe_cm), torch.ceil(torch.sqrt(x.num_pe_nm))) * stages
    e_chip = (x.cols / x.cps) * x.n_vec * DE.adder_tree_pj(tech, x.tile_rows, out_bits + _log2c(max_add))
    return e_sub + e_pe * x.repeat_pe + e_tile + e_chip
