"""The ``dsag`` command line: a thin layer over the Python API (click for parsing and help)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dsag_dask.config import ConfigError, load_config


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
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run(config_path: Path, output: Path, scheduler: str | None, overwrite: bool, quiet: bool) -> None:
    """Run the methods of a job file on one cluster and compare their time to each gap."""
    from dsag_dask.job import SchedulerUnreachable, connect, format_table, run_job

    try:
        config = load_config(config_path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    if scheduler:
        config.cluster.scheduler = scheduler
    if (output / "summary.json").exists() and not overwrite:
        raise click.ClickException(f"{output} already holds results; pick another --output or pass --overwrite")
    output.mkdir(parents=True, exist_ok=True)
    try:
        with connect(config.cluster) as client:
            click.echo(f"Dask dashboard: {client.dashboard_link}")
            summary = run_job(config, output, client, progress=not quiet, echo=click.echo)
    except (SchedulerUnreachable, ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(format_table(summary))
    click.echo(f"wrote {output / 'trace.nc'} and {output / 'summary.json'}")


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
@click.argument("name")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Directory for NAME.json and plots.")
@click.option("--quick", is_flag=True, help="Small sizes, for CI and a first look.")
def bench(name: str, output: Path, quick: bool) -> None:
    """Run benchmark NAME and write OUTPUT/NAME.json (see BENCHMARKS.md)."""
    from dsag_dask.bench import get_benchmark

    try:
        function = get_benchmark(name)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    output.mkdir(parents=True, exist_ok=True)
    result = function(output, quick)
    path = output / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    click.echo(json.dumps(result, indent=2))
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
