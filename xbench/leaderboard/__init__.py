"""Leaderboards as data: one ranked table per task and eval split and a summary per split, from
result files plus published rows. data.py holds the types, task_table.py builds one table, this
module filters, checks and assembles; xbench/render/ turns them into text, pages and plots;
xbench/references/ loads the published rows.

Aggregation rules (stated again under every rendered table, because readers compare numbers
across papers): scores are the task's main metric x100; `avg` is the macro average over languages
(each language weighs the same, as XTREME does), `avg-en` the same without the training language
(English for every shipped task), and `gap` is the training language's score minus `avg-en` (the
cross-lingual transfer gap). All three are computed per seed and then reported as mean ± sample
std over seeds. When rows cover different languages, the averages use only the languages every
measured row has, and the table says so; nothing is averaged over different language sets
silently.

Eval splits: every table and summary holds one split (its title says which). Results of one task
on dev and on test become two tables, never averaged or ranked together. Published rows are the
papers' test-set numbers: beside dev results they are left out, with a note (or, asked for,
listed below the measured rows, marked, neither placed nor ranked, and not in the summary).
Rows are labelled by the model's readable name (`tables.model_labels`); filters accept it too.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from pathlib import Path

from xbench import languages as langs
from xbench.errors import did_you_mean
from xbench.leaderboard.data import (
    MEASURED,
    PUBLISHED,
    PUBLISHED_MARK,
    CIOptions,
    Leaderboard,
    LeaderboardError,
    Row,
    Run,
    Stat,
    Summary,
    SummaryRow,
    TaskTable,
)
from xbench.leaderboard.task_table import task_table
from xbench.references import Reference
from xbench.results import display_name
from xbench.tables import AVG, DEFAULT_SPLIT, GAP, model_labels

__all__ = [
    "AVG",
    "GAP",
    "MEASURED",
    "PUBLISHED",
    "PUBLISHED_MARK",
    "CIOptions",
    "Leaderboard",
    "LeaderboardError",
    "Row",
    "Run",
    "Stat",
    "Summary",
    "SummaryRow",
    "TaskTable",
    "build_leaderboard",
]


def _select(names: list[str], wanted: list[str] | None, what: str) -> set[str]:
    """Names matching any wanted entry (exact or glob); an entry matching nothing is an error."""
    if not wanted:
        return set(names)
    chosen: set[str] = set()
    for w in wanted:
        hits = {n for n in names if _matches(n, w)}
        if not hits:
            raise LeaderboardError(
                f"no results for {what} '{w}'.{did_you_mean(w, names)}",
                hint=f"{what}s found: {', '.join(sorted(names)) or 'none'}",
            )
        chosen |= hits
    return chosen


def _matches(name: str, wanted: str) -> bool:
    return name == wanted or fnmatch.fnmatchcase(name, wanted)


def build_leaderboard(
    runs: list[Run],
    *,
    tasks: list[str] | None = None,
    models: list[str] | None = None,
    languages: list[str] | None = None,
    references: list[Reference] | None = None,
    references_on_dev: bool = False,
    ci: CIOptions | None = None,
) -> Leaderboard:
    """Filter, check and aggregate runs into ranked task tables (one per task and eval split)
    plus a summary per split. `references_on_dev`: list published rows of another split (test)
    below tables measured on dev too, instead of leaving them out."""
    if not runs:
        raise LeaderboardError("no result files to rank", hint="pass folders written by xbench run")
    keep_tasks = _select(sorted({r.task for _, r in runs}), tasks, "task")
    runs = _select_models([(p, r) for p, r in runs if r.task in keep_tasks], models)
    labels, warnings = model_labels((r.model, display_name(r)) for _, r in runs)
    seen: dict[tuple[str, str, str, int], Path] = {}
    for p, r in runs:
        key = (r.model, r.task, r.eval_split, r.seed)
        if key in seen:
            raise LeaderboardError(
                f"two results for {r.model} / {r.task} / seed {r.seed} ({r.eval_split} split): "
                f"{seen[key]} and {p}",
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
    groups: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    splits: dict[str, set[str]] = defaultdict(set)
    for p, r in runs:
        groups[(r.task, r.metric, r.eval_split)].append((p, r))
        splits[r.task].add(r.eval_split)
    tables = []
    for (task, metric, split), group in sorted(groups.items(), key=lambda g: _split_key(*g[0])):
        refs = (references or [], references_on_dev)
        table = task_table(task, metric, split, group, languages, refs, ci, labels)
        if table is None:
            warnings.append(f"{task} ({split}): no results in the requested languages; left out")
            continue
        if others := sorted(splits[task] - {split}):
            table.notes.append(
                f"Warning: {task} also has {' and '.join(others)}-split results, in their own "
                "table: scores of different splits are never averaged or ranked together."
            )
        tables.append(table)
    if mixed := sorted(task for task, found in splits.items() if len(found) > 1):
        warnings.append(
            f"{', '.join(mixed)}: results on several eval splits; each split gets its own table "
            "and summary, never averaged or ranked together"
        )
    if not tables:
        raise LeaderboardError("no results left after filtering", hint="loosen the filters")
    return Leaderboard(tables=tables, summaries=_summaries(tables), warnings=warnings)


def _split_key(task: str, metric: str, split: str) -> tuple[str, str, int, str]:
    """Tasks in name order, the test split (what papers report) before dev."""
    return task, metric, split != DEFAULT_SPLIT, split


def _select_models(runs: list[Run], wanted: list[str] | None) -> list[Run]:
    """Runs whose model matches a wanted entry (exact or glob) by its full id, its readable name
    or its row label; an entry matching nothing is an error."""
    if not wanted:
        return runs
    labels, _ = model_labels((r.model, display_name(r)) for _, r in runs)
    names: dict[str, set[str]] = {m: {m, label} for m, label in labels.items()}
    for _, r in runs:
        names[r.model].add(display_name(r))
    chosen: set[str] = set()
    for w in wanted:
        hits = {m for m, ns in names.items() if any(_matches(n, w) for n in ns)}
        if not hits:
            known = sorted(set().union(*names.values()))
            found = [label if label == m else f"{label} ({m})" for m, label in labels.items()]
            raise LeaderboardError(
                f"no results for model '{w}'.{did_you_mean(w, known)}",
                hint=f"models found: {', '.join(sorted(found)) or 'none'}",
            )
        chosen |= hits
    return [(p, r) for p, r in runs if r.model in chosen]


def _summaries(tables: list[TaskTable]) -> list[Summary]:
    """One summary per eval split (test first), each over that split's tables only."""
    splits = sorted({t.split for t in tables}, key=lambda s: (s != DEFAULT_SPLIT, s))
    out = []
    for split in splits:
        mine = [t for t in tables if t.split == split]
        rows, notes = _summary(mine, split)
        if others := [s for s in splits if s != split]:
            notes.append(
                f"Only the tables measured on the {split} split; the {' and '.join(others)}-split "
                "tables have their own summary: scores of different splits are never averaged or "
                "ranked together."
            )
        out.append(Summary(split, [t.task for t in mine], rows, notes))
    return out


