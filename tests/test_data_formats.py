"""Each dataset kind is read from its own on-disk format, fabricated here at small size, and prepared."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from cimpipe.data import DatasetError, load_prepared, prepare_dataset
from cimpipe.data.synthetic import (
    class_colour,
    pack,
    write_cifar10,
    write_cifar100,
    write_imagefolder,
    write_tinyimagenet,
)


def assert_images_match_labels(x: np.ndarray, y: np.ndarray, tolerance: float = 4.0) -> None:
    """Fabricated images of class c are class_colour(c) plus noise: the mean colour identifies the label."""
    assert len(x) == len(y) and len(y) > 0
    means = x.reshape(len(x), -1, x.shape[-1]).mean(axis=1)
    expected = np.stack([class_colour(int(c)) for c in y]).astype(float)
    assert np.abs(means - expected).max() < tolerance


def test_cifar10_python_batches(tmp_path: Path) -> None:
    write_cifar10(tmp_path / "raw", per_batch=20, test=30)
    out = prepare_dataset("cifar10", {"kind": "cifar10", "root": "raw", "download": False}, tmp_path / "prep",
                          base_dir=tmp_path)
    ds = load_prepared(out)
    assert (len(ds.train_y), len(ds.val_y), len(ds.test_y)) == (90, 10, 30)  # 10 % of 100 held out as val
    assert ds.train_x.shape[1:] == (32, 32, 3) and ds.train_x.dtype == np.uint8
    assert ds.class_names[:2] == ("airplane", "automobile") and ds.num_classes == 10
    for x, y in [(ds.train_x, ds.train_y), (ds.val_x, ds.val_y), (ds.test_x, ds.test_y)]:
        assert_images_match_labels(np.asarray(x), np.asarray(y), tolerance=3.5)
    assert np.bincount(ds.val_y, minlength=10).tolist() == [1] * 10  # stratified: one per class
    meta = json.loads((out / "meta.json").read_text())
    assert set(meta["sources"]) >= {"data_batch_1", "test_batch", "batches.meta"}


def test_cifar10_root_may_be_the_batches_folder_itself(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path, per_batch=10, test=10)
    ds = load_prepared(prepare_dataset("c", {"kind": "cifar10", "root": str(folder), "download": False},
                                       tmp_path / "prep"))
    assert len(ds.train_y) + len(ds.val_y) == 50


def test_cifar100_fine_labels(tmp_path: Path) -> None:
    write_cifar100(tmp_path / "raw", train=300, test=100)
    ds = load_prepared(prepare_dataset("c100", {"kind": "cifar100", "root": str(tmp_path / "raw"),
                                                "download": False, "val_fraction": 0.2}, tmp_path / "prep"))
    assert ds.num_classes == 100 and ds.class_names[7] == "class07"
    assert (len(ds.train_y), len(ds.val_y), len(ds.test_y)) == (240, 60, 100)
    assert_images_match_labels(np.asarray(ds.test_x), np.asarray(ds.test_y), tolerance=3.5)


def test_truncated_cifar_batch_is_named(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path, per_batch=10, test=10)
    data = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="data_batch_3"):
        prepare_dataset("c", {"kind": "cifar10", "root": str(tmp_path), "download": False}, tmp_path / "prep")
    assert not (tmp_path / "prep").exists()


def test_cifar_pickle_with_foreign_code_is_refused(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path, per_batch=10, test=10)

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (print, ("this must not run",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DatasetError, match="test_batch"):
        prepare_dataset("c", {"kind": "cifar10", "root": str(tmp_path), "download": False}, tmp_path / "prep")


def test_tinyimagenet_official_val_becomes_test(tmp_path: Path) -> None:
    write_tinyimagenet(tmp_path / "raw", classes=4, train_per_class=10, val_per_class=3, size=64)
    entry = {"kind": "tinyimagenet", "root": str(tmp_path / "raw" / "tiny-imagenet-200"), "download": False,
             "val_fraction": 0.2}
    ds = load_prepared(prepare_dataset("tiny", entry, tmp_path / "prep"))
    assert (len(ds.train_y), len(ds.val_y), len(ds.test_y)) == (32, 8, 12)
    assert ds.image_size == 64 and ds.channels == 3
    assert list(ds.class_names) == sorted(ds.class_names)  # sorted wnids, not wnids.txt order
    assert np.bincount(ds.test_y).tolist() == [3, 3, 3, 3]
    for x, y in [(ds.train_x, ds.train_y), (ds.test_x, ds.test_y)]:
        assert_images_match_labels(np.asarray(x), np.asarray(y), tolerance=4.0)


def test_tinyimagenet_resized_and_grayscale_images_become_rgb(tmp_path: Path) -> None:
    from PIL import Image

    folder = write_tinyimagenet(tmp_path, classes=2, train_per_class=4, val_per_class=1, size=64)
    some = next((folder / "train").glob("*/images/*.JPEG"))
    Image.open(some).convert("L").save(some)  # real Tiny-ImageNet has a few grayscale JPEGs
    ds = load_prepared(prepare_dataset("tiny", {"kind": "tinyimagenet", "root": str(tmp_path), "download": False,
                                                "image_size": 32}, tmp_path / "prep"))
    assert ds.train_x.shape[1:] == (32, 32, 3) and ds.test_x.shape[1:] == (32, 32, 3)


def test_bad_annotation_line_names_file_and_line(tmp_path: Path) -> None:
    folder = write_tinyimagenet(tmp_path, classes=2, train_per_class=2, val_per_class=2, size=16)
    annotations = folder / "val" / "val_annotations.txt"
    lines = annotations.read_text().splitlines()
    lines[2] = "val_2.JPEG n99999999 0 0 15 15"  # spaces instead of tabs and an unknown wnid
    annotations.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"val_annotations.txt line 3"):
        prepare_dataset("tiny", {"kind": "tinyimagenet", "root": str(tmp_path), "download": False},
                        tmp_path / "prep")


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    folder = write_tinyimagenet(tmp_path, classes=2, train_per_class=3, val_per_class=1, size=16)
    broken = sorted((folder / "train").glob("*/images/*.JPEG"))[1]
    broken.write_bytes(broken.read_bytes()[:40])
    with pytest.raises(DatasetError, match=broken.name):
        prepare_dataset("tiny", {"kind": "tinyimagenet", "root": str(tmp_path), "download": False},
                        tmp_path / "prep")


def test_imagefolder_with_test_split(tmp_path: Path) -> None:
    write_imagefolder(tmp_path / "tree", {"train": 10, "test": 4}, classes=3, size=16)
    ds = load_prepared(prepare_dataset("f", {"kind": "imagefolder", "root": str(tmp_path / "tree")},
                                       tmp_path / "prep"))
    assert ds.class_names == ("class_0", "class_1", "class_2")
    assert (len(ds.train_y), len(ds.val_y), len(ds.test_y)) == (27, 3, 12)
    assert_images_match_labels(np.asarray(ds.train_x), np.asarray(ds.train_y), tolerance=1.0)  # PNG is lossless


def test_imagefolder_without_test_holds_one_out_of_train(tmp_path: Path) -> None:
    write_imagefolder(tmp_path / "tree", {"train": 10}, classes=2, size=8)
    ds = load_prepared(prepare_dataset("f", {"kind": "imagefolder", "root": str(tmp_path / "tree"),
                                             "test_fraction": 0.2, "val_fraction": 0.25}, tmp_path / "prep"))
    assert (len(ds.train_y), len(ds.val_y), len(ds.test_y)) == (12, 4, 4)
    meta = json.loads((tmp_path / "prep" / "meta.json").read_text())
    assert meta["test_split"].startswith("held out of train")


@pytest.mark.parametrize("archive_name", ["tree.tar.gz", "tree.zip"])
def test_imagefolder_archive_is_extracted_into_missing_root(tmp_path: Path, archive_name: str) -> None:
    write_imagefolder(tmp_path / "src", {"train": 6, "val": 2}, classes=2, size=12, suffix=".jpg")
    pack(tmp_path / "src", tmp_path / archive_name)
    entry = {"kind": "imagefolder", "root": "raw/tree", "archive": archive_name, "image_size": 8}
    ds = load_prepared(prepare_dataset("f", entry, tmp_path / "prep", base_dir=tmp_path))
    assert (tmp_path / "raw" / "tree" / "train" / "class_1").is_dir()
    assert ds.train_x.shape[1:] == (8, 8, 3) and len(ds.test_y) == 4
    assert not list((tmp_path / "raw").glob(".*"))  # no staging folder left behind


def test_imagefolder_of_mixed_sizes_needs_image_size(tmp_path: Path) -> None:
    from PIL import Image

    write_imagefolder(tmp_path, {"train": 3, "test": 1}, classes=2, size=16)
    odd = tmp_path / "train" / "class_1" / "0002.png"
    Image.new("RGB", (20, 20)).save(odd)
    with pytest.raises(DatasetError, match="image_size") as info:
        prepare_dataset("f", {"kind": "imagefolder", "root": str(tmp_path)}, tmp_path / "prep")
    assert "0002.png" in str(info.value)
    ds = load_prepared(prepare_dataset("f", {"kind": "imagefolder", "root": str(tmp_path), "image_size": 16},
                                       tmp_path / "prep"))
    assert ds.image_size == 16


def test_missing_imagefolder_says_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no image folder at .*nowhere \(it does not exist\): put train/<class>"):
        prepare_dataset("f", {"kind": "imagefolder", "root": str(tmp_path / "nowhere")}, tmp_path / "prep")


def test_decoded_trees_are_prepared_identically_twice(tmp_path: Path) -> None:
    write_tinyimagenet(tmp_path / "raw", classes=3, train_per_class=8, val_per_class=2, size=16)
    entry = {"kind": "tinyimagenet", "root": str(tmp_path / "raw"), "download": False, "max_train": 12}
    first = prepare_dataset("tiny", entry, tmp_path / "a")
    second = prepare_dataset("tiny", entry, tmp_path / "b")
    for path in sorted(first.iterdir()):
        assert (second / path.name).read_bytes() == path.read_bytes(), path.name
    assert np.bincount(load_prepared(first).train_y).tolist() == [4, 4, 4]
