"""scikit-learn-style estimators for Jupyter and scripts: ``fit(X, y, client=...)`` returns self."""
from __future__ import annotations

import numpy as np
import scipy.sparse
import xarray as xr
from distributed import Client, default_client

from dsag_dask.history import time_to_gap
from dsag_dask.methods import get_method
from dsag_dask.problems import LogisticRegressionProblem, PCAProblem
from dsag_dask.problems.logistic import standardize, with_intercept
from dsag_dask.runtime.placement import place
from dsag_dask.runtime.run import cluster_workers, run_method
from dsag_dask.stragglers import make_scenario
from dsag_dask.validation import as_binary_labels, as_matrix, check_settings


class _DSAGEstimator:
    """Shared fit machinery: validate, place rows on workers, run, record ``history_``."""

    def __init__(self, method: str = "dsag", w: int | None = None, p: int = 1,
                 stepsize: float | None = None, margin: float = 0.02, max_iter: int | None = 300,
                 time_limit_s: float | None = None, tol: float | None = None,
                 n_workers: int | None = None, scenario: str = "none",
                 scenario_params: dict | None = None, progress: bool = False):
        self.method = method
        self.w = w
        self.p = p
        self.stepsize = stepsize
        self.margin = margin
        self.max_iter = max_iter
        self.time_limit_s = time_limit_s
        self.tol = tol
        self.n_workers = n_workers
        self.scenario = scenario
        self.scenario_params = scenario_params
        self.progress = progress

    def get_params(self, deep: bool = True) -> dict:
        """Hyper-parameters, as scikit-learn expects."""
        names = self.__init__.__code__.co_varnames[1:self.__init__.__code__.co_argcount]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params) -> "_DSAGEstimator":
        """Set hyper-parameters, rejecting unknown names."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"unknown parameter {key!r}; valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def _run(self, X, y, problem, client: Client | None) -> np.ndarray:
        scenario = make_scenario(self.scenario, **(self.scenario_params or {}))
        if client is None:
            try:
                client = default_client()
            except ValueError:
                raise ValueError("no Dask client: pass client=Client(...) or create one first") from None
        workers = cluster_workers(client, self.n_workers)
        spec = get_method(self.method)
        w = len(workers) if spec.waits_for_all or self.w is None else self.w
        check_settings(X.shape[0], len(workers), w, 1 if spec.waits_for_all else self.p,
                       1.0 if self.stepsize is None else self.stepsize, self.margin)
        reference = problem.reference(X, y)
        data = place(client, X, y, workers, run_id=problem.name)
        try:
            V, history = run_method(
                client, data, problem, reference, method=self.method, w=self.w, p=self.p,
                stepsize=self.stepsize, margin=self.margin, max_iterations=self.max_iter,
                time_limit_s=self.time_limit_s, target_gap=self.tol, scenario=scenario,
                progress=self.progress)
        finally:
            data.release()
        self.history_: xr.Dataset = history
        self.n_iter_ = int(history.sizes["iteration"])
        self.gap_ = float(history["gap"].values[-1])
        self.time_to_gap_ = time_to_gap(history)
        self.optimum_ = reference.optimum
        self.n_workers_ = len(workers)
        return V


class DSAGLogisticRegression(_DSAGEstimator):
    """L2-regularised logistic regression (λ = 1/n by default) solved by DSAG or a baseline.

    Features are standardised and an intercept appended, as in the paper; ``coef_``
    and ``intercept_`` are reported on the original feature scale.
    """

    def __init__(self, method: str = "dsag", w: int | None = None, p: int = 1,
                 stepsize: float | None = None, margin: float = 0.02, max_iter: int | None = 300,
                 time_limit_s: float | None = None, tol: float | None = None,
                 n_workers: int | None = None, scenario: str = "none",
                 scenario_params: dict | None = None, progress: bool = False,
                 lam: float | None = None):
        super().__init__(method, w, p, stepsize, margin, max_iter, time_limit_s, tol, n_workers,
                         scenario, scenario_params, progress)
        self.lam = lam

    def fit(self, X, y, client: Client | None = None) -> "DSAGLogisticRegression":
        """Fit on rows of X (numpy, scipy.sparse or dask) with two-class labels y."""
        X = as_matrix(X)
        labels, self.classes_ = as_binary_labels(y, X.shape[0])
        Xs, self.feature_mean_, self.feature_scale_ = standardize(X)
        Xs = with_intercept(Xs)
        lam = 1.0 / X.shape[0] if self.lam is None else self.lam
        if lam < 0:
            raise ValueError(f"lam={lam} must be >= 0")
        problem = LogisticRegressionProblem(n_rows=X.shape[0], lam=lam)
        v = self._run(Xs, labels, problem, client)
        self.coef_standardized_ = v
        self.coef_ = v[:-1] / self.feature_scale_
        self.intercept_ = float(v[-1] - self.coef_ @ self.feature_mean_)
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        """``X @ coef_ + intercept_``: positive means the second class."""
        return np.asarray(as_matrix(X) @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        from scipy.special import expit

        positive = expit(self.decision_function(X))
        return np.column_stack([1 - positive, positive])

    def predict(self, X) -> np.ndarray:
        """The more probable class of each row."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class DSAGPCA(_DSAGEstimator):
    """Top principal components (uncentred, as in the paper) by DSAG or a baseline.

    ``components_`` is (n_components × n_features) like scikit-learn's PCA;
    ``explained_variance_ratio_`` is each component's share of ``‖X‖_F²``.
    """

    def __init__(self, n_components: int = 3, method: str = "dsag", w: int | None = None,
                 p: int = 1, stepsize: float | None = None, margin: float = 0.02,
                 max_iter: int | None = 300, time_limit_s: float | None = None,
                 tol: float | None = None, n_workers: int | None = None, scenario: str = "none",
                 scenario_params: dict | None = None, progress: bool = False, seed: int = 0):
        super().__init__(method, w, p, stepsize, margin, max_iter, time_limit_s, tol, n_workers,
                         scenario, scenario_params, progress)
        self.n_components = n_components
        self.seed = seed

    def fit(self, X, y=None, client: Client | None = None) -> "DSAGPCA":
        """Fit on the rows of X (numpy, scipy.sparse or dask); y is ignored."""
        X = as_matrix(X)
        if not isinstance(self.n_components, (int, np.integer)) or not 1 <= self.n_components <= min(X.shape):
            raise ValueError(f"n_components={self.n_components} must be between 1 and {min(X.shape)}")
        V = self._run(X, None, PCAProblem(self.n_components, self.seed), client)
        self.components_ = V.T
        XV = np.asarray(X @ V)
        total = float(X.multiply(X).sum()) if scipy.sparse.issparse(X) else float(np.sum(X * X))
        self.explained_variance_ratio_ = np.sum(XV * XV, axis=0) / total
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Project rows onto the components."""
        return np.asarray(as_matrix(X) @ self.components_.T)
