"""Input checks with messages that say what is wrong and how to fix it."""
from __future__ import annotations

import numpy as np
import scipy.sparse

from dsag_dask.partition import worker_bounds


def as_matrix(X, name: str = "X"):
    """Return X as a float64 numpy array or CSR matrix, rejecting empty or non-finite data."""
    if hasattr(X, "compute") and hasattr(X, "chunks"):
        X = X.compute()
    if hasattr(X, "to_scipy_sparse"):
        X = X.to_scipy_sparse()
    if scipy.sparse.issparse(X):
        X = scipy.sparse.csr_matrix(X, dtype=np.float64)
        values = X.data
    else:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be numeric: {err}") from None
        values = X
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (samples × features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}): it needs at least one row and one column")
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s): drop or impute them first")
    return X


def as_binary_labels(y, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Map two-class labels to ±1; returns (labels, classes) with classes[1] ↦ +1."""
    y = np.asarray(y.compute() if hasattr(y, "compute") else y).ravel()
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {y.shape[0]} labels: they must match")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite labels")
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(f"labels must be binary (exactly two classes), found {classes.size}: "
                         f"{classes[:5].tolist()}{'…' if classes.size > 5 else ''}")
    return np.where(y == classes[1], 1.0, -1.0), classes


def check_settings(n_rows: int, n_workers: int, w: int, p: int | list[int], stepsize: float,
                   margin: float) -> None:
    """Check w, p, stepsize and margin against the data and cluster size."""
    if n_workers < 1:
        raise ValueError("the cluster has no workers: start some or pass a different client")
    if n_rows < n_workers:
        raise ValueError(f"{n_rows} rows cannot be split over {n_workers} workers: use fewer workers")
    if not isinstance(w, (int, np.integer)) or not 1 <= w <= n_workers:
        raise ValueError(f"w={w} must be an integer between 1 and the number of workers ({n_workers})")
    counts = [p] * n_workers if np.isscalar(p) else list(p)
    if len(counts) != n_workers:
        raise ValueError(f"p has {len(counts)} entries but there are {n_workers} workers")
    for i, (value, (start, stop)) in enumerate(zip(counts, worker_bounds(n_rows, n_workers))):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"p={value} must be a positive integer (sub-partitions per worker)")
        if value > stop - start:
            raise ValueError(f"p={value} is larger than worker {i}'s {stop - start} rows: "
                             f"use p <= {stop - start} or fewer workers")
    if not np.isfinite(stepsize) or stepsize <= 0:
        raise ValueError(f"stepsize={stepsize} must be a positive number")
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin={margin} must be >= 0 (a fraction of the iteration time, e.g. 0.02)")
