"""Readers for each dataset kind's own on-disk format (no torchvision), and fetching where allowed.

Each reader returns a :class:`RawDataset`: labels per split plus a function that materializes the images of
chosen positions, so size caps are applied before any image is decoded.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cimpipe.data import download as dl
from cimpipe.data.config import DatasetEntry
from cimpipe.data.errors import DatasetError
from cimpipe.data.images import decode_images, is_image_file


@dataclass(frozen=True)
class SplitSource:
    """One split as found on disk: labels, and ``load(positions) -> (uint8 NHWC images, digest or None)``."""

    labels: np.ndarray
    load: Callable[[np.ndarray], tuple[np.ndarray, str | None]]


@dataclass(frozen=True)
class RawDataset:
    """What a reader found: class names, train split, official test split (None: hold one out of train)."""

    class_names: tuple[str, ...]
    train: SplitSource
    test: SplitSource | None
    sources: dict[str, str] = field(default_factory=dict)  # file -> sha256


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _array_split(images: np.ndarray, labels: np.ndarray) -> SplitSource:
    return SplitSource(labels, lambda positions: (images[positions], None))


def _file_split(paths: list[Path], labels: np.ndarray, entry: DatasetEntry) -> SplitSource:
    def load(positions: np.ndarray) -> tuple[np.ndarray, str | None]:
        return decode_images([paths[i] for i in positions], entry.image_size, entry.name, entry.exact_shape)

    return SplitSource(labels, load)


# ---------------------------------------------------------------------------------------------------- digits

def read_digits(entry: DatasetEntry) -> RawDataset:
    """scikit-learn's bundled 8x8 digits (values 0..16) as uint8 0..255, one channel; no official test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    names = tuple(str(int(t)) for t in bunch.target_names)
    return RawDataset(names, _array_split(images, labels), None, {"sklearn.datasets.load_digits": digest})


# ---------------------------------------------------------------------------------------------------- fetching

@dataclass(frozen=True)
class _Layout:
    title: str          # "CIFAR-10"
    folder: str         # the folder the archive unpacks to
    marker: str         # a file that proves the folder is there
    archive: dl.ArchiveSource


_CIFAR10 = _Layout("CIFAR-10", "cifar-10-batches-py", "batches.meta", dl.CIFAR10_ARCHIVE)
_CIFAR100 = _Layout("CIFAR-100", "cifar-100-python", "meta", dl.CIFAR100_ARCHIVE)
_TINY = _Layout("Tiny-ImageNet-200", "tiny-imagenet-200", "wnids.txt", dl.TINYIMAGENET_ARCHIVE)


def _find(root: Path, layout: _Layout) -> Path | None:
    for candidate in (root / layout.folder, root):
        if (candidate / layout.marker).is_file():
            return candidate
    return None


def _missing(entry: DatasetEntry, layout: _Layout, why: str) -> DatasetError:
    return DatasetError(
        f"{layout.title} not found in {entry.root} and {why}: put {layout.folder}/ (from {layout.archive.filename}, "
        f"{layout.archive.url}) there, or point datasets.{entry.name}.archive at a local copy of "
        f"{layout.archive.filename}"
    )


def locate(entry: DatasetEntry, layout: _Layout) -> Path:
    """The folder holding ``layout`` under ``entry.root``, extracting a local archive or downloading if needed.

    Order: an existing folder; ``entry.archive`` (must exist); ``<root>/<archive name>``; a download when
    ``entry.download`` is true. Archives are md5-checked before extraction. Without any of these the error says
    which directory to fill and with what.
    """
    assert entry.root is not None
    found = _find(entry.root, layout)
    if found is not None:
        return found
    archive: Path | None = None
    if entry.archive is not None:
        if not entry.archive.is_file():
            raise DatasetError(f"datasets.{entry.name}.archive names {entry.archive}, which does not exist")
        archive = entry.archive
    elif (entry.root / layout.archive.filename).is_file():
        archive = entry.root / layout.archive.filename
    if archive is not None:
        dl.verify_md5(archive, layout.archive.md5)
    elif not entry.download:
        raise _missing(entry, layout, f"datasets.{entry.name}.download is false")
    else:
        try:
            archive = dl.download(layout.archive, entry.root)
        except dl.DownloadFailed as err:
            raise _missing(entry, layout, f"it could not be downloaded ({err})") from err
    dl.extract(archive, entry.root)
    found = _find(entry.root, layout)
    if found is None:
        raise DatasetError(f"{archive} does not contain {layout.folder}/{layout.marker}")
    return found


