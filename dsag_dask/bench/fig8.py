"""``dsag bench fig8``: the paper's Fig. 8 on one Dask cluster, our methods beside the peers a Dask user would pick.

Workloads (each placed once on the workers; every method, ours and the peers', runs
on the same placed data):

- ``genomics_pca``: PCA (k = 3, uncentred) of a simulated 1000-Genomes-like binary
  sites × individuals matrix (``workloads.genomics_matrix``);
- ``higgs_logreg``: logistic regression on HIGGS (the real file when present, else
  ``workloads.higgs_like``), standardised, with an intercept column and λ = 1/n;
- ``flights_logreg``: the main job's real flights problem, prepared the same way.

For each workload × scenario × repetition: GD, SGD (w), SAG (w), SAG (w = N), DSAG for
each w in ``dsag_w`` (the best is reported as ``dsag``), DSAG-LB (w), the coded-computing
bound derived from the GD run (paper §7.1), dask-ml's solvers and scikit-learn. Outputs:
``fig8.json`` (medians over repetitions with min/max, and DSAG's speed-up over every
method at gap 1e-6), ``fig8.nc`` (every trace, one group per
``<workload>__<scenario>__<method>__rep<k>``), ``fig8.png`` (gap versus wall time, one
panel per workload × scenario) and ``fig8_populations.png`` (individuals projected on
the computed components, coloured by simulated population).
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import xarray as xr
from distributed import Client, LocalCluster
from scipy.special import expit

from dsag_dask.bench import peers
from dsag_dask.datasets import load_flights
from dsag_dask.history import save_histories, time_to_gap
from dsag_dask.latency.model import BurstModel
from dsag_dask.problems import LogisticRegressionProblem, PCAProblem
from dsag_dask.problems.base import Problem, Reference
from dsag_dask.problems.logistic import LogisticReference, newton, standardize, with_intercept
from dsag_dask.runtime.coordinator import BalancerSettings
from dsag_dask.runtime.placement import PlacedData, place
from dsag_dask.runtime.run import cluster_workers, run_method
from dsag_dask.stragglers import Scenario, make_scenario
from dsag_dask.workloads import density, genomics_matrix, load_higgs

OUR_METHODS = ("gd", "sgd", "sag", "sag_wN", "dsag", "dsag_lb")
ALL_METHODS = (*OUR_METHODS, "coded", "daskml", "sklearn")
SPEEDUP_AT = "1e-06"
ARTIFICIAL = {"factor": 0.4, "relieve_after_s": 1.0, "relieved_fraction": 0.2}


@dataclass(frozen=True)
class WorkloadSpec:
    """One workload: its name, size (sites or rows; None = all), sub-partitions p and time budget per method."""

    name: str
    size: int | None
    p: int
    time_limit_s: float


@dataclass(frozen=True)
class Fig8Config:
    """Everything a fig8 run does; ``preset(quick)`` gives the two standard ones."""

    workloads: tuple[WorkloadSpec, ...]
    scenarios: tuple[str, ...] = ("artificial", "gamma-burst")
    methods: tuple[str, ...] = ALL_METHODS
    n_workers: int = 8
    w: int = 4
    dsag_w: tuple[int, ...] = (2, 4)
    repetitions: int = 5
    peer_repetitions: int = 1
    peer_time_s: float = 60.0
    daskml_solvers: tuple[str, ...] = peers.DASKML_SOLVERS
    target_gap: float = 1e-8
    code_rate: float | None = None
    dense_limit_bytes: float = 2e9
    lb_window_s: float = 3.0
    seed: int = 0

    @classmethod
    def preset(cls, quick: bool) -> "Fig8Config":
        """Full run (sizes for ≳ 50 ms tasks on 8 workers, 5 repetitions) or ``--quick`` (tiny, 1 repetition)."""
        if quick:
            return cls(workloads=(WorkloadSpec("genomics_pca", 20_000, 2, 4.0),
                                  WorkloadSpec("higgs_logreg", 200_000, 2, 4.0),
                                  WorkloadSpec("flights_logreg", None, 1, 4.0)),
                       dsag_w=(4,), repetitions=1, peer_repetitions=1, peer_time_s=2.0)
        # 200k sites, not more: at 400k dask's svd_compressed gathered more than a worker's
        # 2.9 GiB memory limit (24 GiB / 8) onto one worker, whose restart lost our placed rows.
        # 4M HIGGS rows make a sub-partition task (250k rows) compute for more than 50 ms.
        return cls(workloads=(WorkloadSpec("genomics_pca", 200_000, 2, 30.0),
                              WorkloadSpec("higgs_logreg", 4_000_000, 2, 30.0),
                              WorkloadSpec("flights_logreg", None, 1, 15.0)))


@dataclass
class Workload:
    """A loaded workload: problem, preprocessed data, exact reference, stepsizes and facts to report."""

    spec: WorkloadSpec
    problem: Problem
    X: object
    y: np.ndarray | None
    reference: Reference
    stepsizes: dict[str, float]
    info: dict = field(default_factory=dict)
    populations: np.ndarray | None = None


# -- workloads --------------------------------------------------------------------------------

def load_workload(spec: WorkloadSpec, seed: int = 0) -> Workload:
    """Build one workload's data, problem, reference optimum and tuned stepsizes."""
    started = time.perf_counter()
    if spec.name == "genomics_pca":
        workload = _genomics_workload(spec, seed)
    elif spec.name == "higgs_logreg":
        X, y, source = load_higgs(spec.size, seed=seed)
        workload = _logistic_workload(spec, X, y, source)
    elif spec.name == "flights_logreg":
        data = load_flights()
        rows = slice(None, spec.size)
        workload = _logistic_workload(spec, data.X[rows], data.y[rows], data.name)
    else:
        raise ValueError(f"unknown fig8 workload {spec.name!r}; choose genomics_pca, higgs_logreg or flights_logreg")
    workload.info["prepare_s"] = time.perf_counter() - started
    return workload


