"""YAML job configuration, validated with pydantic so a typo names the offending key."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dsag_dask.methods import get_method


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterConfig(_Strict):
    """Where to run: an embedded LocalCluster of worker processes, or an existing scheduler."""

    n_workers: int = Field(8, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    scheduler: str | None = None
    connect_timeout_s: float = Field(10.0, gt=0)
    dashboard_address: str = "127.0.0.1:0"


class ScenarioConfig(_Strict):
    """The straggler scenario injected in the workers, by name with its parameters."""

    name: str = "none"
    params: dict[str, float | int | str | list[float]] = Field(default_factory=dict)


class StopConfig(_Strict):
    """When each method stops: whichever budget is reached first."""

    max_iterations: int | None = Field(None, ge=1)
    time_limit_s: float | None = Field(60.0, gt=0)
    target_gap: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _some_budget(self) -> "StopConfig":
        if self.max_iterations is None and self.time_limit_s is None and self.target_gap is None:
            raise ValueError("set at least one of max_iterations, time_limit_s, target_gap")
        return self


class MethodConfig(_Strict):
    """One method run: name, w (null = all workers), p, stepsize (null = paper default), margin.

    ``load_balance`` null means the method's default (on for ``*-lb`` names, off otherwise).
    """

    method: str
    w: int | None = Field(None, ge=1)
    p: int = Field(1, ge=1)
    stepsize: float | None = Field(None, gt=0)
    margin: float = Field(0.02, ge=0)
    load_balance: bool | None = None

    @model_validator(mode="after")
    def _known_method(self) -> "MethodConfig":
        spec = get_method(self.method)
        if self.load_balance and spec.waits_for_all:
            raise ValueError("GD processes whole partitions: load_balance does not apply to it")
        return self


class BalancerConfig(_Strict):
    """Load balancer (paper §6): accept a new p when the objective improves by ``threshold``."""

    threshold: float = Field(0.1, ge=0, lt=1)
    time_limit_s: float = Field(1.0, gt=0)
    window_s: float = Field(10.0, gt=0)
    seed: int = 0


class JobConfig(_Strict):
    """A whole ``dsag run`` job: one problem on one data set, several methods compared."""

    problem: Literal["logreg", "pca"]
    dataset: Literal["flights", "movielens"]
    n_components: int = Field(3, ge=1)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    scenario: ScenarioConfig = Field(default_factory=ScenarioConfig)
    stop: StopConfig = Field(default_factory=StopConfig)
    load_balancer: BalancerConfig = Field(default_factory=BalancerConfig)
    methods: dict[str, MethodConfig]

    @model_validator(mode="after")
    def _check(self) -> "JobConfig":
        if not self.methods:
            raise ValueError("methods is empty: list at least one method to run")
        for label, spec in self.methods.items():
            if spec.w is not None and spec.w > self.cluster.n_workers and self.cluster.scheduler is None:
                raise ValueError(f"methods.{label}.w={spec.w} exceeds cluster.n_workers={self.cluster.n_workers}")
        return self


class ConfigError(ValueError):
    """A configuration file that cannot be used, with a message naming the key."""


def load_config(path: str | Path, scheduler: str | None = None) -> JobConfig:
    """Read and validate a YAML job file; errors name the file and the key at fault.

    ``scheduler`` (the CLI's ``--scheduler``) replaces ``cluster.scheduler`` before
    validation, so checks that depend on the cluster see the one actually used.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist (see conf/ for examples)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(raw).__name__}")
    if scheduler and isinstance(raw.get("cluster", {}), dict):
        raw = {**raw, "cluster": {**raw.get("cluster", {}), "scheduler": scheduler}}
    try:
        return JobConfig.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            key = ".".join(str(part) for part in e["loc"]) or "(top level)"
            reason = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            lines.append(f"  {key}: {reason}")
        raise ConfigError(f"invalid config {path}:\n" + "\n".join(lines)) from None
