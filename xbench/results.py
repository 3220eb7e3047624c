"""The result file: one JSON per (model, task, seed), typed, versioned, written atomically.

Scores are stored as fractions in [0, 1]; tables show them x100. A result records everything
needed to trust or reproduce it: data source (hub revision or file hashes), hyperparameters,
selection policy, library versions and timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xbench.errors import ResultsError
from xbench.io import atomic_write_text, slug

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: before train_language; its tasks all trained on English


class LanguageResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[str, float]
    examples: int = Field(ge=0)
    skipped: dict[str, int] = {}
    source: dict[str, Any]
    predict_seconds: float = 0.0
    predictions_file: str | None = None
    example_scores_file: str | None = None


class RunResult(BaseModel):
    """Everything one fine-tune-and-evaluate run produced."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    schema_version: int = SCHEMA_VERSION
    task: str
    task_version: int
    task_type: str
    metric: str
    model: str
    name: str | None = Field(
        None, description="the model's name in tables (--name); None: derived from `model`"
    )
    seed: int
    eval_split: str
    languages: dict[str, LanguageResult]
    train_language: str = "en"
    train_source: dict[str, Any] | None = Field(
        None, description="None for task types that evaluate without fine-tuning"
    )
    dev_source: dict[str, Any] | None = None
    hyperparameters: dict[str, Any]
    training: dict[str, Any] | None = Field(
        None, description="the fine-tuning record; None when nothing was trained"
    )
    evaluated_as_is: dict[str, Any] | None = Field(
        None,
        description="--finetuned: the model's own head was evaluated without training; its "
        "weights' hash and how its labels map to the task's",
    )
    run_key: str
    environment: dict[str, str]
    timings: dict[str, float]
    created_at: str


def default_name(model: str) -> str:
    """A readable name for a model: a hub id as it is, a checkpoint folder by its own name."""
    path = Path(model)
    return path.name if path.is_absolute() or model.startswith((".", "~")) else model


def display_name(result: RunResult) -> str:
    return result.name or default_name(result.model)


def result_path(results_dir: Path, model: str, task: str, seed: int) -> Path:
    return results_dir / slug(model) / task / f"seed{seed}.json"


def write_result(path: Path, result: RunResult) -> None:
    atomic_write_text(path, result.model_dump_json(indent=2) + "\n")


def read_result(path: Path) -> RunResult:
    """Parse one result file; a corrupt or foreign file is a ResultsError naming it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ResultsError(f"cannot read result file {path}: {err.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultsError(
            f"corrupt result file {path}: {err}",
            hint="it was left untouched; delete or move it and re-run to regenerate it",
        ) from None
    found = raw.get("schema_version") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or found not in READABLE_VERSIONS:
        raise ResultsError(
            f"{path} is not an xbench result (schema_version {found!r}, expected "
            f"{' or '.join(map(str, READABLE_VERSIONS))})"
        )
    try:
        # version 1 is read as is: its fields are a subset of version 2's (defaults fill in)
        return RunResult(**{**raw, "schema_version": SCHEMA_VERSION})
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ResultsError(f"corrupt result file {path}: {loc}: {first['msg']}") from None


def result_files(paths: list[Path]) -> list[Path]:
    """Result files among the given files and folders (recursively; `.partial` folders of
    interrupted runs are not results)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("seed*.json") if ".partial" not in f.parts[-2]))
        elif p.is_file():
            files.append(p)
        else:
            raise ResultsError(f"no such results file or folder: {p}")
    return files


def load_runs(paths: list[Path]) -> tuple[list[tuple[Path, RunResult]], list[ResultsError]]:
    """(path, result) for every readable result file; corrupt ones are reported, never touched.
    The path matters: per-example files are stored relative to it."""
    runs, errors = [], []
    for f in result_files(paths):
        try:
            runs.append((f, read_result(f)))
        except ResultsError as err:
            errors.append(err)
    return runs, errors


def collect_results(paths: list[Path]) -> tuple[list[RunResult], list[ResultsError]]:
    """All results under the given files/folders; bad ones are reported, never deleted."""
    runs, errors = load_runs(paths)
    return [r for _, r in runs], errors
