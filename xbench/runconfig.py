"""Run config files: a whole suite (model, tasks, limits, overrides) in one YAML file whose
header shows the command that runs it. Validated like task files: unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from xbench.errors import TaskError
from xbench.io import read_yaml_mapping


class TaskRun(BaseModel):
    """Per-task settings of a run."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] | None = None
    train_limit: int | None = Field(default=None, gt=0)
    eval_limit: int | None = Field(default=None, gt=0)
    eval_split: str = "test"
    set: dict[str, Any] = {}


def _defaults_if_null(value: object) -> object:
    """`tasks: {xnli: }` (a task listed with no settings) means the defaults."""
    return {} if value is None else value


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = None
    seeds: list[int] = [1]
    data_dir: Path | None = None
    results_dir: Path | None = None
    tasks_dirs: list[Path] = []
    tasks: dict[str, Annotated[TaskRun, BeforeValidator(_defaults_if_null)]] = Field(min_length=1)


def load_run_config(path: Path) -> RunConfig:
    """Parse a run config; relative paths in it are relative to the current directory."""
    raw = read_yaml_mapping(path, "run config")
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        detail = err.errors()[0]
        loc = ".".join(str(p) for p in detail["loc"])
        raise TaskError(
            f"invalid run config {path}: {loc}: {detail['msg']}",
            hint=f"allowed keys: {', '.join(RunConfig.model_fields)}; per task: "
            f"{', '.join(TaskRun.model_fields)}",
        ) from None
