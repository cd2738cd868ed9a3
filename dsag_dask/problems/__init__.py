"""Problems: loss, worker-side partial gradient, projection and metric, one class each."""
from dsag_dask.problems.base import Problem
from dsag_dask.problems.logistic import LogisticRegressionProblem
from dsag_dask.problems.pca import PCAProblem

__all__ = ["Problem", "LogisticRegressionProblem", "PCAProblem"]
