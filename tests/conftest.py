"""Shared fixtures: real Dask clusters of worker processes, and the real data sets."""
import pytest
from distributed import Client, LocalCluster

from dsag_dask.datasets import load_flights, load_movielens


@pytest.fixture(scope="session")
def cluster8():
    """A LocalCluster of 8 single-threaded worker processes, shared by the session's tests."""
    with LocalCluster(n_workers=8, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture()
def client8(cluster8):
    with Client(cluster8) as client:
        yield client


@pytest.fixture(scope="session")
def flights():
    return load_flights()


@pytest.fixture(scope="session")
def movielens():
    return load_movielens()