# ---------------------------------------------------------------------------------------------------- CIFAR

class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that admits only what CIFAR batches hold (dicts, lists, bytes, numpy arrays): no code execution."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name}")
        if module.startswith("numpy.core."):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"{path} is missing from the CIFAR folder")
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise DatasetError(f"{path} is not a readable CIFAR pickle (truncated or corrupt: {err})") from err
    if not isinstance(obj, dict):
        raise DatasetError(f"{path} does not hold a CIFAR dictionary")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    if "data" not in batch or label_key not in batch:
        raise DatasetError(f"{path} lacks the 'data' or '{label_key}' entry of a CIFAR batch")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(
            f"{path} holds data of shape {data.shape} ({data.dtype}) and {len(labels)} labels; a CIFAR batch has "
            "uint8 [N, 3072] and N labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(f"{path} has labels outside 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _cifar(entry: DatasetEntry, layout: _Layout, train_files: list[str], test_file: str, meta_file: str,
           names_key: str, label_key: str) -> RawDataset:
    folder = locate(entry, layout)
    meta = _unpickle(folder / meta_file)
    if names_key not in meta:
        raise DatasetError(f"{folder / meta_file} lacks the '{names_key}' entry")
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[names_key])
    parts = [_cifar_batch(folder / f, label_key, len(names)) for f in train_files]
    train_x = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = _cifar_batch(folder / test_file, label_key, len(names))
    sources = {f: sha256_file(folder / f) for f in [*train_files, test_file, meta_file]}
    return RawDataset(names, _array_split(train_x, train_y), _array_split(np.ascontiguousarray(test_x), test_y),
                      sources)


def read_cifar10(entry: DatasetEntry) -> RawDataset:
    """CIFAR-10 python batches: data_batch_1..5 (train), test_batch, batches.meta (label_names)."""
    return _cifar(entry, _CIFAR10, [f"data_batch_{i}" for i in range(1, 6)], "test_batch", "batches.meta",
                  "label_names", "labels")


def read_cifar100(entry: DatasetEntry) -> RawDataset:
    """CIFAR-100 python files: train, test, meta (fine_label_names); the 100 fine labels are used."""
    return _cifar(entry, _CIFAR100, ["train"], "test", "meta", "fine_label_names", "fine_labels")


# ---------------------------------------------------------------------------------------------------- Tiny-ImageNet

def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


def read_tinyimagenet(entry: DatasetEntry) -> RawDataset:
    """Tiny-ImageNet-200: wnids.txt, train/<wnid>/images/*.JPEG, val/images + val/val_annotations.txt.

    Classes are the sorted wnids. The official val split becomes our test split (the real test has no labels).
    """
    folder = locate(entry, _TINY)
    wnids = sorted({line.strip() for line in (folder / "wnids.txt").read_text().splitlines() if line.strip()})
    index = {w: i for i, w in enumerate(wnids)}
    train_paths: list[Path] = []
    train_labels: list[int] = []
    for wnid in wnids:
        images_dir = folder / "train" / wnid / "images"
        if not images_dir.is_dir():
            raise DatasetError(f"{images_dir} is missing: Tiny-ImageNet's train/<wnid>/images/ holds each class")
        files = _image_files(images_dir)
        train_paths += files
        train_labels += [index[wnid]] * len(files)
    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DatasetError(f"{annotations} is missing: it labels the images of val/images/")
    test_paths: list[Path] = []
    test_labels: list[int] = []
    for number, line in enumerate(annotations.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1].strip() not in index:
            raise DatasetError(
                f"{annotations} line {number} is not '<file>\\t<wnid>\\t<bbox>' with a wnid of wnids.txt: {line!r}"
            )
        image = folder / "val" / "images" / fields[0].strip()
        if not image.is_file():
            raise DatasetError(f"{annotations} line {number} names {image}, which does not exist")
        test_paths.append(image)
        test_labels.append(index[fields[1].strip()])
    return RawDataset(
        tuple(wnids),
        _file_split(train_paths, np.asarray(train_labels, dtype=np.int64), entry),
        _file_split(test_paths, np.asarray(test_labels, dtype=np.int64), entry),
        {"wnids.txt": sha256_file(folder / "wnids.txt"), "val/val_annotations.txt": sha256_file(annotations)},
    )


