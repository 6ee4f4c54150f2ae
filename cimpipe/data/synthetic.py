"""Small fabricated datasets written in each real on-disk format (for tests, demos and benchmarks).

Every image of class ``c`` is a flat colour ``class_colour(c)`` plus a little noise, so a reader that mixes up
labels and images is caught by comparing an image's mean with its label's colour.
"""

from __future__ import annotations

import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def class_colour(label: int) -> np.ndarray:
    """The RGB base colour (uint8) of fabricated images of class ``label``; distinct for labels 0..~40."""
    return np.array([(37 * label + 20) % 256, (91 * label + 60) % 256, (53 * label + 100) % 256], dtype=np.uint8)


def fabricate_images(labels: np.ndarray, size: int, seed: int = 0, noise: int = 6) -> np.ndarray:
    """uint8 NHWC RGB images: each is its label's colour plus uniform noise in [-noise, noise]."""
    rng = np.random.default_rng(seed)
    base = np.stack([class_colour(int(c)) for c in labels]).astype(np.int16)[:, None, None, :]
    jitter = rng.integers(-noise, noise + 1, size=(len(labels), size, size, 3))
    return np.clip(base + jitter, 0, 255).astype(np.uint8)


def _balanced_labels(count: int, num_classes: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(count) % num_classes).astype(np.int64)


def _dump(path: Path, obj: dict) -> None:
    """Pickle like the official CIFAR files: protocol 2, numpy's legacy module name ``numpy.core.multiarray``."""
    data = pickle.dumps(obj, protocol=2)
    # protocol 2 spells globals as newline-terminated text, so the name can be swapped in place
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


def write_cifar10(root: Path, per_batch: int = 20, test: int = 20, seed: int = 0) -> Path:
    """Write ``root/cifar-10-batches-py`` (data_batch_1..5, test_batch, batches.meta) and return that folder."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    _dump(folder / "batches.meta", {b"label_names": names, b"num_cases_per_batch": per_batch, b"num_vis": 3072})
    for i, (fname, count) in enumerate([*((f"data_batch_{k}", per_batch) for k in range(1, 6)), ("test_batch", test)]):
        labels = _balanced_labels(count, 10, seed + i)
        images = fabricate_images(labels, 32, seed + 100 + i)
        _dump(folder / fname, {b"batch_label": fname.encode(), b"labels": labels.tolist(),
                               b"data": _cifar_rows(images), b"filenames": [b"x.png"] * count})
    return folder


def write_cifar100(root: Path, train: int = 200, test: int = 100, seed: int = 0) -> Path:
    """Write ``root/cifar-100-python`` (train, test, meta with 100 fine labels) and return that folder."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    _dump(folder / "meta", {b"fine_label_names": [f"class{c:02d}".encode() for c in range(100)],
                            b"coarse_label_names": [f"super{c:02d}".encode() for c in range(20)]})
    for i, (fname, count) in enumerate([("train", train), ("test", test)]):
        labels = _balanced_labels(count, 100, seed + i)
        images = fabricate_images(labels, 32, seed + 100 + i)
        _dump(folder / fname, {b"filenames": [b"x.png"] * count, b"fine_labels": labels.tolist(),
                               b"coarse_labels": (labels // 5).tolist(), b"data": _cifar_rows(images)})
    return folder


def write_tinyimagenet(root: Path, classes: int = 4, train_per_class: int = 10, val_per_class: int = 3,
                       size: int = 64, seed: int = 0) -> Path:
    """Write the Tiny-ImageNet-200 layout (wnids.txt, train/<wnid>/images/*.JPEG, val/images + annotations)."""
    folder = root / "tiny-imagenet-200"
    wnids = [f"n{1440764 + 97 * c:08d}" for c in range(classes)]
    (folder / "val" / "images").mkdir(parents=True, exist_ok=True)
    (folder / "wnids.txt").write_text("\n".join(reversed(wnids)) + "\n")  # file order is not class order
    for c, wnid in enumerate(wnids):
        images_dir = folder / "train" / wnid / "images"
        images_dir.mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(fabricate_images(np.full(train_per_class, c), size, seed + c)):
            Image.fromarray(image).save(images_dir / f"{wnid}_{k}.JPEG", quality=95)
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    lines = []
    val_labels = np.repeat(np.arange(classes), val_per_class)
    for k, (c, image) in enumerate(zip(val_labels, fabricate_images(val_labels, size, seed + 999))):
        Image.fromarray(image).save(folder / "val" / "images" / f"val_{k}.JPEG", quality=95)
        lines.append(f"val_{k}.JPEG\t{wnids[c]}\t0\t0\t{size - 1}\t{size - 1}")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def write_imagefolder(root: Path, splits: dict[str, int], classes: int = 3, size: int = 16, seed: int = 0,
                      suffix: str = ".png") -> Path:
    """Write ``root/<split>/class_<c>/<k><suffix>`` with ``splits[split]`` images per class; return ``root``."""
    for s, (split, per_class) in enumerate(splits.items()):
        for c in range(classes):
            class_dir = root / split / f"class_{c}"
            class_dir.mkdir(parents=True, exist_ok=True)
            for k, image in enumerate(fabricate_images(np.full(per_class, c), size, seed + 10 * s + c)):
                Image.fromarray(image).save(class_dir / f"{k:04d}{suffix}")
    return root


def pack(folder: Path, archive: Path) -> Path:
    """Pack the contents of ``folder`` (relative names) into a .tar.gz or .zip chosen by ``archive``'s suffix."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in files:
                zf.write(path, path.relative_to(folder).as_posix())
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for path in files:
                tf.add(path, path.relative_to(folder).as_posix())
    return archive
