"""Run config files: a whole suite (model, tasks, limits, overrides) in one YAML file whose
header shows the command that runs it. Validated like task files: unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xbench.errors import TaskError
from xbench.taskspec import read_yaml_mapping


class TaskRun(BaseModel):
    """Per-task settings of a run."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] | None = None
    train_limit: int | None = Field(None, gt=0)
    eval_limit: int | None = Field(None, gt=0)
    eval_split: str = "test"
    set: dict[str, Any] = {}


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = None
    seeds: list[int] = [1]
    data_dir: Path | None = None
    results_dir: Path | None = None
    tasks_dirs: list[Path] = []
    tasks: dict[str, TaskRun | None] = Field(min_length=1)


def load_run_config(path: Path) -> RunConfig:
    """Parse a run config; relative paths in it are relative to the current directory."""
    raw = read_yaml_mapping(path, "run config")
    try:
        cfg = RunConfig(**raw)
    except (ValidationError, TypeError) as err:
        detail = (
            err.errors()[0] if isinstance(err, ValidationError) else {"loc": (), "msg": str(err)}
        )
        loc = ".".join(str(p) for p in detail["loc"])
        raise TaskError(
            f"invalid run config {path}: {loc}: {detail['msg']}",
            hint=f"allowed keys: {', '.join(RunConfig.model_fields)}; per task: "
            f"{', '.join(TaskRun.model_fields)}",
        ) from None
    cfg.tasks = {name: run or TaskRun() for name, run in cfg.tasks.items()}
    return cfg
