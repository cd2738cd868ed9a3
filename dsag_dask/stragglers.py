"""Straggler scenarios, applied inside the worker task by sleeping after the real compute.

A scenario is a small frozen dataclass with ``delay(worker, n_workers, elapsed_s,
compute_s, task_index, load) -> seconds`` (worker 0-based, ``elapsed_s`` since the run
started as measured by the coordinator when it sent the task, ``load`` the task's
share of the worker's rows, 1/p) and ``describe()``.
It is stateless, so a run is reproducible and any worker can evaluate it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Protocol, runtime_checkable


@runtime_checkable
class Scenario(Protocol):
    """What a straggler scenario provides (see the module docstring)."""

    name: str

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int, load: float = 1.0) -> float: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class NoStragglers:
    """No injected delay: the cluster's own latency only."""

    name: str = "none"

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int, load: float = 1.0) -> float:
        return 0.0

    def describe(self) -> dict:
        return {"name": self.name}


@dataclass(frozen=True)
class ArtificialScenario:
    """The paper's §7.2 scenario: worker i (1-based) computes ``1 + factor·i/N`` times slower.

    The slowest ``relieved_fraction`` of the workers lose the extra latency after
    ``relieve_after_s`` (coming out of a burst). ``base_s`` is the compute latency of
    a task over a worker's whole partition (p = 1), taken as the task's compute
    latency (``base_s × load``) when the measured one is shorter: a stand-in for a
    heavier workload, so that the slow-down stands out above Dask's own per-task
    overhead (about 10 ms, DESIGN.md §6) and still scales with p. Set it to 0 to
    scale the measured compute time only, as the paper did.
    """

    factor: float = 0.4
    relieve_after_s: float = 1.0
    relieved_fraction: float = 0.2
    base_s: float = 0.0
    name: str = "artificial"

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int, load: float = 1.0) -> float:
        rank = worker + 1
        relieved = rank > n_workers - math.ceil(self.relieved_fraction * n_workers)
        base = self.base_s * load
        padding = max(base - compute_s, 0.0)
        if relieved and elapsed_s >= self.relieve_after_s:
            return padding
        return padding + max(compute_s, base) * self.factor * rank / n_workers

    def describe(self) -> dict:
        return asdict(self)


def make_scenario(name: str, **params) -> Scenario:
    """Build a scenario by name with its parameters (clear error for unknown names/keys)."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown straggler scenario {name!r}; choose one of {', '.join(sorted(registry))}")
    try:
        return registry[name](**params)
    except TypeError as err:
        raise ValueError(f"bad parameters for scenario {name!r}: {err}") from None


def _trace(path: str) -> Scenario:
    """Replay per-worker latencies from a trace CSV in the paper's published layout."""
    from dsag_dask.latency.traces import read_trace_csv, scenario_from_trace

    return scenario_from_trace(read_trace_csv(path))


def _registry() -> dict[str, Callable[..., Scenario]]:
    """Scenario factories by name; model-driven ones come from the latency package."""
    from dsag_dask.latency.scenarios import GammaBurstScenario

    return {"none": NoStragglers, "artificial": ArtificialScenario,
            "gamma-burst": GammaBurstScenario, "trace": _trace}
