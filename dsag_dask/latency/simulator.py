"""Event-driven simulation of iterations that wait for the w fastest of N workers (paper §4.2).

Semantics (those of the coordinator and of the paper's reference implementation, the
waiting loop of MPIAsyncPools ``asyncmap!``), with the coordinator's update time taken as 0,
so iteration t+1 starts when iteration t ends:

* at the start of iteration t every idle worker gets a task of iteration t;
* while fewer than w results of iteration t have arrived, a worker that finishes a task of
  an older iteration delivers a stale result and is immediately sent a task of iteration t,
  which starts at that finish time (and is fresh if it also finishes in time);
* the iteration ends at the w-th fresh completion; every task of iteration t finishing at or
  before that moment is fresh (ties count). Workers still busy keep running into later
  iterations. A worker finishing at or before the next start (in particular a stale one
  finishing exactly at the end) is idle there and gets the next task at the start.

Every worker therefore starts at most one task per iteration: either at the start (idle) or
at its stale finish (busy). Writing s_i for that start (the iteration start, or the worker's
busy-until time) and f_i = s_i + latency, the iteration ends at the w-th smallest f_i over
all workers — a busy worker whose f_i would fall after the end does not change it — and
worker i starts a task iff it is idle, s_i < end, or f_i ≤ end (a stale finish exactly at the
end is re-sent only if its task takes no time). Realisations are simulated in lock-step with
numpy, one iteration per step.

Latency consumption: the k-th task a worker starts takes that worker's k-th latency. As a
worker starts at most one task per iteration, T samples per worker always suffice for T
iterations. ``simulate`` draws one (R, N) sample per iteration (in blocks, to amortise the
call overhead) and the worker starting a task in iteration t uses its draw of iteration t;
draws of workers starting nothing are discarded, which leaves the distribution unchanged as
draws are independent. ``simulate_latencies`` consumes an explicit (R, K, N) array per worker
and raises if some worker needs more than K tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dsag_dask.latency.model import LatencyModel

_BLOCK_ELEMENTS = 1 << 16


@dataclass
class SimulationResult:
    """Iteration completion times (R, T), cumulative from 0, and per-realisation fresh-result counts (R, N)."""

    iteration_times: np.ndarray
    fresh: np.ndarray

    @property
    def n_iterations(self) -> int:
        """Number of simulated iterations T."""
        return int(self.iteration_times.shape[1])

    @property
    def fresh_fraction(self) -> np.ndarray:
        """Fraction u_i of iterations in which worker i delivered a fresh result, averaged over realisations, (N,)."""
        return self.fresh.mean(axis=0) / self.n_iterations

    def mean_iteration_time(self) -> float:
        """Mean per-iteration latency over all realisations."""
        return float(self.iteration_times[:, -1].mean() / self.n_iterations)


def _run(
    next_latencies: Callable[[int], np.ndarray],
    n_realisations: int,
    n_workers: int,
    w: int,
    n_iterations: int,
    on_started: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
) -> SimulationResult:
    """Step all realisations through the iterations.

    `next_latencies(t)` returns (R, N) latencies of the next task each worker would start;
    `on_started(t, started, s, end)`, if given, is told which workers did start one, at which
    times `s` (R, N), and when the iteration ended, `end` (R, 1).
    """
    if not 1 <= w <= n_workers:
        raise ValueError(f"w must lie in [1, {n_workers}], got {w}")
    if n_iterations < 1 or n_realisations < 1:
        raise ValueError("n_iterations and n_realisations must be at least 1")
    shape = (n_realisations, n_workers)
    busy_until = np.zeros(shape)
    begin = np.empty(shape)
    finish = np.empty(shape)
    idle = np.empty(shape, dtype=bool)
    started = np.empty(shape, dtype=bool)
    delivered = np.empty(shape, dtype=bool)
    start = np.zeros((n_realisations, 1))
    times = np.empty((n_iterations, n_realisations))
    fresh = np.zeros(shape, dtype=np.int64)
    for t in range(n_iterations):
        latencies = next_latencies(t)
        np.less_equal(busy_until, start, out=idle)
        np.maximum(busy_until, start, out=begin)
        np.add(begin, latencies, out=finish)
        end = np.partition(finish, w - 1, axis=1)[:, w - 1 : w]
        np.less_equal(finish, end, out=delivered)
        np.less(begin, end, out=started)
        started |= idle
        started |= delivered
        fresh += delivered
        np.copyto(busy_until, finish, where=started)
        if on_started is not None:
            on_started(t, started, begin, end)
        times[t] = end[:, 0]
        start = end
    return SimulationResult(times.T.copy(), fresh)


def simulate(
    model: LatencyModel,
    w: int,
    n_iterations: int,
    n_realisations: int = 1,
    rng: np.random.Generator | int | None = None,
    p: np.ndarray | None = None,
) -> SimulationResult:
    """Simulate `n_realisations` runs of `n_iterations` iterations waiting for `w` workers, optionally at loads `p`."""
    if p is not None:
        model = model.with_load(p)
    draw = model.sampler(np.random.default_rng(rng))
    shape = (n_realisations, model.n_workers)
    block = max(1, min(n_iterations, _BLOCK_ELEMENTS // (n_realisations * model.n_workers)))
    samples = np.empty(0)

    def next_latencies(t: int) -> np.ndarray:
        """Return iteration t's latencies, drawn a block of iterations at a time to amortise call overhead."""
        nonlocal samples
        if t % block == 0:
            samples = draw(block * n_realisations).reshape(block, *shape)
        return samples[t % block]

    return _run(next_latencies, n_realisations, model.n_workers, w, n_iterations)


