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
from xbench.references import ReferencesError, load_references
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
    (summary,) = lb.summaries
    assert (summary.split, summary.tasks, table.split) == ("test", ["xnli"], "test")
    assert [r.model for r in summary.rows] == ["org/big", "org/small"]
    assert summary.rows[0].overall == pytest.approx(235 / 3)
    assert summary.rows[0].rank == 1


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
    rows = {r.model: r for r in lb.summaries[0].rows}
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


def test_every_shipped_reference_is_a_test_set_number_and_says_so(tmp_path: Path) -> None:
    assert {r.split for r in load_references()} == {"test"}
    text = (REPO / "xbench" / "references" / "published.yaml").read_text()
    bad = tmp_path / "refs.yaml"
    bad.write_text(text.replace("    source: xlmr\n", "    source: xlmr\n    split: valid\n", 1))
    with pytest.raises(ReferencesError, match="split must be one of test, dev"):
        load_references(bad)


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


# --- eval splits: dev scores never sit unmarked beside test numbers ------------------------------


def test_dev_results_leave_the_published_test_rows_out_with_a_note(tmp_path: Path) -> None:
    dev = synthetic.write_all(tmp_path / "dev", eval_split="dev")
    lb = board(dev, references=load_references())
    (table,) = lb.tables
    assert table.split == "dev" and {r.kind for r in table.rows} == {"measured"}
    assert {r.split for r in table.rows} == {"dev"}
    note = next(n for n in table.notes if n.startswith("Published rows left out"))
    assert "XLM-R Base (Conneau et al., 2020)" in note and "test-set numbers" in note
    assert "not comparable with these dev-split scores" in note and "--references-on-dev" in note
    assert "Scores: accuracy x100 on the dev split" in table.notes[0]
    assert not any("placed by their avg" in n for n in table.notes)
    (summary,) = lb.summaries
    assert summary.split == "dev" and {r.kind for r in summary.rows} == {"measured"}
    text = render(lb, "markdown")
    assert text.startswith("## Summary (dev split)\n")
    assert "### xnli (dev split, accuracy x100)" in text and "Conneau" in text  # only the note
    assert "| †" not in text
    # without references there is nothing to leave out, so no note
    assert not any("left out" in n for n in board(dev).tables[0].notes)


def test_published_rows_on_dev_are_listed_below_marked_and_never_ranked(tmp_path: Path) -> None:
    dev = synthetic.write_all(tmp_path / "dev", eval_split="dev")
    lb = board(dev, references=load_references(), references_on_dev=True)
    (table,) = lb.tables
    kinds = [r.kind for r in table.rows]
    assert kinds == ["measured", "measured", PUBLISHED, PUBLISHED]  # below, not placed by avg
    published = table.rows[2:]
    assert all(r.off_split and r.split == "test" and r.rank is None for r in published)
    assert all(r.label.endswith("† [test]") for r in published)
    assert [r.rank for r in table.rows[:2]] == [1, 2]
    assert any(
        n.startswith("† [test]: published test-set numbers")
        and "not comparable with these dev-split scores" in n
        and "neither placed by avg nor ranked" in n
        for n in table.notes
    )
    (summary,) = lb.summaries
    assert [r.model for r in summary.rows] == ["org/big", "org/small"]  # published: not here
    assert "XLM-R Large (Conneau et al., 2020) † [test]" in render(lb, "markdown")


