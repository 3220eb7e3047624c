"""Leaderboards as data: one ranked table per task and a summary, from result files plus
published rows. xbench/render/ turns them into text, pages and plots; xbench/references/ loads
the published rows.

Aggregation rules (stated again under every rendered table, because readers compare numbers
across papers): scores are the task's main metric x100; `avg` is the macro average over languages
(each language weighs the same, as XTREME does), `avg-en` the same without the training language
(English for every shipped task), and `gap` is the training language's score minus `avg-en` (the
cross-lingual transfer gap). All three are computed per seed and then reported as mean ± sample
std over seeds. When rows cover different languages, the averages use only the languages every
measured row has, and the table says so; nothing is averaged over different language sets
silently.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xbench import languages as langs
from xbench.errors import XbenchError, did_you_mean
from xbench.references import Reference
from xbench.results import RunResult
from xbench.tables import (
    AVG,
    DEFAULT_TRAIN_LANGUAGE,
    GAP,
    long_frame,
    score_table,
    split_pairs,
    train_language_of,
    with_averages,
)

MEASURED, PUBLISHED = "measured", "published"
PUBLISHED_MARK = "†"
Run = tuple[Path, RunResult]


class LeaderboardError(XbenchError):
    """The requested leaderboard cannot be built (unknown filter, duplicate runs, bad data)."""


@dataclass(frozen=True)
class Stat:
    """One cell, x100: mean, sample std over seeds (None with one seed), optional 95% CI."""

    mean: float | None = None
    std: float | None = None
    ci: tuple[float, float] | None = None


@dataclass
class Row:
    model: str
    kind: str
    seeds: int
    cells: dict[str, Stat]
    rank: int | None = None
    citation: str | None = None
    task_versions: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.model} {PUBLISHED_MARK}" if self.kind == PUBLISHED else self.model


@dataclass
class TaskTable:
    task: str
    metric: str
    languages: list[str]
    averaged_over: list[str]
    rows: list[Row]
    notes: list[str]
    train_language: str = DEFAULT_TRAIN_LANGUAGE

    @property
    def averages(self) -> tuple[str, str, str]:
        """avg, the average without the training language ('avg-en') and gap."""
        return AVG, langs.without_training(self.train_language), GAP

    @property
    def columns(self) -> list[str]:
        return [*self.languages, *self.averages]


@dataclass
class SummaryRow:
    model: str
    kind: str
    tasks: dict[str, Stat]
    overall: float | None
    rank: int | None = None

    @property
    def label(self) -> str:
        return f"{self.model} {PUBLISHED_MARK}" if self.kind == PUBLISHED else self.model


@dataclass
class Leaderboard:
    tables: list[TaskTable]
    summary: list[SummaryRow]
    summary_notes: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> list[str]:
        return [t.task for t in self.tables]


@dataclass(frozen=True)
class CIOptions:
    samples: int = 1000
    seed: int = 0
    level: float = 0.95


def _select(names: list[str], wanted: list[str] | None, what: str) -> set[str]:
    """Names matching any wanted entry (exact or glob); an entry matching nothing is an error."""
    if not wanted:
        return set(names)
    chosen: set[str] = set()
    for w in wanted:
        hits = {n for n in names if n == w or fnmatch.fnmatchcase(n, w)}
        if not hits:
            raise LeaderboardError(
                f"no results for {what} '{w}'.{did_you_mean(w, names)}",
                hint=f"{what}s found: {', '.join(sorted(names)) or 'none'}",
            )
        chosen |= hits
    return chosen


def build_leaderboard(
    runs: list[Run],
    *,
    tasks: list[str] | None = None,
    models: list[str] | None = None,
    languages: list[str] | None = None,
    references: list[Reference] | None = None,
    ci: CIOptions | None = None,
) -> Leaderboard:
    """Filter, check and aggregate runs into ranked task tables plus a summary."""
    if not runs:
        raise LeaderboardError("no result files to rank", hint="pass folders written by xbench run")
    keep_tasks = _select(sorted({r.task for _, r in runs}), tasks, "task")
    keep_models = _select(sorted({r.model for _, r in runs}), models, "model")
    runs = [(p, r) for p, r in runs if r.task in keep_tasks and r.model in keep_models]
    seen: dict[tuple[str, str, int], Path] = {}
    for p, r in runs:
        key = (r.model, r.task, r.seed)
        if key in seen:
            raise LeaderboardError(
                f"two results for {r.model} / {r.task} / seed {r.seed}: {seen[key]} and {p}",
                hint="pass only one of the folders that hold this run",
            )
        seen[key] = p
    if languages:
        present = {lang for _, r in runs for lang in r.languages}
        train = Counter(r.train_language for _, r in runs).most_common(1)[0][0]
        for lang in languages:
            if lang not in present:
                raise LeaderboardError(
                    f"no results in language '{lang}'.{did_you_mean(lang, present)}",
                    hint=f"languages found: {' '.join(langs.ordered(present, train))}",
                )
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for p, r in runs:
        groups[(r.task, r.metric)].append((p, r))
    tables, warnings = [], []
    for (task, metric), group in sorted(groups.items()):
        table = _task_table(task, metric, group, languages, references or [], ci)
        if table is None:
            warnings.append(f"{task}: no results in the requested languages; table left out")
        else:
            tables.append(table)
    if not tables:
        raise LeaderboardError("no results left after filtering", hint="loosen the filters")
    summary, notes = _summary(tables)
    return Leaderboard(tables=tables, summary=summary, summary_notes=notes, warnings=warnings)


def _task_table(
    task: str,
    metric: str,
    runs: list[Run],
    languages: list[str] | None,
    references: list[Reference],
    ci: CIOptions | None,
) -> TaskTable | None:
    frame = long_frame([r for _, r in runs])
    train = train_language_of(frame)
    if languages:
        frame = frame[frame["language"].isin(languages)]
    notes: list[str] = []
    frame, pairs = split_pairs(frame)
    if not pairs.empty:
        notes.append(
            f"{pairs['language'].nunique()} cross-lingual context-question pairs "
            "(keys like de-en, G-XLT) are not part of this table; `xbench table` shows them."
        )
    if frame.empty:
        return None
    split = sorted({r.eval_split for _, r in runs})
    full: dict[str, set[str]] = {}
    for name, sub in frame.groupby("model"):
        model = str(name)
        per_seed = [set(s["language"]) for _, s in sub.groupby("seed")]
        full[model] = set.intersection(*per_seed)
        partial = set.union(*per_seed) - full[model]
        if partial:
            notes.append(
                f"Warning: {model}: {', '.join(langs.ordered(partial, train))} missing in some "
                "seeds; those cells average only the seeds that have them and are left out of "
                "averages."
            )
    columns = langs.ordered(set(frame["language"]), train)
    common = langs.ordered(set.intersection(*full.values()), train) if full else []
    table = TaskTable(task, metric, columns, common, [], notes, train)
    mean, std, count = score_table(frame)
    seed_counts = count["seeds"].to_dict()
    avg_stats = _average_stats(frame[frame["language"].isin(common)], common, train)
    by_model: dict[str, list[Run]] = defaultdict(list)
    for p, r in runs:
        by_model[r.model].append((p, r))
    for model in full:
        idx = (model, task)
        cells = {
            lang: _stat(mean.at[idx, lang], std.at[idx, lang])
            for lang in columns
            if lang in mean.columns
        }
        cells.update(avg_stats.get(model, {}))
        for col in table.averages:  # no shared language: the averages stay empty
            cells.setdefault(col, Stat())
        versions = tuple(sorted({r.task_version for _, r in by_model[model]}))
        seeds = int(seed_counts[idx])
        table.rows.append(Row(model, MEASURED, seeds, cells, task_versions=versions))
    if ci is not None:
        for row in table.rows:
            _add_intervals(row, by_model[row.model], table, ci)
    for ref in references:
        if ref.task == task and metric in ref.scores:
            table.rows.append(_reference_row(ref, table))
    table.rows.sort(key=lambda r: (r.cells[AVG].mean is None, -(r.cells[AVG].mean or 0.0), r.model))
    rank = 0
    for row in table.rows:
        if row.kind == MEASURED:
            rank += 1
            row.rank = rank
    notes[:0] = _rules(table, split, full, ci)
    mixed = sorted({v for r in table.rows for v in r.task_versions})
    if len(mixed) > 1:
        notes.append(f"Warning: rows mix task versions {mixed}; they may not be comparable.")
    for row in table.rows:
        if row.kind == PUBLISHED:
            notes.append(
                f"{PUBLISHED_MARK} {row.model}: published, not measured here. {row.citation}"
            )
    return table


def _stat(m: Any, s: Any) -> Stat:
    m, s = float(m), float(s)
    return Stat(None if m != m else m, None if s != s else s)


def _average_stats(frame: Any, common: list[str], train: str) -> dict[str, dict[str, Stat]]:
    """avg, avg-en and gap per model: computed per seed, then mean ± std over seeds."""
    if not common:
        return {}
    per_seed = frame.pivot_table(
        index=["model", "seed"], columns="language", values="score", aggfunc="first"
    )
    per_seed = with_averages(per_seed, train)
    no_train = langs.without_training(train)
    has_train = train in common and len(common) > 1
    per_seed[GAP] = per_seed[train] - per_seed[no_train] if has_train else float("nan")
    if not has_train:
        per_seed[no_train] = float("nan")
    grouped = per_seed.groupby(level="model")
    mean, std = grouped.mean(), grouped.std(ddof=1)
    return {
        model: {col: _stat(mean.at[model, col], std.at[model, col]) for col in (AVG, no_train, GAP)}
        for model in mean.index
    }


def _add_intervals(row: Row, runs: list[Run], table: TaskTable, ci: CIOptions) -> None:
    """Bootstrap CIs per language and, resampling each language independently, for averages."""
    from xbench.stats import bootstrap_columns

    intervals = bootstrap_columns(
        runs,
        [lang for lang in table.languages if lang in row.cells],
        table.averaged_over,
        table.train_language,
        key=row.model,
        samples=ci.samples,
        seed=ci.seed,
        level=ci.level,
    )
    for col, interval in intervals.items():
        old = row.cells.get(col, Stat())
        if old.mean is not None:
            row.cells[col] = Stat(old.mean, old.std, interval)


def _reference_row(ref: Reference, table: TaskTable) -> Row:
    """Published numbers in this table's columns; averages recomputed over the same languages."""
    values = ref.scores[table.metric]
    cells = {lang: Stat(values.get(lang)) for lang in table.languages}
    common, train = table.averaged_over, table.train_language
    missing = [lang for lang in common if lang not in values]
    if common and not missing:
        avg, avg_without = langs.averages({k: values[k] for k in common}, train)
        cells[AVG] = Stat(avg)
        if avg_without is not None:
            _, no_train, _ = table.averages
            cells[no_train], cells[GAP] = Stat(avg_without), Stat(values[train] - avg_without)
    elif missing:
        table.notes.append(
            f"{PUBLISHED_MARK} {ref.model} has no published {', '.join(missing)}: no averages."
        )
    for col in table.averages:
        cells.setdefault(col, Stat())
    return Row(ref.model, PUBLISHED, 0, cells, citation=ref.cite(table.metric))


