"""The workflow's stages as plain functions of paths and config slices.

Each rule's script (``workflow/scripts/*.py``) unpacks the Snakemake object and calls one function here
through :func:`run_stage`, which sends the stage's output to the rule's log and turns an error the user
caused (config, data, paths) into one sentence instead of a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger("cimpipe")


def _is_user_error(err: BaseException) -> bool:
    """Errors whose message is a sentence for the user: the package's ValueError subclasses, missing files."""
    if isinstance(err, FileNotFoundError):
        return True
    return isinstance(err, ValueError) and type(err).__module__.startswith("cimpipe")


def run_stage(log_path: str | os.PathLike, fn: Callable[..., Any], *, threads: int = 1, **kwargs: Any) -> Any:
    """Run ``fn(**kwargs)`` with stdout/stderr and logging sent to ``log_path``, on ``threads`` torch threads.

    A user error is written as one line to the log and to the terminal, and the process exits with
    status 1; any other exception keeps its traceback in the log. Torch is held to the job's thread count:
    its default (every core) makes parallel jobs fight over the same cores.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.__stderr__
    with open(log_path, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        start = time.perf_counter()
        try:
            result = fn(**kwargs)
        except BaseException as err:  # noqa: BLE001 - reported, then re-raised or turned into exit 1
            if _is_user_error(err):
                message = f"cimpipe: {err}"
                print(message, file=fh)
                print(message, file=terminal)
                raise SystemExit(1) from None
            traceback.print_exc(file=fh)
            raise
        finally:
            root.removeHandler(handler)
        log.info("stage %s finished in %.1f s", fn.__name__, time.perf_counter() - start)
        print(f"{fn.__name__} finished in {time.perf_counter() - start:.1f} s", file=fh)
    return result


def _atomic_json(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(path)


# --------------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------------


def prepare_data(dataset: str, entry: dict, out_dir: str) -> None:
    from cimpipe.data import prepare_dataset

    prepare_dataset(dataset, dict(entry), Path(out_dir))


def hw_cost(tech: str, entry: dict, grid: dict, out_path: str) -> None:
    """Characterize every hardware option of the grid under one technology (``results/hwcost/{tech}.parquet``)."""
    from cimpipe.hw import HardwareGrid, Technology, characterize

    technology = Technology.from_config(tech, dict(entry))
    knobs = {k: tuple(v) for k, v in grid.items() if k in HardwareGrid.__dataclass_fields__}
    table = characterize(technology, HardwareGrid(**knobs))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.write_parquet(tmp)
    tmp.replace(out)
    feasible = int(table["feasible"].sum())
    print(f"{tech}: {table.height} hardware options characterized, {feasible} feasible")