def _genomics_workload(spec: WorkloadSpec, seed: int) -> Workload:
    """PCA (k = 3) of the simulated genotype matrix; gaps scored from its Gram matrix."""
    X, populations = genomics_matrix(spec.size, seed=seed)
    problem = PCAProblem(n_components=3, seed=seed)
    info = {"source": "msprime+stdpopsim HomSap/OutOfAfrica_3G09 (835 YRI, 835 CEU, 834 CHB)",
            "rows": X.shape[0], "cols": X.shape[1], "nnz": int(X.nnz), "density": density(X)}
    return Workload(spec, problem, X, None, peers.GramPCAReference(X, problem.n_components),
                    {"gd": 1.0, "stochastic": 0.9}, info, populations)


def _logistic_workload(spec: WorkloadSpec, X_raw: np.ndarray, y: np.ndarray, source: str) -> Workload:
    """Standardised features + intercept, λ = 1/n, stepsizes from the smoothness constant L.

    GD takes 1.8/L (stable below 2/L, fastest in our trials); the stochastic
    methods take 0.75/L, the best of 0.5–1.35/L for DSAG (w = N/2, p = 2, results
    up to two iterations late) in a serial emulation of the gradient cache.
    """
    X = with_intercept(standardize(X_raw)[0])
    n = X.shape[0]
    problem = LogisticRegressionProblem(n_rows=n, lam=1.0 / n)
    smoothness = logistic_smoothness(X, problem.lam)
    info = {"source": source, "rows": n, "cols": X.shape[1], "positive_fraction": float(np.mean(y > 0)),
            "smoothness_L": smoothness}
    stepsizes = {"gd": 1.8 / smoothness, "stochastic": 0.75 / smoothness}
    return Workload(spec, problem, X, y, logistic_reference(problem, X, y), stepsizes, info)


def logistic_reference(problem: LogisticRegressionProblem, X: np.ndarray, y: np.ndarray,
                       polish_steps: int = 2) -> LogisticReference:
    """The optimum from damped Newton to gradient norm 1e-9, then full Newton steps to machine precision.

    The damped solver's line search cannot see progress once objective changes
    fall below rounding (about gradient norm 1e-10), so the last, quadratically
    convergent steps are taken without it.
    """
    n, d = X.shape
    v = newton(problem, X, y, tol=1e-9)
    for _ in range(polish_steps):
        p = expit(-y * (X @ v))
        gradient = X.T @ (-y * p) / n + problem.lam * v
        hessian = X.T @ (X * (p * (1.0 - p) / n)[:, None]) + problem.lam * np.eye(d)
        v = v - np.linalg.solve(hessian, gradient)
    return LogisticReference(problem, X, y, v)


