"""Every encoder family gets the inputs its tokenizer makes and its forward takes, on every path.

BERT's segment ids (token_type_ids: 0 for the first sentence / the question, 1 for the second /
the context) reach the model in training, in dev checks and in prediction; DistilBERT (whose
forward has no such input) and XLM-R / mDeBERTa (whose tokenizers make none) get input_ids and
the attention mask only, exactly as before. A model whose position table is shorter than the
task's max_length fails in the preflight, before any training.

Tiny random checkpoints come from tests/models.py; XLM-R is the offline tiny-xlmr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import torch
from models import (
    QA_DATA,
    QA_TASKS,
    XNLI_DATA,
    build_bert,
    build_deberta_v2,
    build_distilbert,
    segment_sensitive_bert,
)
from transformers import AutoTokenizer

import xbench.training as training_mod
from xbench.batching import run_batches
from xbench.catalog import TaskRegistry
from xbench.errors import ModelError
from xbench.featcache import CachedTokenizer, FeatureCache, cached_train_features
from xbench.modelcheck import check_position_limit, position_limit
from xbench.plan import RunRequest, make_plan
from xbench.qa import decode_answers, prepare_eval_features, prepare_train_features
from xbench.results import read_result
from xbench.runner import run
from xbench.squad import QAExample, read_squad_file
from xbench.tasktypes import get_task_type
from xbench.tasktypes.classification import PairClassification
from xbench.tasktypes.extractive_qa import ExtractiveQA

ARCHS = ("bert", "distilbert", "deberta-v2", "xlm-r")
TASKS = ("xnli", "qa-mini")
ONLY_IDS = {"input_ids", "attention_mask"}
TARGETS = {"labels", "start_positions", "end_positions", "num_items_in_batch"}  # Trainer's
LONG_CONTEXT = " ".join(
    f"The river number {i} flows through Vienna and Budapest in 1889 ." for i in range(30)
)


@pytest.fixture(scope="module")
def tasks() -> dict[str, Any]:
    registry = TaskRegistry([QA_TASKS])
    return {"xnli": registry.get("xnli"), "qa-mini": registry.get("qa-mini")}


@pytest.fixture(scope="module")
def encoders(offline_models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("encoders")
    tiny_xlmr = offline_models / "tiny-xlmr"
    return {
        "bert": build_bert(root / "bert"),
        "distilbert": build_distilbert(root / "distilbert"),
        "deberta-v2": build_deberta_v2(root / "deberta-v2", tiny_xlmr),
        "xlm-r": tiny_xlmr,
    }


def _request(task: Any, model: Path, root: Path, **changes: Any) -> RunRequest:
    qa = task.type == "extractive-qa"
    req = RunRequest(
        model=str(model),
        task=task,
        seed=1,
        results_dir=root / "results",
        cache_dir=root / "cache",
        data_dir=QA_DATA if qa else XNLI_DATA,
        languages=["en", "de"],
        # best-dev for QA too, so that the dev checks' inputs are seen
        overrides={"epochs": 1, "batch_size": 8, "selection": "best-dev"},
        train_limit=None if qa else 32,
        eval_limit=None if qa else 8,
    )
    return replace(req, **changes)


# --- a spy on every forward call ---------------------------------------------------------------


@dataclass
class Call:
    phase: str  # train, dev or predict
    names: set[str]  # the inputs passed
    tensors: dict[str, torch.Tensor]


@dataclass
class Spy:
    in_fine_tune: bool = False
    calls: list[Call] = field(default_factory=list)

    def hook(self, module: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        assert not args, "inputs are passed by name"
        phase = ("train" if module.training else "dev") if self.in_fine_tune else "predict"
        given = {k for k, v in kwargs.items() if v is not None}
        tensors = {
            k: kwargs[k].detach().cpu().clone() for k in given & {*ONLY_IDS, "token_type_ids"}
        }
        self.calls.append(Call(phase, given, tensors))

    def phase(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.phase == name]


def _spied_run(req: RunRequest) -> tuple[Path, Spy]:
    """run(req) with every model the task type loads spied on; fine_tune marks train/dev."""
    spy = Spy()
    real_fine_tune = training_mod.fine_tune
    task_type = type(get_task_type(req.task.type))
    real_load = task_type.load_model

    def load_model(self: Any, *args: Any, **kwargs: Any) -> Any:
        model = real_load(self, *args, **kwargs)
        model.register_forward_pre_hook(spy.hook, with_kwargs=True)
        return model

    def fine_tune(*args: Any, **kwargs: Any) -> Any:
        spy.in_fine_tune = True
        try:
            return real_fine_tune(*args, **kwargs)
        finally:
            spy.in_fine_tune = False

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(task_type, "load_model", load_model)
        patch.setattr(training_mod, "fine_tune", fine_tune)
        out = run(req, log=lambda _: None)
    return out, spy


@pytest.fixture(scope="module")
def runs(
    tasks: dict[str, Any], encoders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], tuple[Path, Spy]]:
    """One spied end-to-end run per (architecture, task)."""
    done = {}
    for arch in ARCHS:
        for name in TASKS:
            root = tmp_path_factory.mktemp(f"{arch}-{name}")
            done[arch, name] = _spied_run(_request(tasks[name], encoders[arch], root))
    return done


def _expected_segments(ids: torch.Tensor, mask: torch.Tensor, sep_id: int) -> list[int]:
    """BERT's segment ids of one padded row: [CLS] a [SEP] -> 0, b [SEP] -> 1, padding 0."""
    n = int(mask.sum())
    seps = (ids[:n] == sep_id).nonzero().flatten().tolist()
    assert len(seps) == 2, ids[:n].tolist()
    types = [0] * len(ids)
    types[seps[0] + 1 : seps[1] + 1] = [1] * (seps[1] - seps[0])
    return types


