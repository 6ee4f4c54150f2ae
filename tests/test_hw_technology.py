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


def test_nodes_cover_130_to_7_nm():
    nodes = load_nodes()
    assert {130, 90, 65, 45, 32, 22, 14, 10, 7} <= set(nodes)
    assert nodes[22].vdd_v == 0.85 and nodes[7].vdd_v == 0.7


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
