"""The coordinator on a real LocalCluster of 8 worker processes."""
import numpy as np

from dsag_dask.methods import get_method
from dsag_dask.problems import LogisticRegressionProblem, PCAProblem
from dsag_dask.problems.logistic import standardize, with_intercept
from dsag_dask.problems.pca import orthonormalize
from dsag_dask.runtime.coordinator import Coordinator, Settings
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers, run_method
from dsag_dask.stragglers import make_scenario


def test_gd_on_pca_is_the_power_method_iterate_for_iterate(client8, movielens):
    X = movielens.X
    problem = PCAProblem(n_components=3)
    data = place(client8, X, None, cluster_workers(client8), run_id="power")
    try:
        settings = Settings(get_method("gd"), w=8, p=[1] * 8, stepsize=1.0, max_iterations=15)
        trace = Coordinator(client8, data, problem, settings).run()
    finally:
        data.release()
    V = problem.initial(X.shape[1])
    for t, iterate in enumerate(trace.iterates):
        V = orthonormalize(np.asarray(X.T @ (X @ V)))
        np.testing.assert_allclose(iterate, V, rtol=0, atol=1e-12, err_msg=f"iteration {t}")


def test_data_never_moves_during_a_run(client8, flights):
    X = with_intercept(standardize(flights.X[:40000])[0])
    y = flights.y[:40000]
    workers = cluster_workers(client8)
    data = place(client8, X, y, workers, run_id="placement")
    expected = {f.key: {workers[i]} for blocks in (data.X_blocks, data.y_blocks)
                for i, f in enumerate(blocks)}
    seen = []

    def check(t, coordinator):
        if t % 5 == 0:
            seen.append(data.locations(client8))

    problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
    settings = Settings(get_method("dsag"), w=3, p=[4] * 8, stepsize=1.0, max_iterations=40)
    scenario = make_scenario("artificial", base_s=0.01)
    try:
        trace = Coordinator(client8, data, problem, settings, scenario, on_iteration=check).run()
        seen.append(data.locations(client8))
    finally:
        data.release()
    assert len(seen) == 9
    for locations in seen:
        assert locations == expected
    assert data.X.numblocks == (8, 1)
    assert len(trace.iterates) == 40


def test_pca_on_movielens_dsag_reaches_1e_8(client8, movielens):
    problem = PCAProblem(n_components=3)
    reference = problem.reference(movielens.X, None)
    data = place(client8, movielens.X, None, cluster_workers(client8), run_id="pca")
    try:
        _, history = run_method(client8, data, problem, reference, method="dsag", w=3, p=2,
                                stepsize=0.9, max_iterations=2000, time_limit_s=90,
                                target_gap=1e-9, scenario=make_scenario("artificial", base_s=0.02))
    finally:
        data.release()
    gaps = history["gap"].values
    assert gaps.min() <= 1e-8
    assert history.attrs["stopped_by"] == "gap"
    assert int(history["n_stale"].sum()) > 0  # stale results did arrive and were considered
    # DSAG's cache covers every row by the end
    assert history["xi"].values[-1] == 1.0


def test_a_worker_lost_mid_run_stops_the_run_with_a_clear_error(flights):
    import threading

    import pytest
    from distributed import Client, LocalCluster

    from dsag_dask.runtime.coordinator import WorkerLost

    X = with_intercept(standardize(flights.X[:4000])[0])
    problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
    scenario = make_scenario("artificial", base_s=0.5)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        workers = cluster_workers(client)
        data = place(client, X, flights.y[:4000], workers, run_id="lost")
        killer = threading.Timer(1.0, client.restart_workers, args=([workers[1]],))
        killer.start()
        try:
            with pytest.raises(WorkerLost, match=r"worker 1 .* lost gradient task .*memory limit"):
                run_method(client, data, problem, None, method="gd", stepsize=1.0, max_iterations=200,
                           scenario=scenario)
        finally:
            killer.join()


def _layout(block) -> tuple[bool, bool]:
    return bool(block.flags.c_contiguous), bool(block.flags.aligned)


def test_placed_dense_blocks_are_aligned_copies_of_their_rows(client8, flights):
    """Scattered arrays can land misaligned in their frames, where numpy skips BLAS; placement realigns them."""
    X = with_intercept(standardize(flights.X[:40000])[0])
    y = flights.y[:40000]
    data = place(client8, X, y, cluster_workers(client8), run_id="aligned")
    try:
        for i, (start, stop) in enumerate(data.bounds):
            for future, want in ((data.X_blocks[i], X[start:stop]), (data.y_blocks[i], y[start:stop])):
                assert client8.submit(_layout, future, workers=[data.workers[i]], pure=False).result() == (True, True)
                np.testing.assert_array_equal(future.result(), want)
    finally:
        data.release()
