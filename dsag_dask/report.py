"""A self-contained HTML report of finished runs (``OUT/report.html``), so a run can be shared.

It draws the live page's plots from the recorded histories: the gap and ξ of every
method against wall time, and per method the workers' latency, fresh and stale
results, fresh share and sub-partition counts. Bokeh's JavaScript is inlined, so
the file opens without network access.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import xarray as xr
from bokeh.embed import file_html
from bokeh.layouts import column, gridplot, row
from bokeh.models import ColumnDataSource, Div, Span, TabPanel, Tabs
from bokeh.resources import INLINE

from dsag_dask.dashboard import WIDTH, lines, p_figure, positive, runs_figure, steps, worker_figures
from dsag_dask.history import load_histories


def worker_columns(history: xr.Dataset) -> dict:
    """Per-worker means of compute and communication latency, fresh/stale totals and fresh share."""
    n = history.sizes["worker"]
    worker = history["result_worker"].values
    compute = history["result_compute_s"].values
    comm = history["result_received_s"].values - history["result_sent_s"].values - compute
    counts = np.bincount(worker, minlength=n)

    def mean(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(worker, weights=values, minlength=n) / counts

    fresh = history["fresh"].sum("iteration").values
    return {"worker": np.arange(n), "compute_s": mean(compute), "comm_s": mean(comm), "fresh": fresh,
            "stale": history["stale"].sum("iteration").values,
            "share": fresh / max(history.sizes["iteration"], 1)}


def p_changes(history: xr.Dataset) -> tuple[list[float], list[list[int]]]:
    """Times at which some p_i changed, and p from then on (the first iteration included)."""
    p, times = history["p"].values, history["time_s"].values
    if len(times) == 0:
        return [], []
    changed = np.concatenate([[True], np.any(p[1:] != p[:-1], axis=1)])
    return times[changed].tolist(), p[changed].tolist()


def _method_panel(label: str, history: xr.Dataset) -> TabPanel:
    workers = ColumnDataSource(worker_columns(history), name=f"workers:{label}")
    times, values = p_changes(history)
    end = float(history["time_s"].values[-1]) if history.sizes["iteration"] else 0.0
    p = ColumnDataSource(lines(steps(times, values, end)), name=f"p:{label}")
    rebalances = ColumnDataSource({"time_s": history["rebalance_time_s"].values}, name=f"rebalances:{label}")
    share = Span(location=int(history.attrs["w"]) / history.sizes["worker"], dimension="width",
                 line_dash="dotted", line_color="black")
    grid = gridplot([worker_figures(workers, share), [p_figure(p, rebalances)]], toolbar_location="right")
    return TabPanel(child=grid, title=label)


def _summary(histories: dict[str, xr.Dataset]) -> str:
    rows = []
    for label, h in histories.items():
        gap = h["gap"].values
        final = f"{gap[-1]:.1e}" if gap.size and np.isfinite(gap[-1]) else "—"
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{html.escape(str(h.attrs.get('method', '')))}</td>"
                    f"<td>{h.attrs.get('w', '')}</td><td>{h.sizes['worker']}</td><td>{h.sizes['iteration']}</td>"
                    f"<td>{float(h.attrs.get('wall_s', np.nan)):.1f}</td><td>{final}</td></tr>")
    head = "".join(f"<th>{c}</th>" for c in ("run", "method", "w", "workers", "iterations", "seconds", "final gap"))
    return (f"<h2>DSAG run report</h2><table style='border-collapse: collapse' cellpadding='4'>"
            f"<tr>{head}</tr>{''.join(rows)}</table>")


def report_layout(histories: dict[str, xr.Dataset]):
    """The report's Bokeh layout: summary table, gap and ξ of all runs, then one tab per run."""
    gap = lines([(label, *positive(h["time_s"].values, h["gap"].values)) for label, h in histories.items()])
    xi = lines([(label, h["time_s"].values, h["xi"].values) for label, h in histories.items()])
    return column(Div(text=_summary(histories), width=3 * WIDTH),
                  row(runs_figure(ColumnDataSource(gap, name="gap"), "Suboptimality gap", "gap", log=True),
                      runs_figure(ColumnDataSource(xi, name="xi"), "Cache coverage ξ", "ξ")),
                  Tabs(tabs=[_method_panel(label, h) for label, h in histories.items()]))


def write_report(histories: dict[str, xr.Dataset], path: str | Path) -> Path:
    """Write the histories' plots as one self-contained HTML file (no network needed to view it)."""
    if not histories:
        raise ValueError("no run histories to report on")
    path = Path(path)
    path.write_text(file_html(report_layout(histories), INLINE, title="DSAG run report"), encoding="utf-8")
    return path


def report_from_trace(trace_path: str | Path, out_path: str | Path | None = None) -> Path:
    """Regenerate the report of a finished job from its ``trace.nc`` (default: ``report.html`` beside it)."""
    trace_path = Path(trace_path)
    return write_report(load_histories(trace_path), out_path or trace_path.with_name("report.html"))
