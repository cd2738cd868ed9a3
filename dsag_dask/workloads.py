"""The paper's two evaluation workloads at any size: a 1000-Genomes-like genotype matrix and HIGGS.

- ``genomics_matrix``: variant sites × individuals, simulated with msprime under the
  stdpopsim HomSap ``OutOfAfrica_3G09`` model (835 YRI, 835 CEU, 834 CHB diploids, as
  in 1000 Genomes phase 3), entry 1 where an individual carries a derived allele.
  A generic contig with uniform recombination needs no genetic map, so nothing is
  downloaded at run time. Matrices are cached as npz under ``datasets.cache_dir()``.
- ``read_higgs``: the UCI ``HIGGS.csv.gz`` file (no header; label then 28 features).
- ``higgs_like``: a generator of the same shape, used when the real file is absent.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse

from dsag_dask.datasets import cache_dir

GENOMICS_MODEL = "OutOfAfrica_3G09"
GENOMICS_SAMPLES = {"YRI": 835, "CEU": 835, "CHB": 834}
# measured (DESIGN.md §6): a 2 Mb generic contig gives 21,353 sites; sites grow linearly with length
_BP_PER_SITE = 2_000_000 / 21_353
_MIN_LENGTH_BP = 1_000
_SITE_BATCH = 4096
_SEGMENT_BP = 5_000_000

HIGGS_FEATURES = 28
HIGGS_ENV = "DSAG_HIGGS"
_HIGGS_CHUNK_ROWS = 500_000


def contig_length(n_sites_target: int) -> int:
    """Contig length in base pairs expected to yield about ``n_sites_target`` variant sites."""
    if n_sites_target < 1:
        raise ValueError(f"n_sites_target must be positive, got {n_sites_target}")
    return max(_MIN_LENGTH_BP, int(round(n_sites_target * _BP_PER_SITE, -3)))


def genomics_cache_path(length: int, seed: int) -> Path:
    """Where the matrix for one total contig length and seed is cached."""
    return cache_dir() / f"genomics-v1-{GENOMICS_MODEL}-{length}bp-seed{seed}.npz"


def genomics_matrix(n_sites_target: int, seed: int = 0,
                    cache: bool = True) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """A binary sites × individuals CSR matrix and each individual's population label.

    Rows are variant sites (the samples of the PCA, as in the paper's 81M × 2504
    matrix) and columns the 2,504 simulated individuals; an entry is 1 where either
    haplotype carries a derived (non-reference) allele. Long contigs are simulated
    as independent segments of at most 5 Mb (like separate chromosomes, whose
    matrices the paper concatenates), which keeps the simulation time linear.
    """
    length = contig_length(n_sites_target)
    path = genomics_cache_path(length, seed)
    if cache and path.exists():
        return _load_genomics(path)
    n_segments = -(-length // _SEGMENT_BP)
    blocks, populations = [], None
    for segment in range(n_segments):
        matrix, populations = _simulate_segment(length // n_segments, _segment_seed(seed, segment))
        blocks.append(matrix)
    matrix = scipy.sparse.vstack(blocks, format="csr")
    if cache:
        _save_genomics(path, matrix, populations)
    return matrix, populations


def density(matrix) -> float:
    """Fraction of non-zero entries."""
    return float(matrix.nnz) / (matrix.shape[0] * matrix.shape[1])


def _segment_seed(seed: int, segment: int) -> int:
    """A positive 31-bit msprime seed for one segment, derived from the user's seed."""
    return int(np.random.SeedSequence([seed, segment]).generate_state(1)[0] % (2**31 - 2)) + 1


def _simulate_segment(length: int, seed: int) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """Run msprime through stdpopsim on one generic contig and turn it into the binary matrix."""
    import stdpopsim

    species = stdpopsim.get_species("HomSap")
    model = species.get_demographic_model(GENOMICS_MODEL)
    contig = species.get_contig(length=length)
    engine = stdpopsim.get_engine("msprime")
    with warnings.catch_warnings():
        # the generic contig's own (species-wide) mutation rate is used on purpose
        warnings.filterwarnings("ignore", message="The demographic model has mutation rate")
        ts = engine.simulate(model, contig, GENOMICS_SAMPLES, seed=seed)
    return _carrier_matrix(ts), _population_labels(ts)


