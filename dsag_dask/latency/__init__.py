"""Latency side: model, order statistics, simulator, profiler, traces."""
