"""The ``dsag`` command line: a thin layer over the Python API (click for parsing and help)."""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import click

from dsag_dask.config import ConfigError, load_config
from dsag_dask.methods import get_method


@click.group()
def main() -> None:
    """Straggler-resilient distributed learning (DSAG) on Dask."""


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="YAML job file (see conf/).")
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="Directory for trace.nc and summary.json.")
@click.option("--scheduler", default=None,
              help="Address of an existing Dask scheduler (tcp://host:port); default: embedded LocalCluster.")
@click.option("--overwrite", is_flag=True, help="Replace results already in OUTPUT.")
@click.option("--load-balance/--no-load-balance", default=None,
              help="Turn the load balancer on or off for every method but GD (default: as configured).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run(config_path: Path, output: Path, scheduler: str | None, overwrite: bool,
        load_balance: bool | None, quiet: bool) -> None:
    """Run the methods of a job file on one cluster and compare their time to each gap."""
    from dsag_dask.dashboard import live_page
    from dsag_dask.job import SchedulerUnreachable, connect, format_table, run_job
    from dsag_dask.live import LiveMonitor

    try:
        config = load_config(config_path, scheduler=scheduler)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    if load_balance is not None:
        for spec in config.methods.values():
            if not get_method(spec.method).waits_for_all:
                spec.load_balance = load_balance
    if (output / "summary.json").exists() and not overwrite:
        raise click.ClickException(f"{output} already holds results; pick another --output or pass --overwrite")
    output.mkdir(parents=True, exist_ok=True)
    monitor = LiveMonitor()
    try:
        with connect(config.cluster, monitor) as client, live_page(monitor, client) as page:
            click.echo(f"Dask dashboard: {client.dashboard_link}")
            click.echo(f"DSAG live page: {page}")
            summary = run_job(config, output, client, progress=not quiet, echo=click.echo, monitor=monitor)
    except (SchedulerUnreachable, ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(format_table(summary))
    click.echo(f"wrote {output / 'trace.nc'}, {output / 'summary.json'} and {output / 'report.html'}")


@main.command()
@click.argument("trace_path", type=click.Path(path_type=Path))
@click.option("--output", "out_path", default=None, type=click.Path(path_type=Path),
              help="HTML file to write (default: report.html beside TRACE_PATH).")
def report(trace_path: Path, out_path: Path | None) -> None:
    """Write the self-contained HTML report of a finished job from its trace.nc."""
    from dsag_dask.report import report_from_trace

    try:
        path = report_from_trace(trace_path, out_path)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {path}")


@main.command()
@click.argument("config_path", type=click.Path(path_type=Path))
def check(config_path: Path) -> None:
    """Validate a job file and print it with defaults filled in."""
    try:
        config = load_config(config_path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(json.dumps(config.model_dump(), indent=2))


@main.command()
@click.option("--history", "history_path", required=True, type=click.Path(path_type=Path),
              help="A run's trace.nc, or a latency trace CSV (latency_worker_<i> columns).")
@click.option("--method", "label", default=None, help="Which method's history in trace.nc (default: the first).")
def predict(history_path: Path, label: str | None) -> None:
    """Predict per-iteration latency for every w, per-worker model vs i.i.d. model."""
    from dsag_dask.history import load_histories
    from dsag_dask.latency.model import LatencyModel
    from dsag_dask.latency.prediction import prediction_table
    from dsag_dask.latency.traces import model_from_trace, read_trace_csv

    try:
        if history_path.suffix == ".csv":
            model = model_from_trace(read_trace_csv(history_path))
            source = str(history_path)
        else:
            histories = load_histories(history_path)
            label = label or next(iter(histories))
            if label not in histories:
                raise ValueError(f"no method {label!r} in {history_path}; it has {', '.join(histories)}")
            model = LatencyModel.from_history(histories[label])
            source = f"{history_path} [{label}]"
    except (ValueError, FileNotFoundError, OSError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"latency model fitted to {source}: {model.n_workers} workers")
    click.echo(prediction_table(model).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


@main.command()
@click.argument("name")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Directory for NAME.json and plots.")
@click.option("--quick", is_flag=True, help="Small sizes, for CI and a first look.")
@click.option("--repetitions", type=click.IntRange(min=1), default=None,
              help="Repetitions of each run (fig8 only; default 1 with --quick, else 5).")
@click.option("--workload", "workloads", multiple=True,
              help="Run only this workload (fig8 only; repeatable): genomics_pca, higgs_logreg, flights_logreg.")
def bench(name: str, output: Path, quick: bool, repetitions: int | None, workloads: tuple[str, ...]) -> None:
    """Run benchmark NAME and write OUTPUT/NAME.json (see BENCHMARKS.md)."""
    from dsag_dask.bench import get_benchmark

    try:
        function = get_benchmark(name)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    given = {"repetitions": repetitions, "workloads": workloads or None}
    options = {key: value for key, value in given.items() if value is not None}
    for key in options:
        if key not in inspect.signature(function).parameters:
            flag = "--workload" if key == "workloads" else f"--{key}"
            raise click.ClickException(f"{flag} is not an option of benchmark {name!r}; only fig8 has it")
    output.mkdir(parents=True, exist_ok=True)
    try:
        result = function(output, quick, **options)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    path = output / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    click.echo(json.dumps(result, indent=2))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
