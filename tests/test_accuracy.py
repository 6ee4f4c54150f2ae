"""The accuracy table: sampling from the space, measuring on a real (tiny) supernet, resuming, sharding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cimpipe import accuracy
from cimpipe.accuracy import (AccuracyError, AccuracySettings, build_table, merge_tables, sample_configurations,
                              subnet_from_row)
from cimpipe.space import CIM_COLUMNS, DeviceSummary, HardwareSpace, SearchSpace, VGGSpec

SPEC = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,), min_depth=(1, 1),
               width_ratios=(0.5, 1.0), bit_choices=(2, 4, 8))
HW = HardwareSpace(technologies=("rram", "sram"), adc_bits=(3, 5, 8), cell_bits=(1, 2, 4),
                   rows_parallel=(16, 64, 128), subarray=(64, 128))
DEVICES = {"rram": DeviceSummary(sigma=0.05, on_off_ratio=20.0, max_cell_bits=2),
           "sram": DeviceSummary(sigma=0.0, on_off_ratio=math.inf, max_cell_bits=1)}


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace(SPEC, HW, DEVICES)


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Real digits (tiny caps) and a supernet trained for one short epoch on them."""
    from cimpipe.data import load_prepared, prepare_dataset
    from cimpipe.train import TrainRecipe, train_supernet

    root = tmp_path_factory.mktemp("workload")
    data_dir = prepare_dataset("digits", {"kind": "digits", "max_train": 160, "max_val": 40, "max_test": 20},
                               root / "digits")
    recipe = TrainRecipe.from_config({"epochs": 1, "batch_size": 32, "recalibration_images": 64,
                                      "random_subnets": 0, "device": "cpu"})
    supernet = root / "supernet.pt"
    train_supernet(SPEC, load_prepared(data_dir), recipe, supernet, root / "log.parquet", seed=0,
                   checkpoint_dir=root / "ckpt", augment=None, progress=False)
    return supernet, Path(data_dir)


SETTINGS = AccuracySettings(rows=12, chunk_rows=4, calib_images=32, eval_images=24, seed=3, batch_size=64, draws_max=3)


# --- settings ----------------------------------------------------------------------------------------


def test_settings_from_config_defaults_and_errors() -> None:
    s = AccuracySettings.from_config({"rows": 50, "eval_images": None})
    assert s.rows == 50 and s.eval_images is None and s.chunk_rows == AccuracySettings().chunk_rows
    with pytest.raises(AccuracyError, match="accuracy.rowz is not a known setting"):
        AccuracySettings.from_config({"rowz": 5})
    with pytest.raises(AccuracyError, match="accuracy.chunk_rows must be at least 1"):
        AccuracySettings.from_config({"chunk_rows": 0})
    with pytest.raises(AccuracyError, match="accuracy.calib_images must be an integer"):
        AccuracySettings.from_config({"calib_images": "many"})
    s = AccuracySettings.from_config({"draws_min": 1, "draws_max": 4, "draw_sem": 0.01})
    assert (s.draws_min, s.draws_max, s.draw_sem) == (1, 4, 0.01)
    with pytest.raises(AccuracyError, match=r"accuracy.draws_min \(5\) must not exceed accuracy.draws_max \(4\)"):
        AccuracySettings.from_config({"draws_min": 5, "draws_max": 4})
    with pytest.raises(AccuracyError, match="accuracy.draw_sem must be positive"):
        AccuracySettings.from_config({"draw_sem": 0})


def test_the_workflow_bounds_the_tables_devices_by_the_searched_technologies() -> None:
    from cimpipe.config import accuracy_section, load_config

    config = load_config(Path(__file__).resolve().parent.parent / "config.yaml")
    # rram_22nm (sigma 0.05, on/off 100) and sram_22nm (sigma 0, on/off 1e6, a digital cell)
    section = accuracy_section(config, "demo")
    assert (section["sigma_max"], section["on_off_min"], section["on_off_max"]) == (0.05, 100.0, 1e6)
    assert section["rows"] == config["workloads"]["demo"]["accuracy"]["rows"]
    settings = AccuracySettings.from_config(section)
    assert (settings.sigma_max, settings.on_off_min, settings.on_off_max) == (0.05, 100.0, 1e6)
    # a device inside the span changes nothing; only the searched technologies count; pinned bounds stay
    config["technologies"]["twin"] = {**config["technologies"]["rram_22nm"]}
    assert accuracy_section(config, "demo") == section
    config["hardware_space"]["technologies"] = ["sram_22nm"]
    sram = accuracy_section(config, "demo")
    assert (sram["sigma_max"], sram["on_off_min"], sram["on_off_max"]) == (0.0, 1e6, 1e6)
    config["workloads"]["demo"]["accuracy"]["sigma_max"] = 0.1
    assert accuracy_section(config, "demo")["sigma_max"] == 0.1


