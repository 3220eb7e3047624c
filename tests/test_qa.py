"""Tests for xbench.qa: BERT-style windowing via offset mapping, span decoding (reading the
files: tests/test_squad.py)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from xbench.qa import decode_answers, prepare_eval_features, prepare_train_features
from xbench.squad import QAExample, read_squad_file


@pytest.fixture(scope="module")
def tokenizer(offline_models: Path):
    return AutoTokenizer.from_pretrained(offline_models / "tiny-xlmr-fullvocab")


def _example(context: str, answer: str, question: str = "Which one?", qid: str = "q") -> QAExample:
    start = context.index(answer)
    return QAExample(qid, question, context, (answer,), (start,))


def _strip(text: str) -> str:
    """Remove surrounding whitespace and zero-width format characters (U+200B), which XLM-R's
    tokenizer drops and so no token offset can cover."""
    while text and (text[0].isspace() or unicodedata.category(text[0]) == "Cf"):
        text = text[1:]
    while text and (text[-1].isspace() or unicodedata.category(text[-1]) == "Cf"):
        text = text[:-1]
    return text


def _context_slice(offsets: list) -> tuple[int, int]:
    """[first, stop) of the non-None (context) positions of one eval feature."""
    positions = [n for n, o in enumerate(offsets) if o is not None]
    assert positions == list(range(positions[0], positions[-1] + 1)), "context not contiguous"
    return positions[0], positions[-1] + 1


# --------------------------------------------------------------------------------------------
# Round trip on real data


def _round_trip(tokenizer, examples: list[QAExample], label: str) -> dict[str, float]:
    """Decode every gold token span of the training features back to text via the offsets."""
    train = prepare_train_features(tokenizer, examples)
    evals = prepare_eval_features(tokenizer, examples)
    assert train["input_ids"] == evals["input_ids"], "train and eval windows differ"
    n = exact = alignable = exact_alignable = 0
    answered: set[int] = set()
    for i, (start, end) in enumerate(
        zip(train["start_positions"], train["end_positions"], strict=True)
    ):
        if start == 0:
            assert train["end_positions"][i] == 0
            continue
        index = evals["example_index"][i]
        ex, offsets = examples[index], evals["offset_mapping"][i]
        assert offsets[start] is not None and offsets[end] is not None, "label outside context"
        gold = _strip(ex.answers[0])
        g0 = ex.answer_starts[0] + ex.answers[0].index(gold)
        g1 = g0 + len(gold)
        got = ex.context[offsets[start][0] : offsets[end][1]].strip()
        # Only the tokens at the answer's two ends may stick out (minimal token cover):
        assert gold in got, (label, ex.id, gold, got)
        assert offsets[start][0] <= g0 < offsets[start][1], (label, ex.id, gold, got)
        # Of tokens sharing a start offset (XLM-R's bare "▁" before 吉), label the real one:
        assert offsets[start + 1] is None or offsets[start + 1][0] != offsets[start][0]
        assert offsets[end][0] < g1 <= offsets[end][1], (label, ex.id, gold, got)
        starts = {o[0] for o in offsets if o is not None}
        ends = {o[1] for o in offsets if o is not None}
        is_aligned = g0 in starts and g1 in ends  # the tokenizer has boundaries there
        n += 1
        answered.add(index)
        exact += _strip(got) == gold
        alignable += is_aligned
        exact_alignable += is_aligned and _strip(got) == gold
    assert answered == set(range(len(examples))), "some answer is in no window"
    rates = {
        "labelled_features": n,
        "exact": exact / n,
        "alignable": alignable / n,
        "exact_if_alignable": exact_alignable / alignable,
    }
    print(f"\n[round trip {label}] " + ", ".join(f"{k}={v:.4g}" for k, v in rates.items()))
    return rates


def test_round_trip_squad_first_two_articles(tokenizer, data_dir: Path) -> None:
    path = data_dir / "squad" / "train-v1.1.json"
    articles = json.loads(path.read_text(encoding="utf-8"))["data"][:2]
    ids = {qa["id"] for a in articles for p in a["paragraphs"] for qa in p["qas"]}
    examples, _ = read_squad_file(path, for_training=True)
    examples = [ex for ex in examples if ex.id in ids]
    assert len(examples) == len(ids) == 1027
    rates = _round_trip(tokenizer, examples, "squad en")
    # Every answer whose ends fall on token boundaries comes back exactly; the rest (~8%) are
    # answers like "2013" inside XLM-R's single token "▁2013," and come back as "2013,".
    assert rates["exact_if_alignable"] >= 0.99
    assert rates["exact"] >= 0.88


def test_round_trip_mlqa_chinese(tokenizer, data_dir: Path) -> None:
    path = data_dir / "mlqa" / "MLQA_V1" / "dev" / "dev-context-zh-question-zh.json"
    examples, counts = read_squad_file(path, for_training=True)
    assert len(examples) == 504 and counts["answer_mismatch"] == 0
    rates = _round_trip(tokenizer, examples, "mlqa zh")
    assert rates["exact_if_alignable"] >= 0.99
    # A whitespace-token mapping would return whole clauses here; offsets give ~95% exact.
    assert rates["exact"] >= 0.9


# --------------------------------------------------------------------------------------------
# Windows


LONG_CONTEXT = " ".join(f"Sentence number {i} talks about topic {i * 7}." for i in range(60))


def _check_windows(tokenizer, ex: QAExample, max_length: int, doc_stride: int) -> tuple[int, int]:
    """Assert BERT windowing and labels for one example; return (labelled, cut) window counts,
    cut = windows holding only part of the answer."""
    ctx = tokenizer(
        ex.context, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    ctx_ids, ctx_offsets = ctx["input_ids"], [tuple(o) for o in ctx["offset_mapping"]]
    evals = prepare_eval_features(tokenizer, [ex], max_length=max_length, doc_stride=doc_stride)
    train = prepare_train_features(tokenizer, [ex], max_length=max_length, doc_stride=doc_stride)
    assert train["input_ids"] == evals["input_ids"]
    n_features = len(evals["input_ids"])
    assert n_features > 5

    # Gold token span in the whole context.
    g0 = ex.answer_starts[0]
    first = next(n for n, o in enumerate(ctx_offsets) if o[0] == g0)
    last = next(n for n, o in enumerate(ctx_offsets) if o[1] == g0 + len(ex.answers[0]))

    covered: set[int] = set()
    labelled = cut = 0
    for k, (ids, offsets) in enumerate(
        zip(evals["input_ids"], evals["offset_mapping"], strict=True)
    ):
        shift, stop = _context_slice(offsets)
        window_start, length = k * doc_stride, stop - shift
        assert ids[shift:stop] == ctx_ids[window_start : window_start + length]
        assert offsets[shift:stop] == ctx_offsets[window_start : window_start + length]
        if k < n_features - 1:
            assert len(ids) == max_length  # full windows until the last one
        covered.update(range(window_start, window_start + length))
        inside = window_start <= first and last < window_start + length
        overlaps = window_start <= last and first < window_start + length
        start, end = train["start_positions"][k], train["end_positions"][k]
        if inside:
            labelled += 1
            assert (start, end) == (first - window_start + shift, last - window_start + shift)
            assert ex.context[offsets[start][0] : offsets[end][1]] == ex.answers[0]
        else:
            cut += overlaps
            assert (start, end) == (0, 0)
    assert window_start + length == len(ctx_ids)  # the last window ends the context
    assert covered == set(range(len(ctx_ids)))
    assert 1 <= labelled < n_features
    return labelled, cut


def test_windows_start_doc_stride_apart_and_cover_the_context(tokenizer) -> None:
    cut = 0
    for i in range(24, 34):
        ex = _example(LONG_CONTEXT, f"Sentence number {i} talks about topic")
        cut += _check_windows(tokenizer, ex, max_length=64, doc_stride=16)[1]
    assert cut > 0  # some windows held part of an answer: those must point at CLS


def test_windows_equal_hf_overflow_with_converted_overlap(tokenizer, data_dir: Path) -> None:
    """BERT's doc_stride (step between starts) == HF stride (overlap) of window - doc_stride."""
    examples, _ = read_squad_file(data_dir / "squad" / "train-v1.1.json", for_training=True)
    examples = [*examples[:: len(examples) // 40], _example(LONG_CONTEXT, "topic 7")]
    max_length, doc_stride = 128, 32
    ours = prepare_eval_features(tokenizer, examples, max_length=max_length, doc_stride=doc_stride)
    theirs: list[list[int]] = []
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
        theirs.extend(enc["input_ids"])
    assert len(ours["input_ids"]) > len(examples)
    assert ours["input_ids"] == theirs


def test_question_truncated_at_max_query_length_and_counted(tokenizer) -> None:
    long_question = " ".join(["why"] * 100) + "?"
    examples = [
        _example("Cats sleep a lot. Dogs bark.", "Dogs", question="Who barks?", qid="short"),
        _example("Cats sleep a lot. Dogs bark.", "Cats", question=long_question, qid="long"),
    ]
    q_ids = tokenizer(long_question, add_special_tokens=False)["input_ids"]
    assert len(q_ids) > 16
    stats: dict[str, int] = {}
    train = prepare_train_features(tokenizer, examples, max_query_length=16, stats=stats)
    assert stats["questions_truncated"] == 1 and stats["features"] == 2
    ids = train["input_ids"][1]
    sep = tokenizer.sep_token_id
    assert ids[0] == tokenizer.cls_token_id and ids[1:17] == q_ids[:16] and ids[17:19] == [sep, sep]
    cats = tokenizer("Cats", add_special_tokens=False)["input_ids"][0]
    assert ids[train["start_positions"][1]] == cats
    eval_stats: dict[str, int] = {}
    evals = prepare_eval_features(tokenizer, examples, max_query_length=16, stats=eval_stats)
    assert eval_stats["questions_truncated"] == 1
    assert _context_slice(evals["offset_mapping"][1])[0] == 19


def test_too_short_max_length_is_an_error(tokenizer) -> None:
    with pytest.raises(ValueError, match="max_length"):
        prepare_train_features(tokenizer, [_example("A b c.", "b")], max_length=4)


def test_training_needs_a_verified_answer_start(tokenizer) -> None:
    unverified = QAExample("u", "Which?", "A b c.", ("b",), (-1,))  # as read for evaluation
    with pytest.raises(ValueError, match="'u' has no verified answer span"):
        prepare_train_features(tokenizer, [unverified])


# --------------------------------------------------------------------------------------------
# Decoding


DECODE_CONTEXT = "Alpha beta gamma delta epsilon zeta eta theta."


def _token_at(offsets: list, char: int) -> int:
    """Index of the (last) context token whose span contains the character."""
    return max(n for n, o in enumerate(offsets) if o is not None and o[0] <= char < o[1])


@pytest.fixture()
def decode_case(tokenizer):
    ex = _example(DECODE_CONTEXT, "gamma", question="Which Greek letter?")
    features = prepare_eval_features(tokenizer, [ex])
    assert len(features["input_ids"]) == 1
    offsets = features["offset_mapping"][0]
    words = {w: _token_at(offsets, DECODE_CONTEXT.index(w)) for w in DECODE_CONTEXT.split()}
    words["theta."] = _token_at(offsets, len(DECODE_CONTEXT) - 2)  # last char of "theta"
    n = len(features["input_ids"][0]) + 5  # rows padded past the feature, as a batch would be
    return ex, features, words, np.zeros((1, n)), np.zeros((1, n))


def test_decode_picks_best_valid_span_never_in_question_or_padding(decode_case) -> None:
    ex, features, w, start, end = decode_case
    first_context = _context_slice(features["offset_mapping"][0])[0]
    start[0, 1:first_context], end[0, 1:first_context] = 100.0, 100.0  # question tokens
    start[0, -5:], end[0, -5:] = 1000.0, 1000.0  # padding
    start[0, w["gamma"]], end[0, w["delta"]] = 5.0, 4.0  # valid, score 9
    start[0, w["zeta"]], end[0, w["beta"]] = 8.0, 7.0  # end before start: invalid, score 15
    assert decode_answers([ex], features, start, end) == {"q": "gamma delta"}


def test_decode_respects_max_answer_length(decode_case) -> None:
    ex, features, w, start, end = decode_case
    start[0, w["Alpha"]], end[0, w["theta."]] = 10.0, 10.0  # whole sentence, score 20
    end[0, w["beta"]] = 1.0  # "Alpha beta", score 11
    whole = DECODE_CONTEXT.removesuffix(".")
    assert decode_answers([ex], features, start, end)["q"] == whole
    assert decode_answers([ex], features, start, end, max_answer_length=3)["q"] == "Alpha beta"


def test_decode_without_valid_span_returns_empty(decode_case) -> None:
    ex, features, w, start, end = decode_case
    start[0, w["theta."]], end[0, w["Alpha"]] = 5.0, 5.0
    assert decode_answers([ex], features, start, end, n_best=1) == {"q": ""}
    assert decode_answers([ex], features, start, end, n_best=20)["q"] != ""


def test_decode_picks_higher_scoring_window(tokenizer) -> None:
    ex = _example(LONG_CONTEXT, "topic 7")
    features = prepare_eval_features(tokenizer, [ex], max_length=64, doc_stride=16)
    n_features = len(features["input_ids"])
    width = max(len(ids) for ids in features["input_ids"])
    a, b = LONG_CONTEXT.index("number 1 "), LONG_CONTEXT.index("number 59")
    first_offsets, last_offsets = features["offset_mapping"][0], features["offset_mapping"][-1]
    assert all(o is None or o[1] <= b for o in first_offsets), "span B must not be in window 0"
    assert all(o is None or o[0] > a for o in last_offsets), "span A must not be in last window"

    def logits(score_a: float, score_b: float) -> tuple[np.ndarray, np.ndarray]:
        start, end = np.zeros((n_features, width)), np.zeros((n_features, width))
        start[0, _token_at(first_offsets, a)] = end[0, _token_at(first_offsets, a + 7)] = score_a
        start[-1, _token_at(last_offsets, b)] = end[-1, _token_at(last_offsets, b + 8)] = score_b
        return start, end

    assert decode_answers([ex], features, *logits(3.0, 4.0)) == {"q": "number 59"}
    assert decode_answers([ex], features, *logits(4.0, 3.0)) == {"q": "number 1"}


def test_decode_strips_whitespace_in_offsets_and_checks_row_count() -> None:
    ex = QAExample("w", "q?", "The  quick  fox", ("quick",), (5,))
    features = {"example_index": [0], "offset_mapping": [[None, (0, 3), (3, 12), (12, 15), None]]}
    start, end = np.array([[9.0, 0.0, 5.0, 0.0, 9.0]]), np.array([[9.0, 0.0, 5.0, 0.0, 9.0]])
    assert decode_answers([ex], features, start, end) == {"w": "quick"}
    with pytest.raises(ValueError, match="1 features"):
        decode_answers([ex], features, np.zeros((2, 5)), np.zeros((2, 5)))


def test_decode_is_fast_enough(tokenizer, data_dir: Path) -> None:
    import time

    examples, _ = read_squad_file(data_dir / "squad" / "train-v1.1.json", for_training=False)
    features = prepare_eval_features(tokenizer, examples, max_length=192, doc_stride=64)
    n = len(features["input_ids"])
    assert n > 8000
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(n, 192)), rng.normal(size=(n, 192))
    t0 = time.perf_counter()
    answers = decode_answers(examples, features, start, end)
    elapsed = time.perf_counter() - t0
    print(f"\n[decode] {n} features in {elapsed:.2f}s")
    assert len(answers) == len(examples) and elapsed < 5.0
    assert all(a in ex.context for a, ex in zip(answers.values(), examples, strict=True))
