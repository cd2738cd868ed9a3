"""Tests for reading published-style latency traces and building models, scenarios and prediction tables."""

import numpy as np
import pandas as pd
import pytest

from dsag_dask.latency.traces import model_from_trace, read_trace_csv, scenario_from_trace

LATENCY = np.array([[1.0, 2.0, 3.0], [1.2, 2.4, 3.6], [0.8, 1.6, np.nan], [1.0, 2.0, 2.4]])
COMPUTE = np.array([[0.9, 1.5, 2.0], [1.0, 2.0, 3.0], [0.7, 1.6, np.nan], [1.1, 1.9, 2.0]])


def _write(tmp_path, compute=True, extra=None):
    frame = {"iteration": np.arange(1, 5), "jobid": ["job"] * 4}
    for i in range(3):
        frame[f"latency_worker_{i + 1}"] = LATENCY[:, i]
        if compute:
            frame[f"compute_latency_worker_{i + 1}"] = COMPUTE[:, i]
        frame[f"repoch_worker_{i + 1}"] = np.arange(1, 5)
    frame["timestamp"] = ["2021-01-01"] * 4
    frame.update(extra or {})
    path = tmp_path / "trace.csv"
    pd.DataFrame(frame).to_csv(path, index=False)
    return path


def test_read_and_fit_with_compute_columns(tmp_path):
    df = read_trace_csv(_write(tmp_path))
    assert len(df) == 4
    model = model_from_trace(df)
    assert model.n_workers == 3
    comm = np.clip(LATENCY - COMPUTE, 0, None)
    np.testing.assert_allclose(model.comm_mean, np.nanmean(comm, axis=0))
    np.testing.assert_allclose(model.comm_var, np.nanvar(comm, axis=0, ddof=1))
    np.testing.assert_allclose(model.comp_mean, np.nanmean(COMPUTE, axis=0))
    np.testing.assert_allclose(model.comp_var, np.nanvar(COMPUTE, axis=0, ddof=1))
    np.testing.assert_array_equal(model.p, 1.0)


def test_fit_without_compute_columns_puts_everything_in_compute(tmp_path):
    model = model_from_trace(read_trace_csv(_write(tmp_path, compute=False)))
    np.testing.assert_array_equal(model.comm_mean, 0.0)
    np.testing.assert_array_equal(model.comm_var, 0.0)
    np.testing.assert_allclose(model.comp_mean, np.nanmean(LATENCY, axis=0))


def test_scenario_replays_trace_skipping_missing_entries(tmp_path):
    scenario = scenario_from_trace(read_trace_csv(_write(tmp_path)))
    assert scenario.latencies == ((1.0, 1.2, 0.8, 1.0), (2.0, 2.4, 1.6, 2.0), (3.0, 3.6, 2.4))
    assert scenario.delay(2, 3, 0.0, 1.0, 2) == pytest.approx(1.4)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="trace file not found"):
        read_trace_csv(tmp_path / "nope.csv")


def test_no_latency_columns(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"iteration": [1, 2], "compute_latency_worker_1": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="no latency_worker"):
        read_trace_csv(path)


def test_non_numeric_values(tmp_path):
    path = _write(tmp_path, extra={"latency_worker_2": ["1.0", "fast", "2.0", "3.0"]})
    with pytest.raises(ValueError, match="latency_worker_2 has non-numeric"):
        read_trace_csv(path)


def test_gap_in_worker_columns(tmp_path):
    path = tmp_path / "gap.csv"
    pd.DataFrame({"latency_worker_1": [1.0], "latency_worker_3": [1.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="without gaps"):
        read_trace_csv(path)


def test_partial_compute_columns_and_negative_values(tmp_path):
    partial = tmp_path / "partial.csv"
    pd.DataFrame({"latency_worker_1": [1.0], "latency_worker_2": [1.0], "compute_latency_worker_1": [0.5]}).to_csv(
        partial, index=False
    )
    with pytest.raises(ValueError, match="some workers"):
        read_trace_csv(partial)
    with pytest.raises(ValueError, match="negative"):
        read_trace_csv(_write(tmp_path, extra={"latency_worker_1": [1.0, -1.0, 1.0, 1.0]}))


def test_worker_without_samples(tmp_path):
    df = read_trace_csv(_write(tmp_path, compute=False, extra={"latency_worker_3": [np.nan] * 4}))
    with pytest.raises(ValueError, match=r"workers \[3\]"):
        model_from_trace(df)
