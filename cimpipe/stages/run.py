"""Running a stage inside a rule's job: its output to the rule's log, a user's error as one sentence."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

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
