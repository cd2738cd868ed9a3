"""The static HTML report of finished runs, opened in headless Chromium without network."""

import numpy as np
import pytest

from browser import SOURCE_POINTS_JS, Browser
from dsag_dask.history import save_histories
from dsag_dask.problems import LogisticRegressionProblem
from dsag_dask.problems.logistic import standardize, with_intercept
from dsag_dask.report import p_changes, report_from_trace, worker_columns, write_report
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers, run_method
from dsag_dask.stragglers import make_scenario


@pytest.fixture(scope="module")
def histories(cluster8, flights):
    """SAG (w = N) and DSAG-LB (w = 3) on 40,000 flights, 25 iterations each, with stragglers."""
    from distributed import Client

    X = with_intercept(standardize(flights.X[:40000])[0])
    y = flights.y[:40000]
    problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
    reference = problem.reference(X, y)
    with Client(cluster8) as client:
        data = place(client, X, y, cluster_workers(client), run_id="report")
        try:
            out = {}
            for label, method, w in (("sag", "sag", 8), ("dsag-lb", "dsag-lb", 3)):
                _, out[label] = run_method(client, data, problem, reference, method=method, w=w, p=4,
                                           stepsize=1.0, max_iterations=25,
                                           scenario=make_scenario("artificial", base_s=0.02), label=label)
        finally:
            data.release()
    return out


def test_per_worker_summaries_match_the_history(histories):
    h = histories["dsag-lb"]
    columns = worker_columns(h)
    assert columns["fresh"].sum() == int(h["n_fresh"].sum())
    assert columns["stale"].sum() == int(h["n_stale"].sum())
    assert np.all(columns["compute_s"] > 0) and np.all(columns["comm_s"] > 0)
    times, values = p_changes(h)
    assert values[0] == h["p"].values[0].tolist() and len(times) == len(values) >= 1


def test_report_from_trace_is_self_contained(histories, tmp_path):
    save_histories(histories, tmp_path / "trace.nc")
    path = report_from_trace(tmp_path / "trace.nc")
    assert path == tmp_path / "report.html"
    text = path.read_text()
    assert "<script src=" not in text and "cdn.bokeh.org" not in text
    assert "dsag-lb" in text and "sag" in text


def test_report_plots_hold_data_in_chromium(histories, tmp_path):
    path = write_report(histories, tmp_path / "report.html")
    with Browser(tmp_path) as browser:
        browser.open(path.resolve().as_uri())
        points = browser.wait_for(SOURCE_POINTS_JS, lambda v: "gap" in v, timeout=60)
        browser.screenshot(tmp_path / "report.png")
    n_iter = sum(h.sizes["iteration"] for h in histories.values())
    assert points["xi"] == n_iter
    assert 2 <= points["gap"] <= n_iter
    for label in histories:
        assert points[f"workers:{label}"] == 8
        assert points[f"p:{label}"] >= 16  # a step line per worker
    assert (tmp_path / "report.png").stat().st_size > 10_000
