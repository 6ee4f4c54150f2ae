"""ADC resolution chosen per weight layer (``hardware_space.per_layer: [adc_bits]``): the space, the crossbar
simulation, the accuracy table and the predictor."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import torch

from cimpipe.accuracy import cim_from_row, sample_configurations
from cimpipe.nn import build_supernet
from cimpipe.predictor import Predictor, PredictorError, PredictorSettings, fit_predictor
from cimpipe.space import (CIMSettings, Design, DeviceSummary, HardwareConfig, HardwareSpace, SearchSpace,
                           SpaceError, VGGSpec)

SPEC = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,), min_depth=(1, 1),
               width_ratios=(0.5, 1.0), bit_choices=(2, 4, 8))
DEVICES = {"rram": DeviceSummary(sigma=0.05, on_off_ratio=20.0, max_cell_bits=2)}


def _space(per_layer: tuple[str, ...]) -> SearchSpace:
    hw = HardwareSpace(technologies=("rram",), adc_bits=(3, 4, 5, 6, 8), cell_bits=(1, 2), rows_parallel=(16, 64),
                       subarray=(64, 128), per_layer=per_layer)
    return SearchSpace(SPEC, hw, DEVICES)


def test_the_space_holds_one_adc_gene_per_weight_layer() -> None:
    uniform, per_layer = _space(()), _space(("adc_bits",))
    n = SPEC.n_slots
    assert per_layer.n_genes == uniform.n_genes + n - 1
    assert per_layer.log10_size() == pytest.approx(uniform.log10_size() + (n - 1) * math.log10(5))
    assert per_layer.cim_columns[:n] == tuple(f"adc_bits_{i}" for i in range(n))
    genes = per_layer.random_genes(np.random.default_rng(0), 50)
    assert per_layer.hardware_arrays(genes)["adc_bits"].shape == (50, n)
    for row in genes:  # decode -> encode is the identity, the ADC bits a tuple with one entry per layer
        design = per_layer.decode(row)
        assert isinstance(design.hardware.adc_bits, tuple) and len(design.hardware.adc_bits) == n
        assert (per_layer.encode(design)[len(per_layer.arch_genes):] == row[len(per_layer.arch_genes):]).all()
    # one ADC resolution for a per-layer space fills every layer; a tuple in a uniform space is refused
    hw = dict(technology="rram", subarray=64, rows_parallel=16)
    one = per_layer.decode_hardware(per_layer.encode(Design(SPEC.largest(), HardwareConfig(**hw, adc_bits=5))))
    assert one.adc_bits == (5,) * n
    with pytest.raises(SpaceError, match="one value per layer"):
        uniform.encode_hardware(HardwareConfig(**hw, adc_bits=(5,) * n))
    with pytest.raises(SpaceError, match=f"gives 2 values for {n} weight layers"):
        per_layer.encode_hardware(HardwareConfig(**hw, adc_bits=(5, 5)))
    # a JSON round trip (lists) rebuilds the same hardware
    assert HardwareConfig(**{**one.to_dict(), "adc_bits": list(one.adc_bits)}) == one


def test_only_adc_bits_can_vary_per_layer() -> None:
    with pytest.raises(SpaceError, match="hardware_space.per_layer names 'subarray', which cannot vary per layer"):
        HardwareSpace(technologies=("rram",), per_layer=("subarray",))


def test_each_layer_runs_with_its_own_adc() -> None:
    torch.manual_seed(0)
    model = build_supernet(SPEC)
    cfg = SPEC.largest(8)
    x = torch.randn(16, 1, 8, 8)
    base = CIMSettings(adc_bits=8, cell_bits=2, rows_parallel=64)
    n = SPEC.n_slots
    with torch.no_grad():
        model(x, cfg)  # one training-mode pass sets the quantizers' ranges and BN statistics
        model.eval()
        uniform = model(x, cfg, base)
        same = model(x, cfg, CIMSettings(adc_bits=8, cell_bits=2, rows_parallel=64, layer_adc_bits=(8,) * n))
        first_coarse = model(x, cfg, CIMSettings(adc_bits=8, cell_bits=2, rows_parallel=64,
                                                 layer_adc_bits=(2,) + (8,) * (n - 1)))
        all_coarse = model(x, cfg, CIMSettings(adc_bits=2, cell_bits=2, rows_parallel=64))
    torch.testing.assert_close(same, uniform)
    err_first = float((first_coarse - uniform).abs().mean())
    err_all = float((all_coarse - uniform).abs().mean())
    assert 0 < err_first < err_all
    with pytest.raises(SpaceError, match="layer slot 9 has no ADC bits"):
        CIMSettings(layer_adc_bits=(8,) * n).for_slot(9)
    with pytest.raises(SpaceError, match="adc_bits=0 is outside 1..16"):
        CIMSettings(layer_adc_bits=(8, 0))


def test_the_table_samples_per_layer_adc_bits_around_its_strata() -> None:
    space = _space(("adc_bits",))
    t = sample_configurations(space, 60, seed=0)
    adc = t.select([f"adc_bits_{i}" for i in range(SPEC.n_slots)]).to_numpy()
    assert "adc_bits" not in t.columns
    anchors = t["anchor"].to_numpy()
    assert (adc[anchors] == adc[anchors][:, :1]).all()  # extremes: one ADC for the whole network
    levels = list(space.hardware.adc_bits)
    steps = np.vectorize(levels.index)(adc[~anchors])
    assert (steps.max(1) - steps.min(1) <= 2).all()  # each layer one step from the row's stratum at most
    assert (steps.max(1) > steps.min(1)).mean() > 0.5  # and most rows mix resolutions
    row = t.row(int(np.argmax(~anchors)), named=True)
    cim = cim_from_row(row, seed=1)
    assert cim.layer_adc_bits == tuple(int(row[f"adc_bits_{i}"]) for i in range(SPEC.n_slots))
    assert [cim.for_slot(i).adc_bits for i in range(SPEC.n_slots)] == list(cim.layer_adc_bits)


def test_a_per_layer_predictor_round_trips_and_refuses_the_other_kind_of_space(tmp_path) -> None:
    space = _space(("adc_bits",))
    t = sample_configurations(space, 80, seed=0)
    adc = t.select(pl.col("^adc_bits_.*$")).to_numpy()
    acc = 0.95 - 0.3 * np.exp(-(adc.min(1) - 3)) - 2.0 * t["sigma"].to_numpy()
    t = t.with_columns(pl.Series("accuracy", np.clip(acc, 0.1, 1.0)))
    fit_predictor(t, space, PredictorSettings(ensemble=2, hidden=(16,), epochs=20, holdout=0.25, trees=20),
                  tmp_path / "p.pt", tmp_path / "m.json")
    p = Predictor.load(tmp_path / "p.pt", space)
    genes = space.random_genes(np.random.default_rng(1), 200)
    mean, _ = p.predict(space.arch_values(genes), space.cim_values(genes))
    again, _ = Predictor.load(tmp_path / "p.pt").predict(space.arch_values(genes), space.cim_values(genes))
    np.testing.assert_allclose(mean, again)
    with pytest.raises(PredictorError, match="fitted with one ADC resolution per layer but this search space has one "
                                             "ADC resolution for all layers"):
        Predictor.load(tmp_path / "p.pt", _space(()))
    with pytest.raises(PredictorError, match="lack the column 'adc_bits_3'"):
        p.predict(t.drop("adc_bits_3"), t.drop("adc_bits_3"))
