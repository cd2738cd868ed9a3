"""Tests for Monte Carlo order statistics against closed forms and invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.orderstats import order_statistic_quantiles, order_statistics


def _exponential(n_workers: int) -> LatencyModel:
    zeros = np.zeros(n_workers)
    return LatencyModel(zeros, zeros, np.ones(n_workers), np.ones(n_workers), np.ones(n_workers))


def test_iid_exponential_closed_form():
    n, n_samples = 6, 40_000
    estimate = order_statistics(_exponential(n), n_samples, np.random.default_rng(0))
    for w in range(1, n + 1):
        j = np.arange(n - w + 1, n + 1)
        expected = np.sum(1.0 / j)
        standard_error = np.sqrt(np.sum(1.0 / j**2) / n_samples)
        assert abs(estimate[w - 1] - expected) < 5 * standard_error


def test_deterministic_model_gives_sorted_means():
    zeros = np.zeros(4)
    model = LatencyModel(zeros + 0.5, zeros, [3.0, 1.0, 4.0, 2.0], zeros, np.ones(4))
    np.testing.assert_allclose(order_statistics(model, 10), [1.5, 2.5, 3.5, 4.5])


def test_quantiles_shape_and_median_of_exponential_minimum():
    model = _exponential(3)
    quantiles = order_statistic_quantiles(model, [0.25, 0.5], 40_000, np.random.default_rng(1))
    assert quantiles.shape == (2, 3)
    assert quantiles[1, 0] == pytest.approx(np.log(2) / 3, rel=0.03)
    assert np.all(np.diff(quantiles, axis=0) >= 0)


def test_seeded_results_are_reproducible_and_n_samples_validated():
    model = _exponential(3)
    np.testing.assert_array_equal(order_statistics(model, 100, 7), order_statistics(model, 100, 7))
    with pytest.raises(ValueError):
        order_statistics(model, 0)


@settings(max_examples=30, deadline=None)
@given(
    means=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=8),
    cv=st.floats(0.0, 2.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_order_statistics_non_decreasing_in_w(means, cv, seed):
    means = np.asarray(means)
    model = LatencyModel(means * 0.1, (cv * means * 0.1) ** 2, means, (cv * means) ** 2, np.ones(means.size))
    values = order_statistics(model, 200, np.random.default_rng(seed))
    assert values.shape == (means.size,)
    assert np.all(np.diff(values) >= -1e-12 * values[-1])
