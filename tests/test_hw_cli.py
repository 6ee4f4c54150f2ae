"""The `cimpipe evaluate` command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cimpipe.cli import main

NET = str(Path(__file__).parent / "data" / "NetWork_VGG8.csv")
KEYS = {"energy_uj", "latency_ms", "area_mm2", "edap_uj_ms_mm2", "dynamic_energy_uj", "leakage_energy_uj",
        "leakage_power_uw", "tops", "tops_per_w", "tops_per_mm2", "fps", "utilization", "tiles", "clock_period_ns"}


def test_evaluate_json_via_subprocess(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cimpipe.cli", "evaluate", NET, "--technology", "rram_22nm", "--json"],
                         capture_output=True, text=True, cwd=tmp_path, check=True)
    result = json.loads(out.stdout)
    assert KEYS <= set(result)
    assert result["tiles"] == 47
    assert 120 < result["area_mm2"] < 160  # NeuroSim V1.4's floorplan (V1.3's example reported 45.55)


def test_evaluate_layers_in_json(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", NET, "--technology", "rram_22nm", "--json", "--layers"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [layer["tiles"] for layer in result["layers"]] == [1, 1, 2, 2, 4, 4, 32, 1]


def test_differential_arrays_cost_more_tiles_than_offset_weights(capsys, tmp_path, monkeypatch):
    """`--sign-encoding differential` prices a positive and a negative array: 8-bit weights on 2-bit cells take
    2 * ceil(7 / 2) = 8 columns each instead of 4, and the design says which encoding it ran with."""
    monkeypatch.chdir(tmp_path)
    runs = {}
    for encoding in ("offset", "differential"):
        assert main(["evaluate", NET, "--technology", "rram_22nm", "--json", "--sign-encoding", encoding]) == 0
        runs[encoding] = json.loads(capsys.readouterr().out)
    assert runs["offset"]["tiles"] == 47 and runs["differential"]["tiles"] > 47
    assert runs["differential"]["area_mm2"] > runs["offset"]["area_mm2"]
    assert runs["differential"]["design"]["sign_encoding"] == "differential"


def test_overrides_and_table_output(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", NET, "--technology", "sram_22nm", "--parallel-rows", "32", "--pipeline",
                 "--node", "7"]) == 0
    assert "chip metrics" in capsys.readouterr().out


def test_config_technology_is_used(capsys, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "technologies:\n  fefet_22nm:\n    node_nm: 22\n    device: {memory: fefet, cell: 1t1r, r_on_ohm: 240000,"
        " on_off_ratio: 100, max_cell_bits: 2, read_voltage_v: 0.5, read_pulse_ns: 10, write_voltage_v: 4.0,"
        " cell_area_f2: 24, sigma: 0.05}\n")
    assert main(["evaluate", NET, "--technology", "fefet_22nm", "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tiles"] == 47


def test_user_errors_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", NET, "--technology", "nope"]) == 2
    assert "technology 'nope'" in capsys.readouterr().err
    assert main(["evaluate", NET, "--technology", "rram_22nm", "--adc-bits", "13"]) == 2
    assert "adc_bits_out_of_range" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.csv"), "--technology", "rram_22nm"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_adc_bits_per_layer(capsys, tmp_path, monkeypatch):
    """``--adc-bits 5,5,...`` (one per NetWork.csv line) equals ``--adc-bits 5``; a coarser ADC on one layer
    costs less ADC energy; a list of the wrong length is refused with one sentence."""
    monkeypatch.chdir(tmp_path)
    run = lambda bits: (main(["evaluate", NET, "--technology", "rram_22nm", "--json", "--adc-bits", bits]),  # noqa: E731
                        json.loads(capsys.readouterr().out))
    rc, uniform = run("5")
    rc_list, listed = run(",".join(["5"] * 8))
    assert rc == rc_list == 0
    assert listed["area_mm2"] == uniform["area_mm2"] and listed["latency_ms"] == uniform["latency_ms"]
    _, coarse_fc = run("5,5,5,5,5,5,3,5")  # the big FC layer (32 tiles) on 3-bit ADCs
    assert coarse_fc["energy_breakdown_uj"]["adc"] < uniform["energy_breakdown_uj"]["adc"]
    assert main(["evaluate", NET, "--technology", "rram_22nm", "--adc-bits", "5,5"]) == 2
    assert "--adc-bits gives 2 resolutions but" in capsys.readouterr().err


def test_evaluate_speaks_neurosims_knobs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def energy(*extra: str) -> dict:
        assert main(["evaluate", NET, "--technology", "rram_22nm", "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    sparse, dense = energy("--input-bit-density", "0.1"), energy("--input-bit-density", "0.4")
    assert sparse["dynamic_energy_uj"] < dense["dynamic_energy_uj"] and sparse["area_mm2"] == dense["area_mm2"]
    conventional, htree = energy("--mapping", "conventional"), energy("--bus", "htree")
    assert conventional["tiles"] != sparse["tiles"] and htree["area_mm2"] != sparse["area_mm2"]
    assert main(["evaluate", NET, "--technology", "sram_22nm", "--node", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["area_mm2"] > 0


def test_evaluate_speaks_the_fronts_units_and_echoes_the_design(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", NET, "--technology", "rram_22nm", "--json", "--adc-bits", "4", "--parallel-rows", "64"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["energy_uj"] == pytest.approx(result["dynamic_energy_uj"] + result["leakage_energy_uj"])
    assert result["edap_uj_ms_mm2"] == pytest.approx(result["energy_uj"] * result["latency_ms"] * result["area_mm2"])
    design = result["design"]
    assert (design["adc_bits"], design["rows_parallel"], design["cell_bits"], design["layers"]) == (4, 64, 2, 8)
    assert design["input_bit_density"] == 0.5 and design["mapping"] == "novel"
    assert main(["evaluate", NET, "--technology", "rram_22nm"]) == 0
    out = capsys.readouterr().out
    assert "design evaluated" in out and "other: wordline and bitline drivers" in out


def test_evaluate_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 128)" in text and "(default: flash)" in text and "(default: 8)" in text


@pytest.mark.parametrize("extra", [",1", ""])
def test_a_row_of_another_width_is_refused(capsys, tmp_path, extra):
    rows = Path(NET).read_text().splitlines()
    line = rows[2].rstrip(",")
    rows[2] = line + extra if extra else ",".join(line.split(",")[:7])
    bad = tmp_path / "NetWork.csv"
    bad.write_text("\n".join(rows) + "\n")
    assert main(["evaluate", str(bad), "--technology", "rram_22nm"]) == 2
    err = capsys.readouterr().err
    assert f"network file {bad} line 3 has {9 if extra else 7} columns but line 1 has 8" in err and err.count("\n") == 1
