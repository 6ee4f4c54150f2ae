"""NeuroSim as an oracle: its inputs, its builds, its report, and one small network end to end.

The end-to-end tests build the NeuroSim V1.4 checkout named by ``CIMPIPE_NEUROSIM`` or found at
``../shared/neurosim-v1.4`` beside the repository (about 20 s), and are skipped with a message elsewhere.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cimpipe.cli import main
from cimpipe.families import LayerShape
from cimpipe.hw import fidelity
from cimpipe.hw import neurosim as ns

REPO = Path(__file__).resolve().parents[1]
STORED = REPO / "tests" / "data" / "neurosim"
CHECKOUT = Path(os.environ.get("CIMPIPE_NEUROSIM", REPO.parent / "shared" / "neurosim-v1.4"))
HAS_CHECKOUT = (CHECKOUT / "Inference_pytorch" / "NeuroSIM" / "main.cpp").is_file()
TWO_LAYERS = [LayerShape(6, 6, 16, 3, 32, False, 1), LayerShape(1, 1, 512, 1, 10, False, 1)]

needs_checkout = pytest.mark.skipif(
    not HAS_CHECKOUT,
    reason=f"no NeuroSim V1.4 checkout at {CHECKOUT} (set CIMPIPE_NEUROSIM to run the end-to-end checks)")


# ---------------------------------------------------------------------------------------------- inputs

PARAM_SNIPPET = """
	/***************************************** user defined design options and parameters *****************************************/
	memcelltype = 1;        	// 1: SRAM
	technode = 22;
	cellBit = 1;                        // precision of memory device
	resistanceOff = 100e3*17;// 6e3*17;
	/***************************************** user defined design options and parameters *****************************************/
	if (memcelltype == 1) {
		cellBit = 1;
	}
"""


def test_param_edits_replace_the_first_assignment_in_the_user_section_only():
    out = ns.patch_param(PARAM_SNIPPET, {"memcelltype": "2", "cellBit": "2", "resistanceOff": "1700000.0"})
    assert "memcelltype = 2;" in out and "resistanceOff = 1700000.0;" in out
    assert "cellBit = 2;" in out and "\t\tcellBit = 1;" in out  # the forced SRAM value below is NeuroSim's own
    with pytest.raises(ns.NeuroSimError, match="'numColMuxed'"):
        ns.patch_param(PARAM_SNIPPET, {"numColMuxed": "8"})


def test_settings_refuse_values_neurosim_cannot_run_naming_the_setting():
    with pytest.raises(ns.NeuroSimError, match="node_nm=28"):
        ns.NeuroSimSettings(node_nm=28)
    with pytest.raises(ns.NeuroSimError, match="node_nm=7 .*SRAM only"):
        ns.NeuroSimSettings(memory="rram", node_nm=7)
    with pytest.raises(ns.NeuroSimError, match="rows_parallel"):
        ns.NeuroSimSettings(subarray_rows=64, rows_parallel=128)
    assert ns.NeuroSimSettings(memory="sram", cell_bits=2).param_edits()["cellBit"] == "1"


def test_synthetic_traces_follow_neurosims_trace_format(tmp_path):
    s = ns.NeuroSimSettings(weight_bits=4, input_bits=6)
    traces = ns.synthetic_traces(TWO_LAYERS, s, input_density=0.3, seed=1)
    paths = ns.write_inputs(tmp_path, TWO_LAYERS, traces)
    assert (tmp_path / "NetWork.csv").read_text().splitlines() == ["6,6,16,3,3,32,0,1", "1,1,512,1,1,10,0,1"]
    w = np.loadtxt(paths[0], delimiter=",")
    x = np.loadtxt(paths[1], delimiter=",")
    assert w.shape == (16 * 9, 32)  # unrolled C_in*K*K rows, C_out columns
    assert x.shape == (16 * 9, 4 * 4 * 6)  # 4x4 output positions, 6 bits each
    levels = ns.weight_levels(w, 4)  # NeuroSim's offset mapping to 16 levels
    assert levels.min() >= 0 and levels.max() <= 15 and np.allclose(levels / 8.0 - 1.0, w, atol=1e-5)
    assert set(np.unique(x)) <= {0.0, 1.0} and abs(x.mean() - 0.3) < 0.03
    stats = ns.trace_stats(traces, 4, 2)
    assert abs(stats.input_bit_density - 0.3) < 0.02 and abs(stats.weight_level_mean - 0.5) < 0.05
    assert len(stats.layer_input_bit_density) == 2 and len(stats.layer_weight_level_mean) == 2


def test_the_stored_level_is_the_cells_mean_not_the_weights():
    """Weights near zero stored with an offset (level 2^(w-1), binary 10..0) leave every cell but the top one at
    level 0: NeuroSim's column currents follow the cells, so the statistic does too."""
    zero = np.zeros((64, 8))  # weight 0 -> level 128 of 8 bits -> cells (2 bits each) 0, 0, 0, 2
    trace = ns.LayerTrace(weights=zero, input_bits=np.ones((64, 8), dtype=np.uint8))
    stats = ns.trace_stats([trace], 8, 2)
    assert stats.weight_level_mean == pytest.approx((2 / 3) / 4)
    assert ns.trace_stats([trace], 8, 1).weight_level_mean == pytest.approx(1 / 8)


