"""The hardware model at NeuroSim's two published calibration points, against NeuroSim V1.4's own runs of them."""

import json
from pathlib import Path

import pytest

from cimpipe.hw import builtin_technologies, evaluate_design
from cimpipe.hw.fidelity import model_row
from cimpipe.hw.network import read_network_csv
from cimpipe.hw.neurosim import OracleRun
from cimpipe.space import HardwareConfig

VGG8 = read_network_csv(Path(__file__).parent / "data" / "NetWork_VGG8.csv")


@pytest.fixture(scope="module")
def point_a():
    """NeuroSim V1.3 example: RRAM 22 nm, 2 bits/cell, 128x128, all rows, 8 cols/ADC, 5-bit flash, layer-by-layer."""
    tech = builtin_technologies()["rram_22nm"]
    hw = HardwareConfig("rram_22nm", subarray=128, rows_parallel=128, col_mux=8, adc_bits=5, adc_type="flash",
                        cell_bits=2, pipeline=False)
    return evaluate_design(VGG8, 8, 8, hw, tech, per_layer=True)


@pytest.fixture(scope="module")
def point_b():
    """NeuroSim V1.4 Table VII: SRAM 22 nm, 1 bit/cell, 32 rows in parallel, 5-bit flash, pipelined."""
    tech = builtin_technologies()["sram_22nm"]
    hw = HardwareConfig("sram_22nm", subarray=128, rows_parallel=32, col_mux=8, adc_bits=5, adc_type="flash",
                        cell_bits=1, pipeline=True)
    return evaluate_design(VGG8, 8, 8, hw, tech)


def test_point_a_mapping_is_exact(point_a):
    assert point_a.layers["tiles"][0].tolist() == [1, 1, 2, 2, 4, 4, 32, 1]
    assert point_a.layers["speedup"][0].tolist() == [16, 4, 4, 2, 2, 1, 1, 8]
    util = [round(u, 4) for u in point_a.layers["utilization"][0].tolist()]
    assert util == [0.2109, 1, 1, 1, 1, 1, 1, 0.3125]
    assert round(float(point_a.utilization[0]), 4) == 0.9686
    assert float(point_a.tiles[0]) == 47


# NeuroSim V1.4 runs of the two points on the shipped NetWork_VGG8.csv (synthetic traces, input bit density 0.2),
# stored by the oracle (tests/data/neurosim/reference). Point B reproduces the V1.4 manual's Table VII.
REFERENCE = Path(__file__).parent / "data" / "neurosim" / "reference"
# |model / NeuroSim - 1| the model reaches on these two points today
TOLERANCE = {"area_mm2": 0.01, "latency_ns": 0.02, "dynamic_energy_pj": 0.08, "tops_per_w": 0.08}


def _reference(name: str) -> OracleRun:
    return OracleRun.from_dict(json.loads((REFERENCE / f"{name}.json").read_text()))


def test_the_stored_point_b_run_is_the_v14_manuals_table_vii():
    rep = _reference("point_b").report
    assert rep.area_mm2 == pytest.approx(85.97, rel=0.01)
    assert rep.tops == pytest.approx(6.06, rel=0.01)
    assert rep.tops_per_w == pytest.approx(8.76, rel=0.06)  # the manual's traces are real images, ours synthetic


@pytest.mark.parametrize("name", ["point_a", "point_b"])
@pytest.mark.parametrize("metric", sorted(TOLERANCE))
def test_points_against_neurosim_v14(name, metric):
    run = _reference(name)
    model = model_row(run)
    assert model["tiles"] == run.report.tiles
    assert model[metric] == pytest.approx(getattr(run.report, metric), rel=TOLERANCE[metric])


def test_pipelined_sram_is_faster_than_point_a(point_a, point_b):
    assert float(point_b.tops[0]) > float(point_a.tops[0])


def test_point_a_area_is_neurosim_v14s_not_v13s(point_a):
    """V1.3 reported 45.55 mm^2 for point A. V1.4 sizes the 1T1R periphery larger (validated level shifters
    with I/O devices at 2.5x cell height and alpha = 1.44, WL switch matrix 14x at 22 nm), and its subarray
    bounding boxes then dwarf the 48 F^2 cells: on V1.4 the same floorplan gives about three times as much
    (the model matches V1.4's stored RRAM 22 nm runs, e.g. cimpipe_vgg8_a-003, to about 1 %)."""
    assert 120.0 < float(point_a.area_mm2[0]) < 160.0
    parts = point_a.area_breakdown_mm2
    assert float(parts["empty"][0]) > float(parts["array"][0])
