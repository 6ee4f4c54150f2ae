"""Dominance, normalization and hypervolume on hand-checkable point sets."""

import numpy as np
import pytest

from cimpipe.pareto import Normalizer, ParetoArchive, hypervolume, non_dominated, to_losses


def test_non_dominated_keeps_the_front_and_one_of_each_duplicate():
    pts = np.array([[1, 3], [2, 2], [3, 1], [2, 3], [1, 3], [3, 3]], dtype=float)
    np.testing.assert_array_equal(non_dominated(pts), [True, True, True, False, False, False])


def test_hypervolume_of_known_boxes_and_points_outside():
    assert hypervolume(np.array([[0.0, 0.0]]), ref=1.0) == pytest.approx(1.0)
    assert hypervolume(np.array([[0.5, 0.0], [0.0, 0.5]]), ref=1.0) == pytest.approx(0.75)
    # a point beyond the reference box adds nothing and never makes the value negative
    assert hypervolume(np.array([[0.5, 0.0], [2.0, -1.0]]), ref=1.0) == pytest.approx(0.5)
    assert hypervolume(np.zeros((0, 3))) == 0.0


def test_losses_negate_maximized_and_log_scale_costs():
    vals = np.array([[0.9, 100.0], [0.8, 10.0]])
    np.testing.assert_allclose(to_losses(vals, [True, False], [False, True]), [[-0.9, 2.0], [-0.8, 1.0]])


def test_normalizer_maps_the_sample_onto_the_unit_box():
    x = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, np.nan]])
    n = Normalizer.from_losses(x)
    np.testing.assert_allclose(n(x[:2]), [[0, 0], [1, 1]])


def test_archive_hypervolume_never_decreases():
    rng = np.random.default_rng(0)
    arch, last = ParetoArchive(3), 0.0
    for i in range(20):
        batch = rng.random((50, 3))
        arch.add(batch, np.arange(50) + 50 * i)
        hv = arch.hypervolume()
        assert hv >= last - 1e-12
        last = hv
    assert non_dominated(arch.points).all() and len(arch.rows) == len(arch.points)
