"""The live monitor, and the live DSAG page in headless Chromium during a real run."""
import os
import shutil
import threading
import time
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest
from distributed import Client, LocalCluster

from browser import SOURCE_POINTS_JS, Browser
from dsag_dask.dashboard import PAGE_PATH, live_page, page_url, register_scheduler_page, serve
from dsag_dask.live import LiveMonitor
from dsag_dask.methods import get_method
from dsag_dask.problems import LogisticRegressionProblem
from dsag_dask.problems.logistic import standardize, with_intercept
from dsag_dask.runtime.coordinator import BalancerSettings, Coordinator, Settings, Trace
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers
from dsag_dask.stragglers import make_scenario

class CountingReference:
    """Gap = first coordinate of the iterate; counts how often it is asked."""

    def __init__(self):
        self.calls = 0

    def gaps(self, iterates):
        self.calls += 1
        return np.array([float(v[0]) for v in iterates])


def fake_coordinator(n_workers=4, w=2, reference=None, events=None):
    settings = SimpleNamespace(method=SimpleNamespace(name="dsag"), w=w)
    balancer = None if events is None else SimpleNamespace(events=events)
    return SimpleNamespace(s=settings, n=n_workers, trace=Trace(), reference=reference, balancer=balancer)


def step(coordinator, t, results, p=(2, 2, 2, 2), xi=1.0):
    """Record iteration t as the coordinator would, with results (worker, sent, received, compute, fresh)."""
    tr = coordinator.trace
    tr.iterates.append(np.array([1.0 / (t + 1)]))
    tr.times.append(0.1 * (t + 1))
    tr.latencies.append(0.1)
    tr.coverage.append(xi)
    tr.p.append(list(p))
    tr.evicted.append(0)
    for worker, sent, received, compute, fresh in results:
        tr.results.append((worker, t, t, sent, received, compute, 0.0, p[worker], fresh, True, 0))


def test_monitor_copies_only_the_new_tail_and_summarises_workers():
    events = []
    c = fake_coordinator(events=events)
    monitor = LiveMonitor(gap_interval_s=3600)
    monitor.start_run("dsag", c)
    step(c, 0, [(0, 0.0, 0.05, 0.01, True), (1, 0.0, 0.07, 0.03, True)])
    monitor.on_iteration(1, c)
    step(c, 1, [(2, 0.0, 0.15, 0.10, False), (0, 0.1, 0.13, 0.01, True), (1, 0.1, 0.16, 0.03, True)],
         p=(2, 3, 2, 2), xi=0.5)
    events.append({"time_s": 0.15, "p_old": np.array([2, 2, 2, 2]), "p_new": np.array([2, 3, 2, 2])})
    monitor.on_iteration(2, c)
    monitor.on_iteration(2, c)  # nothing new: no double counting
    run = monitor.snapshot()["runs"][0]
    assert run["iterations"] == 2 and run["running"]
    assert run["time_s"] == pytest.approx([0.1, 0.2]) and run["xi"] == [1.0, 0.5]
    workers = run["workers"]
    assert workers["fresh"] == [2, 2, 0, 0] and workers["stale"] == [0, 0, 1, 0]
    assert workers["fresh_share"] == [1.0, 1.0, 0.0, 0.0]
    assert workers["compute_s"][:3] == pytest.approx([0.01, 0.03, 0.10])
    assert workers["comm_s"][:3] == pytest.approx([0.03, 0.035, 0.05])
    assert np.isnan(workers["compute_s"][3])
    assert run["p_time_s"] == pytest.approx([0.1, 0.2]) and run["p"] == [[2, 2, 2, 2], [2, 3, 2, 2]]
    assert run["rebalances"] == [{"time_s": 0.15, "p_old": [2, 2, 2, 2], "p_new": [2, 3, 2, 2]}]


def test_gap_is_computed_off_the_hot_loop_at_most_once_per_interval():
    reference = CountingReference()
    c = fake_coordinator(reference=reference)
    monitor = LiveMonitor(gap_interval_s=3600)
    monitor.start_run("dsag", c)
    for t in range(5):
        step(c, t, [(0, 0.0, 0.1, 0.05, True)])
        monitor.on_iteration(t + 1, c)
    assert reference.calls == 0
    first = monitor.snapshot()["runs"][0]
    assert first["gap"] == [pytest.approx(1 / 5)] and first["gap_time_s"] == [pytest.approx(0.5)]
    step(c, 5, [])
    monitor.on_iteration(6, c)
    monitor.snapshot()
    assert reference.calls == 1
    monitor.finish_run()  # the final iterate's gap is always recorded
    final = monitor.snapshot()["runs"][0]
    assert reference.calls == 2 and final["gap"][-1] == pytest.approx(1 / 6) and not final["running"]


