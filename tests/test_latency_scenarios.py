"""Tests for straggler scenarios run inside worker tasks."""

import dataclasses
import json
import pickle

import numpy as np
import pytest

from dsag_dask.latency.model import BurstModel
from dsag_dask.latency.scenarios import GammaBurstScenario, TraceReplayScenario
from dsag_dask.stragglers import Scenario


def test_scenarios_follow_the_protocol_and_are_frozen():
    for scenario in (GammaBurstScenario(), TraceReplayScenario(((1.0,),))):
        assert isinstance(scenario, Scenario)
        with pytest.raises(dataclasses.FrozenInstanceError):
            scenario.name = "other"
    assert GammaBurstScenario().name == "gamma-burst"
    assert TraceReplayScenario(((1.0,),)).name == "trace"


def test_gamma_delay_is_deterministic_and_survives_pickling():
    scenario = GammaBurstScenario(seed=5)
    args = [(worker, 8, elapsed, 0.3, task) for worker in range(8) for task in range(5) for elapsed in (0.0, 5e4)]
    delays = [scenario.delay(*a) for a in args]
    clone = pickle.loads(pickle.dumps(scenario))
    assert clone == scenario
    assert [clone.delay(*a) for a in args] == delays
    assert [GammaBurstScenario(seed=5).delay(*a) for a in reversed(args)] == delays[::-1]
    assert all(isinstance(d, float) and d > 0 for d in delays)
    assert scenario.delay(0, 8, 0.0, 0.3, 0) != scenario.delay(0, 8, 0.0, 0.3, 1)
    assert scenario.delay(0, 8, 0.0, 0.3, 0) != GammaBurstScenario(seed=6).delay(0, 8, 0.0, 0.3, 0)


def test_per_worker_means_spread_and_empirical_mean():
    scenario = GammaBurstScenario(seed=1, base_s=0.02, burst=BurstModel(slow_factor=1.0))
    means = np.array([scenario.worker_mean_s(worker) for worker in range(50)])
    assert np.all((means >= 0.02 * 1.1) & (means <= 0.02 * 1.4))
    assert means.max() / means.min() > 1.15
    for worker in (0, 1):
        delays = np.array([scenario.delay(worker, 50, 0.0, 0.1, task) for task in range(3000)])
        assert delays.mean() == pytest.approx(means[worker], rel=0.02)
        assert delays.std() / delays.mean() == pytest.approx(0.2, rel=0.1)


def test_burst_multiplies_the_same_draw():
    burst = BurstModel(slow_factor=2.0, seed=4)
    scenario = GammaBurstScenario(seed=2, burst=burst)
    times = np.arange(0, 1e6, burst.step_s)
    states = burst.state(3, times)
    slow, normal = times[states == 1][0], times[states == 0][0]
    assert scenario.delay(3, 4, slow, 0.1, 7) == pytest.approx(2.0 * scenario.delay(3, 4, normal, 0.1, 7))


def test_zero_cv_and_zero_base_are_deterministic():
    scenario = GammaBurstScenario(cv=0.0, burst=BurstModel(slow_factor=1.0))
    assert scenario.delay(2, 3, 0.0, 0.1, 0) == pytest.approx(scenario.worker_mean_s(2))
    assert GammaBurstScenario(base_s=0.0).delay(2, 3, 0.0, 0.1, 0) == 0.0


def test_describe_is_json_serialisable():
    described = json.loads(json.dumps(GammaBurstScenario(seed=3).describe()))
    assert described["name"] == "gamma-burst"
    assert described["seed"] == 3
    assert described["burst"]["transition"] == [[0.989, 0.011], [0.286, 0.714]]
    assert described["burst"]["slow_factor"] == 1.103
    trace = json.loads(json.dumps(TraceReplayScenario(((1.0, 2.0), (3.0,))).describe()))
    assert trace == {"name": "trace", "n_trace_workers": 2, "n_trace_tasks": [2, 1]}


@pytest.mark.parametrize(
    "kwargs", [{"seed": -1}, {"base_s": -0.1}, {"mean_spread": (0.4, 0.1)}, {"mean_spread": (-0.1, 0.1)}, {"cv": -1.0}]
)
def test_gamma_validation(kwargs):
    with pytest.raises(ValueError):
        GammaBurstScenario(**kwargs)


def test_trace_replay_tops_compute_up_to_the_trace():
    scenario = TraceReplayScenario(((1.0, 2.0, 0.5), (4.0,)))
    assert scenario.delay(0, 2, 0.0, 0.25, 0) == pytest.approx(0.75)
    assert scenario.delay(0, 2, 0.0, 0.25, 1) == pytest.approx(1.75)
    assert scenario.delay(0, 2, 0.0, 0.75, 2) == 0.0
    assert scenario.delay(0, 2, 0.0, 0.25, 3) == pytest.approx(0.75)
    assert scenario.delay(1, 2, 0.0, 1.0, 9) == pytest.approx(3.0)
    assert scenario.delay(2, 3, 0.0, 0.0, 1) == pytest.approx(2.0)
    assert pickle.loads(pickle.dumps(scenario)) == scenario


@pytest.mark.parametrize("latencies", [(), ((),), ((1.0, -1.0),), ((float("nan"),),)])
def test_trace_replay_validation(latencies):
    with pytest.raises(ValueError):
        TraceReplayScenario(latencies)
