"""Load balancer (paper §6.2, Algorithm 1): re-size each worker's sub-partitions to equalise expected latency.

Smaller p_i means larger sub-partitions, i.e. more work per task for worker i. The
optimizer keeps the per-iteration contribution h(p') = Σ u_i(p') n_i / (p'_i n) above
h_min (with the paper's 1 % tolerance), estimating the fresh-result fractions u_i with the
event-driven simulator, and minimises the max/min ratio of the workers' expected latencies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.profiler import Profiler
from dsag_dask.latency.simulator import simulate

_REALISATIONS = 3
_ITERATIONS = 50
_TOLERANCE = 0.99
_STEP_FRACTION = 0.01
_MIN_COMPUTE_SHARE = 0.1
_MAX_STEPS = 100_000
_ROUNDING_SLACK = 1e-9
_REFERENCE_REALISATIONS = 12
_RETRY_S = 0.05


def expected_latency(model: LatencyModel, p_new: np.ndarray) -> np.ndarray:
    """Return each worker's expected latency e'_X = e_Y + e_Z p/p' at loads `p_new`, the quantity to equalise."""
    p_new = np.asarray(p_new, dtype=float)
    if np.any(~(p_new > 0)):
        raise ValueError(f"p_new must be positive, got {p_new}")
    return model.comm_mean + model.comp_mean * model.p / p_new


def objective(model: LatencyModel, p_new: np.ndarray) -> float:
    """Return the max/min ratio of expected latencies at `p_new`, the balancer's measure of imbalance (eq. 7)."""
    latency = expected_latency(model, p_new)
    low, high = latency.min(), latency.max()
    if low <= 0:
        return 1.0 if high <= 0 else float("inf")
    return float(high / low)


def contribution(
    model: LatencyModel,
    p_new: np.ndarray,
    n_local: np.ndarray,
    w: int,
    rng: np.random.Generator | int | None,
    n_realisations: int = _REALISATIONS,
    n_iterations: int = _ITERATIONS,
) -> float:
    """Return h(p') = Σ u_i(p') n_i / (p'_i n), the expected share of the data contributing to each iteration.

    Waiting for all workers makes every result fresh (u = 1), so the simulator is skipped then.
    """
    p_new = np.asarray(p_new, dtype=float)
    n_local = np.asarray(n_local, dtype=float)
    if w == model.n_workers:
        fresh = np.ones(model.n_workers)
    else:
        fresh = simulate(model.with_load(p_new), w, n_iterations, n_realisations, rng).fresh_fraction
    return float(np.sum(fresh * n_local / p_new) / n_local.sum())


def _step(p_i: int) -> int:
    """Return the size of one load change of a worker at p_i: max(1, round(1 % of p_i))."""
    return max(1, round(_STEP_FRACTION * p_i))


def _equalise(model: LatencyModel, p: np.ndarray, n_local: np.ndarray) -> np.ndarray:
    """Return p' giving every worker the expected latency of the slowest one, floor(e_Z p / (e_X,slowest − e_Y))."""
    latency = expected_latency(model, p)
    slowest = int(np.argmax(latency))
    room = latency[slowest] - model.comm_mean
    work = model.comp_mean * model.p
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.floor(work / room * (1 + _ROUNDING_SLACK))
    target = np.where((room > 0) & np.isfinite(target), target, p)
    target[slowest] = p[slowest]
    return np.clip(target, 1, n_local).astype(np.int64)


_Step = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[int, int] | None]


def _load_fastest(p: np.ndarray, latency: np.ndarray, work: np.ndarray, n_local: np.ndarray) -> tuple[int, int] | None:
    """Return (worker, new p) giving the fastest worker with p_i ≥ 2 one step more work, or None if none can."""
    loadable = np.where(p >= 2, latency, np.inf)
    fastest = int(np.argmin(loadable))
    if not np.isfinite(loadable[fastest]):
        return None
    return fastest, int(p[fastest]) - _step(int(p[fastest]))


def _relieve_slowest(
    p: np.ndarray, latency: np.ndarray, work: np.ndarray, n_local: np.ndarray
) -> tuple[int, int] | None:
    """Return (worker, new p) relieving the slowest worker by one step; None if p_i = n_i or compute share < 10 %."""
    slowest = int(np.argmax(latency))
    p_i, n_i = int(p[slowest]), int(n_local[slowest])
    if p_i >= n_i or not work[slowest] / p_i >= _MIN_COMPUTE_SHARE * latency[slowest]:
        return None
    return slowest, min(n_i, p_i + _step(p_i))


