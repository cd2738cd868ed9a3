"""Latency side: model, order statistics, simulator, profiler, traces."""

from dsag_dask.latency.model import BurstModel, LatencyModel, gamma_params
from dsag_dask.latency.orderstats import order_statistic_quantiles, order_statistics
from dsag_dask.latency.profiler import Profiler, ProfilerStats, bench_profiler
from dsag_dask.latency.scenarios import GammaBurstScenario, StragglerScenario, TraceReplayScenario
from dsag_dask.latency.simulator import SimulationResult, bench_simulator, simulate, simulate_latencies
from dsag_dask.latency.traces import model_from_trace, predict_table, read_trace_csv, scenario_from_trace

__all__ = [
    "BurstModel",
    "GammaBurstScenario",
    "LatencyModel",
    "Profiler",
    "ProfilerStats",
    "SimulationResult",
    "StragglerScenario",
    "TraceReplayScenario",
    "bench_profiler",
    "bench_simulator",
    "gamma_params",
    "model_from_trace",
    "order_statistic_quantiles",
    "order_statistics",
    "predict_table",
    "read_trace_csv",
    "scenario_from_trace",
    "simulate",
    "simulate_latencies",
]
