"""Latency side: model, order statistics, simulator, profiler, traces."""

from dsag_dask.latency.model import BurstModel, LatencyModel, gamma_params
from dsag_dask.latency.orderstats import order_statistic_quantiles, order_statistics
from dsag_dask.latency.profiler import Profiler, ProfilerStats, bench_profiler
from dsag_dask.latency.scenarios import GammaBurstScenario, TraceReplayScenario
from dsag_dask.latency.simulator import SimulationResult, bench_simulator, simulate, simulate_latencies
from dsag_dask.latency.prediction import prediction_table, validate_on_history
from dsag_dask.latency.traces import model_from_trace, read_trace_csv, scenario_from_trace

__all__ = [
    "BurstModel",
    "GammaBurstScenario",
    "LatencyModel",
    "Profiler",
    "ProfilerStats",
    "SimulationResult",
    "TraceReplayScenario",
    "bench_profiler",
    "bench_simulator",
    "gamma_params",
    "model_from_trace",
    "order_statistic_quantiles",
    "order_statistics",
    "prediction_table",
    "read_trace_csv",
    "scenario_from_trace",
    "simulate",
    "simulate_latencies",
    "validate_on_history",
]
