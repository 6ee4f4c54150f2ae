"""Checksum-verified download and safe extraction of dataset archives.

The URLs and md5 sums are the public ones torchvision uses (CIFAR) and the CS231n course archive (Tiny-ImageNet).
``open_url`` is module-level so tests can replace it; nothing here is called unless an entry allows downloading.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cimpipe.data.errors import DatasetError

DOWNLOAD_TIMEOUT_S = 20.0
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ArchiveSource:
    """Where an official archive lives and the md5 it must have."""

    url: str
    filename: str
    md5: str


CIFAR10_ARCHIVE = ArchiveSource(
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
)
CIFAR100_ARCHIVE = ArchiveSource(
    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85",
)
TINYIMAGENET_ARCHIVE = ArchiveSource(
    "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
    "tiny-imagenet-200.zip",
    "90528d7ca1a48142e341f4ef8d21d0de",
)


def _urlopen(url: str, timeout: float) -> BinaryIO:
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - fixed https/http/file URLs only


# Replaced in tests (monkeypatch) so that no test touches the network.
open_url: Callable[[str, float], BinaryIO] = _urlopen


class DownloadFailed(Exception):
    """The archive could not be fetched (no network, timeout, HTTP error); callers turn it into a DatasetError."""


def file_md5(path: Path) -> str:
    """md5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: Path, expected: str) -> None:
    """Raise :class:`DatasetError` naming ``path`` when its md5 is not ``expected``."""
    actual = file_md5(path)
    if actual != expected:
        raise DatasetError(
            f"{path} has md5 {actual} but {expected} was expected: the archive is corrupt or incomplete, delete it "
            "and try again"
        )


def download(source: ArchiveSource, dest_dir: Path, *, url: str | None = None,
             timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch ``source`` into ``dest_dir``, check its md5 and return the archive's path.

    The bytes go to ``<name>.part`` first and are renamed only after the checksum matches, so a killed or failed
    download never leaves a file that looks complete. Raises :class:`DownloadFailed` on network errors and
    :class:`DatasetError` on a checksum mismatch.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.filename
    partial = dest_dir / (source.filename + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open_url(url or source.url, timeout_s) as response, open(partial, "wb") as out:
            while chunk := response.read(_CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
    except OSError as err:  # URLError, timeouts and HTTP errors are all OSError subclasses
        partial.unlink(missing_ok=True)
        raise DownloadFailed(f"{url or source.url}: {err}") from err
    if digest.hexdigest() != source.md5:
        partial.unlink(missing_ok=True)
        raise DatasetError(
            f"the download of {url or source.url} has md5 {digest.hexdigest()} but {source.md5} was expected, so it "
            f"was discarded; fetch {source.filename} by hand and put it in {dest_dir}"
        )
    partial.replace(target)
    return target


def _inside(root: Path, member: str) -> bool:
    resolved = (root / member).resolve()
    return resolved == root.resolve() or root.resolve() in resolved.parents


def extract(archive: Path, dest_dir: Path) -> None:
    """Unpack a .tar(.gz|.bz2|.xz) or .zip archive into ``dest_dir`` atomically.

    Members land in a temporary sibling directory which is renamed into place (or, when ``dest_dir`` already
    exists, whose entries are moved in), so an interrupted extraction leaves no half tree. Members that would
    escape the directory are refused.
    """
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = dest_dir.parent / f".{dest_dir.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    if not _inside(staging, member):
                        raise DatasetError(f"{archive} holds the member {member!r}, which points outside the archive")
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(staging, filter="data")
        else:
            raise DatasetError(f"{archive} is neither a tar nor a zip archive (or is truncated)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise DatasetError(f"{archive} could not be extracted (corrupt or truncated archive: {err})") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not dest_dir.exists():
        staging.replace(dest_dir)
        return
    for entry in sorted(staging.iterdir()):
        target = dest_dir / entry.name
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        entry.replace(target)
    staging.rmdir()