def test_buffers_are_bounded_and_past_runs_are_kept():
    monitor = LiveMonitor(max_iterations=10)
    first = fake_coordinator()
    monitor.start_run("sag", first)
    for t in range(50):
        step(first, t, [(t % 4, 0.0, 0.1, 0.05, True)])
        monitor.on_iteration(t + 1, first)
    second = fake_coordinator()
    monitor.start_run("dsag", second)
    monitor.on_iteration(1, first)  # a hook from a coordinator that is not the current run is ignored
    snapshot = monitor.snapshot()
    assert snapshot["active"] == "dsag"
    assert [r["label"] for r in snapshot["runs"]] == ["sag", "dsag"]
    sag = snapshot["runs"][0]
    assert sag["iterations"] == 50 and len(sag["time_s"]) == 10 and sum(sag["workers"]["fresh"]) == 50


def test_on_iteration_costs_microseconds():
    c = fake_coordinator(n_workers=8)
    monitor = LiveMonitor()
    monitor.start_run("dsag", c)
    costs = []
    for t in range(2000):
        step(c, t, [(i, 0.0, 0.1, 0.05, i < 4) for i in range(8)], p=(2,) * 8)
        began = time.perf_counter()
        monitor.on_iteration(t + 1, c)
        costs.append(time.perf_counter() - began)
    assert np.median(costs) < 200e-6  # against a ~10 ms Dask round trip per iteration


def test_page_url_follows_the_dashboard_link():
    assert page_url("http://127.0.0.1:8787/status") == f"http://127.0.0.1:8787{PAGE_PATH}"
    assert page_url("http://host:8787/prefix/status", "/individual-x") == "http://host:8787/prefix/individual-x"


# -- a real run on 4 worker processes, watched in Chromium ------------------------------------

def column_sum_js(source: str, column: str) -> str:
    return (f"(() => {{ const s = Bokeh.documents[0].get_model_by_name({source!r});"
            f" const d = s.data instanceof Map ? Object.fromEntries(s.data) : s.data;"
            f" return Array.from(d[{column!r}]).reduce((a, b) => a + b, 0); }})()")


@pytest.fixture(scope="module")
def live_run(flights):
    """DSAG-LB with w = 2 of 4 workers and artificial stragglers, running in a background thread."""
    monitor = LiveMonitor()
    register_scheduler_page(monitor)  # before the scheduler exists: it reads the page list once
    with LocalCluster(n_workers=4, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        X = with_intercept(standardize(flights.X[:40000])[0])
        y = flights.y[:40000]
        problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
        reference = problem.reference(X, y)
        data = place(client, X, y, cluster_workers(client), run_id="dashboard")
        settings = Settings(get_method("dsag-lb"), w=2, p=[8] * 4, stepsize=1.0, max_iterations=None,
                            time_limit_s=20, balance=BalancerSettings())
        scenario = make_scenario("artificial", base_s=0.05, relieve_after_s=1e9)
        coordinator = Coordinator(client, data, problem, settings, scenario, reference,
                                  on_iteration=monitor.on_iteration)
        monitor.start_run("dsag-lb", coordinator)
        errors = []

        def run():
            try:
                coordinator.run()
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        server = serve(monitor)
        try:
            yield SimpleNamespace(monitor=monitor, client=client, dashboard=client.dashboard_link, server=server)
        finally:
            thread.join()
            monitor.finish_run()
            server.stop()
            data.release()
        assert not errors, errors


def watch(url, workdir):
    """Open the live page, wait until every plot holds data, and screenshot it."""
    with Browser(workdir, height=640) as browser:
        browser.open(url)
        points = browser.wait_for(SOURCE_POINTS_JS, lambda v: v.get("workers") == 4 and v.get("p", 0) >= 8
                                  and v.get("xi", 0) >= 10 and v.get("gap", 0) >= 3, timeout=90)
        delivered = browser.evaluate(column_sum_js("workers", "fresh")) + \
            browser.evaluate(column_sum_js("workers", "stale"))
        latency = browser.evaluate(column_sum_js("workers", "compute_s"))
        shot = browser.screenshot(workdir / "dsag-page.png")
    assert delivered > 0 and latency > 0
    assert shot.stat().st_size > 10_000
    if os.environ.get("DSAG_README_SCREENSHOT"):  # refresh the README's picture from this test
        shutil.copyfile(shot, os.environ["DSAG_README_SCREENSHOT"])
    return points


def test_scheduler_dashboard_serves_the_live_page(live_run, tmp_path):
    url = page_url(live_run.dashboard)
    status = urllib.request.urlopen(live_run.dashboard, timeout=30).read().decode()
    assert PAGE_PATH.strip("/") in status  # listed in the dashboard's "More…" menu
    watch(url, tmp_path)


def test_standalone_server_serves_the_live_page_on_localhost(live_run, tmp_path):
    assert live_run.server.url.startswith("http://127.0.0.1:")
    watch(live_run.server.url, tmp_path)


def test_live_page_prefers_the_in_process_scheduler_dashboard(live_run):
    with live_page(live_run.monitor, live_run.client) as url:
        assert url == page_url(live_run.dashboard)
    with Client(live_run.client.scheduler.address) as remote:  # as if the scheduler were elsewhere
        with live_page(live_run.monitor, remote) as url:
            assert url.startswith("http://127.0.0.1:") and url != page_url(live_run.dashboard)
            html = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "bokeh" in html.lower()
