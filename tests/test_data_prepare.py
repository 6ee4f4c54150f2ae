"""prepare_dataset on the bundled digits: split sizes, class balance, caps, determinism; load_prepared's checks."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cimpipe.data import DatasetError, PreparedDataset, load_prepared, prepare_dataset

DIGITS_PER_CLASS = np.bincount(load_digits().target)  # 1797 images, 174..183 per class


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PreparedDataset]:
    out = prepare_dataset("digits", {"kind": "digits"}, tmp_path_factory.mktemp("digits") / "digits")
    return out, load_prepared(out)


def test_digits_splits_are_stratified_and_cover_every_image(digits: tuple[Path, PreparedDataset]) -> None:
    _, ds = digits
    n_test = round(0.2 * 1797)
    n_val = round(0.1 * (1797 - n_test))
    assert (len(ds.train_y), len(ds.val_y), len(ds.test_y)) == (1797 - n_test - n_val, n_val, n_test)
    per_class = sum(np.bincount(y, minlength=10) for y in (ds.train_y, ds.val_y, ds.test_y))
    assert per_class.tolist() == DIGITS_PER_CLASS.tolist()
    for y, n in [(ds.test_y, n_test), (ds.val_y, n_val)]:
        expected = DIGITS_PER_CLASS / DIGITS_PER_CLASS.sum() * n
        assert np.abs(np.bincount(y, minlength=10) - expected).max() <= 1.0
    assert ds.train_x.shape[1:] == (8, 8, 1) and ds.channels == 1 and ds.image_size == 8
    assert ds.train_x.max() == 255  # 0..16 scaled to 0..255
    assert ds.class_names == tuple(str(d) for d in range(10)) and ds.kind == "digits"


def test_meta_holds_train_statistics_and_counts(digits: tuple[Path, PreparedDataset]) -> None:
    out, ds = digits
    meta = json.loads((out / "meta.json").read_text())
    x = np.asarray(ds.train_x, dtype=np.float64) / 255.0
    assert meta["mean"] == pytest.approx([x.mean()], abs=1e-7)
    assert meta["std"] == pytest.approx([x.std()], abs=1e-7)
    assert meta["counts"] == {"train": len(ds.train_y), "val": len(ds.val_y), "test": len(ds.test_y)}
    assert meta["split_seed"] == 0 and "sklearn.datasets.load_digits" in meta["sources"]


def test_arrays_are_memory_mapped(digits: tuple[Path, PreparedDataset]) -> None:
    _, ds = digits
    assert isinstance(ds.train_x, np.memmap) and not ds.train_x.flags.writeable
    x, y = ds.split("val")
    assert x is ds.val_x and y is ds.val_y


def test_two_runs_write_identical_files(tmp_path: Path, digits: tuple[Path, PreparedDataset]) -> None:
    first, _ = digits
    second = prepare_dataset("digits", {"kind": "digits"}, tmp_path / "again")
    for path in sorted(first.iterdir()):
        assert (second / path.name).read_bytes() == path.read_bytes(), path.name


def test_split_seed_changes_the_split(tmp_path: Path, digits: tuple[Path, PreparedDataset]) -> None:
    other = load_prepared(prepare_dataset("digits", {"kind": "digits", "split_seed": 1}, tmp_path / "s1"))
    assert not np.array_equal(other.val_x, digits[1].val_x)


def test_caps_are_stratified_and_leave_the_validation_split_alone(tmp_path: Path,
                                                                  digits: tuple[Path, PreparedDataset]) -> None:
    capped = load_prepared(prepare_dataset("digits", {"kind": "digits", "max_train": 200, "max_test": 50},
                                           tmp_path / "capped"))
    assert (len(capped.train_y), len(capped.test_y)) == (200, 50)
    assert np.bincount(capped.train_y).tolist() == [20] * 10
    assert np.array_equal(capped.val_x, digits[1].val_x)  # a cap never moves the held-out split


def test_image_size_resizes(tmp_path: Path) -> None:
    ds = load_prepared(prepare_dataset("digits", {"kind": "digits", "image_size": 16, "max_train": 20},
                                       tmp_path / "big"))
    assert ds.train_x.shape[1:] == (16, 16, 1) and ds.val_x.shape[1:] == (16, 16, 1) and ds.image_size == 16


def test_rerun_replaces_previous_output_atomically(tmp_path: Path) -> None:
    out = tmp_path / "d"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    prepare_dataset("digits", {"kind": "digits", "max_train": 30}, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["meta.json"] + [f"{s}_{a}.npy" for s in ("train", "val", "test") for a in ("x", "y")]
    )
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no temporary folders left


def test_load_prepared_names_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"meta.json is missing: run the prepare_data stage"):
        load_prepared(tmp_path / "never")
    out = prepare_dataset("digits", {"kind": "digits", "max_train": 30}, tmp_path / "d")
    data = (out / "val_x.npy").read_bytes()
    (out / "val_x.npy").write_bytes(data[: len(data) - 10])
    with pytest.raises(DatasetError, match="val_x.npy"):
        load_prepared(out)
    (out / "val_x.npy").unlink()
    with pytest.raises(DatasetError, match=r"val_x.npy is missing"):
        load_prepared(out)
    (out / "meta.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"meta.json is not readable JSON"):
        load_prepared(out)


def test_no_validation_split(tmp_path: Path) -> None:
    ds = load_prepared(prepare_dataset("digits", {"kind": "digits", "val_fraction": 0}, tmp_path / "d"))
    assert ds.val_x.shape == (0, 8, 8, 1) and len(ds.val_y) == 0
