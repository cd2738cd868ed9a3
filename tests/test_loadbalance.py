"""Tests for the load balancer: latency and contribution formulas, Algorithm 1's optimizer, and the background loop."""

import time

import numpy as np
import pytest

from dsag_dask.latency.loadbalance import LoadBalancer, contribution, expected_latency, objective, optimize
from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.profiler import Profiler


def _model(comp_mean: list[float], p: float = 10.0, comm_mean: float = 0.01) -> LatencyModel:
    """Workers with the given compute means (cv 0.1) measured at load p, and small communication latency."""
    comp = np.asarray(comp_mean, dtype=float)
    n = comp.size
    return LatencyModel(np.full(n, comm_mean), np.full(n, (0.2 * comm_mean) ** 2), comp, (0.1 * comp) ** 2, np.full(n, p))


N_LOCAL = np.full(4, 1000)
P0 = np.full(4, 10)


def test_expected_latency_rescales_compute_only():
    model = LatencyModel([0.1, 0.2], [0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [10.0, 5.0])
    np.testing.assert_allclose(expected_latency(model, [20, 5]), [0.1 + 0.5, 0.2 + 2.0])
    assert objective(model, [20, 5]) == pytest.approx(2.2 / 0.6)
    with pytest.raises(ValueError):
        expected_latency(model, [0, 5])


def test_contribution_waiting_for_all_is_the_data_share():
    model = _model([2.0, 1.0, 1.0, 1.0])
    expected = np.sum(N_LOCAL / np.array([20, 10, 5, 5])) / N_LOCAL.sum()
    assert contribution(model, [20, 10, 5, 5], N_LOCAL, 4, 0) == pytest.approx(expected)


def test_contribution_of_identical_workers_counts_w_fresh_results():
    model = _model([1.0] * 4)
    assert contribution(model, P0, N_LOCAL, 3, 0, n_realisations=20) == pytest.approx(3 / 40, rel=0.02)


@pytest.mark.parametrize("w", [4, 3])
def test_slow_worker_gets_about_half_the_rows_per_task(w):
    model = _model([2.0, 1.0, 1.0, 1.0])
    h_min = contribution(model, P0, N_LOCAL, w, 0, n_realisations=200)
    p = optimize(model, P0, N_LOCAL, w, h_min, 1)
    ratio = p[0] / p[1:]
    assert np.all((ratio >= 1.6) & (ratio <= 2.5)), p
    assert objective(model, p) < 0.6 * objective(model, P0)
    h = contribution(model, p, N_LOCAL, w, 2, n_realisations=400)
    # waiting for all workers h is exact; otherwise the optimizer's 3×50-iteration estimates carry ~3 % noise
    assert h >= (0.99 if w == 4 else 0.95) * h_min


@pytest.mark.parametrize("w", [4, 3, 2])
def test_identical_workers_keep_their_load(w):
    model = _model([1.0] * 4)
    h_min = contribution(model, P0, N_LOCAL, w, 0, n_realisations=50)
    p = optimize(model, P0, N_LOCAL, w, h_min, 0)
    assert np.abs(p - P0).max() <= 1
    assert objective(model, p) == pytest.approx(1.0, abs=0.15)


def test_optimize_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    comp = rng.uniform(0.5, 1.5, 8)
    model = LatencyModel(np.full(8, 0.02), np.full(8, 1e-4), comp, (0.2 * comp) ** 2, np.full(8, 50.0))
    p0, n_local = np.full(8, 50), np.full(8, 5000)
    h_min = contribution(model, p0, n_local, 5, 0, n_realisations=12)
    first = optimize(model, p0, n_local, 5, h_min, 7)
    np.testing.assert_array_equal(first, optimize(model, p0, n_local, 5, h_min, np.random.default_rng(7)))
    assert objective(model, first) < objective(model, p0)


@pytest.mark.parametrize("seed", range(6))
def test_optimize_stays_within_bounds(seed):
    rng = np.random.default_rng(seed)
    n = 6
    n_local = rng.integers(1, 40, n)
    p = rng.integers(1, n_local + 1)
    comp = rng.uniform(0.0, 2.0, n) * (rng.random(n) < 0.8)
    comm = rng.uniform(0.0, 1.0, n)
    model = LatencyModel(comm, 0.1 * comm**2, comp, 0.1 * comp**2, rng.uniform(1, 50, n))
    w = int(rng.integers(1, n + 1))
    h_min = contribution(model, p, n_local, w, 0, n_realisations=6)
    result = optimize(model, p, n_local, w, h_min, seed)
    assert result.dtype.kind == "i" and result.shape == (n,)
    assert np.all((result >= 1) & (result <= n_local)), (result, n_local)


def test_optimize_rejects_invalid_loads():
    model = _model([1.0] * 4)
    with pytest.raises(ValueError):
        optimize(model, [10, 10, 10, 1001], N_LOCAL, 4, 0.1, 0)
    with pytest.raises(ValueError):
        optimize(model, [10, 10, 10, 0], N_LOCAL, 4, 0.1, 0)
    with pytest.raises(ValueError):
        optimize(model, [10, 10, 10], N_LOCAL, 4, 0.1, 0)


def test_time_limit_returns_best_feasible_so_far():
    model = _model([2.0, 1.0, 1.0, 1.0])
    h_min = contribution(model, P0, N_LOCAL, 4, 0)
    # with no time left, only the equalised start is checked: it is feasible, so it is returned
    np.testing.assert_array_equal(optimize(model, P0, N_LOCAL, 4, h_min, 0, time_limit_s=0.0), [10, 5, 5, 5])


def test_time_limit_bounds_a_large_search():
    rng = np.random.default_rng(0)
    n = 100
    comp = rng.uniform(0.5, 1.5, n)
    model = LatencyModel(np.full(n, 0.01), np.full(n, 1e-5), comp, (0.2 * comp) ** 2, np.full(n, 1000.0))
    p0, n_local = np.full(n, 1000), np.full(n, 10**6)
    h_min = contribution(model, p0, n_local, 50, 0, n_realisations=6)
    tic = time.perf_counter()
    p = optimize(model, p0, n_local, 50, h_min, 0, time_limit_s=0.1)
    assert time.perf_counter() - tic < 2.0  # the limit plus at most a couple of simulations, with slack for load
    assert np.all((p >= 1) & (p <= n_local))
    assert objective(model, p) < objective(model, p0)


def _feed(profiler: Profiler, comp_means: list[float], p: int, n_samples: int = 30) -> None:
    """Record `n_samples` tasks per worker over 9 s with the given mean compute times at load p."""
    rng = np.random.default_rng(0)
    for k in range(n_samples):
        for worker, mean in enumerate(comp_means):
            compute = mean * rng.uniform(0.9, 1.1)
            profiler.record(worker, 9.0 * k / n_samples, compute, compute + 0.01, p)


def _wait_for_proposal(balancer: LoadBalancer, timeout_s: float = 20.0) -> np.ndarray | None:
    """Poll the balancer as a coordinator would, until a proposal arrives or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        proposal = balancer.take_proposal()
        if proposal is not None:
            return proposal
        time.sleep(0.02)
    return None


def test_balancer_thread_relieves_the_slow_worker():
    profiler = Profiler(4)
    _feed(profiler, [2.0, 1.0, 1.0, 1.0], 10)
    balancer = LoadBalancer(profiler, N_LOCAL, 3, P0, seed=0)
    balancer.start()
    try:
        proposal = _wait_for_proposal(balancer)
    finally:
        balancer.stop()
    assert proposal is not None
    assert int(np.argmax(proposal)) == 0 and proposal[0] > proposal[1:].max()
    assert balancer.take_proposal() is None
    assert not balancer._thread.is_alive()
    event = balancer.events[0]
    assert set(event) == {"time_s", "p_old", "p_new", "objective_old", "objective_new", "h_min", "h_new", "optimise_s"}
    np.testing.assert_array_equal(event["p_old"], P0)
    np.testing.assert_array_equal(event["p_new"], proposal)
    assert event["objective_new"] < 0.9 * event["objective_old"]


def test_balancer_waits_for_statistics_and_keeps_balanced_loads():
    profiler = Profiler(4)
    _feed(profiler, [1.0, 1.0, 1.0], 10)  # worker 3 has no samples yet
    balancer = LoadBalancer(profiler, N_LOCAL, 3, P0, clock=lambda: 9.0)
    balancer.start()
    time.sleep(0.2)
    assert balancer.take_proposal() is None
    _feed(profiler, [1.0, 1.0, 1.0, 1.0], 10)
    time.sleep(0.3)
    balancer.stop()
    assert balancer.take_proposal() is None and balancer.events == []


def test_balancer_validates_its_inputs():
    profiler = Profiler(4)
    with pytest.raises(ValueError):
        LoadBalancer(profiler, N_LOCAL, 5, P0)
    with pytest.raises(ValueError):
        LoadBalancer(profiler, N_LOCAL, 3, [10, 10, 10, 2000])
    balancer = LoadBalancer(profiler, N_LOCAL, 3, P0)
    with pytest.raises(ValueError):
        balancer.set_current([10, 10, 10])
    balancer.set_current([10, 12, 14, 16])
    balancer.stop()
