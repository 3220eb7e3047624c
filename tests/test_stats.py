"""Bootstrap CIs and paired tests on synthetic per-example scores, checked against scipy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest

from xbench.leaderboard import AVG, GAP, CIOptions, build_leaderboard
from xbench.results import load_runs
from xbench.stats import (
    StatsError,
    bootstrap_ci,
    cell_rng,
    compare_runs,
    holm,
    paired_test,
    read_example_scores,
    seed_averaged,
)
from xbench.tables import AVG_NO_EN


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    return synthetic.write_all(tmp_path / "results")


def runs_of(results_dir: Path, model: str, task: str = "xnli"):
    runs, _ = load_runs([results_dir])
    return [(p, r) for p, r in runs if r.model == model and r.task == task]


def test_bootstrap_ci_contains_mean_and_is_reproducible() -> None:
    values = np.array([1.0] * 70 + [0.0] * 30)
    low, high = bootstrap_ci(values, 2000, np.random.default_rng(1))
    assert low < 0.7 < high
    assert low > 0.55 and high < 0.85
    assert (low, high) == bootstrap_ci(values, 2000, np.random.default_rng(1))
    wide = bootstrap_ci(values[::10], 2000, np.random.default_rng(1))
    assert wide[1] - wide[0] > high - low


def test_leaderboard_cis_contain_the_means(results_dir: Path) -> None:
    runs, _ = load_runs([results_dir])
    lb = build_leaderboard(runs, ci=CIOptions(samples=500, seed=3))
    (table,) = lb.tables
    for row in table.rows:
        for col in ["en", "de", "fr", AVG, AVG_NO_EN, GAP]:
            cell = row.cells[col]
            assert cell.ci is not None, (row.model, col)
            assert cell.ci[0] <= cell.mean <= cell.ci[1], (row.model, col, cell)
    again = build_leaderboard(runs, ci=CIOptions(samples=500, seed=3))
    assert again.tables[0].rows[0].cells["de"].ci == table.rows[0].cells["de"].ci
    assert any("percentile bootstrap interval" in n for n in table.notes)


def test_seed_averaging_and_stored_score_check(results_dir: Path) -> None:
    big = runs_of(results_dir, "org/big")
    examples, dropped = seed_averaged(big, "de")
    assert dropped == 0 and len(examples.ids) == synthetic.N
    assert examples.scores.mean() == pytest.approx(0.775)  # (150 + 160) / 2 / 200
    assert examples.scores[155] == 0.5  # correct in seed 2 only

    path, result = big[0]
    scores_file = path.parent / result.languages["de"].example_scores_file
    raw = json.loads(scores_file.read_text())
    raw["scores"][-1] = 1.0  # no longer re-derives the stored 0.75
    scores_file.write_text(json.dumps(raw))
    with pytest.raises(StatsError, match="does not re-derive"):
        read_example_scores(path, result, "de")
    scores_file.unlink()
    with pytest.raises(StatsError, match="cannot read per-example scores"):
        read_example_scores(path, result, "de")
    no_file = result.model_copy(deep=True)
    no_file.languages["de"].example_scores_file = None
    with pytest.raises(StatsError, match="no per-example scores"):
        read_example_scores(path, no_file, "de")


@pytest.mark.parametrize("method", ["bootstrap", "permutation"])
def test_paired_test_finds_real_difference_and_not_a_fake_one(method: str) -> None:
    better = np.array([1.0] * 150 + [0.0] * 50)
    worse = np.array([1.0] * 100 + [0.0] * 100)
    rng = np.random.default_rng(0)
    real = paired_test([(better, worse)], 2000, rng, method)
    assert real.diff == pytest.approx(0.25)
    assert real.p < 0.01 and real.n == 200
    assert real.ci[0] <= 0.25 <= real.ci[1] and real.ci[0] > 0
    same = paired_test([(better, better.copy())], 2000, rng, method)
    assert same.diff == 0 and same.p == 1.0
    noisy = np.array([1.0, 0.0] * 100)
    close = paired_test([(noisy, np.roll(noisy, 1))], 2000, rng, method)
    assert close.p > 0.5


def test_holm() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def test_compare_marks_significant_languages(results_dir: Path) -> None:
    big, small = runs_of(results_dir, "org/big"), runs_of(results_dir, "org/small")
    result = compare_runs(big, small, samples=2000, alpha=0.05, seed=0)
    assert [r.language for r in result.languages] == ["en", "de", "fr"]
    assert all(r.significant and r.test.n == synthetic.N for r in result.languages)
    de = result.languages[1]
    assert de.test.diff == pytest.approx(0.25)  # 77.5 - 52.5
    assert result.average_significant
    same = compare_runs(big, big, samples=2000)
    assert not any(r.significant for r in same.languages) and not same.average_significant
    assert all(r.test.p == 1.0 for r in same.languages)
    assert any("Holm-Bonferroni" in n for n in result.notes)
    assert any("averaged over a model's seeds" in n for n in result.notes)


def test_compare_reports_unshared_and_rejects_disjoint_examples(results_dir: Path) -> None:
    synthetic.write_run(results_dir, "org/short", 1, {"en": 100}, n=150)
    result = compare_runs(runs_of(results_dir, "org/big"), runs_of(results_dir, "org/short"))
    (en,) = result.languages
    assert (en.test.n, en.only_a, en.only_b) == (150, 50, 0)
    assert any("50 examples only in A" in n for n in result.notes)

    synthetic.write_run(results_dir, "org/other", 1, {"en": 100}, id_prefix="x")
    with pytest.raises(StatsError, match=r"share no example ids in xnli/en \(200 and 200"):
        compare_runs(runs_of(results_dir, "org/big"), runs_of(results_dir, "org/other"))
    with pytest.raises(StatsError, match="share no evaluated language"):
        compare_runs(
            runs_of(results_dir, "org/big"), runs_of(results_dir, "org/small"), languages=["sw"]
        )


def test_compare_names_its_split_and_refuses_dev_against_test(
    results_dir: Path, tmp_path: Path
) -> None:
    dev = synthetic.write_all(tmp_path / "dev", eval_split="dev")
    big_dev, small_dev = runs_of(dev, "org/big"), runs_of(dev, "org/small")
    result = compare_runs(big_dev, small_dev, samples=500)
    assert result.split == "dev" and (result.name_a, result.model_b) == ("org/big", "org/small")
    assert result.notes[0].startswith("Δ = A − B in accuracy x100 on the dev split, A = org/big")
    assert "differ on this dev set" in result.notes[1]
    with pytest.raises(StatsError, match="A was evaluated on the dev split and B on the test") as e:
        compare_runs(big_dev, runs_of(results_dir, "org/small"), samples=500)
    assert "--eval-split" in (e.value.hint or "")
    with pytest.raises(StatsError, match="A was evaluated on the dev/test split"):
        compare_runs([*big_dev, *runs_of(results_dir, "org/big")], small_dev, samples=500)


def test_compare_shows_readable_names_and_keeps_two_checkpoints_apart(tmp_path: Path) -> None:
    a, b = "/ckpts/run-a/checkpoint-500", "/ckpts/run-b/checkpoint-500"
    results = tmp_path / "results"
    synthetic.write_run(results, a, 1, {"en": 150})
    synthetic.write_run(results, b, 1, {"en": 100})
    result = compare_runs(runs_of(results, a), runs_of(results, b), samples=500)
    assert (result.model_a, result.model_b) == (a, b)
    assert (result.name_a, result.name_b) == ("run-a/checkpoint-500", "run-b/checkpoint-500")
    assert f"A = run-a/checkpoint-500 ({a}, 1 seeds)" in result.notes[0]


def test_cell_rng_is_stable_per_cell() -> None:
    a = cell_rng(0, "m", "de").integers(0, 10**9)
    assert a == cell_rng(0, "m", "de").integers(0, 10**9)
    assert a != cell_rng(0, "m", "fr").integers(0, 10**9)


# --- the hand-written resampling against scipy.stats (see the module docstring of xbench.stats) --


def _discordant(wins: int, losses: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A beats B on `wins` examples, B beats A on `losses`, they agree on the rest."""
    a, b = np.zeros(n), np.zeros(n)
    a[:wins] = 1.0
    b[wins : wins + losses] = 1.0
    return a, b


