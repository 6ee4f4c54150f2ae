"""Every technology value a job would refuse is refused when config.yaml is validated, naming the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import pytest
import yaml

from cimpipe.config import ConfigError, canonical, check_config_files, known_nodes, load_config, load_schema, validate_config
from cimpipe.hw.technology import CELLS, MEMORIES, load_nodes
from cimpipe.technologies import packaged_technologies
from test_workflow import TINY, copy_workflow, snakemake

CONFIG = yaml.safe_load(TINY.read_text())


def edited(change) -> dict:
    config = copy.deepcopy(CONFIG)
    change(config)
    return config


# a technology of its own, in full: the packaged rram_22nm's device under a name of its own
OWN = {"node_nm": 22,
       "device": {"memory": "rram", "cell": "1t1r", "r_on_ohm": 100000, "on_off_ratio": 100, "max_cell_bits": 2,
                  "read_voltage_v": 0.5, "read_pulse_ns": 10, "write_voltage_v": 2.0, "cell_area_f2": 48,
                  "sigma": 0.05}}


def own(config: dict) -> dict:
    """The config's own technology ``my_rram`` (added, in full)."""
    return config["technologies"].setdefault("my_rram", copy.deepcopy(OWN))


def override(name: str, **device) -> Callable[[dict], None]:
    """A change that overrides device fields of the packaged technology ``name``, saying so."""
    return lambda c: c["technologies"].update({name: {"override": {"device": device}}})


@pytest.mark.parametrize("change, message", [
    (lambda c: own(c).update(node_nm=28),
     "config key technologies.my_rram.node_nm is 28, not a node of the hardware model (1, 2, 3"),
    (lambda c: own(c)["device"].update(memory="dram"),
     "config key technologies.my_rram.device.memory must be one of"),
    (lambda c: own(c)["device"].update(cell="sram6t"),
     "config key technologies.my_rram.device.cell is 'sram6t', which does not fit memory 'rram'"),
    (override("sram_22nm", max_cell_bits=2),
     "config key technologies.sram_22nm.override.device.max_cell_bits must be at most 1 for an SRAM cell, not 2 "
     "(a 6T cell holds one bit"),
    (override("stt_mram_22nm", max_cell_bits=2),
     "config key technologies.stt_mram_22nm.override.device.max_cell_bits must be at most 1 for a stt_mram cell"),
    (lambda c: own(c)["device"].update(on_off_ratio=0.5),
     "config key technologies.my_rram.device.on_off_ratio is out of range"),
    (override("rram_22nm", on_off_ratio=1),
     "config key technologies.rram_22nm.override.device.on_off_ratio is out of range"),
    (lambda c: own(c)["device"].update(sigma=-0.1),
     "config key technologies.my_rram.device.sigma is out of range"),
    (lambda c: own(c)["device"].update(max_cell_bits=9),
     "config key technologies.my_rram.device.max_cell_bits is out of range"),
    (lambda c: c["workloads"]["demo"].setdefault("accuracy", {}).update(sigma_max=0.01),
     "config key technologies.rram_22nm.device.sigma is 0.05, beyond the 0.01 of workloads.demo.accuracy.sigma_max"),
    (lambda c: (override("rram_22nm", sigma=0.2)(c), c["workloads"]["demo"]["accuracy"].update(sigma_max=0.1)),
     "config key technologies.rram_22nm.override.device.sigma is 0.2, beyond the 0.1 of workloads.demo.accuracy"),
])
def test_a_technology_a_job_would_refuse_is_refused_at_validation(change, message) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(edited(change))
    assert message in str(err.value) and "\n" not in str(err.value)


SRAM_AS_IT_WAS = {"node_nm": 22,  # config.yaml's own sram_22nm before the packaged set became the one definition
                  "device": {"memory": "sram", "cell": "sram6t", "r_on_ohm": 15000, "on_off_ratio": 100000,
                             "max_cell_bits": 1, "read_voltage_v": 0.85, "read_pulse_ns": 1, "write_voltage_v": 0.85,
                             "cell_area_f2": 280, "sigma": 0.0}}


@pytest.mark.parametrize("entry, message", [
    # a packaged name restated with other values, without saying it overrides
    (SRAM_AS_IT_WAS, "config key technologies.sram_22nm.device.r_on_ohm is 15000.0, but the packaged sram_22nm has "
                     "86400.0: write 'sram_22nm: {}' for the packaged technology, or say that it changes it with "
                     "'override: {device: {r_on_ohm: 15000.0}}'"),
    ({"from": "sram_22nm", "device": {"sigma": 0.01}},
     "config key technologies.sram_22nm.device sits beside from/override; put the fields that differ"),
    ({"from": "sram_23nm"}, "config key technologies.sram_22nm.from names 'sram_23nm', which is not a packaged "
                            "technology (packaged: rram_<node>nm, rram_intel_<node>nm, pcm_<node>nm"),
    ({"node_nm": 22}, "config key technologies.sram_22nm.device is required for a technology defined in full"),
])
def test_a_packaged_name_means_the_packaged_device(entry, message) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(edited(lambda c: c["technologies"].update(sram_22nm=entry)))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_empty_entry_must_name_a_packaged_technology() -> None:
    with pytest.raises(ConfigError, match=r"config key technologies.rram_23nm is empty, so it names the packaged "
                                          r"technology 'rram_23nm', which is not a packaged technology"):
        validate_config(edited(lambda c: c["technologies"].update(rram_23nm={})))
    with pytest.raises(ConfigError, match=r"config key technologies.mine.override needs from"):
        validate_config(edited(lambda c: c["technologies"].update(mine={"override": {"device": {"sigma": 0.0}}})))


