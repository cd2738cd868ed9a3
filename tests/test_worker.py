"""The worker's sub-partition rows: the same matrix as a slice, sparse ones copied once per p."""
import numpy as np
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from dsag_dask.partition import align, next_subpartition, rows
from dsag_dask.runtime.worker import WorkerState, split_rows, subpartition_rows


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
            state.parts, state.parts_p = split_rows(block, state.p), state.p
            # the kept copies are those of the current p only, and hold each row once
            assert sum(m.shape[0] for m in state.parts.values()) in (0, n)
            for _ in range(visits):
                part = rows(n, state.p, state.k)
                got, want = subpartition_rows(state, part), block[part]
                if scipy.sparse.issparse(got):
                    got, want = got.toarray(), want.toarray()
                np.testing.assert_array_equal(got, want)
                state.k = next_subpartition(state.k, state.p)


def test_a_sparse_subpartition_is_copied_once_per_p_and_a_whole_block_never():
    X = scipy.sparse.random(400, 30, density=0.1, format="csr", random_state=1)
    state = WorkerState(p=3, local=X, parts=split_rows(X, 3), parts_p=3)
    first = subpartition_rows(state, rows(400, 3, 2))
    assert subpartition_rows(state, rows(400, 3, 2)) is first
    assert split_rows(X, 1) == {} and subpartition_rows(WorkerState(p=1, local=X), rows(400, 1, 1)) is X
    dense = X.toarray()
    assert split_rows(dense, 3) == {}
    assert np.shares_memory(subpartition_rows(WorkerState(p=3, local=dense), rows(400, 3, 2)), dense)


def test_the_first_task_after_a_new_p_is_timed_without_the_copies(monkeypatch):
    """The one-off copies happen before the compute clock starts, so compute_s reflects the gradient only."""
    import time

    from dsag_dask.problems import PCAProblem
    from dsag_dask.runtime import worker
    from dsag_dask.stragglers import NoStragglers

    X = scipy.sparse.random(2000, 50, density=0.2, format="csr", random_state=2)
    slow_split = lambda block, p: (time.sleep(0.3), split_rows(block, p))[1]
    monkeypatch.setattr(worker, "split_rows", slow_split)
    kwargs = dict(run_id="timing", worker=0, n_workers=1, row_offset=0, problem=PCAProblem(n_components=2),
                  scenario=NoStragglers(), elapsed_s=0.0)
    V = np.linalg.qr(np.random.default_rng(0).standard_normal((50, 2)))[0]
    try:
        for p in (4, 4, 2):
            result = worker.gradient_task(X, None, V, p=p, **kwargs)
            assert result.p == p and result.compute_s < 0.3
    finally:
        worker.forget_run("timing")
