"""Extractive QA as a task type: its task-file model (MLQA's languages, QA-only window and
answer settings), SQuAD files and hub rows read into the same examples, MLQA scoring by the
*context* language of a pair key, prediction records in MLQA's format, and prediction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from xbench.catalog import builtin_tasks_dir, load_task_file
from xbench.metrics import mlqa
from xbench.squad import QAExample
from xbench.taskspec import FineTuneHyperparameters
from xbench.tasktypes import get_task_type
from xbench.tasktypes.extractive_qa import ExtractiveQA, ExtractiveQASpec, QAHyperparameters

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_input"
QA_DATA = FIXTURES / "qa_data" / "qa"
QA_MINI = FIXTURES / "qa_tasks" / "qa-mini.yaml"


def _mlqa_raw() -> dict[str, Any]:
    return yaml.safe_load((builtin_tasks_dir() / "mlqa.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def task_type() -> ExtractiveQA:
    tt = get_task_type("extractive-qa")
    assert isinstance(tt, ExtractiveQA)
    return tt


@pytest.fixture(scope="module")
def mini() -> ExtractiveQASpec:
    spec = load_task_file(QA_MINI)
    assert isinstance(spec, ExtractiveQASpec)
    return spec


# --- the spec model ----------------------------------------------------------------------------


def test_shipped_mlqa_validates(task_type) -> None:
    spec = ExtractiveQASpec(**_mlqa_raw())
    assert isinstance(spec.hyperparameters, QAHyperparameters)
    assert spec.hyperparameters.doc_stride == 128
    assert spec.hyperparameters.selection == "final"
    assert spec.cross_lingual_pairs
    assert spec.fine_tunes and task_type.fine_tunes
    assert task_type.metrics == ("f1", "exact_match")


@pytest.mark.parametrize("extra", ["fr", "ja"])
def test_language_without_mlqa_normalisation_is_refused(extra: str) -> None:
    raw = _mlqa_raw()
    raw["languages"] = [*raw["languages"], extra]
    with pytest.raises(ValidationError) as err:
        ExtractiveQASpec(**raw)
    message = str(err.value)
    assert f"['{extra}']" in message
    assert ", ".join(mlqa.LANGUAGES) in message  # names the languages MLQA's script defines
    assert "en, es, de, ar, hi, vi, zh" in message


def test_every_mlqa_language_is_accepted() -> None:
    raw = _mlqa_raw()
    raw["languages"] = list(mlqa.LANGUAGES)
    assert ExtractiveQASpec(**raw).languages == list(mlqa.LANGUAGES)


def test_qa_hyperparameter_defaults() -> None:
    hp = QAHyperparameters(learning_rate=3e-5, epochs=2, batch_size=32, max_length=384)
    assert isinstance(hp, FineTuneHyperparameters)
    assert (hp.doc_stride, hp.max_query_length, hp.max_answer_length, hp.n_best) == (
        128,
        64,
        30,
        20,
    )


def test_qa_mini_gets_the_defaults_it_leaves_out(mini: ExtractiveQASpec) -> None:
    hp = mini.hyperparameters
    assert (hp.doc_stride, hp.max_query_length) == (32, 16)  # set in the file
    assert (hp.max_answer_length, hp.n_best) == (30, 20)  # defaults


@pytest.mark.parametrize("key", ["doc_stride", "max_query_length", "max_answer_length", "n_best"])
def test_qa_hyperparameters_must_be_positive(key: str) -> None:
    raw = _mlqa_raw()
    raw["hyperparameters"][key] = 0
    with pytest.raises(ValidationError, match=f"hyperparameters.{key}"):
        ExtractiveQASpec(**raw)


def test_qa_hyperparameters_can_be_overridden(mini: ExtractiveQASpec) -> None:
    hp = mini.hyperparameters_for("m", {"doc_stride": 16, "n_best": 5})
    assert isinstance(hp, QAHyperparameters)
    assert (hp.doc_stride, hp.n_best, hp.max_length) == (16, 5, 64)


def test_classification_fields_are_refused_for_qa() -> None:
    raw = _mlqa_raw()
    raw["labels"] = ["a", "b"]
    with pytest.raises(ValidationError, match="labels"):
        ExtractiveQASpec(**raw)
    raw = _mlqa_raw()
    raw["local"]["columns"] = ["sentence1", "sentence2", "label"]
    with pytest.raises(ValidationError, match=r"local\.columns"):
        ExtractiveQASpec(**raw)


# --- feature settings --------------------------------------------------------------------------


def test_feature_settings_are_the_window_only(task_type, mini) -> None:
    hp = mini.hyperparameters
    settings = task_type.feature_settings(hp)
    assert settings == {"max_length": 64, "doc_stride": 32, "max_query_length": 16}
    # decoding settings do not change the features, so they do not key the feature cache
    other = hp.model_copy(update={"max_answer_length": 5, "n_best": 3})
    assert task_type.feature_settings(other) == settings
    assert task_type.feature_settings(hp.model_copy(update={"doc_stride": 8})) != settings


# --- reading local files and hub rows ----------------------------------------------------------


def test_read_local_fixture(task_type, mini) -> None:
    parsed = task_type.read_local(mini, QA_DATA / "test-en-en.json", for_training=False)
    assert [e.id for e in parsed.examples] == ["e1", "e2-start-mismatch", "e3"]
    first = parsed.examples[0]
    assert first == QAExample(
        "e1",
        "When was the tower completed?",
        "The Eiffel Tower was completed in 1889 in Paris.",
        ("1889",),
        (34,),
    )
    # a wrong answer_start is kept for evaluation (scoring uses the text), and counted
    assert parsed.examples[1].answers == ("Paris",)
    assert parsed.skipped == {"answer_start_mismatch": 1}


def test_read_local_for_training_drops_unverifiable_answers(task_type, mini) -> None:
    parsed = task_type.read_local(mini, QA_DATA / "train.json", for_training=True)
    assert [e.id for e in parsed.examples] == ["t1", "t2", "t4", "t5", "t6"]
    assert parsed.skipped == {"answer_mismatch": 1, "no_valid_answer": 1}  # only non-zero counts
    for ex in parsed.examples:
        start = ex.answer_starts[0]
        assert ex.context[start : start + len(ex.answers[0])] == ex.answers[0]


def _hub_rows(path: Path) -> list[dict[str, Any]]:
    """A SQuAD file as rows of a hub QA dataset (one question per row)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "id": qa["id"],
            "title": article.get("title", ""),
            "context": paragraph["context"],
            "question": qa["question"],
            "answers": {
                "text": [a["text"] for a in qa["answers"]],
                "answer_start": [a["answer_start"] for a in qa["answers"]],
            },
        }
        for article in data["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


@pytest.mark.parametrize(
    ("name", "for_training"),
    [
        ("test-en-en.json", False),
        ("train.json", True),
        ("train.json", False),
        ("test-de-de.json", False),
    ],
)
def test_hub_rows_give_the_same_examples_as_local_files(
    task_type, mini, name: str, for_training: bool
) -> None:
    local = task_type.read_local(mini, QA_DATA / name, for_training=for_training)
    hub = task_type.from_hub_rows(mini, _hub_rows(QA_DATA / name), for_training=for_training)
    assert hub.examples == local.examples
    assert hub.skipped == local.skipped


def test_hub_rows_with_several_answers(task_type, mini) -> None:
    context = "Paris is the capital of France."
    rows = [
        {
            "id": "q",
            "context": context,
            "question": "Capital?",
            "answers": {"text": ["Paris", "Paris is"], "answer_start": [0, 0]},
        }
    ]
    (ex,) = task_type.from_hub_rows(mini, rows, for_training=False).examples
    assert ex.answers == ("Paris", "Paris is") and ex.answer_starts == (0, 0)


# --- scoring -----------------------------------------------------------------------------------


def _qa(qid: str, context: str, *answers: str) -> QAExample:
    return QAExample(qid, "?", context, answers, tuple(context.index(a) for a in answers))


ZH_CONTEXT = "北京大学位于北京。"


def _zh_case() -> tuple[list[QAExample], list[str]]:
    """Chinese answers: MLQA's zh rule splits every ideograph into a token, so a partial answer
    earns partial F1; under any whitespace-tokenised language the answer is one token."""
    examples = [_qa("z1", ZH_CONTEXT, "北京大学"), _qa("z2", ZH_CONTEXT, "北京")]
    return examples, ["北京", "北京"]


def test_chinese_answers_are_normalised_by_the_context_language(task_type, mini) -> None:
    spec = ExtractiveQASpec(**_mlqa_raw())
    examples, predictions = _zh_case()
    # z1: 2 of 4 characters -> P=1, R=1/2, F1=2/3; z2: exact
    zh = task_type.score(spec, examples, predictions, "zh-en")
    assert zh == {"f1": pytest.approx((2 / 3 + 1) / 2), "exact_match": pytest.approx(0.5)}
    assert task_type.score(spec, examples, predictions, "zh") == zh
    assert task_type.score(spec, examples, predictions, "zh-de") == zh
    # an English context would score z1 as a miss: the question language does not decide
    en = task_type.score(spec, examples, predictions, "en-zh")
    assert en == {"f1": pytest.approx(0.5), "exact_match": pytest.approx(0.5)}
    assert task_type.score(spec, examples, predictions, "en") == en


def test_german_articles_follow_the_context_language(task_type) -> None:
    spec = ExtractiveQASpec(**_mlqa_raw())
    examples = [_qa("g", "Er sah der Hund im Park.", "der Hund")]
    assert task_type.score(spec, examples, ["Hund"], "de-en")["exact_match"] == 1.0
    assert task_type.score(spec, examples, ["Hund"], "en-de")["exact_match"] == 0.0
    assert task_type.example_scores(spec, examples, ["Hund"], "de-en") == [1.0]
    assert task_type.example_scores(spec, examples, ["Hund"], "en-de") == [pytest.approx(2 / 3)]


def test_score_is_in_zero_one_and_takes_the_best_gold(task_type) -> None:
    spec = ExtractiveQASpec(**_mlqa_raw())
    examples = [
        _qa("a", "The cat sat on the mat near the door.", "the mat", "mat near the door"),
        _qa("b", "The cat sat on the mat near the door.", "The cat"),
        _qa("c", "The cat sat on the mat near the door.", "the door"),
    ]
    predictions = ["mat near the door", "cat sat", ""]
    scores = task_type.score(spec, examples, predictions, "en")
    # a: exact on its second gold; b: cat vs cat sat -> F1 2/3; c: empty prediction -> 0
    assert scores == {"f1": pytest.approx((1 + 2 / 3 + 0) / 3), "exact_match": pytest.approx(1 / 3)}
    assert all(0 <= v <= 1 for v in scores.values())


@pytest.mark.parametrize("metric", ["f1", "exact_match"])
@pytest.mark.parametrize("lang", ["zh-en", "en", "zh"])
def test_example_scores_mean_is_the_main_score(task_type, metric: str, lang: str) -> None:
    spec = ExtractiveQASpec(**_mlqa_raw()).model_copy(update={"metric": metric})
    examples, predictions = _zh_case()
    examples = [*examples, _qa("e", "The Eiffel Tower is in Paris.", "in Paris")]
    predictions = [*predictions, "Paris"]
    per_example = task_type.example_scores(spec, examples, predictions, lang)
    assert len(per_example) == len(examples)
    assert all(isinstance(s, float) for s in per_example)
    main = task_type.score(spec, examples, predictions, lang)[metric]
    assert sum(per_example) / len(per_example) == pytest.approx(main)


def test_example_scores_differ_by_metric(task_type) -> None:
    raw_spec = ExtractiveQASpec(**_mlqa_raw())
    examples, predictions = _zh_case()
    f1 = task_type.example_scores(raw_spec, examples, predictions, "zh-en")
    em = task_type.example_scores(
        raw_spec.model_copy(update={"metric": "exact_match"}), examples, predictions, "zh-en"
    )
    assert f1 == [pytest.approx(2 / 3), 1.0]
    assert em == [0.0, 1.0]


def test_prediction_records_are_mlqa_format(task_type) -> None:
    examples, predictions = _zh_case()
    records = task_type.prediction_records(examples, ["北京", "北京大学"])
    assert records == {"z1": "北京", "z2": "北京大学"}
    # the official script re-scores this file: the records give back the same numbers
    spec = ExtractiveQASpec(**_mlqa_raw())
    golds = {e.id: list(e.answers) for e in examples}
    official = mlqa.score_predictions(
        golds, task_type.prediction_records(examples, predictions), "zh"
    )
    assert official["f1"] / 100 == pytest.approx(
        task_type.score(spec, examples, predictions, "zh-en")["f1"]
    )


# --- prediction --------------------------------------------------------------------------------


def test_predict_returns_one_context_substring_per_example(
    task_type, mini, offline_models: Path
) -> None:
    from transformers import AutoTokenizer

    path = offline_models / "tiny-xlmr"
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = task_type.load_model(mini, str(path))
    examples = task_type.read_local(mini, QA_DATA / "train.json", for_training=False).examples
    examples += task_type.read_local(mini, QA_DATA / "test-de-de.json", for_training=False).examples
    predictions = task_type.predict(mini, model, tokenizer, examples, mini.hyperparameters)
    assert len(predictions) == len(examples) == 7
    assert all(isinstance(p, str) for p in predictions)
    assert any(predictions)  # spans, not only empty answers
    for ex, p in zip(examples, predictions, strict=True):
        assert p in ex.context
        assert p == p.strip()
    # small windows (several per context) and a tight budget: still one answer per example
    hp = mini.hyperparameters.model_copy(
        update={"max_length": 24, "doc_stride": 4, "max_query_length": 8, "eval_max_tokens": 24}
    )
    small = task_type.predict(mini, model, tokenizer, examples, hp)
    assert len(small) == len(examples)
    assert all(p in ex.context for ex, p in zip(examples, small, strict=True))
    assert (
        task_type.predict(mini, model, tokenizer, examples[::-1], mini.hyperparameters)
        == predictions[::-1]
    )


def test_train_features_have_start_and_end_positions(task_type, mini, offline_models) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(offline_models / "tiny-xlmr")
    examples = task_type.read_local(mini, QA_DATA / "train.json", for_training=True).examples
    features, _ = task_type.train_features(mini, tokenizer, examples, mini.hyperparameters)
    assert features
    for f in features:
        assert set(f) == {"input_ids", "start_positions", "end_positions"}
        assert len(f["input_ids"]) <= mini.hyperparameters.max_length
        assert 0 <= f["start_positions"] <= f["end_positions"] < len(f["input_ids"])
    assert any(f["start_positions"] > 0 for f in features)
    batch = task_type.data_collator(tokenizer, None)([dict(f) for f in features])
    assert batch["input_ids"].shape[0] == len(features)
    assert batch["start_positions"].tolist() == [f["start_positions"] for f in features]
