"""The task-type registry: every registered type is complete (its spec model declares metrics,
its name is its registry key), instances are cached, and each type's spec model accepts the
shipped task files of that type and no file of another type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from xbench.catalog import builtin_tasks_dir, load_task_file
from xbench.taskspec import TaskSpec
from xbench.tasktypes import _TYPES, get_task_type, task_type_names
from xbench.tasktypes.base import TaskType

SHIPPED = sorted(builtin_tasks_dir().glob("*.yaml"))


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_names_are_the_registry_keys_sorted() -> None:
    assert task_type_names() == sorted(_TYPES)
    assert {"sentence-pair-classification", "extractive-qa"} <= set(task_type_names())


@pytest.mark.parametrize("name", task_type_names())
def test_every_type_declares_its_spec_model_and_metrics(name: str) -> None:
    task_type = get_task_type(name)
    assert isinstance(task_type, TaskType)
    assert task_type.name == name
    model = task_type.spec_model
    assert isinstance(model, type) and issubclass(model, TaskSpec) and model is not TaskSpec
    assert model.METRICS, f"{name}: spec_model.METRICS is empty"
    assert all(isinstance(m, str) and m for m in model.METRICS)
    assert task_type.metrics == model.METRICS
    assert isinstance(task_type.fine_tunes, bool)


@pytest.mark.parametrize("name", task_type_names())
def test_get_task_type_is_cached(name: str) -> None:
    assert get_task_type(name) is get_task_type(name)


def test_unregistered_type_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        get_task_type("token-classification")


def test_every_shipped_task_names_a_registered_type() -> None:
    shipped_types = {_raw(p)["type"] for p in SHIPPED}
    assert shipped_types <= set(task_type_names())
    assert {"sentence-pair-classification", "extractive-qa"} <= shipped_types


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_spec_model_validates_the_shipped_files_of_its_type(path: Path) -> None:
    raw = _raw(path)
    model = get_task_type(raw["type"]).spec_model
    spec = model(**raw)
    assert spec.name == path.stem
    assert spec.metric in model.METRICS
    loaded = load_task_file(path)
    assert type(loaded) is model
    assert loaded == spec


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_other_types_refuse_the_shipped_file(path: Path) -> None:
    raw = _raw(path)
    for name in task_type_names():
        if name != raw["type"]:
            with pytest.raises(ValidationError):
                get_task_type(name).spec_model(**raw)
