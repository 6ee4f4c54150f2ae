"""Image decoding (Pillow) into uint8 NHWC arrays, in parallel threads; Pillow releases the GIL while decoding."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cimpipe.data.errors import DatasetError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"})
_RESAMPLE = Image.Resampling.BILINEAR
_CHUNK = 256


def is_image_file(path: Path) -> bool:
    """True for a visible file whose suffix is a common image format."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def decode_image(path: Path, image_size: int | None, exact: tuple[int, int, int] | None = None
                 ) -> tuple[np.ndarray, str]:
    """One image as uint8 HxWx3 RGB (resized to ``image_size`` squared when given) and the sha256 of its bytes.

    With ``exact`` (height, width, channels) the file itself must be that size and RGB (3 channels) or
    grayscale (1), nothing converted or resized; otherwise the error names the file.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path} could not be read ({err.strerror or err})") from err
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if exact is not None:
                _check_exact(path, img, exact)
            rgb = img if img.mode == "RGB" else img.convert("RGB")
        if image_size is not None and rgb.size != (image_size, image_size):
            rgb = rgb.resize((image_size, image_size), _RESAMPLE)
        array = np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DatasetError(f"{path} is not a readable image ({err})") from err
    return array, hashlib.sha256(data).hexdigest()


def _check_exact(path: Path, img: Image.Image, exact: tuple[int, int, int]) -> None:
    height, width, channels = exact
    mode = {3: "RGB", 1: "L"}.get(channels)
    if img.size != (width, height) or img.mode != mode:
        raise DatasetError(f"{path} is a {img.size[0]}x{img.size[1]} {img.mode} image, not {width}x{height} "
                           f"{mode or f'{channels}-channel'} as the dataset's exact_shape requires")


def decode_images(paths: list[Path], image_size: int | None, dataset: str,
                  exact: tuple[int, int, int] | None = None) -> tuple[np.ndarray, str]:
    """Decode ``paths`` in order into one uint8 NHWC array; also return a sha256 over the files' digests.
    ``exact``: the (height, width, channels) every file must have (see :func:`decode_image`).

    Without ``image_size`` every image must share the first one's square size; otherwise the error names the file.
    """
    if not paths:
        raise DatasetError(f"dataset {dataset} has no image files to decode")
    first, first_digest = decode_image(paths[0], image_size, exact)
    height, width, channels = first.shape
    if height != width:
        raise DatasetError(
            f"{paths[0]} is {width}x{height}, not square: set datasets.{dataset}.image_size to resize the images"
        )
    out = np.empty((len(paths), height, width, channels), dtype=np.uint8)
    out[0] = first
    digests = [first_digest] + [""] * (len(paths) - 1)

    def work(start: int) -> None:
        for i in range(start, min(start + _CHUNK, len(paths))):
            array, digests[i] = decode_image(paths[i], image_size, exact)
            if array.shape != first.shape:
                raise DatasetError(
                    f"{paths[i]} is {array.shape[1]}x{array.shape[0]} but {paths[0]} is {width}x{height}: "
                    f"set datasets.{dataset}.image_size to resize them to one size"
                )
            out[i] = array

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first worker error, in file order
        list(pool.map(work, range(1, len(paths), _CHUNK)))
    combined = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return out, combined


def resize_images(images: np.ndarray, image_size: int) -> np.ndarray:
    """Resize a uint8 NHWC batch (1 or 3 channels) to ``image_size`` squared with Pillow's bilinear filter."""
    n, height, width, channels = images.shape
    if (height, width) == (image_size, image_size):
        return images
    out = np.empty((n, image_size, image_size, channels), dtype=np.uint8)
    for i in range(n):
        if channels == 1:
            img = Image.fromarray(np.ascontiguousarray(images[i, :, :, 0]))
            out[i, :, :, 0] = np.asarray(img.resize((image_size, image_size), _RESAMPLE))
        else:
            img = Image.fromarray(np.ascontiguousarray(images[i]))
            out[i] = np.asarray(img.resize((image_size, image_size), _RESAMPLE))
    return out
