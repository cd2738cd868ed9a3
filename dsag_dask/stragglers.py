"""Straggler scenarios, applied inside the worker task by sleeping after the real compute.

A scenario is a small frozen dataclass with ``delay(worker, n_workers, elapsed_s,
compute_s, task_index) -> seconds`` (worker 0-based, ``elapsed_s`` since the run
started as measured by the coordinator when it sent the task) and ``describe()``.
It is stateless, so a run is reproducible and any worker can evaluate it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Protocol


class Scenario(Protocol):
    """What a straggler scenario provides (see the module docstring)."""

    name: str

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int) -> float: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class NoStragglers:
    """No injected delay: the cluster's own latency only."""

    name: str = "none"

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int) -> float:
        return 0.0

    def describe(self) -> dict:
        return {"name": self.name}


@dataclass(frozen=True)
class ArtificialScenario:
    """The paper's §7.2 scenario: worker i (1-based) computes ``1 + factor·i/N`` times slower.

    The slowest ``relieved_fraction`` of the workers lose the extra latency after
    ``relieve_after_s`` (coming out of a burst). ``base_s`` is the compute latency
    the factor multiplies when the measured compute is shorter: a stand-in for a
    heavier per-task workload, so that the slow-down stands out above Dask's own
    per-task overhead (about 10 ms, DESIGN.md §6). Set it to 0 to scale the
    measured compute time only, as the paper did.
    """

    factor: float = 0.4
    relieve_after_s: float = 1.0
    relieved_fraction: float = 0.2
    base_s: float = 0.0
    name: str = "artificial"

    def delay(self, worker: int, n_workers: int, elapsed_s: float, compute_s: float,
              task_index: int) -> float:
        rank = worker + 1
        relieved = rank > n_workers - math.ceil(self.relieved_fraction * n_workers)
        padding = max(self.base_s - compute_s, 0.0)
        if relieved and elapsed_s >= self.relieve_after_s:
            return padding
        return padding + max(compute_s, self.base_s) * self.factor * rank / n_workers

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


def _registry() -> dict[str, type]:
    """Scenario classes by name; model-driven ones come from the latency package."""
    registry: dict[str, type] = {"none": NoStragglers, "artificial": ArtificialScenario}
    try:
        from dsag_dask.latency.scenarios import GammaBurstScenario
    except ImportError:
        return registry
    registry["gamma-burst"] = GammaBurstScenario
    return registry
