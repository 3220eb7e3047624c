"""Per-language tables from result files: rows (model, task), columns languages, x100.

Averages follow XTREME: the macro average over languages ('avg'), and the same without English
('avg-en', the zero-shot transfer score). Several seeds give mean ± sample std.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from xbench.results import RunResult

if TYPE_CHECKING:
    import pandas as pd

AVG, AVG_NO_EN = "avg", "avg-en"


def long_frame(results: Iterable[RunResult], metric: str | None = None) -> pd.DataFrame:
    """One row per (model, task, seed, language) with the main metric (or `metric`) x100."""
    import pandas as pd

    rows = []
    for r in results:
        name = metric or r.metric
        for lang, lr in r.languages.items():
            if name in lr.scores:
                rows.append(
                    {
                        "model": r.model,
                        "task": r.task,
                        "metric": name,
                        "seed": r.seed,
                        "language": lang,
                        "score": 100 * lr.scores[name],
                    }
                )
    return pd.DataFrame(rows, columns=["model", "task", "metric", "seed", "language", "score"])


def with_averages(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Add avg and avg-en columns, computed per seed (so their std is across seeds too)."""
    wide = per_seed.copy()
    langs = [c for c in wide.columns if c not in (AVG, AVG_NO_EN)]
    wide[AVG] = wide[langs].mean(axis=1, skipna=False)
    others = [c for c in langs if c != "en"]
    wide[AVG_NO_EN] = wide[others].mean(axis=1, skipna=False) if others else float("nan")
    return wide


def score_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(mean, std, seed count) tables indexed by (model, task), languages as columns."""
    per_seed = frame.pivot_table(
        index=["model", "task", "seed"], columns="language", values="score", aggfunc="first"
    )
    per_seed = with_averages(per_seed)
    grouped = per_seed.groupby(level=["model", "task"])
    return grouped.mean(), grouped.std(ddof=1), grouped.size().to_frame("seeds")


def format_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as '84.2' or '84.2 ± 0.3' (one decimal; ± only with several seeds)."""
    mean, std, count = score_table(frame)
    cells = mean.copy().astype(object)
    for idx in mean.index:
        for col in mean.columns:
            m, s = mean.at[idx, col], std.at[idx, col]
            if m != m:  # NaN: language missing for this row
                cells.at[idx, col] = "–"
            elif count.at[idx, "seeds"] > 1 and s == s:
                cells.at[idx, col] = f"{m:.1f} ± {s:.1f}"
            else:
                cells.at[idx, col] = f"{m:.1f}"
    cells.insert(0, "seeds", count["seeds"])
    return cells.reset_index()


def pair_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """G-XLT: mean score per (context language row, question language column) for one model."""
    pairs = frame.assign(
        context=frame["language"].str.split("-").str[0],
        question=frame["language"].str.split("-").str[1],
    )
    matrix = pairs.pivot_table(index="context", columns="question", values="score", aggfunc="mean")
    return matrix.map(lambda v: "–" if v != v else f"{v:.1f}")


def render(frame: pd.DataFrame, fmt: str = "markdown") -> str:
    """Markdown (default) or CSV: one table per (task, metric); context/question language pairs
    (keys like 'de-en') go to a separate G-XLT matrix per model, never into the averages."""
    if frame.empty:
        return "(no results)"
    is_pair = frame["language"].str.contains("-", regex=False)
    parts, matrices = [], []
    for (task, model), sub in frame[is_pair].groupby(["task", "model"], sort=True):
        matrix = pair_matrix(sub)
        if fmt == "csv":
            matrices.append(f"# {task} G-XLT {model}\n" + matrix.to_csv().rstrip("\n"))
        else:
            matrices.append(
                f"### {task} G-XLT, {model} ({sub['metric'].iloc[0]} x100; rows: context "
                f"language, columns: question language)\n\n"
                + matrix.to_markdown(disable_numparse=True)
            )
    for (task, metric), sub in frame[~is_pair].groupby(["task", "metric"], sort=True):
        table = format_table(sub)
        if fmt == "csv":
            parts.append(table.to_csv(index=False).rstrip("\n"))
        else:
            parts.append(
                f"### {task} ({metric} x100; {AVG}: macro average over languages, "
                f"{AVG_NO_EN}: without English)\n\n"
                + table.to_markdown(index=False, disable_numparse=True)
            )
    return "\n\n".join(parts + matrices) + "\n"
