"""What a running coordinator does, kept in memory for live pages (DESIGN.md §5).

``LiveMonitor.on_iteration`` is the coordinator's per-iteration hook: it copies only
the new tail of the trace into bounded buffers, so the hot loop pays a few
microseconds. Pages call ``snapshot()`` from another thread; the suboptimality gap
of the latest iterate is computed there, at most once per ``gap_interval_s``.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque

from dsag_dask.runtime.coordinator import RESULT_FIELDS

_WORKER, _SENT, _RECEIVED, _COMPUTE, _FRESH = (
    RESULT_FIELDS.index(name) for name in ("worker", "sent_s", "received_s", "compute_s", "fresh"))


class _Run:
    """Buffers of one run; mutated only under the monitor's lock."""

    def __init__(self, label: str, coordinator, maxlen: int, recent: int):
        n = coordinator.n
        self.label, self.method, self.w, self.n_workers = label, coordinator.s.method.name, coordinator.s.w, n
        self.coordinator = coordinator
        self.iterations = self.results_seen = self.events_seen = 0
        self.stopped_by = ""
        self.gap_index, self.gap_at = -1, -math.inf
        self.times, self.xi, self.gap_times, self.gaps, self.p_times, self.p_values = (
            deque(maxlen=maxlen) for _ in range(6))
        self.fresh, self.stale = [0] * n, [0] * n
        self.compute = [deque(maxlen=recent) for _ in range(n)]
        self.comm = [deque(maxlen=recent) for _ in range(n)]
        self.events: list[dict] = []

    def view(self, running: bool) -> dict:
        """A plain-data copy of the buffers, with per-worker summaries."""
        return {
            "label": self.label, "method": self.method, "w": self.w, "n_workers": self.n_workers,
            "iterations": self.iterations, "running": running, "stopped_by": self.stopped_by,
            "time_s": list(self.times), "xi": list(self.xi),
            "gap_time_s": list(self.gap_times), "gap": list(self.gaps),
            "p_time_s": list(self.p_times), "p": [list(p) for p in self.p_values],
            "rebalances": [dict(e) for e in self.events],
            "workers": {
                "compute_s": [_mean(d) for d in self.compute],
                "comm_s": [_mean(d) for d in self.comm],
                "fresh": list(self.fresh),
                "stale": list(self.stale),
                "fresh_share": [f / self.iterations if self.iterations else 0.0 for f in self.fresh],
            },
        }


def _mean(values: deque) -> float:
    return sum(values) / len(values) if values else math.nan


class LiveMonitor:
    """Thread-safe in-process record of the current and past runs of one job."""

    def __init__(self, max_iterations: int = 5000, recent: int = 32, gap_interval_s: float = 1.0):
        self.max_iterations, self.recent, self.gap_interval_s = max_iterations, recent, gap_interval_s
        self._runs: list[_Run] = []
        self._active: _Run | None = None
        self._lock = threading.Lock()
        self._gap_lock = threading.Lock()

    def start_run(self, label: str, coordinator) -> None:
        """Begin recording a run under ``label`` (finishing the previous one)."""
        self.finish_run()
        run = _Run(label, coordinator, self.max_iterations, self.recent)
        with self._lock:
            self._runs.append(run)
            self._active = run

    def finish_run(self) -> None:
        """Record the final gap of the current run and let go of its coordinator."""
        run = self._active
        if run is None:
            return
        self._refresh_gap(run, force=True)
        with self._lock:
            run.stopped_by = getattr(run.coordinator.trace, "stopped_by", "") or "stopped"
            run.coordinator = None
            self._active = None

    def on_iteration(self, t: int, coordinator) -> None:
        """Copy what the coordinator recorded since the last call (the hook it calls each iteration)."""
        run = self._active
        if run is None or run.coordinator is not coordinator:
            return
        trace = coordinator.trace
        new_results = trace.results[run.results_seen:]
        events = getattr(getattr(coordinator, "balancer", None), "events", None) or ()
        new_events = events[run.events_seen:]
        with self._lock:
            for i in range(run.iterations, len(trace.times)):
                run.times.append(trace.times[i])
                run.xi.append(trace.coverage[i])
                p = tuple(trace.p[i])
                if not run.p_values or run.p_values[-1] != p:
                    run.p_times.append(trace.times[i])
                    run.p_values.append(p)
            run.iterations = len(trace.times)
            for r in new_results:
                worker, compute = r[_WORKER], r[_COMPUTE]
                run.compute[worker].append(compute)
                run.comm[worker].append(r[_RECEIVED] - r[_SENT] - compute)
                if r[_FRESH]:
                    run.fresh[worker] += 1
                else:
                    run.stale[worker] += 1
            run.results_seen += len(new_results)
            run.events.extend({"time_s": float(e["time_s"]), "p_old": [int(v) for v in e["p_old"]],
                               "p_new": [int(v) for v in e["p_new"]]} for e in new_events)
            run.events_seen += len(new_events)

    def snapshot(self) -> dict:
        """Every run's buffers as plain data, refreshing the current run's gap if it is due."""
        active = self._active
        if active is not None:
            self._refresh_gap(active)
        with self._lock:
            active = self._active
            return {"active": active.label if active is not None else None,
                    "runs": [run.view(run is active) for run in self._runs]}

    def _refresh_gap(self, run: _Run, force: bool = False) -> None:
        """Compute the latest iterate's gap unless it was done less than ``gap_interval_s`` ago."""
        with self._gap_lock:
            coordinator = run.coordinator
            reference = getattr(coordinator, "reference", None)
            with self._lock:
                index = run.iterations - 1
                at = run.times[-1] if run.times else math.nan
            now = time.monotonic()
            if (reference is None or index < 0 or index == run.gap_index
                    or (not force and now - run.gap_at < self.gap_interval_s)):
                return
            gap = float(reference.gaps([coordinator.trace.iterates[index]])[0])
            with self._lock:
                run.gap_times.append(at)
                run.gaps.append(gap)
                run.gap_index, run.gap_at = index, now
