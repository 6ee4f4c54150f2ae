"""Gate-level delays of the digital blocks around the arrays, from a node's transistor figures.

A minimum NMOS is ``2F`` wide (NeuroSim constant.h MIN_NMOS_SIZE); its on-resistance is VDD / (Ion * W)
(NeuroSim formula.cpp, CalculateOnResistance, without the temperature and roadmap corrections) and its gate
capacitance W * C_gate per um (Technology.cpp's capIdealGate + fringe, here the node table's
``gate_cap_ff_per_um``). Stage delays are 0.69 R C (the Horowitz step response with a fast input ramp).
Only the number of clock cycles these delays round up to enters the synchronous latency, so these are
first-order figures. Units: ohm, fF, ns.
"""

from __future__ import annotations

import torch

from cimpipe.hw import transistors as TR
from cimpipe.hw.technology import Technology

Tensor = torch.Tensor

MIN_NMOS_F = 2.0
PN_RATIO = 2.0  # PMOS/NMOS width of NeuroSim's inverters (tech.pnSizeRatio, planar nodes)
BUS_DELAY_TOLERANCE = 0.1  # NeuroSim globalBusDelayTolerance / localBusDelayTolerance: repeaters downsized


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
    nm, f = tech.node.node_nm, tech.node.feature_um
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
    fixed = float(t1 + t2 + t5 + t6 + t7) * 1e9
    per_bit = float(t3 + t4) * 1e9
    return fixed + per_bit * torch.clamp(_t(bits) - 2.0, min=0.0)


def adder_tree_delay_ns(tech: Technology, bits: Tensor, stages: Tensor) -> Tensor:
    """Adder tree (AdderTree.cpp, V1.4 delay): its first stage is ``bits`` wide; NeuroSim sizes the further
    stages as 2-bit adders for their delay."""
    two = torch.full_like(_t(bits), 2.0)
    return adder_delay_ns(tech, bits) + torch.clamp(_t(stages) - 1.0, min=0.0) * adder_delay_ns(tech, two)


def maxpool_delay_ns(tech: Technology, bits: Tensor) -> Tensor:
    """One comparator stage of the max-pooling unit: a 1-bit compare over half the bits, then NOR, INV, TG
    (MaxPooling.cpp)."""
    return nand2_delay_ns(tech) * (2.0 * _t(bits) / 2.0 + 3.0)


EFFECTIVE_RES_MULT = 1.54  # NeuroSim Technology.cpp effectiveResistanceMultiplier (from CACTI)


def repeater_unit_delay_ns_per_um(tech: Technology) -> float:
    """Delay per um of NeuroSim's repeated bus wire (HTree.cpp / XYBus.cpp, Initialize): repeaters of
    ``floor(sqrt(R0 c / (C0 r)))`` minimum inverters every ``sqrt(2 R0 (C_in + C_out) / (r c))``, then halved in
    size (and spacing x0.9) until the unit delay reaches (1 + tolerance) of the optimum; unit delay
    0.7 (R_rep (C_in + C_out + c L) + 0.54 r c L^2 + r L C_in) / L."""
    n = tech.node
    r_w = n.wire_res_ohm_per_um * 1e6  # ohm/m
    c_w = 0.2e-15 / 1e-6  # F/m, NeuroSim's unitLengthWireCap
    r0 = EFFECTIVE_RES_MULT * min_nmos_res_ohm(tech)  # NMOS and its 2x PMOS pull equally
    c0 = min_gate_cap_ff(tech) * (1 + PN_RATIO) * 1e-15

    def unit(size: float, dist: float) -> float:
        r, c_in = r0 / max(size, 1e-9), c0 * size
        return 0.7 * (r * (2 * c_in + c_w * dist) + 0.54 * r_w * c_w * dist * dist + r_w * dist * c_in) / dist

    size = float(int((r0 * c_w / (c0 * r_w)) ** 0.5))
    dist = (2 * r0 * 2 * c0 / (r_w * c_w)) ** 0.5
    best = unit(max(size, 1.0), dist)
    delay = 0.0
    for _ in range(64):
        if delay >= best * (1 + BUS_DELAY_TOLERANCE):
            break
        size /= 2
        dist *= 0.9
        delay = unit(max(size, 1e-3), dist)
    return delay * 1e-6 * 1e9


def repeated_wire_delay_ns(tech: Technology, length_um: Tensor) -> Tensor:
    """Delay of ``length_um`` of NeuroSim's repeated bus wire (see :func:`repeater_unit_delay_ns_per_um`)."""
    return torch.clamp(_t(length_um), min=0.0) * repeater_unit_delay_ns_per_um(tech)


def htree_path_um(levels: Tensor, unit_h_um: Tensor, unit_w_um: Tensor) -> Tensor:
    """Root-to-leaf path of NeuroSim's H-tree over a 2^levels x 2^levels grid of units (HTree.cpp,
    CalculateLatency): vertical and horizontal stages halving from 2^levels units, plus the main bus to the
    centre column (half the grid width)."""
    span = torch.pow(2.0, levels)
    return (span - 1.0) * (unit_h_um + unit_w_um) + span / 2 * unit_w_um