def _summary(tables: list[TaskTable], split: str) -> tuple[list[SummaryRow], list[str]]:
    """Each model's avg per task and, for models with every task, the mean of those (published
    rows of another split than the tables' are left out)."""
    per: dict[tuple[str, str], dict[str, Stat]] = defaultdict(dict)
    shown: dict[tuple[str, str], str] = {}
    for t in tables:
        for row in t.rows:
            if not row.off_split:
                per[(row.model, row.kind)][t.task] = row.cells[AVG]
                shown[(row.model, row.kind)] = row.name
    rows = []
    for (model, kind), tasks in per.items():
        means = [tasks[t.task].mean for t in tables if t.task in tasks]
        complete = len(means) == len(tables) and all(m is not None for m in means)
        overall = sum(means) / len(means) if complete else None  # type: ignore[arg-type]
        rows.append(SummaryRow(model, kind, tasks, overall, name=shown[(model, kind)]))
    rows.sort(key=lambda r: (r.overall is None, -(r.overall or 0.0), r.label))
    rank = 0
    for summary_row in rows:
        if summary_row.kind == MEASURED and summary_row.overall is not None:
            rank += 1
            summary_row.rank = rank
    names = ", ".join(f"{t.task} ({t.metric})" for t in tables)
    notes = [
        f"Each task column is that task's avg on the {split} split (x100, mean ± std over seeds) "
        f"over the languages listed under its table: {names}.",
        f"overall: unweighted mean of the {len(tables)} task averages, given only for rows with "
        "every task; ranked by overall.",
    ]
    return rows, notes
