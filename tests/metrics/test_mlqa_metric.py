"""MLQA metric: worked cases per language plus dataset-level behaviour of the official script."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from xbench.metrics import mlqa

CASES_FILE = Path(__file__).resolve().parent / "cases" / "mlqa_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def _case_ids() -> list[str]:
    seen: Counter[str] = Counter()
    ids = []
    for case in CASES:
        ids.append(f"{case['lang']}-{seen[case['lang']]}")
        seen[case["lang"]] += 1
    return ids


@pytest.mark.parametrize("case", CASES, ids=_case_ids())
def test_worked_case(case: dict[str, Any]) -> None:
    lang, pred, golds = case["lang"], case["prediction"], case["golds"]
    em = mlqa.metric_max_over_ground_truths(mlqa.exact_match_score, pred, golds, lang)
    f1 = mlqa.metric_max_over_ground_truths(mlqa.f1_score, pred, golds, lang)
    assert int(em) == case["exact_match"], case["why"]
    assert f1 == pytest.approx(case["f1"], abs=1e-12), case["why"]
    # The harness entry point scores a one-question set as the same values x100.
    scores = mlqa.score_predictions({"q": golds}, {"q": pred}, lang)
    assert scores["exact_match"] == pytest.approx(100.0 * case["exact_match"])
    assert scores["f1"] == pytest.approx(100.0 * case["f1"], abs=1e-9)


def test_cases_cover_every_language() -> None:
    per_lang = Counter(case["lang"] for case in CASES)
    assert set(per_lang) == set(mlqa.LANGUAGES)
    assert min(per_lang.values()) >= 4
    assert all(case["why"].strip() and case["golds"] for case in CASES)


def _qa(qid: str, *answers: str) -> dict[str, Any]:
    return {
        "id": qid,
        "question": "?",
        "answers": [{"text": a, "answer_start": 0} for a in answers],
    }


DATASET: list[dict[str, Any]] = [
    {
        "title": "A",
        "paragraphs": [
            {"context": "...", "qas": [_qa("q1", "Hund"), _qa("q2", "Berlin", "die Stadt Berlin")]},
            {"context": "...", "qas": [_qa("q3", "im Jahr 1990")]},
        ],
    },
    {"title": "B", "paragraphs": [{"context": "...", "qas": [_qa("q4", "Rhein")]}]},
]
GOLDS = {"q1": ["Hund"], "q2": ["Berlin", "die Stadt Berlin"], "q3": ["im Jahr 1990"]}
GOLDS["q4"] = ["Rhein"]
PREDICTIONS = {"q1": "der Hund", "q2": "Stadt", "q3": "1990", "q4": "Main", "extra": "x"}


def test_evaluate_matches_score_predictions_and_hand_value() -> None:
    # q1 EM 1 F1 1; q2 'stadt' vs [stadt, berlin] F1 2/3; q3 [1990] vs [im, jahr, 1990] F1 1/2;
    # q4 0. EM = 100*1/4 = 25; F1 = 100*(1 + 2/3 + 1/2 + 0)/4 = 54.1666...
    result = mlqa.evaluate(DATASET, PREDICTIONS, "de")
    assert result == mlqa.score_predictions(GOLDS, PREDICTIONS, "de")
    assert list(result) == ["exact_match", "f1"]
    assert result["exact_match"] == 25.0
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 / 2) / 4)


def test_missing_prediction_scores_zero_and_is_reported() -> None:
    predictions = {k: v for k, v in PREDICTIONS.items() if k != "q1"}
    missing: list[str] = []
    result = mlqa.evaluate(DATASET, predictions, "de", missing=missing)
    assert missing == ["q1"]
    # q1 still counts in the denominator of 4, with score 0.
    assert result["exact_match"] == 0.0
    assert result["f1"] == pytest.approx(100 * (2 / 3 + 1 / 2) / 4)
    missing_sp: list[str] = []
    assert mlqa.score_predictions(GOLDS, predictions, "de", missing=missing_sp) == result
    assert missing_sp == ["q1"]


def test_all_missing_scores_zero() -> None:
    assert mlqa.evaluate(DATASET, {}, "de") == {"exact_match": 0.0, "f1": 0.0}


def test_language_changes_the_score() -> None:
    assert mlqa.exact_match_score("der Hund", "Hund", "de")
    assert not mlqa.exact_match_score("der Hund", "Hund", "en")
    assert mlqa.exact_match_score("the dog", "dog", "en")
    assert not mlqa.exact_match_score("the dog", "dog", "de")
    # Chinese splits ideographs, whitespace languages keep the word whole.
    assert mlqa.f1_score("北京", "北", "zh") == pytest.approx(2 / 3)
    assert mlqa.f1_score("北京", "北", "en") == 0.0
    # Only Arabic removes 'ال'.
    assert mlqa.normalize_answer("القاهرة", "ar") == "قاهرة"
    assert mlqa.normalize_answer("القاهرة", "hi") == "القاهرة"
    scores = {lang: mlqa.score_predictions(GOLDS, PREDICTIONS, lang) for lang in ("de", "en")}
    assert scores["de"]["exact_match"] == 25.0
    assert scores["en"]["exact_match"] == 0.0


def test_normalize_answer_order_and_tokenisation() -> None:
    # Punctuation goes before article removal, so "the." becomes an article and is dropped.
    assert mlqa.normalize_answer("  The.  BIG,\tdog ", "en") == "big dog"
    assert mlqa.normalize_answer("2008年北京ABC def", "zh") == "2008 年 北 京 abc def"
    # Ideographs above U+9FA5 are not split (the official range stops there).
    assert mlqa.normalize_answer("\u9fa6\u9fa6", "zh") == "\u9fa6\u9fa6"
    # 'ال' is eaten anywhere, splitting a prefixed word in two.
    assert mlqa.normalize_answer("بالبيت", "ar") == "ب بيت"


def test_punctuation_set() -> None:
    punct = mlqa.punctuation()
    assert punct is mlqa.punctuation()
    assert {"$", "^", "`", "|", "¿", "¡", "،", "؟", "।", "。", "，", "《", "》", "„"} <= punct
    assert not {"€", "°", "×", "a", "ا", "\u0640", " "} & punct


def test_punctuation_not_built_at_import() -> None:
    code = (
        "import xbench.metrics.mlqa as m; "
        "print(m.punctuation.cache_info().currsize); "
        "m.normalize_answer('x', 'en'); "
        "print(m.punctuation.cache_info().currsize)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.split() == ["0", "1"]


def test_invalid_input_raises() -> None:
    with pytest.raises(ValueError, match="unknown MLQA language"):
        mlqa.normalize_answer("x", "fr")
    with pytest.raises(ValueError, match="unknown MLQA language"):
        mlqa.evaluate(DATASET, {}, "fr")
    with pytest.raises(ValueError, match="no questions"):
        mlqa.score_predictions({}, {}, "en")
    with pytest.raises(ValueError):
        mlqa.metric_max_over_ground_truths(mlqa.f1_score, "x", [], "en")
