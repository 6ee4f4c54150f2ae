"""Shared test settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The tests' tensors are tiny: one torch thread is faster than two that contend with other work on a
    2-core machine (the workflow does the same per job, see cimpipe.stages.run_stage)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
