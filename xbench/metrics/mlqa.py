"""MLQA extractive-QA scoring: exact match and token F1 with per-language normalisation.

Source of the rule: MLQA's official evaluation script, ``mlqa_evaluation_v1.py`` in
facebookresearch/MLQA (evaluation version 1.0, the version MLQA and XTREME report; XTREME vendors
it unchanged as ``third_party/evaluate_mlqa.py``). This module reproduces its scores exactly, in
typed code; it prints nothing and reports unanswered questions through an optional list instead.

Why the normalisation is per language: SQuAD's English-only rule (lowercase, drop punctuation,
drop "a/an/the", split on whitespace) would be wrong elsewhere. Each language has its own
article list, and Chinese, written without spaces, would make a whole answer one token so that F1
collapsed to exact match; the script splits CJK ideographs into one-character tokens instead. The
answer language therefore changes the score: "der Hund" vs "Hund" is an exact match in German but
not in English, and "北京" vs "北" overlaps in Chinese but not in English.

The normalisation, in the official order: ``lower`` -> remove punctuation -> remove articles ->
tokenise and rejoin with single spaces. Punctuation is every character whose Unicode category
starts with "P", plus ASCII ``string.punctuation``. Articles:

* en ``\\b(a|an|the)\\b``; es ``\\b(un|una|unos|unas|el|la|los|las)\\b``;
  de ``\\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\\b``;
  vi ``\\b(của|là|cái|chiếc|những)\\b``; ar ``\\sال^|ال``; hi and zh: none.
* Tokeniser: zh uses mixed segmentation (each char in U+4E00..U+9FA5 is its own token, the rest is
  split on whitespace); en, es, de, ar, hi and vi split on whitespace.

Surprising behaviours of the official script, kept on purpose because they define the numbers:

* Arabic: the alternative ``\\sال^`` can never match (``^`` after consumed text), so every
  occurrence of the two letters "ال" is replaced by a space, also mid-word and word-finally:
  "بالقاهرة" becomes the two tokens "ب قاهرة", and "رجال" becomes "رج".
* Punctuation is removed before tokenising and is deleted, not replaced by a space, so it joins
  words: "well-known" -> "wellknown", "U.S." -> "us", "مصر،لبنان" is one token. Hence the
  punctuation branch of the Chinese segmenter is unreachable.
* Symbols are kept unless ASCII: "$", "+", "^" go (they are in ``string.punctuation``) but "€",
  "°", "×" stay as tokens.
* Only U+4E00..U+9FA5 is split for Chinese: CJK Extension A, ideographs above U+9FA5, kana and
  full-width digits or Latin stay glued together ("２００８年" -> "２００８ 年", which does not
  match "2008 年").
* An answer that normalises to nothing (e.g. "the" in English, "ال" in Arabic) scores exact match
  1 against an empty prediction but F1 0, because F1 is 0 whenever no token overlaps.
* English "a" is removed even when it is a name ("Vitamin A" == "vitamin"); the Vietnamese list
  includes non-articles such as "là" (copula) and "của" (of), while Spanish "del"/"al" are kept.
  Lowercasing runs first, so capitalised articles are removed too.
* No Unicode normalisation (NFC/NFKC) or accent folding: "Việt" != "Viet", decomposed Vietnamese
  text misses the (precomposed) article patterns, and "straße" != "strasse".
* The punctuation set depends on the Unicode database of the running Python.
* Predictions for ids not in the dataset are ignored; questions without a prediction count in the
  denominator with score 0. F1 is summed in question order, as the script does.

Deliberate differences, all on invalid input only: an unknown language raises ``ValueError`` up
front (the script raises a bare ``Exception``, and only once it scores a prediction), and an
empty dataset raises ``ValueError`` (the script divides by zero).
"""

from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypedDict, TypeVar

__all__ = [
    "LANGUAGES",
    "MLQAScores",
    "evaluate",
    "exact_match_score",
    "f1_score",
    "metric_max_over_ground_truths",
    "normalize_answer",
    "punctuation",
    "score_predictions",
]

LANGUAGES: tuple[str, ...] = ("en", "es", "de", "ar", "hi", "vi", "zh")
"""The answer languages the official script accepts."""

_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    # Official pattern verbatim; the first alternative never matches (see module docstring).
    "ar": re.compile(r"\sال^|ال"),
    "hi": None,
    "zh": None,
}
_MIXED_SEGMENTATION_LANGS = frozenset({"zh"})
_CJK = re.compile(r"[\u4e00-\u9fa5]")

