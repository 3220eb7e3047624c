"""Leaderboards: one ranked table per task and a summary, from result files plus published rows.

Aggregation rules (stated again under every rendered table, because readers compare numbers
across papers): scores are the task's main metric x100; `avg` is the macro average over languages
(each language weighs the same, as XTREME does), `avg-en` the same without English, and `gap` is
English minus `avg-en` (the cross-lingual transfer gap). All three are computed per seed and then
reported as mean ± sample std over seeds. When rows cover different languages, the averages use
only the languages every measured row has, and the table says so; nothing is averaged over
different language sets silently.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from xbench.errors import XbenchError, did_you_mean
from xbench.results import RunResult
from xbench.tables import AVG, AVG_NO_EN, long_frame, score_table, with_averages

GAP = "gap"
AVERAGES = (AVG, AVG_NO_EN, GAP)
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

    def text(self, digits: int = 1) -> str:
        if self.mean is None:
            return "–"
        out = f"{self.mean:.{digits}f}"
        if self.std is not None:
            out += f" ± {self.std:.{digits}f}"
        if self.ci is not None:
            out += f" [{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}]"
        return out


@dataclass(frozen=True)
class Reference:
    """A published row: numbers as printed (x100) with the citation they came from."""

    model: str
    task: str
    scores: dict[str, dict[str, float]]
    avg: dict[str, float]
    citation: str
    table: str
    verified_from: str
    hub_id: str | None = None
    setting: str | None = None

    def cite(self, metric: str) -> str:
        paper = self.avg.get(metric)
        text = f"{self.citation}, {self.table}"
        if paper is not None:
            text += f"; printed average {paper:.1f} over {len(self.scores[metric])} languages"
        if self.verified_from.startswith("secondary"):
            text += "; transcribed from a secondary copy (see xbench/references/published.yaml)"
        return text


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

    @property
    def columns(self) -> list[str]:
        return [*self.languages, *AVERAGES]


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


def load_references(path: Path | None = None) -> list[Reference]:
    """The published rows shipped in xbench/references/published.yaml (or another file)."""
    if path is None:
        text = resources.files("xbench.references").joinpath("published.yaml").read_text("utf-8")
        where = "xbench/references/published.yaml"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        raw = yaml.safe_load(text)
        sources = raw["sources"]
        refs = []
        for row in raw["rows"]:
            src = sources[row["source"]]
            refs.append(
                Reference(
                    model=row["model"],
                    task=row["task"],
                    scores={
                        m: {k: float(v) for k, v in s.items()} for m, s in row["scores"].items()
                    },
                    avg={m: float(v) for m, v in row.get("avg", {}).items()},
                    citation=f"{src.get('short') or src['citation']} (arXiv:{src['arxiv']})",
                    table=row["table"],
                    verified_from=" ".join(row["verified_from"].split()),
                    hub_id=row.get("hub_id"),
                    setting=row.get("setting"),
                )
            )
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise LeaderboardError(f"invalid reference file {where}: {err!r}") from None
    return refs


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


def _order_languages(langs: set[str]) -> list[str]:
    """English first (it is the training language), then alphabetical."""
    return sorted(langs, key=lambda lang: (lang != "en", lang))


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
        for lang in languages:
            if lang not in present:
                raise LeaderboardError(
                    f"no results in language '{lang}'.{did_you_mean(lang, present)}",
                    hint=f"languages found: {' '.join(_order_languages(present))}",
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
    if languages:
        frame = frame[frame["language"].isin(languages)]
    notes: list[str] = []
    is_pair = frame["language"].str.contains("-", regex=False)
    if is_pair.any():
        notes.append(
            f"{frame.loc[is_pair, 'language'].nunique()} cross-lingual context-question pairs "
            "(keys like de-en, G-XLT) are not part of this table; `xbench table` shows them."
        )
        frame = frame[~is_pair]
    if frame.empty:
        return None
    split = sorted({r.eval_split for _, r in runs})
    full: dict[str, set[str]] = {}
    for model, sub in frame.groupby("model"):
        per_seed = [set(s["language"]) for _, s in sub.groupby("seed")]
        full[model] = set.intersection(*per_seed)
        partial = set.union(*per_seed) - full[model]
        if partial:
            notes.append(
                f"Warning: {model}: {', '.join(_order_languages(partial))} missing in some seeds; "
                "those cells average only the seeds that have them and are left out of averages."
            )
    columns = _order_languages(set(frame["language"]))
    common = _order_languages(set.intersection(*full.values())) if full else []
    mean, std, count = score_table(frame)
    avg_stats = _average_stats(frame[frame["language"].isin(common)], common)
    by_model: dict[str, list[Run]] = defaultdict(list)
    for p, r in runs:
        by_model[r.model].append((p, r))
    rows = []
    for model in full:
        idx = (model, task)
        cells = {
            lang: _stat(mean.at[idx, lang], std.at[idx, lang])
            for lang in columns
            if lang in mean.columns
        }
        cells.update(avg_stats.get(model, {}))
        for col in AVERAGES:  # no shared language: the averages stay empty
            cells.setdefault(col, Stat())
        versions = tuple(sorted({r.task_version for _, r in by_model[model]}))
        rows.append(
            Row(model, MEASURED, int(count.at[idx, "seeds"]), cells, task_versions=versions)
        )
    if ci is not None:
        for row in rows:
            _add_intervals(row, by_model[row.model], columns, common, ci)
    for ref in references:
        if ref.task == task and metric in ref.scores:
            rows.append(_reference_row(ref, metric, columns, common, notes))
    rows.sort(key=lambda r: (r.cells[AVG].mean is None, -(r.cells[AVG].mean or 0.0), r.model))
    rank = 0
    for row in rows:
        if row.kind == MEASURED:
            rank += 1
            row.rank = rank
    notes[:0] = _rules(metric, split, common, columns, full, ci)
    versions = sorted({v for r in rows for v in r.task_versions})
    if len(versions) > 1:
        notes.append(f"Warning: rows mix task versions {versions}; they may not be comparable.")
    for row in rows:
        if row.kind == PUBLISHED:
            notes.append(
                f"{PUBLISHED_MARK} {row.model}: published, not measured here. {row.citation}"
            )
    return TaskTable(task, metric, columns, common, rows, notes)


def _stat(m: Any, s: Any) -> Stat:
    m, s = float(m), float(s)
    return Stat(None if m != m else m, None if s != s else s)


def _average_stats(frame: Any, common: list[str]) -> dict[str, dict[str, Stat]]:
    """avg, avg-en and gap per model: computed per seed, then mean ± std over seeds."""
    if not common:
        return {}
    per_seed = frame.pivot_table(
        index=["model", "seed"], columns="language", values="score", aggfunc="first"
    )
    per_seed = with_averages(per_seed)
    has_en = "en" in common and len(common) > 1
    per_seed[GAP] = per_seed["en"] - per_seed[AVG_NO_EN] if has_en else float("nan")
    if not has_en:
        per_seed[AVG_NO_EN] = float("nan")
    grouped = per_seed.groupby(level="model")
    mean, std = grouped.mean(), grouped.std(ddof=1)
    return {
        model: {col: _stat(mean.at[model, col], std.at[model, col]) for col in AVERAGES}
        for model in mean.index
    }


def _add_intervals(
    row: Row, runs: list[Run], columns: list[str], common: list[str], ci: CIOptions
) -> None:
    """Bootstrap CIs per language and, resampling each language independently, for averages."""
    import numpy as np

    from xbench.stats import bootstrap_means, cell_rng, percentile_interval, seed_averaged

    boots: dict[str, np.ndarray] = {}
    for lang in columns:
        having = [(p, r) for p, r in runs if lang in r.languages]
        if not having or lang not in row.cells:
            continue
        examples, _ = seed_averaged(having, lang)
        rng = cell_rng(ci.seed, row.model, lang)
        boots[lang] = 100 * bootstrap_means(examples.scores, ci.samples, rng)
    derived: dict[str, np.ndarray] = {}
    if common and all(lang in boots for lang in common):
        derived[AVG] = np.mean([boots[lang] for lang in common], axis=0)
        others = [lang for lang in common if lang != "en"]
        if "en" in common and others:
            derived[AVG_NO_EN] = np.mean([boots[lang] for lang in others], axis=0)
            derived[GAP] = boots["en"] - derived[AVG_NO_EN]
    for col, boot in [*boots.items(), *derived.items()]:
        old = row.cells.get(col, Stat())
        if old.mean is not None:
            row.cells[col] = Stat(old.mean, old.std, percentile_interval(boot, ci.level))


def _reference_row(
    ref: Reference, metric: str, columns: list[str], common: list[str], notes: list[str]
) -> Row:
    """Published numbers in this table's columns; averages recomputed over the same languages."""
    values = ref.scores[metric]
    cells = {lang: Stat(values.get(lang)) for lang in columns}
    missing = [lang for lang in common if lang not in values]
    if common and not missing:
        others = [lang for lang in common if lang != "en"]
        cells[AVG] = Stat(sum(values[lang] for lang in common) / len(common))
        if "en" in common and others:
            avg_en = sum(values[lang] for lang in others) / len(others)
            cells[AVG_NO_EN], cells[GAP] = Stat(avg_en), Stat(values["en"] - avg_en)
    elif missing:
        notes.append(
            f"{PUBLISHED_MARK} {ref.model} has no published {', '.join(missing)}: no averages."
        )
    for col in AVERAGES:
        cells.setdefault(col, Stat())
    return Row(ref.model, PUBLISHED, 0, cells, citation=ref.cite(metric))


