"""Tests for the event-driven iteration simulator: hand-computed event sequences, invariants and speed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.simulator import bench_simulator, simulate, simulate_latencies


def _reference(latencies: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Scalar re-statement of the semantics for one realisation, used as an oracle."""
    n_iterations, n_workers = latencies.shape
    busy_until = [0.0] * n_workers
    tasks_run = [0] * n_workers
    fresh = [0] * n_workers
    start, times = 0.0, []
    for _ in range(n_iterations):
        started = {}
        for i in range(n_workers):
            if busy_until[i] <= start:
                busy_until[i] = start + latencies[tasks_run[i], i]
                tasks_run[i] += 1
                started[i] = busy_until[i]
        end = sorted(started.values())[w - 1]
        for i, finish in started.items():
            fresh[i] += finish <= end
        times.append(end)
        start = end
    return np.array(times), np.array(fresh)


def test_hand_computed_sequence_with_stale_worker():
    # worker 2's first task (5 s) spans iterations 1-3; it is stale, idle at 5 < 6, and fresh again in iteration 4
    latencies = np.array([[[1, 2, 5], [1, 2, 1], [1, 2, 1], [1, 2, 1]]], dtype=float)
    result = simulate_latencies(latencies, w=2)
    np.testing.assert_array_equal(result.iteration_times, [[2, 4, 6, 7]])
    np.testing.assert_array_equal(result.fresh, [[4, 3, 1]])
    np.testing.assert_allclose(result.fresh_fraction, [1.0, 0.75, 0.25])
    assert result.n_iterations == 4
    assert result.mean_iteration_time() == pytest.approx(7 / 4)


def test_straggler_misses_iterations_until_idle_at_an_iteration_start():
    latencies = np.ones((1, 12, 3))
    latencies[0, :, 2] = 10.0
    result = simulate_latencies(latencies, w=2)
    np.testing.assert_array_equal(result.iteration_times[0], np.arange(1, 13))
    # worker 2 is busy until 10 and 20: it starts tasks at iterations 1 and 11, and never delivers fresh results
    np.testing.assert_array_equal(result.fresh, [[12, 12, 0]])


def test_worker_busy_past_iteration_start_gets_no_task():
    # worker 1 finishes its first task at 1.5, during iteration 2 (1, 2]: stale, and idle until iteration 3 at 2
    latencies = np.array([[[1, 1.5], [1, 0.1], [1, 0.1]]])
    result = simulate_latencies(latencies, w=1)
    np.testing.assert_array_equal(result.iteration_times, [[1, 2, 2.1]])
    np.testing.assert_array_equal(result.fresh, [[2, 1]])


def test_ties_at_the_iteration_end_are_all_fresh_but_old_tasks_stay_stale():
    # both fast workers tie at each end; worker 2's first task also ends at 3, but it belongs to iteration 1
    latencies = np.array([[[1, 1, 3], [2, 2, 3]]], dtype=float)
    result = simulate_latencies(latencies, w=1)
    np.testing.assert_array_equal(result.iteration_times, [[1, 3]])
    np.testing.assert_array_equal(result.fresh, [[2, 2, 0]])


def test_realisations_run_independently_in_lock_step():
    first = np.array([[1, 2, 5], [1, 2, 1], [1, 2, 1], [1, 2, 1]], dtype=float)
    second = np.array([[3, 1, 1], [3, 1, 1], [3, 1, 1], [3, 1, 1]], dtype=float)
    result = simulate_latencies(np.stack([first, second]), w=2)
    np.testing.assert_array_equal(result.iteration_times, [[2, 4, 6, 7], [1, 2, 3, 4]])
    np.testing.assert_array_equal(result.fresh, [[4, 3, 1], [0, 4, 4]])
    np.testing.assert_allclose(result.fresh_fraction, [0.5, 7 / 8, 5 / 8])


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 6)),
)
def test_matches_scalar_reference_and_invariants(data, shape):
    latencies = data.draw(hnp.arrays(float, shape, elements=st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 7.0])))
    w = data.draw(st.integers(1, shape[2]))
    result = simulate_latencies(latencies, w)
    for r in range(shape[0]):
        times, fresh = _reference(latencies[r], w)
        np.testing.assert_array_equal(result.iteration_times[r], times)
        np.testing.assert_array_equal(result.fresh[r], fresh)
    assert np.all(np.diff(result.iteration_times, axis=1) >= 0)
    assert np.all(result.fresh.sum(axis=1) >= w * shape[1])
    assert np.all(result.fresh <= shape[1])