def test_dev_and_test_results_of_one_task_are_never_averaged_or_ranked_together(
    results_dir: Path, tmp_path: Path
) -> None:
    dev = tmp_path / "dev"
    synthetic.write_run(dev, "org/big", 1, {"en": 10, "de": 10, "fr": 10}, eval_split="dev")
    synthetic.write_run(dev, "org/tuned", 1, {"en": 200, "de": 200, "fr": 200}, eval_split="dev")
    runs, _ = load_runs([results_dir, dev])  # org/big seed 1 on both splits: not a duplicate
    lb = build_leaderboard(runs, references=load_references())
    test_table, dev_table = lb.tables
    assert (test_table.task, test_table.split, dev_table.split) == ("xnli", "test", "dev")
    assert [r.model for r in test_table.rows if r.kind == "measured"] == ["org/big", "org/small"]
    big_test = next(r for r in test_table.rows if r.model == "org/big")
    assert (big_test.seeds, big_test.cells[AVG].mean) == (2, pytest.approx(235 / 3))
    assert [(r.model, r.rank, r.seeds) for r in dev_table.rows] == [
        ("org/tuned", 1, 1),
        ("org/big", 2, 1),
    ]
    assert dev_table.rows[1].cells[AVG].mean == pytest.approx(5.0)  # dev seed only
    assert any("also has dev-split results, in their own table" in n for n in test_table.notes)
    assert any("also has test-split results" in n for n in dev_table.notes)
    assert any("results on several eval splits" in w for w in lb.warnings)
    test_summary, dev_summary = lb.summaries
    assert (test_summary.split, dev_summary.split) == ("test", "dev")
    assert [r.model for r in dev_summary.rows] == ["org/tuned", "org/big"]
    assert dev_summary.rows[1].overall == pytest.approx(5.0)
    assert "org/tuned" not in {r.model for r in test_summary.rows}
    assert any("the dev-split tables have their own summary" in n for n in test_summary.notes)


# --- readable names ------------------------------------------------------------------------------


def test_rows_show_the_readable_name_and_filters_take_name_or_id(results_dir: Path) -> None:
    checkpoint = "/ckpts/run-a/checkpoint-500"
    synthetic.write_run(results_dir, checkpoint, 1, {"en": 100, "de": 100, "fr": 100})
    synthetic.write_run(results_dir, "org/named", 1, {"en": 90, "de": 90, "fr": 90}, name="mine")
    lb = board(results_dir)
    rows = {r.model: r for r in lb.tables[0].rows}
    assert (rows[checkpoint].name, rows[checkpoint].label) == ("checkpoint-500", "checkpoint-500")
    assert rows["org/named"].label == "mine" and rows["org/big"].label == "org/big"
    assert {r.name for r in lb.summaries[0].rows} >= {"checkpoint-500", "mine"}
    assert not lb.warnings
    for wanted in (["checkpoint-500"], [checkpoint], ["/ckpts/*"], ["check*"]):
        (only,) = board(results_dir, models=wanted).tables[0].rows
        assert only.model == checkpoint, wanted
    assert [r.model for r in board(results_dir, models=["mine"]).tables[0].rows] == ["org/named"]
    with pytest.raises(LeaderboardError, match="no results for model 'checkpoint-50'") as info:
        board(results_dir, models=["checkpoint-50"])
    assert "Did you mean 'checkpoint-500'" in str(info.value)
    assert f"checkpoint-500 ({checkpoint})" in (info.value.hint or "")


def test_two_models_sharing_a_name_are_kept_apart_with_distinct_labels(results_dir: Path) -> None:
    a, b = "/ckpts/run-a/checkpoint-500", "/ckpts/run-b/checkpoint-500"
    for seed in (1, 2):
        synthetic.write_run(results_dir, a, seed, {"en": 100, "de": 100, "fr": 100})
    synthetic.write_run(results_dir, b, 1, {"en": 160, "de": 160, "fr": 160})
    lb = board(results_dir)
    rows = {r.model: r for r in lb.tables[0].rows}
    assert (rows[a].label, rows[a].seeds) == ("run-a/checkpoint-500", 2)  # not merged
    assert (rows[b].label, rows[b].seeds) == ("run-b/checkpoint-500", 1)
    assert rows[b].cells[AVG].mean == pytest.approx(80.0)
    (warning,) = lb.warnings
    assert "2 different models share the name 'checkpoint-500'" in warning
    assert "'run-a/checkpoint-500', 'run-b/checkpoint-500'" in warning
    assert "run-a/checkpoint-500" in render(lb, "markdown")
    both = board(results_dir, models=["checkpoint-500"]).tables[0].rows
    assert {r.model for r in both} == {a, b}
    (one,) = board(results_dir, models=["run-b/checkpoint-500"]).tables[0].rows
    assert one.model == b and one.label == "checkpoint-500"  # no clash left after filtering