def logistic_smoothness(X: np.ndarray, lam: float) -> float:
    """``L = ¼ λ_max(XᵀX/n) + λ``: the logistic loss's gradient Lipschitz constant (GD is stable below 2/L)."""
    gram = X.T @ X / X.shape[0]
    return 0.25 * float(np.linalg.eigvalsh(gram)[-1]) + lam


# -- one workload on the cluster ------------------------------------------------------------------

def run_workload(client: Client, workers: list[str], workload: Workload, config: Fig8Config,
                 histories: dict[str, xr.Dataset], finals: dict) -> dict:
    """Every scenario × repetition × method of one workload; returns its ``runs`` entries."""
    name = workload.spec.name
    data = place(client, workload.X, workload.y, workers, run_id=f"fig8-{name}")
    try:
        calibration = calibrate(client, data, workload)
        workload.info["calibration"] = calibration
        extras = _peer_extras(workload, config)
        workload.info["scenarios"] = {}
        runs = {}
        for scenario_name in config.scenarios:
            per_rep: dict[str, list[dict]] = {}
            for rep in range(config.repetitions):
                scenario = build_scenario(scenario_name, rep, calibration)
                workload.info["scenarios"].setdefault(scenario_name, scenario.describe())
                prefix = f"{name}__{scenario_name}__"
                entries = run_ours(client, data, workload, config, scenario, prefix, rep, histories, finals)
                if rep < config.peer_repetitions:
                    entries.update(run_peers(client, data, workload, config, scenario, prefix, rep,
                                             histories, calibration, extras))
                for method, entry in entries.items():
                    per_rep.setdefault(method, []).append(entry)
            runs[f"{name}/{scenario_name}"] = summarise_methods(per_rep)
    finally:
        data.release()
    return runs


def calibrate(client: Client, data: PlacedData, workload: Workload) -> dict:
    """Per-task compute and Dask overhead without stragglers: GD tasks (whole partitions) and sub-partition tasks."""
    _, gd = run_method(client, data, workload.problem, None, method="gd", max_iterations=4,
                       stepsize=workload.stepsizes["gd"], label="calibrate-gd")
    _, sub = run_method(client, data, workload.problem, None, method="sag", w=data.n_workers,
                        p=workload.spec.p, max_iterations=3 * workload.spec.p,
                        stepsize=workload.stepsizes["stochastic"], label="calibrate-sag")
    gd_stats, sub_stats = task_stats(gd), task_stats(sub)
    return {"gd_task_compute_s": gd_stats["task_compute_ms"] / 1e3,
            "task_compute_s": sub_stats["task_compute_ms"] / 1e3,
            "gd": gd_stats, "subpartition": sub_stats}


def build_scenario(name: str, rep: int, calibration: dict) -> Scenario:
    """The §7.2 artificial scenario, or gamma-burst with ``base_s`` = one sub-partition task's compute.

    ``base_s`` is the scenario's mean delay for a pass over a whole partition, and a
    task over 1/p of it gets 1/p of that: so every task, GD's whole-partition ones
    included, is delayed by about (1 + m_i)/p of its own compute, m_i the worker's
    10–40 % spread (0.55–0.7× at p = 2), times the burst factor. Gamma-burst draws
    differ per repetition (seed = repetition).
    """
    if name == "artificial":
        return make_scenario("artificial", **ARTIFICIAL)
    if name == "gamma-burst":
        return make_scenario("gamma-burst", seed=rep, base_s=round(calibration["task_compute_s"], 4),
                             burst=BurstModel(seed=rep))
    return make_scenario(name)


def task_stats(history: xr.Dataset) -> dict:
    """Median task compute (minus injected delay), median Dask overhead (round trip minus compute), their ratio."""
    compute = history["result_compute_s"].values - history["result_delay_s"].values
    roundtrip = history["result_received_s"].values - history["result_sent_s"].values
    overhead = roundtrip - history["result_compute_s"].values
    c, o = float(np.median(compute)), float(np.median(overhead))
    return {"task_compute_ms": 1e3 * c, "task_overhead_ms": 1e3 * o,
            "compute_overhead_ratio": c / o if o > 0 else None}


