"""Sentence-pair classification as a task type: its task-file model (labels, TSV layout, label
aliases, fine-tuning hyperparameters only), reading the XTREME TSVs and hub rows into the same
examples, features, prediction on a tiny XLM-R, scoring and stored prediction records."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from pydantic import ValidationError

from xbench.catalog import builtin_tasks_dir
from xbench.errors import DataError, TaskError
from xbench.taskspec import FineTuneHyperparameters
from xbench.tasktypes import get_task_type
from xbench.tasktypes.classification import (
    PairClassification,
    PairClassificationSpec,
    PairExample,
)

XNLI_DATA = Path(__file__).resolve().parents[1] / "fixtures" / "core" / "data" / "xnli"
XNLI_LABELS = ["entailment", "neutral", "contradiction"]


def _raw() -> dict[str, Any]:
    return yaml.safe_load((builtin_tasks_dir() / "xnli.yaml").read_text(encoding="utf-8"))


def _spec(mutate: Any = None) -> PairClassificationSpec:
    raw = _raw()
    if mutate is not None:
        mutate(raw)
    return PairClassificationSpec(**raw)


@pytest.fixture(scope="module")
def xnli() -> PairClassificationSpec:
    return _spec()


@pytest.fixture(scope="module")
def task_type() -> PairClassification:
    tt = get_task_type("sentence-pair-classification")
    assert isinstance(tt, PairClassification)
    return tt


@pytest.fixture(scope="module")
def tokenizer(offline_models: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(offline_models / "tiny-xlmr")


def _errors(err: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(err.value)


# --- the spec model ----------------------------------------------------------------------------


def test_shipped_xnli_validates_as_pair_classification(xnli: PairClassificationSpec) -> None:
    assert xnli.labels == XNLI_LABELS
    assert xnli.local.columns == ["sentence1", "sentence2", "label"]
    assert isinstance(xnli.hyperparameters, FineTuneHyperparameters)
    assert xnli.fine_tunes


@pytest.mark.parametrize("labels", [[], ["only"]])
def test_labels_need_at_least_two(labels: list[str]) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["labels"] = labels
        raw["local"]["label_map"] = {}
        raw["hub"].pop("labels")

    with pytest.raises(ValidationError) as err:
        _spec(mutate)
    assert "labels" in _errors(err)


def test_labels_are_required() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw.pop("labels")

    with pytest.raises(ValidationError) as err:
        _spec(mutate)
    assert "labels" in _errors(err) and "Field required" in _errors(err)


@pytest.mark.parametrize("missing", ["sentence1", "sentence2", "label"])
def test_columns_must_name_every_field(missing: str) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["local"]["columns"] = ["other" if c == missing else c for c in raw["local"]["columns"]]

    with pytest.raises(ValidationError) as err:
        _spec(mutate)
    assert "local.columns" in _errors(err) and repr(missing) in _errors(err)


def test_columns_are_required() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["local"].pop("columns")

    with pytest.raises(ValidationError) as err:
        _spec(mutate)
    assert "columns" in _errors(err)


def test_extra_columns_in_any_order_are_accepted() -> None:
    spec = _spec(
        lambda raw: raw["local"].__setitem__("columns", ["label", "x", "sentence2", "sentence1"])
    )
    assert spec.local.columns == ["label", "x", "sentence2", "sentence1"]


def test_label_map_to_unknown_label_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        _spec(lambda raw: raw["local"].__setitem__("label_map", {"contradictory": "contra"}))
    assert "'contradictory' maps to unknown label 'contra'" in _errors(err)


def test_hub_labels_must_list_the_same_names() -> None:
    with pytest.raises(ValidationError) as err:
        _spec(lambda raw: raw["hub"].__setitem__("labels", ["entailment", "neutral"]))
    assert "hub.labels" in _errors(err)
    # the same names in another order are a valid (re)mapping of the hub's integers
    spec = _spec(
        lambda raw: raw["hub"].__setitem__("labels", ["contradiction", "entailment", "neutral"])
    )
    assert spec.hub is not None and spec.hub.labels == ["contradiction", "entailment", "neutral"]


@pytest.mark.parametrize("key", ["doc_stride", "max_query_length", "max_answer_length", "n_best"])
def test_qa_hyperparameters_are_refused_for_classification(key: str, xnli) -> None:
    with pytest.raises(ValidationError) as err:
        _spec(lambda raw: raw["hyperparameters"].__setitem__(key, 64))
    assert f"hyperparameters.{key}" in _errors(err)
    assert "Extra inputs are not permitted" in _errors(err)
    # nor as a command-line override or a model override
    with pytest.raises(TaskError, match=f"unknown hyperparameter '{key}'"):
        xnli.hyperparameters_for("m", {key: 64})
    with pytest.raises(ValidationError, match=f"unknown hyperparameter '{key}'"):
        _spec(lambda raw: raw.__setitem__("model_overrides", {"large": {key: 64}}))


@pytest.mark.parametrize("where", ["top", "local", "hub"])
def test_unknown_keys_are_forbidden(where: str) -> None:
    def mutate(raw: dict[str, Any]) -> None:
        target = raw if where == "top" else raw[where]
        target["colour"] = "blue"

    with pytest.raises(ValidationError) as err:
        _spec(mutate)
    assert "colour" in _errors(err)


# --- reading local files -----------------------------------------------------------------------


def test_read_local_fixture_ids_and_labels(task_type, xnli) -> None:
    parsed = task_type.read_local(xnli, XNLI_DATA / "test-en.tsv", for_training=False)
    rows = list(csv.reader((XNLI_DATA / "test-en.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert len(parsed.examples) == len(rows) == 12
    assert parsed.skipped == {}
    assert [e.id for e in parsed.examples] == [f"test-en-{i}" for i in range(1, 13)]
    for ex, row in zip(parsed.examples, rows, strict=True):
        assert isinstance(ex, PairExample)
        assert (ex.sentence1, ex.sentence2) == (row[0], row[1])
        assert ex.label == XNLI_LABELS.index(row[2])


def test_read_local_applies_label_map(task_type, xnli) -> None:
    """XTREME's MultiNLI train file spells 'contradictory'; label_map makes it 'contradiction'."""
    parsed = task_type.read_local(xnli, XNLI_DATA / "train-en.tsv", for_training=True)
    raw = [
        r[2]
        for r in csv.reader((XNLI_DATA / "train-en.tsv").open(encoding="utf-8"), delimiter="\t")
    ]
    assert "contradictory" in raw and "contradiction" not in raw
    assert len(parsed.examples) == 48
    assert [e.label for e in parsed.examples] == [
        XNLI_LABELS.index("contradiction" if r == "contradictory" else r) for r in raw
    ]
    assert parsed.examples[2].label == 2  # line 3 is 'contradictory'


