"""Stages accuracy_shard and accuracy_table: sampled sub-networks measured in CIM mode, shard by shard, and
the shards merged."""

from __future__ import annotations

from cimpipe.accuracy import AccuracySettings, build_table, merge_tables
from cimpipe.workload import load_workload


def accuracy_shard(supernet_path: str, data_dir: str, settings: dict, shard: int, shards: int, out_path: str) -> None:
    """Measure one shard of the accuracy table (resumable; see :func:`cimpipe.accuracy.build_table`)."""
    _, _, space = load_workload(supernet_path, settings["hardware_space"])
    table = build_table(supernet_path, data_dir, space, AccuracySettings.from_config(settings["accuracy"]), out_path,
                        shard=int(shard), shards=int(shards))
    print(f"shard {shard}/{shards}: {table.height} rows, mean accuracy {table['accuracy'].mean():.4f}")


def merge_accuracy(shard_paths: list[str], out_path: str) -> None:
    table = merge_tables(shard_paths, out_path)
    print(f"accuracy table: {table.height} rows from {len(shard_paths)} shard(s)")
