"""Technologies are data: config entries are validated field by field."""

import copy

import pytest

from cimpipe.hw import Technology, TechnologyError, builtin_technologies, load_technologies
from cimpipe.hw.technology import load_nodes

RRAM = {
    "node_nm": 22,
    "device": {"memory": "rram", "cell": "1t1r", "r_on_ohm": 100000, "on_off_ratio": 100, "max_cell_bits": 2,
               "read_voltage_v": 0.5, "read_pulse_ns": 10, "write_voltage_v": 2.0, "cell_area_f2": 48,
               "sigma": 0.05},
}

# NeuroSim's recommended devices (manual Table IV/VI), in the config format.
RECOMMENDED = {
    "rram_intel_22nm": (22, "rram", 6e3, 17, 60),
    "rram_tsinghua_130nm": (130, "rram", 100e3, 10, 16),
    "pcm_ibm_90nm": (90, "pcm", 40e3, 12.5, 16),
    "fefet_gf_22nm": (22, "fefet", 240e3, 100, 24),
    "stt_mram_intel_22nm": (22, "stt_mram", 1.4e3, 2.8, 100),
}


def test_nodes_cover_130_to_1_nm():
    nodes = load_nodes()
    assert {130, 90, 65, 45, 32, 22, 14, 10, 7, 5, 3, 2, 1} <= set(nodes)
    assert nodes[22].vdd_v == 0.85 and nodes[7].vdd_v == 0.7
    # NeuroSim V1.4 Param.cpp / Technology.cpp figures of the nodes below 7 nm
    assert [nodes[n].vdd_v for n in (5, 3, 2, 1)] == [0.7, 0.7, 0.65, 0.6]
    assert [nodes[n].wire_width_nm for n in (5, 3, 2, 1)] == [15, 12, 10, 8]
    assert nodes[3].sram6t_f2 == pytest.approx(30 * 68.26) and nodes[1].sram6t_f2 == 80 * 144
    assert nodes[1].wire_ar == 3.0 and nodes[2].read_voltage_v == 0.28


def test_sub_7_nm_gates_follow_finfet_and_nanosheet_rules():
    from cimpipe.hw import gates as G

    fin, gaa = G.node(3), G.node(2)
    assert fin.finfet and not fin.gaa and gaa.finfet and gaa.gaa
    # a minimum inverter is two contacted poly pitches wide at the node's standard-cell height
    assert G.gate_size_um(fin, "INV", 1, 2 * fin.f_um, 2 * fin.f_um) == pytest.approx((48 * 0.003, 2 * 16 * 0.003))
    # a nanosheet device of two sheet stacks folds (one stack per device in a standard cell); unfolded stacked
    # inputs share a diffusion
    _, w_folded = G.gate_size_um(gaa, "NAND", 2, 4 * gaa.f_um, 2 * gaa.f_um)
    _, w_min = G.gate_size_um(gaa, "NAND", 2, 2 * gaa.f_um, 2 * gaa.f_um)
    assert w_folded == pytest.approx(2 * 3 * gaa.cpp_um) and w_min == pytest.approx(3 * gaa.cpp_um)


def test_from_config_builds_a_frozen_technology():
    tech = Technology.from_config("rram_22nm", RRAM)
    assert tech.node_nm == 22 and tech.device.r_off_ohm == 1e7
    assert tech.device.needs_level_shifter
    with pytest.raises(AttributeError):
        tech.name = "x"  # type: ignore[misc]


def test_recommended_devices_load():
    entries = {}
    for name, (node, memory, r_on, ratio, area) in RECOMMENDED.items():
        e = copy.deepcopy(RRAM)
        e["node_nm"] = node
        e["device"].update(memory=memory, r_on_ohm=r_on, on_off_ratio=ratio, cell_area_f2=area)
        entries[name] = e
    techs = load_technologies(entries)
    assert techs["pcm_ibm_90nm"].node.vdd_v == 1.2
    assert set(builtin_technologies()) >= {"rram_22nm", "sram_22nm"}


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda e: e["device"].pop("r_on_ohm"), "'r_on_ohm'"),
        (lambda e: e["device"].update(colour="red"), "'colour'"),
        (lambda e: e["device"].update(r_on_ohm="high"), "'r_on_ohm'"),
        (lambda e: e["device"].update(max_cell_bits=2.5), "'max_cell_bits'"),
        (lambda e: e["device"].update(memory="dram"), "'memory'"),
        (lambda e: e.update(node_nm=23), "'node_nm'"),
        (lambda e: e.pop("device"), "'device'"),
        (lambda e: e.update(extra=1), "'extra'"),
        (lambda e: e["device"].update(on_off_ratio=1.0), "'on_off_ratio'"),
    ],
)
def test_bad_fields_name_technology_and_field(mutate, words):
    entry = copy.deepcopy(RRAM)
    mutate(entry)
    with pytest.raises(TechnologyError) as err:
        Technology.from_config("rram_22nm", entry)
    msg = str(err.value)
    assert "rram_22nm" in msg and words in msg and "\n" not in msg
