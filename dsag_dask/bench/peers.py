"""The peers a Dask user would pick instead of DSAG, run on the same client, data and objective.

- ``dask-ml`` ``LogisticRegression`` with each of its solvers (lbfgs, gradient_descent,
  admm, newton, proximal_grad), ``TruncatedSVD`` (uncentred, the same PCA objective as
  ours; also the bare ``dask.array.linalg.svd_compressed`` it wraps) and ``PCA``
  (centred, so it is scored against the centred optimum and marked so);
- scikit-learn in the coordinator process, as the no-cluster reference:
  ``LogisticRegression(solver="sag")`` and ``TruncatedSVD(algorithm="arpack")``.

Same objective. Our logistic objective is ``(1/n) Σ log(1 + exp(−b_i x_iᵀv)) + λ/2 ‖v‖²``
on the standardised, intercept-augmented matrix. dask-glm minimises
``Σ loss_i + lamduh ‖v‖²/2`` with labels in {0, 1} and ``lamduh = 1/C``; scikit-learn
minimises ``C Σ loss_i + ‖v‖²/2``. Both equal ``n``, resp. ``1/λ``, times ours when
``C = 1/(nλ)``, so the optimum is the same. The peers get ``fit_intercept=False`` (the
intercept is already a column) and dask-glm's own re-normalisation is switched off
(``normalize=False``), as the features are standardised already. dask-ml passes no
penalty to ``gradient_descent`` and ``newton``: they solve the unregularised problem,
whose optimum is slightly off ours; that floor is reported as ``gap_floor``.

Gap versus time. The peers have no iteration callback, so each is fitted from
scratch with a growing budget (``max_iter`` or power iterations 1, 2, 4, …) until
its gap stops improving, reaches the target, or the next fit would overrun the time
budget; each fit gives one point (its wall time, the gap of its solution). Reading
a time to gap off these points credits the peer with knowing the right budget in
advance. An untimed warm-up fit comes first (worker imports, pydata-sparse JIT).

Stragglers on the peers' tasks. While a peer fits, the ``PeerStragglers`` worker
plugin replaces each worker's default executor (``Worker.executors["default"]``,
what the worker runs every task in) by a subclass of distributed's
``ThreadPoolExecutor`` that, after each task, sleeps as the scenario says, then
hands the result back; teardown restores the original executor. (In distributed
2026.8 the worker picks its context-propagating path by the executor's class name
containing "ThreadPoolExecutor", which the subclass keeps. The alternatives do not
reach every task: ``dask.annotate(executor=...)`` annotations can be lost when
dask-ml's internally built graphs are optimised, a ``map_blocks`` wrapper only
covers the chunk-producing tasks, not dask-glm's own dot/sum tasks, and a
``WorkerPlugin.transition`` hook runs on the worker's event loop, where a sleep
would stall its communication rather than its compute.) A task gets
``scenario.delay(...)`` for a full pass over the worker's partition (measured
from our GD tasks, ``reference_s``) times the task's share of such a pass
(``compute_s / reference_s``): for the §7.2 scenario this is exactly "compute
``1 + 0.4 i/N`` times slower", for additive scenarios (gamma-burst) a worker's
delay per pass over its data equals what our GD task gets. Limits: the sleep
follows the task inside the worker thread, so the task stream shows it as idle
time rather than compute; small bookkeeping tasks get proportionally small delays;
tasks the scheduler places away from the data (rare: chunks are pinned) are
delayed as the worker that runs them; the ``elapsed`` clock restarts at every fit
of the budget ladder, so each fit sees the scenario's first second again.
scikit-learn runs in one process with no cluster, so no scenario applies to it.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import math
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable, Iterable, Iterator

import dask.array as da
import numpy as np
import scipy.linalg
import scipy.sparse
import xarray as xr
from distributed import Client, WorkerPlugin
from distributed.threadpoolexecutor import ThreadPoolExecutor

from dsag_dask.history import time_to_gap
from dsag_dask.problems.base import Reference
from dsag_dask.problems.logistic import LogisticRegressionProblem, newton
from dsag_dask.runtime.placement import PlacedData
from dsag_dask.stragglers import Scenario

DASKML_SOLVERS = ("lbfgs", "gradient_descent", "admm", "newton", "proximal_grad")
UNREGULARISED_SOLVERS = ("gradient_descent", "newton")
VERSIONED = ("dask", "distributed", "dask-ml", "dask-glm", "scikit-learn", "numpy", "scipy",
             "msprime", "stdpopsim", "tskit")
_GRAM_ROWS = 8192


def peer_versions() -> dict[str, str | None]:
    """Installed versions of the peers and of what they run on (None when absent)."""
    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# -- stragglers on the peers' tasks -------------------------------------------------------------

class _StragglingThreadPoolExecutor(ThreadPoolExecutor):
    """distributed's task thread pool, sleeping after each task for ``delay(compute_s)`` seconds."""

    def __init__(self, nthreads: int, delay: Callable[[float], float]):
        super().__init__(nthreads, thread_name_prefix="Dask-Straggler-Threads")
        self._delay = delay

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_run_then_sleep, self._delay, fn, args, kwargs)


