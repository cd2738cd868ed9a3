"""Row partitioning and Algorithm 2, with the paper's Examples 1-3 (§6.3)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsag_dask.partition import align, next_subpartition, pstart, pstop, ptrans, rows, worker_bounds


def test_example_1_two_workers_of_ten_rows():
    assert [(pstart(20, 2, i), pstop(20, 2, i)) for i in (1, 2)] == [(1, 10), (11, 20)]
    assert [(pstart(10, 2, k), pstop(10, 2, k)) for k in (1, 2)] == [(1, 5), (6, 10)]
    assert [(pstart(10, 3, k), pstop(10, 3, k)) for k in (1, 2, 3)] == [(1, 3), (4, 6), (7, 10)]


def test_example_3_alignment_steps_back_to_the_first_partition():
    # processed k=1 of p=2; moving to p'=3 the worker ends on k'=1 after stepping back from 2
    assert ptrans(10, 2, 3, 2) == 2
    assert pstart(10, 3, 2) == 4 != pstart(10, 2, 2) == 6
    assert align(10, 2, 3, 1) == (3, 1)


def test_alignment_keeps_position_when_boundaries_agree():
    # n_i = 10, p = 2 -> 4: k = 2 aligns with k' = 3 (pstart(10, 4, 3) = 6 = pstart(10, 2, 2))
    assert pstart(10, 4, 3) == 6 == pstart(10, 2, 2)
    assert align(10, 2, 4, 1) == (4, 3)


def test_cyclic_walk_and_slices():
    assert [next_subpartition(k, 3) for k in (0, 1, 2, 3)] == [1, 2, 3, 1]
    assert rows(10, 3, 3) == slice(6, 10)
    assert worker_bounds(20, 2) == [(0, 10), (10, 20)]


def test_bad_partition_arguments_are_rejected():
    with pytest.raises(ValueError, match="p <= n"):
        pstart(3, 4, 1)
    with pytest.raises(ValueError, match="k <= p"):
        pstop(10, 2, 3)


@given(st.integers(1, 500), st.data())
def test_partitions_tile_the_rows(n, data):
    p = data.draw(st.integers(1, n))
    bounds = [(pstart(n, p, k), pstop(n, p, k)) for k in range(1, p + 1)]
    assert bounds[0][0] == 1 and bounds[-1][1] == n
    assert all(a[1] + 1 == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(stop >= start for start, stop in bounds)


@given(st.integers(1, 300), st.data())
def test_alignment_lands_on_an_old_boundary(n, data):
    p = data.draw(st.integers(1, n))
    p_new = data.draw(st.integers(1, n))
    k = data.draw(st.integers(1, p))
    p_out, k_new = align(n, p, p_new, k)
    assert p_out == p_new and 1 <= k_new <= p_new
    old_starts = {pstart(n, p, j) for j in range(1, p + 1)}
    assert pstart(n, p_new, k_new) in old_starts