def _method_runs(workload: Workload, config: Fig8Config, n: int, rep: int) -> dict[str, dict]:
    """run_method keyword arguments for each of our methods selected in ``config`` (``rep`` seeds the balancer)."""
    p, w = workload.spec.p, config.w
    gd, sto = workload.stepsizes["gd"], workload.stepsizes["stochastic"]
    wanted = set(config.methods)
    runs: dict[str, dict] = {}
    if "gd" in wanted or "coded" in wanted:
        runs["gd"] = {"method": "gd", "stepsize": gd}
    if "sgd" in wanted:
        runs["sgd"] = {"method": "sgd", "w": w, "p": p, "stepsize": sto}
    if "sag" in wanted:
        runs["sag"] = {"method": "sag", "w": w, "p": p, "stepsize": sto}
    if "sag_wN" in wanted:
        runs["sag_wN"] = {"method": "sag", "w": n, "p": p, "stepsize": sto}
    if "dsag" in wanted:
        for wd in config.dsag_w:
            runs[f"dsag_w{wd}"] = {"method": "dsag", "w": wd, "p": p, "stepsize": sto}
    if "dsag_lb" in wanted:
        # a 3 s profiler window instead of the paper's 10 s, as these runs last 1-30 s; the balancer
        # needs 10 samples per worker inside the window, so with tasks slower than about 0.3 s it
        # never acts (BENCHMARKS.md, Fig. 8), and it cools down for one window after each change
        runs["dsag_lb"] = {"method": "dsag", "w": w, "p": p, "stepsize": sto, "load_balance": True,
                           "balancer": BalancerSettings(window_s=config.lb_window_s, seed=config.seed + rep)}
    return runs


def run_ours(client: Client, data: PlacedData, workload: Workload, config: Fig8Config, scenario: Scenario,
             prefix: str, rep: int, histories: dict[str, xr.Dataset], finals: dict) -> dict[str, dict]:
    """Our methods (and the coded bound from GD) for one scenario and repetition; one entry per method."""
    entries = {}
    for key, kwargs in _method_runs(workload, config, data.n_workers, rep).items():
        V, history = run_method(client, data, workload.problem, workload.reference, scenario=scenario,
                                max_iterations=None, time_limit_s=workload.spec.time_limit_s,
                                target_gap=config.target_gap, label=f"{prefix}{key}", **kwargs)
        histories[f"{prefix}{key}__rep{rep}"] = history
        finals[(prefix, key, rep)] = V
        entries[key] = {**run_summary(history), **task_stats(history)}
    if "coded" in config.methods and "gd" in entries:
        coded = coded_bound(histories[f"{prefix}gd__rep{rep}"], config.code_rate)
        histories[f"{prefix}coded__rep{rep}"] = coded
        entries["coded"] = {**run_summary(coded), "code_rate": coded.attrs["code_rate"]}
    if "gd" not in config.methods:
        entries.pop("gd", None)
    return entries


def run_summary(history: xr.Dataset) -> dict:
    """One run's entry: time to each gap, final gap, iterations and its settings."""
    gap = float(history["gap"].values[-1]) if history.sizes["iteration"] else math.nan
    attrs = history.attrs
    return {"time_to_gap": time_to_gap(history), "final_gap": gap if math.isfinite(gap) else None,
            "iterations": int(history.sizes["iteration"]),
            "wall_s": float(history["time_s"].values[-1]) if history.sizes["iteration"] else 0.0,
            "w": int(attrs["w"]), "p": json.loads(attrs["p0"]) if "p0" in attrs else None,
            "stepsize": float(attrs["stepsize"]) if "stepsize" in attrs else None,
            "stopped_by": attrs.get("stopped_by", ""),
            "rebalances": int(history.sizes.get("rebalance", 0))}


