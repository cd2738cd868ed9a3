"""Problems: partial gradients add up to the full gradient; references are exact."""
import numpy as np
import pytest
import scipy.sparse

from dsag_dask.problems import LogisticRegressionProblem, PCAProblem
from dsag_dask.problems.logistic import newton, standardize, with_intercept
from dsag_dask.problems.pca import orthonormalize


def _logreg_data(n=400, d=5, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return with_intercept(standardize(X)[0]), y


def _numeric_gradient(f, v, h=1e-6):
    return np.array([(f(v + h * e) - f(v - h * e)) / (2 * h) for e in np.eye(v.size)])


@pytest.mark.parametrize("as_sparse", [False, True])
def test_logistic_partial_gradients_sum_to_the_full_gradient(as_sparse):
    X, y = _logreg_data()
    problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
    v = np.linspace(-0.5, 0.5, X.shape[1])
    Xb = scipy.sparse.csr_matrix(X) if as_sparse else X
    blocks = [problem.partial_gradient(Xb[a:b], y[a:b], v) for a, b in [(0, 130), (130, 131), (131, 400)]]
    total = sum(blocks) + problem.lam * v
    numeric = _numeric_gradient(lambda u: problem.objective(X, y, u), v)
    np.testing.assert_allclose(total, numeric, rtol=1e-6, atol=1e-9)


def test_logistic_reference_is_stationary_and_gaps_are_relative():
    X, y = _logreg_data()
    problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=1.0 / X.shape[0])
    ref = problem.reference(X, y)
    grad = problem.partial_gradient(X, y, ref.solution) + problem.lam * ref.solution
    assert np.linalg.norm(grad) < 1e-12
    v0 = np.zeros(X.shape[1])
    assert ref.gaps([v0])[0] == pytest.approx((np.log(2) - ref.optimum) / ref.optimum)
    assert abs(ref.gaps([ref.solution])[0]) < 1e-15


def test_standardize_centres_dense_and_only_scales_sparse():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)) * [1, 10, 0] + [5, 0, 2]
    Xs, mean, scale = standardize(X)
    np.testing.assert_allclose(Xs[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Xs[:, :2].std(0), 1)
    assert scale[2] == 1.0  # constant column left unscaled
    S = scipy.sparse.random(40, 4, density=0.3, random_state=1, format="csr")
    Ss, mean, _ = standardize(S)
    assert scipy.sparse.issparse(Ss) and np.all(mean == 0) and Ss.nnz == S.nnz


@pytest.mark.parametrize("as_sparse", [False, True])
def test_pca_partial_gradients_and_reference_match_dense_eigh(as_sparse):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 12)) @ np.diag(np.linspace(3, 0.1, 12))
    Xb = scipy.sparse.csr_matrix(X) if as_sparse else X
    problem = PCAProblem(n_components=3)
    V = problem.initial(12)
    blocks = problem.partial_gradient(Xb[:25], None, V) + problem.partial_gradient(Xb[25:], None, V)
    np.testing.assert_allclose(blocks, -X.T @ X @ V, rtol=1e-12)
    ref = problem.reference(Xb, None)
    top = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1][:3]
    np.testing.assert_allclose(ref.eigenvalues, top, rtol=1e-12)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    assert abs(ref.gaps([vt[:3].T])[0]) < 1e-14


def test_pca_gd_step_with_unit_stepsize_is_a_power_iteration():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 6))
    problem = PCAProblem(n_components=2)
    V = problem.initial(6)
    stepped = problem.step(V, problem.partial_gradient(X, None, V), 1.0)
    np.testing.assert_allclose(stepped, orthonormalize(X.T @ X @ V), atol=1e-13)
    np.testing.assert_allclose(stepped.T @ stepped, np.eye(2), atol=1e-13)


def test_newton_reports_failure_to_converge():
    X, y = _logreg_data()
    with pytest.raises(RuntimeError, match="did not reach"):
        newton(LogisticRegressionProblem(X.shape[0], 1.0 / X.shape[0]), X, y, max_iter=1)


def test_movielens_matrix_and_reference(movielens):
    assert movielens.describe() == {"name": "dslabs/movielens", "rows": 671, "cols": 9066, "nnz": 100004}
    ref = PCAProblem(3).reference(movielens.X, None)
    gram = (movielens.X @ movielens.X.T).toarray()
    np.testing.assert_allclose(ref.eigenvalues, np.sort(np.linalg.eigvalsh(gram))[::-1][:3], rtol=1e-10)


def test_flights_features(flights):
    assert flights.X.shape == (327346, 29)
    assert set(np.unique(flights.y)) == {-1.0, 1.0}
    assert np.all(np.isfinite(flights.X))
    assert "carrier_UA" in flights.columns and "origin_JFK" in flights.columns
