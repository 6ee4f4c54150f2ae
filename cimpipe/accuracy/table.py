"""Building a shard of the table (in resumable chunks) and merging the shards."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

import polars as pl

from cimpipe.accuracy.measure import measure_rows
from cimpipe.accuracy.sampling import sample_configurations
from cimpipe.accuracy.settings import AccuracyError, AccuracySettings
from cimpipe.io import write_json, write_parquet
from cimpipe.space import SearchSpace


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(configs: pl.DataFrame, settings: AccuracySettings, supernet_path: Path, data_dir: Path,
                 shard: int, shards: int) -> str:
    """What a sidecar's chunks depend on; a sidecar with another fingerprint is discarded."""
    s = asdict(settings)
    s.pop("shards")
    payload = {
        "settings": s, "shard": shard, "shards": shards, "supernet": _file_digest(supernet_path),
        "data_dir": str(Path(data_dir).resolve()), "configs": configs.write_json(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def shard_rows(configs: pl.DataFrame, shard: int, shards: int) -> pl.DataFrame:
    """The rows one shard measures: ``config_id % shards == shard``."""
    if shards < 1 or not 0 <= shard < shards:
        raise AccuracyError(f"shard={shard} must lie in 0..{shards - 1} for shards={shards}")
    return configs.filter(pl.col("config_id") % shards == shard)


def _open_parts(parts: Path, fingerprint: str, rows: int) -> None:
    """The chunk folder of a shard, kept when it holds chunks of the same rows and settings (a resumed run),
    emptied otherwise."""
    manifest = parts / "manifest.json"
    if parts.exists():
        try:
            same = json.loads(manifest.read_text()).get("fingerprint") == fingerprint
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        write_json({"fingerprint": fingerprint, "rows": rows}, manifest)


def _measure_chunks(measure: Callable[[pl.DataFrame], pl.DataFrame], mine: pl.DataFrame, parts: Path, chunk: int,
                    label: str, progress: bool | None) -> None:
    """Measure every chunk of ``mine`` not yet under ``parts``, each written as soon as it is measured."""
    from cimpipe.progress import StepLines, on_terminal, progress_bar

    starts = list(range(0, mine.height, chunk))
    done = [s for s in starts if (parts / f"chunk_{s // chunk:05d}.parquet").exists()]
    completed = sum(min(chunk, mine.height - s) for s in done)
    lines = StepLines(mine.height)
    with progress_bar(on_terminal() if progress is None else bool(progress)) as bar:
        task = bar.add_task(label, total=mine.height, completed=completed) if bar else None
        for s in starts:
            part = parts / f"chunk_{s // chunk:05d}.parquet"
            if part.exists():
                continue
            rows = mine.slice(s, chunk)
            write_parquet(measure(rows), part)
            completed += rows.height
            if bar:
                bar.advance(task, rows.height)
            else:
                lines(completed, f"{label}: {completed}/{mine.height} rows")


def build_table(supernet_path: str | Path, data_dir: str | Path, space: SearchSpace, settings: AccuracySettings,
                out_path: str | Path, *, shard: int = 0, shards: int = 1, progress: bool | None = None,
                device: str = "cpu") -> pl.DataFrame:
    """Measure this shard's rows of the accuracy table and write them to ``out_path`` (Parquet).

    Rows are measured in chunks of ``settings.chunk_rows``, each written atomically to
    ``out_path.with_suffix('.parts')/chunk_NNNNN.parquet``; a killed run started again skips the chunks
    already there, so the finished table is the same as an uninterrupted one. The sidecar is removed once
    ``out_path`` is in place. ``progress`` None shows a bar only on a terminal (a log gets a line at every
    10 % of the rows instead).
    """
    from cimpipe.data import load_prepared
    from cimpipe.train import load_supernet

    supernet_path, data_dir, out_path = Path(supernet_path), Path(data_dir), Path(out_path)
    if not supernet_path.is_file():
        raise AccuracyError(f"the supernet checkpoint {supernet_path} does not exist")
    configs = sample_configurations(space, settings.rows, settings.seed, settings)
    mine = shard_rows(configs, shard, shards)
    model, spec, _meta = load_supernet(supernet_path, device=device)
    if json.dumps(asdict(spec)) != json.dumps(asdict(space.spec)):
        raise AccuracyError(f"the supernet {supernet_path} was trained for another family than this search space")
    data = load_prepared(data_dir)

    parts = out_path.with_suffix(".parts")
    _open_parts(parts, _fingerprint(mine, settings, supernet_path, data_dir, shard, shards), mine.height)
    chunk = settings.chunk_rows
    starts = list(range(0, mine.height, chunk))
    _measure_chunks(lambda rows: measure_rows(model, spec, data, rows, settings, device), mine, parts, chunk,
                    f"accuracy table shard {shard}", progress)
    table = pl.concat([pl.read_parquet(parts / f"chunk_{s // chunk:05d}.parquet") for s in starts]) \
        if starts else measure_rows(model, spec, data, mine, settings, device)
    if table["config_id"].to_list() != mine["config_id"].to_list():
        raise AccuracyError(f"the chunks under {parts} do not match this table's rows; delete that folder")
    write_parquet(table, out_path)
    shutil.rmtree(parts, ignore_errors=True)
    return table


def merge_tables(paths: Iterable[str | Path], out_path: str | Path) -> pl.DataFrame:
    """Concatenate shard tables, sorted by ``config_id``; equals the table one unsharded job writes."""
    paths = [Path(p) for p in paths]
    frames = []
    for p in paths:
        if not p.is_file():
            raise AccuracyError(f"the accuracy table shard {p} does not exist")
        frames.append(pl.read_parquet(p))
    if not frames:
        raise AccuracyError("merge_tables needs at least one shard table")
    first = frames[0].columns
    for p, f in zip(paths, frames):
        if f.columns != first:
            raise AccuracyError(f"the accuracy table shard {p} has other columns than {paths[0]}")
    table = pl.concat(frames).sort("config_id")
    dup = table["config_id"].is_duplicated()
    if dup.any():
        raise AccuracyError(f"config_id {table['config_id'].filter(dup)[0]} appears in more than one shard")
    write_parquet(table, out_path)
    return table
