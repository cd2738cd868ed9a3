"""Monte Carlo order statistics of per-worker latency (paper §4.1)."""

from __future__ import annotations

import numpy as np

from dsag_dask.latency.model import LatencyModel


def _sorted_samples(model: LatencyModel, n_samples: int, rng: np.random.Generator | int | None) -> np.ndarray:
    """Draw `n_samples` latency vectors and sort each, so column w-1 samples the w-th fastest worker."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    samples = model.sample(np.random.default_rng(rng), n_samples)
    samples.sort(axis=1)
    return samples


def order_statistics(
    model: LatencyModel, n_samples: int = 10_000, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Return the expected latency of the w-th fastest worker for every w = 1..N at once, shape (N,)."""
    return _sorted_samples(model, n_samples, rng).mean(axis=0)


def order_statistic_quantiles(
    model: LatencyModel, q: float | np.ndarray, n_samples: int = 10_000, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Return quantiles `q` of the w-th fastest worker's latency for every w, shape q.shape + (N,)."""
    return np.quantile(_sorted_samples(model, n_samples, rng), q, axis=0)