def _run_then_sleep(delay: Callable[[float], float], fn, args: tuple, kwargs: dict):
    """Run one task, then sleep for the delay its compute time earns."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    pause = delay(time.perf_counter() - started)
    if pause > 0:
        time.sleep(pause)
    return result


class PeerStragglers(WorkerPlugin):
    """Applies a straggler scenario to every task a worker runs while the plugin is registered.

    ``ranks`` maps worker addresses to the scenario's 0-based worker index (the
    order our own methods use); ``epoch`` is the wall-clock start of the fit.
    """

    name = "dsag-peer-stragglers"

    def __init__(self, scenario: Scenario, ranks: dict[str, int], reference_s: float, epoch: float):
        self.scenario, self.ranks = scenario, dict(ranks)
        self.reference_s, self.epoch = reference_s, epoch
        self._saved = None
        self._rank = None
        self._count = None

    def setup(self, worker) -> None:
        self._rank = self.ranks.get(worker.address)
        if self._rank is None:
            return
        self._count = itertools.count()
        self._saved = worker.executors["default"]
        worker.executors["default"] = _StragglingThreadPoolExecutor(worker.state.nthreads, self.delay)

    def teardown(self, worker) -> None:
        if self._saved is None:
            return
        ours = worker.executors["default"]
        worker.executors["default"] = self._saved
        ours.shutdown(wait=False)

    def delay(self, compute_s: float) -> float:
        """This task's share of the scenario's delay for one full pass over the partition."""
        per_pass = self.scenario.delay(self._rank, len(self.ranks), time.time() - self.epoch,
                                       self.reference_s, next(self._count))
        return per_pass * compute_s / self.reference_s


@contextlib.contextmanager
def peer_stragglers(client: Client, scenario: Scenario | None, workers: list[str],
                    reference_s: float) -> Iterator[None]:
    """Apply ``scenario`` to every task on ``workers`` inside the block (nothing for no scenario)."""
    if scenario is None or scenario.name == "none":
        yield
        return
    plugin = PeerStragglers(scenario, {addr: i for i, addr in enumerate(workers)}, reference_s, time.time())
    client.register_plugin(plugin, name=PeerStragglers.name)
    try:
        yield
    finally:
        client.unregister_worker_plugin(PeerStragglers.name)


# -- one peer's gap-versus-time curve -------------------------------------------------------------

@dataclass
class PeerCurve:
    """One peer's points (wall time of a fit, gap of its solution, budget of that fit)."""

    method: str
    objective: str
    times: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    budgets: list[int] = field(default_factory=list)
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def history(self) -> xr.Dataset:
        """The points in time order as a Dataset shaped like ours (``time_s``, ``gap`` per iteration)."""
        order = np.argsort(self.times, kind="stable")
        return xr.Dataset(
            {"time_s": ("iteration", np.asarray(self.times, dtype=float)[order]),
             "gap": ("iteration", np.asarray(self.gaps, dtype=float)[order]),
             "budget": ("iteration", np.asarray(self.budgets, dtype=np.int64)[order])},
            coords={"iteration": np.arange(len(self.times))},
            attrs={"method": self.method, "objective": self.objective, "error": self.error or ""})

    def summary(self) -> dict:
        """Time to each gap (all None if no fit finished), gap and budgets, in the layout of our methods' entries.

        ``final_gap`` is the best gap of any fit: each fit starts from scratch, so
        the largest budget is not always the best.
        """
        if not self.times:
            return {"time_to_gap": dict.fromkeys(time_to_gap(self.history())), "final_gap": None, "iterations": 0,
                    "objective": self.objective, "error": self.error, **self.extra}
        history = self.history()
        gaps = history["gap"].values
        best = float(np.nanmin(gaps)) if np.isfinite(gaps).any() else None
        return {"time_to_gap": time_to_gap(history), "final_gap": best,
                "iterations": int(max(self.budgets)), "fits": len(self.times),
                "wall_s": float(np.max(self.times)), "objective": self.objective,
                "error": self.error, **self.extra}


