"""Benchmarks behind ``dsag bench NAME --output OUT [--quick]``: each writes OUT/NAME.json.

A benchmark is a function ``(output: Path, quick: bool) -> dict`` registered here;
the CLI writes the returned dict as JSON next to any plots the function saved.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

# name -> "module:function", imported on demand so one benchmark's extras don't burden another
BENCHMARKS: dict[str, str] = {
    "simulator": "dsag_dask.bench.latency:simulator",
    "profiler": "dsag_dask.bench.latency:profiler",
    "latency-model": "dsag_dask.bench.latency:latency_model",
    "fig7": "dsag_dask.bench.fig7:fig7",
    "fig8": "dsag_dask.bench.fig8:fig8",
}


def get_benchmark(name: str) -> Callable[[Path, bool], dict]:
    """The benchmark function registered under ``name``."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {', '.join(sorted(BENCHMARKS))}")
    module, function = BENCHMARKS[name].split(":")
    return getattr(importlib.import_module(module), function)
