"""Leakage of NeuroSim V1.4's tiles and the chip's leakage energy (main.cpp), vectorized.

Gate leakage (formula.cpp CalculateGateLeakage, times VDD): an inverter leaks (W_n I_off,n + W_p I_off,p) / 2, an
n-input NAND 0.48 (2 inputs) or 0.31 (more) of its n PMOS, a NOR 0.95 / 0.62 of its n NMOS; widths count whole
fins at FinFET nodes. I_off (Technology.cpp, LSTP, 300 K) is 100 pA/um at the planar nodes.

Per subarray (SubArray.cpp CalculatePower, conventionalParallel): flip-flops leak 8 inverters each (DFF.cpp) —
the word-line (and 1T1R source-line) switch matrices' N each, the shift-adders' and partial-sum registers; adders
9 NAND2 per bit (Adder.cpp); the flash encoder (MultilevelSAEncoder.cpp) L-1 NAND2 and 5 (L-1) inverters plus
log2 L wide NANDs per ADC; SRAM cells two inverters each (the only part NeuroSim also charges while a subarray
is in use, minus the cells being read), SRAM precharger (two PMOS) and write driver (three inverters) per column.
Sense amps, SAR ADCs and pass-gate muxes do not leak in NeuroSim. A PE adds its adder tree, flip-flop buffers (one
subarray's input bits and adder-tree outputs) and two buses; a tile its PEs, accumulation tree, register-file
buffers (flip-flops, at most one 32 x 32 core each) and local H-tree (repeaters leak per unit length,
``leak(repeater) / spacing`` times the bus width: the tile's PEs times the PE size, a conventional tile's PEs
along one side). Flip-flops and adders leak as cimpipe.hw.capacitance computes them (the adder's NAND2 enlarged).
Global blocks do not enter NeuroSim's chip leakage.

Chip (main.cpp): layer-by-layer, layer i's leakage energy is (tiles of the other layers x a tile's leakage +
its own tiles x their in-use leakage) x its latency; pipelined, layer i leaks
``tiles_i (P_tile (T_i' - t_i) + P_in_use t_i) / T_i'`` with T_i' the longest latency of layers 1..i, over the
system clock (the longest latency).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cimpipe.hw import capacitance as CP
from cimpipe.hw import digital_energy as DE
from cimpipe.hw import gates as G
from cimpipe.hw import transfer_energy as TE
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
TILE_BUFFER_CORE_BITS = 32 * 32  # Param.cpp tileBufferCoreSizeRow x tileBufferCoreSizeCol


def inv_w(tech: Technology, wn_f: float, wp_f: float) -> float:
    """An inverter of NMOS / PMOS widths in F (CalculateGateLeakage, times VDD)."""
    return CP.gate_leakage_a(tech.node.node_nm, CP.INV, 1, wn_f, wp_f) * tech.node.vdd_v


def nand_w(tech: Technology, inputs: Tensor | float, wp_f: float) -> Tensor:
    """NANDs of ``inputs`` inputs (tensor) with PMOS ``wp_f`` F wide: 0.48 (2 inputs) or 0.31 of the PMOS stack."""
    inputs = torch.as_tensor(inputs, dtype=torch.float64)
    ratio = torch.where(inputs <= 2, torch.full_like(inputs, 0.48), torch.full_like(inputs, 0.31))
    nm = tech.node.node_nm
    return ratio * CP.effective_width_m(nm, wp_f) * CP.devices(nm).ioff_p * inputs * tech.node.vdd_v


def flop_w(tech: Technology) -> float:
    """One flip-flop (DFF.cpp): 8 minimum inverters (the nanosheet layout's gate factor at 2 and 1 nm)."""
    return CP.dff_leakage_w(tech.node.node_nm)


def adder_bit_w(tech: Technology) -> Tensor:
    """One adder bit (Adder.cpp): 9 NAND2 of the adder's widths, enlarged to the cell."""
    return torch.tensor(CP.adder_bit_leakage_w(tech.node.node_nm), dtype=torch.float64)


def tree_w(tech: Technology, inputs: Tensor, bits: Tensor, trees: Tensor) -> Tensor:
    """Adders of ``trees`` adder trees reducing ``inputs`` operands (AdderTree.cpp), leaking."""
    pairs, staged = DE.tree_pairs(inputs)
    return (pairs * bits + staged) * trees * adder_bit_w(tech)


@dataclass(frozen=True)
class LeakInputs:
    """Design operands, broadcastable [D, 1] / [D, L]: subarray ``sub``, ``rows_parallel``, ``mux``, ``levels``,
    ``num_add``, ``cps``, ``input_bits``, ``out_bits`` (numBitSubarrayOutput), ``is_sar`` bool, the floorplan
    (``tile_cm``, ``pe_cm``, ``pe_nm``, ``num_pe_nm``) and the outlines (um) of the subarray and PEs;
    ``pe_tree_inputs`` [D, L], when given, the subarrays a layer's rows span in one PE (else the PE's side)."""

    sub: Tensor
    rows_parallel: Tensor
    mux: Tensor
    levels: Tensor
    num_add: Tensor
    cps: Tensor
    input_bits: Tensor
    out_bits: Tensor
    is_sar: Tensor
    tile_cm: Tensor
    pe_cm: Tensor
    pe_nm: Tensor
    num_pe_nm: Tensor
    sub_h_um: Tensor
    sub_w_um: Tensor
    pe_cm_h_um: Tensor
    pe_cm_w_um: Tensor
    pe_nm_h_um: Tensor
    pe_nm_w_um: Tensor
    pe_tree_inputs: Tensor | None = None


def subarray_w(tech: Technology, x: LeakInputs) -> tuple[Tensor, Tensor]:
    """(leakage, in-use leakage) of one subarray, W."""
    n, pn = DE.MIN_NMOS_F, DE._pn(tech)
    lanes = torch.ceil(x.sub / x.mux)
    log_l = torch.log2(x.levels)
    flops = x.sub * (1.0 if tech.device.is_sram else 2.0)  # WL (and SL) switch matrices
    adders = torch.zeros_like(lanes * log_l)
    adder_bits = log_l + torch.ceil(torch.log2(torch.clamp(x.num_add, min=1.0)))
    partial = x.num_add > 1
    flops = flops + torch.where(partial, adder_bits * lanes, torch.zeros_like(adders))
    if not tech.device.is_sram:
        adders = adders + torch.where(partial, (adder_bits - 1) * lanes, torch.zeros_like(adders))
    # shift-adders (weight cells, input bits): lanes adders of B bits and (B + pulses) lanes flip-flops
    w_sa = x.cps > 1
    flops = flops + torch.where(w_sa, (log_l + x.cps) * lanes, torch.zeros_like(adders))
    adders = adders + torch.where(w_sa, log_l * lanes, torch.zeros_like(adders))
    i_sa = x.input_bits > 1
    flops = flops + torch.where(i_sa, (log_l + x.cps + x.input_bits) * lanes, torch.zeros_like(adders))
    adders = adders + torch.where(i_sa, (log_l + x.cps) * lanes, torch.zeros_like(adders))
    leak = flops * flop_w(tech) + adders * adder_bit_w(tech)
    # flash encoder per ADC
    # (MultilevelSAEncoder.cpp: NANDs of 2 pn x minimum PMOS; the inverters scaled by the nanosheet gate factor)
    gaa = CP.GAA_INV.get(tech.node.node_nm, (1.0,))[0]
    encoder = lanes * ((x.levels - 1) * (nand_w(tech, 2.0, 2 * pn * n) + 5 * gaa * inv_w(tech, n, pn * n))
                       + log_l * nand_w(tech, torch.ceil(x.levels / 2), 2 * pn * n))
    leak = leak + torch.where(x.is_sar, torch.zeros_like(encoder), encoder)
    in_use = torch.zeros_like(leak)
    if tech.device.is_sram:
        # two inverters of Param.cpp's widthSRAMCellNMOS / PMOS (1 F; 2 F, one fin, at FinFET and nanosheet nodes)
        unit = 2.0 if G.node(tech.node.node_nm).finfet else 1.0
        cell = 2 * inv_w(tech, unit, unit)
        # precharger (Precharger.cpp: two 6 F PMOS) and write driver (SRAMWriteDriver.cpp: three inverters) per
        # column, both enlarged to their cell
        nm = tech.node.node_nm
        pre = 2 * inv_w(tech, 0.0, CP.enlarge_f(nm, 0.0, 6.0)[1])
        driver = 3 * inv_w(tech, *CP.enlarge_f(nm, n, pn * n))
        leak = leak + x.sub * (pre + driver)
        leak = leak + cell * x.sub * x.sub
        in_use = cell * (x.sub * x.sub - x.rows_parallel * lanes)
    else:
        leak = leak + torch.where(x.mux > 1, x.mux * nand_w(tech, 2.0, pn * n), torch.zeros_like(leak))
    return leak, in_use


def tile_w(tech: Technology, x: LeakInputs, novel: bool,
           subarray: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """(leakage, in-use leakage) of one conventional or novel tile, W (``subarray``: :func:`subarray_w`'s, when
    already computed)."""
    sub_leak, sub_in_use = subarray_w(tech, x) if subarray is None else subarray
    _, dist, size = TE.repeater(tech)
    per_um = inv_w(tech, DE.MIN_NMOS_F * size, DE._pn(tech) * DE.MIN_NMOS_F * size) / dist
    if novel:
        pe, n_pe, k_side = x.pe_nm, x.num_pe_nm, torch.ceil(torch.sqrt(x.num_pe_nm))
        pe_h, pe_w, tile_trees = x.pe_nm_h_um, x.pe_nm_w_um, torch.ceil(x.pe_nm / x.mux)
    else:
        pe = x.pe_cm
        k_side = torch.clamp(x.tile_cm / x.pe_cm, min=1.0)
        n_pe = k_side * k_side
        pe_h, pe_w, tile_trees = x.pe_cm_h_um, x.pe_cm_w_um, torch.ceil(x.tile_cm / x.mux)
    k = torch.clamp(pe / x.sub, min=1.0)
    subs = k * k
    # the PE adder tree leaks as its last use left it (AdderTree.cpp CalculatePower): a tree over the subarrays
    # the layer's rows span in one PE, none where they fit one subarray ([D, L] when given per layer)
    tree_in = k if x.pe_tree_inputs is None else x.pe_tree_inputs
    pe_tree = tree_w(tech, tree_in, x.out_bits, torch.ceil(pe / x.mux))
    # PE flip-flop buffers (ProcessingUnit.cpp, no synchronous data transfer): one subarray's rows of input bits,
    # one subarray's column groups of adder-tree outputs
    pe_bufs = x.input_bits * x.sub + torch.floor(x.sub / x.mux) * (x.out_bits + torch.ceil(torch.log2(k)))
    # PE buses (Bus.cpp): the input bus, (k - 1) subarray widths of one subarray's rows; the output bus,
    # (k - 1) subarray heights of k subarrays' columns
    _, dist0, size0 = TE.repeater(tech, 0.0)  # PE buses keep the delay-optimal repeater (no tolerance)
    pe_per_um = inv_w(tech, DE.MIN_NMOS_F * size0, DE._pn(tech) * DE.MIN_NMOS_F * size0) / dist0
    pe_bus = pe_per_um * (k - 1) * (x.sub_w_um * x.sub + x.sub_h_um * pe)
    pe_leak = subs * sub_leak + pe_tree + pe_bufs * flop_w(tech) + pe_bus
    pe_bits = x.out_bits + k
    k_in = n_pe if novel else k_side
    acc = tree_w(tech, k_in, pe_bits, tile_trees)
    # tile register files (Tile.cpp, Buffer.cpp): flip-flops, at most one 32 x 32 core each
    core = float(TILE_BUFFER_CORE_BITS)
    bufs = (torch.clamp(k_in * x.input_bits * x.sub, max=core)
            + torch.clamp((pe_bits + torch.ceil(torch.log2(k_in))) * k_in * torch.floor(x.sub / x.mux), max=core))
    # local H-tree (HTree.cpp): its wire, 2 s (2^(n-1) - 1) over the halving stages plus the main bus
    # 2^(n-1) s, n = ceil(log2 side), s the PE side, carries the tile's PEs x PE size bits (conventional: the PEs of a side)
    # HTree.cpp lays the PEs out as squares of their area (ProcessingUnitCalculateArea: height = sqrt(area))
    pe_side = torch.sqrt(pe_h * pe_w)
    half = torch.pow(2.0, torch.ceil(torch.log2(k_side)) - 1)
    wire = pe_side * (2 * torch.clamp(half - 1, min=0.0) + half)
    tree = per_um * wire * torch.where(torch.as_tensor(novel), n_pe, k_side) * pe
    return n_pe * pe_leak + acc + bufs * flop_w(tech) + tree, n_pe * subs * sub_in_use


def chip_leakage(latency_l: Tensor, tiles_l: Tensor, tile_leak_l: Tensor, in_use_l: Tensor, active: Tensor,
                 pipeline: Tensor) -> tuple[Tensor, Tensor]:
    """[D] (leakage energy pJ, reported leakage power uW) from per-layer latency (ns), tiles and the leakage of
    a tile of the layer's kind (uW), as main.cpp accumulates them."""
    act = active.to(latency_l.dtype)
    tiles = tiles_l * act
    total = tiles.sum(dim=1, keepdim=True)
    lbl_e = ((total - tiles) * tile_leak_l + tiles * in_use_l) * latency_l * act * 1e-3
    lbl_p = (tiles * tile_leak_l).sum(dim=1)
    lat = torch.where(active, latency_l, torch.zeros_like(latency_l))
    running = torch.cummax(lat, dim=1).values
    system = lat.amax(dim=1, keepdim=True)
    safe = torch.clamp(running, min=1e-30)
    p_l = tiles * (tile_leak_l * (running - lat) + in_use_l * lat) / safe
    pipe_p = p_l.sum(dim=1)
    pipe_e = pipe_p * system[:, 0] * 1e-3
    return torch.where(pipeline, pipe_e, lbl_e.sum(dim=1)), torch.where(pipeline, pipe_p, lbl_p)
