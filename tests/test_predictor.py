"""The accuracy predictor: fitting on a table, its file, and the queries it refuses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from cimpipe.accuracy import sample_configurations
from cimpipe.predictor import Predictor, PredictorError, PredictorSettings, fit_predictor
from cimpipe.space import CIM_COLUMNS, DeviceSummary, HardwareSpace, SearchSpace, VGGSpec

SPEC = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,), min_depth=(1, 1),
               width_ratios=(0.5, 1.0), bit_choices=(2, 4, 8))
HW = HardwareSpace(technologies=("rram", "sram"), adc_bits=(3, 5, 8), cell_bits=(1, 2), rows_parallel=(16, 64, 128),
                   subarray=(64, 128))
DEVICES = {"rram": DeviceSummary(sigma=0.05, on_off_ratio=20.0, max_cell_bits=2),
           "sram": DeviceSummary(sigma=0.0, on_off_ratio=math.inf, max_cell_bits=1)}
SETTINGS = PredictorSettings(ensemble=3, hidden=(32, 32), epochs=60, lr=0.005, holdout=0.25, seed=0)


def _fabricated_table(space: SearchSpace, n: int = 160) -> pl.DataFrame:
    """A table whose accuracy is a known smooth function of bits, width, ADC bits and sigma (no supernet)."""
    t = sample_configurations(space, n, seed=0)
    wb = t.select(pl.col("^wbits_.*$")).to_numpy().mean(1)
    ab = t.select(pl.col("^abits_.*$")).to_numpy().mean(1)
    width = t.select(pl.col("^width_.*$")).to_numpy().mean(1)
    acc = (0.95 - 0.25 * np.exp(-(wb - 2)) - 0.15 * np.exp(-(ab - 2)) - 0.05 * (1 - width)
           - 3.0 * t["sigma"].to_numpy() - 0.2 * np.exp(-(t["adc_bits"].to_numpy() - 3)))
    return t.with_columns(pl.Series("accuracy", np.clip(acc, 0.1, 1.0)))


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace(SPEC, HW, DEVICES)


@pytest.fixture(scope="module")
def fitted(space: SearchSpace, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, pl.DataFrame]:
    root = tmp_path_factory.mktemp("predictor")
    table = _fabricated_table(space)
    metrics = fit_predictor(table, space, SETTINGS, root / "predictor.pt", root / "predictor_metrics.json")
    return root, metrics, table


def test_settings_from_config() -> None:
    s = PredictorSettings.from_config({"ensemble": 4, "hidden": [16, 8], "lr": 0.01})
    assert (s.ensemble, s.hidden, s.lr) == (4, (16, 8), 0.01)
    with pytest.raises(PredictorError, match="predictor.depth is not a known setting"):
        PredictorSettings.from_config({"depth": 3})
    with pytest.raises(PredictorError, match="predictor.holdout must lie in"):
        PredictorSettings.from_config({"holdout": 1.5})
    with pytest.raises(PredictorError, match="predictor.hidden must be a non-empty list"):
        PredictorSettings.from_config({"hidden": []})
    assert PredictorSettings.from_config({"trees": 0}).trees == 0
    with pytest.raises(PredictorError, match="predictor.trees must be an integer of at least 0"):
        PredictorSettings.from_config({"trees": -1})
    assert PredictorSettings.from_config({"mlp_weight": 0.25}).mlp_weight == 0.25
    with pytest.raises(PredictorError, match="predictor.mlp_weight must lie in"):
        PredictorSettings.from_config({"mlp_weight": 1.5})
    assert PredictorSettings.from_config({"gp_weight": 0}).gp_weight == 0
    with pytest.raises(PredictorError, match="predictor.gp_weight must lie in"):
        PredictorSettings.from_config({"gp_weight": -0.1})
    with pytest.raises(PredictorError, match=r"predictor.mlp_weight \+ predictor.gp_weight must not exceed 1, not 1.25"):
        PredictorSettings.from_config({"mlp_weight": 0.75})


def test_fit_scores_on_held_out_rows_and_writes_metrics(fitted: tuple[Path, dict, pl.DataFrame]) -> None:
    root, metrics, table = fitted
    on_disk = json.loads((root / "predictor_metrics.json").read_text())
    assert on_disk == metrics
    assert metrics["rows_heldout"] == round(0.25 * table.height)
    assert metrics["rows_fit"] + metrics["rows_heldout"] == table.height
    # a smooth function of the features is learned: ranks agree and errors are a few points at most
    assert metrics["kendall_tau"] > 0.6
    assert 0 < metrics["rmse_pct"] < 8 and metrics["mae_pct"] <= metrics["rmse_pct"]
    assert metrics["spread_pct"] > 0
    assert set(metrics["baseline_gbt"]) >= {"kendall_tau", "rmse_pct"}
    # the saved model is the mean of the MLP ensemble and the trees; each part is scored beside it
    assert "gradient-boosted trees" in metrics["model"] and set(metrics["mlp_ensemble"]) >= {"kendall_tau", "rmse_pct"}


def test_predictor_round_trips_through_its_file(fitted: tuple[Path, dict, pl.DataFrame], space: SearchSpace,
                                                tmp_path: Path) -> None:
    root, _, table = fitted
    p = Predictor.load(root / "predictor.pt", space)
    genes = space.random_genes(np.random.default_rng(1), 500)
    mean, std = p.predict(space.arch_values(genes), space.cim_values(genes))
    assert mean.shape == std.shape == (500,) and mean.dtype == np.float64
    assert ((mean >= 0) & (mean <= 1)).all() and (std >= 0).all()
    p.save(tmp_path / "copy.pt")
    again = Predictor.load(tmp_path / "copy.pt")  # no space: rebuilt from the file
    m2, s2 = again.predict(space.arch_values(genes), space.cim_values(genes))
    np.testing.assert_array_equal(mean, m2)
    np.testing.assert_array_equal(std, s2)
    # batching does not change a prediction; a table and arrays give the same answer
    m3, _ = p.predict(space.arch_values(genes), space.cim_values(genes), batch=7)
    np.testing.assert_allclose(m3, mean, rtol=1e-5, atol=1e-6)
    mt, _ = p.predict_table(table.head(20))
    ma, _ = p.predict(table.head(20).select(p.arch_columns).to_numpy(), table.head(20).select(CIM_COLUMNS).to_numpy())
    np.testing.assert_array_equal(mt, ma)


def test_predictions_follow_the_table(fitted: tuple[Path, dict, pl.DataFrame]) -> None:
    root, _, table = fitted
    p = Predictor.load(root / "predictor.pt")
    best, worst = p.predict_table(table.head(2))[0]  # anchors: ideal largest, harsh smallest
    assert best > worst + 0.2


def test_configuration_outside_the_space_is_refused(fitted: tuple[Path, dict, pl.DataFrame]) -> None:
    root, _, table = fitted
    p = Predictor.load(root / "predictor.pt")
    rows = table.head(4)
    with pytest.raises(PredictorError, match="lack the column 'wbits_2'"):
        p.predict(rows.drop("wbits_2"), rows)
    with pytest.raises(PredictorError, match="lack the column 'sigma'"):
        p.predict(rows, rows.drop("sigma"))
    with pytest.raises(PredictorError, match=r"column wbits_1 holds 3, which is not one of its choices \[2, 4, 8\]"):
        p.predict(rows.with_columns(pl.lit(3).alias("wbits_1")), rows)
    with pytest.raises(PredictorError, match="column width_0 holds 0.75"):
        p.predict(rows.with_columns(pl.lit(0.75).alias("width_0")), rows)
    top_adc = int(table["adc_bits"].max())
    with pytest.raises(PredictorError, match=f"column adc_bits holds {top_adc + 1}, outside the range the accuracy table"):
        p.predict(rows, rows.with_columns(pl.lit(top_adc + 1).alias("adc_bits")))
    with pytest.raises(PredictorError, match="column sigma holds 0.2, outside the range the accuracy table covers"):
        p.predict(rows, rows.with_columns(pl.lit(0.2).alias("sigma")))
    with pytest.raises(PredictorError, match="must have 6 columns"):
        p.predict(rows.select(p.arch_columns).to_numpy(), np.zeros((4, 3)))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(PredictorError, match="column wbits_1 holds (nan|inf), which is not one of its choices"):
            p.predict(rows.with_columns(pl.lit(bad).alias("wbits_1")), rows)


def test_nearest_choice_takes_the_closer_choice_and_the_smaller_at_a_tie() -> None:
    from cimpipe.space import nearest_choice

    choices = [8.0, 2.0, 5.0, 3.0]  # unsorted, as a gene may declare them
    values = np.array([2, 3, 5, 8, 2.4, 2.6, 4.0, 4.1, 100, -5, 6.5, np.nan, np.inf])
    index, distance = nearest_choice(values, choices)
    assert [choices[i] for i in index[:11]] == [2, 3, 5, 8, 2, 3, 3, 5, 8, 2, 5]
    np.testing.assert_allclose(distance[:11], [0, 0, 0, 0, 0.4, 0.4, 1, 0.9, 92, 7, 1.5])
    assert np.isnan(distance[11]) and np.isinf(distance[12])


def test_a_different_space_is_refused(fitted: tuple[Path, dict, pl.DataFrame]) -> None:
    root, _, _ = fitted
    other_bits = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,),
                         min_depth=(1, 1), width_ratios=(0.5, 1.0), bit_choices=(4, 8))
    with pytest.raises(PredictorError, match=r"gene wbits_0 has the choices \[4, 8\] in this search space"):
        Predictor.load(root / "predictor.pt", SearchSpace(other_bits, HW, DEVICES))
    deeper = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16, 16)), fc=(16,),
                     min_depth=(1, 1), width_ratios=(0.5, 1.0), bit_choices=(2, 4, 8))
    with pytest.raises(PredictorError, match="refit it for this space"):
        Predictor.load(root / "predictor.pt", SearchSpace(deeper, HW, DEVICES))


def test_unreadable_files_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(PredictorError, match="predictor file .*missing.pt does not exist"):
        Predictor.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(PredictorError, match="cannot be read"):
        Predictor.load(tmp_path / "junk.pt")


def test_table_without_accuracy_is_refused(space: SearchSpace, tmp_path: Path) -> None:
    table = sample_configurations(space, 20, seed=0)
    with pytest.raises(PredictorError, match="lacks the column 'accuracy'"):
        fit_predictor(table, space, SETTINGS, tmp_path / "p.pt", tmp_path / "m.json")


@pytest.mark.parametrize("encoding", [0, 1])
def test_crossbar_features_grow_with_adc_shortfall_and_variation(space: SearchSpace, encoding: int) -> None:
    """The crossbar noise the predictor sees: least for a fine ADC on ideal devices, more for a coarser ADC on
    wider row groups and for more variation on a lower on/off ratio; variation adds noise even under a fine
    ADC (the dynamic ADC's references do not round it back onto the cells' levels). Either sign encoding."""
    from cimpipe.predictor import crossbar_features

    genes = space.random_genes(np.random.default_rng(3), 1)
    arch = np.repeat(space.arch_values(genes), 5, axis=0)
    cim = np.array([[8, 1, 16, 0.0, 1e6, encoding],       # ideal
                    [3, 2, 128, 0.0, 1e6, encoding],      # coarse ADC on wide groups
                    [3, 2, 128, 0.05, 100.0, encoding],   # ... with variation
                    [3, 2, 128, 0.05, 10.0, encoding],    # ... on a low on/off ratio
                    [8, 1, 16, 0.005, 1e6, encoding]])    # fine ADC, small variation
    f = crossbar_features(space, arch, cim)
    total_nsr = f[:, 4]
    assert f[0, 0] == 0 and f[1, 0] > 0
    assert total_nsr[3] > total_nsr[2] > total_nsr[1] > total_nsr[0]
    assert total_nsr[4] > total_nsr[0] == total_nsr.min()


def test_offset_encoding_looks_noisier_under_variation_than_differential_arrays(space: SearchSpace) -> None:
    """Every offset-encoded cell carries a mid-range conductance whose variation reaches the sum; differential
    arrays hold zero in most cells of one array. The predictor's noise feature says so."""
    from cimpipe.predictor import crossbar_features

    arch = space.arch_values(space.random_genes(np.random.default_rng(4), 1)).repeat(2, axis=0)
    cim = np.array([[8, 2, 64, 0.05, 100.0, 0], [8, 2, 64, 0.05, 100.0, 1]])
    total_nsr = crossbar_features(space, arch, cim)[:, 4]
    assert total_nsr[0] > total_nsr[1]


