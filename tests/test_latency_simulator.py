"""Tests for the event-driven iteration simulator: hand-computed event sequences, invariants and speed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.simulator import bench_simulator, simulate, simulate_latencies


def _reference(latencies: np.ndarray, w: int, n_iterations: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scalar event-by-event re-statement of the semantics for one realisation (K, N), used as an oracle."""
    n_samples, n_workers = latencies.shape
    used = [0] * n_workers
    # each worker's current (or last) task: [started, finishes, iteration, sent after a stale result]
    task = [[0.0, 0.0, -1, False] for _ in range(n_workers)]
    fresh = [0] * n_workers
    start, times = 0.0, []

    def send(i: int, at: float, t: int, resent: bool) -> None:
        task[i] = [at, at + latencies[used[i], i], t, resent]
        used[i] += 1

    for t in range(n_samples if n_iterations is None else n_iterations):
        for i in range(n_workers):
            if task[i][1] <= start:
                send(i, start, t, False)
        pending, received = set(range(n_workers)), 0
        while received < w:
            now = min(task[i][1] for i in pending)
            while True:  # every event at `now`, including tasks re-sent at `now` that take no time
                batch = [i for i in pending if task[i][1] == now]
                if not batch:
                    break
                for i in batch:
                    pending.discard(i)
                    if task[i][2] == t:
                        fresh[i] += 1
                        received += 1
                    else:  # stale, and fewer than w fresh results arrived before `now`: re-send iterate t
                        send(i, now, t, True)
                        pending.add(i)
        for i in range(n_workers):  # a stale worker finishing exactly at the end is idle at the next start
            started, finishes, iteration, resent = task[i]
            if resent and iteration == t and started == now < finishes:
                task[i] = [started, started, t - 1, False]
                used[i] -= 1
        times.append(now)
        start = now
    return np.array(times), np.array(fresh)


def test_hand_computed_sequence_with_stale_worker():
    # worker 2's first task (5 s) spans iterations 1-3: it delivers stale at 5 during iteration 3 (4, 6], is
    # re-sent iterate 3 and finishes it at 6, tying the end (fresh); iteration 4 starts it again from idle
    latencies = np.array([[[1, 2, 5], [1, 2, 1], [1, 2, 1], [1, 2, 1]]], dtype=float)
    result = simulate_latencies(latencies, w=2)
    np.testing.assert_array_equal(result.iteration_times, [[2, 4, 6, 7]])
    np.testing.assert_array_equal(result.fresh, [[4, 3, 2]])
    np.testing.assert_allclose(result.fresh_fraction, [1.0, 0.75, 0.5])
    assert result.n_iterations == 4
    assert result.mean_iteration_time() == pytest.approx(7 / 4)


def test_slow_worker_is_resent_the_current_iterate_after_a_stale_result_and_delivers_fresh():
    # N=3, w=1. Iteration 1 ends at 1 (workers 0, 1 fresh); worker 2 is busy until 1.5.
    # Iteration 2 (from 1): workers 0, 1 run until 4; worker 2 delivers stale at 1.5, is re-sent iterate 2,
    # finishes at 2 and ends the iteration with the only fresh result.
    # Iteration 3 (from 2): worker 2 is idle and runs until 6; workers 0, 1 deliver stale at 4, are re-sent
    # iterate 3 and finish at 5 and 6: worker 0 ends the iteration at 5.
    latencies = np.array([[[1, 1, 1.5], [3, 3, 0.5], [1, 2, 4]]])
    result = simulate_latencies(latencies, w=1)
    np.testing.assert_array_equal(result.iteration_times, [[1, 2, 5]])
    np.testing.assert_array_equal(result.fresh, [[2, 1, 1]])
    np.testing.assert_allclose(result.fresh_fraction, [2 / 3, 1 / 3, 1 / 3])