def coded_bound(gd: xr.Dataset, code_rate: float | None = None) -> xr.Dataset:
    """The idealised MDS-coded GD of paper §7.1, derived from a GD run.

    Per iteration, worker i's latency is its communication (round trip − compute)
    plus its compute (including any injected delay) scaled by 1/r; the iteration
    takes the ⌈rN⌉-th smallest of these (zero decoding cost), and the gap follows
    GD's iterate for iterate. With ``code_rate=None`` the rate is the best of
    k/N, k = 1…N, for this run (the paper picked its 45/49 for N = 49 the same
    way): a fixed 45/49 on N = 8 rounds up to waiting for all 8, which is GD
    made 9 % slower and no bound at all.
    """
    compute = gd["compute_s"].values
    comm = np.maximum(gd["roundtrip_s"].values - compute, 0.0)
    n = compute.shape[1]
    rates = [code_rate] if code_rate is not None else [k / n for k in range(1, n + 1)]

    def per_iteration(rate: float) -> tuple[int, np.ndarray]:
        """(k, latency per iteration) when any k = ⌈rate·N⌉ results suffice."""
        k = min(n, math.ceil(rate * n - 1e-9))
        return k, np.sort(comm + compute / rate, axis=1)[:, k - 1]

    rate = min(rates, key=lambda r: per_iteration(r)[1].sum())
    k, latency = per_iteration(rate)
    return xr.Dataset(
        {"time_s": ("iteration", np.cumsum(latency)), "latency_s": ("iteration", latency),
         "gap": ("iteration", gd["gap"].values)},
        coords={"iteration": gd["iteration"].values},
        attrs={"method": "coded", "w": k, "p0": json.dumps([1] * n), "stepsize": gd.attrs["stepsize"],
               "code_rate": rate, "code_rate_chosen": "given" if code_rate is not None else "best k/N",
               "derived_from": "gd", "stopped_by": gd.attrs.get("stopped_by", "")})


# -- peers ---------------------------------------------------------------------------------------

def _peer_extras(workload: Workload, config: Fig8Config) -> dict:
    """What the peers need beyond our reference: the unregularised floor or the centred PCA reference."""
    if "daskml" not in config.methods:
        return {}
    if isinstance(workload.problem, PCAProblem):
        return {"centred": peers.GramPCAReference(workload.X, workload.problem.n_components, centred=True)}
    if set(config.daskml_solvers) & set(peers.UNREGULARISED_SOLVERS):
        floor = peers.unregularised_floor(workload.X, workload.y, workload.problem, workload.reference)
        return {"gap_floors": {"unregularised": floor}}
    return {}


def run_peers(client: Client, data: PlacedData, workload: Workload, config: Fig8Config, scenario: Scenario,
              prefix: str, rep: int, histories: dict[str, xr.Dataset], calibration: dict,
              extras: dict) -> dict[str, dict]:
    """dask-ml under the same scenario on the same placed data, and scikit-learn in this process."""
    common = {"scenario": scenario, "reference_s": calibration["gd_task_compute_s"],
              "time_budget_s": config.peer_time_s, "target_gap": config.target_gap}
    curves: dict[str, peers.PeerCurve] = {}
    if "daskml" in config.methods and isinstance(workload.problem, PCAProblem):
        curves.update(peers.daskml_pca(client, data, workload.reference, extras.get("centred"),
                                       workload.problem.n_components,
                                       dense_limit_bytes=config.dense_limit_bytes, **common))
    elif "daskml" in config.methods:
        curves.update(peers.daskml_logistic(client, data, workload.problem, workload.reference,
                                            solvers=config.daskml_solvers,
                                            gap_floors=extras.get("gap_floors"), **common))
    if "sklearn" in config.methods:
        curves["sklearn"] = _sklearn_curve(workload, config)
    entries = {}
    for key, curve in curves.items():
        histories[f"{prefix}{key}__rep{rep}"] = curve.history()
        entries[key] = curve.summary()
    return entries


def _sklearn_curve(workload: Workload, config: Fig8Config) -> peers.PeerCurve:
    if isinstance(workload.problem, PCAProblem):
        return peers.sklearn_pca(workload.X, workload.problem.n_components, workload.reference,
                                 time_budget_s=config.peer_time_s, target_gap=config.target_gap)
    return peers.sklearn_logistic(workload.X, workload.y, workload.problem, workload.reference,
                                  time_budget_s=config.peer_time_s, target_gap=config.target_gap)


# -- summaries -------------------------------------------------------------------------------------

def summarise_methods(per_rep: dict[str, list[dict]]) -> dict[str, dict]:
    """Median and spread over repetitions per method; ``dsag`` is the best of the DSAG variants."""
    out = {method: aggregate(entries) for method, entries in per_rep.items()}
    variants = [m for m in out if m.startswith("dsag_w")]
    if variants:
        best = min(variants, key=lambda m: _sort_key(out[m]))
        out["dsag"] = {**out[best], "best_of": variants, "variant": best}
    return out


