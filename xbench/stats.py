"""Confidence intervals and paired significance tests from stored per-example scores.

Each language of a result points at `seedN.predictions/{lang}.scores.json`: the main metric of
every test example, whose mean is the language's score. Resampling those examples tells how much
a score could move on another test set of the same size (bootstrap CI), and whether two models
differ by more than that (paired test on the examples both were evaluated on).

Several seeds: each example's score is first averaged over the seeds of a model, then examples are
resampled. The interval therefore covers test-set sampling for the seed-averaged model; variation
between seeds is what the ± std in the tables shows.

Hand-written, checked against scipy.stats (tests/test_stats.py runs the comparison):

* Bootstrap: `scipy.stats.bootstrap(method="percentile")` given the same Generator draws the same
  indices and takes the same linear quantile, so it gives the same intervals: org/big 'de' of the
  synthetic fixture, 1000 resamples on cell_rng(0, "org/big", "de"): (0.72, 0.8375) from both;
  the paired Δ of org/big - org/small there, 10000 resamples on the compare stream: (0.195,
  0.3075) from both. On independent streams (200 runs of 1000) the mean interval is (0.71836,
  0.82929) here and (0.71833, 0.82912) in scipy, per-run sd 0.0024 and 0.0026. Kept by hand all
  the same: its 10 lines are what the leaderboard and compare need anyway, the resampled means
  themselves (averaged over languages for avg/gap intervals, reused for the shifted-null p),
  drawn in memory-bounded chunks on the per-cell streams that keep published numbers fixed; and
  scipy is no runtime dependency of xbench (it takes ~1 s to import here).
* Permutation: `scipy.stats.permutation_test(permutation_type="samples")` draws other swaps (so
  every published p-value would change), returns 2 x the smaller one-sided p where xbench counts
  |null| >= |observed|, and is 5.6x slower (n = 5000, 10000 swaps: 2.25 s vs 0.40 s with the CI).
  They agree within Monte-Carlo error: 10 wins and 5 losses in 200 examples, exact sign-flip p
  0.30176; mean over 30 runs of 10000 swaps 0.3030 here and 0.3007 in scipy (standard error
  0.0008 each; per-run sd 0.0042 and 0.0045, binomial 0.0046); 5 wins, no loss, exact 0.0625:
  0.0630 and 0.0639. On the fixture's 'de' (Δ = +25) neither sees a swap as extreme: p = 1/10001
  here, 2/10001 in scipy.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xbench import languages as lang_keys
from xbench.errors import XbenchError
from xbench.results import RunResult, display_name
from xbench.tables import AVG, GAP, model_labels

# Bootstrap index matrices are drawn in chunks of at most this many cells (8 bytes each).
_CHUNK_CELLS = 2_000_000
METHODS = ("bootstrap", "permutation")


class StatsError(XbenchError):
    """Per-example scores are missing, stale or not comparable."""


@dataclass(frozen=True)
class ExampleScores:
    """Per-example main-metric scores (fractions) in a fixed id order."""

    ids: tuple[str, ...]
    scores: np.ndarray

    def restrict(self, ids: Sequence[str]) -> ExampleScores:
        index = {i: k for k, i in enumerate(self.ids)}
        return ExampleScores(tuple(ids), self.scores[[index[i] for i in ids]])


def read_example_scores(result_file: Path, result: RunResult, lang: str) -> ExampleScores:
    """One language's per-example scores; checked against the stored language score."""
    lr = result.languages[lang]
    if not lr.example_scores_file:
        raise StatsError(
            f"{result_file} has no per-example scores for '{lang}'",
            hint="re-run the evaluation with this xbench version, which stores them",
        )
    path = result_file.parent / lr.example_scores_file
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        ids, scores = [str(i) for i in raw["ids"]], np.asarray(raw["scores"], dtype=float)
        metric = raw["metric"]
    except OSError as err:
        raise StatsError(
            f"cannot read per-example scores {path}: {err.strerror}",
            hint="the predictions folder beside the result file is missing; re-run to restore it",
        ) from None
    except (ValueError, KeyError, TypeError) as err:
        raise StatsError(f"corrupt per-example scores {path}: {err}") from None
    if len(ids) != len(scores) or len(set(ids)) != len(ids) or scores.ndim != 1:
        raise StatsError(f"corrupt per-example scores {path}: ids and scores do not pair up")
    if metric != result.metric:
        raise StatsError(
            f"{path} scores '{metric}', but the result's main metric is {result.metric}"
        )
    stored = lr.scores.get(result.metric)
    if len(scores) == 0:
        raise StatsError(f"{path} holds no examples")
    if stored is not None and abs(float(scores.mean()) - stored) > 1e-6:
        raise StatsError(
            f"{path}: mean {scores.mean():.6f} does not re-derive the stored "
            f"{result.metric} {stored:.6f}",
            hint="the per-example file is stale or edited; re-run this language",
        )
    return ExampleScores(tuple(ids), scores)