# --- end to end: every architecture finishes ------------------------------------------------------


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_runs_end_to_end(runs, tasks, arch: str, name: str) -> None:
    out, spy = runs[arch, name]
    result = read_result(out)
    assert result.task == name
    assert sorted(result.languages) == ["de", "en"]
    for lang in result.languages.values():
        for value in lang.scores.values():
            assert 0.0 <= value <= 1.0
        records = json.loads((out.parent / lang.predictions_file).read_text())
        assert len(records) == lang.examples > 0
    assert result.training is not None and result.training["steps"] >= 1
    assert {c.phase for c in spy.calls} == {"train", "dev", "predict"}


@pytest.mark.parametrize("name", TASKS)
def test_bert_gets_segment_ids_in_training_dev_checks_and_prediction(
    runs, encoders, name: str
) -> None:
    _, spy = runs["bert", name]
    sep = AutoTokenizer.from_pretrained(encoders["bert"]).sep_token_id
    for phase in ("train", "dev", "predict"):
        calls = spy.phase(phase)
        assert calls, phase
        for call in calls:
            assert "token_type_ids" in call.names, phase
            ids, mask = call.tensors["input_ids"], call.tensors["attention_mask"]
            types = call.tensors["token_type_ids"]
            assert types.shape == ids.shape
            assert (types == 1).any(dim=1).all(), f"{phase}: a row without a second segment"
            for row in range(ids.shape[0]):
                assert types[row].tolist() == _expected_segments(ids[row], mask[row], sep), phase


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("arch", ["distilbert", "deberta-v2", "xlm-r"])
def test_models_without_segment_ids_get_ids_and_mask_only(runs, arch: str, name: str) -> None:
    """DistilBERT has no segment input; XLM-R's and mDeBERTa's tokenizers make none: they get
    exactly what they got before (plus the training targets)."""
    _, spy = runs[arch, name]
    for call in spy.calls:
        assert "token_type_ids" not in call.names, call.phase
        if call.phase == "train":
            assert ONLY_IDS <= call.names <= ONLY_IDS | TARGETS
        else:
            assert call.names == ONLY_IDS, call.phase


def test_distilbert_with_a_bert_tokenizer_gets_no_segment_ids(encoders) -> None:
    """Features with token_type_ids (a BERT tokenizer's) are filtered by the forward's inputs."""
    from transformers import AutoModelForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(encoders["bert"])
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(encoders["distilbert"], num_labels=3)
    spy = Spy()
    model.register_forward_pre_hook(spy.hook, with_kwargs=True)
    examples = (
        PairClassification()
        .read_local(
            TaskRegistry().get("xnli"), XNLI_DATA / "xnli" / "test-en.tsv", for_training=False
        )
        .examples
    )
    features = PairClassification()._encode(tokenizer, examples, 128)
    assert all("token_type_ids" in f for f in features)
    logits = run_batches(model, features, tokenizer.pad_token_id, 64, lambda o: o.logits)
    assert spy.calls and all(c.names == ONLY_IDS for c in spy.calls)
    bare = [{"input_ids": f["input_ids"]} for f in features]
    assert torch.equal(
        torch.stack(logits),
        torch.stack(run_batches(model, bare, tokenizer.pad_token_id, 64, lambda o: o.logits)),
    )


