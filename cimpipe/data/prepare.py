"""``prepare_data`` stage: convert a dataset once into uint8 .npy arrays + meta.json; load them memory-mapped."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cimpipe.data.config import DatasetEntry, parse_entry
from cimpipe.data.errors import DatasetError
from cimpipe.data.images import resize_images
from cimpipe.data.sources import READERS, SplitSource
from cimpipe.data.splits import hold_out, split_rng, stratified_sample

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
# Distinct generator streams per purpose (see splits.split_rng).
_RNG_TEST, _RNG_VAL, _RNG_CAP = 1, 2, 10


@dataclass(frozen=True)
class PreparedDataset:
    """A prepared dataset: uint8 NHWC images (memory-mapped) and int64 labels per split, plus normalization.

    ``mean``/``std`` are per channel on the 0..1 scale, computed on the train split.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int
    channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...]
    name: str = ""
    kind: str = ""

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in SPLITS:
            raise DatasetError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        return getattr(self, f"{split}_x"), getattr(self, f"{split}_y")


def _channel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std on the 0..1 scale, accumulated in float64 chunks."""
    channels = images.shape[-1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    count = 0
    for start in range(0, len(images), chunk):
        block = images[start:start + chunk].reshape(-1, channels).astype(np.float64) / 255.0
        total += block.sum(axis=0)
        total_sq += np.square(block).sum(axis=0)
        count += len(block)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    std = np.where(std > 0, std, 1.0)  # a constant channel would otherwise divide by zero
    return tuple(round(float(m), 8) for m in mean), tuple(round(float(s), 8) for s in std)


def _cap(positions: np.ndarray, labels: np.ndarray, cap: int | None, purpose: int, seed: int) -> np.ndarray:
    if cap is None or cap >= len(positions):
        return positions
    return positions[stratified_sample(labels[positions], cap, split_rng(seed, _RNG_CAP + purpose))]


def _plan(cfg: DatasetEntry, train: SplitSource, test: SplitSource | None) -> dict[str, tuple[SplitSource, np.ndarray]]:
    """Which positions of which source make each split: test (official or held out), val held out of train, caps."""
    pool = np.arange(len(train.labels))
    if test is None:
        pool, test_positions = hold_out(train.labels, cfg.test_fraction, split_rng(cfg.split_seed, _RNG_TEST))
        test = train
    else:
        test_positions = np.arange(len(test.labels))
    kept, held = hold_out(train.labels[pool], cfg.val_fraction, split_rng(cfg.split_seed, _RNG_VAL))
    train_positions, val_positions = pool[kept], pool[held]
    caps = {"train": cfg.max_train, "val": cfg.max_val, "test": cfg.max_test}
    plan = {
        "train": (train, train_positions),
        "val": (train, val_positions),
        "test": (test, test_positions),
    }
    return {
        split: (source, _cap(positions, source.labels, caps[split], i, cfg.split_seed))
        for i, (split, (source, positions)) in enumerate(plan.items())
    }


def _write_atomically(out_dir: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", array, allow_pickle=False)
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        if out_dir.exists():
            out_dir.replace(old)
        staging.replace(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def prepare_dataset(name: str, entry: dict, out_dir: Path, *, base_dir: Path = Path(".")) -> Path:
    """Convert dataset ``name`` (a config.yaml ``datasets:`` entry) into ``out_dir`` and return ``out_dir``.

    Writes ``{train,val,test}_x.npy`` (uint8 NHWC), ``{split}_y.npy`` (int64) and ``meta.json`` through a temporary
    directory renamed into place. Deterministic: the same files and entry give byte-identical outputs. Raises
    :class:`DatasetError` (one sentence naming the key, directory or file) for a bad entry or missing/corrupt data.
    """
    cfg = parse_entry(name, entry, base_dir=Path(base_dir))
    raw = READERS[cfg.kind](cfg)
    plan = _plan(cfg, raw.train, raw.test)
    if len(plan["train"][1]) == 0:
        raise DatasetError(f"dataset {name} has no training images left after the validation/test hold-out")
    arrays: dict[str, np.ndarray] = {}
    digests = dict(raw.sources)
    for split in SPLITS:
        source, positions = plan[split]
        if len(positions):
            images, digest = source.load(positions)
            if digest is not None:
                digests[f"{split} images (decoded files)"] = digest
        else:
            images = np.zeros((0, *arrays["train_x"].shape[1:]), dtype=np.uint8)
        if cfg.image_size is not None and images.shape[1:3] != (cfg.image_size, cfg.image_size):
            images = resize_images(images, cfg.image_size)
        arrays[f"{split}_x"] = np.ascontiguousarray(images, dtype=np.uint8)
        arrays[f"{split}_y"] = source.labels[positions].astype(np.int64)
    train_x = arrays["train_x"]
    mean, std = _channel_stats(train_x)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "kind": cfg.kind,
        "classes": list(raw.class_names),
        "num_classes": len(raw.class_names),
        "image_size": int(train_x.shape[1]),
        "channels": int(train_x.shape[3]),
        "mean": list(mean),
        "std": list(std),
        "counts": {split: int(len(arrays[f"{split}_y"])) for split in SPLITS},
        "class_counts": {split: np.bincount(arrays[f"{split}_y"], minlength=len(raw.class_names)).tolist()
                         for split in SPLITS},
        "split_seed": cfg.split_seed,
        "val_fraction": cfg.val_fraction,
        "test_split": "official" if raw.test is not None else f"held out of train ({cfg.test_fraction})",
        "entry": cfg.as_json(),
        "sources": digests,
    }
    _write_atomically(Path(out_dir), arrays, meta)
    return Path(out_dir)


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: run the prepare_data stage for this dataset first") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} is not readable JSON ({err}): prepare the dataset again") from err
    required = {"num_classes", "channels", "image_size", "mean", "std", "classes", "counts"}
    if not isinstance(meta, dict) or not required <= meta.keys():
        raise DatasetError(f"{path} lacks some of the keys {', '.join(sorted(required))}: prepare the dataset again")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DatasetError(f"{path} has format_version {meta.get('format_version')!r}, not {FORMAT_VERSION}: "
                           "prepare the dataset again")
    return meta


def _load_array(path: Path, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: prepare the dataset again") from None
    except (OSError, ValueError, EOFError) as err:
        raise DatasetError(f"{path} is not a readable .npy array (truncated or corrupt: {err})") from err
    if array.dtype != dtype or array.shape != shape:
        raise DatasetError(f"{path} holds {array.dtype} {array.shape} but meta.json promises {dtype} {shape}")
    return array


def load_prepared(out_dir: Path) -> PreparedDataset:
    """Open a prepared dataset; arrays are memory-mapped read-only. Errors name the missing or corrupt file."""
    out_dir = Path(out_dir)
    meta = _read_meta(out_dir / "meta.json")
    size, channels = int(meta["image_size"]), int(meta["channels"])
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        count = int(meta["counts"][split])
        arrays[f"{split}_x"] = _load_array(out_dir / f"{split}_x.npy", np.dtype(np.uint8),
                                           (count, size, size, channels))
        arrays[f"{split}_y"] = _load_array(out_dir / f"{split}_y.npy", np.dtype(np.int64), (count,))
    return PreparedDataset(
        **arrays,
        num_classes=int(meta["num_classes"]),
        channels=channels,
        image_size=size,
        mean=tuple(float(m) for m in meta["mean"]),
        std=tuple(float(s) for s in meta["std"]),
        class_names=tuple(str(c) for c in meta["classes"]),
        name=str(meta.get("name", "")),
        kind=str(meta.get("kind", "")),
    )
