"""Speed of the latency side: simulator and profiler (issue: latency model)."""
from __future__ import annotations

import platform
from pathlib import Path

from dsag_dask.latency.profiler import bench_profiler
from dsag_dask.latency.simulator import bench_simulator


def _machine() -> dict:
    import os

    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}


def simulator(output: Path, quick: bool) -> dict:
    """Time per 100 simulated iterations (amortised over 100 realisations) for N=100 and N=1000."""
    return {**bench_simulator(repeats=3 if quick else 10), "machine": _machine()}


def profiler(output: Path, quick: bool) -> dict:
    """Cost of one ``Profiler.record`` call and of one ``stats`` for 100 workers."""
    return {**bench_profiler(repeats=3 if quick else 10), "machine": _machine()}


def latency_model(output: Path, quick: bool) -> dict:
    """Fit the latency model to the first half of a real DSAG run, predict the second half.

    The run is logistic regression on the flights data on a LocalCluster of 8 worker
    processes under the gamma+burst scenario; the figure is the relative error of the
    predicted mean per-iteration latency, per-worker model beside the i.i.d. model.
    """
    from distributed import Client, LocalCluster

    from dsag_dask.history import save_histories
    from dsag_dask.job import prepare_problem
    from dsag_dask.latency.prediction import validate_on_history
    from dsag_dask.runtime.placement import place
    from dsag_dask.runtime.run import cluster_workers, run_method
    from dsag_dask.stragglers import make_scenario

    n_workers, w, seconds = 8, 4, (30 if quick else 120)
    scenario = make_scenario("gamma-burst", seed=0, base_s=0.1)
    problem, X, y, _ = prepare_problem("logreg", "flights")
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        data = place(client, X, y, cluster_workers(client), run_id="latency-model")
        try:
            _, history = run_method(client, data, problem, None, method="dsag", w=w, p=4,
                                    stepsize=1.0, max_iterations=None, time_limit_s=seconds,
                                    scenario=scenario)
        finally:
            data.release()
    save_histories({"dsag": history}, output / "latency-model.nc")
    return {**validate_on_history(history, fit_fraction=0.5), "run_s": seconds,
            "scenario": scenario.describe(), "machine": _machine()}
