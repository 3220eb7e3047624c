"""The feature cache: every key part changes the key, a hit returns exactly what was computed,
a corrupt entry is recomputed (not fatal), and features it cannot hold are used, not stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xbench.catalog import TaskRegistry
from xbench.data import load_split
from xbench.featcache import (
    CachedTokenizer,
    FeatureCache,
    cached_train_features,
    data_fingerprint,
    key_parts,
    tokenizer_fingerprint,
)
from xbench.tasktypes import get_task_type

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


@pytest.fixture(scope="module")
def tokenizer(offline_models: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(offline_models / "tiny-xlmr")


@pytest.fixture(scope="module")
def examples(xnli) -> list[Any]:
    return load_split(xnli, "train", "en", data_dir=CORE_DATA, limit=20).examples


class Counting:
    """The task type's train_features, counting its calls."""

    def __init__(self, task_type: Any) -> None:
        self.task_type = task_type
        self.calls = 0

    def train_features(self, *args: Any) -> Any:
        self.calls += 1
        return self.task_type.train_features(*args)


def test_every_key_part_changes_the_key(xnli, tokenizer, offline_models: Path, examples) -> None:
    from transformers import AutoTokenizer

    hp = xnli.hyperparameters
    data = data_fingerprint(examples)
    other_tokenizer = AutoTokenizer.from_pretrained(offline_models / "tiny-xlmr-fullvocab")
    variants = {
        "base": key_parts("train", xnli, hp, tokenizer, data),
        "data": key_parts("train", xnli, hp, tokenizer, data_fingerprint(examples[:-1])),
        "tokenizer": key_parts("train", xnli, hp, other_tokenizer, data),
        "max length": key_parts(
            "train", xnli, hp.model_copy(update={"max_length": 64}), tokenizer, data
        ),
        "task version": key_parts(
            "train", xnli.model_copy(update={"version": xnli.version + 1}), hp, tokenizer, data
        ),
        "kind": key_parts("tokenize", xnli, hp, tokenizer, data),
    }
    keys = {name: FeatureCache.key(parts) for name, parts in variants.items()}
    assert len(set(keys.values())) == len(keys), keys
    # what does not decide the features does not change the key
    same = key_parts("train", xnli, hp.model_copy(update={"learning_rate": 1e-3}), tokenizer, data)
    assert FeatureCache.key(same) == keys["base"]


