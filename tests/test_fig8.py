"""The fig8 benchmark: its pieces on known inputs, stragglers on peer tasks, and a miniature end-to-end run."""
import json
import math
import time

import numpy as np
import pytest
import scipy.sparse
import xarray as xr

from dsag_dask.history import load_histories
from dsag_dask.problems import PCAProblem
from dsag_dask.stragglers import make_scenario

pytest.importorskip("dask_ml")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from dsag_dask.bench import fig8 as bench  # noqa: E402
from dsag_dask.bench import peers  # noqa: E402


def _gd_history(compute, roundtrip, gaps):
    return xr.Dataset({"compute_s": (("iteration", "worker"), np.asarray(compute)),
                       "roundtrip_s": (("iteration", "worker"), np.asarray(roundtrip)),
                       "gap": ("iteration", np.asarray(gaps))},
                      coords={"iteration": np.arange(len(gaps))}, attrs={"stepsize": 1.0})


def test_coded_bound_takes_the_ceil_rN_th_fastest_scaled_worker():
    compute = [[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]]
    roundtrip = [[1.5, 2.5, 3.5, 4.5], [4.5, 3.5, 2.5, 1.5]]  # comm = 0.5 everywhere
    coded = bench.coded_bound(_gd_history(compute, roundtrip, [1e-1, 1e-3]), code_rate=0.5)
    # r = 1/2: compute doubled, wait for the 2nd fastest of 4 -> 0.5 + 2·2 = 4.5 per iteration
    np.testing.assert_allclose(coded["latency_s"].values, [4.5, 4.5])
    np.testing.assert_allclose(coded["time_s"].values, [4.5, 9.0])
    np.testing.assert_array_equal(coded["gap"].values, [1e-1, 1e-3])
    # the paper's r = 45/49 with N = 4 still waits for all 4 workers
    slowest = bench.coded_bound(_gd_history(compute, roundtrip, [1.0, 1.0]), code_rate=45 / 49)
    np.testing.assert_allclose(slowest["latency_s"].values, 0.5 + 4.0 * 49 / 45)


def test_coded_bound_without_a_rate_takes_the_best_k_over_n():
    compute = [[1.0, 1.0, 1.0, 8.0], [1.0, 1.0, 8.0, 1.0]]
    roundtrip = [[1.5, 1.5, 1.5, 8.5], [1.5, 1.5, 8.5, 1.5]]
    coded = bench.coded_bound(_gd_history(compute, roundtrip, [1e-1, 1e-3]))
    # k/N = 3/4 (0.5 + 4/3 per iteration) beats 4/4 (8.5), 2/4 (2.5) and 1/4 (4.5)
    assert coded.attrs["w"] == 3 and coded.attrs["code_rate"] == 0.75
    np.testing.assert_allclose(coded["latency_s"].values, 0.5 + 4 / 3)


def test_aggregate_takes_medians_with_never_as_infinity():
    entries = [{"time_to_gap": {"1e-06": t}, "final_gap": g, "iterations": i, "wall_s": 1.0, "w": 2}
               for t, g, i in [(1.0, 1e-9, 10), (None, 1e-5, 12), (3.0, 1e-8, 11)]]
    out = bench.aggregate(entries)
    assert out["time_to_gap"]["1e-06"] == 3.0
    assert out["time_to_gap_min"]["1e-06"] == 1.0 and out["time_to_gap_max"]["1e-06"] is None
    assert out["reached"]["1e-06"] == 2
    assert out["final_gap"] == 1e-8 and out["final_gap_range"] == [1e-9, 1e-5]
    assert out["iterations"] == 11 and out["w"] == 2 and out["repetitions"] == 3
    assert bench.aggregate(entries[1:2])["time_to_gap"]["1e-06"] is None


def test_best_dsag_and_speedups():
    def entry(t, gap):
        return [{"time_to_gap": {"1e-06": t}, "final_gap": gap, "iterations": 1, "wall_s": 1.0}]

    runs = bench.summarise_methods({"gd": entry(8.0, 1e-9), "dsag_w2": entry(4.0, 1e-9),
                                    "dsag_w4": entry(5.0, 1e-10), "sgd": entry(None, 1e-3)})
    assert runs["dsag"]["variant"] == "dsag_w2" and runs["dsag"]["time_to_gap"]["1e-06"] == 4.0
    ratios = bench.speedups(runs)
    assert ratios == {"gd": 2.0, "dsag_w2": 1.0, "dsag_w4": 1.25, "sgd": None}


def test_gram_reference_matches_the_data_pass_reference():
    rng = np.random.default_rng(0)
    X = scipy.sparse.random(400, 60, density=0.1, format="csr", random_state=1, data_rvs=np.ones)
    problem = PCAProblem(n_components=3)
    exact, gram = problem.reference(X, None), peers.GramPCAReference(X, 3)
    assert gram.optimum == pytest.approx(exact.optimum, rel=1e-12)
    iterates = [problem.initial(60), np.linalg.qr(rng.standard_normal((60, 3)))[0]]
    np.testing.assert_allclose(gram.gaps(iterates), exact.gaps(iterates), rtol=1e-10, atol=1e-14)
    centred = peers.GramPCAReference(X, 3, centred=True)
    Xc = X.toarray() - X.toarray().mean(axis=0)
    top = np.linalg.eigvalsh(Xc.T @ Xc)[-3:].sum() / np.sum(Xc**2)
    assert centred.optimum == pytest.approx(top, rel=1e-10)


