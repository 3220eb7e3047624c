"""Tables: x100 scores, mean ± sample std over seeds, XTREME's avg and avg-en, CSV output."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from xbench.errors import ResultsError
from xbench.render.tables import format_table, render
from xbench.results import LanguageResult, RunResult
from xbench.tables import AVG, AVG_NO_EN, long_frame, model_labels, score_table

RESULT_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "core" / "result.json"
BASE = RunResult.model_validate_json(RESULT_FIXTURE.read_text(encoding="utf-8"))


def make(scores: dict[str, float], seed: int = 1, model: str = "org/m", task: str = "xnli"):
    languages = {
        lang: LanguageResult(
            scores={"accuracy": value}, examples=10, source={"kind": "local", "path": lang}
        )
        for lang, value in scores.items()
    }
    return BASE.model_copy(
        update={"languages": languages, "seed": seed, "model": model, "task": task}
    )


def _cells(results: list[RunResult]) -> list[dict[str, str]]:
    table = format_table(long_frame(results))
    return table.astype(str).to_dict("records")


def test_long_frame_scales_by_100() -> None:
    frame = long_frame([make({"en": 0.9, "de": 0.805})])
    assert list(frame.columns) == [
        "model", "name", "task", "split", "metric", "seed", "language", "score", "train_language"
    ]  # fmt: skip
    assert set(frame["split"]) == {"test"} and set(frame["name"]) == {"org/m"}
    assert set(frame["train_language"]) == {"en"}
    scores = dict(zip(frame["language"], frame["score"], strict=True))
    assert scores == {"en": pytest.approx(90.0), "de": pytest.approx(80.5)}
    assert set(frame["metric"]) == {"accuracy"}


def test_mean_and_std_over_seeds() -> None:
    rows = _cells([make({"de": 0.80, "en": 0.90}, seed=1), make({"de": 0.82, "en": 0.90}, seed=2)])
    assert len(rows) == 1
    row = rows[0]
    assert row["seeds"] == "2"
    assert row["de"] == "81.0 ± 1.4"
    assert row["en"] == "90.0 ± 0.0"
    # per-seed averages 85.0 and 86.0 -> mean 85.5, sample std 0.707
    assert row[AVG] == "85.5 ± 0.7"
    assert row[AVG_NO_EN] == "81.0 ± 1.4"


def test_sample_std_not_population_std() -> None:
    results = [make({"de": v}, seed=i) for i, v in enumerate([0.70, 0.80, 0.90], start=1)]
    mean, std, count = score_table(long_frame(results))
    assert mean["de"].iloc[0] == pytest.approx(80.0)
    assert std["de"].iloc[0] == pytest.approx(10.0)  # ddof=1; population std would be 8.16
    assert int(count["seeds"].iloc[0]) == 3
    assert _cells(results)[0]["de"] == "80.0 ± 10.0"


def test_single_seed_has_no_plus_minus() -> None:
    row = _cells([make({"de": 0.8123, "en": 0.9})])[0]
    assert row["seeds"] == "1"
    assert row["de"] == "81.2"
    assert "±" not in "".join(row.values())


def test_xtreme_macro_averages() -> None:
    row = _cells([make({"en": 0.90, "de": 0.80, "fr": 0.70, "sw": 0.60})])[0]
    assert row[AVG] == "75.0"  # (90 + 80 + 70 + 60) / 4
    assert row[AVG_NO_EN] == "70.0"  # (80 + 70 + 60) / 3, English left out


def test_averages_are_macro_not_weighted_by_examples() -> None:
    result = make({"en": 1.0, "de": 0.5})
    result.languages["en"].examples = 1000
    row = _cells([result])[0]
    assert row[AVG] == "75.0"
    assert row[AVG_NO_EN] == "50.0"


def test_column_order_languages_then_averages() -> None:
    table = format_table(long_frame([make({"en": 0.9, "de": 0.8, "ar": 0.7})]))
    assert list(table.columns) == [
        *("model", "model_id", "task", "split", "seeds", "ar", "de", "en", AVG, AVG_NO_EN)
    ]


def test_missing_language_shows_dash() -> None:
    rows = _cells(
        [
            make({"en": 0.9, "de": 0.8, "fr": 0.7}, model="a"),
            make({"en": 0.9, "de": 0.8}, model="b"),
        ]
    )
    by_model = {r["model"]: r for r in rows}
    assert by_model["a"]["fr"] == "70.0"
    assert by_model["b"]["fr"] == "–"
    assert by_model["b"]["de"] == "80.0"
    assert by_model["a"][AVG] == "80.0"


def test_csv_output_parses() -> None:
    text = render(
        long_frame(
            [make({"de": 0.80, "en": 0.90}, seed=1), make({"de": 0.82, "en": 0.90}, seed=2)]
        ),
        fmt="csv",
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == ["model", "model_id", "task", "split", "seeds", "de", "en", AVG, AVG_NO_EN]
    assert row["model"] == row["model_id"] == "org/m"
    assert (row["task"], row["split"]) == ("xnli", "test")
    assert row["seeds"] == "2"
    assert row["de"] == "81.0 ± 1.4"
    assert row[AVG] == "85.5 ± 0.7"


def test_markdown_output() -> None:
    text = render(long_frame([make({"de": 0.812, "en": 0.934})]))
    assert text.startswith("### xnli (test split; accuracy x100")
    assert "| model" in text
    assert "org/m" in text
    for cell in ("81.2", "93.4", "87.3", "81.2"):
        assert cell in text


def test_markdown_keeps_one_decimal() -> None:
    """Cells are formatted with one decimal ('80.0'); the markdown table must show them as
    formatted, not re-parse them as numbers (which prints '80')."""
    text = render(long_frame([make({"de": 0.80, "en": 0.90})]))
    row = next(line for line in text.splitlines() if line.startswith("| org/m"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["org/m", "xnli", "1", "80.0", "90.0", "85.0", "80.0"]


def test_one_table_per_task() -> None:
    text = render(long_frame([make({"en": 0.903}), make({"en": 0.705}, task="pawsx")]))
    assert text.index("### pawsx") < text.index("### xnli")
    pawsx, xnli = text.split("### xnli")
    assert "70.5" in pawsx and "90.3" not in pawsx
    assert "90.3" in xnli and "70.5" not in xnli


def test_no_results() -> None:
    assert render(long_frame([])) == "(no results)"


def test_metric_not_present_is_dropped() -> None:
    frame = long_frame([make({"de": 0.8})], metric="f1")
    assert frame.empty


def test_english_only_avg_en_is_missing() -> None:
    mean, _, _ = score_table(long_frame([make({"en": 0.9})]))
    assert mean[AVG].iloc[0] == pytest.approx(90.0)
    assert math.isnan(mean[AVG_NO_EN].iloc[0])


# --- labels, splits ------------------------------------------------------------------------------


def test_model_labels() -> None:
    assert model_labels([("org/m", "org/m"), ("/x/ck", "ck")]) == (
        {"org/m": "org/m", "/x/ck": "ck"},
        [],
    )
    labels, warnings = model_labels(
        [("/a/run/ck", "ck"), ("/b/run/ck", "ck"), ("/c/ck", "mine"), ("/d/ck", "mine")]
    )
    assert labels == {
        "/a/run/ck": "a/run/ck",  # 'run/ck' is the end of both paths
        "/b/run/ck": "b/run/ck",
        "/c/ck": "mine (c/ck)",  # a --name keeps its name, the path tells them apart
        "/d/ck": "mine (d/ck)",
    }
    assert len(warnings) == 2 and "share the name 'ck'" in warnings[0]
    # a hub id keeps its id; a path named like it gets its own label
    labels, _ = model_labels([("org/m", "org/m"), ("/x/m", "org/m")])
    assert labels == {"org/m": "org/m", "/x/m": "org/m (x/m)"}  # "m" is the end of both
    # one model under several names: the most common is used, and said so
    labels, (warning,) = model_labels([("org/m", "b"), ("org/m", "a"), ("org/m", "b")])
    assert labels == {"org/m": "b"} and "several names (a, b)" in warning
    # a label that still clashes with another model's falls back to the full id
    labels, _ = model_labels([("/p/ck", "ck"), ("/q/ck", "ck"), ("hub", "p/ck")])
    assert len(set(labels.values())) == 3 and labels["/p/ck"] == "/p/ck"


def test_dev_results_are_their_own_table_and_never_averaged_with_test() -> None:
    dev = make({"en": 0.5, "de": 0.4}, seed=1).model_copy(update={"eval_split": "dev"})
    test = make({"en": 0.9, "de": 0.8}, seed=1)
    text = render(long_frame([test, dev]))
    assert text.index("### xnli (test split;") < text.index("### xnli (dev split;")
    dev_part = text.split("### xnli (dev split;")[1]
    assert "45.0" in dev_part and "85.0" not in dev_part  # avg of the dev seed only
    rows = list(csv.DictReader(io.StringIO(render(long_frame([dev]), fmt="csv"))))
    assert [(r["split"], r[AVG]) for r in rows] == [("dev", "45.0")]
    with pytest.raises(ResultsError, match="mix the dev and test splits"):
        score_table(long_frame([test, dev]))


def test_rows_show_the_readable_name_and_keep_the_full_id() -> None:
    a = make({"en": 0.9}, model="/ckpts/run-a/checkpoint-500")
    b = make({"en": 0.8}, model="/ckpts/run-b/checkpoint-500")
    named = make({"en": 0.7}, model="/ckpts/x").model_copy(update={"name": "my model"})
    text = render(long_frame([a, named]))
    assert "| checkpoint-500 " in text and "| my model " in text and "/ckpts" not in text
    rows = list(csv.DictReader(io.StringIO(render(long_frame([a, named]), fmt="csv"))))
    assert {(r["model"], r["model_id"]) for r in rows} == {
        ("checkpoint-500", "/ckpts/run-a/checkpoint-500"),
        ("my model", "/ckpts/x"),
    }
    both = render(long_frame([a, b]))
    assert "| run-a/checkpoint-500 " in both and "| run-b/checkpoint-500 " in both
    assert "- Warning: 2 different models share the name 'checkpoint-500'" in both
