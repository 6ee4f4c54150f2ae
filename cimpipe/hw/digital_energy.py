"""Switching energy of NeuroSim V1.4's digital blocks: adders, flip-flops, shift-adders and adder trees.

Gate capacitances follow formula.cpp's sizing of the cells (CalculateGateCapacitance): an input sees the gates
of its NMOS and PMOS, an output their drains (see :func:`_cd_f`). Energies in pJ, vectorized.

* ripple-carry adder (Adder.cpp CalculatePower): the calibrated critical-path pattern charges
  14 NAND inputs + 7 NAND outputs in the first bit and 13 + 7 in every further bit, times delta (validated);
* D flip-flops (DFF.cpp CalculatePower): every flip-flop's clock inverters (4 x (in + out)) and
  transmission-gate clocks (2 x N + 2 x P) per read, and the D-to-Q path of the active ones, times gamma;
* shift-add (ShiftAdd.cpp): ``units`` adders of ``bits`` bits and (bits + pulses) x units flip-flops per read;
* adder tree (AdderTree.cpp CalculatePower): stage s of ``inputs`` adds floor(j_s / 2) pairs of
  (bits + s) bits, j_{s+1} = floor(j_s / 2), over ceil(log2 inputs) stages, for each of the trees.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import torch
import yaml

from cimpipe.hw import capacitance as CP
from cimpipe.hw import gates as G
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor
GAMMA = 0.5  # Param.cpp gamma: DFF activity in shift-add and accumulation (validated)
DELTA = 0.15  # Param.cpp delta: adder activity (validated)
DRAIN_LENGTH_F = 2.8  # constant.h MIN_GAP_BET_GATE_POLY: drain region length
BUILT_IN_POTENTIAL_V = 0.9  # Technology.cpp buildInPotential
MIN_NMOS_F = 2.0


def _fins(width_f):
    """Whole fins (2F units) of a width given in F, float or tensor."""
    return torch.ceil(width_f / 2.0 - 1e-9) if isinstance(width_f, torch.Tensor) else math.ceil(width_f / 2.0 - 1e-9)


@lru_cache(maxsize=1)
def gate_cap_table() -> dict:
    return yaml.safe_load(resources.files("cimpipe.hw").joinpath("data/gate_caps.yaml").read_text())


def _cg_f(tech: Technology, width_f: float) -> float:
    """Gate capacitance (F) of a transistor ``width_f`` feature sizes wide (formula.cpp CalculateGateCap): per
    metre at planar nodes, per 2F fin at FinFET/nanosheet nodes (data/gate_caps.yaml)."""
    t, nm = gate_cap_table(), tech.node.node_nm
    if nm in t["planar_f_per_m"]:
        return float(t["planar_f_per_m"][nm]) * width_f * tech.node.feature_um * 1e-6
    fins = t["fin_f"]
    key = nm if nm in fins else min(fins, key=lambda k: abs(k - nm))
    return float(fins[key]) * _fins(width_f)


def _cd_f(tech: Technology, width_f: float) -> float:
    """Drain capacitance (F) of an unfolded transistor ``width_f`` feature sizes wide. Planar nodes
    (formula.cpp CalculateGateCapacitance, Technology.cpp junction figures): a drain 2.8 F long with its bottom
    junction, its sidewalls (2 x 2.8 F + W) and the gate-edge sidewall (W), each graded by VDD;
    FinFET/nanosheet nodes: the per-fin total drain capacitance (cap_draintotal)."""
    t, nm = gate_cap_table(), tech.node.node_nm
    if nm in t["planar_f_per_m"]:
        f_m = tech.node.feature_um * 1e-6
        bias = 1 + tech.node.vdd_v / BUILT_IN_POTENTIAL_V
        cj, cjsw, cjswg = 1e-3 / bias ** 0.5, 2.5e-10 / bias ** 0.33, 0.5e-10 / bias ** 0.33
        w, l = width_f * f_m, DRAIN_LENGTH_F * f_m
        return l * w * cj + (2 * l + w) * cjsw + w * cjswg
    fins = t["drain_fin_f"]
    key = nm if nm in fins else min(fins, key=lambda k: abs(k - nm))
    return float(fins[key]) * _fins(width_f)


def _pn(tech: Technology) -> float:
    """tech.pnSizeRatio: NMOS over PMOS on-current (1 at FinFET nodes)."""
    try:
        return G.node(tech.node.node_nm).pn_ratio
    except KeyError:
        return 1.0


def nand2_caps_f(tech: Technology) -> tuple[float, float]:
    """Input and output capacitance of NeuroSim's NAND2 (NMOS 2 x min for the stack, PMOS pn x min)."""
    wn, wp = 2 * MIN_NMOS_F, _pn(tech) * MIN_NMOS_F
    return _cg_f(tech, wn) + _cg_f(tech, wp), _cd_f(tech, wn) + 2 * _cd_f(tech, wp)


