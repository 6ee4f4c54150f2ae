"""A datasets: entry of config.yaml is checked before anything is read; errors name the dataset and the key."""

from pathlib import Path

import pytest

from cimpipe.data import DatasetError, parse_entry


def test_defaults_are_filled_and_paths_resolve_against_the_workflow_dir(tmp_path: Path) -> None:
    entry = parse_entry("cifar10", {"kind": "cifar10"}, base_dir=tmp_path)
    assert entry.root == tmp_path / "data/raw/cifar10"
    assert entry.download is True
    assert (entry.val_fraction, entry.split_seed, entry.image_size) == (0.1, 0, None)

    jpeg = parse_entry("cifar10_jpeg", {"kind": "imagefolder", "root": "data/raw/cifar10-jpeg",
                                        "archive": "../shared/datasets/cifar10-jpeg.tar.gz", "image_size": 32},
                       base_dir=tmp_path)
    assert jpeg.archive == tmp_path / "../shared/datasets/cifar10-jpeg.tar.gz"
    assert jpeg.image_size == 32


def test_digits_needs_no_root() -> None:
    entry = parse_entry("digits", {"kind": "digits", "val_fraction": 0.2, "max_train": 100})
    assert entry.root is None and entry.val_fraction == 0.2 and entry.max_train == 100


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"kind": "cifar10", "rot": "x"}, ["datasets.cifar10", "'rot'"]),
        ({"kind": "digits", "root": "x"}, ["datasets.cifar10", "'root'"]),
        ({"kind": "mnist"}, ["datasets.cifar10.kind", "mnist"]),
        ({"root": "x"}, ["datasets.cifar10.kind"]),
        ({"kind": "cifar10", "image_size": "big"}, ["datasets.cifar10.image_size", "'big'"]),
        ({"kind": "cifar10", "image_size": True}, ["datasets.cifar10.image_size"]),
        ({"kind": "cifar10", "max_train": 0}, ["datasets.cifar10.max_train"]),
        ({"kind": "cifar10", "val_fraction": 1.0}, ["datasets.cifar10.val_fraction"]),
        ({"kind": "cifar10", "download": "yes"}, ["datasets.cifar10.download"]),
        ({"kind": "cifar10", "split_seed": -1}, ["datasets.cifar10.split_seed"]),
        ({"kind": "cifar10", "root": 3}, ["datasets.cifar10.root"]),
        ("cifar10", ["datasets.cifar10"]),
    ],
)
def test_bad_entries_raise_one_sentence_naming_dataset_and_key(entry: object, words: list[str]) -> None:
    with pytest.raises(DatasetError) as info:
        parse_entry("cifar10", entry)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
