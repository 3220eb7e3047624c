"""Extractive QA features: windows over SQuAD-format examples, and predicted spans decoded.

Reading the files is `xbench.squad`'s.

Why it is written this way:

* Character spans are mapped to tokens with the fast tokenizer's offset mapping only. The
  original BERT/XTREME code splits the context on whitespace and maps words to sub-tokens;
  that heuristic breaks on Chinese (no spaces), so there is none of it here. Answers are cut
  back out of the original context string with the offsets, so a predicted answer is always
  an exact substring of the context (surrounding whitespace stripped).
* Windowing follows BERT's ``run_squad.py`` (used by XTREME): the question is truncated to
  ``max_query_length`` tokens, then windows over the context tokens START every ``doc_stride``
  tokens (``doc_stride`` is the step between window starts, not HuggingFace's ``stride``
  overlap), each window holding up to ``max_length - len(question) - specials`` context tokens,
  and the last window ends at the last context token. We window manually over the context
  tokenised once, instead of converting ``doc_stride`` to a per-example HuggingFace overlap;
  the sequences equal the tokenizer's own pair encoding with ``return_overflowing_tokens`` and
  ``stride = window - doc_stride`` (tested), and the special-token layout is read from the
  tokenizer itself. So are the segment ids: where the tokenizer's pair encoding has
  ``token_type_ids`` (BERT: 0 for [CLS] q [SEP], 1 for c [SEP]), each part of a window gets the
  type the tokenizer gives that part; where it has none (XLM-R), the features have none either.
* An answer boundary inside a token (XLM-R's single token "▁2013," for the answer "2013")
  cannot be represented; the label then covers the whole token, as in BERT's code. Of tokens
  sharing a start offset (XLM-R's bare "▁" before a CJK character) the real one is labelled.
* A training window that does not contain the whole answer is labelled start=end=0 (CLS).
* Unlike BERT's decoder, spans are not restricted to a token's "max context" window; the best
  span over all windows of an example wins (as in HuggingFace's ``run_qa.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xbench.errors import ModelError
from xbench.squad import QAExample

# --------------------------------------------------------------------------------------------
# Featurising


@dataclass(frozen=True)
class _SegmentTypes:
    """The token type ids of each part of a pair encoding: one per special token of the prefix,
    middle and suffix, one for every question and every context token."""

    prefix: list[int]
    question: int
    middle: list[int]
    context: int
    suffix: list[int]


@dataclass(frozen=True)
class _Layout:
    """Special tokens around a (question, context) pair: prefix + q + middle + c + suffix, and
    the segment ids of those parts (None where the tokenizer makes no token_type_ids)."""

    prefix: list[int]
    middle: list[int]
    suffix: list[int]
    types: _SegmentTypes | None = None


def _pair_layout(tokenizer: Any) -> _Layout:
    """Read the special-token template for pairs off the tokenizer (e.g. XLM-R: <s> q </s></s>
    c </s>; BERT: [CLS] q [SEP] c [SEP])."""
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; QA needs offset mappings",
            hint="load the tokenizer with AutoTokenizer.from_pretrained(path) (use_fast=True)",
        )
    enc = tokenizer("a", "b", add_special_tokens=True)
    ids, seq = enc["input_ids"], enc.sequence_ids()
    q = [n for n, s in enumerate(seq) if s == 0]
    c = [n for n, s in enumerate(seq) if s == 1]
    types = None
    if enc.get("token_type_ids") is not None:  # what the tokenizer's own pair encoding gives
        t = list(enc["token_type_ids"])
        types = _SegmentTypes(t[: q[0]], t[q[0]], t[q[-1] + 1 : c[0]], t[c[0]], t[c[-1] + 1 :])
    return _Layout(ids[: q[0]], ids[q[-1] + 1 : c[0]], ids[c[-1] + 1 :], types)


@dataclass
class _Context:
    """A context tokenised once: ids, raw offsets, and whitespace-trimmed offsets."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    starts: np.ndarray
    ends: np.ndarray


