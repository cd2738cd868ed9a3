"""Event-driven simulation of iterations that wait for the w fastest of N workers (paper §4.2).

Semantics (matching the coordinator): every worker idle at the start of an iteration gets a
task of that iteration; the iteration ends when w of those tasks have finished. A task that
finishes at or before that moment is fresh; a worker still busy keeps running, delivers a
stale result when done and waits, idle, for the next iteration to start. (In the paper's
one-slot-queue model a busy worker would instead queue the new task and start it on
finishing.) Realisations are simulated in lock-step with numpy, one iteration per step.
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
    next_latencies: Callable[[int, np.ndarray], np.ndarray],
    n_realisations: int,
    n_workers: int,
    w: int,
    n_iterations: int,
) -> SimulationResult:
    """Step all realisations through the iterations; `next_latencies(t, idle)` returns fresh (R, N) task latencies."""
    if not 1 <= w <= n_workers:
        raise ValueError(f"w must lie in [1, {n_workers}], got {w}")
    if n_iterations < 1 or n_realisations < 1:
        raise ValueError("n_iterations and n_realisations must be at least 1")
    busy_until = np.zeros((n_realisations, n_workers))
    idle = np.empty((n_realisations, n_workers), dtype=bool)
    delivered = np.empty((n_realisations, n_workers), dtype=bool)
    start = np.zeros((n_realisations, 1))
    times = np.empty((n_iterations, n_realisations))
    fresh = np.zeros((n_realisations, n_workers), dtype=np.int64)
    for t in range(n_iterations):
        np.less_equal(busy_until, start, out=idle)
        finish = next_latencies(t, idle)
        finish += start
        np.copyto(finish, np.inf, where=~idle)
        start = np.partition(finish, w - 1, axis=1)[:, w - 1 : w]
        fresh += np.less_equal(finish, start, out=delivered)
        np.copyto(busy_until, finish, where=idle)
        times[t] = start[:, 0]
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

    def next_latencies(t: int, idle: np.ndarray) -> np.ndarray:
        """Return iteration t's latencies, drawn a block of iterations at a time to amortise call overhead."""
        nonlocal samples
        if t % block == 0:
            samples = draw(block * n_realisations).reshape(block, *shape)
        return samples[t % block]

    return _run(next_latencies, n_realisations, model.n_workers, w, n_iterations)


def simulate_latencies(latencies: np.ndarray, w: int) -> SimulationResult:
    """Simulate with explicit task latencies (R, T, N): the k-th task worker i runs takes latencies[r, k, i]."""
    latencies = np.asarray(latencies, dtype=float)
    if latencies.ndim != 3:
        raise ValueError(f"latencies must have shape (R, T, N), got {latencies.shape}")
    if np.any(~(latencies >= 0)):
        raise ValueError("latencies must be non-negative")
    n_realisations, n_iterations, n_workers = latencies.shape
    flat = latencies.reshape(-1)
    base = np.arange(n_realisations)[:, None] * (n_iterations * n_workers) + np.arange(n_workers)
    tasks_run = np.zeros((n_realisations, n_workers), dtype=np.int64)

    def next_latencies(t: int, idle: np.ndarray) -> np.ndarray:
        """Return each worker's next unused latency and count the ones consumed by idle workers."""
        values = flat[base + tasks_run * n_workers]
        tasks_run[idle] += 1
        return values

    return _run(next_latencies, n_realisations, n_workers, w, n_iterations)


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
