"""The paper's Fig. 7 on a LocalCluster: per-worker latency with and without load balancing.

N = 8 workers, w = N. Every worker starts with an injected delay equal to its own
compute latency; after 40 iterations 3 randomly chosen workers are slowed down
(delay × 3, about twice their starting latency), after 90 iterations another 3 are
sped up (their injected delay removed); 150 iterations, seeded. Compute latency is
emulated as ``base_s × load`` (1/p of a partition) when the real compute is shorter,
so latency scales with the sub-partition count as the paper's model assumes, and
stands well above Dask's per-task overhead on a small machine.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Fig7Scenario:
    """Delay = compute latency × a per-worker factor that changes at two task counts."""

    seed: int = 0
    base_s: float = 2.0
    slow_after: int = 40
    fast_after: int = 90
    n_changed: int = 3
    slow_factor: float = 3.0
    name: str = "fig7"

    def changed(self, n_workers: int) -> tuple[list[int], list[int]]:
        """The workers slowed down and the (other) workers sped up."""
        order = np.random.default_rng(self.seed).permutation(n_workers)
        return sorted(order[:self.n_changed].tolist()), sorted(order[self.n_changed:2 * self.n_changed].tolist())

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int, load: float = 1.0) -> float:
        slowed, sped_up = self.changed(n_workers)
        compute = max(compute_s, self.base_s * load)
        factor = 1.0
        if worker in slowed and task_index >= self.slow_after:
            factor = self.slow_factor
        if worker in sped_up and task_index >= self.fast_after:
            factor = 0.0
        return compute - compute_s + factor * compute

    def describe(self) -> dict:
        return asdict(self)


def _plot(histories: dict[str, xr.Dataset], changed: tuple[list[int], list[int]], path: Path) -> None:
    """Per-worker latency per iteration, with (top) and without (bottom) balancing, as in Fig. 7."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slowed, sped_up = changed
    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True, sharey=True)
    for ax, (label, ds) in zip(axes, histories.items()):
        latency = ds["roundtrip_s"].values
        for i in range(latency.shape[1]):
            color = "tab:blue" if i in slowed else "tab:red" if i in sped_up else "0.6"
            ax.plot(ds["iteration"].values, latency[:, i], color=color, lw=1)
        for t in ds["rebalance_iteration"].values:
            ax.axvline(t, color="0.3", lw=0.8, ls=":")
        ax.set_title(f"{label}: blue slowed after 40, red sped up after 90, dotted = re-balancing")
        ax.set_ylabel("latency [s]")
    axes[-1].set_xlabel("iteration")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig7(output: Path, quick: bool) -> dict:
    """Run the experiment with and without the load balancer; write fig7.json, fig7.nc, fig7.png."""
    from distributed import Client, LocalCluster

    from dsag_dask.history import save_histories
    from dsag_dask.job import prepare_problem
    from dsag_dask.runtime.coordinator import BalancerSettings
    from dsag_dask.runtime.placement import place
    from dsag_dask.runtime.run import cluster_workers, run_method

    n_workers, p0 = 8, 10
    iterations = 60 if quick else 150
    scenario = Fig7Scenario(base_s=0.5 if quick else 2.0,
                            slow_after=iterations * 40 // 150, fast_after=iterations * 90 // 150)
    problem, X, y, _ = prepare_problem("logreg", "flights")
    histories = {}
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        data = place(client, X, y, cluster_workers(client), run_id="fig7")
        try:
            for label, balance in [("with_lb", True), ("without_lb", False)]:
                _, histories[label] = run_method(
                    client, data, problem, None, method="dsag", w=n_workers, p=p0, stepsize=1.0,
                    max_iterations=iterations, scenario=scenario, load_balance=balance,
                    balancer=BalancerSettings(threshold=0.1, time_limit_s=1.0, seed=0), label=label)
        finally:
            data.release()
    save_histories(histories, output / "fig7.nc")
    _plot(histories, scenario.changed(n_workers), output / "fig7.png")
    last = {label: float(ds["latency_s"].values[-20:].mean()) for label, ds in histories.items()}
    return {
        "mean_last20_with_lb_s": last["with_lb"],
        "mean_last20_without_lb_s": last["without_lb"],
        "ratio": last["with_lb"] / last["without_lb"],
        "rebalance_iterations": histories["with_lb"]["rebalance_iteration"].values.tolist(),
        "final_p_with_lb": histories["with_lb"]["p"].values[-1].tolist(),
        "slowed_workers": scenario.changed(n_workers)[0],
        "sped_up_workers": scenario.changed(n_workers)[1],
        "iterations": iterations, "scenario": scenario.describe(), "plot": "fig7.png",
    }
