"""One method on placed data: settings, coordinator, progress bar, history."""
from __future__ import annotations

import json

import numpy as np
import xarray as xr
from distributed import Client
from tqdm.auto import tqdm

from dsag_dask.history import build_history
from dsag_dask.live import LiveMonitor
from dsag_dask.methods import get_method
from dsag_dask.problems.base import Problem, Reference
from dsag_dask.runtime.coordinator import BalancerSettings, Coordinator, Settings
from dsag_dask.runtime.placement import PlacedData
from dsag_dask.stragglers import NoStragglers, Scenario
from dsag_dask.validation import check_settings


class _ProgressBar:
    """A tqdm bar over iterations, or over seconds when only a time budget bounds the run."""

    def __init__(self, label: str, max_iterations: int | None, time_limit_s: float | None,
                 disable: bool):
        self.by_time = max_iterations is None and time_limit_s is not None
        total = time_limit_s if self.by_time else max_iterations
        unit = "s" if self.by_time else "it"
        self.bar = tqdm(total=total, desc=label, unit=unit, disable=disable, mininterval=0.5,
                        bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} " + unit + " [{elapsed}{postfix}]")

    def update(self, t: int, coordinator: Coordinator) -> None:
        if self.by_time:
            self.bar.update(min(coordinator.clock(), self.bar.total) - self.bar.n)
        else:
            self.bar.update(1)
        self.bar.set_postfix_str(f"iteration {t}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def cluster_workers(client: Client, n_workers: int | None = None) -> list[str]:
    """Addresses of the workers to use, in a stable order (the first ``n_workers`` if given)."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ValueError("the Dask cluster has no workers: start some (`dask worker ADDRESS`) and retry")
    if n_workers is not None:
        if n_workers > len(workers):
            raise ValueError(f"asked for {n_workers} workers but the cluster has {len(workers)}")
        workers = workers[:n_workers]
    return workers


def run_method(client: Client, data: PlacedData, problem: Problem, reference: Reference | None, *,
               method: str, w: int | None = None, p: int | list[int] = 1,
               stepsize: float | None = None, margin: float = 0.02,
               max_iterations: int | None = 100, time_limit_s: float | None = None,
               target_gap: float | None = None, scenario: Scenario | None = None,
               load_balance: bool | None = None, balancer: BalancerSettings | None = None,
               progress: bool = False, label: str | None = None,
               monitor: LiveMonitor | None = None) -> tuple[np.ndarray, xr.Dataset]:
    """Run one method to its budget and return the final iterate and its history.

    GD always waits for every worker with one sub-partition each; ``w`` defaults
    to N (all workers) and ``stepsize`` to the method's default. The load balancer
    runs for ``*-lb`` methods or when ``load_balance`` is true (never for GD).
    A ``monitor`` (``dsag_dask.live.LiveMonitor``) records the run for the live page.
    """
    spec = get_method(method)
    if load_balance is None:
        load_balance = spec.load_balanced
    if load_balance and spec.waits_for_all:
        raise ValueError("GD processes whole partitions (p = 1): load balancing does not apply to it")
    n = data.n_workers
    w = n if spec.waits_for_all or w is None else w
    p = 1 if spec.waits_for_all else p
    stepsize = problem.default_stepsize(spec.waits_for_all) if stepsize is None else stepsize
    check_settings(data.n_rows, n, w, p, stepsize, margin)
    if max_iterations is None and time_limit_s is None and target_gap is None:
        raise ValueError("set at least one of max_iterations, time_limit_s or target_gap, or the run never ends")
    if target_gap is not None and reference is None:
        raise ValueError("target_gap needs a reference optimum")
    scenario = scenario or NoStragglers()
    settings = Settings(spec, w, [p] * n if np.isscalar(p) else list(p), stepsize, margin,
                        max_iterations, time_limit_s, target_gap,
                        balance=(balancer or BalancerSettings()) if load_balance else None)
    label = label or spec.name
    bar = _ProgressBar(label, max_iterations, time_limit_s, disable=not progress)

    def on_iteration(t: int, coordinator: Coordinator) -> None:
        bar.update(t, coordinator)
        if monitor is not None:
            monitor.on_iteration(t, coordinator)

    coordinator = Coordinator(client, data, problem, settings, scenario, reference,
                              on_iteration=on_iteration)
    if monitor is not None:
        monitor.start_run(label, coordinator)
    try:
        trace = coordinator.run()
    finally:
        bar.close()
        if monitor is not None:
            monitor.finish_run()
    gaps = reference.gaps(trace.iterates) if reference is not None else np.full(len(trace.iterates), np.nan)
    attrs = {"method": spec.name, "label": label, "load_balanced": int(bool(load_balance)), "problem": problem.name, "w": w,
             "p0": json.dumps(settings.p), "stepsize": stepsize, "margin": margin,
             "scenario": json.dumps(scenario.describe()),
             "optimum": np.nan if reference is None else reference.optimum}
    return trace.iterates[-1], build_history(trace, gaps, n, attrs)