def _carrier_matrix(ts) -> scipy.sparse.csr_matrix:
    """Sites × individuals: 1 where either of the individual's two haplotypes is derived."""
    sample_index = np.full(ts.num_nodes, -1)
    sample_index[ts.samples()] = np.arange(ts.num_samples)
    haplotypes = sample_index[ts.individuals_nodes].ravel()
    blocks, batch, filled = [], np.empty((_SITE_BATCH, ts.num_samples), dtype=np.int32), 0
    for variant in ts.variants(copy=False):
        batch[filled] = variant.genotypes
        filled += 1
        if filled == _SITE_BATCH:
            blocks.append(_carriers(batch, haplotypes))
            filled = 0
    blocks.append(_carriers(batch[:filled], haplotypes))
    return scipy.sparse.vstack(blocks, format="csr")


def _carriers(genotypes: np.ndarray, haplotypes: np.ndarray) -> scipy.sparse.csr_matrix:
    """One batch of sites as a binary CSR block (allele index 0 is the reference).

    ``haplotypes`` lists each individual's two sample columns in turn.
    """
    n_sites, n_ind = genotypes.shape[0], len(haplotypes) // 2
    pairs = np.take(genotypes > 0, haplotypes, axis=1).reshape(n_sites, n_ind, 2)
    rows, cols = np.nonzero(pairs[:, :, 0] | pairs[:, :, 1])
    indptr = np.zeros(n_sites + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_sites), out=indptr[1:])
    return scipy.sparse.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(n_sites, n_ind))


def _population_labels(ts) -> np.ndarray:
    """Population name of each individual, in column order."""
    names = np.array([pop.metadata["name"] for pop in ts.populations()], dtype=str)
    return names[ts.nodes_population[ts.individuals_nodes[:, 0]]]


def _save_genomics(path: Path, matrix: scipy.sparse.csr_matrix, populations: np.ndarray) -> None:
    """Store the pattern only (all stored values are 1), written atomically."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, indices=matrix.indices.astype(np.int32), indptr=matrix.indptr.astype(np.int64),
             shape=np.array(matrix.shape), populations=populations)
    os.replace(tmp, path)


def _load_genomics(path: Path) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        indices, indptr = f["indices"], f["indptr"]
        matrix = scipy.sparse.csr_matrix((np.ones(len(indices)), indices, indptr),
                                         shape=tuple(int(s) for s in f["shape"]))
        return matrix, f["populations"].astype(str)


def read_higgs(path: str | Path, n_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features (n × 28, float64) and ±1 labels from a UCI-format ``HIGGS.csv(.gz)`` file.

    The file is streamed in chunks, so reading the first ``n_rows`` of the 11M-row
    original never holds more than one chunk of text-parsed frames beyond the result.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no HIGGS file at {path}: download HIGGS.csv.gz from the UCI repository and point "
            f"${HIGGS_ENV} at it (or place it at {default_higgs_path()})")
    features, labels, seen = [], [], 0
    reader = pd.read_csv(path, header=None, chunksize=_HIGGS_CHUNK_ROWS, nrows=n_rows)
    for chunk in reader:
        X, y = _higgs_chunk(chunk, path, seen)
        features.append(X)
        labels.append(y)
        seen += len(chunk)
    if not features:
        raise ValueError(f"{path} holds no rows")
    return np.concatenate(features), np.concatenate(labels)


def _higgs_chunk(chunk: pd.DataFrame, path: Path, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one chunk (column count, numbers, labels 0/1) and split it."""
    if chunk.shape[1] != HIGGS_FEATURES + 1:
        raise ValueError(f"{path}: expected {HIGGS_FEATURES + 1} columns (label + {HIGGS_FEATURES} "
                         f"features), found {chunk.shape[1]}")
    numeric = all(pd.api.types.is_numeric_dtype(dtype) for dtype in chunk.dtypes)
    values = (chunk if numeric else chunk.apply(pd.to_numeric, errors="coerce")).to_numpy(np.float64)
    bad = np.argwhere(np.isnan(values))
    if bad.size:
        row, col = bad[0]
        raise ValueError(f"{path}: row {first_row + row + 1}, column {col + 1} is not a number "
                         f"({chunk.iat[row, col]!r})")
    label = values[:, 0]
    if not np.all((label == 0.0) | (label == 1.0)):
        row = int(np.nonzero((label != 0.0) & (label != 1.0))[0][0])
        raise ValueError(f"{path}: row {first_row + row + 1} has label {float(label[row])!r}; expected 1.0 or 0.0")
    return np.ascontiguousarray(values[:, 1:]), np.where(label == 1.0, 1.0, -1.0)


