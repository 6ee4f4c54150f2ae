"""Technologies are data: one packaged definition per technology, config entries resolved against it and
validated field by field."""

import copy
from dataclasses import asdict
from pathlib import Path

import pytest

from cimpipe.hw import Technology, TechnologyError, builtin_technologies, load_technologies
from cimpipe.hw.technology import load_nodes
from cimpipe.technologies import MAX_CELL_BITS

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
        e["device"].update(memory=memory, r_on_ohm=r_on, on_off_ratio=ratio, cell_area_f2=area,
                           max_cell_bits=MAX_CELL_BITS[memory] if memory == "stt_mram" else 2)
        entries[name] = e
    techs = load_technologies(entries)
    assert techs["pcm_ibm_90nm"].node.vdd_v == 1.2
    assert set(builtin_technologies()) >= {"rram_22nm", "sram_22nm"}


def test_neurosim_devices_are_packaged_at_every_node():
    """NeuroSim's recommended devices (manual's device table) by name, ``<device>_<node>nm``, at every node."""
    techs = builtin_technologies()
    nodes = sorted(load_nodes())
    for device in ("rram", "rram_intel", "pcm", "fefet", "stt_mram", "sram"):
        assert {f"{device}_{n}nm" for n in nodes} <= set(techs), device
    # NeuroSim's 130 nm RRAM is not packaged (rram_130nm is the VGG-8 example's device at 130 nm)
    packaged_as = {"rram_intel_22nm": "rram_intel_22nm", "pcm_ibm_90nm": "pcm_90nm", "fefet_gf_22nm": "fefet_22nm",
                   "stt_mram_intel_22nm": "stt_mram_22nm"}
    for name, packaged in packaged_as.items():
        node, memory, r_on, ratio, area = RECOMMENDED[name]
        d = techs[packaged].device
        assert (techs[packaged].node_nm, d.memory, d.r_on_ohm, d.on_off_ratio, d.cell_area_f2) == \
            (node, memory, r_on, ratio, area), name
    # the RRAM of NeuroSim V1.3's VGG-8 example, in Param.cpp's 4 x 12 F^2 1T1R cell, at any node
    assert techs["rram_7nm"].device == techs["rram_22nm"].device
    assert (techs["rram_22nm"].device.r_off_ohm, techs["rram_22nm"].device.cell_area_f2) == (1e7, 48)
    assert techs["fefet_3nm"].node.vdd_v == 0.7 and techs["stt_mram_22nm"].device.max_cell_bits == 1


def test_packaged_sram_is_neurosims_6t_cell_at_each_node():
    """Cell area heightInFeatureSizeSRAM x widthInFeatureSizeSRAM, VDD, one bit, and as r_on_ohm the access
    transistor the hardware model reads the cell through."""
    from cimpipe.hw.adc_energy import sram_access_resistance_ohm

    for node_nm, node in load_nodes().items():
        tech = builtin_technologies()[f"sram_{node_nm}nm"]
        d = tech.device
        assert (d.memory, d.cell, d.max_cell_bits, d.sigma, d.on_off_ratio) == ("sram", "sram6t", 1, 0.0, 1e6)
        assert d.cell_area_f2 == node.sram6t_f2 and d.read_voltage_v == d.write_voltage_v == node.vdd_v
        assert d.r_on_ohm == pytest.approx(sram_access_resistance_ohm(tech), rel=0.01), node_nm
    assert builtin_technologies()["sram_7nm"].device.cell_area_f2 == pytest.approx(16 * 34.43)


def test_sram_22nm_is_one_device_everywhere(tmp_path, monkeypatch):
    """The CLI without a config, the tests' default (the packaged set), config.yaml and the tests' tiny config
    mean the same device by sram_22nm."""
    from cimpipe.cli.common import technologies
    from cimpipe.config import load_config

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)  # no config.yaml here: the CLI takes the packaged set
    cli = technologies(None)["sram_22nm"]
    default = builtin_technologies()["sram_22nm"]
    shipped = load_technologies(load_config(root / "config.yaml")["technologies"])["sram_22nm"]
    tiny = load_technologies(load_config(root / "tests" / "data" / "tiny_config.yaml")["technologies"])["sram_22nm"]
    assert cli == default == shipped == tiny
    assert (default.device.r_on_ohm, default.device.on_off_ratio) == (86400, 1e6)


def test_entries_name_override_or_define_a_technology():
    techs = load_technologies({"sram_22nm": {}, "quiet": {"from": "rram_22nm", "override": {"device": {"sigma": 0.0}}},
                               "rram_22nm": RRAM, "own": {**RRAM, "node_nm": 14}})
    assert techs["sram_22nm"] == builtin_technologies()["sram_22nm"]
    assert techs["quiet"].device.sigma == 0.0 and techs["quiet"].device.r_on_ohm == 100000
    assert techs["rram_22nm"] == builtin_technologies()["rram_22nm"] and techs["own"].node_nm == 14
    with pytest.raises(TechnologyError, match=r"^config key technologies.sram_22nm.device.on_off_ratio is 100000.0, "
                                              r"but the packaged sram_22nm has 1000000.0"):
        load_technologies({"sram_22nm": {"node_nm": 22, "device": {**asdict(builtin_technologies()["sram_22nm"].device),
                                                                   "on_off_ratio": 1e5}}})
    with pytest.raises(TechnologyError, match="config key technologies.mine is empty"):
        load_technologies({"mine": {}})


@pytest.mark.parametrize("memory, cell, bits", [("sram", "sram6t", 2), ("stt_mram", "1t1r", 2), ("rram", "1t1r", 9),
                                                ("fefet", "1t1r", 9)])
def test_a_cell_storing_more_bits_than_its_memory_holds_is_refused(memory, cell, bits):
    entry = copy.deepcopy(RRAM)
    entry["device"].update(memory=memory, cell=cell, max_cell_bits=bits)
    with pytest.raises(TechnologyError) as err:
        Technology.from_config("x", entry)
    assert f"'max_cell_bits' must lie in 1..{MAX_CELL_BITS[memory]} for {memory}" in str(err.value)


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