def test_read_local_without_the_alias_names_file_and_line(task_type, xnli) -> None:
    spec = xnli.model_copy(update={"local": xnli.local.model_copy(update={"label_map": {}})})
    with pytest.raises(DataError) as err:
        task_type.read_local(spec, XNLI_DATA / "train-en.tsv", for_training=True)
    assert (
        f"{XNLI_DATA / 'train-en.tsv'}, line 3: unknown label 'contradictory'" in err.value.message
    )
    assert err.value.hint is not None and "entailment" in err.value.hint


def test_unknown_label_names_file_and_line(task_type, xnli, tmp_path: Path) -> None:
    path = tmp_path / "test-xx.tsv"
    path.write_text("a\tb\tentailment\nc\td\tneutral\ne\tf\tmaybe\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        task_type.read_local(xnli, path, for_training=False)
    assert err.value.message == f"{path}, line 3: unknown label 'maybe'"
    assert "contradictory" in (err.value.hint or "")  # the aliases are shown


def test_columns_order_is_followed(task_type, tmp_path: Path) -> None:
    spec = _spec(
        lambda raw: raw["local"].__setitem__("columns", ["label", "sentence2", "x", "sentence1"])
    )
    path = tmp_path / "dev-en.tsv"
    path.write_text("neutral\thypothesis\tjunk\tpremise\n", encoding="utf-8")
    (ex,) = task_type.read_local(spec, path, for_training=False).examples
    assert ex == PairExample("dev-en-1", "premise", "hypothesis", 1)


def test_wrong_column_count_and_empty_file(task_type, xnli, tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("a\tb\tentailment\nonly two\tcolumns\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv, line 2: expected 3 tab-separated columns"):
        task_type.read_local(xnli, path, for_training=False)
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="is empty"):
        task_type.read_local(xnli, empty, for_training=False)


# --- hub rows ----------------------------------------------------------------------------------


def _hub_rows(path: Path) -> list[dict[str, Any]]:
    """The fixture TSV as facebook/xnli rows (premise, hypothesis, integer label)."""
    rows = []
    for line_no, (s1, s2, label) in enumerate(
        csv.reader(path.open(encoding="utf-8"), delimiter="\t"), start=1
    ):
        name = "contradiction" if label == "contradictory" else label
        rows.append(
            {
                "id": f"{path.stem}-{line_no}",
                "premise": s1,
                "hypothesis": s2,
                "label": XNLI_LABELS.index(name),
            }
        )
    return rows


@pytest.mark.parametrize("name", ["test-en.tsv", "test-de.tsv", "train-en.tsv"])
def test_hub_rows_give_the_same_examples_as_local_files(task_type, xnli, name: str) -> None:
    local = task_type.read_local(xnli, XNLI_DATA / name, for_training=False)
    hub = task_type.from_hub_rows(xnli, _hub_rows(XNLI_DATA / name), for_training=False)
    assert hub.examples == local.examples
    assert hub.skipped == {}


def test_hub_rows_without_id_are_numbered(task_type, xnli) -> None:
    rows = [{k: v for k, v in r.items() if k != "id"} for r in _hub_rows(XNLI_DATA / "test-en.tsv")]
    parsed = task_type.from_hub_rows(xnli, rows, for_training=False)
    assert [e.id for e in parsed.examples] == [str(i) for i in range(12)]


def test_hub_rows_skip_unlabelled(task_type, xnli) -> None:
    rows = _hub_rows(XNLI_DATA / "test-en.tsv")
    rows.insert(1, {"id": "u1", "premise": "p", "hypothesis": "h", "label": -1})
    rows.append({"id": "u2", "premise": "p", "hypothesis": "h", "label": 3})
    parsed = task_type.from_hub_rows(xnli, rows, for_training=True)
    assert len(parsed.examples) == 12
    assert "u1" not in {e.id for e in parsed.examples}
    assert "u2" not in {e.id for e in parsed.examples}
    assert parsed.skipped == {"unlabelled": 2}


def test_hub_labels_map_hub_integers_to_task_labels(task_type) -> None:
    spec = _spec(
        lambda raw: raw["hub"].__setitem__("labels", ["contradiction", "entailment", "neutral"])
    )
    rows = [
        {"premise": "p", "hypothesis": "h", "label": 0},
        {"premise": "p", "hypothesis": "h", "label": 1},
        {"premise": "p", "hypothesis": "h", "label": 2},
    ]
    labels = [e.label for e in task_type.from_hub_rows(spec, rows, for_training=False).examples]
    assert labels == [XNLI_LABELS.index(n) for n in ("contradiction", "entailment", "neutral")]


# --- features ----------------------------------------------------------------------------------


def test_train_features_have_input_ids_and_labels(task_type, xnli, tokenizer) -> None:
    examples = task_type.read_local(xnli, XNLI_DATA / "train-en.tsv", for_training=True).examples
    features, adjusted = task_type.train_features(xnli, tokenizer, examples, xnli.hyperparameters)
    assert adjusted == {}
    assert len(features) == len(examples)
    for feat, ex in zip(features, examples, strict=True):
        assert set(feat) == {"input_ids", "labels"}
        assert feat["labels"] == ex.label
        assert feat["input_ids"] == tokenizer(ex.sentence1, ex.sentence2)["input_ids"]
        assert feat["input_ids"][0] == tokenizer.cls_token_id
        assert feat["input_ids"][-1] == tokenizer.sep_token_id


def test_train_features_count_truncation(task_type, xnli, tokenizer) -> None:
    examples = task_type.read_local(xnli, XNLI_DATA / "train-en.tsv", for_training=True).examples
    full = [len(tokenizer(e.sentence1, e.sentence2)["input_ids"]) for e in examples]
    cut = sorted(full)[len(full) // 2]  # about half the pairs are longer than this
    hp = xnli.hyperparameters.model_copy(update={"max_length": cut})
    features, adjusted = task_type.train_features(xnli, tokenizer, examples, hp)
    assert all(len(f["input_ids"]) <= cut for f in features)
    longer = sum(n > cut for n in full)
    assert 0 < longer < len(examples)
    assert adjusted["truncated"] >= longer


def test_train_features_do_not_count_a_pair_that_fits_exactly(task_type, xnli, tokenizer) -> None:
    examples = task_type.read_local(xnli, XNLI_DATA / "train-en.tsv", for_training=True).examples
    full = [len(tokenizer(e.sentence1, e.sentence2)["input_ids"]) for e in examples]
    hp = xnli.hyperparameters.model_copy(update={"max_length": max(full)})
    features, adjusted = task_type.train_features(xnli, tokenizer, examples, hp)
    assert [len(f["input_ids"]) for f in features] == full  # nothing was cut
    assert adjusted.get("truncated", 0) == 0


def test_feature_settings_and_fine_tunes(task_type, xnli) -> None:
    hp = xnli.hyperparameters_for("m", {"max_length": 77, "learning_rate": 1e-3})
    assert task_type.feature_settings(hp) == {"max_length": 77}
    assert task_type.fine_tunes is True
    assert task_type.metrics == ("accuracy",)


def test_data_collator_pads_a_batch_with_labels(task_type, xnli, tokenizer) -> None:
    examples = task_type.read_local(xnli, XNLI_DATA / "test-en.tsv", for_training=False).examples
    features, _ = task_type.train_features(xnli, tokenizer, examples[:5], xnli.hyperparameters)
    lengths = [len(f["input_ids"]) for f in features]
    assert len(set(lengths)) > 1  # the batch needs padding

    batch = task_type.data_collator(tokenizer, None)(copy.deepcopy(features))
    assert batch["input_ids"].shape == (5, max(lengths))
    assert batch["labels"].tolist() == [e.label for e in examples[:5]]
    assert batch["attention_mask"].sum(1).tolist() == lengths
    for row, n in enumerate(lengths):
        assert batch["input_ids"][row, :n].tolist() == features[row]["input_ids"]
        assert set(batch["input_ids"][row, n:].tolist()) <= {tokenizer.pad_token_id}

    padded = task_type.data_collator(tokenizer, 8)(copy.deepcopy(features))
    assert padded["input_ids"].shape[1] % 8 == 0
    assert padded["input_ids"].shape[1] >= max(lengths)


# --- prediction --------------------------------------------------------------------------------


def _all_examples(task_type, xnli) -> list[PairExample]:
    out: list[PairExample] = []
    for name in ("test-en", "test-de", "test-fr", "dev-en"):
        out += task_type.read_local(xnli, XNLI_DATA / f"{name}.tsv", for_training=False).examples
    return out


@pytest.fixture(scope="module")
def discriminating_model(offline_models: Path, task_type, xnli, tokenizer) -> Any:
    """tiny-xlmr with a classification head set so that predictions split about evenly between
    classes 0 and 1 over the fixture pairs (a random head predicts one class for all of them,
    which could not tell one order of predictions from another)."""
    model = task_type.load_model(xnli, str(offline_models / "tiny-xlmr"))
    model.eval()
    examples = _all_examples(task_type, xnli)
    ids = tokenizer([e.sentence1 for e in examples], [e.sentence2 for e in examples])["input_ids"]
    with torch.no_grad():
        cls = torch.stack(
            [model.roberta(input_ids=torch.tensor([x])).last_hidden_state[0, 0] for x in ids]
        )
        feats = torch.tanh(cls)
        direction = torch.linalg.svd(feats - feats.mean(0), full_matrices=False).Vh[0]
        proj = (feats @ direction).sort().values
        mid = len(proj) // 2
        threshold = float(proj[mid - 1] + proj[mid]) / 2
        hidden = model.config.hidden_size
        model.classifier.dense.weight.copy_(torch.eye(hidden))
        model.classifier.dense.bias.zero_()
        weight = torch.zeros(3, hidden)
        weight[0], weight[1] = direction * 1000, -direction * 1000
        model.classifier.out_proj.weight.copy_(weight)
        model.classifier.out_proj.bias.copy_(torch.tensor([-threshold * 1000, threshold * 1000, 0]))
    return model


def test_load_model_has_one_output_per_label(discriminating_model, xnli) -> None:
    assert discriminating_model.config.num_labels == 3
    assert discriminating_model.config.id2label == dict(enumerate(XNLI_LABELS))


def test_predict_one_int_per_example_in_order(
    task_type, xnli, tokenizer, discriminating_model
) -> None:
    examples = _all_examples(task_type, xnli)
    predictions = task_type.predict(
        xnli, discriminating_model, tokenizer, examples, xnli.hyperparameters
    )
    assert len(predictions) == len(examples)
    assert all(type(p) is int for p in predictions)
    assert 0 < predictions.count(0) < len(examples)  # the model tells the pairs apart
    # each prediction is that example's own (a forward pass of it alone, unpadded)
    with torch.no_grad():
        alone = [
            int(
                discriminating_model(**tokenizer(e.sentence1, e.sentence2, return_tensors="pt"))
                .logits.argmax(-1)
                .item()
            )
            for e in examples
        ]
    assert predictions == alone
    # and a reordered input gives the reordered predictions
    reordered = examples[::-1]
    assert (
        task_type.predict(xnli, discriminating_model, tokenizer, reordered, xnli.hyperparameters)
        == predictions[::-1]
    )


def test_predictions_do_not_depend_on_the_token_budget(
    task_type, xnli, tokenizer, discriminating_model
) -> None:
    examples = _all_examples(task_type, xnli)
    results = {}
    for budget in (16, 100, 16384):  # 16: one unpadded pair per batch; 16384: a few large ones
        hp = xnli.hyperparameters.model_copy(update={"eval_max_tokens": budget})
        results[budget] = task_type.predict(xnli, discriminating_model, tokenizer, examples, hp)
    assert results[16] == results[100] == results[16384]


# --- scoring and records -----------------------------------------------------------------------


def _worked() -> tuple[list[PairExample], list[int]]:
    examples = [
        PairExample("a", "s", "t", 0),
        PairExample("b", "s", "t", 1),
        PairExample("c", "s", "t", 2),
        PairExample("d", "s", "t", 0),
        PairExample("e", "s", "t", 1),
    ]
    return examples, [0, 2, 2, 1, 1]


def test_score_and_example_scores(task_type, xnli) -> None:
    examples, predictions = _worked()
    per_example = task_type.example_scores(xnli, examples, predictions, "de")
    assert per_example == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert task_type.score(xnli, examples, predictions, "de") == {"accuracy": pytest.approx(0.6)}
    assert task_type.score(xnli, examples, [e.label for e in examples], "en") == {"accuracy": 1.0}
    assert task_type.score(xnli, examples, [(e.label + 1) % 3 for e in examples], "en") == {
        "accuracy": 0.0
    }


def test_score_needs_one_prediction_per_example(task_type, xnli) -> None:
    examples, predictions = _worked()
    with pytest.raises(ValueError):
        task_type.score(xnli, examples, predictions[:-1], "en")


def test_prediction_records_are_prediction_and_gold_by_id(task_type) -> None:
    examples, predictions = _worked()
    records = task_type.prediction_records(examples, predictions)
    assert records == {"a": [0, 0], "b": [2, 1], "c": [2, 2], "d": [1, 0], "e": [1, 1]}
    assert list(records) == ["a", "b", "c", "d", "e"]
