"""The DSAG gradient cache (paper §5): overlap eviction, staleness, running sum, coverage."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsag_dask.cache import GradientCache


def test_example_1_repartitioning_evicts_both_overlapping_entries():
    cache = GradientCache(20, (1,))
    cache.insert(0, 5, 1, np.array([1.0]))    # rows 1-5
    cache.insert(5, 10, 1, np.array([2.0]))   # rows 6-10
    outcome = cache.insert(3, 6, 2, np.array([4.0]))  # rows 4-6 after p: 2 -> 3
    assert outcome.accepted and outcome.evicted == 2
    assert cache.entries() == [(3, 6, 2)]
    assert cache.covered_rows == 3 and cache.coverage == pytest.approx(3 / 20)
    assert cache.total[0] == 4.0


def test_example_2_ordered_repopulation():
    cache = GradientCache(10, (1,))
    cache.insert(0, 5, 1, np.array([1.0]))
    cache.insert(5, 10, 1, np.array([1.0]))
    cache.insert(0, 3, 2, np.array([1.0]))    # evicts 1-5: rows 4-5 missing
    assert cache.covered_rows == 8
    cache.insert(3, 6, 3, np.array([1.0]))    # evicts 6-10: rows 7-10 missing
    assert cache.covered_rows == 6
    cache.insert(6, 10, 4, np.array([1.0]))   # nothing missing
    assert cache.coverage == 1.0 and len(cache) == 3


def test_stale_result_is_dropped_when_an_overlap_is_as_fresh():
    cache = GradientCache(10, (2,))
    cache.insert(0, 5, 4, np.ones(2))
    assert not cache.insert(2, 7, 4, np.full(2, 9.0)).accepted
    assert not cache.insert(0, 5, 3, np.full(2, 9.0)).accepted
    assert cache.entries() == [(0, 5, 4)] and np.all(cache.total == 1.0)


def test_same_interval_is_replaced_in_place():
    cache = GradientCache(10, (1,))
    cache.insert(0, 5, 1, np.array([1.0]))
    outcome = cache.insert(0, 5, 2, np.array([3.0]))
    assert outcome.in_place and outcome.evicted == 0
    assert cache.entries() == [(0, 5, 2)] and cache.total[0] == 3.0


def test_adjacent_intervals_do_not_overlap():
    cache = GradientCache(10, (1,))
    cache.insert(0, 5, 5, np.array([1.0]))
    assert cache.insert(5, 10, 1, np.array([1.0])).accepted
    assert len(cache) == 2


def test_interval_outside_rows_is_rejected():
    with pytest.raises(ValueError, match="outside rows"):
        GradientCache(10, (1,)).insert(8, 12, 0, np.array([1.0]))


intervals = st.tuples(st.integers(0, 59), st.integers(1, 20), st.integers(0, 30),
                      st.floats(-1e3, 1e3, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(intervals, max_size=80))
def test_running_sum_and_coverage_match_the_entries(inserts):
    n = 64
    cache = GradientCache(n, (2,))
    shadow = {}
    for start, length, t, value in inserts:
        stop = min(start + length, n)
        vec = np.array([value, -2 * value])
        overlapping = [k for k in shadow if k[0] < stop and start < k[1]]
        expect = not any(shadow[k][0] >= t for k in overlapping)
        outcome = cache.insert(start, stop, t, vec)
        assert outcome.accepted == expect
        if expect:
            for k in overlapping:
                del shadow[k]
            shadow[(start, stop)] = (t, vec)
    assert sorted((a, b, t) for (a, b), (t, _) in shadow.items()) == cache.entries()
    assert cache.covered_rows == sum(b - a for a, b in shadow)
    assert cache.coverage == sum(b - a for a, b in shadow) / n
    exact = sum((v for _, v in shadow.values()), np.zeros(2))
    np.testing.assert_allclose(cache.total, exact, rtol=0, atol=1e-9)
    starts = [e[0] for e in cache.entries()]
    stops = [e[1] for e in cache.entries()]
    assert all(b <= a for a, b in zip(starts[1:], stops[:-1]))
