"""The latency model against a real run (paper Fig. 5/6): fit on the start, predict the rest."""
from dsag_dask.job import prepare_problem
from dsag_dask.latency.prediction import validate_on_history
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers, run_method
from dsag_dask.stragglers import make_scenario


def test_model_fitted_on_the_first_half_predicts_the_second(client8):
    problem, X, y, _ = prepare_problem("logreg", "flights")
    data = place(client8, X, y, cluster_workers(client8), run_id="latency")
    try:
        _, history = run_method(client8, data, problem, None, method="dsag", w=4, p=4, stepsize=1.0,
                                max_iterations=None, time_limit_s=30,
                                scenario=make_scenario("gamma-burst", seed=0, base_s=0.1))
    finally:
        data.release()
    report = validate_on_history(history, fit_fraction=0.5)
    assert report["iterations_predicted"] >= 30
    # loose bound: the figure itself is a benchmark (BENCHMARKS.md, dsag bench latency-model)
    assert report["error_per_worker_model"] <= 0.25, report
