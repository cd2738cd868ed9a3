"""Moving-window latency profiler fed by the coordinator (paper §6.1)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from dsag_dask.latency.model import LatencyModel

_TIME, _COMP, _COMM, _P = range(4)


@dataclass
class ProfilerStats:
    """Per-worker windowed latency moments; `ready` marks workers with enough samples to be trusted."""

    comm_mean: np.ndarray
    comm_var: np.ndarray
    comp_mean: np.ndarray
    comp_var: np.ndarray
    p: np.ndarray
    n_samples: np.ndarray
    ready: np.ndarray

    def to_model(self) -> LatencyModel:
        """Return the latency model of the ready workers only, in the order of `np.flatnonzero(ready)`."""
        if not self.ready.any():
            raise ValueError("no worker has enough samples in the window to build a latency model")
        r = self.ready
        return LatencyModel(self.comm_mean[r], self.comm_var[r], self.comp_mean[r], self.comp_var[r], self.p[r])


def _trimmed_moments(values: np.ndarray, keep: np.ndarray, trim_quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """Return row-wise mean and sample variance of the kept values after dropping floor(q·n) from each tail."""
    ordered = np.where(keep, values, np.nan)
    ordered.sort(axis=1)
    n = keep.sum(axis=1)
    low = np.floor(trim_quantile * n).astype(np.int64)
    rank = np.arange(values.shape[1])
    inside = (rank >= low[:, None]) & (rank < (n - low)[:, None])
    k = (n - 2 * low).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(inside, ordered, 0.0).sum(axis=1) / k
        squares = np.where(inside, (ordered - mean[:, None]) ** 2, 0.0).sum(axis=1)
        var = np.where(k > 1, squares / np.maximum(k - 1, 1), np.where(k == 1, 0.0, np.nan))
    return mean, var


class Profiler:
    """Collects per-task latency samples in per-worker ring buffers and reports trimmed moving-window moments.

    `record` is cheap and called from the coordinator's loop; `stats` does the numerical work
    and may run on another thread. Each worker keeps at most `capacity` most recent samples.
    """

    def __init__(
        self,
        n_workers: int,
        window_s: float = 10.0,
        min_samples: int = 10,
        trim_quantile: float = 0.05,
        capacity: int = 1024,
    ) -> None:
        """Allocate the ring buffers and validate the window, sample and trimming settings."""
        if n_workers < 1 or capacity < 1:
            raise ValueError("n_workers and capacity must be at least 1")
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be at least 1, got {min_samples}")
        if not 0 <= trim_quantile < 0.5:
            raise ValueError(f"trim_quantile must lie in [0, 0.5), got {trim_quantile}")
        self.n_workers = n_workers
        self.window_s = window_s
        self.min_samples = min_samples
        self.trim_quantile = trim_quantile
        self._capacity = capacity
        self._samples = np.zeros((n_workers, capacity, 4))
        self._samples[:, :, _TIME] = -np.inf
        self._next = [0] * n_workers
        self._used = 0
        self._latest = -np.inf
        self._lock = threading.Lock()

    def record(self, worker: int, time_s: float, compute_s: float, roundtrip_s: float, p: float) -> None:
        """Store one task's worker-measured compute and coordinator-measured round trip; comm = difference, ≥ 0."""
        if not 0 <= worker < self.n_workers:
            raise ValueError(f"worker must lie in [0, {self.n_workers}), got {worker}")
        comm = roundtrip_s - compute_s
        with self._lock:
            slot = self._next[worker]
            self._samples[worker, slot] = (time_s, compute_s, comm if comm > 0 else 0.0, p)
            self._next[worker] = (slot + 1) % self._capacity
            if slot >= self._used:
                self._used = slot + 1
            if time_s > self._latest:
                self._latest = time_s

    def stats(self, now_s: float | None = None, at_p: np.ndarray | None = None) -> ProfilerStats:
        """Return trimmed moments over samples timed in [now_s − window_s, now_s], now_s defaulting to the latest.

        With ``at_p``, only samples recorded while worker i had ``at_p[i]`` sub-partitions
        count, so statistics right after a re-partitioning are not mixed with the old load.
        """
        with self._lock:
            samples = self._samples[:, : self._used].copy()
            latest = self._latest
        reference = latest if now_s is None else now_s
        times = samples[:, :, _TIME]
        keep = (times >= reference - self.window_s) & (times <= reference)
        if at_p is not None:
            keep &= samples[:, :, _P] == np.asarray(at_p, dtype=float)[:, None]
        n = keep.sum(axis=1)
        comm_mean, comm_var = _trimmed_moments(samples[:, :, _COMM], keep, self.trim_quantile)
        comp_mean, comp_var = _trimmed_moments(samples[:, :, _COMP], keep, self.trim_quantile)
        with np.errstate(invalid="ignore", divide="ignore"):
            # compute latency goes as 1/p, so a window mixing loads is summarised by the harmonic mean
            p = n / np.where(keep, 1.0 / samples[:, :, _P], 0.0).sum(axis=1)
        return ProfilerStats(comm_mean, comm_var, comp_mean, comp_var, p, n, n >= self.min_samples)

    def to_model(self, now_s: float | None = None) -> LatencyModel:
        """Return the latency model of the ready workers (see `ProfilerStats.to_model`)."""
        return self.stats(now_s).to_model()


def bench_profiler(n_workers: int = 100, samples_per_worker: int = 200, repeats: int = 5) -> dict[str, float]:
    """Time `record` and `stats` after a warm-up: microseconds per record and milliseconds per stats call."""
    rng = np.random.default_rng(0)
    profiler = Profiler(n_workers)
    n_records = n_workers * samples_per_worker
    workers = rng.integers(0, n_workers, n_records).tolist()
    compute = rng.uniform(0.5, 1.0, n_records).tolist()
    roundtrip = (np.asarray(compute) + rng.uniform(0.0, 0.01, n_records)).tolist()
    times = np.linspace(0.0, 5.0, n_records).tolist()
    record = profiler.record
    for i in range(1000):
        record(workers[i], times[i], compute[i], roundtrip[i], 10)
    tic = time.perf_counter()
    for i in range(n_records):
        record(workers[i], times[i], compute[i], roundtrip[i], 10)
    us_per_record = (time.perf_counter() - tic) * 1e6 / n_records
    profiler.stats()
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        profiler.stats()
        best = min(best, time.perf_counter() - tic)
    return {"us_per_record": us_per_record, f"ms_per_stats_n{n_workers}": best * 1e3}
