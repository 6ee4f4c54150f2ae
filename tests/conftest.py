"""Shared test settings."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The tests' tensors are tiny: one torch thread is faster than two that contend with other work on a
    2-core machine (the workflow does the same per job, see cimpipe.stages.run.run_stage)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def digits_dataset(n_train: int, n_val: int, n_test: int):
    """Consecutive slices of scikit-learn's digits (train, validation, test) as the prepared-dataset value the
    pipeline passes around, normalised with the training slice's statistics."""
    import numpy as np
    from sklearn.datasets import load_digits

    from cimpipe.data import PreparedDataset

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.int64)
    x = images / 255.0
    a, b, c = n_train, n_train + n_val, n_train + n_val + n_test
    return PreparedDataset(
        train_x=images[:a], train_y=labels[:a], val_x=images[a:b], val_y=labels[a:b],
        test_x=images[b:c], test_y=labels[b:c], num_classes=10, channels=1, image_size=8,
        mean=(float(x[:a].mean()),), std=(float(x[:a].std()),), class_names=tuple(str(i) for i in range(10)),
    )


@pytest.fixture(scope="session")
def neurosim_cache(tmp_path_factory):
    """One NeuroSim build cache for the session: the checkout's full build is made once (about 20 s)."""
    return tmp_path_factory.mktemp("neurosim-cache")
