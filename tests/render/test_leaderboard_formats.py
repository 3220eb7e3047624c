"""The leaderboard's text and data formats (xbench/render/leaderboard_text.py and
leaderboard_data.py) and the dispatch in xbench/render/__init__.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest

from xbench.leaderboard import AVG, GAP, PUBLISHED, Stat, build_leaderboard
from xbench.references import load_references
from xbench.render import LEADERBOARD_FORMATS, FormatError, render_leaderboard
from xbench.render.leaderboard_text import headers, row_cells, stat_text, summary_cells
from xbench.results import load_runs, read_result, write_result
from xbench.tables import AVG_NO_EN

render = render_leaderboard


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    return synthetic.write_all(tmp_path / "results")


def board(results_dir: Path, **kwargs):
    runs, errors = load_runs([results_dir])
    assert not errors
    return build_leaderboard(runs, **kwargs)


def test_latex_csv_json(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/odd_name & 100%", 1, {"en": 10, "de": 10, "fr": 10})
    lb = board(results_dir, references=load_references())
    tex = render(lb, "latex")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}"):
        assert rule in tex
    assert r"org/odd\_name \& 100\%" in tex
    assert r"87.5\,$\pm$\,3.5" in tex
    assert r"\textit{XLM-R Base (Conneau et al., 2020) \textsuperscript{\dag}}" in tex

    rows = list(csv.DictReader(io.StringIO(render(lb, "csv"))))
    avg = next(r for r in rows if (r["table"], r["model"], r["column"]) == ("xnli", "org/big", AVG))
    assert float(avg["mean"]) == pytest.approx(235 / 3, abs=1e-5)
    assert avg["averaged_over"] == "en de fr" and avg["rank"] == "1"
    assert any(r["kind"] == PUBLISHED for r in rows)

    data = json.loads(render(lb, "json"))
    table = data["tables"][0]
    assert table["averaged_over"] == ["en", "de", "fr"]
    first = table["rows"][0]
    assert set(first["cells"]) == {"en", "de", "fr", AVG, AVG_NO_EN, GAP}
    (summary,) = data["summaries"]
    assert summary["split"] == "test" and summary["rows"][0]["kind"] == PUBLISHED
    assert data["format"] == "xbench-leaderboard/2" and table["split"] == "test"
    assert {(r["split"], r["model_id"]) for r in table["rows"] if r["kind"] == PUBLISHED} == {
        ("test", None)
    }


def test_stat_text() -> None:
    assert stat_text(Stat()) == "–"
    assert stat_text(Stat(84.25)) == "84.2"  # round half to even, as printf does
    assert stat_text(Stat(84.26, 0.31)) == "84.3 ± 0.3"
    assert stat_text(Stat(84.26, None, (83.14, 85.06))) == "84.3 [83.1, 85.1]"
    assert stat_text(Stat(84.26, 0.31), digits=2) == "84.26 ± 0.31"


def test_cells_follow_the_headers(results_dir: Path) -> None:
    lb = board(results_dir, references=load_references())
    (table,) = lb.tables
    assert headers(table) == ["#", "model", "seeds", "en", "de", "fr", AVG, AVG_NO_EN, GAP]
    big = next(r for r in table.rows if r.model == "org/big")
    assert row_cells(big, table) == [
        *("1", "org/big", "2", "87.5 ± 3.5", "77.5 ± 3.5", "70.0 ± 0.0"),
        *("78.3 ± 0.0", "73.8 ± 1.8", "13.8 ± 5.3"),
    ]
    base = next(r for r in table.rows if r.kind == PUBLISHED and "Base" in r.model)
    assert row_cells(base, table)[:4] == ["†", "XLM-R Base (Conneau et al., 2020) †", "–", "85.8"]
    (summary,) = lb.summaries
    published = next(r for r in summary.rows if r.kind == PUBLISHED)
    # the only task: a published row has every task, so it gets an overall, but no rank
    assert summary_cells(published, summary) == ["†", f"{published.model} †", "85.7", "85.7"]


def test_markdown_escapes_pipes_in_names(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/a|b", 1, {"en": 10, "de": 10, "fr": 10})
    text = render(board(results_dir), "markdown")
    row = next(line for line in text.splitlines() if "org/a" in line and "xnli" not in line)
    assert "org/a\\|b" in row
    assert len(row.replace("\\|", "").split("|")) == len(text.splitlines()[2].split("|"))


def test_every_format_dispatches_and_an_unknown_one_is_an_error(results_dir: Path) -> None:
    lb = board(results_dir)
    starts = {
        "markdown": "## Summary (test split)",
        "latex": "% xbench leaderboard",
        "csv": "table,split,metric,rank,model,model_id",
        "json": "{",
        "html": "<!DOCTYPE html>",
    }
    assert set(starts) == set(LEADERBOARD_FORMATS)
    for fmt, start in starts.items():
        assert render(lb, fmt).startswith(start), fmt
    with pytest.raises(FormatError, match="unknown format 'yaml'") as info:
        render(lb, "yaml")
    assert info.value.hint == "use one of markdown, latex, csv, json, html"


def _retrain(results_dir: Path, language: str) -> None:
    """Mark every fixture result as trained on `language` (a task type trained elsewhere)."""
    for path in results_dir.rglob("seed*.json"):
        write_result(path, read_result(path).model_copy(update={"train_language": language}))


def test_the_training_language_names_its_average_and_gap(results_dir: Path) -> None:
    _retrain(results_dir, "de")
    lb = board(results_dir)
    (table,) = lb.tables
    assert table.languages == ["de", "en", "fr"]  # the training language first
    assert table.columns[-3:] == [AVG, "avg-de", GAP]
    big = next(r for r in table.rows if r.model == "org/big")
    assert big.cells["avg-de"].mean == pytest.approx(78.75)  # (87.5 + 70) / 2
    assert big.cells[GAP].mean == pytest.approx(77.5 - 78.75)  # de minus avg-de, per seed
    text = render(lb, "markdown")
    assert "avg-de: the same without de; gap: de minus avg-de (the transfer gap)" in text
    assert "avg-en" not in text
    rows = list(csv.DictReader(io.StringIO(render(lb, "csv"))))
    over = {r["column"]: r["averaged_over"] for r in rows if r["model"] == "org/big"}
    assert over["avg-de"] == "de en fr" and over["en"] == ""
    cells = json.loads(render(lb, "json"))["tables"][0]["rows"][0]["cells"]
    assert list(cells) == ["de", "en", "fr", AVG, "avg-de", GAP]


def test_every_format_names_the_split_and_the_readable_model_name(tmp_path: Path) -> None:
    dev = synthetic.write_all(tmp_path / "dev", eval_split="dev")
    checkpoint = "/ckpts/run-a/checkpoint-500"
    synthetic.write_run(dev, checkpoint, 1, {"en": 100, "de": 100, "fr": 100}, eval_split="dev")
    lb = board(dev, references=load_references(), references_on_dev=True)

    text = render(lb, "markdown")
    assert "## Summary (dev split)" in text and "### xnli (dev split, accuracy x100)" in text
    assert "| checkpoint-500 " in text and checkpoint not in text

    tex = render(lb, "latex")
    assert r"\caption{Summary (dev split)}" in tex
    assert r"\caption{xnli (dev split, accuracy x100)}" in tex
    assert r"\textit{XLM-R Base (Conneau et al., 2020) \textsuperscript{\dag} [test]}" in tex

    rows = list(csv.DictReader(io.StringIO(render(lb, "csv"))))
    assert {r["split"] for r in rows if r["kind"] == "measured"} == {"dev"}
    assert {r["split"] for r in rows if r["kind"] == PUBLISHED} == {"test"}  # what the number is
    assert {r["split"] for r in rows if r["table"] == "summary"} == {"dev"}
    ours = {(r["model"], r["model_id"]) for r in rows if r["kind"] == "measured"}
    assert ("checkpoint-500", checkpoint) in ours and ("org/big", "org/big") in ours
    assert {r["model_id"] for r in rows if r["kind"] == PUBLISHED} == {""}

    data = json.loads(render(lb, "json"))
    (table,) = data["tables"]
    assert (table["task"], table["split"], data["summaries"][0]["split"]) == ("xnli", "dev", "dev")
    by_name = {r["model"]: r for r in table["rows"]}
    assert (by_name["checkpoint-500"]["model_id"], by_name["checkpoint-500"]["split"]) == (
        checkpoint,
        "dev",
    )
    assert by_name["XLM-R Base (Conneau et al., 2020)"]["split"] == "test"

    page = render(lb, "html")
    assert "<h2>xnli (dev split, accuracy x100)</h2>" in page and 'id="t-xnli-dev"' in page
    assert "<h2>Summary (dev split)</h2>" in page and 'id="t-summary-dev"' in page
    assert f'data-model="{checkpoint}"' in page and ">checkpoint-500<" in page