def _trimmed(context: str, offsets: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token offsets with surrounding whitespace removed (whitespace-only tokens become empty)."""
    starts = np.empty(len(offsets), dtype=np.int64)
    ends = np.empty(len(offsets), dtype=np.int64)
    for n, (s, e) in enumerate(offsets):
        while s < e and context[s].isspace():
            s += 1
        while e > s and context[e - 1].isspace():
            e -= 1
        starts[n], ends[n] = s, e
    return starts, ends


def _tokenize(
    tokenizer: Any, examples: Sequence[QAExample], max_query_length: int
) -> tuple[list[list[int]], list[_Context], int]:
    """Question ids (truncated), tokenised context per example, and the truncation count."""
    if not examples:
        return [], [], 0
    q_ids = tokenizer([ex.question for ex in examples], add_special_tokens=False, verbose=False)
    questions = [ids[:max_query_length] for ids in q_ids["input_ids"]]
    truncated = sum(len(ids) > max_query_length for ids in q_ids["input_ids"])
    unique = list(dict.fromkeys(ex.context for ex in examples))
    enc = tokenizer(unique, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    by_text: dict[str, _Context] = {}
    for text, ids, offsets in zip(unique, enc["input_ids"], enc["offset_mapping"], strict=True):
        offsets = [tuple(o) for o in offsets]
        by_text[text] = _Context(ids, offsets, *_trimmed(text, offsets))
    return questions, [by_text[ex.context] for ex in examples], truncated


def _windows(n_tokens: int, window: int, doc_stride: int) -> list[tuple[int, int]]:
    """(start, length) of BERT's doc spans: starts doc_stride apart, last one ends the context."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n_tokens:
        length = min(n_tokens - start, window)
        spans.append((start, length))
        if start + length == n_tokens:
            break
        start += min(length, doc_stride)
    return spans


def _context_window(max_length: int, layout: _Layout, n_question: int) -> int:
    window = max_length - len(layout.prefix) - len(layout.middle) - len(layout.suffix) - n_question
    if window < 1:
        raise ValueError(
            f"max_length={max_length} leaves no room for the context after a {n_question}-token "
            "question; raise max_length or lower max_query_length"
        )
    return window


def _check_args(max_length: int, doc_stride: int, max_query_length: int) -> None:
    if min(max_length, doc_stride, max_query_length) < 1:
        raise ValueError("max_length, doc_stride and max_query_length must be positive")


def _answer_tokens(ctx: _Context, start_char: int, text: str) -> tuple[int, int] | None:
    """First and last context token overlapping the answer's characters, or None.

    A token with an empty (whitespace-only) trimmed span never counts; of tokens sharing the
    first start offset (XLM-R's bare '▁' before a CJK character), the last one is the start.
    """
    end_char = start_char + len(text)
    hit = np.flatnonzero(
        (ctx.ends > start_char) & (ctx.starts < end_char) & (ctx.ends > ctx.starts)
    )
    if hit.size == 0:
        return None
    first = int(hit[0])
    while first + 1 <= hit[-1] and ctx.starts[first + 1] == ctx.starts[first]:
        first += 1
    return first, int(hit[-1])


def _sequence(layout: _Layout, question: list[int], context: list[int]) -> tuple[list[int], int]:
    """Input ids for the pair and the index of the first context token."""
    head = layout.prefix + question + layout.middle
    return head + context + layout.suffix, len(head)


def _segment_ids(layout: _Layout, n_question: int, n_context: int) -> list[int]:
    """Token type ids of the sequence `_sequence` builds (the layout must have types)."""
    t = layout.types
    assert t is not None
    return t.prefix + [t.question] * n_question + t.middle + [t.context] * n_context + t.suffix


def _check_train_answer(ex: QAExample) -> None:
    start = ex.answer_starts[0] if ex.answer_starts else -1
    if start < 0 or ex.context[start : start + len(ex.answers[0])] != ex.answers[0]:
        raise ValueError(
            f"question {ex.id!r} has no verified answer span; read training data with "
            "read_squad_file(..., for_training=True)"
        )


def prepare_train_features(
    tokenizer: Any,
    examples: Sequence[QAExample],
    *,
    max_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    stats: dict[str, int] | None = None,
) -> dict[str, list]:
    """Training features: input_ids, attention_mask, start_positions, end_positions (unpadded),
    and token_type_ids where the tokenizer makes them.

    Labels point at the first answer's tokens in the window that contains all of it, else at
    CLS (0). If `stats` is given it is updated with "questions_truncated", "features" and
    "answer_unmappable" (examples dropped because their answer covers no token).
    """
    _check_args(max_length, doc_stride, max_query_length)
    layout = _pair_layout(tokenizer)
    questions, contexts, truncated = _tokenize(tokenizer, examples, max_query_length)
    out: dict[str, list] = {
        "input_ids": [],
        "attention_mask": [],
        "start_positions": [],
        "end_positions": [],
    }
    if layout.types is not None:
        out["token_type_ids"] = []
    unmappable = 0
    for ex, question, ctx in zip(examples, questions, contexts, strict=True):
        _check_train_answer(ex)
        answer = _answer_tokens(ctx, ex.answer_starts[0], ex.answers[0])
        if answer is None:
            unmappable += 1
            continue
        window = _context_window(max_length, layout, len(question))
        for start, length in _windows(len(ctx.ids), window, doc_stride):
            ids, shift = _sequence(layout, question, ctx.ids[start : start + length])
            inside = start <= answer[0] and answer[1] < start + length
            out["input_ids"].append(ids)
            out["attention_mask"].append([1] * len(ids))
            if layout.types is not None:
                out["token_type_ids"].append(_segment_ids(layout, len(question), length))
            out["start_positions"].append(answer[0] - start + shift if inside else 0)
            out["end_positions"].append(answer[1] - start + shift if inside else 0)
    if stats is not None:
        stats["questions_truncated"] = stats.get("questions_truncated", 0) + truncated
        stats["features"] = stats.get("features", 0) + len(out["input_ids"])
        stats["answer_unmappable"] = stats.get("answer_unmappable", 0) + unmappable
    return out


def prepare_eval_features(
    tokenizer: Any,
    examples: Sequence[QAExample],
    *,
    max_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    stats: dict[str, int] | None = None,
) -> dict[str, list]:
    """Evaluation features: input_ids, attention_mask, example_index, offset_mapping, and
    token_type_ids where the tokenizer makes them.

    offset_mapping[i][t] is the (start, end) character span of token t in
    examples[example_index[i]].context, or None for question and special tokens. Windows are
    the same as in `prepare_train_features`. If `stats` is given it is updated with
    "questions_truncated" and "features".
    """
    _check_args(max_length, doc_stride, max_query_length)
    layout = _pair_layout(tokenizer)
    questions, contexts, truncated = _tokenize(tokenizer, examples, max_query_length)
    out: dict[str, list] = {
        "input_ids": [],
        "attention_mask": [],
        "example_index": [],
        "offset_mapping": [],
    }
    if layout.types is not None:
        out["token_type_ids"] = []
    for index, (question, ctx) in enumerate(zip(questions, contexts, strict=True)):
        window = _context_window(max_length, layout, len(question))
        for start, length in _windows(len(ctx.ids), window, doc_stride):
            ids, shift = _sequence(layout, question, ctx.ids[start : start + length])
            offsets: list[tuple[int, int] | None] = [None] * len(ids)
            offsets[shift : shift + length] = ctx.offsets[start : start + length]
            out["input_ids"].append(ids)
            out["attention_mask"].append([1] * len(ids))
            if layout.types is not None:
                out["token_type_ids"].append(_segment_ids(layout, len(question), length))
            out["example_index"].append(index)
            out["offset_mapping"].append(offsets)
    if stats is not None:
        stats["questions_truncated"] = stats.get("questions_truncated", 0) + truncated
        stats["features"] = stats.get("features", 0) + len(out["input_ids"])
    return out


# --------------------------------------------------------------------------------------------
# Decoding


def _context_range(offsets: Sequence[tuple[int, int] | None]) -> tuple[int, int]:
    """[first, last + 1) of the context tokens in one feature (they are contiguous)."""
    first = next((n for n, o in enumerate(offsets) if o is not None), len(offsets))
    last = next((n for n in range(len(offsets) - 1, first - 1, -1) if offsets[n] is not None), -1)
    return first, last + 1


def _best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, n_best: int, max_answer_length: int
) -> tuple[float, int, int] | None:
    """Highest start+end score over top-n_best starts x ends with 0 <= end-start < max length."""
    starts = np.argsort(-start_logits, kind="stable")[:n_best]
    ends = np.argsort(-end_logits, kind="stable")[:n_best]
    scores = start_logits[starts][:, None] + end_logits[ends][None, :]
    length = ends[None, :] - starts[:, None] + 1
    scores = np.where((length >= 1) & (length <= max_answer_length), scores, -np.inf)
    flat = int(np.argmax(scores))
    best = float(scores.flat[flat])
    if best == -np.inf:
        return None
    row, col = divmod(flat, scores.shape[1])
    return best, int(starts[row]), int(ends[col])


