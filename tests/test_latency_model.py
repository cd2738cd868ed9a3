"""Tests for the gamma latency model, its load scaling, i.i.d. pooling, history fit and burst chain."""

import pickle

import numpy as np
import pytest
import xarray as xr

from dsag_dask.latency.model import BurstModel, LatencyModel, gamma_params


def _model() -> LatencyModel:
    return LatencyModel(
        comm_mean=[0.1, 0.2, 0.05],
        comm_var=[0.001, 0.004, 0.0],
        comp_mean=[1.0, 2.0, 0.5],
        comp_var=[0.04, 0.1, 0.01],
        p=[10, 20, 5],
    )


def test_gamma_params_values_and_vectorised():
    shape, scale = gamma_params([2.0, 1.0], [1.0, 4.0])
    np.testing.assert_allclose(shape, [4.0, 0.25])
    np.testing.assert_allclose(scale, [0.5, 4.0])


@pytest.mark.parametrize("mean, var", [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (1.0, -2.0), (np.nan, 1.0)])
def test_gamma_params_rejects_non_positive(mean, var):
    with pytest.raises(ValueError, match="positive"):
        gamma_params(mean, var)


def test_sample_moments_match_model():
    model = _model()
    samples = model.sample(np.random.default_rng(1), 200_000)
    assert samples.shape == (200_000, 3)
    total_var = model.comm_var + model.comp_var
    np.testing.assert_allclose(samples.mean(axis=0), model.mean_latency(), rtol=5e-3)
    np.testing.assert_allclose(samples.var(axis=0), total_var, rtol=3e-2)


