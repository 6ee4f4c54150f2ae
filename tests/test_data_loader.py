"""BatchLoader: normalized NCHW batches whose order and augmentation are fixed by (seed, epoch)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from cimpipe.data import Augmentation, BatchLoader, DatasetError, default_augmentation, load_prepared, prepare_dataset

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


@pytest.fixture
def images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(50, 6, 6, 3), dtype=np.uint8), np.arange(50, dtype=np.int64)


def collect(loader: BatchLoader, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader.epoch(epoch))
    return torch.cat(xs), torch.cat(ys)


def test_batches_are_normalized_nchw_float32(images: tuple[np.ndarray, np.ndarray]) -> None:
    x_np, y_np = images
    loader = BatchLoader(x_np, y_np, 16, mean=MEAN, std=STD)
    assert len(loader) == 4
    batches = list(loader.epoch(0))
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    x, y = collect(loader, 0)
    assert x.dtype == torch.float32 and x.shape == (50, 3, 6, 6) and y.dtype == torch.int64
    expected = (x_np.transpose(0, 3, 1, 2) / 255.0 - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None]
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert y.tolist() == list(range(50))  # no shuffle: file order


def test_drop_last(images: tuple[np.ndarray, np.ndarray]) -> None:
    loader = BatchLoader(*images, 16, mean=MEAN, std=STD, shuffle=True, drop_last=True)
    assert len(loader) == 3 and sum(len(y) for _, y in loader.epoch(0)) == 48


def test_order_is_fixed_by_seed_and_epoch(images: tuple[np.ndarray, np.ndarray]) -> None:
    aug = Augmentation(crop_padding=2, hflip=True)
    a = BatchLoader(*images, 8, mean=MEAN, std=STD, shuffle=True, augment=aug, seed=3)
    b = BatchLoader(*images, 8, mean=MEAN, std=STD, shuffle=True, augment=aug, seed=3)
    x0, y0 = collect(a, 0)
    list(a.epoch(5))  # iterating other epochs first changes nothing: resume relies on this
    x0_again, y0_again = collect(b, 0)
    assert torch.equal(x0, x0_again) and torch.equal(y0, y0_again)
    _, y1 = collect(a, 1)
    assert sorted(y1.tolist()) == list(range(50)) and y1.tolist() != y0.tolist()
    _, y_other_seed = collect(BatchLoader(*images, 8, mean=MEAN, std=STD, shuffle=True, seed=4), 0)
    assert y_other_seed.tolist() != y0.tolist()


def reference_augment(image: np.ndarray, padding: int, dy: int, dx: int, flip: bool) -> np.ndarray:
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    crop = padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]
    return crop[:, ::-1] if flip else crop


@pytest.mark.parametrize("channels", [1, 3])
def test_augmentation_is_a_padded_crop_and_maybe_a_flip(channels: int) -> None:
    x_np = np.random.default_rng(1).integers(0, 256, size=(50, 6, 6, channels), dtype=np.uint8)
    y_np = np.arange(50)
    padding = 2
    loader = BatchLoader(x_np, y_np, 16, mean=(0.0,) * channels, std=(1 / 255,) * channels,
                         augment=Augmentation(padding, True))
    x, y = collect(loader, 7)
    out = x.permute(0, 2, 3, 1).round().to(torch.uint8).numpy()  # undo normalization: x*255 with std 1/255
    flips = 0
    for k, label in enumerate(y.tolist()):
        candidates = [(dy, dx, f) for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)
                      for f in (False, True)
                      if np.array_equal(out[k], reference_augment(x_np[label], padding, dy, dx, f))]
        assert candidates, f"image {k} is not a padded crop of its source"
        flips += candidates[0][2]
    assert 10 < flips < 40  # about half are flipped
    assert not np.array_equal(out, x_np)


def test_default_augmentations() -> None:
    assert default_augmentation("digits", 8) == Augmentation(crop_padding=1, hflip=False)
    assert default_augmentation("cifar10", 32) == Augmentation(crop_padding=4, hflip=True)
    assert default_augmentation("imagefolder", 32) == Augmentation(crop_padding=4, hflip=True)
    assert default_augmentation("tinyimagenet", 64) == Augmentation(crop_padding=8, hflip=True)
    with pytest.raises(DatasetError, match="mnist"):
        default_augmentation("mnist", 28)


def test_loader_over_a_prepared_dataset(tmp_path: Path) -> None:
    ds = load_prepared(prepare_dataset("digits", {"kind": "digits", "max_train": 100}, tmp_path / "d"))
    loader = BatchLoader(ds.train_x, ds.train_y, 32, mean=ds.mean, std=ds.std, shuffle=True,
                         augment=default_augmentation(ds.kind, ds.image_size))
    x, y = collect(loader, 0)
    assert x.shape == (100, 1, 8, 8) and sorted(y.tolist()) == sorted(ds.train_y.tolist())
    unaugmented, _ = collect(BatchLoader(ds.train_x, ds.train_y, 100, mean=ds.mean, std=ds.std), 0)
    assert abs(unaugmented.mean().item()) < 0.05 and abs(unaugmented.std().item() - 1) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": (0.5,), "std": STD}, "one per channel"),
        ({"std": (0.2, 0.0, 0.3)}, "std must be positive"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments(images: tuple[np.ndarray, np.ndarray], kwargs: dict, match: str) -> None:
    args = {"batch_size": 8, "mean": MEAN, "std": STD} | kwargs
    with pytest.raises(DatasetError, match=match):
        BatchLoader(*images, args.pop("batch_size"), **args)
