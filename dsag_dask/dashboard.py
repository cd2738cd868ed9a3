"""The live DSAG page (Bokeh): stragglers, stale results, load balancing, ξ and gap as a run goes.

Two ways to serve it (DESIGN.md §5): ``register_scheduler_page`` adds it to the
dashboard of a scheduler that runs in this process (an embedded ``LocalCluster``),
and ``serve`` starts a Bokeh server of its own on 127.0.0.1 (for a remote
scheduler). Both read a ``LiveMonitor`` in this process. The figure builders are
shared with the static report (``dsag_dask.report``).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import socket
import threading
from itertools import cycle
from typing import Iterator
from urllib.parse import urljoin

import numpy as np
from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document, without_document_lock
from bokeh.layouts import column, gridplot
from bokeh.models import ColumnDataSource, Div, HoverTool, LayoutDOM, SingleIntervalTicker, Span
from bokeh.palettes import Category10_10, Category20_20
from bokeh.plotting import figure

from dsag_dask.live import LiveMonitor

PAGE_PATH = "/individual-dsag"
WIDTH, HEIGHT = 460, 280
_PAGES: dict[str, LiveMonitor] = {}
WORKER_COLUMNS = ("worker", "compute_s", "comm_s", "fresh", "stale", "share")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def lines(series: list[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """Columns of a multi-line source from (label, x, y) triples, one colour each."""
    colors = cycle(Category10_10 if len(series) <= 10 else Category20_20)
    return {"xs": [np.asarray(x, dtype=float) for _, x, _ in series],
            "ys": [np.asarray(y, dtype=float) for _, _, y in series],
            "color": [next(colors) for _ in series], "label": [label for label, _, _ in series]}


def steps(times: list[float], values: list[list[int]], end: float) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per-worker step lines of p_i from the times at which p changed, up to ``end``."""
    if not values:
        return []
    t = np.append(np.repeat(np.asarray(times, dtype=float), 2)[1:], max(end, times[-1]))
    p = np.repeat(np.asarray(values, dtype=float), 2, axis=0)
    return [(f"worker {i}", t, p[:, i]) for i in range(p.shape[1])]


def worker_figures(workers: ColumnDataSource, share_line: Span) -> list[figure]:
    """Per-worker bars: compute and communication latency, fresh vs stale results, fresh share."""
    latency = _figure("Latency per worker (mean)", "worker", "seconds")
    latency.vbar_stack(["compute_s", "comm_s"], x="worker", width=0.7, source=workers,
                       color=[Category10_10[0], Category10_10[1]], legend_label=["compute", "communication"])
    deliveries = _figure("Results delivered", "worker", "results")
    deliveries.vbar_stack(["fresh", "stale"], x="worker", width=0.7, source=workers,
                          color=[Category10_10[2], Category10_10[3]], legend_label=["fresh", "stale"])
    share = _figure("Share of iterations among the w fastest", "worker", "fraction of iterations")
    share.vbar(x="worker", top="share", width=0.7, source=workers, color=Category10_10[4])
    share.add_layout(share_line)
    for fig in (latency, deliveries, share):
        fig.xaxis.ticker = SingleIntervalTicker(interval=1)
        fig.y_range.start = 0
    for fig in (latency, deliveries):
        fig.y_range.range_padding = 0.7  # head room for the legend
        fig.legend.orientation, fig.legend.location = "horizontal", "top_left"
    return [latency, deliveries, share]


def p_figure(p: ColumnDataSource, rebalances: ColumnDataSource) -> figure:
    """Sub-partitions p_i per worker over time, with a dashed line at each re-balancing."""
    fig = _figure("Sub-partitions p_i (dashed: re-balancing)", "seconds", "p_i")
    fig.vspan(x="time_s", source=rebalances, line_color="grey", line_dash="dashed")
    fig.multi_line(xs="xs", ys="ys", line_color="color", source=p, line_width=2)
    fig.add_tools(HoverTool(tooltips=[("", "@label")]))
    return fig


