"""Leaderboard aggregation, coverage rules, filters, references and the text formats."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest
import typer
import yaml
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest
from typer.testing import CliRunner

from xbench.commands.leaderboard import compare, leaderboard, render
from xbench.errors import XbenchError
from xbench.leaderboard import (
    AVG,
    AVG_NO_EN,
    GAP,
    PUBLISHED,
    LeaderboardError,
    build_leaderboard,
    load_references,
)
from xbench.results import load_runs

REPO = Path(__file__).resolve().parents[1]

SD = math.sqrt(12.5)  # sample std of two seeds 5 points apart


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    return synthetic.write_all(tmp_path / "results")


def board(results_dir: Path, **kwargs):
    runs, errors = load_runs([results_dir])
    assert not errors
    return build_leaderboard(runs, **kwargs)


def app() -> typer.Typer:
    cli = typer.Typer(pretty_exceptions_enable=False)
    cli.command("leaderboard")(leaderboard)
    cli.command("compare")(compare)
    return cli


def test_exact_numbers_and_ranking(results_dir: Path) -> None:
    lb = board(results_dir)
    (table,) = lb.tables
    assert (table.task, table.metric) == ("xnli", "accuracy")
    assert table.languages == ["en", "de", "fr"]
    assert table.averaged_over == ["en", "de", "fr"]
    big, small = table.rows
    assert [big.model, small.model] == ["org/big", "org/small"]
    assert (big.rank, small.rank, big.seeds) == (1, 2, 2)
    assert big.cells["en"].mean == pytest.approx(87.5)
    assert big.cells["en"].std == pytest.approx(SD)
    assert big.cells["fr"].std == pytest.approx(0.0)
    assert big.cells[AVG].mean == pytest.approx(235 / 3)  # both seeds average 78.33
    assert big.cells[AVG].std == pytest.approx(0.0)
    assert big.cells[AVG_NO_EN].mean == pytest.approx(73.75)
    assert big.cells[GAP].mean == pytest.approx(13.75)  # seeds: 90-72.5, 85-75
    assert big.cells[GAP].std == pytest.approx(math.sqrt(28.125))
    assert small.cells[AVG].mean == pytest.approx(57.5)
    assert small.cells[GAP].mean == pytest.approx(30.0)
    assert [r.model for r in lb.summary] == ["org/big", "org/small"]
    assert lb.summary[0].overall == pytest.approx(235 / 3)
    assert lb.summary[0].rank == 1


def test_rules_are_stated_under_every_table(results_dir: Path) -> None:
    text = render(board(results_dir), "markdown")
    assert "| 1   | org/big" in text
    assert "87.5 ± 3.5" in text and "78.3 ± 0.0" in text
    assert "macro average over the 3 languages en de fr" in text
    assert "gap: en minus avg-en" in text
    assert "mean ± sample std over seeds" in text
    assert "overall: unweighted mean of the 1 task averages" in text


def test_coverage_is_flagged_and_averages_use_shared_languages(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/partial", 1, {"en": 100, "de": 100})
    lb = board(results_dir)
    (table,) = lb.tables
    assert table.languages == ["en", "de", "fr"]
    assert table.averaged_over == ["en", "de"]
    rows = {r.model: r for r in table.rows}
    assert rows["org/big"].cells[AVG].mean == pytest.approx(82.5)  # (90+75)/2 and (85+80)/2
    assert rows["org/partial"].cells["fr"].mean is None
    warning = next(n for n in table.notes if "cover different languages" in n)
    assert "org/partial lacks fr" in warning
    assert "only the 2 languages all measured rows share" in warning
    assert "–" in render(lb, "markdown")


def test_language_missing_in_one_seed_is_reported(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/gappy", 1, {"en": 100, "de": 100, "fr": 100})
    synthetic.write_run(results_dir, "org/gappy", 2, {"en": 100, "de": 100})
    (table,) = board(results_dir).tables
    assert table.averaged_over == ["en", "de"]
    assert any("org/gappy: fr missing in some seeds" in n for n in table.notes)


def test_filters(results_dir: Path) -> None:
    synthetic.write_all(results_dir, task="pawsx")
    lb = board(results_dir, tasks=["pawsx"], models=["org/b*"], languages=["en", "de"])
    (table,) = lb.tables
    assert table.task == "pawsx"
    assert [r.model for r in table.rows] == ["org/big"]
    assert table.languages == ["en", "de"]
    assert table.rows[0].cells[AVG].mean == pytest.approx(82.5)
    with pytest.raises(LeaderboardError, match="Did you mean 'xnli'"):
        board(results_dir, tasks=["xnlj"])
    with pytest.raises(LeaderboardError, match="no results for model"):
        board(results_dir, models=["org/nope"])
    with pytest.raises(LeaderboardError, match="language 'sw'"):
        board(results_dir, languages=["sw"])


def test_summary_overall_only_for_models_with_every_task(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/big", 1, {"en": 100, "de": 100}, task="pawsx")
    lb = board(results_dir)
    rows = {r.model: r for r in lb.summary}
    assert rows["org/big"].overall == pytest.approx((235 / 3 + 50) / 2)
    assert rows["org/small"].overall is None and rows["org/small"].rank is None


def test_published_rows_are_marked_and_recomputed(results_dir: Path) -> None:
    lb = board(results_dir, references=load_references())
    (table,) = lb.tables
    published = [r for r in table.rows if r.kind == PUBLISHED]
    assert {r.model for r in published} == {
        "XLM-R Base (Conneau et al., 2020)",
        "XLM-R Large (Conneau et al., 2020)",
    }
    base = next(r for r in published if "Base" in r.model)
    assert base.rank is None and base.label.endswith("†")
    assert base.cells["de"].mean == 78.7
    assert base.cells[AVG].mean == pytest.approx((85.8 + 78.7 + 79.7) / 3)
    assert [r.rank for r in table.rows if r.kind != PUBLISHED] == [1, 2]
    notes = " ".join(table.notes)
    assert "arXiv:1911.02116" in notes and "Table 1" in notes
    assert "printed average 76.2 over 15 languages" in notes


def test_reference_file_is_complete_and_consistent() -> None:
    refs = load_references()
    tasks = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "tasks").glob("*.yaml")}
    assert {(r.task, r.model) for r in refs} >= {
        ("xnli", "XLM-R Base (Conneau et al., 2020)"),
        ("xnli", "XLM-R Large (Conneau et al., 2020)"),
        ("mlqa", "XLM-R Large (Conneau et al., 2020)"),
        ("pawsx", "XLM-R Large (Hu et al., 2020)"),
        ("pawsx", "mBERT (Hu et al., 2020)"),
    }
    for ref in refs:
        assert ref.citation and ref.table and ref.verified_from
        assert "arXiv:" in ref.citation
        if ref.task in tasks:
            assert set(ref.scores[tasks[ref.task]["metric"]]) == set(tasks[ref.task]["languages"])
        for metric, values in ref.scores.items():
            assert all(0 < v <= 100 for v in values.values())
            mean = sum(values.values()) / len(values)
            assert abs(mean - ref.avg[metric]) < 0.1, (ref.model, ref.task, metric)


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
    assert data["summary"]["rows"][0]["kind"] == PUBLISHED


def test_duplicate_runs_are_an_error(results_dir: Path) -> None:
    runs, _ = load_runs([results_dir, results_dir])
    with pytest.raises(LeaderboardError, match="two results for"):
        build_leaderboard(runs)


def test_cross_lingual_pairs_stay_out_of_the_table(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/big", 3, {"en": 170, "de": 150, "fr": 140, "de-en": 1})
    (table,) = board(results_dir).tables
    assert "de-en" not in table.languages
    assert any("G-XLT" in n for n in table.notes)


def test_cli_leaderboard(results_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "site" / "board.json"
    result = runner.invoke(
        app(), ["leaderboard", str(results_dir), "--format", "json", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [r["model"] for r in data["tables"][0]["rows"]][-2:] == ["org/big", "org/small"]
    result = runner.invoke(app(), ["leaderboard", str(results_dir), "--no-references"])
    assert result.exit_code == 0 and "Conneau" not in result.stdout
    assert "| 1   | org/big" in result.stdout
    result = runner.invoke(app(), ["leaderboard", str(results_dir), "--format", "yaml"])
    assert isinstance(result.exception, XbenchError) and "unknown format" in str(result.exception)
    result = runner.invoke(app(), ["leaderboard", str(tmp_path / "missing")])
    assert isinstance(result.exception, XbenchError)


def test_cli_skips_corrupt_files_with_a_warning(results_dir: Path) -> None:
    bad = results_dir / "org--bad" / "xnli" / "seed1.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    result = CliRunner().invoke(app(), ["leaderboard", str(results_dir)])
    assert result.exit_code == 0
    assert "warning: skipped corrupt result file" in result.stderr
    assert bad.exists()
