"""Speed of the latency side: simulator and profiler (issue: latency model)."""
from __future__ import annotations

import platform
from pathlib import Path

from dsag_dask.latency.profiler import bench_profiler
from dsag_dask.latency.simulator import bench_simulator


def _machine() -> dict:
    import os

    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}


def simulator(output: Path, quick: bool) -> dict:
    """Time per 100 simulated iterations (amortised over 100 realisations) for N=100 and N=1000."""
    return {**bench_simulator(repeats=3 if quick else 10), "machine": _machine()}


def profiler(output: Path, quick: bool) -> dict:
    """Cost of one ``Profiler.record`` call and of one ``stats`` for 100 workers."""
    return {**bench_profiler(repeats=3 if quick else 10), "machine": _machine()}