def runs_figure(source: ColumnDataSource, title: str, y_label: str, log: bool = False) -> figure:
    """One line per run against wall time (ξ, or the gap on a log axis)."""
    fig = _figure(title, "seconds", y_label, y_axis_type="log" if log else "linear")
    fig.multi_line(xs="xs", ys="ys", line_color="color", legend_field="label", source=source, line_width=2)
    fig.legend.location = "top_right" if log else "bottom_right"
    return fig


def _figure(title: str, x_label: str, y_label: str, **kwargs) -> figure:
    fig = figure(title=title, width=WIDTH, height=HEIGHT, tools="pan,box_zoom,wheel_zoom,reset,save",
                 **kwargs)
    fig.xaxis.axis_label, fig.yaxis.axis_label = x_label, y_label
    return fig


class _LivePage:
    """One browser session's named sources, refreshed from monitor snapshots when something changed."""

    def __init__(self) -> None:
        self.workers = ColumnDataSource({k: [] for k in WORKER_COLUMNS}, name="workers")
        self.p, self.xi, self.gap = (ColumnDataSource(lines([]), name=name) for name in ("p", "xi", "gap"))
        self.rebalances = ColumnDataSource({"time_s": []}, name="rebalances")
        self.share_line = Span(location=0, dimension="width", line_dash="dotted", line_color="black")
        self.header = Div(text="<h3>DSAG: waiting for a run…</h3>", width=3 * WIDTH)
        self.shown: tuple = ()

    def layout(self) -> LayoutDOM:
        """A header, then the worker bars, then p_i, ξ and the gap over time."""
        grid = gridplot([worker_figures(self.workers, self.share_line),
                         [p_figure(self.p, self.rebalances),
                          runs_figure(self.xi, "Cache coverage ξ", "ξ"),
                          runs_figure(self.gap, "Suboptimality gap", "gap", log=True)]],
                        toolbar_location="right")
        return column(self.header, grid)

    def update(self, snapshot: dict) -> None:
        """Show the running (else the latest) run's workers and p_i, and every run's ξ and gap."""
        runs = snapshot["runs"]
        key = tuple((r["label"], r["iterations"], len(r["gap"]), r["running"]) for r in runs)
        if not runs or key == self.shown:
            return
        self.shown = key
        current = next((r for r in runs if r["running"]), runs[-1])
        n, w = current["n_workers"], current["w"]
        stats = current["workers"]
        self.workers.data = {
            "worker": np.arange(n), "compute_s": np.asarray(stats["compute_s"]),
            "comm_s": np.asarray(stats["comm_s"]), "fresh": np.asarray(stats["fresh"]),
            "stale": np.asarray(stats["stale"]), "share": np.asarray(stats["fresh_share"])}
        self.share_line.location = w / n
        end = current["time_s"][-1] if current["time_s"] else 0.0
        self.p.data = lines(steps(current["p_time_s"], current["p"], end))
        self.rebalances.data = {"time_s": [e["time_s"] for e in current["rebalances"]]}
        self.xi.data = lines([(r["label"], r["time_s"], r["xi"]) for r in runs])
        self.gap.data = lines([(r["label"], *positive(r["gap_time_s"], r["gap"])) for r in runs])
        state = "running" if current["running"] else f"finished ({current['stopped_by']})"
        self.header.text = (f"<h3>DSAG: {html.escape(current['label'])} ({current['method']}, "
                            f"w = {w} of {n} workers): iteration {current['iterations']}, "
                            f"{end:.1f} s, {state}</h3>")


