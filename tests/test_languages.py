"""Language keys: plain codes and context-question pairs, checking what the user asks for,
column order, and XTREME's two averages."""

from __future__ import annotations

import pytest

from xbench.errors import TaskError
from xbench.languages import (
    AVG,
    all_pairs,
    averages,
    check_languages,
    context_language,
    is_pair,
    ordered,
    pair_key,
    parse,
    placeholders,
    transfer_languages,
    without_training,
)

MLQA = ["en", "es", "de", "ar", "hi", "vi", "zh"]


def test_is_pair() -> None:
    assert is_pair("de-en")
    assert not is_pair("de")
    assert not is_pair(AVG)


def test_parse_and_pair_key_round_trip() -> None:
    assert parse("de") == ("de", "de")
    assert parse("de-en") == ("de", "en")
    assert pair_key("zh", "hi") == "zh-hi"
    for key in all_pairs(MLQA):
        assert pair_key(*parse(key)) == key


def test_context_language_is_the_first_of_a_pair() -> None:
    assert context_language("zh-en") == "zh"
    assert context_language("en-zh") == "en"
    assert context_language("vi") == "vi"


def test_placeholders() -> None:
    assert placeholders("de") == {"lang": "de", "context": "de", "question": "de"}
    assert placeholders("de-en") == {"lang": "de", "context": "de", "question": "en"}
    pattern = "dev-context-{context}-question-{question}.json"
    assert pattern.format(**placeholders("ar-hi")) == "dev-context-ar-question-hi.json"


def test_all_pairs_is_the_context_major_matrix() -> None:
    pairs = all_pairs(MLQA)
    assert len(pairs) == 49 == len(set(pairs))
    assert pairs[:7] == [f"en-{q}" for q in MLQA]
    assert pairs[7] == "es-en"
    assert {p for p in pairs if parse(p)[0] == parse(p)[1]} == {f"{c}-{c}" for c in MLQA}
    assert all_pairs(["en"]) == ["en-en"]
    assert all_pairs([]) == []


# --- check_languages ---------------------------------------------------------------------------


@pytest.mark.parametrize("wanted", [None, []])
def test_nothing_wanted_means_every_known_language(wanted) -> None:
    known = ["en", "de", "fr"]
    got = check_languages("t", known, wanted)
    assert got == known
    got.append("xx")
    assert known == ["en", "de", "fr"]  # a copy, not the task's own list


def test_duplicates_are_dropped_keeping_the_first_order() -> None:
    assert check_languages("t", ["en", "de", "fr"], ["fr", "en", "fr", "de", "en"]) == [
        "fr",
        "en",
        "de",
    ]


def test_unknown_language_suggests_the_closest() -> None:
    with pytest.raises(TaskError) as err:
        check_languages("xnli", ["en", "de", "fr"], ["en", "fra"])
    assert err.value.message.startswith("unknown language 'fra' for task xnli.")
    assert "Did you mean 'fr'?" in err.value.message
    assert err.value.hint == "languages of xnli: en, de, fr"


def test_unknown_language_without_close_match() -> None:
    with pytest.raises(TaskError) as err:
        check_languages("xnli", ["en", "de"], ["qqqq"])
    assert "Did you mean" not in err.value.message


def test_pairs_only_where_the_task_has_pairs() -> None:
    with pytest.raises(TaskError, match="unknown language 'de-en'"):
        check_languages("xnli", ["en", "de"], ["de-en"])
    assert check_languages("mlqa", MLQA, ["de-en", "en", "de-en"], pairs=True) == ["de-en", "en"]
    with pytest.raises(TaskError, match="unknown language 'de-fr'"):
        check_languages("mlqa", MLQA, ["de-fr"], pairs=True)  # fr is not a language of mlqa
    with pytest.raises(TaskError) as err:
        check_languages("mlqa", MLQA, ["de-enn"], pairs=True)
    assert "Did you mean 'de-en'?" in err.value.message


# --- order and averages ------------------------------------------------------------------------


def test_ordered_puts_the_training_language_first() -> None:
    assert ordered(["fr", "en", "de", "fr"]) == ["en", "de", "fr"]
    assert ordered(["fr", "en", "de"], "de") == ["de", "en", "fr"]
    assert ordered(["fr", "de"], "en") == ["de", "fr"]  # no training language: alphabetical
    assert ordered([]) == []


def test_without_training() -> None:
    assert without_training("en") == "avg-en"
    assert without_training("de") == "avg-de"


def test_transfer_languages_keep_order() -> None:
    assert transfer_languages(["fr", "en", "de"], "en") == ["fr", "de"]


def test_averages_with_the_training_language() -> None:
    avg, zero_shot = averages({"en": 0.9, "de": 0.6, "fr": 0.3}, "en")
    assert avg == pytest.approx(0.6)
    assert zero_shot == pytest.approx(0.45)


def test_averages_without_the_training_language() -> None:
    """Every language is a transfer language, so there is no second average."""
    assert averages({"de": 0.6, "fr": 0.4}, "en") == (pytest.approx(0.5), None)


def test_averages_of_the_training_language_alone() -> None:
    assert averages({"en": 0.7}, "en") == (pytest.approx(0.7), None)


def test_averages_ignore_pair_keys() -> None:
    scores = {"en": 1.0, "de-en": 0.0, "de": 0.5, "en-de": 0.0}
    avg, zero_shot = averages(scores, "en")
    assert avg == pytest.approx(0.75)
    assert zero_shot == pytest.approx(0.5)


@pytest.mark.parametrize("scores", [{}, {"de-en": 0.4, "en-de": 0.2}])
def test_averages_of_nothing_are_none(scores) -> None:
    assert averages(scores, "en") == (None, None)


def test_averages_with_another_training_language() -> None:
    avg, zero_shot = averages({"en": 0.2, "de": 1.0, "fr": 0.6}, "de")
    assert avg == pytest.approx(0.6)
    assert zero_shot == pytest.approx(0.4)
