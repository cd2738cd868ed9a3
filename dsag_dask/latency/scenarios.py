"""Straggler scenarios: extra delays a worker sleeps after its real compute, to emulate cloud latency."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from dsag_dask.latency.model import BurstModel


@dataclass(frozen=True)
class GammaBurstScenario:
    """Gamma-distributed per-task delays with seeded per-worker means and Markov latency bursts.

    Worker i's mean delay is base_s·(1 + m_i), m_i drawn uniformly from `mean_spread` with a
    generator seeded by (seed, i), so workers differ persistently by ~10–40 %. Each task's
    delay is a gamma draw with that mean and coefficient of variation `cv`, seeded by
    (seed, i, task_index), multiplied by the burst factor while the worker's chain is slow
    (the burst path is seeded by `burst.seed`, independently of `seed`).
    """

    seed: int = 0
    base_s: float = 0.02
    mean_spread: tuple[float, float] = (0.1, 0.4)
    cv: float = 0.2
    burst: BurstModel = BurstModel()
    name: str = field(default="gamma-burst", init=False)

    def __post_init__(self) -> None:
        """Check the parameters so a bad scenario fails on the coordinator, not inside a worker task."""
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not self.base_s >= 0:
            raise ValueError(f"base_s must be non-negative, got {self.base_s}")
        low, high = self.mean_spread
        if not 0 <= low <= high:
            raise ValueError(f"mean_spread must satisfy 0 <= low <= high, got {self.mean_spread}")
        if not self.cv >= 0:
            raise ValueError(f"cv must be non-negative, got {self.cv}")

    def worker_mean_s(self, worker: int) -> float:
        """Return worker `worker`'s mean delay outside bursts, base_s·(1 + m_i)."""
        low, high = self.mean_spread
        return self.base_s * (1.0 + np.random.default_rng([self.seed, worker]).uniform(low, high))

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float, task_index: int,
              load: float = 1.0) -> float:
        """Return this task's gamma delay, scaled by its load and by the burst factor at `elapsed_s`.

        ``base_s`` is the mean delay of a task over the worker's whole partition; a task over
        a fraction ``load`` of it (1/p) gets that fraction, so the load balancer can act on it.
        """
        mean = self.worker_mean_s(worker) * load * float(self.burst.factor(worker, elapsed_s))
        if mean == 0 or self.cv == 0:
            return mean
        shape = 1.0 / self.cv**2
        rng = np.random.default_rng([self.seed, worker, task_index])
        return float(rng.standard_gamma(shape) * mean / shape)

    def describe(self) -> dict[str, Any]:
        """Return the name and all parameters, including the burst model's, as plain JSON types."""
        burst = {f.name: getattr(self.burst, f.name) for f in fields(self.burst) if f.init}
        return {
            "name": self.name,
            "seed": self.seed,
            "base_s": self.base_s,
            "mean_spread": list(self.mean_spread),
            "cv": self.cv,
            "burst": {**burst, "transition": [list(row) for row in self.burst.transition]},
        }


@dataclass(frozen=True)
class TraceReplayScenario:
    """Replays recorded per-worker latencies: the worker sleeps until compute + sleep equals the trace value.

    Worker i follows trace row i mod len(latencies), task k uses entry k mod its length, so a
    trace of any size can drive any number of workers and tasks.
    """

    latencies: tuple[tuple[float, ...], ...]
    name: str = field(default="trace", init=False)

    def __post_init__(self) -> None:
        """Check every worker has a non-empty trace of finite, non-negative latencies."""
        if not self.latencies or any(len(row) == 0 for row in self.latencies):
            raise ValueError("latencies must hold a non-empty tuple of seconds for at least one worker")
        values = np.concatenate([np.asarray(row, dtype=float) for row in self.latencies])
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("trace latencies must be finite and non-negative")

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float, task_index: int,
              load: float = 1.0) -> float:
        """Return max(0, trace latency of this task − compute_s); the trace already has its own load."""
        row = self.latencies[worker % len(self.latencies)]
        return max(0.0, float(row[task_index % len(row)]) - compute_s)

    def describe(self) -> dict[str, Any]:
        """Return the name and trace size (not the trace itself, which may be large)."""
        return {
            "name": self.name,
            "n_trace_workers": len(self.latencies),
            "n_trace_tasks": [len(row) for row in self.latencies],
        }
