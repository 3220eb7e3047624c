"""Task definitions: one YAML file per task, validated by pydantic models that forbid unknown keys.

A task file is pure metadata (where the data is, which languages, which metric, which default
hyperparameters); behaviour lives in the task *type* it names (see `xbench.tasktypes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xbench.errors import TaskError, did_you_mean

Split = Literal["train", "dev", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hyperparameters(_Strict):
    """Fine-tuning and evaluation settings. Defaults per task follow XTREME's for XLM-R."""

    learning_rate: float = Field(gt=0)
    epochs: float = Field(gt=0)
    batch_size: int = Field(gt=0, description="effective batch size (per step, all accumulation)")
    max_length: int = Field(gt=8, le=4096)
    warmup: float = Field(0, ge=0, description="steps (>= 1) or fraction of all steps (< 1)")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    gradient_accumulation: int = Field(1, ge=1)
    selection: Literal["best-dev", "final"] = "best-dev"
    eval_steps: int | None = Field(
        None, gt=0, description="dev checks every N steps; None: each epoch"
    )
    eval_max_tokens: int = Field(16384, gt=0, description="token budget of one prediction batch")
    doc_stride: int = Field(128, gt=0)
    max_query_length: int = Field(64, gt=0)
    max_answer_length: int = Field(30, gt=0)
    n_best: int = Field(20, gt=0)

    @model_validator(mode="after")
    def _accumulation_divides_batch(self) -> Hyperparameters:
        if self.batch_size % self.gradient_accumulation:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of "
                f"gradient_accumulation {self.gradient_accumulation}"
            )
        return self


class HubSource(_Strict):
    """Where the task lives on the Hugging Face Hub. `config` may use {lang}, or {context} and
    {question} for tasks with cross-lingual pairs; `train` may name a different dataset."""

    dataset: str
    revision: str = Field(pattern=r"^[0-9a-f]{40}$", description="a pinned commit, never a branch")
    config: str
    splits: dict[Split, str]
    columns: dict[str, str] = {}
    labels: list[str] | None = Field(None, description="task label name of each integer hub label")
    train: HubSource | None = None


class LocalSource(_Strict):
    """Files relative to --data-dir in XTREME's download layout. Patterns may use {lang}, or
    {context} and {question}."""

    train: str
    dev: str
    test: str
    columns: list[str] | None = Field(None, description="TSV column names, in order")
    label_map: dict[str, str] = Field({}, description="raw label in the file -> task label name")

    def pattern(self, split: Split) -> str:
        return {"train": self.train, "dev": self.dev, "test": self.test}[split]


class TaskSpec(_Strict):
    """One benchmark task. See docs/adding-a-task.md for a walk-through of every field."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: int = Field(ge=0)
    type: str
    description: str
    citation: str = ""
    homepage: str = ""
    metric: str
    labels: list[str] | None = None
    languages: list[str] = Field(min_length=1)
    train_language: str = "en"
    selection_language: str = "en"
    cross_lingual_pairs: bool = Field(False, description="context/question language pairs")
    hub: HubSource | None = None
    local: LocalSource
    hyperparameters: Hyperparameters
    model_overrides: dict[str, dict[str, Any]] = Field(
        {}, description="hyperparameters for models whose id contains the key, e.g. 'large'"
    )

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, langs: list[str]) -> list[str]:
        dupes = sorted({lang for lang in langs if langs.count(lang) > 1})
        if dupes:
            raise ValueError(f"duplicate languages: {', '.join(dupes)}")
        return langs

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        from xbench.tasktypes import get_task_type, task_type_names

        if self.type not in task_type_names():
            raise ValueError(
                f"unknown task type '{self.type}'; known: {', '.join(task_type_names())}"
                + did_you_mean(self.type, task_type_names())
            )
        task_type = get_task_type(self.type)
        if self.metric not in task_type.metrics:
            raise ValueError(
                f"unknown metric '{self.metric}' for type {self.type}; "
                f"known: {', '.join(task_type.metrics)}"
                + did_you_mean(self.metric, task_type.metrics)
            )
        for field in ("train_language", "selection_language"):
            if getattr(self, field) not in self.languages:
                raise ValueError(f"{field} '{getattr(self, field)}' is not in languages")
        for key, values in self.model_overrides.items():
            for name in values:
                if name not in Hyperparameters.model_fields:
                    raise ValueError(
                        f"model_overrides.{key}: unknown hyperparameter '{name}'"
                        + did_you_mean(name, Hyperparameters.model_fields)
                    )
        task_type.check_spec(self)
        return self

    def hyperparameters_for(
        self, model: str, overrides: dict[str, Any] | None = None
    ) -> Hyperparameters:
        """Task defaults, then model-specific defaults, then the user's overrides."""
        values = self.hyperparameters.model_dump()
        for key, extra in self.model_overrides.items():
            if key.lower() in model.lower():
                values.update(extra)
        values.update(overrides or {})
        return validate_hyperparameters(values, where=f"task {self.name}")


def validate_hyperparameters(values: dict[str, Any], where: str) -> Hyperparameters:
    """Build Hyperparameters, turning pydantic's report into one TaskError that names the key."""
    unknown = [k for k in values if k not in Hyperparameters.model_fields]
    if unknown:
        raise TaskError(
            f"{where}: unknown hyperparameter '{unknown[0]}'."
            + did_you_mean(unknown[0], Hyperparameters.model_fields),
            hint=f"known: {', '.join(Hyperparameters.model_fields)}",
        )
    try:
        return Hyperparameters(**values)
    except ValidationError as err:
        raise TaskError(f"{where}: invalid hyperparameters: {_describe(err)}") from None


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (not allowed)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping, loaded safely (no custom tags, no code)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise TaskError(f"cannot read {what} {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise TaskError(f"{what} {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise TaskError(f"{what} {path} must be a YAML mapping, got {type(raw).__name__}")
    return raw


def load_task_file(path: Path) -> TaskSpec:
    """Parse and validate one task file; every failure names the file and the field."""
    raw = read_yaml_mapping(path, "task file")
    try:
        return TaskSpec(**raw)
    except ValidationError as err:
        allowed = ", ".join(TaskSpec.model_fields)
        raise TaskError(
            f"invalid task file {path}: {_describe(err)}",
            hint=f"top-level fields allowed: {allowed}; see docs/adding-a-task.md",
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

    def __iter__(self):
        return iter(self._tasks[n] for n in self.names())
