"""End to end on tiny-xlmr and the tiny fixture data: what a run writes, and that reruns,
added languages and interrupted runs repeat no work, conflicts never overwrite, same seed gives
the same scores, and the results lock keeps two runs apart.

One fine-tuning (module fixture) is shared; tests copy its results folder and reuse its model
cache, so only the determinism test trains a second time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import xbench.runner as runner_mod
import xbench.training as training_mod
from xbench.catalog import TaskRegistry
from xbench.cli import app
from xbench.errors import DataError, ModelError, ResultsError, TaskError
from xbench.lock import results_lock
from xbench.plan import RunRequest, make_plan, resolve_model
from xbench.results import read_result, result_path
from xbench.runner import run

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"
OVERRIDES = {"epochs": 1, "batch_size": 8}
TRAIN_LIMIT, EVAL_LIMIT = 32, 8
CLI_ARGS = ["--set", "epochs=1", "--set", "batch_size=8"]
CLI_ARGS += ["--train-limit", str(TRAIN_LIMIT), "--eval-limit", str(EVAL_LIMIT)]
REAL_EVALUATE = runner_mod.evaluate_language


def _lang_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The language argument of an evaluate_language call, whatever its position."""
    return inspect.signature(REAL_EVALUATE).bind(*args, **kwargs).arguments["lang"]


def _same(a: Any, b: Any) -> bool:
    """Two LanguageResults agree on everything but timing."""
    return a.model_dump(exclude={"predict_seconds"}) == b.model_dump(exclude={"predict_seconds"})


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Base:
    """The shared finished run (languages en, de)."""

    def __init__(self, request: RunRequest, out: Path, log: list[str]) -> None:
        self.request = request
        self.out = out
        self.log = log
        self.bytes = out.read_bytes()

    def copy_results(self, dest: Path) -> RunRequest:
        """A copy of the finished results folder, sharing the model cache."""
        shutil.copytree(self.request.results_dir, dest)
        return replace(self.request, results_dir=dest)

    def out_in(self, req: RunRequest) -> Path:
        return result_path(req.results_dir, req.model, req.task.name, req.seed)


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


@pytest.fixture(scope="module")
def tiny_model(offline_models: Path) -> str:
    return str(offline_models / "tiny-xlmr")


def _request(xnli, model: str, root: Path, **changes: Any) -> RunRequest:
    req = RunRequest(
        model=model,
        task=xnli,
        seed=1,
        results_dir=root / "results",
        cache_dir=root / "cache",
        data_dir=CORE_DATA,
        languages=["en", "de"],
        overrides=dict(OVERRIDES),
        train_limit=TRAIN_LIMIT,
        eval_limit=EVAL_LIMIT,
    )
    return replace(req, **changes)


@pytest.fixture(scope="module")
def base(xnli, tiny_model: str, tmp_path_factory: pytest.TempPathFactory) -> Base:
    req = _request(xnli, tiny_model, tmp_path_factory.mktemp("base"))
    log: list[str] = []
    out = run(req, log=log.append)
    return Base(req, out, log)


@pytest.fixture()
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("fine_tune was called although a fine-tuned model was cached")

    monkeypatch.setattr(training_mod, "fine_tune", fail)


