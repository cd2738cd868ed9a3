"""dsag-dask: straggler-resilient distributed learning (DSAG) on Dask."""
