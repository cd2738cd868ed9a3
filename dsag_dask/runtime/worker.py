"""The worker side: one gradient task per sub-partition, with the worker's own (k, p) state.

Workers do not know the iteration index (paper §6.3, footnote 15): each keeps its
sub-partition counter ``k`` and count ``p`` between tasks, in process memory keyed
by run and worker. A new ``p`` arrives with a task and is applied with
Algorithm 2 before picking the next sub-partition.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
import sparse

from dsag_dask.partition import align, next_subpartition, rows
from dsag_dask.problems.base import Problem
from dsag_dask.stragglers import Scenario


@dataclass
class WorkerState:
    """A worker's position in its cyclic walk over sub-partitions."""

    p: int
    k: int = 0
    tasks: int = 0
    local: object = None
    parts: dict = field(default_factory=dict)
    parts_p: int = 0


@dataclass(frozen=True)
class GradientResult:
    """What a task returns: the global row interval, the partial gradient and timings."""

    start: int
    stop: int
    value: np.ndarray
    compute_s: float
    delay_s: float
    p: int


_STATES: dict[tuple[str, int], WorkerState] = {}
_LOCK = threading.Lock()


def _local(block):
    """The block in the fastest form for row slicing and products (CSR for sparse)."""
    if isinstance(block, sparse.SparseArray):
        return scipy.sparse.csr_matrix(block.to_scipy_sparse())
    return block


def split_rows(X: np.ndarray | scipy.sparse.csr_matrix, p: int) -> dict[int, scipy.sparse.csr_matrix]:
    """Each sparse sub-partition of ``X`` for ``p``, keyed by its first local row; empty for dense X or p = 1.

    scipy copies a CSR row slice (about a third of a sparse PCA task's compute), and
    its constructor copies a view too, so the copies are made once per p, all at once,
    and reused on every visit. Together they hold the block's non-zeros once more.
    """
    if p == 1 or not scipy.sparse.issparse(X):
        return {}
    n = X.shape[0]
    return {part.start: X[part] for part in (rows(n, p, k) for k in range(1, p + 1))}


def subpartition_rows(state: WorkerState, part: slice) -> np.ndarray | scipy.sparse.csr_matrix:
    """Rows ``part`` of the worker's block: the block itself, a kept sparse copy, or a numpy view."""
    X = state.local
    if part.stop - part.start == X.shape[0]:
        return X
    return state.parts[part.start] if state.parts else X[part]


def gradient_task(X_block, y_block, V: np.ndarray, *, run_id: str, worker: int, n_workers: int,
                  row_offset: int, p: int, problem: Problem, scenario: Scenario,
                  elapsed_s: float) -> GradientResult:
    """Compute ``Σ ∇f_k(V)`` over the worker's next sub-partition, then apply the straggler delay.

    ``p`` is the sub-partition count the coordinator wants; when it differs from
    the worker's current one, the worker re-partitions with Algorithm 2.
    """
    with _LOCK:
        state = _STATES.setdefault((run_id, worker), WorkerState(p=p))
    if state.local is None:
        state.local = _local(X_block)
    n_local = X_block.shape[0]
    if p != state.p and state.k == 0:
        state.p = p
    if p != state.p:
        state.p, state.k = align(n_local, state.p, p, state.k)
    else:
        state.k = next_subpartition(state.k, state.p)
    if state.parts_p != state.p:
        # one-off preparation, left out of the compute time so the profiler does not
        # read a re-partitioning as slowness (it shows up once in the round trip)
        state.parts, state.parts_p = split_rows(state.local, state.p), state.p
    started = time.perf_counter()
    part = rows(n_local, state.p, state.k)
    y_rows = None if y_block is None else y_block[part]
    value = problem.partial_gradient(subpartition_rows(state, part), y_rows, V)
    compute = time.perf_counter() - started
    delay = scenario.delay(worker, n_workers, elapsed_s, compute, state.tasks,
                           (part.stop - part.start) / n_local)
    if delay > 0:
        time.sleep(delay)
    state.tasks += 1
    return GradientResult(row_offset + part.start, row_offset + part.stop, value,
                          time.perf_counter() - started, delay, state.p)


def forget_run(run_id: str) -> int:
    """Drop every worker state of a finished run (called on each worker); returns how many."""
    with _LOCK:
        keys = [key for key in _STATES if key[0] == run_id]
        for key in keys:
            del _STATES[key]
    return len(keys)
