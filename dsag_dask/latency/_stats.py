"""Grouped sample moments shared by the history fit and the profiler."""

from __future__ import annotations

import numpy as np


def grouped_mean_var(group: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Return per-group sample mean and variance (ddof=1, 0 for a single sample, NaN when empty) in one pass of bincounts."""
    counts = np.bincount(group, minlength=n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=values, minlength=n_groups) / counts
        squares = np.bincount(group, weights=(values - mean[group]) ** 2, minlength=n_groups)
        var = np.where(counts > 1, squares / np.maximum(counts - 1, 1), np.where(counts == 1, 0.0, np.nan))
    return mean, var