def higgs_like(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """HIGGS-shaped data: 28 kinematic-looking features and ±1 labels, about 53 % signal.

    Labels are drawn first; features then come from class-dependent distributions
    (log-normal momenta and masses with heavy right tails, bounded pseudo-rapidities,
    uniform angles, discrete b-tags), so the Bayes boundary is not linear and a
    logistic model reaches roughly HIGGS-like accuracy, not perfect separation.
    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    rng = np.random.default_rng(seed)
    signal = rng.random(n_rows) < 0.53
    X = np.empty((n_rows, HIGGS_FEATURES))
    shift = np.where(signal, 1.0, 0.0)
    X[:, 0:3] = _particle(rng, n_rows, shift, 0.10)
    X[:, 3] = rng.lognormal(0.0 + 0.08 * shift, 0.6)
    X[:, 4] = rng.uniform(-1.74, 1.74, n_rows)
    for j in range(4):
        col = 5 + 4 * j
        X[:, col:col + 3] = _particle(rng, n_rows, shift, 0.06)
        X[:, col + 3] = _btag(rng, signal, j)
    X[:, 21:28] = _masses(rng, n_rows, shift, X)
    return X, np.where(signal, 1.0, -1.0)


def _particle(rng: np.random.Generator, n: int, shift: np.ndarray, pt_shift: float) -> np.ndarray:
    """Transverse momentum (log-normal), pseudo-rapidity (clipped normal) and angle (uniform)."""
    pt = rng.lognormal(pt_shift * shift - 0.1, 0.5)
    eta = np.clip(rng.normal(0.0, 1.0 - 0.1 * shift), -2.43, 2.43)
    phi = rng.uniform(-1.74, 1.74, n)
    return np.column_stack([pt, eta, phi])


def _btag(rng: np.random.Generator, signal: np.ndarray, jet: int) -> np.ndarray:
    """Discrete b-tag values; signal events (H → bb) carry more tagged jets."""
    p_tag = np.where(signal, 0.45 - 0.05 * jet, 0.30 - 0.03 * jet)
    tagged = rng.random(len(signal)) < p_tag
    strength = rng.choice([1.087, 2.173], size=len(signal), p=[0.3, 0.7])
    return np.where(tagged, strength, 0.0)


def _masses(rng: np.random.Generator, n: int, shift: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Seven reconstructed invariant masses: signal is narrower around a resonance."""
    activity = np.log(X[:, [0, 5, 9, 13, 17]]).mean(axis=1)
    out = np.empty((n, 7))
    widths = [0.25, 0.3, 0.2, 0.3, 0.45, 0.35, 0.3]
    pulls = [0.0, 0.0, 0.05, 0.1, 0.15, 0.12, 0.12]
    for j in range(7):
        sigma = widths[j] * (1.0 - 0.35 * shift * (j >= 4))
        out[:, j] = rng.lognormal(0.3 * activity + pulls[j] * shift, sigma)
    return out


def default_higgs_path() -> Path:
    """Where the real HIGGS file is looked for: ``$DSAG_HIGGS``, else ``~/.cache/dsag-dask/HIGGS.csv.gz``."""
    env = os.environ.get(HIGGS_ENV)
    return Path(env) if env else Path.home() / ".cache" / "dsag-dask" / "HIGGS.csv.gz"


def load_higgs(n_rows: int, path: str | Path | None = None,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``n_rows`` of the real HIGGS file when present, else ``higgs_like``; returns (X, y, source)."""
    path = Path(path) if path is not None else default_higgs_path()
    if path.is_file():
        X, y = read_higgs(path, n_rows)
        return X, y, f"file:{path}"
    X, y = higgs_like(n_rows, seed)
    return X, y, f"generated:higgs_like(seed={seed})"