# --- predictions depend on the segment ids -----------------------------------------------------


def test_bert_predictions_use_the_real_segment_ids(encoders, tmp_path: Path) -> None:
    """A BERT that answers label 0 with the second segment typed 1 and label 1 without: xbench's
    predict (through the feature cache too) gives the former, and they differ."""
    xnli = TaskRegistry().get("xnli")
    task_type = PairClassification()
    tokenizer = AutoTokenizer.from_pretrained(encoders["bert"])
    model = segment_sensitive_bert(tokenizer)
    examples = task_type.read_local(xnli, XNLI_DATA / "xnli" / "test-en.tsv", for_training=False)
    examples = examples.examples
    hp = xnli.hyperparameters_for(str(encoders["bert"]), {})

    def one_by_one(with_segments: bool) -> list[int]:
        preds = []
        for e in examples:
            enc = tokenizer(e.sentence1, e.sentence2, truncation=True, max_length=hp.max_length)
            inputs = {"input_ids": torch.tensor([enc["input_ids"]])}
            if with_segments:
                inputs["token_type_ids"] = torch.tensor([enc["token_type_ids"]])
            with torch.no_grad():
                preds.append(int(model(**inputs).logits.argmax(-1)))
        return preds

    real, zeros = one_by_one(True), one_by_one(False)
    assert real == [0] * len(examples) and zeros == [1] * len(examples)
    assert task_type.predict(xnli, model, tokenizer, examples, hp) == real
    cache = FeatureCache(tmp_path / "features")
    for _ in range(2):  # a miss, then a hit: both keep the segment ids
        cached = CachedTokenizer(tokenizer, cache, xnli, hp)
        assert task_type.predict(xnli, model, cached, examples, hp) == real
    assert cache.hits == 1


def test_bert_qa_logits_use_the_real_segment_ids(encoders, tasks) -> None:
    """QA windows carry the segment ids: xbench's logits equal a one-by-one forward with them,
    not one without (the tiny BERT's type embeddings are random, so they differ)."""
    from transformers import AutoModelForQuestionAnswering

    spec = tasks["qa-mini"]
    tokenizer = AutoTokenizer.from_pretrained(encoders["bert"])
    torch.manual_seed(0)
    model = AutoModelForQuestionAnswering.from_pretrained(encoders["bert"]).eval()
    examples, _ = read_squad_file(QA_DATA / "qa" / "test-en-en.json", for_training=False)
    feats = prepare_eval_features(tokenizer, examples, max_length=32, doc_stride=8)
    rows = [
        {"input_ids": i, "token_type_ids": t}
        for i, t in zip(feats["input_ids"], feats["token_type_ids"], strict=True)
    ]
    batched = run_batches(
        model, rows, tokenizer.pad_token_id, 1000, lambda o: o.start_logits.tolist()
    )
    for row, got in zip(rows, batched, strict=True):
        n = len(row["input_ids"])
        with torch.no_grad():
            ids = torch.tensor([row["input_ids"]])
            want = model(input_ids=ids, token_type_ids=torch.tensor([row["token_type_ids"]]))
            without = model(input_ids=ids)
        assert got[:n] == pytest.approx(want.start_logits[0].tolist(), abs=1e-5)
        assert got[:n] != pytest.approx(without.start_logits[0].tolist(), abs=1e-3)
    assert len(ExtractiveQA().predict(spec, model, tokenizer, examples, spec.hyperparameters)) == 3


# --- QA segment ids are the tokenizer's --------------------------------------------------------


def _qa_examples() -> list[QAExample]:
    examples, _ = read_squad_file(QA_DATA / "qa" / "train.json", for_training=True)
    start = LONG_CONTEXT.index("Vienna and Budapest in 1889", 900)
    long = QAExample(
        "long", "Which river flows through Vienna?", LONG_CONTEXT, ("Vienna",), (start,)
    )
    return [*examples, long]


