"""The plan is the preflight: one resolution of languages, hyperparameters, model, run key and
paths, and every source the run will read checked (parsed, or resolved on the hub) before any
training. These tests build plans only: nothing is trained."""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from xbench.catalog import TaskRegistry
from xbench.errors import DataError, ModelError, ResultsError, TaskError
from xbench.plan import RunRequest, make_plan, resolve_model
from xbench.results import RunResult, write_result

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"
RESULT_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "core" / "result.json"


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """A writable copy of the tiny XTREME-layout data."""
    return Path(shutil.copytree(CORE_DATA, tmp_path / "data"))


def _request(xnli, model: Path, root: Path, data: Path | None, **changes: Any) -> RunRequest:
    req = RunRequest(
        model=str(model),
        task=xnli,
        seed=1,
        results_dir=root / "results",
        cache_dir=root / "cache",
        data_dir=data,
        languages=["en", "de"],
        overrides={"epochs": 1, "batch_size": 8},
        train_limit=32,
        eval_limit=8,
    )
    return replace(req, **changes)


@pytest.fixture(scope="module")
def tiny(offline_models: Path) -> Path:
    return offline_models / "tiny-xlmr"


def test_plan_resolves_once_and_is_frozen(xnli, tiny: Path, tmp_path: Path, data: Path) -> None:
    plan = make_plan(_request(xnli, tiny, tmp_path, data))
    assert plan.languages == ("en", "de")
    assert plan.hp.epochs == 1 and plan.hp.batch_size == 8 and plan.hp.learning_rate == 2e-5
    assert plan.model_source == str(tiny.resolve())
    assert plan.train_source is not None and plan.train_source["examples"] == 32
    assert plan.result_file == tmp_path / "results" / plan.result_file.relative_to(
        tmp_path / "results"
    )
    assert plan.result_file.name == "seed1.json" and plan.result_file.parent.name == "xnli"
    assert plan.model_dir is not None and plan.model_dir.name.endswith(plan.run_key)
    assert plan.partial_dir.name == "seed1.partial"
    assert plan.reads_dev
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.run_key = "other"  # type: ignore[misc]


def test_run_key_follows_what_decides_the_result(
    xnli, tiny: Path, tmp_path: Path, data: Path
) -> None:
    key = make_plan(_request(xnli, tiny, tmp_path, data)).run_key
    assert make_plan(_request(xnli, tiny, tmp_path, data)).run_key == key
    others = {
        "seed": {"seed": 2},
        "lr": {"overrides": {"epochs": 1, "batch_size": 8, "learning_rate": 1e-5}},
        "train limit": {"train_limit": 16},
        "eval split": {"eval_split": "dev", "languages": ["en"]},
    }
    for name, change in others.items():
        assert make_plan(_request(xnli, tiny, tmp_path, data, **change)).run_key != key, name
    (data / "xnli" / "train-en.tsv").write_text(  # same path, other content
        (data / "xnli" / "train-en.tsv")
        .read_text(encoding="utf-8")
        .replace("neutral", "entailment"),
        encoding="utf-8",
    )
    assert make_plan(_request(xnli, tiny, tmp_path, data)).run_key != key


def test_every_eval_file_is_parsed_before_any_work(
    xnli, tiny: Path, tmp_path: Path, data: Path
) -> None:
    """A bad label in the last language's test file is found by the plan, not after
    fine-tuning."""
    path = data / "xnli" / "test-de.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit("\t", 1)[0] + "\tmaybe"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test-de.tsv, line 4: unknown label 'maybe'"):
        make_plan(_request(xnli, tiny, tmp_path, data))
    assert not (tmp_path / "cache").exists() and not (tmp_path / "results").exists()


def test_dev_file_is_checked_when_selection_reads_it(
    xnli, tiny: Path, tmp_path: Path, data: Path
) -> None:
    (data / "xnli" / "dev-en.tsv").unlink()
    with pytest.raises(DataError, match="dev split, language en"):
        make_plan(_request(xnli, tiny, tmp_path, data))
    final = {"epochs": 1, "batch_size": 8, "selection": "final"}
    plan = make_plan(_request(xnli, tiny, tmp_path, data, overrides=final))
    assert not plan.reads_dev  # selection final never reads dev: no check, no error