_Score = TypeVar("_Score", bool, float)


class MLQAScores(TypedDict):
    """The official script's result: both values are percentages (0-100)."""

    exact_match: float
    f1: float


@functools.cache
def punctuation() -> frozenset[str]:
    """Characters the script deletes: Unicode category P* plus ``string.punctuation``.

    Built on first use (about 0.3 s over all code points), not at import.
    """
    # range(sys.maxunicode) as in the script: U+10FFFF itself is excluded (it is not P* anyway).
    unicode_p = (chr(i) for i in range(sys.maxunicode))
    return frozenset(c for c in unicode_p if unicodedata.category(c).startswith("P")).union(
        string.punctuation
    )


def _check_lang(lang: str) -> None:
    if lang not in _ARTICLES:
        raise ValueError(f"unknown MLQA language {lang!r}; expected one of {LANGUAGES}")


def _mixed_segmentation(text: str, punct: frozenset[str]) -> Iterator[str]:
    """Yield each U+4E00..U+9FA5 (or punctuation) char alone; whitespace-split the runs between."""
    run_start = 0
    for i, char in enumerate(text):
        if _CJK.match(char) or char in punct:
            yield from text[run_start:i].split()
            yield char
            run_start = i + 1
    yield from text[run_start:].split()


def normalize_answer(text: str, lang: str) -> str:
    """Lowercase, drop punctuation, drop ``lang``'s articles, re-tokenise and join with spaces."""
    _check_lang(lang)
    punct = punctuation()
    text = "".join(c for c in text.lower() if c not in punct)
    articles = _ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    if lang in _MIXED_SEGMENTATION_LANGS:
        tokens: Iterable[str] = _mixed_segmentation(text, punct)
    else:
        tokens = text.split()
    return " ".join(t for t in tokens if t.strip())


def exact_match_score(prediction: str, ground_truth: str, lang: str) -> bool:
    """Whether both strings normalise to the same text."""
    return normalize_answer(prediction, lang) == normalize_answer(ground_truth, lang)


def f1_score(prediction: str, ground_truth: str, lang: str) -> float:
    """Token F1 (multiset overlap) of the normalised strings; 0.0 when nothing overlaps."""
    pred_tokens = normalize_answer(prediction, lang).split()
    gold_tokens = normalize_answer(ground_truth, lang).split()
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def metric_max_over_ground_truths(
    metric_fn: Callable[[str, str, str], _Score],
    prediction: str,
    ground_truths: Iterable[str],
    lang: str,
) -> _Score:
    """Best score of ``prediction`` against any gold answer (``ValueError`` if there are none)."""
    return max(metric_fn(prediction, gold, lang) for gold in ground_truths)


def _score(
    questions: Iterable[tuple[str, Sequence[str]]],
    predictions: Mapping[str, str],
    lang: str,
    missing: list[str] | None,
) -> MLQAScores:
    """Average EM/F1 (x100) over ``(qid, gold answers)`` in order; unanswered ones score 0."""
    _check_lang(lang)
    total = 0
    exact_match = 0
    f1 = 0.0
    for qid, golds in questions:
        total += 1
        if qid not in predictions:
            if missing is not None:
                missing.append(qid)
            continue
        prediction = predictions[qid]
        exact_match += metric_max_over_ground_truths(exact_match_score, prediction, golds, lang)
        f1 += metric_max_over_ground_truths(f1_score, prediction, golds, lang)
    if total == 0:
        raise ValueError("no questions to score")
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def _squad_questions(dataset: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield qa["id"], [answer["text"] for answer in qa["answers"]]


def evaluate(
    dataset: Iterable[Mapping[str, Any]],
    predictions: Mapping[str, str],
    lang: str,
    *,
    missing: list[str] | None = None,
) -> MLQAScores:
    """Score ``predictions`` on a SQuAD-format ``data`` list, as the official ``evaluate``.

    ``lang`` is the answer (context) language. Questions with no prediction score 0; their ids are
    appended, in dataset order, to ``missing`` when a list is given.
    """
    return _score(_squad_questions(dataset), predictions, lang, missing)


def score_predictions(
    golds: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    lang: str,
    *,
    missing: list[str] | None = None,
) -> MLQAScores:
    """Same as :func:`evaluate`, with gold answers given as ``{qid: [answer text, ...]}``.

    Questions are taken in ``golds`` order, so a dict built in dataset order gives bit-identical
    numbers to :func:`evaluate`.
    """
    return _score(golds.items(), predictions, lang, missing)