def test_permutation_p_is_the_exact_sign_flip_p_within_monte_carlo_error() -> None:
    a, b = _discordant(10, 5)  # 15 discordant examples: |sum of 15 random signs| >= 5
    exact = 2 * sum(math.comb(15, k) for k in range(10, 16)) / 2**15  # 0.30176
    sd = math.sqrt(exact * (1 - exact) / 10_000)  # 0.0046
    p = paired_test([(a, b)], 10_000, np.random.default_rng(0), "permutation").p
    assert abs(p - exact) < 4 * sd, (p, exact)


def test_intervals_and_p_values_agree_with_scipy(results_dir: Path) -> None:
    pytest.importorskip("scipy", minversion="1.15")  # rng= keyword
    from scipy import stats as sp

    def mean_diff(x, y, axis=-1):
        return np.mean(x - y, axis=axis)

    big, _ = seed_averaged(runs_of(results_dir, "org/big"), "de")
    small, _ = seed_averaged(runs_of(results_dir, "org/small"), "de")
    # same generator: the same index draws and the same linear quantile, so the same interval
    ours = bootstrap_ci(big.scores, 1000, cell_rng(0, "org/big", "de"))
    theirs = sp.bootstrap(
        (big.scores,),
        np.mean,
        n_resamples=1000,
        method="percentile",
        rng=cell_rng(0, "org/big", "de"),
    )
    assert ours == pytest.approx(tuple(theirs.confidence_interval), abs=1e-12)
    assert ours == pytest.approx((0.72, 0.8375))
    paired = paired_test([(big.scores, small.scores)], 10_000, cell_rng(0, "xnli", "de"))
    theirs = sp.bootstrap(
        (big.scores, small.scores),
        mean_diff,
        paired=True,
        n_resamples=10_000,
        method="percentile",
        rng=cell_rng(0, "xnli", "de"),
    )
    assert paired.ci == pytest.approx(tuple(theirs.confidence_interval), abs=1e-12)

    # independent streams: the mean interval over 40 runs agrees within 4 standard errors
    runs = 40
    ours_all = np.array(
        [bootstrap_ci(big.scores, 1000, np.random.default_rng(s)) for s in range(runs)]
    )
    theirs_all = np.array(
        [
            sp.bootstrap(
                (big.scores,),
                np.mean,
                n_resamples=1000,
                method="percentile",
                rng=np.random.default_rng(10_000 + s),
            ).confidence_interval
            for s in range(runs)
        ]
    )
    se = np.sqrt((ours_all.var(axis=0, ddof=1) + theirs_all.var(axis=0, ddof=1)) / runs)
    assert np.all(np.abs(ours_all.mean(axis=0) - theirs_all.mean(axis=0)) < 4 * se + 1e-9)

    # paired permutation (approximate randomisation): scipy swaps A and B within each example
    a, b = _discordant(10, 5)
    ours_p = paired_test([(a, b)], 10_000, np.random.default_rng(0), "permutation").p
    theirs_p = sp.permutation_test(
        (a, b),
        mean_diff,
        permutation_type="samples",
        n_resamples=10_000,
        vectorized=True,
        rng=np.random.default_rng(1),
    ).pvalue
    sd = math.sqrt(0.30176 * (1 - 0.30176) / 10_000)
    assert abs(ours_p - theirs_p) < 4 * math.sqrt(2) * sd, (ours_p, theirs_p)