def test_worker_stale_in_consecutive_iterations_until_a_resent_task_is_fresh():
    # w=2, workers 0, 1 take 1 s: iteration k is (k-1, k]. Worker 2: first task 0-1.5 (stale in iteration 2),
    # re-sent at 1.5 until 2.7 (stale in iteration 3), re-sent at 2.7 until 3.7 (stale in iteration 4),
    # re-sent at 3.7 until 3.9: fresh in iteration 4
    latencies = np.ones((1, 4, 3))
    latencies[0, :, 2] = [1.5, 1.2, 1.0, 0.2]
    result = simulate_latencies(latencies, w=2)
    np.testing.assert_array_equal(result.iteration_times, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(result.fresh, [[4, 4, 1]])


def test_waiting_for_all_workers_takes_the_maximum_latency_every_iteration():
    latencies = np.random.default_rng(5).gamma(2.0, 1.0, size=(3, 10, 4))
    result = simulate_latencies(latencies, w=4)
    np.testing.assert_allclose(result.iteration_times, np.cumsum(latencies.max(axis=2), axis=1))
    np.testing.assert_array_equal(result.fresh, 10)
    np.testing.assert_array_equal(result.fresh_fraction, 1.0)


def test_straggler_finishing_exactly_at_an_iteration_end_is_idle_at_the_next_start():
    latencies = np.ones((1, 12, 3))
    latencies[0, :, 2] = 10.0
    result = simulate_latencies(latencies, w=2)
    np.testing.assert_array_equal(result.iteration_times[0], np.arange(1, 13))
    # worker 2 finishes at 10, the end of iteration 10: not re-sent, but idle at iteration 11's start
    # (it starts tasks at 0 and 10 only) and never delivers a fresh result
    np.testing.assert_array_equal(result.fresh, [[12, 12, 0]])


def test_worker_busy_past_iteration_start_is_resent_on_finishing():
    # worker 1 finishes its first task at 1.5, during iteration 2 (1, 2]: stale, re-sent, fresh at 1.75;
    # in iteration 3 (from 1.75) it is fresh at 2, when worker 0 delivers stale exactly at the end (not re-sent)
    latencies = np.array([[[1, 1.5], [1, 0.25], [1, 0.25]]])
    result = simulate_latencies(latencies, w=1)
    np.testing.assert_array_equal(result.iteration_times, [[1, 1.75, 2]])
    np.testing.assert_array_equal(result.fresh, [[1, 2]])


def test_zero_latency_resend_at_the_end_is_fresh():
    # w=1: worker 1's first task ends at 2, when worker 0's second task does too; its re-sent task takes 0 s
    latencies = np.array([[[1, 2], [1, 0], [5, 5]]], dtype=float)
    result = simulate_latencies(latencies, w=1, n_iterations=2)
    np.testing.assert_array_equal(result.iteration_times, [[1, 2]])
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
    np.testing.assert_array_equal(result.fresh, [[4, 3, 2], [0, 4, 4]])
    np.testing.assert_allclose(result.fresh_fraction, [0.5, 7 / 8, 3 / 4])


def test_running_out_of_samples_raises():
    latencies = np.ones((1, 2, 2))
    with pytest.raises(ValueError, match="K=2 samples per worker"):
        simulate_latencies(latencies, w=2, n_iterations=3)
    with pytest.raises(ValueError, match="at least 1"):
        simulate_latencies(latencies, w=1, n_iterations=0)


@settings(max_examples=150, deadline=None)
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


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_workers=st.integers(1, 6), n_iterations=st.integers(1, 12))
def test_fewer_samples_than_iterations_match_reference_or_raise(data, n_workers, n_iterations):
    n_samples = data.draw(st.integers(1, n_iterations))
    elements = st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.0])
    latencies = data.draw(hnp.arrays(float, (1, n_samples, n_workers), elements=elements))
    w = data.draw(st.integers(1, n_workers))
    try:
        times, fresh = _reference(latencies[0], w, n_iterations)
    except IndexError:
        with pytest.raises(ValueError, match="samples per worker"):
            simulate_latencies(latencies, w, n_iterations)
        return
    result = simulate_latencies(latencies, w, n_iterations)
    np.testing.assert_array_equal(result.iteration_times[0], times)
    np.testing.assert_array_equal(result.fresh[0], fresh)


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
