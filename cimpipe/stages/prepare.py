"""Stage prepare_data: a dataset in its own on-disk format to uint8 arrays and a fixed split."""

from __future__ import annotations

from pathlib import Path

from cimpipe.data import prepare_dataset


def prepare_data(dataset: str, entry: dict, out_dir: str) -> None:
    prepare_dataset(dataset, dict(entry), Path(out_dir))
