"""Reading the paper's published latency traces and turning them into models, scenarios and predictions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from dsag_dask.latency.model import LatencyModel
from dsag_dask.latency.scenarios import TraceReplayScenario

_LATENCY = re.compile(r"^latency_worker_(\d+)$")
_COMPUTE = "compute_latency_worker_{}"


def _worker_columns(df: pd.DataFrame) -> list[int]:
    """Return the 1-based worker indices of the trace's `latency_worker_<i>` columns, checked to be 1..N."""
    indices = sorted(int(m.group(1)) for m in map(_LATENCY.match, map(str, df.columns)) if m)
    if not indices:
        raise ValueError("trace has no latency_worker_<i> columns")
    if indices != list(range(1, len(indices) + 1)):
        raise ValueError(f"trace latency columns must cover workers 1..N without gaps, got {indices}")
    return indices


def read_trace_csv(path: str | Path) -> pd.DataFrame:
    """Read a per-iteration trace CSV and check its per-worker latency (and optional compute) columns are numeric."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trace file not found: {path}")
    df = pd.read_csv(path)
    indices = _worker_columns(df)
    compute = [_COMPUTE.format(i) for i in indices if _COMPUTE.format(i) in df.columns]
    if compute and len(compute) != len(indices):
        raise ValueError("trace has compute_latency_worker_<i> columns for some workers but not all")
    for column in [f"latency_worker_{i}" for i in indices] + compute:
        try:
            df[column] = pd.to_numeric(df[column], errors="raise").astype(float)
        except (ValueError, TypeError) as error:
            raise ValueError(f"trace column {column} has non-numeric values: {error}") from error
        if (df[column] < 0).any():
            raise ValueError(f"trace column {column} has negative latencies")
    return df


def _column_moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per-column mean and sample variance ignoring NaNs (variance 0 for a single sample)."""
    n = np.sum(~np.isnan(values), axis=0)
    if np.any(n == 0):
        raise ValueError(f"trace has no latency samples for workers {(np.flatnonzero(n == 0) + 1).tolist()}")
    mean = np.nanmean(values, axis=0)
    squares = np.nansum((values - mean) ** 2, axis=0)
    return mean, np.where(n > 1, squares / np.maximum(n - 1, 1), 0.0)


def model_from_trace(df: pd.DataFrame) -> LatencyModel:
    """Fit a per-worker latency model to a trace, with p = 1 standing for the trace's own load.

    With compute columns, comm = latency − compute (clipped at 0) and comp = compute;
    without them the whole latency is treated as computation and comm is zero. Missing
    (NaN) entries, e.g. workers that did not respond in an iteration, are ignored.
    """
    indices = _worker_columns(df)
    latency = df[[f"latency_worker_{i}" for i in indices]].to_numpy(dtype=float)
    if _COMPUTE.format(1) in df.columns:
        compute = df[[_COMPUTE.format(i) for i in indices]].to_numpy(dtype=float)
        comm_mean, comm_var = _column_moments(np.clip(latency - compute, 0.0, None))
        comp_mean, comp_var = _column_moments(compute)
    else:
        comp_mean, comp_var = _column_moments(latency)
        comm_mean, comm_var = np.zeros(len(indices)), np.zeros(len(indices))
    return LatencyModel(comm_mean, comm_var, comp_mean, comp_var, np.ones(len(indices)))


def scenario_from_trace(df: pd.DataFrame) -> TraceReplayScenario:
    """Build a scenario replaying each worker's recorded latencies in iteration order, skipping missing entries."""
    columns = [df[f"latency_worker_{i}"].to_numpy(dtype=float) for i in _worker_columns(df)]
    return TraceReplayScenario(tuple(tuple(float(x) for x in column[~np.isnan(column)]) for column in columns))
