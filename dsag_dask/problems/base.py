"""The interface every problem implements (DESIGN.md §2)."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Problem(ABC):
    """A finite-sum problem ``F(V) = R(V) + Σ_i f_i(V)`` with a projected gradient step.

    Instances are small and picklable: they travel with every gradient task, so
    they hold hyper-parameters only, never data. Data-dependent quantities (the
    reference optimum) live in the coordinator-side ``Reference`` returned by
    ``reference``.
    """

    name: str
    stochastic_stepsize: float

    def default_stepsize(self, waits_for_all: bool) -> float:
        """The paper's stepsizes: 1.0 for GD, a problem-specific smaller one for the stochastic methods."""
        return 1.0 if waits_for_all else self.stochastic_stepsize

    @abstractmethod
    def initial(self, n_features: int) -> np.ndarray:
        """The starting iterate ``V⁽⁰⁾``."""

    @abstractmethod
    def partial_gradient(self, X_rows, y_rows: np.ndarray | None, V: np.ndarray) -> np.ndarray:
        """``Σ_k ∇f_k(V)`` over a block of rows (worker side; dense or scipy.sparse rows)."""

    @abstractmethod
    def step(self, V: np.ndarray, gradient: np.ndarray, stepsize: float) -> np.ndarray:
        """``G(V − η (gradient + ∇R(V)))``: the coordinator's update."""

    @abstractmethod
    def reference(self, X, y: np.ndarray | None) -> "Reference":
        """Solve the problem to high precision so suboptimality gaps are exact."""


class Reference(ABC):
    """The optimum of one problem on one data set, and the gap of any iterate to it."""

    optimum: float

    @abstractmethod
    def gaps(self, iterates: list[np.ndarray]) -> np.ndarray:
        """Suboptimality gap of each iterate (relative, scale-free)."""