def seed_averaged(runs: Sequence[tuple[Path, RunResult]], lang: str) -> tuple[ExampleScores, int]:
    """Per-example mean over the seeds of one model; also how many ids some seed lacked."""
    per_seed = [read_example_scores(path, result, lang) for path, result in runs]
    shared = set(per_seed[0].ids).intersection(*(set(s.ids) for s in per_seed[1:]))
    ids = [i for i in per_seed[0].ids if i in shared]
    dropped = len(set().union(*(set(s.ids) for s in per_seed))) - len(ids)
    if not ids:
        raise StatsError(f"the seeds of {runs[0][1].model} share no example ids in '{lang}'")
    stacked = np.stack([s.restrict(ids).scores for s in per_seed])
    return ExampleScores(tuple(ids), stacked.mean(axis=0)), dropped


def cell_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator fixed by the user's seed and the cell, so adding rows changes no other CI."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def bootstrap_means(values: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `samples` resamples (with replacement, same size) of `values`."""
    n = len(values)
    out = np.empty(samples)
    step = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, samples, step):
        m = min(step, samples - start)
        out[start : start + m] = values[rng.integers(0, n, size=(m, n))].mean(axis=1)
    return out


def percentile_interval(boot: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(
    values: np.ndarray, samples: int, rng: np.random.Generator, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    return percentile_interval(bootstrap_means(values, samples, rng), level)


def bootstrap_columns(
    runs: Sequence[tuple[Path, RunResult]],
    languages: Sequence[str],
    averaged_over: Sequence[str],
    train_language: str,
    *,
    key: str,
    samples: int,
    seed: int,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals (x100) of one model's language scores and, when every
    language of `averaged_over` has one, of avg, the average without `train_language` and gap.

    Each language is resampled on its own stream `cell_rng(seed, key, lang)`, and the averages
    average those same resamples (languages resampled independently)."""
    boots: dict[str, np.ndarray] = {}
    for lang in languages:
        having = [(p, r) for p, r in runs if lang in r.languages]
        if having:
            examples, _ = seed_averaged(having, lang)
            rng = cell_rng(seed, key, lang)
            boots[lang] = 100 * bootstrap_means(examples.scores, samples, rng)
    derived: dict[str, np.ndarray] = {}
    if averaged_over and all(lang in boots for lang in averaged_over):
        derived[AVG] = np.mean([boots[lang] for lang in averaged_over], axis=0)
        others = lang_keys.transfer_languages(averaged_over, train_language)
        if train_language in averaged_over and others:
            no_train = lang_keys.without_training(train_language)
            derived[no_train] = np.mean([boots[lang] for lang in others], axis=0)
            derived[GAP] = boots[train_language] - derived[no_train]
    return {col: percentile_interval(b, level) for col, b in [*boots.items(), *derived.items()]}


@dataclass(frozen=True)
class PairedTest:
    """A minus B on shared examples: means, difference, its 95% CI, two-sided p."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci: tuple[float, float]
    p: float


@dataclass(frozen=True)
class PairDraws:
    """One language's resampled differences, reused for its own test and for the average's."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    boot: np.ndarray
    null: np.ndarray | None


def draw_pair(
    a: np.ndarray, b: np.ndarray, samples: int, rng: np.random.Generator, method: str
) -> PairDraws:
    """Bootstrap means of the per-example differences (and sign-flip means for permutation)."""
    if method not in METHODS:
        raise StatsError(f"unknown test '{method}'", hint=f"use one of {', '.join(METHODS)}")
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    null = _sign_flip_means(d, samples, rng) if method == "permutation" else None
    return PairDraws(
        len(d),
        float(a.mean()),
        float(b.mean()),
        float(d.mean()),
        bootstrap_means(d, samples, rng),
        null,
    )


def summarise(draws: Sequence[PairDraws], level: float = 0.95) -> PairedTest:
    """The test of the macro-average difference over the languages in `draws`.

    bootstrap: count how often the resampled difference lies as far from the observed one as the
    observed one lies from zero (the shifted-null paired bootstrap of Berg-Kirkpatrick et al.,
    2012). permutation: swap A and B within each example with probability 1/2 (approximate
    randomisation) and count differences at least as large as observed. Both give
    p = (1 + hits) / (1 + samples), so p is never 0. Languages are resampled independently.
    """
    observed = float(np.mean([d.diff for d in draws]))
    boot = np.mean([d.boot for d in draws], axis=0)
    if draws[0].null is None:
        hits = np.abs(boot - observed) >= abs(observed) - 1e-12
    else:
        null = np.mean([d.null for d in draws if d.null is not None], axis=0)
        hits = np.abs(null) >= abs(observed) - 1e-12
    p = (1 + int(hits.sum())) / (1 + len(boot))
    return PairedTest(
        n=sum(d.n for d in draws),
        mean_a=float(np.mean([d.mean_a for d in draws])),
        mean_b=float(np.mean([d.mean_b for d in draws])),
        diff=observed,
        ci=percentile_interval(boot, level),
        p=min(p, 1.0),
    )


def paired_test(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    samples: int,
    rng: np.random.Generator,
    method: str = "bootstrap",
    level: float = 0.95,
) -> PairedTest:
    """Paired test of A - B (arrays aligned by example id), over one or more languages."""
    return summarise([draw_pair(a, b, samples, rng, method) for a, b in pairs], level)


def _sign_flip_means(d: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    n = len(d)
    out = np.empty(samples)
    step = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, samples, step):
        m = min(step, samples - start)
        signs = rng.integers(0, 2, size=(m, n)) * 2 - 1
        out[start : start + m] = (signs * d).mean(axis=1)
    return out


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: controls the chance of any false 'significant'."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


# --- comparing two models ------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageComparison:
    language: str
    test: PairedTest
    only_a: int
    only_b: int
    p_holm: float
    significant: bool


@dataclass(frozen=True)
class Comparison:
    """Per-language paired tests of model A against model B on one task and eval split; model_a
    and model_b are the full model ids, name_a and name_b the readable names the output shows."""

    task: str
    metric: str
    model_a: str
    model_b: str
    languages: list[LanguageComparison]
    average: PairedTest
    average_significant: bool
    notes: list[str]
    split: str = "test"
    name_a: str = ""
    name_b: str = ""


def compare_runs(
    runs_a: Sequence[tuple[Path, RunResult]],
    runs_b: Sequence[tuple[Path, RunResult]],
    *,
    languages: Sequence[str] | None = None,
    samples: int = 10_000,
    alpha: float = 0.05,
    seed: int = 0,
    method: str = "bootstrap",
) -> Comparison:
    """Paired tests per shared language (and for their macro average) between two models' runs
    of the same task and eval split; example ids are matched, so only examples both saw are
    compared. Runs of different splits are an error: dev and test scores are not comparable."""
    if not 0 < alpha < 1:
        raise StatsError(f"alpha must lie between 0 and 1, got {alpha}")
    if method not in METHODS:
        raise StatsError(f"unknown test '{method}'", hint=f"use one of {', '.join(METHODS)}")
    if samples < 100:
        raise StatsError(f"--samples {samples} is too few", hint="use at least 1000")
    task, metric = runs_a[0][1].task, runs_a[0][1].metric
    model_a, model_b = runs_a[0][1].model, runs_b[0][1].model
    split_a, split_b = ("/".join(sorted({r.eval_split for _, r in x})) for x in (runs_a, runs_b))
    if split_a != split_b or "/" in split_a:
        raise StatsError(
            f"{task}: A was evaluated on the {split_a} split and B on the {split_b} split; "
            "scores of different splits are not comparable",
            hint="compare results of one eval split (xbench run --eval-split test or dev)",
        )
    split = split_a  # two models of one name get distinct labels:
    labels, _ = model_labels((r.model, display_name(r)) for r in (runs_a[0][1], runs_b[0][1]))
    name_a, name_b = labels[model_a], labels[model_b]
    shared = set.intersection(*(set(r.languages) for _, r in [*runs_a, *runs_b]))
    if languages:
        shared &= set(languages)
    else:  # keys like 'de-en' are G-XLT context-question pairs: compared only when asked for
        shared = {lang for lang in shared if not lang_keys.is_pair(lang)}
    langs = lang_keys.ordered(shared, runs_a[0][1].train_language)
    if not langs:
        raise StatsError(
            f"{name_a} and {name_b} share no evaluated language on {task}",
            hint="compare models evaluated on the same languages, or drop --languages",
        )
    tests, pairs, notes = [], [], []
    for lang in langs:
        a, lost_a = seed_averaged(runs_a, lang)
        b, lost_b = seed_averaged(runs_b, lang)
        in_b = set(b.ids)
        ids = [i for i in a.ids if i in in_b]
        if not ids:
            raise StatsError(
                f"{name_a} and {name_b} share no example ids in {task}/{lang} "
                f"({len(a.ids)} and {len(b.ids)} examples)",
                hint="they were evaluated on different data (eval limit, split or data source)",
            )
        rng = cell_rng(seed, task, lang)
        drawn = draw_pair(a.restrict(ids).scores, b.restrict(ids).scores, samples, rng, method)
        pairs.append(drawn)
        tests.append((lang, summarise([drawn]), len(a.ids) - len(ids), len(b.ids) - len(ids)))
        if lost_a or lost_b:
            notes.append(f"{lang}: {lost_a + lost_b} example ids missing in some seeds, left out.")
    adjusted = holm([t[1].p for t in tests])
    rows = [
        LanguageComparison(lang, t, only_a, only_b, adj, adj < alpha)
        for (lang, t, only_a, only_b), adj in zip(tests, adjusted, strict=True)
    ]
    average = summarise(pairs)
    if method == "bootstrap":
        how = f"Paired bootstrap test ({samples} resamples of the shared examples, seed {seed})"
    else:
        how = (
            f"Paired permutation test ({samples} random swaps of A and B per example, seed {seed})"
        )
    seeds_a = f"{'' if name_a == model_a else model_a + ', '}{len(runs_a)} seeds"
    seeds_b = f"{'' if name_b == model_b else model_b + ', '}{len(runs_b)} seeds"
    notes[:0] = [
        f"Δ = A − B in {metric} x100 on the {split} split, A = {name_a} ({seeds_a}), B = {name_b} "
        f"({seeds_b}), on the {split} examples both were evaluated on (matched by id; n).",
        "With several seeds each example's score is first averaged over a model's seeds: the test "
        f"asks whether the seed-averaged models differ on this {split} set; seed variance is not "
        "part of it.",
        f"{how}; two-sided p; CI: 95% percentile interval of Δ.",
        f"*: significant at alpha = {alpha} after Holm-Bonferroni correction over the "
        f"{len(rows)} languages (p (Holm)); raw p shown too. avg: macro average over those "
        "languages (each resampled independently), a single test marked * if p < alpha.",
    ]
    notes += [
        f"{r.language}: {r.only_a} examples only in A, {r.only_b} only in B (not compared)."
        for r in rows
        if r.only_a or r.only_b
    ]
    significant = average.p < alpha
    return Comparison(
        task, metric, model_a, model_b, rows, average, significant, notes, split, name_a, name_b
    )
