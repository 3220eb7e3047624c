"""Token-budget batching: every index once, within budget, longest first; batched prediction
gives the same outputs, in input order, as one-by-one forwards."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from xbench.batching import padding_efficiency, run_batches, token_budget_batches


def _check_batches(lengths: list[int], max_tokens: int, max_batch: int = 512) -> list[list[int]]:
    batches = list(token_budget_batches(lengths, max_tokens, max_batch))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))  # every index exactly once
    for b in batches:
        assert b
        assert len(b) <= max_batch
        if len(b) > 1:  # a single over-long sequence may exceed the budget on its own
            assert len(b) * max(lengths[i] for i in b) <= max_tokens
    # longest first: lengths never increase along the flattened order
    ordered = [lengths[i] for i in flat]
    assert ordered == sorted(ordered, reverse=True)
    # within a batch, the first member is the longest (it sets the padded width)
    for b in batches:
        assert lengths[b[0]] == max(lengths[i] for i in b)
    return batches


def test_known_grouping() -> None:
    lengths = [3, 10, 5, 10, 1]
    batches = _check_batches(lengths, max_tokens=20)
    assert batches == [[1, 3], [2, 0, 4]]


def test_random_lengths_cover_and_respect_budget() -> None:
    rng = random.Random(1234)
    for _ in range(50):
        lengths = [rng.randint(1, 200) for _ in range(rng.randint(1, 300))]
        _check_batches(lengths, max_tokens=rng.choice([256, 1000, 4096]))


def test_max_batch_caps_rows() -> None:
    lengths = [2] * 25
    batches = _check_batches(lengths, max_tokens=10_000, max_batch=8)
    assert [len(b) for b in batches] == [8, 8, 8, 1]


def test_sequence_longer_than_budget_gets_its_own_batch() -> None:
    lengths = [50, 4, 4]
    batches = _check_batches(lengths, max_tokens=16)
    assert batches[0] == [0]
    assert sorted(batches[1]) == [1, 2]


def test_empty_input() -> None:
    assert list(token_budget_batches([], 100)) == []


def test_padding_efficiency_known_values() -> None:
    lengths = [4, 2, 2, 1]
    assert padding_efficiency(lengths, [[0, 1], [2, 3]]) == pytest.approx(9 / 12)
    assert padding_efficiency(lengths, [[0], [1, 2], [3]]) == pytest.approx(1.0)
    assert padding_efficiency(lengths, [[0, 1, 2, 3]]) == pytest.approx(9 / 16)
    assert padding_efficiency([], []) == 1.0


def test_sorted_batching_pads_less_than_input_order() -> None:
    rng = random.Random(7)
    lengths = [rng.randint(5, 128) for _ in range(400)]
    sorted_batches = list(token_budget_batches(lengths, 2048))
    naive, current = [], []
    for i in range(len(lengths)):  # same batch sizes, original order
        current.append(i)
        if len(current) == 16:
            naive.append(current)
            current = []
    naive.append(current)
    assert padding_efficiency(lengths, sorted_batches) > 0.9
    assert padding_efficiency(lengths, sorted_batches) > padding_efficiency(lengths, naive)


# --- run_batches on a real (tiny) model -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(offline_models: Path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = offline_models / "tiny-xlmr"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    model.eval()
    return model, AutoTokenizer.from_pretrained(path)


SENTENCES = [
    ("A man is playing a guitar on stage .", "A man plays music ."),
    ("Hi", "Hello"),
    ("Der Hund läuft schnell über die grüne Wiese hinter dem Haus .", "Ein Tier rennt ."),
    ("Le chat dort .", "Le chat ne dort pas ."),
    ("The committee, after long and heated debate, approved the budget .", "It passed ."),
    ("ok", "no"),
    ("猫が寝ている。", "猫は起きている。"),
]


def test_run_batches_matches_one_by_one(tiny) -> None:
    import torch

    model, tokenizer = tiny
    ids = tokenizer([a for a, _ in SENTENCES], [b for _, b in SENTENCES])["input_ids"]
    features = [{"input_ids": x} for x in ids]
    assert len({len(x) for x in ids}) > 2  # lengths differ: padding is exercised
    max_tokens = 3 * max(len(x) for x in ids)  # several multi-row batches
    assert len(list(token_budget_batches([len(x) for x in ids], max_tokens))) > 1

    batched = run_batches(model, features, tokenizer.pad_token_id, max_tokens, lambda o: o.logits)
    with torch.inference_mode():
        single = [model(input_ids=torch.tensor([x])).logits[0] for x in ids]
    assert len(batched) == len(features)
    for got, want in zip(batched, single, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # input order kept even though batches run longest first
    rows = torch.stack(list(batched))
    assert not torch.allclose(rows[0], rows[1])


def test_run_batches_budget_of_one_row(tiny) -> None:
    """With a budget so small every batch holds one row, results still come back in order."""
    model, tokenizer = tiny
    ids = tokenizer([a for a, _ in SENTENCES])["input_ids"]
    features = [{"input_ids": x} for x in ids]
    one = run_batches(model, features, tokenizer.pad_token_id, 1, lambda o: o.logits.tolist())
    many = run_batches(model, features, tokenizer.pad_token_id, 10_000, lambda o: o.logits.tolist())
    assert len(one) == len(many) == len(features)
    for a, b in zip(one, many, strict=True):
        assert a == pytest.approx(b, abs=1e-5)
    assert run_batches(model, [], tokenizer.pad_token_id, 100, lambda o: o.logits) == []