# --- sampling ----------------------------------------------------------------------------------------


def test_sampling_is_deterministic_and_has_every_column(space: SearchSpace) -> None:
    a = sample_configurations(space, 60, seed=4)
    assert a.equals(sample_configurations(space, 60, seed=4))
    assert not a.equals(sample_configurations(space, 60, seed=5))
    assert a.height == 60 and a["config_id"].to_list() == list(range(60))
    assert a.columns == ["config_id", "anchor", *[g.name for g in space.arch_genes], *CIM_COLUMNS]
    for g in space.arch_genes:  # gene VALUES, each one of the gene's choices
        assert set(a[g.name].to_list()) <= set(g.choices), g.name
    # CIM values cover the hardware space's knobs (rows up to the largest subarray) and the settings'
    # device bounds, whatever technologies are configured
    assert set(a["cell_bits"].to_list()) <= set(space.hardware.cell_bits) and a["rows_parallel"].max() <= 128
    bounds = AccuracySettings()
    assert a["sigma"].min() >= 0 and a["sigma"].max() <= bounds.sigma_max
    assert a["on_off_ratio"].min() >= bounds.on_off_min and a["on_off_ratio"].max() <= accuracy.ON_OFF_CAP
    narrow = AccuracySettings(sigma_max=0.02, on_off_min=50.0, on_off_max=500.0)
    b = sample_configurations(space, 60, seed=4, settings=narrow)
    assert b["sigma"].max() <= 0.02 and 50.0 <= b["on_off_ratio"].min() and b["on_off_ratio"].max() <= 500.0


def test_sampling_opens_with_the_extremes(space: SearchSpace) -> None:
    table = sample_configurations(space, 40, seed=0)
    rows = table.to_dicts()
    best, worst = rows[0], rows[1]
    assert subnet_from_row(SPEC, best) == SPEC.canonical(SPEC.largest(8))
    assert (best["adc_bits"], best["cell_bits"], best["rows_parallel"], best["sigma"], best["on_off_ratio"]) == (
        8, 1, 16, 0.0, accuracy.ON_OFF_CAP)
    assert subnet_from_row(SPEC, worst) == SPEC.canonical(SPEC.smallest(2))
    bounds = AccuracySettings()
    assert (worst["adc_bits"], worst["cell_bits"], worst["rows_parallel"], worst["sigma"], worst["on_off_ratio"]) == (
        3, max(space.hardware.cell_bits), 128, bounds.sigma_max, bounds.on_off_min)
    assert table["anchor"].sum() >= 2 and table["anchor"][: table["anchor"].sum()].all()
    # the random rows are stratified: every ADC resolution appears, and uniformly-low-bit networks too
    random = table.filter(~pl.col("anchor"))
    assert set(random["adc_bits"].to_list()) == {3, 5, 8}
    wbits = random.select(pl.col("^wbits_.*$")).to_numpy()
    assert (wbits.max(1) <= 4).any() and (wbits.min(1) >= 4).any()


def test_sampled_rows_are_canonical(space: SearchSpace) -> None:
    for row in sample_configurations(space, 30, seed=1).to_dicts():
        cfg = subnet_from_row(SPEC, row)
        assert cfg == SPEC.canonical(cfg)
        assert cfg.weight_bits == tuple(row[f"wbits_{i}"] for i in range(SPEC.n_slots))


def test_too_few_rows_for_the_anchors(space: SearchSpace) -> None:
    with pytest.raises(AccuracyError, match="accuracy.rows=3 must be at least"):
        sample_configurations(space, 3, seed=0)


# --- measuring, resuming, sharding -----------------------------------------------------------------------