def test_key_holds_the_settings_the_task_type_declares(tokenizer, examples) -> None:
    """QA's window settings key QA's features; classification's keys hold no QA field."""
    registry = TaskRegistry()
    xnli, mlqa = registry.get("xnli"), registry.get("mlqa")
    data = data_fingerprint(examples)
    assert "doc_stride" not in key_parts("train", xnli, xnli.hyperparameters, tokenizer, data)
    hp = mlqa.hyperparameters
    base = FeatureCache.key(key_parts("train", mlqa, hp, tokenizer, data))
    for name in ("doc_stride", "max_query_length", "max_length"):
        changed = hp.model_copy(update={name: getattr(hp, name) // 2})
        assert FeatureCache.key(key_parts("train", mlqa, changed, tokenizer, data)) != base, name
    answer = hp.model_copy(update={"max_answer_length": 5})  # decoding only: same features
    assert FeatureCache.key(key_parts("train", mlqa, answer, tokenizer, data)) == base


def test_tokenizer_fingerprint_is_its_content(tokenizer, tmp_path: Path) -> None:
    """A copy saved beside a fine-tuned model has the original's fingerprint; a call's
    truncation setting (stored in the backend by the call) does not change it."""
    from transformers import AutoTokenizer

    before = tokenizer_fingerprint(tokenizer)
    tokenizer.save_pretrained(tmp_path)
    copy = AutoTokenizer.from_pretrained(tmp_path)
    copy(["a b c"], truncation=True, max_length=4)
    assert tokenizer_fingerprint(copy) == before


def test_train_features_hit_is_identical(xnli, tokenizer, examples, tmp_path: Path) -> None:
    counting = Counting(get_task_type(xnli.type))
    cache = FeatureCache(tmp_path / "features")
    hp = xnli.hyperparameters
    first = cached_train_features(cache, counting, xnli, tokenizer, examples, hp)
    second = cached_train_features(cache, counting, xnli, tokenizer, examples, hp)
    assert counting.calls == 1
    assert (cache.misses, cache.hits) == (1, 1)
    assert first == second
    assert first == get_task_type(xnli.type).train_features(xnli, tokenizer, examples, hp)
    assert [p.suffix for p in (tmp_path / "features").iterdir()] == [".npz"]  # no temp files


def test_cached_tokenizer_hit_is_identical(xnli, tokenizer, examples, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "features")
    cached = CachedTokenizer(tokenizer, cache, xnli, xnli.hyperparameters)
    texts = [e.sentence1 for e in examples]
    pairs = [e.sentence2 for e in examples]
    want = tokenizer(texts, pairs, truncation=True, max_length=32)
    for _ in range(2):
        got = cached(texts, pairs, truncation=True, max_length=32)
        assert dict(got) == dict(want)
    offsets = cached(texts, return_offsets_mapping=True, add_special_tokens=False)
    assert (
        offsets["offset_mapping"]
        == tokenizer(texts, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    )  # pairs come back as tuples, as the tokenizer returns them
    assert (cache.misses, cache.hits) == (2, 1)
    assert cached.pad_token_id == tokenizer.pad_token_id  # everything else is the tokenizer's
    assert cached("one text")["input_ids"] == tokenizer("one text")["input_ids"]


def test_cached_tokenizer_answers_word_ids_for_pre_split_words(
    xnli, tokenizer, examples, tmp_path: Path
) -> None:
    """Token classification labels the first sub-token of each word: a hit must give the
    same word ids as the real encoding (None for special tokens), and the same columns."""
    cache = FeatureCache(tmp_path / "features")
    cached = CachedTokenizer(tokenizer, cache, xnli, xnli.hyperparameters)
    words = [e.sentence1.split() for e in examples]
    want = tokenizer(words, is_split_into_words=True, truncation=True, max_length=24)
    for _ in range(2):  # a miss, then a hit
        got = cached(words, is_split_into_words=True, truncation=True, max_length=24)
        assert dict(got) == dict(want)
        for i in range(len(words)):
            assert got.word_ids(i) == want.word_ids(i)
    assert (cache.misses, cache.hits) == (1, 1)
    assert None in got.word_ids(0) and max(w for w in got.word_ids(0) if w is not None) > 0


def test_other_arguments_are_another_entry(xnli, tokenizer, examples, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "features")
    cached = CachedTokenizer(tokenizer, cache, xnli, xnli.hyperparameters)
    texts = [e.sentence1 for e in examples]
    long = cached(texts, truncation=True, max_length=64)
    short = cached(texts, truncation=True, max_length=8)
    assert max(len(x) for x in short["input_ids"]) == 8 < max(len(x) for x in long["input_ids"])
    assert cache.misses == 2


def test_corrupt_entry_is_recomputed(xnli, tokenizer, examples, tmp_path: Path) -> None:
    logged: list[str] = []
    cache = FeatureCache(tmp_path / "features", logged.append)
    counting = Counting(get_task_type(xnli.type))
    hp = xnli.hyperparameters
    first = cached_train_features(cache, counting, xnli, tokenizer, examples, hp)
    (entry,) = (tmp_path / "features").iterdir()
    for damage in (b"not a zip file", entry.read_bytes()[:100]):  # garbage, then truncated
        entry.write_bytes(damage)
        again = cached_train_features(cache, counting, xnli, tokenizer, examples, hp)
        assert again == first
    assert counting.calls == 3
    assert sum("unreadable" in line for line in logged) == 2
    assert cached_train_features(cache, counting, xnli, tokenizer, examples, hp) == first
    assert counting.calls == 3  # the rewritten entry is good


def test_unholdable_features_are_used_not_stored(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "features")
    parts = {"kind": "test"}
    columns = {"ids": [[1, 2], [3]], "maybe": [None, 1]}
    assert cache.get_or_compute(parts, lambda: (columns, {})) == (columns, {})
    assert not (tmp_path / "features").exists()
    scalars = {"label": [0, 2, 1], "text": ["a", "b", "c"], "ids": [[5], [], [6, 7]]}
    assert cache.get_or_compute({"kind": "ok"}, lambda: (scalars, {"n": 3})) == (scalars, {"n": 3})
    assert cache.get_or_compute({"kind": "ok"}, lambda: ({}, {})) == (scalars, {"n": 3})


def test_unwritable_cache_is_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "features"
    blocker.write_text("a file where the folder should be")
    logged: list[str] = []
    cache = FeatureCache(blocker, logged.append)
    columns = {"ids": [[1, 2], [3]]}
    assert cache.get_or_compute({"kind": "x"}, lambda: (columns, {})) == (columns, {})
    assert any("cannot write" in line for line in logged)
