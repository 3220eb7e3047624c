"""`xbench table`'s renderer (xbench/render/tables.py): G-XLT matrices, training-language labels,
formats. tests/test_tables.py checks the numbers of the plain tables."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from xbench.errors import ResultsError
from xbench.render import FormatError, render_table
from xbench.render.tables import pair_matrix
from xbench.results import LanguageResult, RunResult
from xbench.tables import long_frame, score_table

RESULT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "core" / "result.json"
BASE = RunResult.model_validate_json(RESULT_FIXTURE.read_text(encoding="utf-8"))


def make(scores: dict[str, float], seed: int = 1, train_language: str = "en", task: str = "mlqa"):
    languages = {
        lang: LanguageResult(
            scores={"accuracy": value}, examples=10, source={"kind": "local", "path": lang}
        )
        for lang, value in scores.items()
    }
    return BASE.model_copy(
        update={
            "languages": languages,
            "seed": seed,
            "model": "org/m",
            "task": task,
            "train_language": train_language,
        }
    )


def test_pairs_become_a_context_by_question_matrix() -> None:
    result = make({"en": 0.8, "de": 0.6, "de-en": 0.5, "en-de": 0.7, "de-de": 0.6, "en-en": 0.8})
    frame = long_frame([result])
    matrix = pair_matrix(frame[frame["language"].str.len() > 2])
    assert matrix.to_dict() == {
        "de": {"de": "60.0", "en": "70.0"},
        "en": {"de": "50.0", "en": "80.0"},
    }
    text = render_table(frame)
    plain, gxlt = text.split("### mlqa G-XLT, org/m (test split;")
    assert "de-en" not in plain  # pairs never enter the per-language table or its averages
    assert "| org/m   | mlqa   | 1       | 60.0 | 80.0 | 70.0  | 60.0     |" in plain
    assert "rows: context language, columns: question language" in gxlt
    assert "| de        | 60.0 | 50.0 |" in gxlt  # German context: de question 60, en question 50
    csv_text = render_table(frame, "csv")
    assert "# mlqa (test split) G-XLT org/m\ncontext,de,en\nde,60.0,50.0\nen,70.0,80.0" in csv_text


def test_the_average_without_the_training_language_follows_the_results() -> None:
    results = [make({"en": 0.9, "de": 0.8, "fr": 0.6}, train_language="de")]
    frame = long_frame(results, train_language=True)
    text = render_table(frame)
    assert text.startswith(
        "### mlqa (test split; accuracy x100; avg: macro average over languages, avg-de:"
    )
    assert "avg-de: without de)" in text
    (row,) = csv.DictReader(io.StringIO(render_table(frame, "csv")))
    assert list(row)[-2:] == ["avg", "avg-de"]
    assert row["avg-de"] == "75.0"  # (90 + 60) / 2: English is a transfer language here
    english = render_table(long_frame([make({"en": 0.9, "de": 0.8})], train_language=True))
    assert "avg-en: without English)" in english


def test_one_task_with_two_training_languages_is_an_error() -> None:
    results = [make({"en": 0.9, "de": 0.8}, 1, "en"), make({"en": 0.9, "de": 0.8}, 2, "de")]
    frame = long_frame(results, train_language=True)
    assert render_table(frame).count("### mlqa") == 2  # one table per training language
    with pytest.raises(ResultsError, match=r"trained on different languages \(de, en\)"):
        score_table(frame)


def test_unknown_format() -> None:
    with pytest.raises(FormatError, match="unknown format 'xml'"):
        render_table(long_frame([make({"en": 0.9})]), "xml")


def test_pair_matrices_name_their_split() -> None:
    result = make({"en": 0.8, "de-en": 0.5}).model_copy(update={"eval_split": "dev"})
    text = render_table(long_frame([result]))
    assert text.startswith("### mlqa (dev split;")
    assert "### mlqa G-XLT, org/m (dev split; accuracy x100;" in text
    assert "# mlqa (dev split) G-XLT org/m" in render_table(long_frame([result]), "csv")