def test_build_table_measures_every_row(space: SearchSpace, workload: tuple[Path, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    supernet, data_dir = workload
    out = tmp_path / "accuracy.parquet"
    table = build_table(supernet, data_dir, space, SETTINGS, out, progress=False)
    assert out.is_file() and not out.with_suffix(".parts").exists()
    # off a terminal, progress is a few plain lines, the last one at the end
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("accuracy table shard 0:")]
    assert 1 <= len(lines) <= 21 and lines[-1].endswith(f"{SETTINGS.rows}/{SETTINGS.rows} rows (100 %)")
    on_disk = pl.read_parquet(out)
    assert on_disk.equals(table)
    expected = sample_configurations(space, SETTINGS.rows, SETTINGS.seed)
    assert table.drop(*accuracy.result_columns(space.spec.n_slots)).equals(expected)
    density = table.select(accuracy.density_columns(space.spec.n_slots)).to_numpy()
    measured = ~np.isnan(density.astype(float))
    assert measured[:, 0].all() and ((density[measured] >= 0) & (density[measured] <= 1)).all()
    assert table["accuracy"].is_between(0, 1).all() and table["loss"].is_finite().all()
    assert table["n_images"].to_list() == [24] * SETTINGS.rows
    # the ideal largest network is measured, not copied: harsh settings give other numbers somewhere
    assert table["loss"].n_unique() > 1
    # rows without variation are exact in one draw; rows with variation average 2..draws_max draws
    varied = table["sigma"].to_numpy() > 0
    draws = table["draws"].to_numpy()
    assert (draws[~varied] == 1).all() and (table["accuracy_std"].to_numpy()[~varied] == 0).all()
    assert ((draws[varied] >= SETTINGS.draws_min) & (draws[varied] <= SETTINGS.draws_max)).all()


def test_killed_run_resumes_to_the_same_table(space: SearchSpace, workload: tuple[Path, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    supernet, data_dir = workload
    reference = build_table(supernet, data_dir, space, SETTINGS, tmp_path / "full.parquet")

    out = tmp_path / "resumed.parquet"
    real = accuracy.measure_rows
    calls = {"n": 0}

    def dies_after_two_chunks(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(accuracy.table, "measure_rows", dies_after_two_chunks)  # where build_table finds it
    with pytest.raises(KeyboardInterrupt):
        build_table(supernet, data_dir, space, SETTINGS, out)
    assert not out.exists()
    assert len(list(out.with_suffix(".parts").glob("chunk_*.parquet"))) == 2

    measured: list[int] = []

    def counting(model, spec, data, rows, settings, device):
        measured.extend(rows["config_id"].to_list())
        return real(model, spec, data, rows, settings, device)

    monkeypatch.setattr(accuracy.table, "measure_rows", counting)
    resumed = build_table(supernet, data_dir, space, SETTINGS, out)
    assert measured == list(range(8, 12))  # only the chunk that was never written
    assert resumed.equals(reference)
    assert pl.read_parquet(out).equals(reference)


def test_stale_sidecar_from_other_settings_is_discarded(space: SearchSpace, workload: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    supernet, data_dir = workload
    out = tmp_path / "acc.parquet"
    parts = out.with_suffix(".parts")
    parts.mkdir()
    (parts / "manifest.json").write_text('{"fingerprint": "other"}')
    pl.DataFrame({"config_id": [99]}).write_parquet(parts / "chunk_00000.parquet")
    table = build_table(supernet, data_dir, space, SETTINGS, out)
    assert table["config_id"].to_list() == list(range(SETTINGS.rows))


def test_merged_shards_equal_one_unsharded_table(space: SearchSpace, workload: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    supernet, data_dir = workload
    whole = build_table(supernet, data_dir, space, SETTINGS, tmp_path / "whole.parquet")
    paths = []
    for shard in range(3):
        path = tmp_path / f"shard{shard}.parquet"
        part = build_table(supernet, data_dir, space, SETTINGS, path, shard=shard, shards=3)
        assert (part["config_id"] % 3 == shard).all()
        paths.append(path)
    merged = merge_tables(reversed(paths), tmp_path / "merged.parquet")
    assert merged.equals(whole)
    assert pl.read_parquet(tmp_path / "merged.parquet").equals(whole)


def test_merge_refuses_overlapping_or_missing_shards(tmp_path: Path) -> None:
    a = pl.DataFrame({"config_id": [0, 1], "accuracy": [0.5, 0.6]})
    a.write_parquet(tmp_path / "a.parquet")
    a.write_parquet(tmp_path / "b.parquet")
    with pytest.raises(AccuracyError, match="config_id 0 appears in more than one shard"):
        merge_tables([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "m.parquet")
    with pytest.raises(AccuracyError, match="shard .*nope.parquet does not exist"):
        merge_tables([tmp_path / "nope.parquet"], tmp_path / "m.parquet")


def test_missing_supernet_is_one_sentence(space: SearchSpace, tmp_path: Path) -> None:
    with pytest.raises(AccuracyError, match="supernet checkpoint .*missing.pt does not exist"):
        build_table(tmp_path / "missing.pt", tmp_path, space, SETTINGS, tmp_path / "a.parquet")


def test_rows_are_measured_in_cim_mode(space: SearchSpace, workload: tuple[Path, Path]) -> None:
    """The same network measured with harsher crossbar settings loses; the variation draw is per row."""
    from cimpipe.data import load_prepared
    from cimpipe.train import load_supernet

    supernet, data_dir = workload
    model, spec, _ = load_supernet(supernet)
    data = load_prepared(data_dir)
    base = sample_configurations(space, 10, seed=0).head(1)
    ideal = base.with_columns(pl.lit(0).cast(pl.Int64).alias("config_id"))
    harsh = base.with_columns(pl.lit(1).cast(pl.Int64).alias("config_id"), pl.lit(3).cast(pl.Int64).alias("adc_bits"),
                              pl.lit(0.5).alias("sigma"), pl.lit(2.0).alias("on_off_ratio"))
    settings = AccuracySettings(calib_images=32, eval_images=40, seed=0)
    out = accuracy.measure_rows(model, spec, data, pl.concat([ideal, harsh]), settings, "cpu")
    assert out["loss"][1] > out["loss"][0]
    again = accuracy.measure_rows(model, spec, data, pl.concat([ideal, harsh]), settings, "cpu")
    assert again.equals(out)


def test_a_row_with_variation_is_the_mean_of_its_draws(space: SearchSpace, workload: tuple[Path, Path]) -> None:
    """Each draw is one die (its own variation seed); the row holds their mean and spread."""
    from dataclasses import replace

    from cimpipe.accuracy import calibration_indices, cim_from_row
    from cimpipe.data import load_prepared
    from cimpipe.nn.evaluate import evaluate_subnet
    from cimpipe.train import load_supernet

    supernet, data_dir = workload
    model, spec, _ = load_supernet(supernet)
    data = load_prepared(data_dir)
    row = sample_configurations(space, 10, seed=0).head(1).with_columns(
        pl.lit(3).cast(pl.Int64).alias("adc_bits"), pl.lit(0.3).alias("sigma"), pl.lit(5.0).alias("on_off_ratio"))
    three = AccuracySettings(calib_images=32, eval_images=40, seed=0, draws_min=3, draws_max=3)
    out = accuracy.measure_rows(model, spec, data, row, three, "cpu")
    single = accuracy.measure_rows(model, spec, data, row, replace(three, draws_min=1, draws_max=1), "cpu")
    assert out["draws"][0] == 3 and single["draws"][0] == 1
    # the first draw is the single-draw measurement; the mean and spread are over three different dies
    calib = np.array(data.train_x[calibration_indices(len(data.train_x), three)])
    r = row.row(0, named=True)
    per_draw = [evaluate_subnet(model, subnet_from_row(spec, r), cim_from_row(r, accuracy.row_seed(0, 0, k)),
                                np.array(data.val_x[:40]), np.array(data.val_y[:40]), mean=data.mean, std=data.std,
                                calib_images=calib, batch_size=three.batch_size)[0]
                for k in range(3)]
    assert single["accuracy"][0] == pytest.approx(per_draw[0])
    assert len(set(per_draw)) > 1 or out["accuracy_std"][0] == 0
    assert out["accuracy"][0] == pytest.approx(np.mean(per_draw))
    assert out["accuracy_std"][0] == pytest.approx(np.std(per_draw, ddof=1))
    # the per-image results (bench/label_repeatability.py) are the ones the accuracy counts
    from cimpipe.nn.evaluate import correct_per_image

    subnet, cim = subnet_from_row(spec, r), cim_from_row(r, accuracy.row_seed(0, 0, 2))
    evaluate_subnet(model, subnet, cim, np.array(data.val_x[:40]), np.array(data.val_y[:40]), mean=data.mean,
                    std=data.std, calib_images=calib, batch_size=three.batch_size)
    hits = correct_per_image(model, subnet, cim, np.array(data.val_x[:40]), np.array(data.val_y[:40]),
                             mean=data.mean, std=data.std, batch_size=three.batch_size)
    assert hits.dtype == bool and hits.shape == (40,) and hits.mean() == per_draw[2]


def test_draws_stop_once_the_mean_is_pinned_down() -> None:
    s = AccuracySettings(draws_min=2, draws_max=6, draw_sem=0.005)
    assert accuracy.enough_draws([0.9], sigma=0.0, n_images=400, settings=s)  # no variation: exact
    assert not accuracy.enough_draws([0.98], sigma=0.05, n_images=400, settings=s)  # below draws_min
    assert accuracy.enough_draws([0.98, 0.98], sigma=0.05, n_images=400, settings=s)  # agreeing, high accuracy
    # two draws that agree by chance at 60 % do not stop a row: the binomial floor keeps drawing
    assert not accuracy.enough_draws([0.6, 0.6], sigma=0.05, n_images=400, settings=s)
    assert not accuracy.enough_draws([0.5, 0.7, 0.55], sigma=0.05, n_images=400, settings=s)
    assert accuracy.enough_draws([0.5, 0.7, 0.55, 0.6, 0.65, 0.52], sigma=0.05, n_images=400, settings=s)  # draws_max
