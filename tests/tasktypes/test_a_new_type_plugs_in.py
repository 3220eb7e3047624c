"""The seam, proved from outside the package: a task type defined in tests/fixtures (one
module, registered under a name) and a task file are all a new kind of task needs. This one
does not fine-tune: its task file has no train or dev split and no learning rate, the run
trains nothing, and the result records that."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import xbench.tasktypes as tasktypes
from xbench.catalog import TaskRegistry
from xbench.errors import TaskError
from xbench.plan import RunRequest, make_plan
from xbench.results import read_result
from xbench.runner import run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORE_DATA = FIXTURES / "core" / "data"
TASK = {
    "name": "xsim",
    "version": 1,
    "type": "zero-shot-similarity",
    "description": "Zero-shot similarity of XNLI pairs (entailment = similar).",
    "metric": "accuracy",
    "languages": ["en", "de", "fr"],
    "local": {"test": "xnli/test-{lang}.tsv"},
    "hyperparameters": {"max_length": 64, "threshold": 0.95},
}


@pytest.fixture()
def toy_type(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(FIXTURES / "toy_type"))
    monkeypatch.setitem(
        tasktypes._TYPES, "zero-shot-similarity", "toy_similarity:ZeroShotSimilarity"
    )
    tasktypes.get_task_type.cache_clear()
    yield tasktypes.get_task_type("zero-shot-similarity")
    tasktypes.get_task_type.cache_clear()


def _registry(tmp_path: Path, **changes: object) -> TaskRegistry:
    folder = tmp_path / "tasks"
    folder.mkdir(exist_ok=True)
    (folder / "xsim.yaml").write_text(yaml.safe_dump({**TASK, **changes}), encoding="utf-8")
    return TaskRegistry([folder])


def test_the_type_owns_its_settings(toy_type, tmp_path: Path) -> None:
    spec = _registry(tmp_path).get("xsim")
    assert not toy_type.fine_tunes and not spec.fine_tunes
    assert spec.hyperparameters.threshold == 0.95  # a setting only this type has
    assert spec.local.train is None and spec.local.dev is None
    with pytest.raises(TaskError, match=r"hyperparameters\.learning_rate"):
        _registry(tmp_path, hyperparameters={"max_length": 64, "learning_rate": 1e-5})
    with pytest.raises(TaskError, match="unknown hyperparameter 'treshold'"):
        spec.hyperparameters_for("m", {"treshold": 0.5})


def test_run_evaluates_without_training(toy_type, tmp_path: Path, offline_models: Path) -> None:
    spec = _registry(tmp_path).get("xsim")
    req = RunRequest(
        model=str(offline_models / "tiny-xlmr"),
        task=spec,
        seed=1,
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        data_dir=CORE_DATA,
    )
    plan = make_plan(req)
    assert plan.model_dir is None and plan.train_source is None
    log: list[str] = []
    out = run(plan, log=log.append)
    result = read_result(out)
    assert result.training is None and result.train_source is None
    assert sorted(result.languages) == ["de", "en", "fr"]
    assert all(
        0 <= r.scores["accuracy"] <= 1 and r.examples == 12 for r in result.languages.values()
    )
    assert result.hyperparameters["threshold"] == 0.95
    assert not any("fine-tuning" in line for line in log)
    assert not (tmp_path / "cache" / "models").exists()  # nothing trained, nothing cached
    assert "already done" in "".join(_rerun(req))


def _rerun(req: RunRequest) -> list[str]:
    log: list[str] = []
    run(req, log=log.append)
    return log