def test_a_layer_without_input_vectors_is_refused():
    with pytest.raises(ns.NeuroSimError, match="padded input size"):
        ns.synthetic_traces([LayerShape(2, 2, 8, 3, 8, False, 1)], ns.NeuroSimSettings())


def test_a_path_that_is_not_a_checkout_is_named(tmp_path):
    with pytest.raises(ns.NeuroSimError, match=f"{tmp_path} is not a NeuroSim checkout"):
        ns.find_source(tmp_path)
    assert main(["neurosim", "run", str(tmp_path / "net.csv"), "--neurosim", str(tmp_path)]) == 2


def test_a_failed_build_is_one_sentence_and_leaves_nothing(tmp_path):
    src = tmp_path / "broken" / "NeuroSIM"
    src.mkdir(parents=True)
    for name in ns.MARKER_FILES:
        (src / name).write_text("")
    (src / "Param.cpp").write_text("".join(f"\t{k} = 0;\n" for k in ns.NeuroSimSettings().param_edits()))
    (src / "makefile").write_text("all:\n\tfalse\n")
    cache = tmp_path / "cache"
    with pytest.raises(ns.NeuroSimError, match="building NeuroSim in .* failed"):
        ns.build(tmp_path / "broken", ns.NeuroSimSettings(), cache)
    assert list(cache.iterdir()) == []


# ---------------------------------------------------------------------------------------------- report

def _stored(kind: str) -> dict:
    files = sorted((STORED / "runs").glob("*.json"))
    for f in files:
        d = json.loads(f.read_text())
        if d["kind"] == kind:
            return d
    pytest.skip(f"no stored NeuroSim run of kind {kind}")


def test_the_stored_report_is_the_parse_of_the_stored_log():
    d = _stored("whole")
    text = gzip.decompress((STORED / "logs" / f"{d['label']}.log.gz").read_bytes()).decode()
    report = ns.parse_report(text)
    assert report.to_dict() == d["report"]
    layers = report.layers
    assert len(layers) == len(d["network"]) and report.tiles == sum(l["tiles"] for l in layers)
    b = report.breakdowns
    parts = sum(b[f"energy_{k}_pj"] for k in ("adc", "accumulation", "other"))
    assert parts == pytest.approx(report.dynamic_energy_pj, rel=1e-3)  # NeuroSim's three buckets add up
    with pytest.raises(ns.NeuroSimError, match="did not finish"):
        ns.parse_report(text[: text.find("------------------------------ Summary")])