def simulate_latencies(latencies: np.ndarray, w: int, n_iterations: int | None = None) -> SimulationResult:
    """Simulate with explicit task latencies (R, K, N): the k-th task worker i starts takes latencies[r, k, i].

    A worker starts at most one task per iteration, so K ≥ `n_iterations` (the default is
    K) always suffices; with fewer samples a ValueError is raised as soon as a worker may
    need a task beyond the K-th.
    """
    latencies = np.asarray(latencies, dtype=float)
    if latencies.ndim != 3 or latencies.shape[1] < 1:
        raise ValueError(f"latencies must have shape (R, K, N) with K >= 1, got {latencies.shape}")
    if np.any(~(latencies >= 0)):
        raise ValueError("latencies must be non-negative")
    n_realisations, n_samples, n_workers = latencies.shape
    if n_iterations is None:
        n_iterations = n_samples
    flat = latencies.reshape(-1)
    base = np.arange(n_realisations)[:, None] * (n_samples * n_workers) + np.arange(n_workers)
    tasks_run = np.zeros((n_realisations, n_workers), dtype=np.int64)
    exhausted = np.zeros((n_realisations, n_workers), dtype=bool)

    def next_latencies(t: int) -> np.ndarray:
        """Return each worker's next unused latency, +inf for workers that have used all K."""
        if t < n_samples:
            return flat[base + tasks_run * n_workers]
        np.greater_equal(tasks_run, n_samples, out=exhausted)
        values = flat[base + np.minimum(tasks_run, n_samples - 1) * n_workers]
        values[exhausted] = np.inf
        return values

    def on_started(t: int, started: np.ndarray, begin: np.ndarray, end: np.ndarray) -> None:
        """Count consumed latencies; fail if a worker without samples left may have started a task."""
        if t >= n_samples:
            short = exhausted & (begin <= end)
            if short.any():
                r, i = np.argwhere(short)[0]
                raise ValueError(
                    f"latencies has K={n_samples} samples per worker, but worker {i} of realisation {r} "
                    f"needs task {n_samples + 1} in iteration {t}: pass K >= n_iterations={n_iterations}"
                )
        tasks_run[started] += 1

    return _run(next_latencies, n_realisations, n_workers, w, n_iterations, on_started)


def _bench_model(n_workers: int, rng: np.random.Generator) -> LatencyModel:
    """Heterogeneous benchmark model: comp means 0.5–1.5 s with cv 0.2, comm means ~10 ms with cv 0.5."""
    comp_mean = rng.uniform(0.5, 1.5, n_workers)
    comm_mean = rng.uniform(0.005, 0.015, n_workers)
    return LatencyModel(comm_mean, (0.5 * comm_mean) ** 2, comp_mean, (0.2 * comp_mean) ** 2, np.ones(n_workers))


def bench_simulator(n_realisations: int = 100, n_iterations: int = 100, repeats: int = 3) -> dict[str, float]:
    """Time `simulate` after a warm-up and report the best amortised milliseconds per realisation of 100 iterations."""
    rng = np.random.default_rng(0)
    report = {}
    for n_workers in (100, 1000):
        model = _bench_model(n_workers, rng)
        w = n_workers // 2
        simulate(model, w, n_iterations, n_realisations, rng)
        best = np.inf
        for _ in range(repeats):
            tic = time.perf_counter()
            simulate(model, w, n_iterations, n_realisations, rng)
            best = min(best, time.perf_counter() - tic)
        report[f"ms_per_100_iterations_n{n_workers}_w{w}"] = best * 1e3 / n_realisations * 100 / n_iterations
    return report