def decode_answers(
    examples: Sequence[QAExample],
    features: Mapping[str, Sequence],
    start_logits: Sequence | np.ndarray,
    end_logits: Sequence | np.ndarray,
    *,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[str, str]:
    """Best answer text per question id, from per-feature start/end logits.

    Logit rows may be padded beyond a feature's length (padding is ignored). Only context
    tokens can start or end a span; the answer is cut from the original context and stripped
    of surrounding whitespace; an example without a valid span gets "".
    """
    n_features = len(features["example_index"])
    if len(start_logits) != n_features or len(end_logits) != n_features:
        raise ValueError(
            f"got {len(start_logits)} start / {len(end_logits)} end logit rows "
            f"for {n_features} features"
        )
    best: dict[int, tuple[float, int, int, int]] = {}
    for i, (index, offsets) in enumerate(
        zip(features["example_index"], features["offset_mapping"], strict=True)
    ):
        first, stop = _context_range(offsets)
        if first >= stop:
            continue
        starts = np.asarray(start_logits[i], dtype=np.float64)[first:stop]
        ends = np.asarray(end_logits[i], dtype=np.float64)[first:stop]
        span = _best_span(starts, ends, n_best, max_answer_length)
        if span is not None and (index not in best or span[0] > best[index][0]):
            best[index] = (span[0], i, span[1] + first, span[2] + first)
    answers: dict[str, str] = {}
    for index, ex in enumerate(examples):
        if index not in best:
            answers[ex.id] = ""
            continue
        _, i, start, end = best[index]
        offsets = features["offset_mapping"][i]
        answers[ex.id] = ex.context[offsets[start][0] : offsets[end][1]].strip()
    return answers