def positive(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points with a positive, finite y (the only ones a log axis can show)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(y) & (y > 0)
    return x[keep], y[keep]


def build_document(doc: Document, monitor: LiveMonitor, period_ms: int = 500) -> None:
    """Fill a Bokeh document with the live page and refresh it every ``period_ms`` from ``monitor``."""
    page = _LivePage()
    doc.add_root(page.layout())
    doc.title = "DSAG: stragglers"

    @without_document_lock
    async def refresh() -> None:
        # the snapshot may compute a gap: keep it off the (scheduler's) event loop
        snapshot = await asyncio.get_running_loop().run_in_executor(None, monitor.snapshot)
        doc.add_next_tick_callback(functools.partial(page.update, snapshot))

    doc.add_periodic_callback(refresh, period_ms)


def _scheduler_page(path: str, scheduler, extra: dict, doc: Document) -> None:
    build_document(doc, _PAGES[path])


def register_scheduler_page(monitor: LiveMonitor, path: str = PAGE_PATH) -> str:
    """Add the page to the Dask dashboard of schedulers created later in this process; return its path.

    distributed builds a scheduler's dashboard from ``distributed.dashboard.scheduler.applications``
    when the scheduler is created, so call this before creating the ``LocalCluster``. A path that
    contains ``individual`` is listed in the dashboard's "More…" menu. Registering again
    switches the page to another monitor.
    """
    from distributed.dashboard.scheduler import applications

    _PAGES[path] = monitor
    applications[path] = functools.partial(_scheduler_page, path)
    return path


def page_url(dashboard_link: str, path: str = PAGE_PATH) -> str:
    """The page's address on the dashboard whose link (e.g. ``client.dashboard_link``) is given."""
    return urljoin(dashboard_link, path.lstrip("/"))


def _scheduler_serves(client, path: str) -> bool:
    """Whether the client's scheduler runs in this process and its dashboard has ``path``."""
    scheduler = getattr(getattr(client, "cluster", None), "scheduler", None)
    http = getattr(scheduler, "http_application", None)
    return any(path in getattr(app, "app_paths", ()) for app in getattr(http, "applications", ()))


@contextlib.contextmanager
def live_page(monitor: LiveMonitor, client, path: str = PAGE_PATH) -> Iterator[str]:
    """Yield the live page's address: the scheduler's dashboard if it serves this monitor, else a server of our own."""
    if _PAGES.get(path) is monitor and _scheduler_serves(client, path):
        yield page_url(client.dashboard_link, path)
        return
    server = serve(monitor)
    try:
        yield server.url
    finally:
        server.stop()


class LiveServer:
    """A Bokeh server of its own, in a daemon thread of this process, serving the live page."""

    def __init__(self, monitor: LiveMonitor, host: str = "127.0.0.1", port: int = 0, path: str = "/dsag"):
        self._monitor, self._host, self._path = monitor, host, path
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(port,), name="dsag-dashboard", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the DSAG dashboard server did not start within 30 s")
        if self._error is not None:
            raise self._error

    def _run(self, port: int) -> None:
        from bokeh.server.server import BaseServer
        from bokeh.server.tornado import BokehTornado
        from bokeh.server.util import bind_sockets
        from tornado.httpserver import HTTPServer
        from tornado.ioloop import IOLoop

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            sockets, self.port = bind_sockets(self._host, port)
            # browsers on other hosts reach the page only when the user binds beyond loopback
            origins = ([f"{name}:{self.port}" for name in ("127.0.0.1", "localhost")]
                       if self._host in _LOOPBACK else ["*"])
            app = BokehTornado({self._path: Application(FunctionHandler(
                functools.partial(build_document, monitor=self._monitor)))},
                extra_websocket_origins=origins)
            http = HTTPServer(app)
            http.add_sockets(sockets)
            self._loop = IOLoop.current()
            self._server = BaseServer(self._loop, app, http)
            self._server.start()
        except BaseException as error:  # reported to the constructor's caller
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.start()
        self._loop.close()

    @property
    def url(self) -> str:
        """The page's address."""
        host = socket.gethostname() if self._host in ("", "0.0.0.0", "::") else self._host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{self._path}"

    def stop(self) -> None:
        """Stop the server and its thread."""
        def shutdown() -> None:
            self._server.stop()
            self._loop.stop()

        self._loop.add_callback(shutdown)
        self._thread.join(10)


def serve(monitor: LiveMonitor, host: str = "127.0.0.1", port: int = 0) -> LiveServer:
    """Serve the live page from this process (for remote schedulers); localhost only unless ``host`` says otherwise."""
    return LiveServer(monitor, host, port)