def _sort_key(entry: dict) -> tuple[float, float]:
    """Fastest to the speed-up gap first, then lowest final gap."""
    t = entry["time_to_gap"].get(SPEEDUP_AT) if entry.get("time_to_gap") else None
    gap = entry.get("final_gap")
    return (math.inf if t is None else t, math.inf if gap is None else gap)


def aggregate(entries: list[dict]) -> dict:
    """Medians of the per-repetition entries (time to gap: None counts as never), with min and max."""
    first = entries[0]
    out = {k: v for k, v in first.items() if k not in ("time_to_gap", "final_gap", "iterations", "wall_s")}
    out["repetitions"] = len(entries)
    times = {h: [e["time_to_gap"][h] for e in entries] for h in first["time_to_gap"]}
    out["time_to_gap"] = {h: _median_or_none(v) for h, v in times.items()}
    out["time_to_gap_min"] = {h: min((x for x in v if x is not None), default=None) for h, v in times.items()}
    out["time_to_gap_max"] = {h: None if None in v else max(v) for h, v in times.items()}
    out["reached"] = {h: sum(x is not None for x in v) for h, v in times.items()}
    for key in ("final_gap", "iterations", "wall_s", "rebalances", "task_compute_ms", "task_overhead_ms",
                "compute_overhead_ratio"):
        values = [e[key] for e in entries if e.get(key) is not None]
        if values:
            out[key] = float(np.median(values))
            out[f"{key}_range"] = [float(min(values)), float(max(values))]
    return out


def _median_or_none(values: list[float | None]) -> float | None:
    """Median with None as +∞ (a repetition that never got there); None if the median is never."""
    finite = sorted(math.inf if v is None else v for v in values)
    median = float(np.median(finite))
    return None if math.isinf(median) else median


def speedups(runs: dict[str, dict], at: str = SPEEDUP_AT) -> dict[str, float | None]:
    """Each method's median time to gap ``at`` over DSAG's best.

    None when either never got there, or when the method solves another problem
    (a peer whose ``objective`` is not ours: its gap is to a different optimum).
    """
    dsag = runs.get("dsag", {}).get("time_to_gap") or {}
    base = dsag.get(at)
    out = {}
    for method, entry in runs.items():
        if method == "dsag":
            continue
        t = (entry.get("time_to_gap") or {}).get(at)
        comparable = "not comparable" not in entry.get("objective", "")
        out[method] = None if base is None or t is None or not comparable else t / base
    return out


# -- plots ---------------------------------------------------------------------------------------

_STYLE = {"gd": ("tab:blue", "-"), "sgd": ("tab:orange", "-"), "sag": ("tab:green", "-"),
          "sag_wN": ("tab:olive", "-"), "dsag_lb": ("tab:purple", "-"), "coded": ("tab:gray", "--"),
          "sklearn": ("black", ":")}


