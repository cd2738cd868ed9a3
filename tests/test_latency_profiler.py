"""Tests for the moving-window latency profiler."""

import threading

import numpy as np
import pytest

from dsag_dask.latency.profiler import Profiler, bench_profiler


def test_comm_is_roundtrip_minus_compute_clipped_at_zero():
    profiler = Profiler(1, min_samples=1, trim_quantile=0.0)
    profiler.record(0, 0.0, compute_s=1.0, roundtrip_s=1.25, p=4)
    profiler.record(0, 1.0, compute_s=1.0, roundtrip_s=0.5, p=4)
    stats = profiler.stats()
    assert stats.comm_mean[0] == pytest.approx(0.125)
    assert stats.comm_var[0] == pytest.approx(np.var([0.25, 0.0], ddof=1))
    assert stats.comp_mean[0] == pytest.approx(1.0)
    assert stats.comp_var[0] == 0.0


def test_window_drops_old_samples_relative_to_now_or_latest():
    profiler = Profiler(2, window_s=10.0, min_samples=1, trim_quantile=0.0)
    for t in range(21):
        profiler.record(0, float(t), compute_s=float(t), roundtrip_s=float(t) + 0.1, p=1)
    profiler.record(1, 3.0, compute_s=1.0, roundtrip_s=1.1, p=1)
    stats = profiler.stats()
    assert stats.n_samples.tolist() == [11, 0]
    assert stats.comp_mean[0] == pytest.approx(15.0)
    assert stats.ready.tolist() == [True, False]
    assert np.isnan(stats.comp_mean[1])
    assert profiler.stats(now_s=12.0).n_samples.tolist() == [11, 1]


def test_trimming_removes_both_tails():
    profiler = Profiler(1, min_samples=1, trim_quantile=0.05)
    values = [1.0] * 18 + [0.0, 100.0]
    for t, value in enumerate(values):
        profiler.record(0, t * 0.1, compute_s=value, roundtrip_s=value + 0.2, p=1)
    stats = profiler.stats()
    assert stats.n_samples[0] == 20
    assert stats.comp_mean[0] == pytest.approx(1.0)
    assert stats.comp_var[0] == pytest.approx(0.0)
    assert stats.comm_mean[0] == pytest.approx(0.2)
    untrimmed = Profiler(1, min_samples=1, trim_quantile=0.0)
    for t, value in enumerate(values):
        untrimmed.record(0, t * 0.1, compute_s=value, roundtrip_s=value + 0.2, p=1)
    assert untrimmed.stats().comp_mean[0] == pytest.approx(np.mean(values))


def test_min_samples_and_harmonic_mean_p():
    profiler = Profiler(3, min_samples=4, trim_quantile=0.0)
    for t, p in enumerate([10, 10, 10, 20]):
        profiler.record(0, float(t), 1.0, 1.5, p)
    for t in range(3):
        profiler.record(1, float(t), 2.0, 2.5, 8)
    stats = profiler.stats()
    assert stats.ready.tolist() == [True, False, False]
    assert stats.p[0] == pytest.approx(4 / (3 / 10 + 1 / 20))  # compute goes as 1/p
    assert stats.p[1] == pytest.approx(8.0)
    model = stats.to_model()
    assert model.n_workers == 1
    assert model.comp_mean[0] == pytest.approx(1.0)
    assert model.p[0] == pytest.approx(stats.p[0])
    assert profiler.to_model().n_workers == 1


def test_to_model_needs_a_ready_worker():
    with pytest.raises(ValueError, match="enough samples"):
        Profiler(2).to_model()


def test_ring_buffer_keeps_most_recent_samples():
    profiler = Profiler(1, min_samples=1, trim_quantile=0.0, capacity=5)
    for t in range(8):
        profiler.record(0, float(t), float(t), float(t), 1)
    stats = profiler.stats()
    assert stats.n_samples[0] == 5
    assert stats.comp_mean[0] == pytest.approx(5.0)


def test_validation():
    with pytest.raises(ValueError):
        Profiler(0)
    with pytest.raises(ValueError):
        Profiler(1, window_s=0.0)
    with pytest.raises(ValueError):
        Profiler(1, min_samples=0)
    with pytest.raises(ValueError):
        Profiler(1, trim_quantile=0.5)
    with pytest.raises(ValueError, match="worker"):
        Profiler(2).record(-1, 0.0, 1.0, 1.0, 1)


def test_concurrent_record_and_stats_lose_nothing():
    n_per_thread = 20_000
    profiler = Profiler(2, window_s=1e9, min_samples=1, trim_quantile=0.0, capacity=2 * n_per_thread)
    stop = threading.Event()
    seen, consistent = [], []

    def writer(offset: float) -> None:
        for k in range(n_per_thread):
            profiler.record(k % 2, k * 1e-3, compute_s=offset, roundtrip_s=offset + 0.5, p=2)

    def reader() -> None:
        while not stop.is_set():
            stats = profiler.stats()
            seen.append(stats.n_samples.sum())
            consistent.append(bool(np.all(np.nan_to_num(stats.comm_mean, nan=0.5) == 0.5)))

    threads = [threading.Thread(target=writer, args=(value,)) for value in (1.0, 3.0)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    stats = profiler.stats()
    assert stats.n_samples.tolist() == [n_per_thread, n_per_thread]
    np.testing.assert_allclose(stats.comp_mean, [2.0, 2.0])
    np.testing.assert_allclose(stats.comm_var, [0.0, 0.0], atol=1e-20)
    assert seen == sorted(seen)
    assert all(consistent)


def test_bench_profiler_reports_cheap_record():
    report = bench_profiler(n_workers=10, samples_per_worker=200, repeats=1)
    assert set(report) == {"us_per_record", "ms_per_stats_n10"}
    assert report["us_per_record"] < 20


def test_stats_at_the_current_load_only():
    profiler = Profiler(2, min_samples=2, trim_quantile=0.0)
    for t in range(4):
        profiler.record(0, float(t), 1.0, 1.5, 10)
        profiler.record(1, float(t), 2.0, 2.5, 10)
    profiler.record(0, 4.0, 0.5, 1.0, 20)
    profiler.record(0, 5.0, 0.5, 1.0, 20)
    stats = profiler.stats(at_p=np.array([20, 10]))
    assert stats.n_samples.tolist() == [2, 4]
    assert stats.comp_mean.tolist() == [0.5, 2.0] and stats.p.tolist() == [20, 10]
    assert profiler.stats(at_p=np.array([40, 10])).ready.tolist() == [False, True]
