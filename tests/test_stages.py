"""The stages of a planned run, one by one: ensure the model (fine-tune once, then reuse the
cached folder), evaluate one language (predictions, per-example scores and a partial record
written before it returns), assemble the result from the plan alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xbench import modelstore
from xbench.catalog import TaskRegistry
from xbench.featcache import FeatureCache
from xbench.plan import RunRequest, make_plan
from xbench.stages import assemble_result, ensure_model, evaluate_language

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"


@pytest.fixture()
def plan(offline_models: Path, tmp_path: Path):
    req = RunRequest(
        model=str(offline_models / "tiny-xlmr"),
        task=TaskRegistry().get("xnli"),
        seed=1,
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        data_dir=CORE_DATA,
        languages=["en", "de"],
        overrides={"epochs": 1, "batch_size": 8},
        train_limit=32,
        eval_limit=8,
    )
    return make_plan(req)


def test_stages_in_turn(plan, tmp_path: Path) -> None:
    log: list[str] = []
    features = FeatureCache(tmp_path / "cache" / "features")
    loaded = ensure_model(plan, features, log.append)
    assert plan.model_dir is not None and modelstore.is_trained(plan.model_dir)
    assert loaded.record is not None and loaded.record["steps"] == 4
    assert loaded.record["data"]["dev_source"]["path"] == "xnli/dev-en.tsv"
    assert [step for step, _ in loaded.record["loss_curve"]] == [1, 2, 3, 4]
    assert any("fine-tuning" in line for line in log)

    again = ensure_model(plan, features, log.append)  # the cached folder, not a new fine-tune
    assert any("reusing fine-tuned model" in line for line in log)
    assert again.record == loaded.record

    de = evaluate_language(plan, loaded, "de")
    assert de.examples == 8 and 0 <= de.scores["accuracy"] <= 1
    predictions = json.loads((plan.predictions_dir / "de.json").read_text(encoding="utf-8"))
    scores = json.loads((plan.predictions_dir / "de.scores.json").read_text(encoding="utf-8"))
    assert len(predictions) == 8 and len(scores["scores"]) == 8
    assert sum(scores["scores"]) / 8 == pytest.approx(de.scores["accuracy"])
    partial = json.loads((plan.partial_dir / "de.json").read_text(encoding="utf-8"))
    assert partial["run_key"] == plan.run_key and partial["result"]["examples"] == 8

    result = assemble_result(plan, {"de": de}, loaded.record, "sdpa", 1.5)
    assert result.run_key == plan.run_key and result.train_language == "en"
    assert result.name == "tiny-xlmr" and result.model == plan.model
    assert result.train_source is not None and result.train_source["examples"] == 32
    assert result.training is not None and "data" not in result.training
    assert result.dev_source == loaded.record["data"]["dev_source"]
    assert result.evaluated_as_is is None
    assert result.hyperparameters["sampling"] == plan.hp.sampling
    assert result.environment["attention"] == "sdpa"