def test_entries_resolve_to_the_packaged_devices() -> None:
    """Validation leaves every technology in full: the same device whichever way it is written, so the rules'
    params (and so hw_cost's reruns) follow the device, not its spelling."""
    packaged = packaged_technologies()
    spelled_out = copy.deepcopy(packaged["sram_22nm"])
    spelled_out["device"]["r_on_ohm"] = int(spelled_out["device"]["r_on_ohm"])  # 86400 == 86400.0
    config = validate_config(edited(lambda c: c["technologies"].update(
        sram_22nm=spelled_out, fefet_7nm=None, quiet={"from": "rram_22nm", "override": {"device": {"sigma": 0.02}}},
        rram_14nm={"override": {"node_nm": 14}})))
    techs = config["technologies"]
    assert techs["rram_22nm"] == packaged["rram_22nm"] and techs["fefet_7nm"] == packaged["fefet_7nm"]
    assert repr(canonical(techs["sram_22nm"])) == repr(canonical(packaged["sram_22nm"]))
    assert techs["quiet"] == {**packaged["rram_22nm"], "device": {**packaged["rram_22nm"]["device"], "sigma": 0.02}}
    assert techs["rram_14nm"] == packaged["rram_14nm"]
    assert validate_config(copy.deepcopy(config))["technologies"] == techs  # resolving twice changes nothing


def test_the_shipped_configs_pass() -> None:
    validate_config(copy.deepcopy(CONFIG))
    validate_config(yaml.safe_load((TINY.parent.parent.parent / "config.yaml").read_text()))


def test_the_schema_and_the_hardware_model_know_the_same_kinds_and_nodes() -> None:
    device = load_schema()["$defs"]["technology"]["properties"]["device"]["properties"]
    assert tuple(device["memory"]["enum"]) == MEMORIES and tuple(device["cell"]["enum"]) == CELLS
    assert known_nodes() == sorted(load_nodes())


def test_node_28_is_refused_before_any_job(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path, edited(lambda c: c["technologies"].update(rram_22nm={"override": {"node_nm": 28}})))
    out = snakemake(workdir, "-c1")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "cimpipe: config key technologies.rram_22nm.override.node_nm is 28" in text and "Traceback" not in text
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


def write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_a_technology_two_config_files_define_differently_is_refused(tmp_path: Path) -> None:
    base = write(tmp_path / "config.yaml", CONFIG)
    same = write(tmp_path / "same.yaml", {"technologies": {"sram_22nm": packaged_technologies()["sram_22nm"]}})
    check_config_files([base, same])  # {} and the packaged values in full are one device
    other = write(tmp_path / "other.yaml", {"technologies": {"sram_22nm": SRAM_AS_IT_WAS}})
    with pytest.raises(ConfigError) as err:
        check_config_files([base, other])
    assert str(err.value) == (f"config key technologies.sram_22nm is given in both {base.resolve()} and "
                              f"{other.resolve()} with different values; define it once (a changed device takes a "
                              "name of its own, with from: sram_22nm and override)")
    partial = write(tmp_path / "partial.yaml", {"technologies": {"rram_22nm": {"device": {"sigma": 0.0}}}})
    with pytest.raises(ConfigError, match="config key technologies.rram_22nm is given in both"):
        check_config_files([base, partial])  # Snakemake would merge it into config.yaml's entry field by field


def test_a_key_given_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    text = TINY.read_text() + "  sram_22nm: {override: {device: {sigma: 0.01}}}\n"  # a second sram_22nm
    path = tmp_path / "config.yaml"
    path.write_text(text)
    line = len(text.splitlines())
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith("config key technologies.sram_22nm is given twice in ")
    assert str(err.value).endswith(f"and {line}); keep one")
    with pytest.raises(ConfigError, match="config key technologies.sram_22nm is given twice"):
        check_config_files([path])


def test_an_overlay_redefining_a_technology_is_refused_before_any_job(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    write(workdir / "overlay.yaml", {"technologies": {"sram_22nm": SRAM_AS_IT_WAS}})
    out = snakemake(workdir, "-n", "-c1", "--configfile", "overlay.yaml")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "cimpipe: config key technologies.sram_22nm is given in both config.yaml and " in text
    assert "Traceback" not in text and not (workdir / "results").exists()