class _Path:
    """The candidates Algorithm 1 visits from `start` by repeated single-worker steps, generated lazily.

    The head's expected latencies are updated one worker at a time. Only the (worker, value)
    changes are stored; as every step moves p the same way (`direction`: np.minimum when
    loading, np.maximum when relieving), candidate k is rebuilt by applying the first k
    changes with that ufunc, whatever their order.
    """

    def __init__(
        self, model: LatencyModel, start: np.ndarray, n_local: np.ndarray, step: _Step, direction: np.ufunc
    ) -> None:
        """Start the path at `start`; `step` maps the head to its next change, or None at the path's end."""
        self._comm, self._work = model.comm_mean, model.comp_mean * model.p
        self._n_local, self._step, self._direction = n_local, step, direction
        self._start = start.copy()
        self._head = start.copy()
        self._latency = expected_latency(model, start)
        self._workers: list[int] = []
        self._values: list[int] = []
        self._ended = False

    def last_index(self, wanted: int, out_of_time: Callable[[], bool]) -> int:
        """Return min(wanted, index of the last candidate), extending the path towards `wanted` steps if in time."""
        while len(self._workers) < min(wanted, _MAX_STEPS) and not self._ended and not out_of_time():
            change = self._step(self._head, self._latency, self._work, self._n_local)
            if change is None:
                self._ended = True
                break
            worker, value = change
            self._head[worker] = value
            self._latency[worker] = self._comm[worker] + self._work[worker] / value
            self._workers.append(worker)
            self._values.append(value)
        return min(wanted, len(self._workers))

    def __getitem__(self, k: int) -> np.ndarray:
        """Return candidate k (0 is the start), which must already have been generated."""
        candidate = self._start.copy()
        self._direction.at(candidate, self._workers[:k], self._values[:k])
        return candidate


def _first_crossing(
    path: _Path, crossed: Callable[[np.ndarray], bool], out_of_time: Callable[[], bool]
) -> tuple[int, int | None]:
    """Return (last index seen not crossed, first index seen crossed or None), candidate 0 being known not crossed.

    Gallops along the path (1, 2, 4, ... steps past the last uncrossed candidate) and then
    bisects, so a path of K steps costs O(log K) evaluations; it finds the first crossing
    whenever the estimated constraint changes verdict once along the path.
    """
    good, bad, stride = 0, None, 1
    while bad is None:
        k = path.last_index(good + stride, out_of_time)
        if k == good or out_of_time():
            return good, None
        if crossed(path[k]):
            bad = k
        else:
            good, stride = k, 2 * stride
    while bad - good > 1 and not out_of_time():
        middle = (good + bad) // 2
        if crossed(path[middle]):
            bad = middle
        else:
            good = middle
    return good, bad


@dataclass
class _Constraint:
    """Simulator estimate of whether h(p') ≥ bound, using common random numbers and confirming crossings."""

    model: LatencyModel
    n_local: np.ndarray
    w: int
    seed: int
    n_confirmations: int = 0

    def holds(self, p: np.ndarray, bound: float, expected: bool) -> bool:
        """Return whether h(p) ≥ bound; a verdict other than `expected` is re-checked with 2× fresh realisations."""
        verdict = contribution(self.model, p, self.n_local, self.w, self.seed) >= bound
        if verdict == expected:
            return verdict
        self.n_confirmations += 1
        rng = np.random.default_rng([self.seed, self.n_confirmations])
        return contribution(self.model, p, self.n_local, self.w, rng, 2 * _REALISATIONS) >= bound


