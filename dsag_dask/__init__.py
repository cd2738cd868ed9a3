"""dsag-dask: straggler-resilient distributed learning (DSAG) on Dask."""
from dsag_dask.estimators import DSAGLogisticRegression, DSAGPCA

__all__ = ["DSAGLogisticRegression", "DSAGPCA"]
__version__ = "0.1.0"
