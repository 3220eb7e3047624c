"""The catalog: a task file is validated against its task type's model; the type must be named
and known; the split and selection rules that follow from a type's hyperparameters; registry
folders. (tests/test_taskspec.py covers the generic invalid-file cases and name duplicates
between the built-in folder and extra folders.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from pydantic import ValidationError

from xbench.catalog import TaskRegistry, builtin_tasks_dir, load_task_file
from xbench.errors import TaskError
from xbench.taskspec import (
    FineTuneHyperparameters,
    Hyperparameters,
    LocalSource,
    TaskSpec,
)
from xbench.tasktypes.base import Parsed, TaskType
from xbench.tasktypes.classification import PairClassificationSpec
from xbench.tasktypes.extractive_qa import ExtractiveQASpec, QAHyperparameters

TASKS = builtin_tasks_dir()
QA_MINI = Path(__file__).resolve().parent / "fixtures" / "bad_input" / "qa_tasks" / "qa-mini.yaml"


def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((TASKS / f"{name}.yaml").read_text(encoding="utf-8"))


def _write(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# --- the type picks the model ------------------------------------------------------------------


def test_xnli_loads_as_pair_classification() -> None:
    spec = load_task_file(TASKS / "xnli.yaml")
    assert type(spec) is PairClassificationSpec
    assert type(spec.hyperparameters) is FineTuneHyperparameters


def test_mlqa_loads_as_extractive_qa() -> None:
    spec = load_task_file(TASKS / "mlqa.yaml")
    assert type(spec) is ExtractiveQASpec
    assert type(spec.hyperparameters) is QAHyperparameters
    assert spec.hyperparameters.max_answer_length == 30
    assert spec.cross_lingual_pairs
    assert spec.local.dev is not None and "{context}" in spec.local.dev


def test_registry_holds_every_shipped_task() -> None:
    registry = TaskRegistry()
    assert {"mlqa", "pawsx", "xnli"} <= set(registry.names())
    assert type(registry.get("mlqa")) is ExtractiveQASpec
    assert registry.path("mlqa") == TASKS / "mlqa.yaml"


def test_qa_field_in_a_classification_file_names_file_field_and_allowed_fields(
    tmp_path: Path,
) -> None:
    raw = _raw("xnli")
    raw["hyperparameters"]["doc_stride"] = 128
    path = _write(tmp_path / "xnli-qa.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    assert err.value.message == (
        f"invalid task file {path}: hyperparameters.doc_stride: unknown field (not allowed)."
    )  # no known key is close to it, so no "did you mean"
    assert err.value.hint is not None
    assert "sentence-pair-classification" in err.value.hint and "labels" in err.value.hint


def test_classification_field_in_a_qa_file(tmp_path: Path) -> None:
    raw = _raw("mlqa")
    raw["labels"] = ["a", "b"]
    path = _write(tmp_path / "mlqa-labels.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    assert "labels: unknown field (not allowed)" in err.value.message
    hint = err.value.hint or ""
    assert "extractive-qa" in hint and "labels" not in hint


def test_model_overrides_are_checked_against_the_types_hyperparameters(tmp_path: Path) -> None:
    raw = _raw("mlqa")
    raw["model_overrides"] = {"large": {"doc_stride": 64}}
    spec = load_task_file(_write(tmp_path / "mlqa.yaml", raw))
    assert spec.hyperparameters_for("xlm-roberta-large").doc_stride == 64
    assert spec.hyperparameters_for("xlm-roberta-base").doc_stride == 128
    raw = _raw("xnli")
    raw["model_overrides"] = {"large": {"doc_stride": 64}}
    with pytest.raises(
        TaskError, match=r"model_overrides\.large: unknown hyperparameter 'doc_stride'"
    ):
        load_task_file(_write(tmp_path / "xnli.yaml", raw))


# --- the type must be named and known ----------------------------------------------------------


def test_missing_type_is_one_error_naming_the_file(tmp_path: Path) -> None:
    raw = _raw("xnli")
    raw.pop("type")
    raw["version"] = "not a number"  # not reported: without a type there is no model to check
    path = _write(tmp_path / "untyped.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    message = err.value.message
    assert message == (
        f"invalid task file {path}: type: required field is missing; "
        "known: extractive-qa, sentence-pair-classification"
    )
    assert "docs/adding-a-task.md" in (err.value.hint or "")


def test_unknown_type_suggests_the_closest(tmp_path: Path) -> None:
    raw = _raw("mlqa")
    raw["type"] = "extractive_qa"
    raw["colour"] = "blue"  # not reported either
    path = _write(tmp_path / "qa.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    assert err.value.message == (
        f"invalid task file {path}: type: unknown task type 'extractive_qa'; "
        "known: extractive-qa, sentence-pair-classification Did you mean 'extractive-qa'?"
    )


@pytest.mark.parametrize("value", [3, ["extractive-qa"], None])
def test_type_that_is_not_a_string(tmp_path: Path, value: Any) -> None:
    raw = _raw("mlqa")
    raw["type"] = value
    path = _write(tmp_path / "qa.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    assert str(path) in err.value.message and "type:" in err.value.message
    assert "Did you mean" not in err.value.message


# --- which splits a type needs -----------------------------------------------------------------


class _ScoreOnlySpec(TaskSpec):
    """A task type that does not fine-tune (like retrieval): base hyperparameters only."""

    METRICS: ClassVar[tuple[str, ...]] = ("score",)
    hyperparameters: Hyperparameters


class _FineTuneSpec(TaskSpec):
    METRICS: ClassVar[tuple[str, ...]] = ("score",)
    hyperparameters: FineTuneHyperparameters


class _ScoreOnly(TaskType[_ScoreOnlySpec, Hyperparameters]):
    name = "score-only"
    spec_model = _ScoreOnlySpec

    def read_local(self, spec: Any, path: Path, *, for_training: bool) -> Parsed:
        return Parsed([])

    def from_hub_rows(self, spec: Any, rows: Iterable[dict], *, for_training: bool) -> Parsed:
        return Parsed([])

    def load_model(self, spec: Any, model_path: str, *, trust_remote_code: bool = False) -> Any:
        return None

    def predict(self, spec, model, tokenizer, examples, hp, desc=None) -> list[Any]:
        return []

    def score(self, spec, examples, predictions, lang) -> dict[str, float]:
        return {"score": 0.0}

    def example_scores(self, spec, examples, predictions, lang) -> list[float]:
        return []

    def prediction_records(self, examples, predictions) -> dict[str, Any]:
        return {}


class _FineTune(_ScoreOnly):
    name = "fine-tune"
    spec_model = _FineTuneSpec


def _base(**hyperparameters: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "version": 1,
        "type": "score-only",
        "description": "d",
        "metric": "score",
        "languages": ["en", "de"],
        "local": {"test": "t/test-{lang}.tsv"},
        "hyperparameters": {"max_length": 64, **hyperparameters},
    }


FT = {"learning_rate": 1e-5, "epochs": 1, "batch_size": 8}


def test_a_type_that_does_not_fine_tune_needs_no_train_or_dev_split() -> None:
    spec = _ScoreOnlySpec(**_base())
    assert spec.local.train is None and spec.local.dev is None
    assert not spec.fine_tunes
    assert not spec.needs_dev(spec.hyperparameters)
    assert type(spec.hyperparameters) is Hyperparameters
    assert spec.hyperparameters.eval_max_tokens == 16384
    assert _ScoreOnly().fine_tunes is False
    assert _FineTune().fine_tunes is True


def test_a_type_that_does_not_fine_tune_has_no_training_settings() -> None:
    with pytest.raises(ValidationError, match=r"hyperparameters\.learning_rate"):
        _ScoreOnlySpec(**_base(learning_rate=1e-5))
    with pytest.raises(ValidationError, match=r"hyperparameters\.selection"):
        _ScoreOnlySpec(**_base(selection="final"))
    spec = _ScoreOnlySpec(**_base())
    with pytest.raises(TaskError, match="unknown hyperparameter 'learning_rate'"):
        spec.hyperparameters_for("m", {"learning_rate": 1e-5})
    with pytest.raises(TypeError, match="does not fine-tune"):
        _ScoreOnly().train_features(spec, None, [], spec.hyperparameters)


def test_fine_tuning_needs_local_train() -> None:
    with pytest.raises(
        ValidationError, match=r"local\.train: required for a task type that fine-tunes"
    ):
        _FineTuneSpec(**_base(**FT, selection="final"))
    raw = _base(**FT, selection="final")
    raw["local"]["train"] = "t/train.tsv"
    spec = _FineTuneSpec(**raw)
    assert spec.fine_tunes and not spec.needs_dev(spec.hyperparameters)


def test_best_dev_needs_local_dev_final_does_not() -> None:
    raw = _base(**FT)  # selection defaults to best-dev
    raw["local"]["train"] = "t/train.tsv"
    with pytest.raises(ValidationError, match=r"local.dev: required by selection best-dev"):
        _FineTuneSpec(**raw)
    raw["hyperparameters"]["selection"] = "final"
    assert _FineTuneSpec(**raw).local.dev is None
    raw["hyperparameters"]["selection"] = "best-dev"
    raw["local"]["dev"] = "t/dev-{lang}.tsv"
    spec = _FineTuneSpec(**raw)
    assert spec.needs_dev(spec.hyperparameters)
    # a run that overrides the selection to final reads no dev split
    assert not spec.needs_dev(spec.hyperparameters_for("m", {"selection": "final"}))


def test_mlqa_without_dev_is_accepted_since_it_selects_final(tmp_path: Path) -> None:
    raw = _raw("mlqa")
    raw["local"].pop("dev")
    spec = load_task_file(_write(tmp_path / "mlqa.yaml", raw))
    assert spec.local.dev is None and spec.local.pattern("dev") is None
    assert not spec.needs_dev(spec.hyperparameters)
    raw["hyperparameters"]["selection"] = "best-dev"
    path = _write(tmp_path / "mlqa-best.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    assert str(path) in err.value.message and "local.dev: required" in err.value.message


@pytest.mark.parametrize("name", ["xnli", "mlqa"])
def test_shipped_task_without_train_is_refused(tmp_path: Path, name: str) -> None:
    raw = _raw(name)
    raw["local"].pop("train")
    path = _write(tmp_path / f"{name}.yaml", raw)
    with pytest.raises(TaskError) as err:
        load_task_file(path)
    assert str(path) in err.value.message
    assert "local.train: required for a task type that fine-tunes" in err.value.message


def test_local_test_is_always_required() -> None:
    raw = _base()
    raw["local"] = {}
    with pytest.raises(ValidationError, match=r"local\.test"):
        _ScoreOnlySpec(**raw)
    assert LocalSource(test="x").pattern("train") is None


# --- registry folders --------------------------------------------------------------------------


def _named(name: str) -> dict[str, Any]:
    raw = _raw("xnli")
    raw["name"] = name
    return raw


def test_extra_folder_with_a_qa_task(tmp_path: Path) -> None:
    shutil.copy(QA_MINI, tmp_path / "qa-mini.yaml")
    registry = TaskRegistry([tmp_path])
    spec = registry.get("qa-mini")
    assert type(spec) is ExtractiveQASpec
    assert registry.path("qa-mini") == tmp_path / "qa-mini.yaml"
    assert [s.name for s in registry] == registry.names()


def test_yaml_and_yml_files_load_other_files_and_subfolders_do_not(tmp_path: Path) -> None:
    _write(tmp_path / "one.yaml", _named("one"))
    _write(tmp_path / "two.yml", _named("two"))
    (tmp_path / "README.md").write_text("not a task", encoding="utf-8")
    (tmp_path / "three.yaml.bak").write_text("name: [broken", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "four.yaml", _named("four"))
    names = TaskRegistry([tmp_path]).names()
    assert {"one", "two"} <= set(names)
    assert "four" not in names
    assert len(names) == len(TaskRegistry().names()) + 2


def test_duplicate_name_within_one_extra_folder(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.yaml", _named("mine"))
    second = _write(tmp_path / "b.yml", _named("mine"))
    with pytest.raises(TaskError, match="duplicate task name 'mine'") as err:
        TaskRegistry([tmp_path])
    assert str(first) in err.value.message and str(second) in err.value.message


def test_duplicate_of_a_builtin_qa_task(tmp_path: Path) -> None:
    raw = yaml.safe_load(QA_MINI.read_text(encoding="utf-8"))
    raw["name"] = "mlqa"
    path = _write(tmp_path / "my-mlqa.yaml", raw)
    with pytest.raises(TaskError, match="duplicate task name 'mlqa'") as err:
        TaskRegistry([tmp_path])
    assert str(path) in err.value.message and str(TASKS / "mlqa.yaml") in err.value.message


def test_empty_extra_folder_adds_nothing(tmp_path: Path) -> None:
    assert TaskRegistry([tmp_path]).names() == TaskRegistry().names()


def test_extra_folder_that_is_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "xnli-copy.yaml", _named("copy"))
    with pytest.raises(TaskError, match=r"tasks folder .* does not exist"):
        TaskRegistry([path])
