"""The DSAG gradient cache (paper §5): interval-keyed, staleness-aware, with a running sum."""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InsertResult:
    """What one insert did: whether the new entry was kept and how many entries it evicted."""

    accepted: bool
    evicted: int
    in_place: bool


class GradientCache:
    """Cached partial gradients over disjoint row intervals.

    Entries are ``(start, stop, t, value)`` with 0-based half-open row intervals
    ``[start, stop)`` and ``t`` the iteration whose iterate produced ``value``.
    Intervals never overlap, so they are kept sorted by start and found by
    bisection (O(log |Y|) to locate the overlapping run). The running sum ``H``
    and the number of covered rows are updated incrementally on every change.
    """

    def __init__(self, n_rows: int, shape: tuple[int, ...], dtype: np.dtype = np.float64):
        if n_rows < 1:
            raise ValueError(f"n_rows must be positive, got {n_rows}")
        self.n_rows = n_rows
        self._starts: list[int] = []
        self._stops: list[int] = []
        self._iters: list[int] = []
        self._values: list[np.ndarray] = []
        self.total = np.zeros(shape, dtype=dtype)
        self.covered_rows = 0

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def coverage(self) -> float:
        """ξ: the fraction of all rows covered by cached entries."""
        return self.covered_rows / self.n_rows

    def entries(self) -> list[tuple[int, int, int]]:
        """The cached ``(start, stop, t)`` triples, in row order."""
        return list(zip(self._starts, self._stops, self._iters))

    def value(self, index: int) -> np.ndarray:
        """The cached value of the entry at position ``index`` (row order)."""
        return self._values[index]

    def _overlapping(self, start: int, stop: int) -> tuple[int, int]:
        """Positions ``[lo, hi)`` of the entries whose intervals overlap ``[start, stop)``."""
        lo = bisect.bisect_right(self._starts, start) - 1
        if lo < 0 or self._stops[lo] <= start:
            lo += 1
        hi = bisect.bisect_left(self._starts, stop, lo)
        return lo, hi

    def insert(self, start: int, stop: int, t: int, value: np.ndarray) -> InsertResult:
        """Insert ``Y_{start:stop}^{(t)}`` unless an overlapping entry is as fresh or fresher."""
        if not 0 <= start < stop <= self.n_rows:
            raise ValueError(f"interval [{start}, {stop}) outside rows [0, {self.n_rows})")
        lo, hi = self._overlapping(start, stop)
        if any(self._iters[j] >= t for j in range(lo, hi)):
            return InsertResult(accepted=False, evicted=0, in_place=False)
        if hi - lo == 1 and self._starts[lo] == start and self._stops[lo] == stop:
            self.total += value
            self.total -= self._values[lo]
            self._values[lo] = value
            self._iters[lo] = t
            return InsertResult(accepted=True, evicted=0, in_place=True)
        for j in range(lo, hi):
            self.total -= self._values[j]
            self.covered_rows -= self._stops[j] - self._starts[j]
        del self._starts[lo:hi], self._stops[lo:hi], self._iters[lo:hi], self._values[lo:hi]
        self._starts.insert(lo, start)
        self._stops.insert(lo, stop)
        self._iters.insert(lo, t)
        self._values.insert(lo, value)
        self.total += value
        self.covered_rows += stop - start
        return InsertResult(accepted=True, evicted=hi - lo, in_place=False)