# ---------------------------------------------------------------------------------------------------- ImageFolder

def _folder_root(root: Path) -> Path | None:
    if (root / "train").is_dir():
        return root
    if root.is_dir():
        subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(subdirs) == 1 and (subdirs[0] / "train").is_dir():
            return subdirs[0]
    return None


def _class_tree(split_dir: Path, index: dict[str, int]) -> tuple[list[Path], np.ndarray]:
    paths: list[Path] = []
    labels: list[int] = []
    class_dirs = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    missing = sorted(set(index) - {p.name for p in class_dirs})
    if missing:
        raise DatasetError(f"{split_dir / missing[0]} is missing: every class of {split_dir.parent / 'train'} "
                           f"needs its folder in {split_dir}")
    for class_dir in class_dirs:
        if class_dir.name not in index:
            raise DatasetError(f"{class_dir} is a class that {split_dir.parent / 'train'} does not have")
        files = _image_files(class_dir)
        if not files:
            raise DatasetError(f"{class_dir} holds no image files")
        paths += files
        labels += [index[class_dir.name]] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


def read_imagefolder(entry: DatasetEntry) -> RawDataset:
    """An ImageFolder tree: train/<class>/*, and val/<class>/* or test/<class>/* (classes are sorted folder names).

    With ``archive`` given and no tree at ``root``, the archive (tar.gz or zip) is extracted into ``root`` first.
    Without val/ and test/, ``test_fraction`` of train is held out as the test split.
    """
    assert entry.root is not None
    folder = _folder_root(entry.root)
    if folder is None and entry.archive is not None:
        if not entry.archive.is_file():
            raise DatasetError(f"datasets.{entry.name}.archive names {entry.archive}, which does not exist")
        dl.extract(entry.archive, entry.root)
        folder = _folder_root(entry.root)
        if folder is None:
            raise DatasetError(f"{entry.archive} does not unpack to a tree with a train/ folder")
    if folder is None:
        state = ("it does not exist" if not entry.root.is_dir() else
                 "it is empty" if not any(entry.root.iterdir()) else "it holds no train/ folder")
        raise DatasetError(
            f"no image folder at {entry.root} ({state}): put train/<class>/*.jpg and test/<class>/*.jpg (or val/) there, or "
            f"set datasets.{entry.name}.archive to a .tar.gz or .zip of that tree"
        )
    train_dir = folder / "train"
    names = tuple(sorted(p.name for p in train_dir.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not names:
        raise DatasetError(f"{train_dir} has no class folders")
    index = {n: i for i, n in enumerate(names)}
    train_paths, train_labels = _class_tree(train_dir, index)
    test_dir = next((folder / d for d in ("val", "test") if (folder / d).is_dir()), None)
    test = None
    if test_dir is not None:
        test_paths, test_labels = _class_tree(test_dir, index)
        test = _file_split(test_paths, test_labels, entry)
    return RawDataset(names, _file_split(train_paths, train_labels, entry), test)


READERS: dict[str, Callable[[DatasetEntry], RawDataset]] = {
    "digits": read_digits,
    "cifar10": read_cifar10,
    "cifar100": read_cifar100,
    "tinyimagenet": read_tinyimagenet,
    "imagefolder": read_imagefolder,
}
