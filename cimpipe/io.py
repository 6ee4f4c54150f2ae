"""The one way the package writes a file: whole or not at all, with the permissions the umask gives.

Every output is written to a temporary name in its own folder and renamed over the target, so a killed job
never leaves a half-written table for Snakemake (or a resumed job) to trust. :func:`tempfile.mkstemp`
creates the temporary file with mode 0600, which the rename would carry to the output; the file gets the
mode a plain ``open`` would have given it (``0666`` less the umask) before the rename.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path`` (folders made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_parquet(frame, path: str | os.PathLike) -> Path:
    """A polars DataFrame to Parquet."""
    return atomic_write(path, frame.write_parquet)


def write_json(value: Any, path: str | os.PathLike, **dumps: Any) -> Path:
    """``value`` as JSON text (``dumps`` go to :func:`json.dumps`, e.g. ``indent``), newline-terminated."""
    text = json.dumps(value, **dumps) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_text(text: str, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_torch(obj: Any, path: str | os.PathLike) -> Path:
    """``obj`` with :func:`torch.save`."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
