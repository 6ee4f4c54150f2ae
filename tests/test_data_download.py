"""Fetching official archives: offline errors say where to put the files; checksums are enforced.

No test touches the network: ``cimpipe.data.download.open_url`` is replaced, or archives are served from file:// URLs.
"""

import hashlib
import urllib.error
from pathlib import Path

import pytest

from cimpipe.data import DatasetError, load_prepared, prepare_dataset
from cimpipe.data import download as dl
from cimpipe.data import sources
from cimpipe.data.synthetic import pack, write_cifar10


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any URL opened is recorded and fails like a machine without network."""
    opened: list[str] = []

    def offline(url: str, timeout: float):  # noqa: ANN202
        opened.append(url)
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(dl, "open_url", offline)
    return opened


def fake_cifar10_archive(tmp_path: Path) -> Path:
    write_cifar10(tmp_path / "src", per_batch=10, test=10)
    return pack(tmp_path / "src", tmp_path / "cifar-10-python.tar.gz")


def serve_with_md5(monkeypatch: pytest.MonkeyPatch, archive: Path, md5: str) -> None:
    """Point the CIFAR-10 source at a local archive via a file:// URL, expecting checksum ``md5``."""
    source = dl.ArchiveSource(archive.as_uri(), "cifar-10-python.tar.gz", md5)
    monkeypatch.setattr(sources, "_CIFAR10", sources._Layout("CIFAR-10", "cifar-10-batches-py", "batches.meta",
                                                             source))
    monkeypatch.setattr(dl, "open_url", dl._urlopen)  # file:// only: still no network


def test_offline_without_download_names_the_directory_to_fill(tmp_path: Path, no_network: list[str]) -> None:
    with pytest.raises(DatasetError) as info:
        prepare_dataset("cifar10", {"kind": "cifar10", "root": "data/raw/cifar10", "download": False},
                        tmp_path / "prep", base_dir=tmp_path)
    message = str(info.value)
    assert f"CIFAR-10 not found in {tmp_path / 'data/raw/cifar10'}" in message
    assert "put cifar-10-batches-py/ (from cifar-10-python.tar.gz" in message
    assert "datasets.cifar10.download is false" in message
    assert no_network == []  # download: false never opens a URL


def test_failed_download_names_the_directory_and_the_reason(tmp_path: Path, no_network: list[str]) -> None:
    with pytest.raises(DatasetError, match=r"Tiny-ImageNet-200 not found in .*could not be downloaded.*no network"):
        prepare_dataset("tiny", {"kind": "tinyimagenet", "root": str(tmp_path / "tiny")}, tmp_path / "prep")
    assert no_network == ["http://cs231n.stanford.edu/tiny-imagenet-200.zip"]
    assert not list((tmp_path / "tiny").glob("*.part"))


def test_download_verifies_md5_then_extracts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = fake_cifar10_archive(tmp_path)
    serve_with_md5(monkeypatch, archive, hashlib.md5(archive.read_bytes()).hexdigest())
    ds = load_prepared(prepare_dataset("cifar10", {"kind": "cifar10", "root": str(tmp_path / "raw")},
                                       tmp_path / "prep"))
    assert len(ds.train_y) + len(ds.val_y) == 50
    assert (tmp_path / "raw" / "cifar-10-python.tar.gz").is_file()
    assert (tmp_path / "raw" / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_download_with_wrong_md5_is_discarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = fake_cifar10_archive(tmp_path)
    serve_with_md5(monkeypatch, archive, "0" * 32)
    with pytest.raises(DatasetError, match=r"has md5 [0-9a-f]{32} but 0{32} was expected"):
        prepare_dataset("cifar10", {"kind": "cifar10", "root": str(tmp_path / "raw")}, tmp_path / "prep")
    assert list((tmp_path / "raw").iterdir()) == []  # neither the archive nor a .part file stays


def test_local_archive_with_wrong_checksum_is_named(tmp_path: Path) -> None:
    archive = fake_cifar10_archive(tmp_path)  # not the official archive, so its md5 differs
    with pytest.raises(DatasetError, match=r"cifar-10-python.tar.gz has md5 .* but c58f30108f718f92721af3b95e74349a"):
        prepare_dataset("cifar10", {"kind": "cifar10", "root": str(tmp_path / "raw"), "archive": str(archive)},
                        tmp_path / "prep")


def test_archive_named_in_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"datasets.cifar10.archive names .*missing.tar.gz, which does not exist"):
        prepare_dataset("cifar10", {"kind": "cifar10", "root": str(tmp_path), "archive": "missing.tar.gz"},
                        tmp_path / "prep", base_dir=tmp_path)


def test_truncated_archive_is_named(tmp_path: Path) -> None:
    archive = fake_cifar10_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz"):
        dl.extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