def budget_ladder(fit: Callable[[int], np.ndarray], reference: Reference, curve: PeerCurve,
                  budgets: Iterable[int], time_budget_s: float, target_gap: float,
                  patience: int = 2, warmup: bool = True) -> PeerCurve:
    """Fit with each budget in turn, recording (wall time of the fit, gap of its solution), until done.

    With ``warmup``, an untimed fit with the first budget comes first (imports,
    and the JIT compilation pydata-sparse does on each worker the first time).
    Stops when the gap reaches ``target_gap``; when the next fit (budgets about
    double) would take the time spent past ``time_budget_s``; or when ``patience``
    budgets in a row improve the best gap by less than 1 % (the solver has
    converged to its own optimum). A failing fit ends the curve with its error.
    """
    budgets = iter(budgets)
    first = next(budgets)
    if warmup:
        try:
            fit(first)
        except Exception as err:  # a peer that cannot run is reported, not fatal
            curve.error = f"{type(err).__name__}: {err}"
            return curve
    spent, stale, best = 0.0, 0, math.inf
    for budget in itertools.chain([first], budgets):
        started = time.perf_counter()
        try:
            solution = fit(budget)
        except Exception as err:  # a peer that cannot run is reported, not fatal
            curve.error = f"{type(err).__name__}: {err}"
            break
        wall = time.perf_counter() - started
        gap = float(reference.gaps([solution])[0])
        curve.times.append(wall)
        curve.gaps.append(float(gap))
        curve.budgets.append(int(budget))
        spent += wall
        improved = best == math.inf or gap < best - 0.01 * abs(best)
        stale = 0 if improved else stale + 1
        best = min(best, gap)
        if gap <= target_gap or spent + 2 * wall > time_budget_s or stale >= patience:
            break
    return curve


def doubling(start: int = 1) -> Iterator[int]:
    """Budgets ``start, 2·start, 4·start, …`` (``0, 1, 2, 4, …`` for ``start=0``)."""
    if start == 0:
        yield 0
        start = 1
    value = start
    while True:
        yield value
        value *= 2


# -- logistic regression ------------------------------------------------------------------------

def labels_array(data: PlacedData) -> da.Array:
    """The placed ±1 labels as a dask array chunked like ``data.X``."""
    chunks = [da.from_delayed(f, shape=(stop - start,), dtype=np.float64)
              for f, (start, stop) in zip(data.y_blocks, data.bounds)]
    return da.concatenate(chunks)


def daskml_logistic(client: Client, data: PlacedData, problem: LogisticRegressionProblem,
                    reference: Reference, *, solvers: Iterable[str] = DASKML_SOLVERS,
                    scenario: Scenario | None = None, reference_s: float = 1.0,
                    time_budget_s: float = 60.0, target_gap: float = 1e-8,
                    gap_floors: dict[str, float] | None = None) -> dict[str, PeerCurve]:
    """dask-ml ``LogisticRegression`` with each solver on the placed data, under the scenario."""
    y01 = ((labels_array(data) + 1.0) / 2.0).persist()
    C = 1.0 / (problem.n_rows * problem.lam)
    curves = {}
    for index, solver in enumerate(solvers):
        unregularised = solver in UNREGULARISED_SOLVERS
        curve = PeerCurve(f"daskml_{solver}", "unregularised log-loss (dask-ml passes no penalty)"
                          if unregularised else "same as ours")
        if unregularised and gap_floors is not None:
            curve.extra["gap_floor"] = gap_floors.get("unregularised")
        fit = functools.partial(_fit_daskml_logistic, client, data, y01, solver, C, scenario, reference_s)
        curves[curve.method] = budget_ladder(fit, reference, curve, doubling(1), time_budget_s, target_gap,
                                             warmup=index == 0)
    return curves


def _fit_daskml_logistic(client: Client, data: PlacedData, y01: da.Array, solver: str, C: float,
                         scenario: Scenario | None, reference_s: float, budget: int) -> np.ndarray:
    """One dask-ml fit with ``max_iter=budget`` and no early stopping; returns its coefficients."""
    from dask_ml.linear_model import LogisticRegression

    kwargs = {"normalize": False, **({"abstol": 0.0, "reltol": 0.0} if solver == "admm" else {})}
    model = LogisticRegression(C=C, fit_intercept=False, solver=solver, max_iter=budget, tol=0.0,
                               solver_kwargs=kwargs)
    with peer_stragglers(client, scenario, data.workers, reference_s), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data.X, y01)
    return np.asarray(model.coef_, dtype=np.float64)


