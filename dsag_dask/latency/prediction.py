"""Predict a run's per-iteration latency from a model fitted to its own beginning (paper §4, Fig. 5/6)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.orderstats import order_statistics
from dsag_dask.latency.simulator import simulate


def predicted_iteration_latency(model: LatencyModel, w: int, n_iterations: int = 200,
                                n_realisations: int = 100, seed: int = 0) -> float:
    """Mean per-iteration latency when waiting for w of N, from the event-driven simulator (§4.2)."""
    result = simulate(model, w, n_iterations, n_realisations, np.random.default_rng(seed))
    return result.mean_iteration_time()


def prediction_table(model: LatencyModel, n_samples: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """For every w: the w-th order statistic (§4.1) and the simulated iterative latency (§4.2),
    each under the per-worker model and under the i.i.d. model."""
    rng = np.random.default_rng(seed)
    iid = model.iid()
    ws = np.arange(1, model.n_workers + 1)
    return pd.DataFrame({
        "w": ws,
        "order_stat_per_worker_s": order_statistics(model, n_samples, rng),
        "order_stat_iid_s": order_statistics(iid, n_samples, rng),
        "simulated_per_worker_s": [predicted_iteration_latency(model, int(w), seed=seed) for w in ws],
        "simulated_iid_s": [predicted_iteration_latency(iid, int(w), seed=seed) for w in ws],
    })


def validate_on_history(history: xr.Dataset, fit_fraction: float = 0.5, warmup_fraction: float = 0.1,
                        seed: int = 0) -> dict:
    """Fit on a run's wall time from ``warmup_fraction`` to ``fit_fraction``, predict the mean
    iteration latency of the rest.

    The warm-up (first tasks on fresh worker processes) is left out of the fit. Returns
    the observed and predicted latencies and the relative errors of the per-worker
    model and of the i.i.d. model (global mean and variance).
    """
    if not 0 <= warmup_fraction < fit_fraction < 1:
        raise ValueError(f"need 0 <= warmup_fraction < fit_fraction < 1, got {warmup_fraction}, {fit_fraction}")
    times = history["time_s"].values
    split = fit_fraction * times[-1]
    model = LatencyModel.from_history(history, start_s=warmup_fraction * times[-1], stop_s=split)
    rest = history["latency_s"].values[times > split]
    if rest.size < 10:
        raise ValueError(f"only {rest.size} iterations after the split: run longer to validate")
    w = int(history.attrs["w"])
    observed = float(rest.mean())
    per_worker = predicted_iteration_latency(model, w, n_iterations=rest.size, seed=seed)
    iid = predicted_iteration_latency(model.iid(), w, n_iterations=rest.size, seed=seed)
    return {
        "w": w, "n_workers": model.n_workers, "split_s": float(split),
        "iterations_predicted": int(rest.size), "observed_mean_latency_s": observed,
        "predicted_per_worker_model_s": per_worker, "predicted_iid_model_s": iid,
        "error_per_worker_model": abs(per_worker - observed) / observed,
        "error_iid_model": abs(iid - observed) / observed,
    }
