"""DSAG-LB on a real LocalCluster: re-balancing happens, the data stays put, the optimum is reached."""
from dsag_dask.methods import get_method
from dsag_dask.problems import LogisticRegressionProblem
from dsag_dask.problems.logistic import standardize, with_intercept
from dsag_dask.runtime.coordinator import BalancerSettings, Coordinator, Settings
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers
from dsag_dask.stragglers import make_scenario


def test_dsag_lb_reaches_1e_8_without_moving_data(client8, flights):
    X = with_intercept(standardize(flights.X)[0])
    problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
    reference = problem.reference(X, flights.y)
    workers = cluster_workers(client8)
    data = place(client8, X, flights.y, workers, run_id="lb")
    expected = {f.key: {workers[i]} for blocks in (data.X_blocks, data.y_blocks)
                for i, f in enumerate(blocks)}
    seen = []

    def check(t, coordinator):
        if t % 10 == 0:
            seen.append(data.locations(client8))

    # A lasting imbalance well above the machine's noise (worker 8 is 4x slower than its base,
    # nobody is relieved) and p = 4, so that one load step is a fine enough change to help.
    settings = Settings(get_method("dsag-lb"), w=3, p=[4] * 8, stepsize=2.0, max_iterations=None,
                        time_limit_s=120, target_gap=1e-9, balance=BalancerSettings(window_s=5.0))
    scenario = make_scenario("artificial", factor=3.0, base_s=0.1, relieved_fraction=0.0)
    coordinator = Coordinator(client8, data, problem, settings, scenario, reference, on_iteration=check)
    try:
        trace = coordinator.run()
        seen.append(data.locations(client8))
    finally:
        data.release()
    gaps = reference.gaps(trace.iterates)
    assert len(trace.rebalances) >= 1
    assert coordinator.balancer.events and coordinator.p != [4] * 8
    assert any(p != 4 for _, _, new_p in trace.rebalances for p in new_p)
    assert gaps.min() <= 1e-8, (gaps.min(), len(trace.rebalances), len(trace.iterates))
    assert all(locations == expected for locations in seen)
    # re-partitioning evicted cache entries, and the run recorded how many
    assert sum(trace.evicted) > 0