def unregularised_floor(X, y: np.ndarray, problem: LogisticRegressionProblem,
                        reference: Reference) -> float:
    """Our gap at the unregularised optimum: the best a solver that drops the penalty can reach."""
    plain = LogisticRegressionProblem(n_rows=problem.n_rows, lam=0.0)
    return float(reference.gaps([newton(plain, X, y, tol=1e-8)])[0])


def sklearn_logistic(X, y: np.ndarray, problem: LogisticRegressionProblem, reference: Reference, *,
                     time_budget_s: float = 60.0, target_gap: float = 1e-8) -> PeerCurve:
    """scikit-learn's SAG in this process on the whole matrix (epochs as the budget)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    C = 1.0 / (problem.n_rows * problem.lam)

    def fit(budget: int) -> np.ndarray:
        model = LogisticRegression(C=C, fit_intercept=False, solver="sag", max_iter=budget, tol=0.0,
                                   random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return model.coef_.ravel()

    curve = PeerCurve("sklearn", "same as ours (single process, no cluster, no scenario)")
    return budget_ladder(fit, reference, curve, doubling(1), time_budget_s, target_gap)


# -- PCA ---------------------------------------------------------------------------------------

class GramPCAReference(Reference):
    """PCA optimum and gaps from the d × d Gram matrix, optionally of the column-centred data.

    The gap of an orthonormal V is ``optimum − tr(Vᵀ G V) / tr(G)``, the same
    explained-variance fraction as ``PCAReference`` but at O(d²k) per iterate
    instead of a pass over the data: this is what makes scoring thousands of
    iterates of a wide sparse matrix affordable.
    """

    def __init__(self, X, n_components: int, centred: bool = False):
        gram = gram_matrix(X)
        if centred:
            mean = np.asarray(X.mean(axis=0)).ravel()
            gram = gram - X.shape[0] * np.outer(mean, mean)
        self.gram, self.centred = gram, centred
        self.total = float(np.trace(gram))
        if self.total <= 0.0:
            raise ValueError("X has no variance to explain")
        d = gram.shape[0]
        top = scipy.linalg.eigh(gram, eigvals_only=True, subset_by_index=[d - n_components, d - 1])
        self.eigenvalues = np.sort(top)[::-1]
        self.optimum = float(np.sum(self.eigenvalues)) / self.total

    def explained_variance(self, V: np.ndarray) -> float:
        """``tr(Vᵀ G V) / tr(G)`` for an orthonormal V."""
        return float(np.einsum("ij,ij->", V, self.gram @ V)) / self.total

    def gaps(self, iterates: list[np.ndarray]) -> np.ndarray:
        return np.array([self.optimum - self.explained_variance(V) for V in iterates])


def gram_matrix(X) -> np.ndarray:
    """``XᵀX`` as a dense float64 array, by dense row blocks (float32 products when that is exact)."""
    n, d = X.shape
    values = X.data if scipy.sparse.issparse(X) else np.asarray(X)
    integral = bool(values.size == 0 or np.all(values == np.round(values)))
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    dtype = np.float32 if integral and _GRAM_ROWS * peak**2 < 2**24 else np.float64
    gram = np.zeros((d, d))
    for lo in range(0, n, _GRAM_ROWS):
        block = X[lo:lo + _GRAM_ROWS]
        block = (block.toarray() if scipy.sparse.issparse(block) else np.asarray(block)).astype(dtype)
        gram += block.T @ block
    return gram


def daskml_pca(client: Client, data: PlacedData, reference: Reference, centred_reference: Reference | None,
               n_components: int, *, scenario: Scenario | None = None, reference_s: float = 1.0,
               time_budget_s: float = 60.0, target_gap: float = 1e-8,
               dense_limit_bytes: float = 2e9) -> dict[str, PeerCurve]:
    """dask's randomized SVD, dask-ml ``TruncatedSVD`` (both uncentred) and ``PCA`` (centred) on the placed data.

    ``dask_svd_compressed`` is the bare ``dask.array.linalg.svd_compressed`` that
    ``TruncatedSVD`` wraps, run on the placed (pydata-sparse) chunks.
    ``TruncatedSVD.fit`` also computes explained variances, which on pydata-sparse
    chunks took 70 s for a 20k × 2504 genotype matrix against 3 s for the SVD,
    and ``PCA`` needs dense chunks: both run on a dense copy of the chunks, made on
    the workers, and are skipped when it would exceed ``dense_limit_bytes``.
    """
    dense_bytes = 8.0 * data.n_rows * data.n_features
    dense = (data.X.map_blocks(_to_dense, dtype=np.float64, meta=np.zeros((0, 0))).persist()
             if dense_bytes <= dense_limit_bytes else None)
    uncentred = "same as ours (uncentred)"

    def ladder(make_model: Callable[[int, int], object], X: da.Array, ref: Reference, curve: PeerCurve) -> PeerCurve:
        fit = functools.partial(_fit_decomposition, client, scenario, data.workers, reference_s,
                                functools.partial(make_model, n_components), X)
        return budget_ladder(fit, ref, curve, doubling(0), time_budget_s, target_gap)

    curves = {"dask_svd_compressed": ladder(_SvdCompressed, data.X, reference, PeerCurve(
        "dask_svd_compressed", uncentred, extra={"chunks": "as placed"}))}
    dense_curves = {"daskml_tsvd": (_truncated_svd, reference, PeerCurve("daskml_tsvd", uncentred)),
                    "daskml_pca": (_pca, centred_reference, PeerCurve(
                        "daskml_pca", "centred PCA, gap to the centred optimum (not comparable)"))}
    for key, (make_model, ref, curve) in dense_curves.items():
        curve.extra["chunks"] = "dense copy"
        if dense is None or ref is None:
            curve.error = (f"skipped: a dense copy of X needs {dense_bytes / 1e9:.1f} GB "
                           f"(limit {dense_limit_bytes / 1e9:.1f} GB)" if dense is None
                           else "skipped: no centred reference")
            curves[key] = curve
        else:
            curves[key] = ladder(make_model, dense, ref, curve)
    return curves


class _SvdCompressed:
    """``dask.array.linalg.svd_compressed`` behind the ``fit``/``components_`` interface of the estimators."""

    def __init__(self, n_components: int, n_power_iter: int):
        self.n_components, self.n_power_iter = n_components, n_power_iter

    def fit(self, X: da.Array) -> "_SvdCompressed":
        _, _, v = da.linalg.svd_compressed(X, self.n_components, n_power_iter=self.n_power_iter, seed=0,
                                           compute=True)
        self.components_ = v.compute()
        return self


def _truncated_svd(n_components: int, n_iter: int):
    from dask_ml.decomposition import TruncatedSVD

    return TruncatedSVD(n_components, algorithm="randomized", n_iter=n_iter, random_state=0)


def _pca(n_components: int, iterated_power: int):
    from dask_ml.decomposition import PCA

    return PCA(n_components, svd_solver="randomized", iterated_power=iterated_power, random_state=0)


def _fit_decomposition(client: Client, scenario: Scenario | None, workers: list[str], reference_s: float,
                       make_model: Callable[[int], object], X: da.Array, budget: int) -> np.ndarray:
    """Fit one decomposition with ``budget`` power iterations under the scenario; return its components as V."""
    model = make_model(budget)
    with peer_stragglers(client, scenario, workers, reference_s):
        model.fit(X)
    return _orthonormal_columns(model.components_)


def sklearn_pca(X, n_components: int, reference: Reference, *, time_budget_s: float = 60.0,
                target_gap: float = 1e-8) -> PeerCurve:
    """scikit-learn's ARPACK ``TruncatedSVD`` (uncentred, no randomisation) in this process.

    The budget is the ARPACK tolerance ``10^-b`` for b = 1, 2, 4, 8, 16 (16 ≈ machine precision).
    """
    from sklearn.decomposition import TruncatedSVD

    def fit(budget: int) -> np.ndarray:
        model = TruncatedSVD(n_components=n_components, algorithm="arpack", tol=10.0 ** -budget, random_state=0)
        model.fit(X)
        return _orthonormal_columns(model.components_)

    curve = PeerCurve("sklearn", "same as ours (uncentred; single process, no cluster, no scenario)")
    return budget_ladder(fit, reference, curve, (1, 2, 4, 8, 16), time_budget_s, target_gap)


def _to_dense(block) -> np.ndarray:
    return block.todense() if hasattr(block, "todense") else np.asarray(block)


def _orthonormal_columns(components: np.ndarray) -> np.ndarray:
    """A fitted ``components_`` (k × d, orthonormal rows) as our d × k iterate, re-orthonormalised."""
    Q, _ = np.linalg.qr(np.asarray(components, dtype=np.float64).T)
    return Q