def test_stored_runs_load_back_and_reach_the_model():
    d = _stored("small")
    run = ns.OracleRun.from_dict(d)
    assert run.to_dict()["report"] == d["report"]
    frame = fidelity.compare([run])
    assert frame.height == 1 and frame["ns_tiles"][0] == run.report.tiles


# ---------------------------------------------------------------------------------------------- end to end

@pytest.fixture
def cache(neurosim_cache):
    return neurosim_cache


@needs_checkout
def test_a_small_network_end_to_end_through_the_cli(tmp_path, cache, capsys):
    net = tmp_path / "net.csv"
    net.write_text("6,6,16,3,3,32,0,1\n1,1,512,1,1,10,0,1\n")
    code = main(["neurosim", "run", str(net), "--neurosim", str(CHECKOUT), "--subarray", "64", "--cell-bits", "2",
                 "--cache", str(cache), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    rep, model = out["neurosim"], out["model"]
    assert rep["tiles"] == model["tiles"] == 3 and rep["utilization"] == pytest.approx(model["utilization"])
    assert rep["area_mm2"] > 0 and rep["dynamic_energy_pj"] > 0 and rep["latency_ns"] > 0
    assert [l["tiles"] for l in rep["layers"]] == [1.0, 2.0]  # NeuroSim's own split per layer
    built = [(p / "Param.cpp").read_text() for p in cache.iterdir() if p.name.startswith("build-")]
    assert any("memcelltype = 2;" in b and "numColSubArray = 64;" in b for b in built)


@needs_checkout
def test_energy_follows_the_input_bit_density_and_a_build_is_reused(cache):
    s = ns.NeuroSimSettings(subarray_rows=64, subarray_cols=64, rows_parallel=64, adc_type="sar")
    ns.build(CHECKOUT, s, cache)
    builds = sorted(cache.iterdir())
    sparse = ns.simulate(CHECKOUT, TWO_LAYERS, s, input_density=0.1, cache=cache)
    dense = ns.simulate(CHECKOUT, TWO_LAYERS, s, input_density=0.5, cache=cache)
    assert dense.report.dynamic_energy_pj > sparse.report.dynamic_energy_pj
    assert dense.report.area_mm2 == sparse.report.area_mm2
    assert sorted(cache.iterdir()) == builds  # the same settings reuse their build


@needs_checkout
def test_a_run_past_its_time_limit_is_one_sentence(cache):
    with pytest.raises(ns.NeuroSimError, match="ran past its time limit of 0 s"):
        ns.simulate(CHECKOUT, TWO_LAYERS, ns.NeuroSimSettings(subarray_rows=64, subarray_cols=64, rows_parallel=64),
                    cache=cache, timeout_s=0.01)


def test_traces_recorded_from_a_supernet_hold_its_integer_codes():
    import torch

    from cimpipe.families import VGGSpec
    from cimpipe.hw.traces import record_traces
    from cimpipe.nn import build_supernet

    torch.manual_seed(0)
    spec = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8,), (16,)), fc=(12,), min_depth=(1, 1))
    model = build_supernet(spec).eval()
    subnet = spec.largest(bits=4)
    layers = spec.layer_shapes(subnet)
    images = torch.randn(16, 1, 8, 8)
    traces = record_traces(model, subnet, layers, images[:1], [images], weight_bits=8, input_bits=6)
    assert len(traces) == len(layers)
    for layer, t in zip(layers, traces):
        rows = layer.c_in * layer.k * layer.k
        assert t.weights.shape == (rows, layer.c_out)
        assert t.input_bits.shape == (rows, ns.num_vectors(layer) * 6)
        levels = ns.weight_levels(t.weights, 8)
        assert ((levels - 128) % 16 == 0).all()  # 4-bit weight codes written at 8 bits
        assert set(np.unique(t.input_bits)) <= {0, 1}
        assert not t.input_bits.reshape(rows, -1, 6)[:, :, 4:].any()  # 4-bit inputs fill the top 4 of 6 bits
    density = ns.trace_stats(traces, 8, 2).input_bit_density
    assert 0.0 < density < 0.6
