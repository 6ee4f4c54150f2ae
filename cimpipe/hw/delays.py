"""Gate-level delays of the digital blocks around the arrays.

The adders and adder trees follow NeuroSim V1.4's Adder.cpp / AdderTree.cpp stage by stage with NeuroSim's
device figures (:mod:`cimpipe.hw.transistors`). The max-pooling comparator keeps a first-order NAND2 stage: a
minimum NMOS ``2F`` wide (constant.h MIN_NMOS_SIZE), on-resistance VDD / (Ion W) and gate capacitance from the
node table, 0.69 R C per stage. The repeated buses are in :mod:`cimpipe.hw.wires`, the sensing cycle in
:mod:`cimpipe.hw.clock`. Only the number of clock cycles these delays round up to enters the synchronous
latency. Units: ohm, fF, ns.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from cimpipe.hw import transistors as TR
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor

MIN_NMOS_F = 2.0
PN_RATIO = 2.0  # PMOS/NMOS width of NeuroSim's inverters (tech.pnSizeRatio, planar nodes)


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else torch.tensor(float(x), dtype=torch.float64)


def min_nmos_res_ohm(tech: Technology) -> float:
    n = tech.node
    return n.vdd_v / (n.ion_ua_per_um * 1e-6 * MIN_NMOS_F * n.feature_um)


def min_gate_cap_ff(tech: Technology) -> float:
    n = tech.node
    return MIN_NMOS_F * n.feature_um * n.gate_cap_ff_per_um


def nand2_delay_ns(tech: Technology) -> float:
    """One NAND2 stage of NeuroSim's ripple adder: two series NMOS driving its own drain and three gate loads
    (Adder.cpp, CalculateLatency: tr = 2 R_n (C_nand_out + 3 C_nand_in))."""
    c = min_gate_cap_ff(tech) * (1 + PN_RATIO)
    return 0.69 * 2 * min_nmos_res_ohm(tech) * (c + 3 * c) * 1e-15 * 1e9


def adder_delay_ns(tech: Technology, bits: Tensor) -> Tensor:
    """Ripple-carry adder of ``bits`` bits (Adder.cpp CalculateLatency): NAND2 gates of 4F/2F (widened to the
    cell, EnlargeSize) in stages of NMOS pull-down (2 R_n into the output and 3 gate loads) and PMOS pull-up
    (R_p into 2 loads): two stages in, the intermediate pair once per further carry bit (its delay from the
    ramp after the first pair), then N, P (1 load) and a last pull-down into no load; Horowitz delays with the
    ramp carried through (transistor figures from :mod:`cimpipe.hw.transistors`)."""
    fixed, per_bit = _adder_parts_ns(tech.node.node_nm)
    return fixed + per_bit * torch.clamp(_t(bits) - 2.0, min=0.0)


@lru_cache(maxsize=None)
def _adder_parts_ns(nm: int) -> tuple[float, float]:
    f = TR.node(nm).f_um
    wn, wp = TR.enlarge_um(nm, 4 * f, TR.pn_ratio(nm) * 2 * f)
    c_in, c_out = TR.nand_caps_f(nm, wn, wp)
    r_n, r_p = 2 * TR.on_res_ohm(nm, wn), TR.on_res_ohm(nm, wp, pmos=True)
    t1, q = TR.horowitz_s(r_n * (c_out + 3 * c_in))
    t2, q = TR.horowitz_s(r_p * (c_out + 2 * c_in), q)
    t3, q = TR.horowitz_s(r_n * (c_out + 3 * c_in), q)
    t4, q = TR.horowitz_s(r_p * (c_out + 2 * c_in), q)
    t5, q = TR.horowitz_s(r_n * (c_out + 3 * c_in), q)
    t6, q = TR.horowitz_s(r_p * (c_out + c_in), q)
    t7, _ = TR.horowitz_s(r_n * c_out, q)
    return float(t1 + t2 + t5 + t6 + t7) * 1e9, float(t3 + t4) * 1e9


def adder_tree_delay_ns(tech: Technology, bits: Tensor, stages: Tensor) -> Tensor:
    """Adder tree (AdderTree.cpp, V1.4 delay): its first stage is ``bits`` wide; NeuroSim sizes the further
    stages as 2-bit adders for their delay."""
    fixed, per_bit = _adder_parts_ns(tech.node.node_nm)
    return fixed + per_bit * torch.clamp(_t(bits) - 2.0, min=0.0) + fixed * torch.clamp(_t(stages) - 1.0, min=0.0)


def maxpool_delay_ns(tech: Technology, bits: Tensor) -> Tensor:
    """One comparator stage of the max-pooling unit: a 1-bit compare over half the bits, then NOR, INV, TG
    (MaxPooling.cpp)."""
    return nand2_delay_ns(tech) * (2.0 * _t(bits) / 2.0 + 3.0)