def test_zero_variance_is_deterministic():
    model = LatencyModel([0.0, 0.5], [0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [1, 1])
    samples = model.sample(np.random.default_rng(0), 4)
    np.testing.assert_array_equal(samples, np.tile([1.0, 2.5], (4, 1)))


def test_partially_deterministic_columns():
    model = LatencyModel([0.0, 0.5], [0.0, 0.01], [1.0, 2.0], [0.0, 0.1], [1, 1])
    samples = model.sample(np.random.default_rng(0), 1000)
    np.testing.assert_array_equal(samples[:, 0], 1.0)
    assert samples[:, 1].std() > 0


def test_model_validation():
    with pytest.raises(ValueError, match="shape"):
        LatencyModel([1.0, 1.0], [1.0], [1.0, 1.0], [1.0, 1.0], [1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        LatencyModel([-1.0], [1.0], [1.0], [1.0], [1])
    with pytest.raises(ValueError, match="p must be positive"):
        LatencyModel([1.0], [1.0], [1.0], [1.0], [0])
    with pytest.raises(ValueError, match="zero mean"):
        LatencyModel([0.0], [1.0], [1.0], [1.0], [1])


def test_with_load_linearisation():
    model = _model()
    scaled = model.with_load([20, 10, 5])
    np.testing.assert_allclose(scaled.comp_mean, [0.5, 4.0, 0.5])
    np.testing.assert_allclose(scaled.comp_var, [0.01, 0.4, 0.01])
    np.testing.assert_array_equal(scaled.comm_mean, model.comm_mean)
    np.testing.assert_array_equal(scaled.comm_var, model.comm_var)
    np.testing.assert_array_equal(scaled.p, [20, 10, 5])
    np.testing.assert_array_equal(model.p, [10, 20, 5])
    with pytest.raises(ValueError):
        model.with_load([0, 1, 1])


def test_iid_pools_total_mean_and_variance():
    model = _model()
    pooled = model.sample(np.random.default_rng(2), 100_000).reshape(-1)
    iid = model.iid()
    assert iid.n_workers == 3
    total_mean = iid.mean_latency()
    total_var = iid.comm_var + iid.comp_var
    np.testing.assert_allclose(total_mean, pooled.mean(), rtol=5e-3)
    np.testing.assert_allclose(total_var, pooled.var(), rtol=3e-2)
    share = model.comm_mean.mean() / model.mean_latency().mean()
    np.testing.assert_allclose(iid.comm_mean / total_mean, share)
    np.testing.assert_allclose(iid.comm_var / total_var, share)


def _history(rows, n_workers):
    worker, sent, received, compute, p = map(np.asarray, zip(*rows))
    return xr.Dataset(
        {
            "result_worker": ("result", worker.astype(int)),
            "result_sent_s": ("result", sent.astype(float)),
            "result_received_s": ("result", received.astype(float)),
            "result_compute_s": ("result", compute.astype(float)),
            "result_p": ("result", p.astype(int)),
            "result_fresh": ("result", np.ones(len(rows), dtype=np.int8)),
        },
        attrs={"n_workers": n_workers},
    )


def test_from_history_fits_per_worker_moments_in_window():
    rows = [
        (0, 0.0, 1.0, 0.8, 4),
        (0, 1.0, 2.5, 1.0, 4),
        (1, 0.0, 2.0, 1.0, 2),
        (1, 2.0, 3.0, 0.5, 2),
        (1, 3.0, 4.0, 1.5, 6),
        (0, 9.0, 10.0, 5.0, 4),
    ]
    model = LatencyModel.from_history(_history(rows, 2), start_s=0.5, stop_s=10.0)
    np.testing.assert_allclose(model.comm_mean, [0.35, (1.0 + 0.5 + 0.0) / 3])
    np.testing.assert_allclose(model.comm_var, [np.var([0.2, 0.5], ddof=1), np.var([1.0, 0.5, 0.0], ddof=1)])
    np.testing.assert_allclose(model.comp_mean, [0.9, 1.0])
    np.testing.assert_allclose(model.comp_var, [np.var([0.8, 1.0], ddof=1), np.var([1.0, 0.5, 1.5], ddof=1)])
    np.testing.assert_allclose(model.p, [4, 10 / 3])


def test_from_history_without_window_uses_everything_and_single_sample_has_zero_variance():
    rows = [(0, 0.0, 1.0, 0.8, 4), (1, 0.0, 2.0, 1.0, 2)]
    model = LatencyModel.from_history(_history(rows, 2))
    np.testing.assert_allclose(model.comp_mean, [0.8, 1.0])
    np.testing.assert_array_equal(model.comp_var, [0.0, 0.0])


def test_from_history_missing_worker_is_an_error():
    rows = [(0, 0.0, 1.0, 0.8, 4), (1, 0.0, 20.0, 1.0, 2)]
    with pytest.raises(ValueError, match=r"workers \[1\]"):
        LatencyModel.from_history(_history(rows, 2), stop_s=10.0)


def test_burst_path_is_deterministic_and_query_order_independent():
    times = np.arange(0, 200_000, 7.0)
    whole = BurstModel(seed=3).state(5, times)
    piecewise = BurstModel(seed=3)
    parts = np.concatenate([piecewise.state(5, chunk) for chunk in np.array_split(times, 17)])
    np.testing.assert_array_equal(whole, parts)
    assert not np.array_equal(whole, BurstModel(seed=4).state(5, times))
    assert not np.array_equal(whole, BurstModel(seed=3).state(6, times))
    assert set(np.unique(whole)) <= {0, 1}


def test_burst_state_is_constant_within_a_step():
    model = BurstModel(step_s=10.0)
    states = model.state(0, np.arange(0, 100_000, 1.0)).reshape(-1, 10)
    assert np.all(states == states[:, :1])


def test_burst_chain_statistics_match_transition_matrix():
    model = BurstModel(seed=1)
    paths = np.stack([model.state(worker, np.arange(100_000) * model.step_s) for worker in range(20)])
    before, after = paths[:, :-1].ravel(), paths[:, 1:].ravel()
    p01 = np.mean(after[before == 0] == 1)
    p10 = np.mean(after[before == 1] == 0)
    assert p01 == pytest.approx(0.011, rel=0.05)
    assert p10 == pytest.approx(0.286, rel=0.05)
    assert paths.mean() == pytest.approx(0.011 / (0.011 + 0.286), rel=0.1)


def test_burst_factor_and_pickle():
    model = BurstModel(slow_factor=1.5, seed=2)
    times = np.arange(0, 50_000, 10.0)
    factors = model.factor(0, times)
    np.testing.assert_array_equal(factors, np.where(model.state(0, times) == 1, 1.5, 1.0))
    clone = pickle.loads(pickle.dumps(model))
    assert clone == model
    assert clone._paths == {}
    np.testing.assert_array_equal(clone.factor(0, times), factors)
    assert model.state(0, -5.0) == model.state(0, 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"step_s": 0.0},
        {"transition": ((0.5, 0.4), (0.5, 0.5))},
        {"transition": ((1.0, 0.0), (0.5, 0.5))},
        {"seed": -1},
    ],
)
def test_burst_validation(kwargs):
    with pytest.raises(ValueError):
        BurstModel(**kwargs)