@pytest.fixture()
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the languages that get predicted and scored."""
    calls: list[str] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(_lang_of(args, kwargs))
        return REAL_EVALUATE(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "evaluate_language", spy)
    return calls


# --- the result file --------------------------------------------------------------------------


def test_result_file_records_everything(base: Base, tiny_model: str) -> None:
    req = base.request
    assert base.out == result_path(req.results_dir, tiny_model, "xnli", 1)
    assert base.out.is_file()
    result = read_result(base.out)
    assert result.task == "xnli" and result.task_version == 1
    assert result.model == tiny_model
    assert result.seed == 1
    assert result.eval_split == "test"
    assert result.metric == "accuracy"
    assert list(result.languages) == ["de", "en"]
    for lang, lr in result.languages.items():
        test_file = CORE_DATA / "xnli" / f"test-{lang}.tsv"
        assert lr.examples == EVAL_LIMIT
        assert lr.source == {
            "kind": "local",
            "path": f"xnli/test-{lang}.tsv",
            "sha256": _sha(test_file),
            "limit": EVAL_LIMIT,
            "examples": EVAL_LIMIT,
        }
        assert 0.0 <= lr.scores["accuracy"] <= 1.0
        assert lr.scores["accuracy"] * EVAL_LIMIT == pytest.approx(
            round(lr.scores["accuracy"] * EVAL_LIMIT)
        )
        predictions = base.out.parent / lr.predictions_file
        assert len(json.loads(predictions.read_text())) == EVAL_LIMIT
        per_example = json.loads((base.out.parent / lr.example_scores_file).read_text())
        assert sum(per_example["scores"]) / EVAL_LIMIT == pytest.approx(lr.scores["accuracy"])
    assert result.train_source["path"] == "xnli/train-en.tsv"
    assert result.train_source["sha256"] == _sha(CORE_DATA / "xnli" / "train-en.tsv")
    assert result.train_source["examples"] == TRAIN_LIMIT
    assert result.train_source["limit"] == TRAIN_LIMIT
    assert result.dev_source is not None
    assert result.dev_source["path"] == "xnli/dev-en.tsv"
    assert result.dev_source["sha256"] == _sha(CORE_DATA / "xnli" / "dev-en.tsv")
    hp = result.hyperparameters
    assert hp["epochs"] == 1 and hp["batch_size"] == 8
    assert hp["learning_rate"] == pytest.approx(2e-5)
    assert hp["selection"] == "best-dev"
    assert hp["train_limit"] == TRAIN_LIMIT and hp["eval_limit"] == EVAL_LIMIT
    assert result.training["train_examples"] == TRAIN_LIMIT
    assert result.training["steps"] == TRAIN_LIMIT // 8
    assert result.training["selection"]["policy"] == "best-dev"
    assert len(result.training["selection"]["dev_history"]) == 1
    for key in ("xbench", "python", "torch", "transformers", "datasets", "device"):
        assert result.environment.get(key)
    assert result.environment["device"] == "cpu"
    assert re.fullmatch(r"[0-9a-f]{16}", result.run_key)
    assert result.timings["train_seconds"] > 0
    assert not (base.out.parent / "seed1.partial").exists()
    assert any("wrote" in line for line in base.log)


def test_fine_tuned_model_is_cached_under_run_key(base: Base) -> None:
    result = read_result(base.out)
    models = list((base.request.cache_dir / "models").iterdir())
    assert [m.name for m in models if not m.name.endswith(".work")] == [
        m.name for m in models
    ]  # no leftover work folders
    (model_dir,) = [m for m in models if m.name.endswith(f"--xnli--{result.run_key}")]
    assert (model_dir / "xbench-model.json").is_file()
    assert (model_dir / "config.json").is_file()


# --- reruns repeat no work --------------------------------------------------------------------


def test_rerun_does_nothing(base: Base, tmp_path: Path, no_training, evaluated) -> None:
    req = base.copy_results(tmp_path / "results")
    log: list[str] = []
    out = run(req, log=log.append)
    assert out == base.out_in(req)
    assert evaluated == []
    assert any("already done" in line for line in log)
    assert out.read_bytes() == base.bytes


def test_rerun_without_model_cache_still_does_nothing(
    base: Base, tmp_path: Path, no_training, evaluated
) -> None:
    req = replace(base.copy_results(tmp_path / "results"), cache_dir=tmp_path / "empty-cache")
    log: list[str] = []
    run(req, log=log.append)
    assert evaluated == []
    assert any("already done" in line for line in log)
    assert not (tmp_path / "empty-cache").exists()


def test_rerun_through_cli_says_already_done(base: Base, tmp_path: Path, no_training) -> None:
    req = base.copy_results(tmp_path / "results")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--model",
            req.model,
            "--tasks",
            "xnli",
            "--languages",
            "en,de",
            "--data-dir",
            str(CORE_DATA),
            "--results-dir",
            str(req.results_dir),
            "--cache-dir",
            str(req.cache_dir),
            *CLI_ARGS,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "already done" in result.stdout
    assert "### xnli" in result.stdout  # the table of what is there
    assert base.out_in(req).read_bytes() == base.bytes


def test_subset_of_languages_is_already_done(base: Base, tmp_path: Path, no_training) -> None:
    req = replace(base.copy_results(tmp_path / "results"), languages=["de"])
    log: list[str] = []
    run(req, log=log.append)
    assert any("already done" in line for line in log)


def test_adding_a_language_computes_only_that_language(
    base: Base, tmp_path: Path, no_training, evaluated
) -> None:
    req = replace(base.copy_results(tmp_path / "results"), languages=["en", "de", "fr"])
    log: list[str] = []
    out = run(req, log=log.append)
    assert evaluated == ["fr"]
    assert any("reusing fine-tuned model" in line for line in log)
    before, after = read_result(base.out), read_result(out)
    assert list(after.languages) == ["de", "en", "fr"]
    assert after.languages["de"] == before.languages["de"]
    assert after.languages["en"] == before.languages["en"]
    assert after.languages["fr"].examples == EVAL_LIMIT
    assert after.languages["fr"].source["sha256"] == _sha(CORE_DATA / "xnli" / "test-fr.tsv")
    assert after.run_key == before.run_key
    assert after.training == before.training


def test_interrupted_run_reuses_partial_languages(
    base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_training
) -> None:
    """Model cached, evaluation interrupted after 'de': the rerun predicts only 'fr'."""
    req = replace(base.request, results_dir=tmp_path / "results", languages=["de", "fr"])
    out = base.out_in(req)
    calls: list[str] = []

    def interrupt_on_fr(*args: Any, **kwargs: Any) -> Any:
        calls.append(_lang_of(args, kwargs))
        if calls[-1] == "fr":
            raise KeyboardInterrupt
        return REAL_EVALUATE(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "evaluate_language", interrupt_on_fr)
    with pytest.raises(KeyboardInterrupt):
        run(req, log=lambda _: None)
    partial = out.with_name("seed1.partial")
    assert calls == ["de", "fr"]
    assert not out.exists()
    assert sorted(p.name for p in partial.iterdir()) == ["de.json"]
    saved = json.loads((partial / "de.json").read_text())
    assert saved["run_key"] == read_result(base.out).run_key

    calls.clear()

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(_lang_of(args, kwargs))
        return REAL_EVALUATE(*args, **kwargs)

    monkeypatch.setattr(runner_mod, "evaluate_language", spy)
    run(req, log=lambda _: None)
    assert calls == ["fr"]
    result = read_result(out)
    assert list(result.languages) == ["de", "fr"]
    assert result.languages["de"].model_dump() == saved["result"]
    assert _same(result.languages["de"], read_result(base.out).languages["de"])
    assert not partial.exists()


def test_partial_of_another_configuration_is_ignored(
    base: Base, tmp_path: Path, no_training, evaluated
) -> None:
    req = replace(base.request, results_dir=tmp_path / "results", languages=["de"])
    partial = base.out_in(req).with_name("seed1.partial")
    partial.mkdir(parents=True)
    stale = read_result(base.out).languages["de"].model_dump()
    stale["scores"] = {"accuracy": 0.123}
    (partial / "de.json").write_text(json.dumps({"run_key": "0" * 16, "result": stale}))
    run(req, log=lambda _: None)
    assert evaluated == ["de"]
    assert _same(
        read_result(base.out_in(req)).languages["de"], read_result(base.out).languages["de"]
    )


# --- conflicts --------------------------------------------------------------------------------


def test_other_configuration_same_results_dir_is_refused(
    base: Base, tmp_path: Path, no_training, evaluated
) -> None:
    req = base.copy_results(tmp_path / "results")
    other = replace(req, overrides={**OVERRIDES, "learning_rate": 1e-4})
    with pytest.raises(ResultsError, match="different configuration") as info:
        run(other, log=lambda _: None)
    out = base.out_in(req)
    assert str(out) in info.value.message
    assert out.read_bytes() == base.bytes
    assert evaluated == []


def test_other_train_limit_is_another_configuration(base: Base, tmp_path: Path, no_training):
    req = replace(base.copy_results(tmp_path / "results"), train_limit=16)
    with pytest.raises(ResultsError, match="different configuration"):
        run(req, log=lambda _: None)
    assert base.out_in(req).read_bytes() == base.bytes


def test_corrupt_existing_result_is_reported_not_overwritten(
    base: Base, tmp_path: Path, no_training
) -> None:
    req = base.copy_results(tmp_path / "results")
    out = base.out_in(req)
    out.write_text("{ half a result")
    with pytest.raises(ResultsError, match="corrupt") as info:
        run(req, log=lambda _: None)
    assert str(out) in info.value.message
    assert out.read_text() == "{ half a result"


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_scores(base: Base, tmp_path: Path, evaluated) -> None:
    """A second fine-tuning from scratch (fresh cache) on CPU reproduces the first exactly."""
    req = replace(base.request, results_dir=tmp_path / "results", cache_dir=tmp_path / "cache")
    out = run(req, log=lambda _: None)
    assert evaluated == ["en", "de"]
    first, second = read_result(base.out), read_result(out)
    assert second.run_key == first.run_key
    for lang in ("en", "de"):
        assert second.languages[lang].scores == first.languages[lang].scores
        a = json.loads((base.out.parent / first.languages[lang].predictions_file).read_text())
        b = json.loads((out.parent / second.languages[lang].predictions_file).read_text())
        assert a == b
    assert second.training["train_loss"] == first.training["train_loss"]
    assert second.training["selection"] == first.training["selection"]
    (m1,) = (base.request.cache_dir / "models").iterdir()
    (m2,) = (tmp_path / "cache" / "models").iterdir()
    assert _sha(m1 / "model.safetensors") == _sha(m2 / "model.safetensors")


# --- the results lock -------------------------------------------------------------------------


def test_results_lock_blocks_a_second_run(base: Base, tmp_path: Path, no_training) -> None:
    results = tmp_path / "results"
    with results_lock(results):
        result = CliRunner().invoke(
            app,
            [
                "run",
                "--model",
                base.request.model,
                "--tasks",
                "xnli",
                "--languages",
                "de",
                "--data-dir",
                str(CORE_DATA),
                "--results-dir",
                str(results),
                "--cache-dir",
                str(base.request.cache_dir),
                *CLI_ARGS,
            ],
        )
    assert isinstance(result.exception, ResultsError)
    assert "another xbench run" in result.exception.message
    assert str(results) in result.exception.message
    assert list(results.rglob("seed*.json")) == []
    with results_lock(results):  # released by the failed run: can be taken again
        pass


def test_results_lock_is_exclusive(tmp_path: Path) -> None:
    with (
        results_lock(tmp_path),
        pytest.raises(ResultsError, match="another xbench run"),
        results_lock(tmp_path),
    ):
        pass
    with results_lock(tmp_path):
        pass


# --- preflight and small helpers --------------------------------------------------------------


def test_preflight_missing_test_file_before_any_work(xnli, tiny_model: str, tmp_path: Path):
    req = _request(xnli, tiny_model, tmp_path, languages=["de", "es"])
    with pytest.raises(DataError) as info:
        make_plan(req)
    assert str(CORE_DATA / "xnli" / "test-es.tsv") in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_preflight_checks_eval_split_and_hyperparameters(xnli, tiny_model: str, tmp_path: Path):
    with pytest.raises(TaskError, match="unknown eval split 'valid'"):
        make_plan(_request(xnli, tiny_model, tmp_path, eval_split="valid"))
    with pytest.raises(TaskError, match="lerning_rate"):
        make_plan(_request(xnli, tiny_model, tmp_path, overrides={"lerning_rate": 1.0}))
    make_plan(_request(xnli, tiny_model, tmp_path))  # the good request passes


def test_check_languages(xnli) -> None:
    assert xnli.check_languages(None) == xnli.languages
    assert xnli.check_languages(["de", "en", "de"]) == ["de", "en"]
    with pytest.raises(TaskError, match="unknown language 'ger'"):
        xnli.check_languages(["ger"])


def test_resolve_model(tmp_path: Path, tiny_model: str) -> None:
    assert resolve_model("FacebookAI/xlm-roberta-base") == "FacebookAI/xlm-roberta-base"
    assert resolve_model(tiny_model) == str(Path(tiny_model).resolve())
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve_model(str(tmp_path))