def _rules(
    table: TaskTable, split: list[str], full: dict[str, set[str]], ci: CIOptions | None
) -> list[str]:
    """The aggregation rules, written out under each table."""
    common, train = table.averaged_over, table.train_language
    _, no_train, _ = table.averages
    rules = [
        f"Scores: {table.metric} x100 on the {'/'.join(split)} split; mean ± sample std over "
        "seeds (no ± with one seed).",
    ]
    if common:
        rules.append(
            f"avg: macro average over the {len(common)} languages {' '.join(common)} (each "
            f"language weighs the same, as in XTREME); {no_train}: the same without "
            f"{langs.name(train)}; gap: {train} minus {no_train} (the transfer gap). Each is "
            "computed per seed, then mean ± std."
        )
    else:
        rules.append(f"avg, {no_train}, gap: not computed, the rows share no language.")
    if common and train not in common:
        rules.append(
            f"{langs.name(train)} is not among the shared languages: {no_train} and gap are "
            "undefined."
        )
    lacking = {m: [lang for lang in table.languages if lang not in s] for m, s in full.items()}
    lacking = {m: missing for m, missing in lacking.items() if missing}
    if lacking:
        detail = "; ".join(f"{m} lacks {' '.join(ls)}" for m, ls in sorted(lacking.items()))
        rules.append(
            f"Warning: rows cover different languages ({detail}). Averages use only the "
            f"{len(common)} languages all measured rows share; the other columns are shown but "
            "excluded from every average."
        )
    rules.append(
        f"Ranked by avg. Published rows ({PUBLISHED_MARK}) are placed by their avg but not ranked; "
        "their averages are recomputed from the published per-language numbers over the same "
        "languages, so they can differ from the average printed in the paper."
    )
    if ci is not None:
        rules.append(
            f"[low, high]: {ci.level:.0%} percentile bootstrap interval over test examples "
            f"({ci.samples} resamples, seed {ci.seed}). With several seeds each example's score is "
            "first averaged over the seeds, so the interval reflects test-set sampling, not seed "
            "variance (the ± std does). Averages resample each language independently."
        )
    return rules


