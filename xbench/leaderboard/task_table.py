"""One task table of one eval split: measured rows aggregated over seeds, optional bootstrap
intervals, the published rows beside them, and the rules written out under the table."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from xbench import languages as langs
from xbench.leaderboard.data import (
    MEASURED,
    PUBLISHED,
    PUBLISHED_MARK,
    CIOptions,
    Row,
    Run,
    Stat,
    TaskTable,
)
from xbench.references import Reference
from xbench.tables import (
    AVG,
    GAP,
    long_frame,
    score_table,
    split_pairs,
    train_language_of,
    with_averages,
)


def task_table(
    task: str,
    metric: str,
    split: str,
    runs: list[Run],
    languages: list[str] | None,
    refs: tuple[list[Reference], bool],
    ci: CIOptions | None,
    labels: dict[str, str],
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
    full: dict[str, set[str]] = {}
    for name, sub in frame.groupby("model"):
        model = str(name)
        per_seed = [set(s["language"]) for _, s in sub.groupby("seed")]
        full[model] = set.intersection(*per_seed)
        partial = set.union(*per_seed) - full[model]
        if partial:
            notes.append(
                f"Warning: {labels[model]}: {', '.join(langs.ordered(partial, train))} missing in "
                "some seeds; those cells average only the seeds that have them and are left out "
                "of averages."
            )
    columns = langs.ordered(set(frame["language"]), train)
    common = langs.ordered(set.intersection(*full.values()), train) if full else []
    table = TaskTable(task, metric, columns, common, [], notes, train, split)
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
        name = labels[model]
        table.rows.append(Row(model, MEASURED, seeds, cells, None, None, versions, name, split))
    if ci is not None:
        for row in table.rows:
            _add_intervals(row, by_model[row.model], table, ci)
    references, on_dev = refs
    others = [r for r in references if r.task == task and metric in r.scores and r.split != split]
    for ref in references:
        if ref.task == task and metric in ref.scores and ref.split == split:
            table.rows.append(_reference_row(ref, table))
    table.rows.sort(key=lambda r: (r.cells[AVG].mean is None, -(r.cells[AVG].mean or 0.0), r.label))
    rank = 0
    for row in table.rows:
        if row.kind == MEASURED:
            rank += 1
            row.rank = rank
    placed = any(r.kind == PUBLISHED for r in table.rows)
    if others and on_dev:  # below the measured rows: not comparable, so not placed by avg
        table.rows.extend(_reference_row(ref, table) for ref in others)
    notes[:0] = _rules(table, full, ci, placed)
    if others:
        notes.append(_other_split_note(others, split, on_dev))
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
    cite, off = ref.cite(table.metric), ref.split != table.split
    return Row(ref.model, PUBLISHED, 0, cells, citation=cite, split=ref.split, off_split=off)


def _other_split_note(refs: list[Reference], split: str, shown: bool) -> str:
    """Why published rows of another split (the papers' test sets) are not beside these rows."""
    theirs = "/".join(sorted({r.split for r in refs}))
    if shown:
        return (
            f"{PUBLISHED_MARK} [{theirs}]: published {theirs}-set numbers from papers, listed "
            f"below the measured rows for orientation only: they are not comparable with these "
            f"{split}-split scores, so they are neither placed by avg nor ranked, and they are "
            "not part of the summary."
        )
    return (
        f"Published rows left out: {'; '.join(r.model for r in refs)}. They are {theirs}-set "
        f"numbers from papers, not comparable with these {split}-split scores; "
        f"`--references-on-dev` lists them below the measured rows, marked [{theirs}]."
    )


def _rules(
    table: TaskTable, full: dict[str, set[str]], ci: CIOptions | None, placed: bool
) -> list[str]:
    """The aggregation rules, written out under each table (`placed`: it has published rows of
    its own split)."""
    common, train = table.averaged_over, table.train_language
    _, no_train, _ = table.averages
    rules = [
        f"Scores: {table.metric} x100 on the {table.split} split; mean ± sample std over "
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
    names = {r.model: r.label for r in table.rows if r.kind == MEASURED}
    if lacking:
        detail = "; ".join(f"{names[m]} lacks {' '.join(ls)}" for m, ls in sorted(lacking.items()))
        rules.append(
            f"Warning: rows cover different languages ({detail}). Averages use only the "
            f"{len(common)} languages all measured rows share; the other columns are shown but "
            "excluded from every average."
        )
    rules.append(
        f"Ranked by avg. Published rows ({PUBLISHED_MARK}) are placed by their avg but not ranked; "
        "their averages are recomputed from the published per-language numbers over the same "
        "languages, so they can differ from the average printed in the paper."
        if placed
        else "Ranked by avg."
    )
    if ci is not None:
        rules.append(
            f"[low, high]: {ci.level:.0%} percentile bootstrap interval over {table.split} "
            f"examples ({ci.samples} resamples, seed {ci.seed}). With several seeds each example's "
            f"score is first averaged over the seeds, so the interval reflects {table.split}-set "
            "sampling, not seed variance (the ± std does). Averages resample each language "
            "independently."
        )
    return rules