def test_without_trees_the_predictor_is_the_mlp_ensemble(space: SearchSpace, tmp_path: Path) -> None:
    table = _fabricated_table(space, 60)
    mlp_only = PredictorSettings(ensemble=2, hidden=(16,), epochs=20, holdout=0.25, seed=0, trees=0, gp_weight=0)
    metrics = fit_predictor(table, space, mlp_only, tmp_path / "p.pt", tmp_path / "m.json")
    assert metrics["model"].startswith("mlp-ensemble") and metrics["rmse_pct"] == metrics["mlp_ensemble"]["rmse_pct"]
    p = Predictor.load(tmp_path / "p.pt", space)
    mean, std = p.predict_table(table)
    assert ((mean >= 0) & (mean <= 1)).all() and (std >= 0).all()


def test_the_mlp_weight_mixes_the_trees_and_the_ensemble(space: SearchSpace, tmp_path: Path) -> None:
    """Weight 0 predicts the trees' accuracies, 1 the ensemble's mean, 0.5 their mean; the spread is the same."""
    from cimpipe.predictor import predict_trees

    table = _fabricated_table(space, 60)
    means, stds = {}, {}
    for w in (0.0, 0.5, 1.0):
        settings = PredictorSettings(ensemble=2, hidden=(16,), epochs=20, holdout=0.25, seed=0, trees=40, mlp_weight=w,
                                     gp_weight=0)
        fit_predictor(table, space, settings, tmp_path / f"p{w}.pt", tmp_path / f"m{w}.json")
        p = Predictor.load(tmp_path / f"p{w}.pt", space)
        means[w], stds[w] = p.predict_table(table)
    feats = torch.from_numpy(p.features(table, table))
    trees = predict_trees(p.state["trees"], feats).numpy()
    np.testing.assert_allclose(means[0.0], trees, atol=1e-9)
    assert 0.0 <= trees.min() and trees.max() <= 1.0  # the log error rate maps back inside 0..1
    np.testing.assert_allclose(means[0.5], (means[0.0] + means[1.0]) / 2, atol=1e-6)
    assert np.abs(means[1.0] - means[0.0]).max() > 1e-3
    np.testing.assert_allclose(stds[0.0], stds[1.0], atol=1e-9)


