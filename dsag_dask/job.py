"""The main job behind ``dsag run``: one problem, several methods, one cluster, files on disk."""
from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Iterator

import xarray as xr
from distributed import Client, LocalCluster

from dsag_dask.config import ClusterConfig, JobConfig
from dsag_dask.dashboard import register_scheduler_page
from dsag_dask.datasets import LOADERS, Dataset
from dsag_dask.history import GAP_THRESHOLDS, save_histories, time_to_gap
from dsag_dask.live import LiveMonitor
from dsag_dask.problems import LogisticRegressionProblem, PCAProblem
from dsag_dask.problems.base import Problem
from dsag_dask.problems.logistic import standardize, with_intercept
from dsag_dask.report import write_report
from dsag_dask.runtime.coordinator import BalancerSettings
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers, run_method
from dsag_dask.stragglers import make_scenario


class SchedulerUnreachable(ConnectionError):
    """The scheduler address given cannot be reached within the timeout."""


@contextlib.contextmanager
def connect(cluster: ClusterConfig, monitor: LiveMonitor | None = None) -> Iterator[Client]:
    """A client to the configured scheduler, or to an embedded LocalCluster of worker processes.

    With a ``monitor``, the embedded cluster's dashboard gets the live DSAG page.
    """
    if cluster.scheduler:
        try:
            client = Client(cluster.scheduler, timeout=cluster.connect_timeout_s)
        except (OSError, TimeoutError) as err:
            raise SchedulerUnreachable(
                f"cannot reach the Dask scheduler at {cluster.scheduler} within "
                f"{cluster.connect_timeout_s:g} s ({err.__class__.__name__}); check the address, "
                f"or start one with `dask scheduler` and `dask worker ADDRESS`") from None
        with client:
            yield client
        return
    if monitor is not None and cluster.dashboard_address:
        register_scheduler_page(monitor)  # before the scheduler starts: it reads the page list once
    with LocalCluster(n_workers=cluster.n_workers, threads_per_worker=cluster.threads_per_worker,
                      processes=True, dashboard_address=cluster.dashboard_address) as local, \
            Client(local) as client:
        yield client


def prepare_problem(problem: str, dataset: str, n_components: int = 3) -> tuple[Problem, object, object, Dataset]:
    """Load a data set and build the problem with its preprocessed matrix and labels."""
    data = LOADERS[dataset]()
    if problem == "logreg":
        if data.y is None:
            raise ValueError(f"data set {dataset!r} has no labels: logistic regression needs one with labels")
        X = with_intercept(standardize(data.X)[0])
        return LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0]), X, data.y, data
    return PCAProblem(n_components), data.X, None, data


def run_job(config: JobConfig, output: Path, client: Client, progress: bool = True,
            echo=print, monitor: LiveMonitor | None = None) -> dict:
    """Run every configured method on the same placed data and write trace.nc, summary.json and report.html.

    The files are rewritten after each method, so a failure later in the job never
    loses the methods already finished. A ``monitor`` records the runs for the live page.
    """
    problem, X, y, dataset = prepare_problem(config.problem, config.dataset, config.n_components)
    workers = cluster_workers(client, None if config.cluster.scheduler else config.cluster.n_workers)
    scenario = make_scenario(config.scenario.name, **config.scenario.params)
    echo(f"{dataset.name}: {X.shape[0]} rows × {X.shape[1]} columns; {len(workers)} workers; "
         f"scenario {scenario.name}")
    reference = problem.reference(X, y)
    summary = {"problem": problem.name, "dataset": dataset.describe(), "workers": len(workers),
               "scenario": scenario.describe(), "optimum": reference.optimum,
               "dashboard": client.dashboard_link, "methods": {}}
    histories: dict[str, xr.Dataset] = {}
    data = place(client, X, y, workers, run_id=problem.name)
    try:
        for label, spec in config.methods.items():
            _, history = run_method(
                client, data, problem, reference, method=spec.method, w=spec.w, p=spec.p,
                stepsize=spec.stepsize, margin=spec.margin,
                max_iterations=config.stop.max_iterations, time_limit_s=config.stop.time_limit_s,
                target_gap=config.stop.target_gap, scenario=scenario,
                load_balance=spec.load_balance,
                balancer=BalancerSettings(**config.load_balancer.model_dump()),
                progress=progress, label=label, monitor=monitor)
            histories[label] = history
            summary["methods"][label] = method_summary(history)
            save_histories(histories, output / "trace.nc")
            write_report(histories, output / "report.html")
            _write_json(summary, output / "summary.json")
    finally:
        data.release()
    return summary


def method_summary(history: xr.Dataset) -> dict:
    """The per-method entry of summary.json."""
    gap = float(history["gap"].values[-1])
    return {"method": history.attrs["method"], "w": int(history.attrs["w"]),
            "load_balanced": bool(history.attrs["load_balanced"]),
            "rebalances": int(history.sizes.get("rebalance", 0)),
            "p": json.loads(history.attrs["p0"]), "stepsize": float(history.attrs["stepsize"]),
            "iterations": int(history.sizes["iteration"]), "wall_s": float(history.attrs["wall_s"]),
            "final_gap": gap if math.isfinite(gap) else None,
            "stopped_by": history.attrs["stopped_by"],
            "time_to_gap": time_to_gap(history)}


def format_table(summary: dict) -> str:
    """Time to reach each gap per method, as a fixed-width text table."""
    heads = [f"{t:.0e}" for t in GAP_THRESHOLDS]
    lines = [f"{'method':<10}{'w':>4}{'iters':>7}{'final gap':>11}" + "".join(f"{h:>10}" for h in heads)]
    for label, m in summary["methods"].items():
        cells = "".join(f"{m['time_to_gap'][h]:>9.2f}s" if m["time_to_gap"][h] is not None else f"{'—':>10}"
                        for h in heads)
        gap = f"{m['final_gap']:.1e}" if m["final_gap"] is not None else "—"
        lines.append(f"{label:<10}{m['w']:>4}{m['iterations']:>7}{gap:>11}{cells}")
    return "\n".join(lines)


def _write_json(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)