def test_peer_delay_is_the_scenario_scaled_to_the_task_compute():
    scenario = make_scenario("artificial", factor=0.4, relieve_after_s=1e9, relieved_fraction=0.2)
    plugin = peers.PeerStragglers(scenario, {f"w{i}": i for i in range(4)}, reference_s=0.2, epoch=time.time())
    plugin._rank, plugin._count = 3, iter(range(10))
    # worker 4 of 4 computes 1 + 0.4 times slower, whatever the task size
    assert plugin.delay(0.05) == pytest.approx(0.05 * 0.4)
    assert plugin.delay(0.5) == pytest.approx(0.5 * 0.4)


def test_budget_ladder_stops_and_records_errors():
    class Reference:
        def gaps(self, iterates):
            return np.array([float(v[0]) for v in iterates])

    curve = peers.budget_ladder(lambda b: np.array([10.0 ** -b]), Reference(), peers.PeerCurve("x", "same"),
                                peers.doubling(1), time_budget_s=60, target_gap=1e-5)
    assert curve.budgets == [1, 2, 4, 8] and curve.gaps[-1] == 1e-8
    flat = peers.budget_ladder(lambda b: np.array([1e-3]), Reference(), peers.PeerCurve("x", "same"),
                               peers.doubling(1), time_budget_s=60, target_gap=1e-9)
    assert flat.budgets == [1, 2, 4]  # two budgets without 1 % progress: converged

    def failing(budget):
        if budget > 2:
            raise RuntimeError("solver blew up")
        return np.array([0.1])

    broken = peers.budget_ladder(failing, Reference(), peers.PeerCurve("x", "same"), peers.doubling(1),
                                 time_budget_s=60, target_gap=1e-9)
    assert broken.budgets == [1, 2] and broken.error == "RuntimeError: solver blew up"
    assert broken.summary()["error"] == "RuntimeError: solver blew up"


def test_peer_stragglers_slow_every_task_on_the_worker_and_stop_after(client8):
    workers = sorted(client8.scheduler_info(n_workers=-1)["workers"])
    scenario = make_scenario("artificial", factor=2.0, relieve_after_s=1e9, relieved_fraction=0.0)

    def roundtrip():
        began = time.perf_counter()
        client8.submit(time.sleep, 0.2, workers=[workers[-1]], pure=False).result()
        return time.perf_counter() - began

    roundtrip()
    with peers.peer_stragglers(client8, scenario, workers, reference_s=0.1):
        slow = roundtrip()
    fast = roundtrip()
    assert slow >= 0.2 * 2.9  # the last worker: 1 + 2·8/8 = 3 times the task's 0.2 s
    assert fast < slow - 0.2


def test_fig8_miniature_writes_the_three_outputs(tmp_path):
    config = bench.Fig8Config(
        workloads=(bench.WorkloadSpec("genomics_pca", 1500, 2, 2.0),
                   bench.WorkloadSpec("higgs_logreg", 16_000, 2, 3.0)),
        scenarios=("artificial",), n_workers=4, w=2, dsag_w=(2,), repetitions=1,
        peer_time_s=0.5, daskml_solvers=("lbfgs",))
    result = bench.fig8(tmp_path, quick=True, config=config)
    on_disk = json.loads((tmp_path / "fig8.json").read_text())
    assert on_disk == result
    assert set(result["runs"]) == {"genomics_pca/artificial", "higgs_logreg/artificial"}
    expected = {"gd", "sgd", "sag", "sag_wN", "dsag", "dsag_w2", "dsag_lb", "coded", "sklearn"}
    pca, logreg = result["runs"]["genomics_pca/artificial"], result["runs"]["higgs_logreg/artificial"]
    assert set(pca) == expected | {"dask_svd_compressed", "daskml_tsvd", "daskml_pca"}
    assert set(logreg) == expected | {"daskml_lbfgs"}
    for runs in (pca, logreg):
        for method, entry in runs.items():
            assert set(entry["time_to_gap"]) == {"1e-02", "1e-04", "1e-06", "1e-08"}, method
            assert entry["final_gap"] is None or math.isfinite(entry["final_gap"])
            assert "iterations" in entry
        for method in ("sgd", "sag", "dsag", "dsag_lb"):
            assert runs[method]["w"] == 2 and runs[method]["p"] == [2, 2, 2, 2]
        assert runs["sag_wN"]["w"] == 4 and runs["gd"]["p"] == [1, 1, 1, 1]
        assert runs["gd"]["rebalances"] == 0
        assert runs["dsag"]["final_gap"] < runs["sgd"]["final_gap"]
    for key, ratios in result["speedup_1e-06"].items():
        assert set(ratios) == set(result["runs"][key]) - {"dsag"}
        assert all(r is None or r > 0 for r in ratios.values())
    info = result["workloads"]["genomics_pca"]
    assert info["cols"] == 2504 and 0.02 < info["density"] < 0.12
    assert info["populations"]["nearest_centroid_accuracy"] > 1 / 3
    assert result["workloads"]["higgs_logreg"]["stepsizes"]["gd"] > 0
    assert result["versions"]["dask-ml"] and result["machine"]["cpus"]
    traces = load_histories(tmp_path / "fig8.nc")
    assert "genomics_pca__artificial__dsag_w2__rep0" in traces
    assert "higgs_logreg__artificial__coded__rep0" in traces
    assert "higgs_logreg__artificial__daskml_lbfgs__rep0" in traces
    for workload, runs in (("genomics_pca", pca), ("higgs_logreg", logreg)):
        lb = traces[f"{workload}__artificial__dsag_lb__rep0"]
        assert runs["dsag_lb"]["rebalances"] == lb.sizes.get("rebalance", 0), workload
    tables = (tmp_path / "fig8.md").read_text()
    assert "**higgs_logreg/artificial**" in tables and "| dsag_w2 (best DSAG) | 2 | 1 |" in tables
    for name in ("fig8.png", "fig8_populations.png"):
        assert (tmp_path / name).stat().st_size > 10_000