def test_the_gaussian_process_answers_as_sklearns_and_takes_its_share(space: SearchSpace, tmp_path: Path) -> None:
    """The stored process predicts what sklearn's fitted GaussianProcessRegressor predicts (to far below a
    hundredth of a point), and ``gp_weight`` mixes it with the trees; both are scored in the metrics."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    from cimpipe.predictor import error_target, predict_gp, predict_trees

    table = _fabricated_table(space, 80)
    preds = {}
    for w in (0.0, 0.5, 1.0):
        settings = PredictorSettings(ensemble=2, hidden=(16,), epochs=20, holdout=0.25, seed=0, trees=40, gp_weight=w)
        metrics = fit_predictor(table, space, settings, tmp_path / f"p{w}.pt", tmp_path / f"m{w}.json")
        p = Predictor.load(tmp_path / f"p{w}.pt", space)
        preds[w] = p.predict_table(table)[0]
        assert ("gaussian_process" in metrics) == (w > 0) and ("Gaussian process" in metrics["model"]) == (w > 0)
    feats = p.features(table, table)
    gp, trees = p.state["gp"], p.state["trees"]
    np.testing.assert_allclose(preds[1.0], predict_gp(gp, torch.from_numpy(feats)).numpy(), atol=1e-9)
    np.testing.assert_allclose(preds[0.0], predict_trees(trees, torch.from_numpy(feats)).numpy(), atol=1e-9)
    np.testing.assert_allclose(preds[0.5], (preds[0.0] + preds[1.0]) / 2, atol=1e-6)
    # the same process refitted by sklearn on the same standardized rows, with the fitted kernel held fixed
    x64 = feats.astype(np.float64)
    x_std = np.where(x64.std(0) > 1e-6, x64.std(0), 1.0)
    y = error_target(table["accuracy"].to_numpy())
    ref = GaussianProcessRegressor(_refitted_kernel(gp, x_std), optimizer=None).fit(
        (x64 - x64.mean(0)) / x_std, (y - y.mean()) / y.std())
    queries = space.random_genes(np.random.default_rng(3), 200)
    q = p.features(space.arch_values(queries), space.cim_values(queries)).astype(np.float64)
    want = 1 + 0.005 - np.exp(ref.predict((q - x64.mean(0)) / x_std) * y.std() + y.mean())
    got = predict_gp(gp, torch.from_numpy(q).float()).numpy()
    np.testing.assert_allclose(got, np.clip(want, 0, 1), atol=1e-4)


def _refitted_kernel(gp: dict, x_std: np.ndarray):
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    length = gp["feature_scale"].numpy() / x_std
    return ConstantKernel(float(gp["amplitude"]), "fixed") * Matern(length, "fixed", nu=2.5) + WhiteKernel(
        float(gp["white_noise"]), "fixed")


def test_the_trees_never_predict_worse_for_a_finer_adc_or_less_variation(fitted: tuple[Path, dict, pl.DataFrame],
                                                                       space: SearchSpace) -> None:
    """The trees are monotone in each feature with a known trend, so a setting whose every feature moves the
    same way moves the answer one way: a finer ADC never lowers the predicted accuracy, more device variation
    never raises it. (More weight bits may: they also widen the partial sums a coarse ADC must read.)"""
    from cimpipe.predictor import predict_trees

    root, _, table = fitted
    p = Predictor.load(root / "predictor.pt", space)
    rows = table.filter(pl.col("adc_bits") == 3).head(30)

    def trees(t: pl.DataFrame) -> np.ndarray:
        return predict_trees(p.state["trees"], torch.from_numpy(p.features(t, t))).numpy()

    base = trees(rows)
    finer = trees(rows.with_columns(pl.lit(5).alias("adc_bits")))
    assert (finer >= base - 1e-12).all() and (trees(rows.with_columns(pl.lit(8).alias("adc_bits"))) >= finer - 1e-12).all()
    assert (trees(rows.with_columns(pl.lit(0.05).alias("sigma"))) <= trees(rows.with_columns(pl.lit(0.0).alias("sigma"))) + 1e-12).all()


def test_the_held_out_error_is_also_given_per_accuracy_band() -> None:
    """A user reads how far to trust the predictor where the front lives (high accuracy) apart from the
    collapse region of coarse ADCs."""
    from cimpipe.predictor import score

    truth = np.array([0.97, 0.99, 0.92, 0.60])
    pred = np.array([0.96, 1.00, 0.90, 0.50])
    s = score(pred, np.zeros(4), truth)
    assert s["rmse_by_band"]["95-100"] == {"rows": 2, "rmse_pct": pytest.approx(1.0)}
    assert s["rmse_by_band"]["90-95"] == {"rows": 1, "rmse_pct": pytest.approx(2.0)}
    assert s["rmse_by_band"]["0-90"] == {"rows": 1, "rmse_pct": pytest.approx(10.0)}
    assert s["rmse_pct"] == pytest.approx(np.sqrt((1 + 1 + 4 + 100) / 4))
    assert "0-90" not in score(pred[:2], np.zeros(2), truth[:2])["rmse_by_band"]