def test_qa_windows_equal_the_tokenizers_pair_encoding_segment_ids_included(encoders) -> None:
    """Hand-built windows == the tokenizer's own (question, context) encoding with overflow:
    the same input_ids and the same token_type_ids."""
    tokenizer = AutoTokenizer.from_pretrained(encoders["bert"])
    examples = _qa_examples()
    max_length, doc_stride = 48, 16
    ours = prepare_eval_features(tokenizer, examples, max_length=max_length, doc_stride=doc_stride)
    train = prepare_train_features(
        tokenizer, examples, max_length=max_length, doc_stride=doc_stride
    )
    theirs: dict[str, list] = {"input_ids": [], "token_type_ids": []}
    for ex in examples:
        question = tokenizer(ex.question, add_special_tokens=False)["input_ids"]
        window = max_length - tokenizer.num_special_tokens_to_add(pair=True) - len(question)
        enc = tokenizer(
            ex.question,
            ex.context,
            truncation="only_second",
            max_length=max_length,
            stride=window - doc_stride,
            return_overflowing_tokens=True,
        )
        theirs["input_ids"].extend(enc["input_ids"])
        theirs["token_type_ids"].extend(enc["token_type_ids"])
    assert len(ours["input_ids"]) > len(examples)  # the long context has several windows
    assert ours["input_ids"] == theirs["input_ids"]
    assert ours["token_type_ids"] == theirs["token_type_ids"]
    assert train["token_type_ids"] == theirs["token_type_ids"]
    assert all(1 in t for t in ours["token_type_ids"])


