"""Outputs are written whole or not at all, and readable by whoever the umask lets read them."""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
import torch

from cimpipe.accuracy import merge_tables
from cimpipe.io import atomic_write, write_json, write_parquet, write_text, write_torch


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


FRAME = pl.DataFrame({"config_id": [0, 1], "accuracy": [0.5, 0.75]})


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_every_writer_leaves_the_mode_the_umask_gives(tmp_path: Path, mask: int, expected: int) -> None:
    with umask(mask):
        files = [write_parquet(FRAME, tmp_path / "t.parquet"), write_json({"a": 1}, tmp_path / "m.json"),
                 write_torch({"w": torch.ones(2)}, tmp_path / "p.pt"), write_text("x", tmp_path / "n.txt")]
        plain = tmp_path / "plain"
        plain.write_text("x")  # what an ordinary open() gives, for comparison
    assert mode(plain) == expected
    assert [mode(f) for f in files] == [expected] * 4


def test_the_written_files_read_back(tmp_path: Path) -> None:
    assert pl.read_parquet(write_parquet(FRAME, tmp_path / "a" / "t.parquet")).equals(FRAME)  # folders made
    assert json.loads(write_json({"b": [1, 2]}, tmp_path / "m.json", indent=2).read_text()) == {"b": [1, 2]}
    assert torch.load(write_torch({"w": torch.ones(2)}, tmp_path / "p.pt"))["w"].sum() == 2


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text("old", tmp_path / "out.txt")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_stage_table_is_readable_by_the_group_and_others(tmp_path: Path) -> None:
    write_parquet(FRAME.slice(0, 1), tmp_path / "shard_0.parquet")
    write_parquet(FRAME.slice(1, 1), tmp_path / "shard_1.parquet")
    with umask(0o022):
        merge_tables([tmp_path / "shard_0.parquet", tmp_path / "shard_1.parquet"], tmp_path / "accuracy.parquet")
    assert mode(tmp_path / "accuracy.parquet") == 0o644
