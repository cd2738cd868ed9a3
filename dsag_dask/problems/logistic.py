"""L2-regularised logistic regression (paper §7): ``f_i = log(1 + exp(−b_i x_iᵀv)) / n``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.special import expit

from dsag_dask.problems.base import Problem, Reference

_BATCH = 32


def _matmul(X, V: np.ndarray) -> np.ndarray:
    """``X @ V`` for dense or scipy.sparse X, always returning a dense array."""
    out = X @ V
    return np.asarray(out.todense()) if scipy.sparse.issparse(out) else np.asarray(out)


def standardize(X) -> tuple[np.ndarray | scipy.sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Zero mean / unit variance columns (paper §7); sparse data is only scaled, to stay sparse.

    Constant columns are left unscaled. Returns (X', mean, scale).
    """
    if scipy.sparse.issparse(X):
        mean = np.zeros(X.shape[1])
        sq = np.asarray(X.multiply(X).mean(axis=0)).ravel()
        scale = np.sqrt(sq - np.asarray(X.mean(axis=0)).ravel() ** 2)
    else:
        mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if scipy.sparse.issparse(X):
        return scipy.sparse.csr_matrix(X @ scipy.sparse.diags(1.0 / scale)), mean, scale
    return (X - mean) / scale, mean, scale


def with_intercept(X):
    """Append a column of ones."""
    ones = np.ones((X.shape[0], 1))
    return scipy.sparse.hstack([X, ones], format="csr") if scipy.sparse.issparse(X) else np.hstack([X, ones])


@dataclass(frozen=True)
class LogisticRegressionProblem(Problem):
    """Binary logistic regression with labels in {−1, +1} and ``R(v) = λ/2 ‖v‖²``.

    ``n_rows`` is the total number of samples: every worker scales its partial
    gradient by ``1/n`` so that the sum over all blocks is the full gradient.
    """

    n_rows: int
    lam: float
    name: str = "logreg"
    stochastic_stepsize: float = 0.25

    def initial(self, n_features: int) -> np.ndarray:
        return np.zeros(n_features)

    def partial_gradient(self, X_rows, y_rows: np.ndarray | None, V: np.ndarray) -> np.ndarray:
        margin = y_rows * _matmul(X_rows, V)
        weights = -y_rows * expit(-margin) / self.n_rows
        return np.asarray(X_rows.T @ weights).ravel()

    def step(self, V: np.ndarray, gradient: np.ndarray, stepsize: float) -> np.ndarray:
        return V - stepsize * (gradient + self.lam * V)

    def objective(self, X, y: np.ndarray, V: np.ndarray) -> float:
        """``F(v)``: mean logistic loss plus the ridge term."""
        return float(np.mean(np.logaddexp(0.0, -y * _matmul(X, V))) + 0.5 * self.lam * V @ V)

    def reference(self, X, y: np.ndarray | None) -> "LogisticReference":
        return LogisticReference(self, X, y, newton(self, X, y))


def newton(problem: LogisticRegressionProblem, X, y: np.ndarray, tol: float = 1e-13,
           max_iter: int = 100) -> np.ndarray:
    """Solve to gradient norm ``tol`` with damped Newton steps on the exact Hessian."""
    n, d = X.shape
    v = np.zeros(d)
    for _ in range(max_iter):
        margin = y * _matmul(X, v)
        p = expit(-margin)
        grad = np.asarray(X.T @ (-y * p)).ravel() / n + problem.lam * v
        if np.linalg.norm(grad) < tol:
            return v
        weights = p * (1.0 - p) / n
        if scipy.sparse.issparse(X):
            hess = np.asarray((X.T @ X.multiply(weights[:, None])).todense())
        else:
            hess = X.T @ (X * weights[:, None])
        hess[np.diag_indices(d)] += problem.lam
        direction = np.linalg.solve(hess, grad)
        f0, t = problem.objective(X, y, v), 1.0
        # accept a step whose change is below rounding, or the search stalls near the optimum
        while problem.objective(X, y, v - t * direction) > f0 + 1e-14 * abs(f0) and t > 1e-10:
            t *= 0.5
        v = v - t * direction
    raise RuntimeError(f"Newton's method did not reach gradient norm {tol} in {max_iter} steps")


class LogisticReference(Reference):
    """``F(v*)`` from Newton's method; gaps are relative, ``(F(v) − F*) / F*``."""

    def __init__(self, problem: LogisticRegressionProblem, X, y: np.ndarray, solution: np.ndarray):
        self.problem, self.X, self.y = problem, X, y
        self.solution = solution
        self.optimum = problem.objective(X, y, solution)

    def gaps(self, iterates: list[np.ndarray]) -> np.ndarray:
        out = np.empty(len(iterates))
        for lo in range(0, len(iterates), _BATCH):
            V = np.stack(iterates[lo:lo + _BATCH], axis=1)
            loss = np.mean(np.logaddexp(0.0, -self.y[:, None] * _matmul(self.X, V)), axis=0)
            obj = loss + 0.5 * self.problem.lam * np.einsum("ij,ij->j", V, V)
            out[lo:lo + _BATCH] = (obj - self.optimum) / self.optimum
        return out
