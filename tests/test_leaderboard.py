"""Leaderboard aggregation, coverage rules, filters and published rows (formats: tests/render/)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest

from xbench.leaderboard import (
    AVG,
    GAP,
    PUBLISHED,
    CIOptions,
    LeaderboardError,
    build_leaderboard,
)
from xbench.references import load_references
from xbench.render import render_leaderboard as render
from xbench.results import load_runs, read_result, write_result
from xbench.tables import AVG_NO_EN

REPO = Path(__file__).resolve().parents[1]

SD = math.sqrt(12.5)  # sample std of two seeds 5 points apart


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    return synthetic.write_all(tmp_path / "results")


def board(results_dir: Path, **kwargs):
    runs, errors = load_runs([results_dir])
    assert not errors
    return build_leaderboard(runs, **kwargs)


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


def test_duplicate_runs_are_an_error(results_dir: Path) -> None:
    runs, _ = load_runs([results_dir, results_dir])
    with pytest.raises(LeaderboardError, match="two results for"):
        build_leaderboard(runs)


def test_cross_lingual_pairs_stay_out_of_the_table(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/big", 3, {"en": 170, "de": 150, "fr": 140, "de-en": 1})
    (table,) = board(results_dir).tables
    assert "de-en" not in table.languages
    assert any("G-XLT" in n for n in table.notes)


def test_training_language_drives_averages_gap_intervals_and_published_rows(
    results_dir: Path,
) -> None:
    for path in results_dir.rglob("seed*.json"):
        write_result(path, read_result(path).model_copy(update={"train_language": "fr"}))
    lb = board(results_dir, references=load_references(), ci=CIOptions(samples=300, seed=1))
    (table,) = lb.tables
    assert (table.train_language, table.languages) == ("fr", ["fr", "de", "en"])
    big = next(r for r in table.rows if r.model == "org/big")
    assert big.cells["avg-fr"].mean == pytest.approx(82.5)  # (77.5 + 87.5) / 2
    assert big.cells[GAP].mean == pytest.approx(70.0 - 82.5)
    for col in ("avg-fr", GAP):
        low, high = big.cells[col].ci
        assert low <= big.cells[col].mean <= high
    base = next(r for r in table.rows if r.kind == PUBLISHED and "Base" in r.model)
    assert base.cells["avg-fr"].mean == pytest.approx((85.8 + 78.7) / 2)
    assert base.cells[GAP].mean == pytest.approx(79.7 - (85.8 + 78.7) / 2)
    assert AVG_NO_EN not in big.cells
    assert any("gap: fr minus avg-fr" in n for n in table.notes)
