"""Every technology value a job would refuse is refused when config.yaml is validated, naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from cimpipe.config import ConfigError, known_nodes, load_schema, validate_config
from cimpipe.hw.technology import CELLS, MEMORIES, load_nodes
from test_workflow import TINY, copy_workflow, snakemake

CONFIG = yaml.safe_load(TINY.read_text())


def edited(change) -> dict:
    config = copy.deepcopy(CONFIG)
    change(config)
    return config


def rram(config: dict) -> dict:
    return config["technologies"]["rram_22nm"]


@pytest.mark.parametrize("change, message", [
    (lambda c: rram(c).update(node_nm=28),
     "config key technologies.rram_22nm.node_nm is 28, not a node of the hardware model (1, 2, 3"),
    (lambda c: rram(c)["device"].update(memory="dram"),
     "config key technologies.rram_22nm.device.memory must be one of"),
    (lambda c: rram(c)["device"].update(cell="sram6t"),
     "config key technologies.rram_22nm.device.cell is 'sram6t', which does not fit memory 'rram'"),
    (lambda c: c["technologies"]["sram_22nm"]["device"].update(max_cell_bits=2),
     "config key technologies.sram_22nm.device.max_cell_bits must be 1 for an SRAM cell"),
    (lambda c: rram(c)["device"].update(on_off_ratio=0.5),
     "config key technologies.rram_22nm.device.on_off_ratio is out of range"),
    (lambda c: rram(c)["device"].update(sigma=-0.1),
     "config key technologies.rram_22nm.device.sigma is out of range"),
    (lambda c: rram(c)["device"].update(max_cell_bits=9),
     "config key technologies.rram_22nm.device.max_cell_bits is out of range"),
    (lambda c: c["workloads"]["demo"].setdefault("accuracy", {}).update(sigma_max=0.01),
     "config key technologies.rram_22nm.device.sigma is 0.05, beyond the 0.01 of workloads.demo.accuracy.sigma_max"),
])
def test_a_technology_a_job_would_refuse_is_refused_at_validation(change, message) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(edited(change))
    assert message in str(err.value)


def test_the_shipped_configs_pass() -> None:
    validate_config(copy.deepcopy(CONFIG))
    validate_config(yaml.safe_load((TINY.parent.parent.parent / "config.yaml").read_text()))


def test_the_schema_and_the_hardware_model_know_the_same_kinds_and_nodes() -> None:
    device = load_schema()["$defs"]["technology"]["properties"]["device"]["properties"]
    assert tuple(device["memory"]["enum"]) == MEMORIES and tuple(device["cell"]["enum"]) == CELLS
    assert known_nodes() == sorted(load_nodes())


def test_node_28_is_refused_before_any_job(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path, edited(lambda c: rram(c).update(node_nm=28)))
    out = snakemake(workdir, "-c1")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "cimpipe: config key technologies.rram_22nm.node_nm is 28" in text and "Traceback" not in text
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
