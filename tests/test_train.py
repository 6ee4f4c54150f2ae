"""Supernet training: recipe parsing, a tiny run, resume equals uninterrupted, checkpoint loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from conftest import digits_dataset

import cimpipe.train as train_mod
from cimpipe.data import Augmentation, PreparedDataset
from cimpipe.nn import evaluate_subnet
from cimpipe.space import VGGSpec
from cimpipe.train import TrainError, TrainRecipe, load_supernet, train_supernet

SPEC = VGGSpec(in_channels=1, image_size=8, num_classes=10, stages=((8, 8), (16,)), fc=(16,), min_depth=(1, 1))
RECIPE = TrainRecipe(epochs=2, batch_size=64, lr=0.05, random_subnets=1, recalibration_images=128, device="cpu",
                     bit_phases=((0.0, (8,)), (0.5, (4, 6, 8))), cpu_threads=1)


@pytest.fixture(scope="module")
def digits() -> PreparedDataset:
    """A small slice of scikit-learn's digits as the prepared-dataset value the pipeline passes around."""
    return digits_dataset(256, 128, 64)


def run(tmp: Path, data: PreparedDataset, recipe: TrainRecipe = RECIPE) -> Path:
    return train_supernet(SPEC, data, recipe, tmp / "supernet.pt", tmp / "train_log.parquet", seed=3,
                          checkpoint_dir=tmp / "ckpt", augment=Augmentation(crop_padding=1, hflip=False),
                          progress=False)


def test_recipe_from_config_reads_keys_and_refuses_unknown_or_mistyped_ones():
    recipe = TrainRecipe.from_config({"epochs": 3, "lr": 1, "distill": False, "bit_phases": [[0.0, [8]], [0.5, [2, 8]]]})
    assert (recipe.epochs, recipe.lr, recipe.distill) == (3, 1.0, 0.0)
    assert recipe.phase_bits(0) == (8,) and recipe.phase_bits(2) == (2, 8)
    with pytest.raises(TrainError, match="unknown training key.*'epoch'"):
        TrainRecipe.from_config({"epoch": 3})
    with pytest.raises(TrainError, match="'epochs' must be an integer"):
        TrainRecipe.from_config({"epochs": "ten"})
    with pytest.raises(TrainError, match="'amp' must be true or false"):
        TrainRecipe.from_config({"amp": "yes"})
    with pytest.raises(TrainError, match="bits \\[1, 8\\] outside 2..8"):
        TrainRecipe.from_config({"bit_phases": [[0.0, [1, 8]]]})
    with pytest.raises(TrainError, match="'device'"):
        TrainRecipe.from_config({"device": "tpu"})


def test_training_writes_the_supernet_and_a_per_epoch_log(tmp_path, digits, capsys):
    out = run(tmp_path, digits)
    assert "epoch 2/2" in capsys.readouterr().out  # one plain line per epoch without a terminal
    log = pl.read_parquet(tmp_path / "train_log.parquet")
    assert log.columns == ["epoch", "lr", "loss", "largest_acc", "smallest_acc", "seconds"]
    assert log["epoch"].to_list() == [1, 2]
    assert log["largest_acc"].is_between(0, 1).all() and log["loss"].is_finite().all()
    model, spec, meta = load_supernet(out)
    assert spec == SPEC and meta["mean"] == list(digits.mean) and meta["num_classes"] == 10
    acc, loss = evaluate_subnet(model, spec.largest(), None, digits.val_x, digits.val_y, mean=digits.mean,
                                std=digits.std, calib_images=digits.train_x[:128], batch_size=64)
    assert acc > 0.3 and np.isfinite(loss)  # two tiny epochs already learn far beyond chance (0.1)


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(tmp_path, digits, monkeypatch):
    whole = torch.load(run(tmp_path / "whole", digits), weights_only=False)["state_dict"]

    calls = {"n": 0}
    real_monitor = train_mod._monitor

    def monitor_then_die(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # killed in epoch 2, after epoch 1's checkpoint was written
            raise KeyboardInterrupt
        return real_monitor(*args, **kwargs)

    monkeypatch.setattr(train_mod, "_monitor", monitor_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", digits)
    assert (tmp_path / "killed" / "ckpt" / "last.pt").exists()
    assert not (tmp_path / "killed" / "supernet.pt").exists()
    monkeypatch.setattr(train_mod, "_monitor", real_monitor)
    resumed = torch.load(run(tmp_path / "killed", digits), weights_only=False)["state_dict"]
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    assert pl.read_parquet(tmp_path / "killed" / "train_log.parquet")["epoch"].to_list() == [1, 2]


def test_bad_checkpoints_and_mismatched_data_fail_with_one_sentence(tmp_path, digits):
    with pytest.raises(TrainError, match="does not exist"):
        load_supernet(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainError, match="corrupt"):
        load_supernet(bad)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(TrainError, match="is not a cimpipe-supernet"):
        load_supernet(tmp_path / "other.pt")
    good = torch.load(run(tmp_path / "ok", digits), weights_only=False)
    good["spec"]["stages"] = [[8, 8], [32]]  # a spec whose weights are not the saved ones
    torch.save(good, tmp_path / "incompatible.pt")
    with pytest.raises(TrainError, match="does not match its own spec"):
        load_supernet(tmp_path / "incompatible.pt")
    wrong = VGGSpec(in_channels=3, image_size=8, num_classes=10, stages=((8,),), fc=(), min_depth=(1,))
    with pytest.raises(TrainError, match="does not match the supernet spec"):
        train_supernet(wrong, digits, RECIPE, tmp_path / "s.pt", tmp_path / "l.parquet", seed=0,
                       checkpoint_dir=tmp_path / "c", augment=None)


def test_bfloat16_autocast_on_a_cpu_is_opt_in_and_needs_native_bfloat16():
    from cimpipe.train import _use_amp

    cpu = torch.device("cpu")
    assert not _use_amp(TrainRecipe(), cpu)  # float32 unless the workload asks
    asked = TrainRecipe.from_config({"cpu_amp": True})
    assert _use_amp(asked, cpu) == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert not _use_amp(TrainRecipe(amp=True, cpu_amp=False), cpu)  # amp alone is CUDA's switch
