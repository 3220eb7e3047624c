"""Task definitions: the parts of a task file that every task type shares, as pydantic models
that forbid unknown keys.

A task file is pure metadata (where the data is, which languages, which metric, which default
hyperparameters); behaviour lives in the task *type* it names. Each type declares its own
`TaskSpec` subclass with its own hyperparameter and local-source models (QA's window lengths live
on QA only, label names on classification only), so a file is validated against its type's
models; `xbench.catalog` reads files and picks the type's model.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xbench.errors import TaskError, did_you_mean
from xbench.languages import check_languages

Split = Literal["train", "dev", "test"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hyperparameters(Strict):
    """Settings every task type has: how examples are cut and batched for prediction."""

    max_length: int = Field(gt=8, le=4096)
    eval_max_tokens: int = Field(16384, gt=0, description="token budget of one prediction batch")


class FineTuneHyperparameters(Hyperparameters):
    """Fine-tuning settings, for task types that fine-tune. Defaults per task follow XTREME's."""

    learning_rate: float = Field(gt=0)
    epochs: float = Field(gt=0)
    batch_size: int = Field(gt=0, description="effective batch size (per step, all accumulation)")
    warmup: float = Field(0, ge=0, description="steps (>= 1) or fraction of all steps (< 1)")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    gradient_accumulation: int = Field(1, ge=1)
    selection: Literal["best-dev", "final"] = "best-dev"
    sampling: Literal["random", "length-grouped"] = Field(
        "length-grouped",
        description="training order: batches of similar length (less padding, faster), or a "
        "random permutation per epoch (XTREME's and run_xnli's: the plain Trainer's order "
        "exactly); dynamic padding either way. Which one the protocol's default should be is "
        "being measured (bench/training_order.py)",
    )
    eval_steps: int | None = Field(
        None, gt=0, description="dev checks every N steps; None: each epoch"
    )

    @model_validator(mode="after")
    def _accumulation_divides_batch(self) -> FineTuneHyperparameters:
        if self.batch_size % self.gradient_accumulation:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of "
                f"gradient_accumulation {self.gradient_accumulation}"
            )
        return self


class HubSource(Strict):
    """Where the task lives on the Hugging Face Hub. `config` may use {lang}, or {context} and
    {question} for tasks with cross-lingual pairs; `train` may name a different dataset."""

    dataset: str
    revision: str = Field(pattern=r"^[0-9a-f]{40}$", description="a pinned commit, never a branch")
    config: str
    splits: dict[Split, str]
    columns: dict[str, str] = {}
    labels: list[str] | None = Field(None, description="task label name of each integer hub label")
    train: HubSource | None = None


class LocalSource(Strict):
    """Files relative to --data-dir in XTREME's download layout. Patterns may use {lang}, or
    {context} and {question}. A split a task never reads may be left out."""

    train: str | None = None
    dev: str | None = None
    test: str

    def pattern(self, split: Split) -> str | None:
        return {"train": self.train, "dev": self.dev, "test": self.test}[split]


class TaskSpec(Strict):
    """One benchmark task. See docs/adding-a-task.md for a walk-through of every field.

    Subclasses (one per task type) narrow `hyperparameters` and `local` to the type's models
    and set METRICS; `fine_tunes` follows from the hyperparameter model."""

    METRICS: ClassVar[tuple[str, ...]] = ()

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: int = Field(ge=0)
    type: str
    description: str
    citation: str = ""
    homepage: str = ""
    metric: str
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

    @property
    def fine_tunes(self) -> bool:
        return isinstance(self.hyperparameters, FineTuneHyperparameters)

    def needs_dev(self, hp: Hyperparameters) -> bool:
        """Whether a run with `hp` reads the dev split (to select a checkpoint)."""
        return isinstance(hp, FineTuneHyperparameters) and hp.selection == "best-dev"

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, langs: list[str]) -> list[str]:
        dupes = sorted({lang for lang in langs if langs.count(lang) > 1})
        if dupes:
            raise ValueError(f"duplicate languages: {', '.join(dupes)}")
        return langs

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        if self.METRICS and self.metric not in self.METRICS:
            raise ValueError(
                f"unknown metric '{self.metric}' for type {self.type}; "
                f"known: {', '.join(self.METRICS)}" + did_you_mean(self.metric, self.METRICS)
            )
        for field in ("train_language", "selection_language"):
            if getattr(self, field) not in self.languages:
                raise ValueError(f"{field} '{getattr(self, field)}' is not in languages")
        known = type(self.hyperparameters).model_fields
        for key, values in self.model_overrides.items():
            for name in values:
                if name not in known:
                    raise ValueError(
                        f"model_overrides.{key}: unknown hyperparameter '{name}'"
                        + did_you_mean(name, known)
                    )
        if self.fine_tunes and self.local.train is None:
            raise ValueError("local.train: required for a task type that fine-tunes")
        if self.needs_dev(self.hyperparameters) and self.local.dev is None:
            raise ValueError("local.dev: required by selection best-dev (or use selection: final)")
        return self

    def check_languages(self, wanted: list[str] | None) -> list[str]:
        """The language keys to evaluate; unknown ones are an error with did-you-mean."""
        return check_languages(self.name, self.languages, wanted, pairs=self.cross_lingual_pairs)

    def hyperparameters_for(
        self, model: str, overrides: dict[str, Any] | None = None
    ) -> Hyperparameters:
        """Task defaults, then model-specific defaults, then the user's overrides."""
        values = self.hyperparameters.model_dump()
        for key, extra in self.model_overrides.items():
            if key.lower() in model.lower():
                values.update(extra)
        values.update(overrides or {})
        return validate_hyperparameters(
            type(self.hyperparameters), values, where=f"task {self.name}"
        )


def validate_hyperparameters(
    model: type[Hyperparameters], values: dict[str, Any], where: str
) -> Hyperparameters:
    """Build a task type's hyperparameters, turning pydantic's report into one TaskError that
    names the key."""
    unknown = [k for k in values if k not in model.model_fields]
    if unknown:
        raise TaskError(
            f"{where}: unknown hyperparameter '{unknown[0]}'."
            + did_you_mean(unknown[0], model.model_fields),
            hint=f"known: {', '.join(model.model_fields)}",
        )
    try:
        return model(**values)
    except ValidationError as err:
        raise TaskError(f"{where}: invalid hyperparameters: {describe(err)}") from None


def describe(err: ValidationError, model: type[BaseModel] | None = None) -> str:
    """pydantic's report as 'field.path: message; ...'; an unknown key of `model` (or of a
    model nested in it) says which known key it is closest to."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            known = _fields_at(model, e["loc"][:-1]) if model else []
            msg = "unknown field (not allowed)." + did_you_mean(str(e["loc"][-1]), known)
        elif e["type"] == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the model found at `loc` inside `model` ([] if none is)."""
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        options = get_args(field.annotation) or (field.annotation,) if field else ()
        models = [t for t in options if isinstance(t, type) and issubclass(t, BaseModel)]
        if not models:
            return []
        current = models[0]  # X | None: the model X
    return list(getattr(current, "model_fields", {}))
