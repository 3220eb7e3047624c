"""The catalog of tasks: task files read from the built-in folder and user folders, each
validated against its task type's models; duplicate names are an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from xbench.errors import TaskError, did_you_mean
from xbench.io import read_yaml_mapping
from xbench.taskspec import TaskSpec, describe
from xbench.tasktypes import get_task_type, task_type_names


def load_task_file(path: Path) -> TaskSpec:
    """Parse and validate one task file; every failure names the file and the field."""
    raw = read_yaml_mapping(path, "task file")
    name = raw.get("type")
    if not isinstance(name, str) or name not in task_type_names():
        shown = "required field is missing" if name is None else f"unknown task type '{name}'"
        raise TaskError(
            f"invalid task file {path}: type: {shown}; known: {', '.join(task_type_names())}"
            + (did_you_mean(name, task_type_names()) if isinstance(name, str) else ""),
            hint="docs/adding-a-task.md lists the task types and what each one needs",
        )
    model = get_task_type(name).spec_model
    try:
        return model(**raw)
    except ValidationError as err:
        allowed = ", ".join(model.model_fields)
        raise TaskError(
            f"invalid task file {path}: {describe(err, model)}",
            hint=f"top-level fields allowed for type {name}: {allowed}; see docs/adding-a-task.md",
        ) from None


def builtin_tasks_dir() -> Path:
    """The shipped task files: `tasks/` beside the package (editable install or checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_tasks", here.parent / "tasks"):
        if candidate.is_dir():
            return candidate
    raise TaskError(f"built-in task folder not found next to {here}")


class TaskRegistry:
    """All tasks from the built-in folder plus user folders; duplicate names are an error."""

    def __init__(self, extra_dirs: list[Path] | None = None) -> None:
        self._tasks: dict[str, TaskSpec] = {}
        self._paths: dict[str, Path] = {}
        for folder in [builtin_tasks_dir(), *(extra_dirs or [])]:
            if not folder.is_dir():
                raise TaskError(f"tasks folder {folder} does not exist")
            for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
                spec = load_task_file(path)
                if spec.name in self._tasks:
                    raise TaskError(
                        f"duplicate task name '{spec.name}' in {path} and {self._paths[spec.name]}",
                        hint="rename one of them (the 'name' field must be unique)",
                    )
                self._tasks[spec.name] = spec
                self._paths[spec.name] = path

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def path(self, name: str) -> Path:
        return self._paths[name]

    def get(self, name: str) -> TaskSpec:
        if name not in self._tasks:
            raise TaskError(
                f"unknown task '{name}'." + did_you_mean(name, self._tasks),
                hint=f"known tasks: {', '.join(self.names())} (see `xbench tasks list`)",
            )
        return self._tasks[name]

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(self._tasks[n] for n in self.names())
