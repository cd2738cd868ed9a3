"""The fig8 workloads: the HIGGS reader on files in the UCI format, the HIGGS-like generator, the genotype matrix."""
import gzip

import numpy as np
import pytest

from dsag_dask import workloads
from dsag_dask.problems import LogisticRegressionProblem
from dsag_dask.problems.logistic import newton, standardize, with_intercept
from dsag_dask.workloads import higgs_like, load_higgs, read_higgs


def _write_higgs(path, labels, features, fmt="{:.18e}"):
    """A gzipped CSV laid out like UCI's HIGGS.csv.gz: no header, label first, then the features."""
    with gzip.open(path, "wt") as f:
        for label, row in zip(labels, features):
            f.write(",".join(fmt.format(v) for v in [label, *row]) + "\n")


@pytest.fixture()
def higgs_file(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 50).astype(float)
    features = rng.lognormal(0.0, 0.5, (50, 28))
    path = tmp_path / "HIGGS.csv.gz"
    _write_higgs(path, labels, features)
    return path, labels, features


def test_read_higgs_returns_features_and_pm1_labels(higgs_file):
    path, labels, features = higgs_file
    X, y = read_higgs(path)
    assert X.shape == (50, 28) and X.dtype == np.float64
    np.testing.assert_allclose(X, features, rtol=1e-15)
    np.testing.assert_array_equal(y, np.where(labels == 1.0, 1.0, -1.0))


def test_read_higgs_stops_after_n_rows(higgs_file, monkeypatch):
    path, labels, features = higgs_file
    monkeypatch.setattr(workloads, "_HIGGS_CHUNK_ROWS", 7)  # several chunks, the last one partial
    X, y = read_higgs(path, n_rows=20)
    np.testing.assert_allclose(X, features[:20], rtol=1e-15)
    assert len(y) == 20


def test_read_higgs_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="DSAG_HIGGS"):
        read_higgs(tmp_path / "missing.csv.gz")
    wrong = tmp_path / "wrong.csv.gz"
    _write_higgs(wrong, [1.0, 0.0], np.ones((2, 27)))
    with pytest.raises(ValueError, match="expected 29 columns"):
        read_higgs(wrong)
    text = tmp_path / "text.csv.gz"
    with gzip.open(text, "wt") as f:
        f.write(",".join(["1.0"] + ["0.5"] * 28) + "\n")
        f.write(",".join(["0.0", "abc"] + ["0.5"] * 27) + "\n")
    with pytest.raises(ValueError, match=r"row 2, column 2 is not a number \('abc'\)"):
        read_higgs(text)
    label = tmp_path / "label.csv.gz"
    _write_higgs(label, [1.0, 2.0], np.ones((2, 28)))
    with pytest.raises(ValueError, match="row 2 has label 2.0"):
        read_higgs(label)


def test_load_higgs_prefers_the_real_file(higgs_file, tmp_path, monkeypatch):
    path, _, features = higgs_file
    X, y, source = load_higgs(10, path=path)
    assert source == f"file:{path}"
    np.testing.assert_allclose(X, features[:10], rtol=1e-15)
    monkeypatch.setenv("DSAG_HIGGS", str(path))
    assert load_higgs(5)[2] == f"file:{path}"
    monkeypatch.setenv("DSAG_HIGGS", str(tmp_path / "absent.csv.gz"))
    X, y, source = load_higgs(100)
    assert source.startswith("generated:") and X.shape == (100, 28)


def test_higgs_like_shape_balance_tails_and_seed():
    X, y = higgs_like(40_000, seed=3)
    assert X.shape == (40_000, 28) and np.isfinite(X).all()
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert 0.51 < np.mean(y > 0) < 0.55  # HIGGS is 53 % signal
    momentum = X[:, 0]
    assert momentum.min() > 0 and np.quantile(momentum, 0.999) > 4 * np.median(momentum)  # heavy right tail
    X2, y2 = higgs_like(40_000, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_higgs_like_is_learnable_but_not_separable():
    X, y = higgs_like(30_000, seed=0)
    Z = with_intercept(standardize(X)[0])
    problem = LogisticRegressionProblem(n_rows=len(y), lam=1.0 / len(y))
    v = newton(problem, Z, y)
    accuracy = np.mean(np.sign(Z @ v) == y)
    assert 0.6 < accuracy < 0.8  # real HIGGS: about 0.64 for logistic regression


def test_contig_length_is_linear_in_sites():
    assert workloads.contig_length(21_353) == 2_000_000
    assert workloads.contig_length(42_706) == 4_000_000
    with pytest.raises(ValueError):
        workloads.contig_length(0)


def test_genomics_matrix_is_binary_1000_genomes_shaped_and_cached(tmp_path, monkeypatch):
    pytest.importorskip("msprime")
    pytest.importorskip("stdpopsim")
    monkeypatch.setenv("DSAG_DATA_DIR", str(tmp_path))
    X, populations = workloads.genomics_matrix(800, seed=2)
    assert X.shape[1] == 2504
    assert 400 < X.shape[0] < 1600
    np.testing.assert_array_equal(X.data, 1.0)
    assert 0.02 < workloads.density(X) < 0.12  # the paper's 1000 Genomes matrix: 5.36 %
    names, counts = np.unique(populations, return_counts=True)
    assert dict(zip(names, counts)) == {"YRI": 835, "CEU": 835, "CHB": 834}
    assert workloads.genomics_cache_path(workloads.contig_length(800), 2).exists()

    def no_simulation(*args):
        raise AssertionError("the cached matrix should have been reused")

    monkeypatch.setattr(workloads, "_simulate_segment", no_simulation)
    X2, populations2 = workloads.genomics_matrix(800, seed=2)
    assert (X2 != X).nnz == 0
    np.testing.assert_array_equal(populations2, populations)


def test_genomics_long_contigs_are_split_into_segments(tmp_path, monkeypatch):
    monkeypatch.setenv("DSAG_DATA_DIR", str(tmp_path))
    calls = []

    def fake_segment(length, seed):
        calls.append((length, seed))
        import scipy.sparse

        return scipy.sparse.csr_matrix(np.eye(2, 4)), np.array(["A", "B", "C", "D"])

    monkeypatch.setattr(workloads, "_simulate_segment", fake_segment)
    X, populations = workloads.genomics_matrix(150_000, seed=0, cache=False)
    assert len(calls) == 3 and all(length <= 5_000_000 for length, _ in calls)
    assert len({seed for _, seed in calls}) == 3
    assert X.shape == (6, 4)
