"""Per-worker gamma latency model (paper §3.1) and its load linearisation (§6.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr


def gamma_params(mean: np.ndarray | float, var: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Return gamma (shape, scale) matching the given mean and variance, so models can be fitted by moments."""
    mean = np.asarray(mean, dtype=float)
    var = np.asarray(var, dtype=float)
    if np.any(~(mean > 0)):
        raise ValueError(f"gamma mean must be positive, got {mean}")
    if np.any(~(var > 0)):
        raise ValueError(f"gamma variance must be positive, got {var}")
    return mean**2 / var, var / mean


def _component_sampler(
    rng: np.random.Generator, mean: np.ndarray, var: np.ndarray
) -> Callable[[int], np.ndarray]:
    """Return a (size, N) sampler for one latency component, using the mean itself where the variance is zero."""
    random = var > 0
    if random.all():
        shape, scale = gamma_params(mean, var)
        return lambda size: rng.standard_gamma(shape, size=(size, mean.size)) * scale
    if not random.any():
        return lambda size: np.tile(mean, (size, 1))
    shape, scale = gamma_params(mean[random], var[random])

    def draw(size: int) -> np.ndarray:
        """Fill the random columns with gamma draws and the rest with their means."""
        out = np.tile(mean, (size, 1))
        out[:, random] = rng.standard_gamma(shape, size=(size, shape.size)) * scale
        return out

    return draw


