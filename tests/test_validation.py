"""Bad input gets a clear error naming the problem, before any work is done."""
import numpy as np
import pytest
import scipy.sparse

from dsag_dask import DSAGLogisticRegression, DSAGPCA
from dsag_dask.stragglers import make_scenario


def _data(n=200, d=4):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("params, message", [
    ({"w": 9}, r"w=9 must be an integer between 1 and the number of workers \(8\)"),
    ({"w": 0}, r"w=0 must be an integer between 1"),
    ({"p": 0}, r"p=0 must be a positive integer"),
    ({"p": 26}, r"p=26 is larger than worker 0's 25 rows"),
    ({"stepsize": 0.0}, r"stepsize=0.0 must be a positive number"),
    ({"stepsize": -1.0}, r"stepsize=-1.0 must be a positive number"),
    ({"margin": -0.1}, r"margin=-0.1 must be >= 0"),
    ({"method": "adam"}, r"unknown method 'adam'; choose one of dsag, dsag-lb, gd, sag, sag-lb, sgd, sgd-lb"),
    ({"scenario": "meteor"}, r"unknown straggler scenario 'meteor'"),
    ({"scenario": "artificial", "scenario_params": {"speed": 2}}, r"bad parameters for scenario 'artificial'"),
    ({"n_workers": 20}, r"asked for 20 workers but the cluster has 8"),
])
def test_bad_settings(client8, params, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        DSAGLogisticRegression(**params).fit(X, y, client=client8)


@pytest.mark.parametrize("X_change, y_change, message", [
    (lambda X: np.where(X > 1.5, np.nan, X), None, r"X contains \d+ NaN or infinite value"),
    (lambda X: np.where(X > 1.5, np.inf, X), None, r"X contains \d+ NaN or infinite value"),
    (lambda X: X[:0], lambda y: y[:0], r"X is empty"),
    (lambda X: X[:, :0], None, r"X is empty"),
    (lambda X: X[0], None, r"X must be 2-dimensional"),
    (None, lambda y: y[:-1], r"X has 200 rows but y has 199 labels"),
    (None, lambda y: np.arange(200) % 3, r"labels must be binary \(exactly two classes\), found 3"),
    (None, lambda y: np.zeros(200), r"labels must be binary \(exactly two classes\), found 1"),
    (lambda X: X.astype(str).astype(object) + "x", None, r"X must be numeric"),
])
def test_bad_data(client8, X_change, y_change, message):
    X, y = _data()
    X = X_change(X) if X_change else X
    y = y_change(y) if y_change else y
    with pytest.raises(ValueError, match=message):
        DSAGLogisticRegression().fit(X, y, client=client8)


def test_sparse_nan_and_pca_components(client8):
    S = scipy.sparse.random(100, 6, density=0.5, random_state=0, format="csr")
    S.data[3] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        DSAGPCA().fit(S, client=client8)
    with pytest.raises(ValueError, match=r"n_components=7 must be between 1 and 6"):
        DSAGPCA(n_components=7).fit(np.ones((100, 6)), client=client8)


def test_no_client_is_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match="no Dask client"):
        DSAGLogisticRegression().fit(X, y)


def test_more_workers_than_rows(client8):
    with pytest.raises(ValueError, match="5 rows cannot be split over 8 workers"):
        DSAGPCA(n_components=1).fit(np.eye(5), client=client8)


def test_unknown_estimator_parameter():
    with pytest.raises(ValueError, match="unknown parameter 'speed'"):
        DSAGLogisticRegression().set_params(speed=2)
    assert DSAGLogisticRegression(w=3).get_params()["w"] == 3


def test_scenarios_by_name():
    scenario = make_scenario("artificial", factor=0.4, base_s=0.1)
    assert scenario.delay(7, 8, 0.5, 0.0, 0) == pytest.approx(0.1 + 0.1 * 0.4)
    assert scenario.delay(7, 8, 1.5, 0.0, 0) == pytest.approx(0.1)  # relieved after 1 s
    assert scenario.delay(5, 8, 1.5, 0.0, 0) == pytest.approx(0.1 + 0.1 * 0.4 * 6 / 8)


def test_each_workers_p_is_checked_against_its_own_rows():
    from dsag_dask.partition import worker_bounds
    from dsag_dask.validation import check_settings

    assert [b - a for a, b in worker_bounds(10, 4)] == [2, 3, 2, 3]
    check_settings(10, 4, w=2, p=[2, 3, 2, 3], stepsize=1.0, margin=0.0)
    with pytest.raises(ValueError, match=r"p=3 is larger than worker 2's 2 rows: use p <= 2"):
        check_settings(10, 4, w=2, p=[2, 3, 3, 3], stepsize=1.0, margin=0.0)
