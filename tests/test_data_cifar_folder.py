"""CIFAR-10 as an ImageFolder tree of JPEGs (train/<class>/NNNN.jpg, test/<class>/NNNN.jpg, packed in a .tar.gz):
prepared from the archive into an empty root, and every malformed tree stopped with one sentence naming the
path, before any training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cimpipe.data import DatasetError, load_prepared, parse_entry, prepare_dataset
from cimpipe.data.synthetic import pack

CLASSES = ("airplane", "automobile", "bird")


def _cifar_tree(root: Path, train: int = 6, test: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(n):
                image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                image[..., c] = 255  # the class is the saturated channel, which JPEG keeps
                Image.fromarray(image).save(folder / f"{k:04d}.jpg", quality=90)
    return root


def _entry(**extra) -> dict:
    return {"kind": "imagefolder", "root": "raw/cifar10-jpeg", "archive": "cifar10-jpeg.tar.gz",
            "exact_shape": [32, 32, 3], "val_fraction": 0.25, **extra}


def _prepare(tmp_path: Path, **extra):
    return load_prepared(prepare_dataset("cifar10_jpeg", _entry(**extra), tmp_path / "prep", base_dir=tmp_path))


def test_the_jpeg_archive_is_unpacked_into_an_empty_root_and_prepared(tmp_path):
    pack(_cifar_tree(tmp_path / "src"), tmp_path / "cifar10-jpeg.tar.gz")
    (tmp_path / "raw" / "cifar10-jpeg").mkdir(parents=True)  # an empty root is filled from the archive
    ds = _prepare(tmp_path)
    assert ds.class_names == CLASSES
    assert ds.train_x.shape[1:] == (32, 32, 3) and len(ds.test_y) == 6
    assert len(ds.train_y) + len(ds.val_y) == 18
    for x, y in ((np.asarray(ds.train_x), np.asarray(ds.train_y)), (np.asarray(ds.test_x), np.asarray(ds.test_y))):
        assert (x.reshape(len(x), -1, 3).mean(1).argmax(1) == y).all()


@pytest.mark.parametrize("bad", [((28, 28), "RGB"), ((32, 32), "L"), ((32, 32), "RGBA")],
                         ids=["28x28", "grayscale", "rgba"])
def test_an_image_that_is_not_32x32_rgb_is_named(tmp_path, bad):
    tree = _cifar_tree(tmp_path / "src")
    size, mode = bad
    odd = tree / "train" / "bird" / "0003.png"
    Image.new(mode, size).save(odd)
    pack(tree, tmp_path / "cifar10-jpeg.tar.gz")
    with pytest.raises(DatasetError) as info:
        _prepare(tmp_path)
    message = str(info.value)
    assert "bird/0003.png" in message and "32x32 RGB" in message and "\n" not in message


def test_a_missing_class_folder_is_named(tmp_path):
    tree = _cifar_tree(tmp_path / "src")
    for f in (tree / "test" / "automobile").iterdir():
        f.unlink()
    (tree / "test" / "automobile").rmdir()
    pack(tree, tmp_path / "cifar10-jpeg.tar.gz")
    with pytest.raises(DatasetError, match=r"test/automobile is missing: every class of .*train needs its folder"):
        _prepare(tmp_path)


def test_an_empty_root_without_an_archive_says_what_to_put_there(tmp_path):
    (tmp_path / "raw" / "cifar10-jpeg").mkdir(parents=True)
    entry = {"kind": "imagefolder", "root": "raw/cifar10-jpeg", "exact_shape": [32, 32, 3]}
    with pytest.raises(DatasetError, match=r"cifar10-jpeg \(it is empty\): put train/<class>/\*\.jpg"):
        prepare_dataset("cifar10_jpeg", entry, tmp_path / "prep", base_dir=tmp_path)


def test_exact_shape_must_be_height_width_channels():
    with pytest.raises(DatasetError, match=r"datasets.c.exact_shape must be \[height, width, channels\]"):
        parse_entry("c", {"kind": "imagefolder", "exact_shape": [32, 32]})
    with pytest.raises(DatasetError, match="'exact_shape'"):
        parse_entry("c", {"kind": "cifar10", "exact_shape": [32, 32, 3]})