def test_request_errors(xnli, tiny: Path, tmp_path: Path, data: Path) -> None:
    with pytest.raises(TaskError, match="unknown eval split 'valid'"):
        make_plan(_request(xnli, tiny, tmp_path, data, eval_split="valid"))
    with pytest.raises(TaskError, match="unknown language 'ger'"):
        make_plan(_request(xnli, tiny, tmp_path, data, languages=["ger"]))
    with pytest.raises(TaskError, match="train_limit must be a positive"):
        make_plan(_request(xnli, tiny, tmp_path, data, train_limit=0))
    with pytest.raises(ModelError, match="does not exist"):
        make_plan(_request(xnli, tmp_path / "no-model", tmp_path, data))
    with pytest.raises(TaskError, match="unknown hyperparameter 'doc_stride'"):
        make_plan(_request(xnli, tiny, tmp_path, data, overrides={"doc_stride": 64}))


def test_result_of_another_configuration_is_refused_by_the_plan(
    xnli, tiny: Path, tmp_path: Path, data: Path
) -> None:
    plan = make_plan(_request(xnli, tiny, tmp_path, data))
    other = RunResult.model_validate_json(RESULT_FIXTURE.read_text(encoding="utf-8"))
    write_result(plan.result_file, other)
    before = plan.result_file.read_bytes()
    with pytest.raises(ResultsError, match="already holds a result of a different configuration"):
        make_plan(_request(xnli, tiny, tmp_path, data))
    assert plan.result_file.read_bytes() == before


def test_finished_languages_need_no_source(xnli, tiny: Path, tmp_path: Path, data: Path) -> None:
    """A language already in the result file is not read again, so its file may be gone."""
    plan = make_plan(_request(xnli, tiny, tmp_path, data))
    done = RunResult.model_validate_json(RESULT_FIXTURE.read_text(encoding="utf-8"))
    write_result(plan.result_file, done.model_copy(update={"run_key": plan.run_key}))
    assert set(done.languages) >= {"de"}
    (data / "xnli" / "test-de.tsv").unlink()
    assert make_plan(_request(xnli, tiny, tmp_path, data)).run_key == plan.run_key


class _Builder:
    def __init__(self, splits: list[str]) -> None:
        self.info = type("Info", (), {"splits": {s: None for s in splits}})()


def test_hub_sources_resolve_before_any_work(
    xnli, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --data-dir, each hub dataset/config/split is resolved at its pinned revision;
    a config that does not resolve or a missing split is a DataError naming it."""
    import datasets

    rows = [{"premise": "a", "hypothesis": "b", "label": 0}] * 4
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: list(rows))
    asked: list[tuple[str, str, str]] = []

    def builder(name: str, config: str, revision: str) -> _Builder:
        asked.append((name, config, revision))
        if config == "de":
            raise FileNotFoundError("Couldn't find a dataset config 'de'")
        return _Builder(["train", "validation", "test"])

    monkeypatch.setattr(datasets, "load_dataset_builder", builder)
    with pytest.raises(DataError, match=r"cannot load facebook/xnli \(config de, split test"):
        make_plan(_request(xnli, tiny, tmp_path, None))
    assert ("facebook/xnli", "en", xnli.hub.revision) in asked  # dev en, checked first

    monkeypatch.setattr(datasets, "load_dataset_builder", lambda *a, **k: _Builder(["train"]))
    with pytest.raises(DataError, match="has no split 'validation'"):
        make_plan(_request(xnli, tiny, tmp_path, None))

    monkeypatch.setattr(
        datasets, "load_dataset_builder", lambda *a, **k: _Builder(["validation", "test"])
    )
    plan = make_plan(_request(xnli, tiny, tmp_path, None))
    assert plan.train_source is not None and plan.train_source["kind"] == "hub"


def test_resolve_model(tmp_path: Path, tiny: Path) -> None:
    assert resolve_model("FacebookAI/xlm-roberta-base") == "FacebookAI/xlm-roberta-base"
    assert resolve_model(str(tiny)) == str(tiny.resolve())
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve_model(str(tmp_path))