def inv_caps_f(tech: Technology) -> tuple[float, float]:
    wn, wp = MIN_NMOS_F, _pn(tech) * MIN_NMOS_F
    return _cg_f(tech, wn) + _cg_f(tech, wp), _cd_f(tech, wn) + _cd_f(tech, wp)


def adder_pj(tech: Technology, bits: Tensor | float) -> Tensor:
    """One addition of a ``bits``-bit ripple-carry adder (Adder.cpp), times delta: the adder's NAND2 is enlarged
    to its cell (the special nanosheet layout at 2 and 1 nm, see :func:`cimpipe.hw.capacitance.adder_nand_caps`)."""
    ci, co = CP.adder_nand_caps(tech.node.node_nm)
    bits = torch.as_tensor(bits, dtype=torch.float64)
    e = (14 * ci + 7 * co) + torch.clamp(bits - 1.0, min=0.0) * (13 * ci + 7 * co)
    return e * tech.node.vdd_v ** 2 * DELTA * 1e12


def dff_pj(tech: Technology, flops: Tensor | float, active: Tensor | float) -> Tensor:
    """One clock of ``flops`` flip-flops of which ``active`` take new data (DFF.cpp), times gamma."""
    ci, co, tg_n, tg_p, td = CP.dff_caps(tech.node.node_nm)
    flops = torch.as_tensor(flops, dtype=torch.float64)
    active = torch.minimum(torch.as_tensor(active, dtype=torch.float64), flops)
    clock = flops * (4 * (ci + co) + 2 * tg_n + 2 * tg_p)
    data = active * ((3 * td + ci) + (td + co) + (ci + co))
    return (clock + data) * tech.node.vdd_v ** 2 * GAMMA * 1e12


def shift_add_pj(tech: Technology, units: Tensor, bits: Tensor, pulses: Tensor) -> Tensor:
    """One read of a ShiftAdd block of ``units`` lanes: their adders and (bits + pulses) flip-flops each."""
    flops = (bits + pulses) * units
    return units * adder_pj(tech, bits) + dff_pj(tech, flops, flops)


@lru_cache(maxsize=4)
def _tree_table(size: int) -> tuple[Tensor, Tensor]:
    """(additions, sum of stage indices) of adder trees of 0 .. size-1 inputs (see :func:`tree_pairs`)."""
    j = torch.arange(size, dtype=torch.float64)
    pairs, staged = torch.zeros_like(j), torch.zeros_like(j)
    for s in range(max(size - 1, 1).bit_length()):
        j = torch.floor(j / 2)
        pairs, staged = pairs + j, staged + s * j
    return pairs, staged


def tree_pairs(inputs: Tensor) -> tuple[Tensor, Tensor]:
    """(additions, sum over additions of their stage index) of an adder tree reducing ``inputs`` operands
    (AdderTree.cpp: stage s adds floor(j_s / 2) pairs, j_{s+1} = floor(j_s / 2)); a table lookup."""
    j = torch.floor(torch.clamp(inputs, min=1.0))
    top = int(j.max()) + 1 if j.numel() else 1
    size = 1 << max(top - 1, 1).bit_length()  # tables of power-of-two sizes, cached
    pairs, staged = _tree_table(size)
    idx = j.to(torch.int64)
    return pairs[idx], staged[idx]


@lru_cache(maxsize=64)
def adder_affine_pj(tech: Technology) -> tuple[float, float]:
    """(a0, a1): one addition of b >= 1 bits costs a0 + a1 b (see :func:`adder_pj`)."""
    a1 = float(adder_pj(tech, 2.0) - adder_pj(tech, 1.0))
    return float(adder_pj(tech, 1.0)) - a1, a1


def adder_tree_pj(tech: Technology, inputs: Tensor, bits: Tensor) -> Tensor:
    """One read of one adder tree reducing ``inputs`` operands of ``bits`` bits (AdderTree.cpp); the adder energy
    is affine in its width, so the tree's is too: E(bits) x additions + a1 x the stage indices."""
    pairs, staged = tree_pairs(inputs)
    a0, a1 = adder_affine_pj(tech)
    return pairs * (a0 + a1 * bits) + staged * a1
