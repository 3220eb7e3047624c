"""Task files: the shipped ones load; every kind of invalid file is a TaskError naming the file
and the field; the registry rejects duplicates; hyperparameters layer task < model < user."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from xbench.catalog import TaskRegistry, builtin_tasks_dir, load_task_file
from xbench.errors import TaskError
from xbench.taskspec import FineTuneHyperparameters, validate_hyperparameters
from xbench.tasktypes import get_task_type, task_type_names

TASKS = builtin_tasks_dir()
XNLI_FILE = TASKS / "xnli.yaml"


def _xnli_raw() -> dict[str, Any]:
    return yaml.safe_load(XNLI_FILE.read_text(encoding="utf-8"))


def _write(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


# --- the shipped tasks ------------------------------------------------------------------------


def test_builtin_folder_is_the_repository_tasks_folder() -> None:
    assert Path(__file__).resolve().parents[1] / "tasks" == TASKS


@pytest.mark.parametrize("name", ["xnli", "pawsx"])
def test_shipped_task_files_load(name: str) -> None:
    spec = load_task_file(TASKS / f"{name}.yaml")
    assert spec.name == name
    assert spec.type == "sentence-pair-classification"
    assert spec.metric == "accuracy"
    assert "en" in spec.languages
    assert spec.hub is not None and len(spec.hub.revision) == 40


def test_shipped_xnli_details() -> None:
    spec = TaskRegistry().get("xnli")
    assert spec.labels == ["entailment", "neutral", "contradiction"]
    assert len(spec.languages) == 15
    assert spec.local.label_map == {"contradictory": "contradiction"}
    assert spec.hyperparameters.learning_rate == pytest.approx(2e-5)
    assert spec.hyperparameters.epochs == 5
    assert spec.hyperparameters.batch_size == 32
    assert spec.hyperparameters.max_length == 128
    assert spec.hyperparameters.selection == "best-dev"


def test_shipped_pawsx_details() -> None:
    spec = TaskRegistry().get("pawsx")
    assert spec.labels == ["not_paraphrase", "paraphrase"]
    assert sorted(spec.languages) == ["de", "en", "es", "fr", "ja", "ko", "zh"]
    assert spec.local.label_map == {"0": "not_paraphrase", "1": "paraphrase"}


def test_registry_lists_both_shipped_tasks() -> None:
    registry = TaskRegistry()
    assert {"xnli", "pawsx"} <= set(registry.names())
    assert registry.names() == sorted(registry.names())
    assert registry.path("xnli") == XNLI_FILE
    assert [spec.name for spec in registry] == registry.names()


def test_every_registered_task_type_can_be_loaded() -> None:
    """The seam lists each type by module path; every listed type must import and match its
    name (else a task file naming it crashes with ModuleNotFoundError, not a TaskError)."""
    for name in task_type_names():
        task_type = get_task_type(name)
        assert task_type.name == name
        assert task_type.metrics


# --- invalid task files: TaskError naming the file and the field -------------------------------


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw.__setitem__(key, value)


def _pop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw.pop(key)


def _hub_revision(value: str) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw["hub"].__setitem__("revision", value)


INVALID = {
    "unknown-key": (_set("colour", "blue"), ["colour", "unknown field"]),
    "typo-key": (
        _set("selection_lang", "en"),
        ["selection_lang", "Did you mean 'selection_language'"],
    ),
    "typo-nested-key": (
        lambda raw: raw["hub"].__setitem__("revison", "x"),
        ["hub.revison", "Did you mean 'revision'"],
    ),
    "qa-field-on-classification": (
        lambda raw: raw["hyperparameters"].__setitem__("doc_stride", 64),
        ["hyperparameters.doc_stride", "unknown field"],
    ),
    "wrong-type": (_set("version", "x"), ["version", "integer"]),
    "missing-field": (_pop("description"), ["description", "missing"]),
    "unknown-type": (
        _set("type", "sentence-pair-clasification"),
        ["type", "sentence-pair-clasification", "Did you mean 'sentence-pair-classification'"],
    ),
    "unknown-metric": (_set("metric", "acuracy"), ["metric", "acuracy", "Did you mean"]),
    "revision-branch": (_hub_revision("main"), ["hub.revision"]),
    "revision-short-sha": (_hub_revision("b8dd5d7a"), ["hub.revision"]),
    "revision-uppercase": (_hub_revision("B" * 40), ["hub.revision"]),
    "unknown-hyperparameter": (
        lambda raw: raw["hyperparameters"].__setitem__("lerning_rate", 1e-5),
        ["hyperparameters.lerning_rate"],
    ),
    "train-language-not-in-languages": (_set("train_language", "xx"), ["train_language", "xx"]),
    "duplicate-language": (_set("languages", ["en", "de", "en"]), ["languages", "duplicate"]),
    "bad-override": (
        _set("model_overrides", {"large": {"lerning_rate": 3e-5}}),
        ["model_overrides.large", "lerning_rate", "Did you mean 'learning_rate'"],
    ),
    "label-map-to-unknown-label": (
        lambda raw: raw["local"].__setitem__("label_map", {"contradictory": "contra"}),
        ["label_map", "contra"],
    ),
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_task_file_names_file_and_field(tmp_path: Path, case: str) -> None:
    mutate, expected = INVALID[case]
    raw = _xnli_raw()
    mutate(raw)
    path = _write(tmp_path / f"{case}.yaml", raw)
    with pytest.raises(TaskError) as info:
        load_task_file(path)
    message = info.value.message
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_task_file_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(TaskError, match="must be a YAML mapping") as info:
        load_task_file(path)
    assert str(path) in info.value.message


def test_task_file_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [xnli\n")
    with pytest.raises(TaskError, match="not valid YAML") as info:
        load_task_file(path)
    assert str(path) in info.value.message


def test_task_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(TaskError, match="cannot read task file") as info:
        load_task_file(path)
    assert str(path) in info.value.message


# --- the registry -----------------------------------------------------------------------------


def test_extra_tasks_dir_adds_a_task(tmp_path: Path) -> None:
    raw = _xnli_raw()
    raw["name"] = "xnli-small"
    raw["languages"] = ["de", "en"]
    _write(tmp_path / "xnli-small.yml", raw)
    registry = TaskRegistry([tmp_path])
    assert "xnli-small" in registry.names()
    assert registry.get("xnli-small").languages == ["de", "en"]
    assert registry.path("xnli-small") == tmp_path / "xnli-small.yml"


def test_duplicate_task_name_names_both_files(tmp_path: Path) -> None:
    copy = tmp_path / "my-xnli.yaml"
    shutil.copy(XNLI_FILE, copy)
    with pytest.raises(TaskError, match="duplicate task name 'xnli'") as info:
        TaskRegistry([tmp_path])
    assert str(copy) in info.value.message
    assert str(XNLI_FILE) in info.value.message


def test_duplicate_task_name_across_two_extra_dirs(tmp_path: Path) -> None:
    raw = _xnli_raw()
    raw["name"] = "mine"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(tmp_path / "a" / "one.yaml", raw)
    second = _write(tmp_path / "b" / "two.yaml", raw)
    with pytest.raises(TaskError, match="duplicate task name 'mine'") as info:
        TaskRegistry([tmp_path / "a", tmp_path / "b"])
    assert str(first) in info.value.message
    assert str(second) in info.value.message


def test_invalid_file_in_extra_dir_is_reported(tmp_path: Path) -> None:
    raw = _xnli_raw()
    raw["name"] = "other"
    raw["version"] = "x"
    path = _write(tmp_path / "other.yaml", raw)
    with pytest.raises(TaskError, match="version") as info:
        TaskRegistry([tmp_path])
    assert str(path) in info.value.message


def test_missing_tasks_dir(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="does not exist"):
        TaskRegistry([tmp_path / "nope"])


def test_unknown_task_name_suggests_closest() -> None:
    with pytest.raises(TaskError, match="unknown task 'xnl'") as info:
        TaskRegistry().get("xnl")
    assert "Did you mean 'xnli'?" in info.value.message
    assert info.value.hint is not None and "pawsx" in info.value.hint


def test_unknown_task_name_without_close_match() -> None:
    with pytest.raises(TaskError) as info:
        TaskRegistry().get("zzzzzz")
    assert "Did you mean" not in info.value.message


# --- hyperparameters --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


def test_task_defaults_for_base_model(xnli) -> None:
    hp = xnli.hyperparameters_for("FacebookAI/xlm-roberta-base")
    assert isinstance(hp, FineTuneHyperparameters)
    assert hp.learning_rate == pytest.approx(2e-5)
    assert hp.epochs == 5


@pytest.mark.parametrize("model", ["FacebookAI/xlm-roberta-large", "/ckpt/XLM-R-LARGE"])
def test_model_override_for_large(xnli, model: str) -> None:
    hp = xnli.hyperparameters_for(model)
    assert hp.learning_rate == pytest.approx(3e-5)
    assert hp.epochs == 5  # only the overridden key changes


def test_pawsx_has_no_large_override() -> None:
    hp = TaskRegistry().get("pawsx").hyperparameters_for("FacebookAI/xlm-roberta-large")
    assert hp.learning_rate == pytest.approx(2e-5)


def test_user_override_beats_model_override(xnli) -> None:
    hp = xnli.hyperparameters_for(
        "FacebookAI/xlm-roberta-large", {"learning_rate": 1e-5, "epochs": 1}
    )
    assert hp.learning_rate == pytest.approx(1e-5)
    assert hp.epochs == 1
    other = xnli.hyperparameters_for("FacebookAI/xlm-roberta-large", {"epochs": 2})
    assert other.learning_rate == pytest.approx(3e-5)
    assert other.epochs == 2


def test_overrides_do_not_mutate_the_spec(xnli) -> None:
    xnli.hyperparameters_for("x-large", {"learning_rate": 9e-5})
    assert xnli.hyperparameters.learning_rate == pytest.approx(2e-5)


def test_unknown_override_key_suggests(xnli) -> None:
    with pytest.raises(TaskError, match="unknown hyperparameter 'lerning_rate'") as info:
        xnli.hyperparameters_for("m", {"lerning_rate": 1e-5})
    assert "Did you mean 'learning_rate'?" in info.value.message
    assert "task xnli" in info.value.message


def test_invalid_override_value_names_field(xnli) -> None:
    with pytest.raises(TaskError, match="batch_size"):
        xnli.hyperparameters_for("m", {"batch_size": 0})
    with pytest.raises(TaskError, match="selection"):
        xnli.hyperparameters_for("m", {"selection": "best"})


def test_accumulation_must_divide_batch(xnli) -> None:
    with pytest.raises(TaskError, match="gradient_accumulation"):
        xnli.hyperparameters_for("m", {"batch_size": 32, "gradient_accumulation": 3})
    hp = xnli.hyperparameters_for("m", {"batch_size": 32, "gradient_accumulation": 4})
    assert hp.gradient_accumulation == 4


def test_validate_hyperparameters_names_where() -> None:
    with pytest.raises(TaskError, match=r"^somewhere: invalid hyperparameters: epochs"):
        validate_hyperparameters(
            FineTuneHyperparameters,
            {"learning_rate": 1e-5, "epochs": -1, "batch_size": 8, "max_length": 64},
            where="somewhere",
        )