@pytest.mark.parametrize("arch", ["distilbert", "xlm-r"])
def test_qa_features_without_segment_ids_are_unchanged(encoders, arch: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(encoders[arch])
    examples = _qa_examples()
    train = prepare_train_features(tokenizer, examples, max_length=48, doc_stride=16)
    evals = prepare_eval_features(tokenizer, examples, max_length=48, doc_stride=16)
    assert list(train) == ["input_ids", "attention_mask", "start_positions", "end_positions"]
    assert list(evals) == ["input_ids", "attention_mask", "example_index", "offset_mapping"]


# --- XLM-R is unchanged --------------------------------------------------------------------------


def test_xlmr_predictions_equal_an_unpadded_forward_of_input_ids_only(encoders, tasks) -> None:
    """XLM-R's features are input_ids only, and xbench's batched predictions (classification
    and QA) equal a one-by-one, unpadded forward pass of input_ids alone."""
    from transformers import AutoModelForQuestionAnswering

    xnli, task_type = tasks["xnli"], PairClassification()
    tokenizer = AutoTokenizer.from_pretrained(encoders["xlm-r"])
    torch.manual_seed(0)
    model = task_type.load_model(xnli, str(encoders["xlm-r"])).eval()
    examples = task_type.read_local(xnli, XNLI_DATA / "xnli" / "test-en.tsv", for_training=False)
    examples = examples.examples
    hp = xnli.hyperparameters_for(str(encoders["xlm-r"]), {})
    features = task_type._encode(tokenizer, examples, hp.max_length)
    assert all(list(f) == ["input_ids"] for f in features)
    train, _ = task_type.train_features(xnli, tokenizer, examples, hp)
    assert all(list(f) == ["input_ids", "labels"] for f in train)
    logits = run_batches(model, features, tokenizer.pad_token_id, 64, lambda o: o.logits)
    want = []
    for f in features:
        with torch.no_grad():
            want.append(model(input_ids=torch.tensor([f["input_ids"]])).logits[0])
    assert torch.allclose(torch.stack(logits), torch.stack(want), atol=1e-5)
    preds = task_type.predict(xnli, model, tokenizer, examples, hp)
    assert preds == [int(w.argmax()) for w in want]

    qa, qa_type = tasks["qa-mini"], ExtractiveQA()
    qa_hp = qa.hyperparameters
    torch.manual_seed(0)
    qa_model = AutoModelForQuestionAnswering.from_pretrained(encoders["xlm-r"]).eval()
    qa_examples = _qa_examples()
    feats = prepare_eval_features(
        tokenizer,
        qa_examples,
        max_length=qa_hp.max_length,
        doc_stride=qa_hp.doc_stride,
        max_query_length=qa_hp.max_query_length,
    )
    assert "token_type_ids" not in feats
    starts, ends = [], []
    for ids in feats["input_ids"]:
        with torch.no_grad():
            out = qa_model(input_ids=torch.tensor([ids]))
        starts.append(out.start_logits[0].numpy())
        ends.append(out.end_logits[0].numpy())
    answers = decode_answers(
        qa_examples,
        feats,
        starts,
        ends,
        n_best=qa_hp.n_best,
        max_answer_length=qa_hp.max_answer_length,
    )
    assert len(feats["input_ids"]) > len(qa_examples)  # the long context has several windows
    got = qa_type.predict(qa, qa_model, tokenizer, qa_examples, qa_hp)
    assert got == [answers[ex.id] for ex in qa_examples]


# --- the feature cache keeps segment ids ---------------------------------------------------------


def test_cached_training_features_keep_token_type_ids(encoders, tasks, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(encoders["bert"])
    files = {"xnli": XNLI_DATA / "xnli" / "train-en.tsv", "qa-mini": QA_DATA / "qa" / "train.json"}
    for name, path in files.items():
        spec = tasks[name]
        task_type, hp = get_task_type(spec.type), spec.hyperparameters
        examples = task_type.read_local(spec, path, for_training=True).examples
        cache = FeatureCache(tmp_path / name)
        first, _ = cached_train_features(cache, task_type, spec, tokenizer, examples, hp)
        again, _ = cached_train_features(cache, task_type, spec, tokenizer, examples, hp)
        assert (cache.misses, cache.hits) == (1, 1)
        assert again == first
        assert all(1 in row["token_type_ids"] for row in again)
        assert all(len(row["token_type_ids"]) == len(row["input_ids"]) for row in again)


# --- the position limit ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert(tmp_path_factory.mktemp("short") / "bert-128", max_position_embeddings=128)


def test_position_limit_fails_in_the_preflight_before_any_training(
    short_bert: Path, tasks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("fine_tune was called")

    monkeypatch.setattr(training_mod, "fine_tune", no_training)
    qa = tasks["qa-mini"]
    req = _request(qa, short_bert, tmp_path, overrides={"max_length": 384, "epochs": 1})
    with pytest.raises(ModelError) as info:
        make_plan(req)
    message = info.value.message
    assert "128" in message and "384" in message
    assert str(short_bert) in message and "qa-mini" in message
    assert "--set max_length=128" in (info.value.hint or "")
    with pytest.raises(ModelError, match="128 positions"):
        run(req, log=lambda _: None)
    assert not tmp_path.joinpath("results").exists() and not tmp_path.joinpath("cache").exists()
    # the hint's fix passes the check
    assert make_plan(replace(req, overrides={"max_length": 128})).hp.max_length == 128


@pytest.mark.parametrize(
    ("arch", "limit"), [("bert", 512), ("distilbert", 512), ("xlm-r", 512), ("deberta-v2", None)]
)
def test_position_limit_of_each_architecture(
    encoders, tasks, tmp_path: Path, arch: str, limit: int | None
) -> None:
    from transformers import AutoConfig

    assert position_limit(AutoConfig.from_pretrained(encoders[arch])) == limit
    qa = tasks["qa-mini"]
    too_long = limit + 1 if limit else 4096
    req = _request(qa, encoders[arch], tmp_path, overrides={"max_length": too_long})
    if limit is None:  # mDeBERTa: relative positions only
        make_plan(req)
        return
    with pytest.raises(ModelError, match=f"has {limit} positions.*max_length {too_long}"):
        make_plan(req)
    make_plan(replace(req, overrides={"max_length": limit}))


def test_an_unloadable_config_skips_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A hub id without network (or an unknown architecture) is reported when the model loads,
    as before; the preflight does not fail on it."""
    import transformers

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    with monkeypatch.context() as patch:
        patch.setattr(transformers.AutoConfig, "from_pretrained", offline)
        check_position_limit("org/some-bert", "org/some-bert", "mlqa", 384)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-arch"}')
    check_position_limit(str(broken), str(broken), "mlqa", 384)
