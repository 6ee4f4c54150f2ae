"""Validation of one ``datasets:`` entry of config.yaml into a typed :class:`DatasetEntry`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cimpipe.data.errors import DatasetError

KINDS = ("digits", "cifar10", "cifar100", "tinyimagenet", "imagefolder")

NATIVE_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 10), "cifar10": (3, 32, 10), "cifar100": (3, 32, 100), "tinyimagenet": (3, 64, 200)}
"""(channels, image size, classes) of the kinds whose shape is fixed before preparation (``image_size`` of an
entry resizes); an image folder's classes are known once it is read."""

_COMMON_KEYS = {"kind", "val_fraction", "split_seed", "image_size", "max_train", "max_val", "max_test"}
_KIND_KEYS: dict[str, set[str]] = {
    "digits": {"test_fraction"},
    "cifar10": {"root", "download", "archive"},
    "cifar100": {"root", "download", "archive"},
    "tinyimagenet": {"root", "download", "archive"},
    # test_fraction is used only when the tree has neither val/ nor test/.
    "imagefolder": {"root", "archive", "test_fraction", "exact_shape"},
}


@dataclass(frozen=True)
class DatasetEntry:
    """One validated dataset entry; paths are resolved against the workflow's base directory."""

    name: str
    kind: str
    root: Path | None = None
    download: bool = True
    archive: Path | None = None
    image_size: int | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    max_train: int | None = None
    max_val: int | None = None
    max_test: int | None = None
    exact_shape: tuple[int, int, int] | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry as JSON-ready values (for meta.json)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "root": None if self.root is None else str(self.root),
            "download": self.download,
            "archive": None if self.archive is None else str(self.archive),
            "image_size": self.image_size,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "split_seed": self.split_seed,
            "max_train": self.max_train,
            "max_val": self.max_val,
            "max_test": self.max_test,
            "exact_shape": None if self.exact_shape is None else list(self.exact_shape),
        }


def _positive_int(name: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DatasetError(f"datasets.{name}.{key} must be a positive integer, got {value!r}")
    return value


def _fraction(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise DatasetError(f"datasets.{name}.{key} must be a number in [0, 1), got {value!r}")
    return float(value)


def _path(name: str, key: str, value: Any, base_dir: Path) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise DatasetError(f"datasets.{name}.{key} must be a path string, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def _shape(name: str, value: Any) -> tuple[int, int, int]:
    ok = isinstance(value, (list, tuple)) and len(value) == 3 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value) and value[2] in (1, 3)
    if not ok:
        raise DatasetError(f"datasets.{name}.exact_shape must be [height, width, channels] with 1 or 3 channels, "
                           f"got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))


def parse_entry(name: str, entry: Any, *, base_dir: Path = Path(".")) -> DatasetEntry:
    """Check one ``datasets.<name>`` mapping and return it typed, with defaults filled in.

    Raises :class:`DatasetError` naming the dataset and the key for an unknown key, a wrong type or an unknown kind.
    """
    if not isinstance(entry, dict):
        raise DatasetError(f"datasets.{name} must be a mapping with at least a 'kind' key, got {entry!r}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise DatasetError(f"datasets.{name}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    allowed = _COMMON_KEYS | _KIND_KEYS[kind]
    for key in entry:
        if key not in allowed:
            raise DatasetError(
                f"datasets.{name} has the key {key!r}, which datasets of kind {kind} do not take "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    values: dict[str, Any] = {"name": name, "kind": kind}
    for key in ("image_size", "max_train", "max_val", "max_test"):
        if entry.get(key) is not None:
            values[key] = _positive_int(name, key, entry[key])
    for key in ("val_fraction", "test_fraction"):
        if key in entry:
            values[key] = _fraction(name, key, entry[key])
    if "split_seed" in entry:
        seed = entry["split_seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise DatasetError(f"datasets.{name}.split_seed must be a non-negative integer, got {seed!r}")
        values["split_seed"] = seed
    if "download" in entry:
        if not isinstance(entry["download"], bool):
            raise DatasetError(f"datasets.{name}.download must be true or false, got {entry['download']!r}")
        values["download"] = entry["download"]
    if kind != "digits":
        values["root"] = _path(name, "root", entry.get("root", f"data/raw/{name}"), base_dir)
        if entry.get("archive") is not None:
            values["archive"] = _path(name, "archive", entry["archive"], base_dir)
    if kind == "imagefolder":
        values["download"] = False
    if entry.get("exact_shape") is not None:
        values["exact_shape"] = _shape(name, entry["exact_shape"])
    return DatasetEntry(**values)
