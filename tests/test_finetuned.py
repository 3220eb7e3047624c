"""--finetuned: evaluate a model fine-tuned elsewhere, as is. No training; labels matched by
name through the model's id2label (another order is remapped and recorded; other or missing
labels are one clear error naming both sets, before any work); the result records that nothing
was trained and the weights' hash. Without the flag, a checkpoint that already has a
classification head is refused rather than silently relabelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from xbench.catalog import TaskRegistry, load_task_file
from xbench.cli import app
from xbench.errors import ModelError
from xbench.plan import RunRequest, make_plan
from xbench.results import read_result
from xbench.runner import run

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORE_DATA = FIXTURES / "core" / "data"
QA_DATA = FIXTURES / "bad_input" / "qa_data"
XNLI_LABELS = ["entailment", "neutral", "contradiction"]


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


def _classifier(tiny: Path, dest: Path, labels: list[str], seed: int = 7) -> Path:
    """A 'fine-tuned elsewhere' checkpoint: tiny-xlmr with a random head named `labels`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    with torch.no_grad():  # a head that does not predict one class for everything: the tiny
        # random encoder's <s> states differ little, so amplify and centre them
        model.classifier.dense.weight.normal_(0, 20.0)
        model.classifier.out_proj.weight.normal_(0, 20.0)
        rows = [
            line.split("\t")
            for line in (CORE_DATA / "xnli" / "test-de.tsv")
            .read_text(encoding="utf-8")
            .splitlines()
        ]
        enc = tokenizer(
            [r[0] for r in rows], [r[1] for r in rows], padding=True, return_tensors="pt"
        )
        model.classifier.out_proj.bias -= model(**enc).logits.mean(0)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def _permuted(source: Path, dest: Path, order: list[int]) -> Path:
    """The same function with its classes stored in another order (and named accordingly)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(source)
    names = [model.config.id2label[i] for i in order]
    with torch.no_grad():
        head = model.classifier.out_proj
        head.weight.copy_(head.weight[order].clone())
        head.bias.copy_(head.bias[order].clone())
    model.config.id2label = dict(enumerate(names))
    model.config.label2id = {n: i for i, n in enumerate(names)}
    model.save_pretrained(dest)
    AutoTokenizer.from_pretrained(source).save_pretrained(dest)
    return dest


def _request(task: Any, model: Path, root: Path, **changes: Any) -> RunRequest:
    values: dict[str, Any] = {
        "model": str(model),
        "task": task,
        "seed": 1,
        "results_dir": root / "results",
        "cache_dir": root / "cache",
        "data_dir": CORE_DATA,
        "languages": ["en", "de"],
        "finetuned": True,
    }
    values.update(changes)
    return RunRequest(**values)


def _predictions(out: Path, lang: str) -> dict[str, Any]:
    import json

    return json.loads((out.parent / f"{out.stem}.predictions" / f"{lang}.json").read_text())


def test_evaluates_as_is_without_training(
    xnli, offline_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xbench.training

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("fine_tune was called for --finetuned")

    monkeypatch.setattr(xbench.training, "fine_tune", no_training)
    model = _classifier(offline_models / "tiny-xlmr", tmp_path / "clf", XNLI_LABELS)
    out = run(_request(xnli, model, tmp_path), log=lambda _: None)
    result = read_result(out)
    assert result.training is None and result.train_source is None
    assert result.evaluated_as_is is not None
    assert result.evaluated_as_is["head"]["remapped"] is False
    assert len(result.evaluated_as_is["weights"]["sha256"]) == 64
    assert "model.safetensors" in result.evaluated_as_is["weights"]["files"]
    assert not (tmp_path / "cache" / "models").exists()
    preds = {p for p, _ in _predictions(out, "de").values()}
    assert len(preds) > 1  # the random head is not constant, so the remap test below can fail


def test_another_label_order_is_remapped_and_recorded(
    xnli, offline_models: Path, tmp_path: Path
) -> None:
    base = _classifier(offline_models / "tiny-xlmr", tmp_path / "clf", XNLI_LABELS)
    shuffled = _permuted(base, tmp_path / "shuffled", [2, 0, 1])
    first = run(_request(xnli, base, tmp_path / "a"), log=lambda _: None)
    second = run(_request(xnli, shuffled, tmp_path / "b"), log=lambda _: None)
    for lang in ("en", "de"):
        assert _predictions(first, lang) == _predictions(second, lang)  # in the task's labels
    head = read_result(second).evaluated_as_is["head"]  # type: ignore[index]
    assert head["remapped"] is True
    assert head["model_labels"] == ["contradiction", "entailment", "neutral"]
    assert head["task_label_of_model_label"] == [2, 0, 1]
    a, b = read_result(first), read_result(second)
    assert a.languages["de"].scores == b.languages["de"].scores
    assert a.evaluated_as_is["weights"] != b.evaluated_as_is["weights"]  # type: ignore[index]


@pytest.mark.parametrize(
    "labels",
    [["LABEL_0", "LABEL_1", "LABEL_2"], ["not_paraphrase", "paraphrase"]],
    ids=["unnamed", "other-task"],
)
def test_other_labels_are_one_clear_error_before_any_work(
    xnli, offline_models: Path, tmp_path: Path, labels: list[str]
) -> None:
    model = _classifier(offline_models / "tiny-xlmr", tmp_path / "clf", labels)
    with pytest.raises(ModelError) as err:
        make_plan(_request(xnli, model, tmp_path))
    for name in [*labels, *XNLI_LABELS]:
        assert name in err.value.message
    assert not (tmp_path / "results").exists()


def test_a_model_without_a_head_cannot_be_evaluated_as_is(
    xnli, offline_models: Path, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="are not the task's"):
        make_plan(_request(xnli, offline_models / "tiny-xlmr", tmp_path))


def test_fine_tuning_a_classifier_checkpoint_is_refused(
    xnli, offline_models: Path, tmp_path: Path
) -> None:
    """Its head would keep its weights under the task's label order: a silent relabelling."""
    model = _classifier(offline_models / "tiny-xlmr", tmp_path / "clf", ["b", "a", "c"])
    with pytest.raises(ModelError, match="already has a sequence-classification head") as err:
        make_plan(_request(xnli, model, tmp_path, finetuned=False))
    assert err.value.hint is not None and "--finetuned" in err.value.hint


