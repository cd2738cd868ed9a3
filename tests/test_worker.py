"""The worker's sub-partition rows: the same matrix as a slice, copied at most once per sparse sub-partition."""
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
                got = subpartition_rows(state, part)
                want = block[part]
                got = got.toarray() if scipy.sparse.issparse(got) else got
                want = want.toarray() if scipy.sparse.issparse(want) else want
                np.testing.assert_array_equal(got, want)
                # the kept copies are those of the current p only: at most the block's rows
                assert sum(b.shape[0] for b in state.blocks.values()) <= n
                state.k = next_subpartition(state.k, state.p)


def test_a_sparse_subpartition_is_copied_once_and_a_whole_block_never():
    X = scipy.sparse.random(400, 30, density=0.1, format="csr", random_state=1)
    state = WorkerState(p=3, local=X)
    first = subpartition_rows(state, rows(400, 3, 2))
    assert subpartition_rows(state, rows(400, 3, 2)) is first
    assert subpartition_rows(WorkerState(p=1, local=X), rows(400, 1, 1)) is X
    dense = X.toarray()
    assert np.shares_memory(subpartition_rows(WorkerState(p=3, local=dense), rows(400, 3, 2)), dense)
