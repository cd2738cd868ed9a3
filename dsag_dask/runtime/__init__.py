"""Runtime: data placement on Dask workers, the worker-side task, and the coordinator loop."""