def _model(means, cv=0.1):
    means = np.asarray(means, dtype=float)
    return LatencyModel(means * 0.01, (cv * means * 0.01) ** 2, means, (cv * means) ** 2, np.ones(means.size))


def test_much_slower_worker_is_almost_never_fresh():
    result = simulate(_model([1.0] * 9 + [20.0]), w=5, n_iterations=200, n_realisations=20, rng=0)
    u = result.fresh_fraction
    assert u[-1] < 0.01
    assert np.all(u[:-1] > 0.3)
    assert np.all(np.diff(result.iteration_times, axis=1) > 0)


def test_waiting_for_all_workers_makes_every_result_fresh():
    result = simulate(_model([1.0, 2.0, 5.0]), w=3, n_iterations=50, n_realisations=4, rng=1)
    np.testing.assert_array_equal(result.fresh_fraction, 1.0)


def test_deterministic_model_gives_exact_times():
    zeros = np.zeros(4)
    model = LatencyModel(zeros, zeros, [1.0, 1.0, 1.0, 2.5], zeros, np.ones(4))
    result = simulate(model, w=2, n_iterations=5, n_realisations=3)
    np.testing.assert_array_equal(result.iteration_times, np.tile([1, 2, 3, 4, 5], (3, 1)))
    np.testing.assert_array_equal(result.fresh_fraction, [1, 1, 1, 0])


def test_load_vector_rescales_the_model_and_seed_reproduces():
    model = _model([1.0, 2.0, 3.0])
    p = np.array([1.0, 2.0, 3.0])
    direct = simulate(model.with_load(p), 2, 30, 5, rng=3)
    via_p = simulate(model, 2, 30, 5, rng=3, p=p)
    np.testing.assert_array_equal(direct.iteration_times, via_p.iteration_times)
    np.testing.assert_array_equal(direct.fresh, via_p.fresh)
    assert via_p.iteration_times[:, -1].mean() < simulate(model, 2, 30, 5, rng=3).iteration_times[:, -1].mean()


def test_many_iterations_span_several_sample_blocks():
    zeros = np.zeros(2)
    model = LatencyModel(zeros, zeros, [1.0, 3.0], zeros, np.ones(2))
    result = simulate(model, w=1, n_iterations=70_000, n_realisations=1)
    assert result.iteration_times[0, -1] == pytest.approx(70_000)
    assert result.fresh[0, 1] == 0


def test_argument_validation():
    with pytest.raises(ValueError, match="w must"):
        simulate(_model([1.0, 1.0]), w=3, n_iterations=1)
    with pytest.raises(ValueError, match="w must"):
        simulate_latencies(np.ones((1, 1, 2)), w=0)
    with pytest.raises(ValueError, match="shape"):
        simulate_latencies(np.ones((3, 2)), w=1)
    with pytest.raises(ValueError, match="non-negative"):
        simulate_latencies(-np.ones((1, 1, 2)), w=1)
    with pytest.raises(ValueError, match="at least 1"):
        simulate(_model([1.0]), w=1, n_iterations=0)


def test_bench_reports_both_sizes():
    report = bench_simulator(n_realisations=2, n_iterations=10, repeats=1)
    assert set(report) == {"ms_per_100_iterations_n100_w50", "ms_per_100_iterations_n1000_w500"}
    assert all(value > 0 for value in report.values())
