"""`xbench compare`'s renderer (xbench/render/comparisons.py) on the synthetic fixture."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest

from xbench.render import FormatError, render_comparisons
from xbench.render.comparisons import COMPARE_HEADERS, CSV_KEYS, comparison_rows, render
from xbench.results import load_runs
from xbench.stats import StatsError, compare_runs


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory):
    results = synthetic.write_all(tmp_path_factory.mktemp("cmp") / "results")
    runs, _ = load_runs([results])
    big = [(p, r) for p, r in runs if r.model == "org/big"]
    small = [(p, r) for p, r in runs if r.model == "org/small"]
    return compare_runs(big, small, samples=1000, seed=0)


def test_rows(comparison) -> None:
    rows = comparison_rows(comparison)
    assert [r[0] for r in rows] == ["en", "de", "fr", "avg"]
    assert all(len(r) == len(COMPARE_HEADERS) for r in rows)
    de = dict(zip(COMPARE_HEADERS, rows[1], strict=True))
    assert (de["n"], de["A"], de["B"], de["Δ (A−B)"]) == ("200", "77.5", "52.5", "+25.0")
    assert de["95% CI of Δ"].startswith("[+") and de["sig"] == "*"
    avg = dict(zip(COMPARE_HEADERS, rows[-1], strict=True))
    assert (avg["n"], avg["A"], avg["B"], avg["p (Holm)"]) == ("600", "78.3", "57.5", "")


def test_markdown_csv_json_show_the_same_rows(comparison) -> None:
    rows = comparison_rows(comparison)
    text = render_comparisons([comparison], "markdown")
    assert text.startswith("### xnli (test split): org/big (A) vs org/small (B)\n\n| language ")
    assert "- Δ = A − B in accuracy x100 on the test split" in text and "Holm-Bonferroni" in text
    parsed = list(csv.reader(io.StringIO(render_comparisons([comparison], "csv"))))
    ids = ["org/big", "org/small", "org/big", "org/small"]
    assert parsed[0] == [*CSV_KEYS, *COMPARE_HEADERS]
    assert parsed[0][:6] == ["task", "split", "model_a", "model_b", "model_a_id", "model_b_id"]
    assert parsed[1:] == [["xnli", "test", *ids, *r] for r in rows]
    (payload,) = json.loads(render_comparisons([comparison], "json"))
    assert (payload["split"], payload["model_a"], payload["model_b_id"]) == (
        "test",
        "org/big",
        "org/small",
    )
    assert payload["notes"] == comparison.notes
    assert [list(r.values()) for r in payload["rows"]] == rows


def test_unknown_format(comparison) -> None:
    with pytest.raises(FormatError, match="unknown format 'latex'"):
        render_comparisons([comparison], "latex")
    with pytest.raises(StatsError, match="unknown format 'latex'"):
        render([comparison], "latex")