def test_qa_model_as_is(offline_models: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    task = load_task_file(FIXTURES / "bad_input" / "qa_tasks" / "qa-mini.yaml")
    torch.manual_seed(3)
    qa = AutoModelForQuestionAnswering.from_pretrained(offline_models / "tiny-xlmr")
    qa.save_pretrained(tmp_path / "qa")
    AutoTokenizer.from_pretrained(offline_models / "tiny-xlmr").save_pretrained(tmp_path / "qa")
    out = run(
        _request(task, tmp_path / "qa", tmp_path, data_dir=QA_DATA, languages=["en"]),
        log=lambda _: None,
    )
    result = read_result(out)
    assert result.training is None
    assert result.evaluated_as_is["head"]["architectures"] == [  # type: ignore[index]
        "XLMRobertaForQuestionAnswering"
    ]
    with pytest.raises(ModelError, match="has no question-answering head"):
        make_plan(_request(task, offline_models / "tiny-xlmr", tmp_path, data_dir=QA_DATA))


def test_the_cli_flag(offline_models: Path, tmp_path: Path) -> None:
    model = _classifier(offline_models / "tiny-xlmr", tmp_path / "clf", XNLI_LABELS)
    args = ["run", "--model", str(model), "--tasks", "xnli", "--finetuned", "--languages", "de"]
    args += ["--data-dir", str(CORE_DATA), "--results-dir", str(tmp_path / "r")]
    args += ["--cache-dir", str(tmp_path / "c"), "--name", "my-classifier"]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    assert "evaluating" in outcome.output and "as is (no fine-tuning)" in outcome.output
    (path,) = (tmp_path / "r").rglob("seed1.json")
    result = read_result(path)
    assert result.evaluated_as_is is not None and result.name == "my-classifier"
    assert result.model == str(model)
