"""Run histories as ``xarray.Dataset`` (dims iteration, worker, result) and their netCDF files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from dsag_dask.runtime.coordinator import RESULT_FIELDS, Trace

GAP_THRESHOLDS = (1e-2, 1e-4, 1e-6, 1e-8)


def build_history(trace: Trace, gaps: np.ndarray, n_workers: int, attrs: dict) -> xr.Dataset:
    """Turn a coordinator trace and the gaps of its iterates into one Dataset.

    Per iteration: wall time, latency, gap, coverage ξ, fresh/stale/evicted counts.
    Per iteration and worker: sub-partitions p_i, fresh and stale deliveries, mean
    compute and round-trip latency of the results received. Per result: who, which
    iterate, when sent and received, compute time, injected delay, freshness. Per
    re-balancing event: iteration, time and the new p.
    """
    n_iter = len(trace.times)
    res = np.array(trace.results, dtype=float).reshape(-1, len(RESULT_FIELDS))
    col = {name: res[:, j] for j, name in enumerate(RESULT_FIELDS)}
    worker = col["worker"].astype(int)
    received_in = col["received_in"].astype(int)
    fresh = col["fresh"].astype(bool)
    roundtrip = col["received_s"] - col["sent_s"]

    def per_cell(values: np.ndarray, mask: np.ndarray, how: str) -> np.ndarray:
        total = np.zeros((n_iter, n_workers))
        count = np.zeros((n_iter, n_workers))
        np.add.at(total, (received_in[mask], worker[mask]), values[mask])
        np.add.at(count, (received_in[mask], worker[mask]), 1)
        if how == "count":
            return count.astype(np.int32)
        with np.errstate(invalid="ignore"):
            return total / count

    everything = np.ones(len(worker), dtype=bool)
    ds = xr.Dataset(
        {
            "time_s": ("iteration", np.asarray(trace.times)),
            "latency_s": ("iteration", np.asarray(trace.latencies)),
            "gap": ("iteration", np.asarray(gaps, dtype=float)),
            "xi": ("iteration", np.asarray(trace.coverage)),
            "n_fresh": ("iteration", np.bincount(received_in[fresh], minlength=n_iter)[:n_iter]),
            "n_stale": ("iteration", np.bincount(received_in[~fresh], minlength=n_iter)[:n_iter]),
            "n_evicted": ("iteration", np.asarray(trace.evicted, dtype=np.int32)),
            "p": (("iteration", "worker"), np.asarray(trace.p, dtype=np.int32).reshape(n_iter, n_workers)),
            "fresh": (("iteration", "worker"), per_cell(fresh, fresh, "count")),
            "stale": (("iteration", "worker"), per_cell(~fresh, ~fresh, "count")),
            "compute_s": (("iteration", "worker"), per_cell(col["compute_s"], everything, "mean")),
            "roundtrip_s": (("iteration", "worker"), per_cell(roundtrip, everything, "mean")),
            **{f"result_{name}": ("result", col[name].astype(_RESULT_DTYPES.get(name, float)))
               for name in RESULT_FIELDS},
            "rebalance_iteration": ("rebalance", np.array([r[0] for r in trace.rebalances], dtype=np.int32)),
            "rebalance_time_s": ("rebalance", np.array([r[1] for r in trace.rebalances], dtype=float)),
            "rebalance_p": (("rebalance", "worker"),
                            np.array([r[2] for r in trace.rebalances], dtype=np.int32).reshape(-1, n_workers)),
        },
        coords={"iteration": np.arange(n_iter), "worker": np.arange(n_workers)},
        attrs={**attrs, "n_workers": n_workers, "wall_s": trace.wall_s, "stopped_by": trace.stopped_by},
    )
    return ds


_RESULT_DTYPES = {"worker": np.int32, "iteration": np.int32, "received_in": np.int32, "p": np.int32,
                  "fresh": np.int8, "accepted": np.int8, "evicted": np.int32}


def time_to_gap(history: xr.Dataset, thresholds=GAP_THRESHOLDS) -> dict[str, float | None]:
    """Seconds until the gap first reaches each threshold (None when it never does)."""
    gap, times = history["gap"].values, history["time_s"].values
    out: dict[str, float | None] = {}
    for threshold in thresholds:
        hit = np.nonzero(gap <= threshold)[0]
        out[f"{threshold:.0e}"] = float(times[hit[0]]) if hit.size else None
    return out


def save_histories(histories: dict[str, xr.Dataset], path: str | Path) -> None:
    """Write one netCDF file with a group per method (read back with ``load_histories``)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    for i, (name, ds) in enumerate(histories.items()):
        ds.to_netcdf(tmp, group=name, mode="w" if i == 0 else "a", engine="h5netcdf")
    tmp.replace(path)


def load_histories(path: str | Path) -> dict[str, xr.Dataset]:
    """Read every method's history from a file written by ``save_histories``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no trace file at {path}: run `dsag run --output DIR` first")
    tree = xr.open_datatree(path, engine="h5netcdf")
    return {name.strip("/"): node.to_dataset().load() for name, node in tree.children.items()}