def _validated_loads(p: np.ndarray, n_local: np.ndarray, n_workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Return p and n_local as int64 arrays after checking shapes and 1 ≤ p ≤ n_local."""
    p_int = np.asarray(p).astype(np.int64)
    n_int = np.asarray(n_local).astype(np.int64)
    if p_int.shape != (n_workers,) or n_int.shape != (n_workers,):
        raise ValueError(f"p and n_local must have shape ({n_workers},), got {p_int.shape} and {n_int.shape}")
    if not np.array_equal(p_int, np.asarray(p)) or np.any(p_int < 1) or np.any(p_int > n_int):
        raise ValueError(f"p must be integers with 1 <= p <= n_local, got {p}")
    return p_int, n_int


def optimize(
    model: LatencyModel,
    p: np.ndarray,
    n_local: np.ndarray,
    w: int,
    h_min: float,
    rng: np.random.Generator | int | None,
    time_limit_s: float | None = None,
) -> np.ndarray:
    """Return Algorithm 1's loads p' for current loads `p`: equalise, load the fastest, relieve the slowest.

    Loading the fastest worker step by step stops at the first candidate with h ≥ h_min;
    relieving the slowest step by step stops before the first with h < 0.99·h_min, and the
    last candidate satisfying the constraint is returned. Both stopping points are located
    by galloping and bisection along the step sequence (see `_first_crossing`). If no
    feasible candidate is found within `time_limit_s` or the step cap, `p` is returned.
    """
    start = time.perf_counter()
    p, n_local = _validated_loads(p, n_local, model.n_workers)
    constraint = _Constraint(model, n_local, w, int(np.random.default_rng(rng).integers(2**63)))

    def out_of_time() -> bool:
        """Whether the time limit has passed."""
        return time_limit_s is not None and time.perf_counter() - start > time_limit_s

    loading = _Path(model, _equalise(model, p, n_local), n_local, _load_fastest, np.minimum)
    if constraint.holds(loading[0], h_min, expected=False):
        feasible = loading[0]
    else:
        _, first = _first_crossing(loading, lambda c: constraint.holds(c, h_min, expected=False), out_of_time)
        if first is None:
            return p.copy()
        feasible = loading[first]
    relieving = _Path(model, feasible, n_local, _relieve_slowest, np.maximum)
    bound = _TOLERANCE * h_min
    last, _ = _first_crossing(relieving, lambda c: not constraint.holds(c, bound, expected=True), out_of_time)
    return relieving[last]


class LoadBalancer:
    """Background optimizer thread (paper §6): re-optimises p from fresh profiler statistics whenever it finishes.

    The coordinator polls `take_proposal()` and reports what it applied with `set_current()`;
    both are O(1) apart from a copy. With a `clock`, statistics are windowed at `clock()` and
    events are timed with it (so it must share the profiler's time base); otherwise the window
    ends at the latest sample and events are timed from `start()`.
    """

    def __init__(
        self,
        profiler: Profiler,
        n_local: np.ndarray,
        w: int,
        p0: np.ndarray,
        threshold: float = 0.1,
        time_limit_s: float = 1.0,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        cooldown_s: float | None = None,
    ) -> None:
        """Validate the settings and prepare (but do not start) the optimizer thread.

        After an accepted proposal no new one is made for ``cooldown_s`` (default: the
        profiler's window), so each re-partitioning, which evicts cache entries, is judged
        on a full window of statistics at the new load before the next.
        """
        n_workers = profiler.n_workers
        self._p0, self._n_local = _validated_loads(p0, n_local, n_workers)
        if not 1 <= w <= n_workers:
            raise ValueError(f"w must lie in [1, {n_workers}], got {w}")
        if not 0 <= threshold < 1:
            raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
        if not time_limit_s > 0:
            raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
        self._profiler = profiler
        self._w = w
        self._threshold = threshold
        self._time_limit_s = time_limit_s
        self._rng = np.random.default_rng(seed)
        self._clock = clock
        self._cooldown_s = profiler.window_s if cooldown_s is None else cooldown_s
        self._quiet_until = -np.inf
        self._started_s = 0.0
        self._current = self._p0.copy()
        self._proposal: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_inputs: tuple[bytes, ...] | None = None
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def start(self) -> None:
        """Start the daemon optimizer thread."""
        if self._thread is not None:
            raise RuntimeError("the load balancer has already been started")
        self._started_s = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="dsag-load-balancer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, join it, and re-raise any error that ended it early."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise RuntimeError("the load balancer thread failed") from self.error

    def take_proposal(self) -> np.ndarray | None:
        """Return the newly accepted loads once, or None if nothing new was accepted since the last call."""
        with self._lock:
            proposal, self._proposal = self._proposal, None
        return proposal

    def set_current(self, p: np.ndarray) -> None:
        """Record the loads the coordinator actually applied, from which the next optimisation starts."""
        applied, _ = _validated_loads(p, self._n_local, self._n_local.size)
        with self._lock:
            self._current = applied

    def _now(self) -> float:
        """Return the event time: `clock()` if given, else seconds since `start()`."""
        return self._clock() if self._clock is not None else time.perf_counter() - self._started_s

    def _run(self) -> None:
        """Optimise round after round until stopped, pausing briefly when there is nothing new to work on."""
        try:
            while not self._stop.is_set():
                if not self._round():
                    self._stop.wait(_RETRY_S)
        except Exception as error:  # surfaced by stop(), since a thread cannot raise into its owner
            self.error = error

    def _round(self) -> bool:
        """Optimise once from fresh statistics and publish an accepted proposal; False if there was nothing to do."""
        if self._now() < self._quiet_until:
            return False
        base = self._current
        stats = self._profiler.stats(None if self._clock is None else self._clock(), at_p=base)
        inputs = (stats.n_samples.tobytes(), stats.comm_mean.tobytes(), stats.comp_mean.tobytes(), base.tobytes())
        if not stats.ready.all() or inputs == self._last_inputs:
            return False
        self._last_inputs = inputs
        model = stats.to_model()
        tic = time.perf_counter()
        h_min = contribution(model, self._p0, self._n_local, self._w, self._rng, _REFERENCE_REALISATIONS)
        proposal = optimize(model, base, self._n_local, self._w, h_min, self._rng, self._time_limit_s)
        optimise_s = time.perf_counter() - tic
        objective_old, objective_new = objective(model, base), objective(model, proposal)
        if not objective_new < (1 - self._threshold) * objective_old:
            return True
        h_new = contribution(model, proposal, self._n_local, self._w, self._rng, _REFERENCE_REALISATIONS)
        with self._lock:
            if self._current is not base:
                return True
            self._proposal = proposal.copy()
            self._current = proposal
            self._quiet_until = self._now() + self._cooldown_s
        self.events.append(
            {
                "time_s": self._now(),
                "p_old": base.copy(),
                "p_new": proposal.copy(),
                "objective_old": objective_old,
                "objective_new": objective_new,
                "h_min": h_min,
                "h_new": h_new,
                "optimise_s": optimise_s,
            }
        )
        return True