def plot_fig8(histories: dict[str, xr.Dataset], panels: list[str], path: Path) -> None:
    """Gap versus wall time (log y), one panel per workload × scenario, repetition 0.

    The time axis ends at 1.5× our longest run; a peer whose points lie beyond
    it says so in the legend.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(2, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 4.5 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        prefix = panel.replace("/", "__") + "__"
        traces = {key[len(prefix):-len("__rep0")]: history for key, history in histories.items()
                  if key.startswith(prefix) and key.endswith("__rep0")}
        ours = [float(h["time_s"].values[-1]) for m, h in traces.items() if not _is_peer(m) and h.sizes["iteration"]]
        right = 1.5 * max(ours, default=1.0)
        for method, history in traces.items():
            _plot_trace(ax, method, history, right)
        ax.set_xlim(0, right)
        ax.set_yscale("log")
        ax.set_title(panel)
        ax.set_xlabel("wall time [s]")
        ax.set_ylabel("suboptimality gap")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _is_peer(method: str) -> bool:
    """Whether ``method`` is a peer (dask-ml, dask or scikit-learn) rather than one of ours."""
    return method.startswith(("daskml_", "dask_")) or method == "sklearn"


_DSAG_STYLES = ("-", "-.", (0, (5, 1)), (0, (1, 1)))


def _plot_trace(ax, method: str, history: xr.Dataset, right: float) -> None:
    """One method's gap curve: ours as lines (DSAG red, one dash per w), peers as dotted points."""
    gap = np.maximum(history["gap"].values, 1e-16)
    times = history["time_s"].values
    label = method if not np.any(times > right) else f"{method} (points up to {times.max():.0f} s)"
    if method.startswith(("daskml_", "dask_")):
        ax.plot(times, gap, marker="o", markersize=3, linestyle=":", label=label)
        return
    w = method.removeprefix("dsag_w")
    dsag_style = _DSAG_STYLES[int(w) // 2 % len(_DSAG_STYLES)] if w.isdigit() else "-"
    color, style = _STYLE.get(method, ("tab:red", dsag_style))
    marker = "s" if method == "sklearn" else None
    ax.plot(times, gap, color=color, linestyle=style, marker=marker, markersize=3, label=label)


def population_projection(V: np.ndarray, gram: np.ndarray, populations: np.ndarray, path: Path) -> dict:
    """Rotate V onto the principal axes, plot individuals on PCs 1–2 and 2–3, and score the separation.

    The score is the accuracy of assigning each individual to the nearest
    population centroid in the 3-D projection.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values, vectors = np.linalg.eigh(V.T @ gram @ V)
    axes_ = V @ vectors[:, ::-1]
    names = sorted(set(populations.tolist()))
    centroids = np.stack([axes_[populations == name].mean(axis=0) for name in names])
    nearest = np.argmin(((axes_[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    accuracy = float(np.mean(np.array(names)[nearest] == populations))
    fig, panels = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (a, b) in zip(panels, [(0, 1), (1, 2)]):
        for name in names:
            mask = populations == name
            ax.scatter(axes_[mask, a], axes_[mask, b], s=4, alpha=0.6, label=name)
        ax.set_xlabel(f"PC{a + 1}")
        ax.set_ylabel(f"PC{b + 1}")
        ax.legend(markerscale=3)
    fig.suptitle(f"Simulated individuals on the DSAG components (nearest-centroid accuracy {accuracy:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"nearest_centroid_accuracy": accuracy, "plot": path.name}


# -- entry point -------------------------------------------------------------------------------------

def machine() -> dict:
    """Facts about the machine the numbers come from (load average shows how noisy they are)."""
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "memory_gib": round(pages * page_size / 2**30, 1), "load_average_at_start": list(os.getloadavg())}


def fig8(output: Path, quick: bool, repetitions: int | None = None, methods: tuple[str, ...] | None = None,
         workloads: tuple[str, ...] | None = None, config: Fig8Config | None = None) -> dict:
    """Run the Fig. 8 comparison and write fig8.json, fig8.nc and the plots into ``output``.

    ``repetitions``, ``methods`` and ``workloads`` (names) override the preset's (1
    repetition for ``--quick``, else 5; all of ``ALL_METHODS``; all three
    workloads); ``config`` replaces the preset entirely (sizes, scenarios, N, budgets, …).
    """
    config = config or Fig8Config.preset(quick)
    if workloads:
        known = [spec.name for spec in config.workloads]
        unknown = sorted(set(workloads) - set(known))
        if unknown:
            raise ValueError(f"unknown fig8 workload {', '.join(unknown)}; choose from {', '.join(known)}")
        config = replace(config, workloads=tuple(s for s in config.workloads if s.name in workloads))
    if repetitions is not None:
        config = replace(config, repetitions=repetitions)
    if methods is not None:
        config = replace(config, methods=tuple(methods))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    command = f"dsag bench fig8 {'--quick ' if quick else ''}--output {output}"
    if repetitions is not None:
        command += f" --repetitions {repetitions}"
    command += "".join(f" --workload {name}" for name in workloads or ())
    result: dict = {"command": command,
                    "config": asdict(config), "machine": machine(), "versions": peers.peer_versions(),
                    "workloads": {}, "runs": {}, f"speedup_{SPEEDUP_AT}": {}}
    histories: dict[str, xr.Dataset] = {}
    started = time.perf_counter()
    with LocalCluster(n_workers=config.n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        result["dashboard"] = client.dashboard_link
        workers = cluster_workers(client, config.n_workers)
        for spec in config.workloads:
            finals: dict = {}
            workload = load_workload(spec, config.seed)
            runs = run_workload(client, workers, workload, config, histories, finals)
            result["runs"].update(runs)
            for key, entry in runs.items():
                result[f"speedup_{SPEEDUP_AT}"][key] = speedups(entry)
            if workload.populations is not None:
                workload.info["populations"] = _populations(workload, runs, finals, config, output)
            result["workloads"][spec.name] = {**workload.info, "p": spec.p, "stepsizes": workload.stepsizes,
                                              "time_limit_s": spec.time_limit_s}
            _write_json(result, output, started)
            del workload, finals  # free this workload's matrix before the next one is built
    save_histories(histories, output / "fig8.nc")
    plot_fig8(histories, list(result["runs"]), output / "fig8.png")
    result["plots"] = ["fig8.png"] + [w["populations"]["plot"] for w in result["workloads"].values()
                                      if "populations" in w]
    result = _write_json(result, output, started)
    (output / "fig8.md").write_text(markdown_tables(result))
    return result


def markdown_tables(result: dict) -> str:
    """One table per workload × scenario from a fig8 result: medians over repetitions with their range.

    Written as ``OUT/fig8.md`` so the figures quoted in BENCHMARKS.md are the run's, untouched.
    """
    gaps = ("1e-04", SPEEDUP_AT, "1e-08")
    lines = [f"`{result['command']}`", ""]
    for key, runs in result["runs"].items():
        ratios = result[f"speedup_{SPEEDUP_AT}"].get(key, {})
        lines += [f"**{key}**", "",
                  "| method | w | reps | rebalances | final gap | " + " | ".join(f"{g} [s]" for g in gaps)
                  + f" | time({SPEEDUP_AT}) / DSAG's |", "|---" * (6 + len(gaps)) + "|"]
        for method, entry in runs.items():
            if method == "dsag":
                continue
            name = f"{method} (best DSAG)" if runs.get("dsag", {}).get("variant") == method else method
            if entry.get("error") and entry.get("final_gap") is None:
                lines.append(f"| {name} | | | | {entry['error']} |" + " |" * (len(gaps) + 1))
                continue
            cells = [name, _cell(entry.get("w")), _cell(entry.get("repetitions")), _cell(entry.get("rebalances")),
                     _gap_cell(entry)] + [_time_cell(entry, g) for g in gaps] + [_cell(ratios.get(method), ".2f")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(value, fmt: str = "") -> str:
    """A table cell: blank for missing, an integer plainly, else ``fmt``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and not fmt:
        return str(int(value))
    return format(value, fmt)


