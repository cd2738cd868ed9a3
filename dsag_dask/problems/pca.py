"""PCA as a finite-sum problem (paper eq. 9): ``f_i(V) = ½‖x_i − x_i V Vᵀ‖²``, ``G`` = Gram-Schmidt."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from dsag_dask.problems.base import Problem, Reference


def orthonormalize(V: np.ndarray) -> np.ndarray:
    """Gram-Schmidt on the columns of V, as a thin QR with a non-negative diagonal of R."""
    Q, R = np.linalg.qr(V)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return Q * signs


def _dense(a) -> np.ndarray:
    return np.asarray(a.todense()) if scipy.sparse.issparse(a) else np.asarray(a)


@dataclass(frozen=True)
class PCAProblem(Problem):
    """Top-k principal components; with stepsize 1, GD is exactly the power method.

    The data are not centred (as in the paper, which keeps genotype matrices sparse).
    """

    n_components: int = 3
    seed: int = 0
    name: str = "pca"
    stochastic_stepsize: float = 0.9

    def initial(self, n_features: int) -> np.ndarray:
        if self.n_components > n_features:
            raise ValueError(f"n_components={self.n_components} exceeds the {n_features} features")
        rng = np.random.default_rng(self.seed)
        return orthonormalize(rng.standard_normal((n_features, self.n_components)))

    def partial_gradient(self, X_rows, y_rows: np.ndarray | None, V: np.ndarray) -> np.ndarray:
        return -_dense(X_rows.T @ _dense(X_rows @ V))

    def step(self, V: np.ndarray, gradient: np.ndarray, stepsize: float) -> np.ndarray:
        return orthonormalize(V - stepsize * (gradient + V))

    def reference(self, X, y: np.ndarray | None) -> "PCAReference":
        return PCAReference(self, X)


class PCAReference(Reference):
    """Explained variance as a fraction of ``‖X‖_F²``; the optimum from ``eigsh``.

    ``eigsh`` runs on the smaller of the two Gram operators ``XᵀX`` and ``XXᵀ``
    (same non-zero spectrum) to machine precision.
    """

    def __init__(self, problem: PCAProblem, X):
        self.X = X
        n, d = X.shape
        k = problem.n_components
        self.total = float(X.multiply(X).sum()) if scipy.sparse.issparse(X) else float(np.sum(X * X))
        if self.total == 0.0:
            raise ValueError("X is all zeros: there is no variance to explain")
        size = min(n, d)
        if n <= d:
            matvec = lambda v: X @ _dense(X.T @ v)  # noqa: E731
        else:
            matvec = lambda v: X.T @ _dense(X @ v)  # noqa: E731
        gram = scipy.sparse.linalg.LinearOperator((size, size), matvec=matvec, dtype=np.float64)
        if k >= size - 1:
            dense = np.column_stack([matvec(e) for e in np.eye(size)])
            eigenvalues = np.linalg.eigvalsh(dense)[-k:]
        else:
            eigenvalues = scipy.sparse.linalg.eigsh(gram, k=k, which="LA", tol=0.0,
                                                    v0=np.ones(size), return_eigenvectors=False)
        self.eigenvalues = np.sort(eigenvalues)[::-1]
        self.optimum = float(np.sum(self.eigenvalues)) / self.total

    def explained_variance(self, V: np.ndarray) -> float:
        """``‖XV‖_F² / ‖X‖_F²`` for an orthonormal V."""
        XV = _dense(self.X @ V)
        return float(np.sum(XV * XV)) / self.total

    def gaps(self, iterates: list[np.ndarray]) -> np.ndarray:
        return np.array([self.optimum - self.explained_variance(V) for V in iterates])