def _grouped_mean_var(group: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Return per-group sample mean and variance (ddof=1, 0 for a single sample) via bincounts, for history fits."""
    counts = np.bincount(group, minlength=n_groups).astype(float)
    mean = np.bincount(group, weights=values, minlength=n_groups) / counts
    squares = np.bincount(group, weights=(values - mean[group]) ** 2, minlength=n_groups)
    return mean, np.where(counts > 1, squares / np.maximum(counts - 1, 1), 0.0)


@dataclass
class LatencyModel:
    """Independent per-worker latency X_i = Y_i + Z_i with gamma communication Y_i and computation Z_i.

    ``p`` is the number of sub-partitions each worker processed when its computation
    statistics were measured; ``with_load`` rescales the computation part to another load.
    """

    comm_mean: np.ndarray
    comm_var: np.ndarray
    comp_mean: np.ndarray
    comp_var: np.ndarray
    p: np.ndarray

    def __post_init__(self) -> None:
        """Coerce the fields to float arrays and check they describe one valid model."""
        for name in ("comm_mean", "comm_var", "comp_mean", "comp_var", "p"):
            setattr(self, name, np.atleast_1d(np.asarray(getattr(self, name), dtype=float)))
        n = self.comm_mean.size
        for name in ("comm_mean", "comm_var", "comp_mean", "comp_var", "p"):
            value = getattr(self, name)
            if value.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {value.shape}")
            if not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValueError(f"{name} must be finite and non-negative, got {value}")
        if np.any(self.p <= 0):
            raise ValueError(f"p must be positive, got {self.p}")
        for kind in ("comm", "comp"):
            mean, var = getattr(self, f"{kind}_mean"), getattr(self, f"{kind}_var")
            if np.any((mean == 0) & (var > 0)):
                raise ValueError(f"{kind}: a worker with zero mean must have zero variance")

    @property
    def n_workers(self) -> int:
        """Number of workers the model describes."""
        return int(self.comm_mean.size)

    def mean_latency(self) -> np.ndarray:
        """Expected total latency of each worker, shape (N,)."""
        return self.comm_mean + self.comp_mean

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw `size` independent latency vectors, shape (size, N), summing comm and comp gammas."""
        return self.sampler(rng)(size)

    def sampler(self, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
        """Return a function drawing (size, N) latency samples, with gamma parameters computed once for repeated use."""
        comm = _component_sampler(rng, self.comm_mean, self.comm_var)
        comp = _component_sampler(rng, self.comp_mean, self.comp_var)

        def draw(size: int) -> np.ndarray:
            """Sum independent comm and comp draws."""
            total = comm(size)
            total += comp(size)
            return total

        return draw

    def with_load(self, p_new: np.ndarray) -> LatencyModel:
        """Return the model at loads `p_new` by the paper's linearisation e'_Z = e_Z p/p', v'_Z = v_Z (p/p')²."""
        p_new = np.broadcast_to(np.asarray(p_new, dtype=float), self.p.shape)
        if np.any(~(p_new > 0)):
            raise ValueError(f"p_new must be positive, got {p_new}")
        ratio = self.p / p_new
        return LatencyModel(
            self.comm_mean.copy(), self.comm_var.copy(), self.comp_mean * ratio, self.comp_var * ratio**2, p_new.copy()
        )

    def iid(self) -> LatencyModel:
        """Return the i.i.d. model of §4.1: every worker gets the latency mean and variance pooled over all workers.

        The pooled total mean and variance (of the equal-weight mixture of workers) are split
        between comm and comp in proportion to the pooled comm and comp means, so the total
        matches exactly and ``with_load`` still scales only the computation share.
        """
        total = self.mean_latency()
        mean = total.mean()
        var = float(np.mean(self.comm_var + self.comp_var + total**2) - mean**2)
        var = max(var, 0.0)
        comm_share = self.comm_mean.mean() / mean if mean > 0 else 0.0
        n = self.n_workers
        return LatencyModel(
            np.full(n, comm_share * mean),
            np.full(n, comm_share * var),
            np.full(n, (1 - comm_share) * mean),
            np.full(n, (1 - comm_share) * var),
            self.p.copy(),
        )

    @classmethod
    def from_history(cls, ds: xr.Dataset, start_s: float | None = None, stop_s: float | None = None) -> LatencyModel:
        """Fit per-worker comm and comp moments from a run history's results received in [start_s, stop_s)."""
        received = np.asarray(ds["result_received_s"].values, dtype=float)
        keep = np.ones(received.shape, dtype=bool)
        if start_s is not None:
            keep &= received >= start_s
        if stop_s is not None:
            keep &= received < stop_s
        worker = np.asarray(ds["result_worker"].values, dtype=np.int64)[keep]
        n_workers = int(ds.attrs.get("n_workers", worker.max() + 1 if worker.size else 0))
        if n_workers < 1:
            raise ValueError(f"history has no results in [{start_s}, {stop_s}) and no n_workers attribute")
        compute = np.asarray(ds["result_compute_s"].values, dtype=float)[keep]
        roundtrip = received[keep] - np.asarray(ds["result_sent_s"].values, dtype=float)[keep]
        comm = np.clip(roundtrip - compute, 0.0, None)
        if worker.size and (worker.min() < 0 or worker.max() >= n_workers):
            raise ValueError(f"result_worker values must lie in [0, {n_workers}), got {worker.min()}..{worker.max()}")
        missing = np.flatnonzero(np.bincount(worker, minlength=n_workers) == 0)
        if missing.size:
            raise ValueError(f"history has no results in [{start_s}, {stop_s}) for workers {missing.tolist()}")
        comm_mean, comm_var = _grouped_mean_var(worker, comm, n_workers)
        comp_mean, comp_var = _grouped_mean_var(worker, compute, n_workers)
        p, _ = _grouped_mean_var(worker, np.asarray(ds["result_p"].values, dtype=float)[keep], n_workers)
        return cls(comm_mean, comm_var, comp_mean, comp_var, p)


_RUNS_PER_BATCH = 256


@dataclass(frozen=True)
class BurstModel:
    """Two-state (normal/slow) Markov chain per worker, stepped every `step_s` seconds, for latency bursts (§3.2).

    The path of worker i is a pure function of (seed, i): it is built from alternating
    geometric sojourn times drawn in fixed-size batches, batch b from a generator seeded by
    (seed, i, b), and memoised per process; the first state is drawn from the stationary law.
    """

    step_s: float = 10.0
    transition: tuple[tuple[float, float], tuple[float, float]] = ((0.989, 0.011), (0.286, 0.714))
    slow_factor: float = 1.103
    seed: int = 0
    _paths: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the step and that the transition matrix is stochastic with leavable states."""
        if not self.step_s > 0:
            raise ValueError(f"step_s must be positive, got {self.step_s}")
        matrix = np.asarray(self.transition, dtype=float)
        if matrix.shape != (2, 2) or np.any(matrix < 0) or not np.allclose(matrix.sum(axis=1), 1.0):
            raise ValueError(f"transition must be a 2x2 row-stochastic matrix, got {self.transition}")
        if matrix[0, 1] == 0 or matrix[1, 0] == 0:
            raise ValueError("transition must leave each state with positive probability")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the memoised paths, which any process can rebuild identically."""
        return {**self.__dict__, "_paths": {}}

    def _path(self, worker: int, n_steps: int) -> np.ndarray:
        """Return at least `n_steps` states of the worker's chain, extending the memoised path by whole batches."""
        states, n_batches = self._paths.get(worker, (np.empty(0, dtype=np.int8), 0))
        leave = np.array([self.transition[0][1], self.transition[1][0]])
        while states.size < n_steps:
            rng = np.random.default_rng([self.seed, worker, n_batches])
            if n_batches == 0:
                first = int(rng.random() < leave[0] / leave.sum())
            else:
                first = int(states[-1]) ^ 1
            run_states = (first + np.arange(_RUNS_PER_BATCH)) % 2
            lengths = rng.geometric(leave[run_states])
            states = np.concatenate([states, np.repeat(run_states.astype(np.int8), lengths)])
            n_batches += 1
            self._paths[worker] = (states, n_batches)
        return states

    def state(self, worker: int, elapsed_s: float | np.ndarray) -> np.ndarray:
        """Return the chain state (0 normal, 1 slow) of `worker` at the given elapsed time(s)."""
        steps = np.floor(np.maximum(np.asarray(elapsed_s, dtype=float), 0.0) / self.step_s).astype(np.int64)
        return self._path(int(worker), int(steps.max(initial=0)) + 1)[steps]

    def factor(self, worker: int, elapsed_s: float | np.ndarray) -> np.ndarray:
        """Return the latency multiplier of `worker` at the given elapsed time(s): `slow_factor` when slow, else 1."""
        return np.where(self.state(worker, elapsed_s) == 1, self.slow_factor, 1.0)