def _gap_cell(entry: dict) -> str:
    """The median final gap, with its range when there were several repetitions."""
    gap = entry.get("final_gap")
    text = "" if gap is None else f"{gap:.1e}"
    low, high = entry.get("final_gap_range", (None, None))
    return text + (f" ({low:.0e}–{high:.0e})" if low is not None and low != high else "")


def _time_cell(entry: dict, gap: str) -> str:
    """Median seconds to ``gap`` ("—" if the median run never got there), with min–max and how many got there."""
    median = (entry.get("time_to_gap") or {}).get(gap)
    reached = (entry.get("reached") or {}).get(gap)
    reps = entry.get("repetitions", 1)
    text = "—" if median is None else f"{median:.2f}"
    low, high = (entry.get("time_to_gap_min") or {}).get(gap), (entry.get("time_to_gap_max") or {}).get(gap)
    if reps > 1 and low is not None:
        text += f" ({low:.2f}–{'never' if high is None else f'{high:.2f}'})"
    if reps > 1 and reached is not None and reached < reps:
        text += f" [{reached}/{reps}]"
    return text


def _populations(workload: Workload, runs: dict, finals: dict, config: Fig8Config, output: Path) -> dict:
    """Project the individuals on the best DSAG run's components of the first scenario, repetition 0."""
    scenario = config.scenarios[0]
    entry = runs[f"{workload.spec.name}/{scenario}"]
    variant = entry["dsag"]["variant"] if "dsag" in entry else "gd"
    V = finals[(f"{workload.spec.name}__{scenario}__", variant, 0)]
    return population_projection(V, workload.reference.gram, workload.populations,
                                 output / "fig8_populations.png")


def _write_json(result: dict, output: Path, started: float) -> dict:
    """Write fig8.json (after each workload, so an interrupted run keeps its numbers); return it as plain JSON types."""
    result["elapsed_s"] = time.perf_counter() - started
    text = json.dumps(result, indent=2, default=_json_default)
    tmp = output / "fig8.json.tmp"
    tmp.write_text(text)
    os.replace(tmp, output / "fig8.json")
    return json.loads(text)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
