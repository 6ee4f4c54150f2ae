"""Datasets in their own on-disk formats -> prepared uint8 arrays (``prepare_dataset``) -> batches (``BatchLoader``)."""

from cimpipe.data.config import KINDS, DatasetEntry, parse_entry
from cimpipe.data.errors import DatasetError
from cimpipe.data.loader import Augmentation, BatchLoader, default_augmentation
from cimpipe.data.prepare import PreparedDataset, load_prepared, prepare_dataset

__all__ = [
    "KINDS",
    "Augmentation",
    "BatchLoader",
    "DatasetEntry",
    "DatasetError",
    "PreparedDataset",
    "default_augmentation",
    "load_prepared",
    "parse_entry",
    "prepare_dataset",
]
