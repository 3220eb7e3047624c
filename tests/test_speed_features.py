"""What makes the harness fast: a repeated run trains and tokenises nothing, re-scoring only
predicts, prediction batches waste few pad tokens, and out-of-memory halves the batch (in
prediction and in training, keeping the effective batch size) instead of failing."""

from __future__ import annotations

import functools
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

import xbench.training as training_mod
from xbench.batching import (
    CALL_COST,
    padding_efficiency,
    plan_batches,
    run_batches,
)
from xbench.catalog import TaskRegistry
from xbench.data import load_split
from xbench.errors import TrainingError
from xbench.results import read_result
from xbench.runner import RunRequest, run
from xbench.tasktypes import get_task_type

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"
OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


@pytest.fixture(scope="module")
def tiny_path(offline_models: Path) -> Path:
    return offline_models / "tiny-xlmr"


@pytest.fixture()
def tokenize_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every call of any Hugging Face tokenizer (the texts given in each call)."""
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    calls: list[int] = []
    real = PreTrainedTokenizerBase.__call__

    def counting(self: Any, text: Any = None, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(text) if isinstance(text, list) else 1)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(PreTrainedTokenizerBase, "__call__", counting)
    return calls


@pytest.fixture()
def fine_tune_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = training_mod.fine_tune

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(training_mod, "fine_tune", counting)
    return calls


def _predictions(out: Path, lang: str) -> Any:
    result = read_result(out)
    return json.loads((out.parent / result.languages[lang].predictions_file).read_text())


def test_second_identical_run_trains_and_tokenises_nothing(
    xnli, tiny_path: Path, tmp_path: Path, tokenize_calls: list[int], fine_tune_calls: list[int]
) -> None:
    req = RunRequest(
        model=str(tiny_path),
        task=xnli,
        seed=1,
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        data_dir=CORE_DATA,
        languages=["en", "de"],
        overrides={"epochs": 1, "batch_size": 8},
        train_limit=32,
        eval_limit=8,
    )
    log: list[str] = []
    first = run(req, log=log.append)
    assert fine_tune_calls == [1] and tokenize_calls  # the first run does both
    assert read_result(first).environment["attention"] == "sdpa"

    # the same command again: nothing to train, nothing to tokenise, nothing to predict
    tokenize_calls.clear()
    log.clear()
    assert run(req, log=log.append) == first
    assert fine_tune_calls == [1] and tokenize_calls == []
    assert any("already done" in line for line in log)

    # re-scoring into a fresh results folder with the same cache: prediction only
    rescored = run(replace(req, results_dir=tmp_path / "rescored"), log=log.append)
    assert fine_tune_calls == [1] and tokenize_calls == []
    assert any("reusing fine-tuned model" in line for line in log)
    for lang in ("en", "de"):
        assert _predictions(rescored, lang) == _predictions(first, lang)

    # adding a language tokenises that language only (one batch call of its 8 pairs)
    run(replace(req, languages=["en", "de", "fr"]), log=log.append)
    assert fine_tune_calls == [1] and tokenize_calls == [8]


def test_new_seed_reuses_the_training_features(
    xnli, tiny_path: Path, tmp_path: Path, tokenize_calls: list[int], fine_tune_calls: list[int]
) -> None:
    """Another seed is another model, but the same tokenised training and dev sets."""
    req = RunRequest(
        model=str(tiny_path),
        task=xnli,
        seed=1,
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        data_dir=CORE_DATA,
        languages=["en"],
        overrides={"epochs": 1, "batch_size": 8},
        train_limit=16,
        eval_limit=4,
    )
    run(req, log=lambda _: None)
    tokenize_calls.clear()
    run(replace(req, seed=2), log=lambda _: None)
    assert fine_tune_calls == [1, 1]
    assert tokenize_calls == []


# --- prediction batches -----------------------------------------------------------------------


def _check_plan(lengths: list[int], max_tokens: int, call_cost: int) -> list[list[int]]:
    batches = plan_batches(lengths, max_tokens, call_cost)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)  # longest first, so the first row sets the width
    for b in batches:
        assert len(b) == 1 or len(b) * lengths[b[0]] <= max_tokens
    return batches


def test_planned_batches_trade_padding_against_calls() -> None:
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(0, 400)
        lengths = [rng.randint(1, 200) for _ in range(n)]
        budget = rng.choice([256, 1000, 16384])
        free_calls = _check_plan(lengths, budget, call_cost=0)
        assert padding_efficiency(lengths, free_calls) == 1.0  # never pads when calls are free
        costly = _check_plan(lengths, 10**9, call_cost=10**9)
        assert len(costly) == -(-n // 512)  # costly calls, unlimited budget: fewest calls


def test_cpu_plan_of_sentence_pairs_pads_little() -> None:
    """XNLI-like lengths (about 40 tokens, long tail): padding efficiency >= 0.95 on a CPU."""
    rng = random.Random(11)
    for _ in range(5):
        lengths = [min(128, max(6, int(rng.lognormvariate(3.6, 0.35)))) for _ in range(1000)]
        batches = _check_plan(lengths, 16384, CALL_COST["cpu"])
        assert padding_efficiency(lengths, batches) >= 0.95
        assert len(batches) < 60  # and not one call per length


@pytest.fixture(scope="module")
def tiny(tiny_path: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_path, num_labels=3)
    return model.eval(), AutoTokenizer.from_pretrained(tiny_path)


def _limit_rows(model: Any, monkeypatch: pytest.MonkeyPatch, max_rows: int) -> list[int]:
    """Make `model` fail with CUDA's out-of-memory error on batches of more than max_rows rows;
    returns the row counts of the batches it was given."""
    real = model.forward
    seen: list[int] = []

    @functools.wraps(real)  # the Trainer keeps only the inputs forward's signature names
    def forward(input_ids: Any = None, **kwargs: Any) -> Any:
        seen.append(input_ids.shape[0])
        if input_ids.shape[0] > max_rows:
            raise torch.OutOfMemoryError(OOM)
        return real(input_ids=input_ids, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    return seen


def test_run_batches_halves_on_out_of_memory(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer = tiny
    rng = random.Random(3)
    words = [
        "the",
        "a",
        "cat",
        "sat",
        "on",
        "mat",
        "dog",
        "ran",
        "far",
        "away",
        "quickly",
        "under",
        "blue",
        "sky",
    ]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(60)]
    features = [{"input_ids": ids} for ids in tokenizer(texts)["input_ids"]]
    pad = tokenizer.pad_token_id

    def logits(out: Any) -> list[Any]:
        return list(out.logits)

    want = run_batches(model, features, pad, 100_000, logits)
    seen = _limit_rows(model, monkeypatch, max_rows=3)
    got = run_batches(model, features, pad, 100_000, logits)
    assert max(seen) > 3  # it did run out of memory
    assert seen.count(max(seen)) == 1  # and halved, rather than trying the same size again
    assert len(got) == len(features)
    for a, b in zip(got, want, strict=True):  # same results, in input order
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert [int(x.argmax()) for x in got] == [int(x.argmax()) for x in want]


def test_out_of_memory_on_one_row_and_other_errors_propagate(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = tiny
    features = [{"input_ids": ids} for ids in tokenizer(["a b", "c"])["input_ids"]]
    _limit_rows(model, monkeypatch, max_rows=0)
    with pytest.raises(torch.OutOfMemoryError):
        run_batches(model, features, tokenizer.pad_token_id, 1000, lambda o: o.logits)

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("something else")

    monkeypatch.setattr(model, "forward", broken)
    with pytest.raises(RuntimeError, match="something else"):
        run_batches(model, features, tokenizer.pad_token_id, 1000, lambda o: o.logits)


# --- training -----------------------------------------------------------------------------------


def test_smaller_batch_keeps_the_effective_batch() -> None:
    assert training_mod.smaller_batch(32, 32) == 16
    assert training_mod.smaller_batch(24, 3) == 1
    assert training_mod.smaller_batch(18, 9) == 3  # 4 does not divide 18
    assert training_mod.smaller_batch(8, 1) == 0


def _train_setup(xnli, tiny_path: Path) -> tuple[Any, Any, list[Any], Any]:
    from transformers import AutoTokenizer

    task_type = get_task_type(xnli.type)
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    model = task_type.load_model(xnli, str(tiny_path))
    examples = load_split(xnli, "train", "en", data_dir=CORE_DATA, limit=32).examples
    hp = xnli.hyperparameters.model_copy(
        update={"epochs": 1, "batch_size": 8, "selection": "final"}
    )
    features, _ = task_type.train_features(xnli, tokenizer, examples, hp)
    return model, tokenizer, features, hp


def test_training_halves_batch_and_doubles_accumulation(
    xnli, tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer, features, hp = _train_setup(xnli, tiny_path)
    seen = _limit_rows(model, monkeypatch, max_rows=2)
    log: list[str] = []
    record = training_mod.fine_tune(
        model, tokenizer, features, hp, 1, tmp_path / "model", lambda m: 0.0, log.append
    )
    assert record["per_device_batch_size"] == 2
    assert record["gradient_accumulation"] == 4  # 2 x 4 = the effective batch of 8
    assert record["steps"] == 32 // 8  # as many optimizer steps as without the error
    assert seen[:3] == [8, 4, 2]
    assert sum("out of memory" in line for line in log) == 2
    assert (tmp_path / "model" / "model.safetensors").is_file()  # the weights are saved


def test_training_out_of_memory_after_updates_without_checkpoint_is_an_error(
    xnli, tiny_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights already changed and nothing to restart from: say so rather than train on."""
    model, tokenizer, features, hp = _train_setup(xnli, tiny_path)
    real = model.forward
    calls: list[int] = []

    @functools.wraps(real)
    def forward(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 2:
            raise torch.OutOfMemoryError(OOM)
        return real(**kwargs)

    monkeypatch.setattr(model, "forward", forward)
    with pytest.raises(TrainingError, match="no checkpoint to restart from"):
        training_mod.fine_tune(
            model, tokenizer, features, hp, 1, tmp_path / "model", lambda m: 0.0, lambda _: None
        )
