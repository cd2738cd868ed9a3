"""The coordinator loop (paper §5.1, DESIGN.md §3 and §5).

Each iteration t:
1. send the current iterate to every idle worker (one-slot queues);
2. wait until w results computed from this iterate have arrived, keeping late
   results from earlier iterates as the method says (DSAG: when fresher than
   the cache entry they replace), re-sending the current iterate to any worker
   that returns a stale one, then keep collecting for a ``margin`` fraction of
   the iteration's elapsed time;
3. update ``V ← G(V − η (H/ξ + ∇R(V)))``.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from distributed import Client, as_completed, wait

from dsag_dask.cache import GradientCache
from dsag_dask.latency.loadbalance import LoadBalancer
from dsag_dask.latency.profiler import Profiler
from dsag_dask.methods import Method
from dsag_dask.problems.base import Problem, Reference
from dsag_dask.runtime.placement import PlacedData
from dsag_dask.runtime.worker import GradientResult, forget_run, gradient_task
from dsag_dask.stragglers import NoStragglers, Scenario

_POLL_S = 2e-4


class WorkerLost(RuntimeError):
    """A worker died mid-run, and its placed rows with it, so the run cannot go on."""


@dataclass
class Settings:
    """What one run does: method, w, sub-partitions, stepsize, margin and when to stop."""

    method: Method
    w: int
    p: list[int]
    stepsize: float
    margin: float = 0.02
    max_iterations: int | None = 100
    time_limit_s: float | None = None
    target_gap: float | None = None
    gap_check_s: float = 1.0
    balance: "BalancerSettings | None" = None


@dataclass(frozen=True)
class BalancerSettings:
    """Load-balancer knobs (paper §6): acceptance threshold, optimiser time limit, profiler window."""

    threshold: float = 0.1
    time_limit_s: float = 1.0
    window_s: float = 10.0
    seed: int = 0


@dataclass
class Trace:
    """Everything recorded during a run, as plain lists (turned into xarray by ``history``)."""

    iterates: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)
    p: list[list[int]] = field(default_factory=list)
    results: list[tuple] = field(default_factory=list)
    evicted: list[int] = field(default_factory=list)
    rebalances: list[tuple[int, float, list[int]]] = field(default_factory=list)
    wall_s: float = 0.0
    paused_s: float = 0.0
    stopped_by: str = ""


RESULT_FIELDS = ("worker", "iteration", "received_in", "sent_s", "received_s", "compute_s",
                 "delay_s", "p", "fresh", "accepted", "evicted")


class Coordinator:
    """Runs one method on data already placed on the workers, and records a ``Trace``."""

    def __init__(self, client: Client, data: PlacedData, problem: Problem, settings: Settings,
                 scenario: Scenario | None = None, reference: Reference | None = None,
                 on_iteration: Callable[[int, "Coordinator"], None] | None = None):
        self.client, self.data, self.problem, self.s = client, data, problem, settings
        self.scenario = scenario or NoStragglers()
        self.reference = reference
        self.on_iteration = on_iteration
        self.run_id = uuid.uuid4().hex[:8]
        self.n = data.n_workers
        self.p = list(settings.p)
        self.trace = Trace()
        self.cache = GradientCache(data.n_rows, problem.initial(data.n_features).shape)
        self.profiler = Profiler(self.n, window_s=settings.balance.window_s if settings.balance else 10.0)
        self.balancer = None
        if settings.balance is not None:
            b = settings.balance
            n_local = np.array([stop - start for start, stop in data.bounds])
            self.balancer = LoadBalancer(self.profiler, n_local, settings.w, np.array(self.p),
                                         threshold=b.threshold, time_limit_s=b.time_limit_s,
                                         seed=b.seed, clock=self.clock)
        self.pending = as_completed(with_results=True)
        self.outstanding: dict[str, tuple[int, int, float]] = {}
        self.busy: set[int] = set()
        self._start = 0.0
        self._next_check = 0.0

    # -- clock: wall time since start, minus pauses for gap checks ------------
    def clock(self) -> float:
        """Seconds since the run started, not counting the pauses for gap checks."""
        return time.perf_counter() - self._start - self.trace.paused_s

    # -- the paper's three steps ----------------------------------------------
    def run(self) -> Trace:
        """Iterate until the iteration, time or gap budget is spent; return the trace."""
        V = self.problem.initial(self.data.n_features)
        self._start = time.perf_counter()
        self._next_check, t = self.s.gap_check_s, 0
        if self.balancer is not None:
            self.balancer.start()
        try:
            while not self._done(t, V):
                began = self.clock()
                self.dispatch(V, t)
                fresh_sum, fresh_rows, evicted = self.collect(V, t)
                V = self.update(V, fresh_sum, fresh_rows)
                self._record(V, began, evicted)
                t += 1
                if self.on_iteration is not None:
                    self.on_iteration(t, self)
        finally:
            self.trace.wall_s = self.clock()
            try:
                if self.balancer is not None:
                    self.balancer.stop()
            finally:
                self._finish()
        return self.trace

    def dispatch(self, V: np.ndarray, t: int) -> None:
        """Send iterate t to every idle worker, with new sub-partition counts if the balancer has some."""
        if self.balancer is not None:
            proposal = self.balancer.take_proposal()
            if proposal is not None:
                self.p = [int(v) for v in proposal]
                self.balancer.set_current(np.array(self.p))
                self.trace.rebalances.append((t, self.clock(), list(self.p)))
        for i in range(self.n):
            if i not in self.busy:
                self._submit(i, V, t)

    def collect(self, V: np.ndarray, t: int) -> tuple[np.ndarray | None, int, int]:
        """Receive results until w are fresh (plus the margin); return the fresh sum for GD/SGD."""
        began = self.clock()
        fresh, fresh_rows, evicted = 0, 0, 0
        fresh_sum = None
        deadline = None
        while True:
            if fresh >= self.s.w:
                if deadline is None:
                    deadline = self.clock() + self.s.margin * (self.clock() - began)
                if not self.outstanding or self.clock() >= deadline:
                    break
                if not self.pending.has_ready():
                    time.sleep(min(_POLL_S, max(deadline - self.clock(), 0.0)))
                    continue
            future, result = next(self.pending)
            worker, sent_t, sent_s = self.outstanding.pop(future.key)
            if not isinstance(result, GradientResult):
                raise WorkerLost(
                    f"worker {worker} ({self.data.workers[worker]}) lost gradient task {future.key}: the "
                    f"scheduler cancelled it ({type(result).__name__}). Most often the worker process was "
                    "restarted, e.g. by its nanny after exceeding its memory limit (see the worker logs), and "
                    "the rows placed on it went with it; a scheduler restart or another client restarting the "
                    "cluster does the same. Results already written are kept; re-run, if need be with fewer "
                    "rows per worker, more workers or a larger memory limit.")
            self.busy.discard(worker)
            received = self.clock()
            self.profiler.record(worker, received, result.compute_s, received - sent_s, result.p)
            is_fresh = sent_t == t
            accepted, ev = self._absorb(result, sent_t, is_fresh)
            evicted += ev
            if is_fresh:
                fresh += 1
                if not self.s.method.uses_cache:
                    fresh_sum = result.value if fresh_sum is None else fresh_sum + result.value
                    fresh_rows += result.stop - result.start
            elif fresh < self.s.w:
                self._submit(worker, V, t)
            self.trace.results.append((worker, sent_t, t, sent_s, received, result.compute_s,
                                       result.delay_s, result.p, is_fresh, accepted, ev))
        return fresh_sum, fresh_rows, evicted

    def update(self, V: np.ndarray, fresh_sum: np.ndarray | None, fresh_rows: int) -> np.ndarray:
        """``V ← G(V − η (H/ξ + ∇R(V)))`` with H, ξ from the cache or from this iteration's results."""
        if self.s.method.uses_cache:
            gradient = self.cache.total / self.cache.coverage
        else:
            gradient = fresh_sum * (self.data.n_rows / fresh_rows)
        return self.problem.step(V, gradient, self.s.stepsize)

    # -- helpers ---------------------------------------------------------------
    def _absorb(self, result: GradientResult, sent_t: int, is_fresh: bool) -> tuple[bool, int]:
        """Put a result into the cache if the method keeps it; return (accepted, evicted)."""
        if not self.s.method.uses_cache or not (is_fresh or self.s.method.keeps_stale):
            return is_fresh, 0
        outcome = self.cache.insert(result.start, result.stop, sent_t, result.value)
        return outcome.accepted, outcome.evicted

    def _submit(self, i: int, V: np.ndarray, t: int) -> None:
        key = f"{self.s.method.name}-grad-{self.run_id}-{i}-{t}"
        future = self.client.submit(
            gradient_task, self.data.X_blocks[i], self.data.y_blocks[i], V,
            run_id=self.run_id, worker=i, n_workers=self.n,
            row_offset=self.data.bounds[i][0], p=self.p[i], problem=self.problem,
            scenario=self.scenario, elapsed_s=self.clock(),
            key=key, workers=[self.data.workers[i]], allow_other_workers=False, pure=False)
        self.outstanding[key] = (i, t, self.clock())
        self.busy.add(i)
        self.pending.add(future)

    def _record(self, V: np.ndarray, began: float, evicted: int) -> None:
        tr = self.trace
        tr.iterates.append(V)
        tr.times.append(self.clock())
        tr.latencies.append(tr.times[-1] - began)
        tr.coverage.append(self.cache.coverage if self.s.method.uses_cache else float("nan"))
        tr.p.append(list(self.p))
        tr.evicted.append(evicted)

    def _done(self, t: int, V: np.ndarray) -> bool:
        s = self.s
        if s.max_iterations is not None and t >= s.max_iterations:
            self.trace.stopped_by = "iterations"
        elif s.time_limit_s is not None and self.clock() >= s.time_limit_s:
            self.trace.stopped_by = "time"
        elif s.target_gap is not None and self.reference is not None and self.clock() >= self._next_check:
            if self._gap_now(V) <= s.target_gap:
                self.trace.stopped_by = "gap"
            self._next_check = self.clock() + s.gap_check_s
        return bool(self.trace.stopped_by)

    def _gap_now(self, V: np.ndarray) -> float:
        """The current gap, with the clock paused while it is computed."""
        began = time.perf_counter()
        gap = float(self.reference.gaps([V])[0])
        self.trace.paused_s += time.perf_counter() - began
        return gap

    def _finish(self) -> None:
        """Let in-flight tasks end (cancel those still running after a minute), then drop this run's worker state.

        Best effort on every worker that is still there, so that a run stopped by an
        error or an interrupt leaves no sub-partition state behind on the workers.
        """
        futures = list(self.pending.futures)
        if futures:
            try:
                wait(futures, timeout=60)
            except TimeoutError:
                self.client.cancel(futures)
        self.pending.clear()
        self.client.run(forget_run, self.run_id, on_error="ignore")