def _rules(
    metric: str,
    split: list[str],
    common: list[str],
    columns: list[str],
    full: dict[str, set[str]],
    ci: CIOptions | None,
) -> list[str]:
    """The aggregation rules, written out under each table."""
    rules = [
        f"Scores: {metric} x100 on the {'/'.join(split)} split; mean ± sample std over seeds "
        "(no ± with one seed).",
    ]
    if common:
        rules.append(
            f"avg: macro average over the {len(common)} languages {' '.join(common)} (each "
            "language weighs the same, as in XTREME); avg-en: the same without English; gap: "
            "en minus avg-en (the transfer gap). Each is computed per seed, then mean ± std."
        )
    else:
        rules.append("avg, avg-en, gap: not computed, the rows share no language.")
    if common and "en" not in common:
        rules.append("English is not among the shared languages: avg-en and gap are undefined.")
    lacking = {m: [lang for lang in columns if lang not in langs] for m, langs in full.items()}
    lacking = {m: langs for m, langs in lacking.items() if langs}
    if lacking:
        detail = "; ".join(f"{m} lacks {' '.join(langs)}" for m, langs in sorted(lacking.items()))
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
    for row in rows:
        if row.kind == MEASURED and row.overall is not None:
            rank += 1
            row.rank = rank
    names = ", ".join(f"{t.task} ({t.metric})" for t in tables)
    notes = [
        f"Each task column is that task's avg (x100, mean ± std over seeds) over the languages "
        f"listed under its table: {names}.",
        f"overall: unweighted mean of the {len(tables)} task averages, given only for rows with "
        "every task; ranked by overall.",
    ]
    return rows, notes


# --- what every format shows ------------------------------------------------------------------


def headers(table: TaskTable) -> list[str]:
    return ["#", "model", "seeds", *table.columns]


def row_cells(row: Row, table: TaskTable) -> list[str]:
    """Display strings of one row, in `headers` order."""
    rank = str(row.rank) if row.rank is not None else PUBLISHED_MARK
    seeds = str(row.seeds) if row.kind == MEASURED else "–"
    return [rank, row.label, seeds, *(row.cells.get(c, Stat()).text() for c in table.columns)]


def summary_headers(lb: Leaderboard) -> list[str]:
    return ["#", "model", *lb.tasks, "overall"]


def summary_cells(row: SummaryRow, lb: Leaderboard) -> list[str]:
    rank = (
        str(row.rank) if row.rank is not None else (PUBLISHED_MARK if row.kind == PUBLISHED else "")
    )
    overall = "–" if row.overall is None else f"{row.overall:.1f}"
    return [rank, row.label, *(row.tasks.get(t, Stat()).text() for t in lb.tasks), overall]


def title(table: TaskTable) -> str:
    return f"{table.task} ({table.metric} x100)"
