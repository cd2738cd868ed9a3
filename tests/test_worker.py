"""The worker's sub-partition rows: the same matrix as a slice, without copying the block's values."""
import numpy as np
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from dsag_dask.partition import align, next_subpartition, rows
from dsag_dask.runtime.worker import WorkerState, subpartition_rows


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), d=st.integers(1, 8), loads=st.lists(st.integers(1, 60), min_size=1, max_size=4),
       visits=st.integers(1, 30), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_subpartition_rows_equal_the_slice_through_re_partitioning(n, d, loads, visits, density, seed):
    X = scipy.sparse.random(n, d, density=density, format="csr", random_state=seed)
    for block in (X, X.toarray()):
        state = WorkerState(p=min(loads[0], n), local=block)
        for load in loads:
            load = min(load, n)
            if load != state.p and state.k:
                state.p, state.k = align(n, state.p, load, state.k)
            else:
                state.p, state.k = load, next_subpartition(state.k, load)
            for _ in range(visits):
                part = rows(n, state.p, state.k)
                got = subpartition_rows(block, part)
                want = block[part]
                if scipy.sparse.issparse(got):
                    got, want = got.toarray(), want.toarray()
                np.testing.assert_array_equal(got, want)
                state.k = next_subpartition(state.k, state.p)


def test_a_subpartition_shares_the_blocks_values_and_products_match_the_copy():
    X = scipy.sparse.random(400, 30, density=0.1, format="csr", random_state=1)
    part = rows(400, 3, 2)
    view = subpartition_rows(X, part)
    assert np.shares_memory(view.data, X.data) and np.shares_memory(view.indices, X.indices)
    v, r = np.arange(30.0), np.arange(float(part.stop - part.start))
    np.testing.assert_allclose(view @ v, X[part] @ v, rtol=1e-15)
    np.testing.assert_allclose(view.T @ r, X[part].T @ r, rtol=1e-15)
    assert subpartition_rows(X, rows(400, 1, 1)) is X
    dense = X.toarray()
    assert np.shares_memory(subpartition_rows(dense, part), dense)
