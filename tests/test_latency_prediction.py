"""Latency predictions: order statistics and iterative simulation, per-worker vs i.i.d. model."""
import numpy as np
import pytest
import xarray as xr

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.prediction import prediction_table, validate_on_history


def _model():
    zeros = np.zeros(4)
    return LatencyModel(zeros + 0.1, zeros + 0.001, np.array([1.0, 1.5, 2.0, 4.0]),
                        np.array([0.01, 0.02, 0.04, 0.1]), np.ones(4))


def test_prediction_table():
    table = prediction_table(_model(), n_samples=5000, seed=0)
    assert table["w"].tolist() == [1, 2, 3, 4]
    for column in ["order_stat_per_worker_s", "order_stat_iid_s", "simulated_per_worker_s"]:
        assert table[column].is_monotonic_increasing
    assert table["order_stat_per_worker_s"].iloc[-1] == pytest.approx(4.1, rel=0.05)
    # the i.i.d. model misses that one worker is always the slowest
    assert table["order_stat_iid_s"].iloc[-1] < table["order_stat_per_worker_s"].iloc[-1]
    # waiting for all: the iterative simulation equals the N-th order statistic
    assert table["simulated_per_worker_s"].iloc[-1] == pytest.approx(
        table["order_stat_per_worker_s"].iloc[-1], rel=0.05)


def _history(latencies, n_iter=400, seed=1):
    """A run where worker i always takes latencies[i] (+ noise) and the coordinator waits for all."""
    rng = np.random.default_rng(seed)
    n = len(latencies)
    lat = np.asarray(latencies)[None, :] * (1 + 0.05 * rng.standard_normal((n_iter, n)))
    per_iter = lat.max(axis=1)
    ends = np.cumsum(per_iter)
    starts = ends - per_iter
    sent = np.repeat(starts, n)
    received = (starts[:, None] + lat).ravel()
    return xr.Dataset(
        {"time_s": ("iteration", ends), "latency_s": ("iteration", per_iter),
         "result_worker": ("result", np.tile(np.arange(n), n_iter)),
         "result_sent_s": ("result", sent), "result_received_s": ("result", received),
         "result_compute_s": ("result", 0.9 * (received - sent)),
         "result_p": ("result", np.ones(n * n_iter))},
        attrs={"w": n, "n_workers": n})


def test_validate_on_history_predicts_the_rest_of_a_run():
    report = validate_on_history(_history([1.0, 1.1, 1.2, 2.0]), fit_fraction=0.5)
    assert report["error_per_worker_model"] < 0.03
    assert report["error_iid_model"] > report["error_per_worker_model"]
    with pytest.raises(ValueError, match="warmup_fraction < fit_fraction"):
        validate_on_history(_history([1.0, 2.0]), fit_fraction=1.0)
