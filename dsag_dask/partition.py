"""Row partitioning and partition alignment (paper §6.3, Algorithm 2).

Indices follow the paper: partitions are numbered 1..p and rows 1..n, so the
paper's examples read the same here. ``rows()`` converts to a 0-based
half-open slice for numpy.
"""
from __future__ import annotations


def _check(n: int, p: int, k: int) -> None:
    if not 1 <= p <= n:
        raise ValueError(f"need 1 <= p <= n, got p={p}, n={n}")
    if not 1 <= k <= p:
        raise ValueError(f"need 1 <= k <= p, got k={k}, p={p}")


def pstart(n: int, p: int, k: int) -> int:
    """First row (1-based) of partition k when n rows are split into p parts."""
    _check(n, p, k)
    return (k - 1) * n // p + 1


def pstop(n: int, p: int, k: int) -> int:
    """Last row (1-based, inclusive) of partition k of p over n rows."""
    _check(n, p, k)
    return k * n // p


def rows(n: int, p: int, k: int) -> slice:
    """0-based half-open slice of partition k of p over n rows."""
    return slice(pstart(n, p, k) - 1, pstop(n, p, k))


def worker_bounds(n: int, n_workers: int) -> list[tuple[int, int]]:
    """0-based half-open row ranges ``[start, stop)`` held by each worker."""
    return [(pstart(n, n_workers, i) - 1, pstop(n, n_workers, i)) for i in range(1, n_workers + 1)]


def next_subpartition(k: int, p: int) -> int:
    """Cyclic step through sub-partitions, eq. (8): ``k <- mod(k, p) + 1``."""
    return k % p + 1


def ptrans(n: int, p: int, p_new: int, k: int) -> int:
    """Index of the partition (out of p_new) holding the first row of partition k of p."""
    return -(-pstart(n, p, k) * p_new // n)


def align(n: int, p: int, p_new: int, k: int) -> tuple[int, int]:
    """Algorithm 2: step past sub-partition k of p and re-partition into p_new.

    Returns ``(p_new, k_new)`` such that partition ``k_new`` of ``p_new`` starts
    on a row where one of the old partitions started, so the coordinator's cache
    entries are re-populated in order and as few as possible are evicted.

    Unlike the paper's listing, the first comparison is made against the old
    partition that holds the new partition's first row (as every later one is):
    the listing compares with the stepped-to old partition first and can step
    below 1 (e.g. n=2, p=2 -> 1). Both agree on the paper's Examples 2 and 3.
    """
    k_new = ptrans(n, p, p_new, next_subpartition(k, p))
    while pstart(n, p_new, k_new) != pstart(n, p, ptrans(n, p_new, p, k_new)):
        k_new -= 1
    return p_new, k_new