def _summary(tables: list[TaskTable]) -> tuple[list[SummaryRow], list[str]]:
    """Each model's avg per task and, for models with every task, the mean of those."""
    per: dict[tuple[str, str], dict[str, Stat]] = defaultdict(dict)
    for t in tables:
        for row in t.rows:
            per[(row.model, row.kind)][t.task] = row.cells[AVG]
    rows = []
    for (model, kind), tasks in per.items():
        means = [tasks[t.task].mean for t in tables if t.task in tasks]
        complete = len(means) == len(tables) and all(m is not None for m in means)
        overall = sum(means) / len(means) if complete else None  # type: ignore[arg-type]
        rows.append(SummaryRow(model, kind, tasks, overall))
    rows.sort(key=lambda r: (r.overall is None, -(r.overall or 0.0), r.model))
    rank = 0
    for summary_row in rows:
        if summary_row.kind == MEASURED and summary_row.overall is not None:
            rank += 1
            summary_row.rank = rank
    names = ", ".join(f"{t.task} ({t.metric})" for t in tables)
    notes = [
        f"Each task column is that task's avg (x100, mean ± std over seeds) over the languages "
        f"listed under its table: {names}.",
        f"overall: unweighted mean of the {len(tables)} task averages, given only for rows with "
        "every task; ranked by overall.",
    ]
    return rows, notes
