"""`xbench table` (and the table `xbench run` prints): per-language scores x100 as Markdown or
CSV, one table per (task, metric), and a G-XLT matrix per model for context-question pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xbench import languages
from xbench.tables import (
    AVG,
    TRAIN_LANGUAGE,
    score_table,
    split_pairs,
    train_language_of,
)

if TYPE_CHECKING:
    import pandas as pd


def format_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as '84.2' or '84.2 ± 0.3' (one decimal; ± only with several seeds)."""
    import pandas as pd

    mean, std, count = score_table(frame)
    seeds = count["seeds"].to_numpy()
    rows = zip(mean.to_numpy(dtype=float), std.to_numpy(dtype=float), seeds, strict=True)
    texts = [[_cell(m, s, n) for m, s in zip(ms, ss, strict=True)] for ms, ss, n in rows]
    cells = pd.DataFrame(texts, index=mean.index, columns=mean.columns, dtype=object)
    cells.insert(0, "seeds", count["seeds"])
    return cells.reset_index()


def _cell(mean: float, std: float, seeds: int) -> str:
    if mean != mean:  # NaN: language missing for this row
        return "–"
    if seeds > 1 and std == std:
        return f"{mean:.1f} ± {std:.1f}"
    return f"{mean:.1f}"


def pair_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """G-XLT: mean score per (context language row, question language column) for one model."""
    context, question = zip(*frame["language"].map(languages.parse), strict=True)
    pairs = frame.assign(context=list(context), question=list(question))
    matrix = pairs.pivot_table(index="context", columns="question", values="score", aggfunc="mean")
    return matrix.map(lambda v: "–" if v != v else f"{v:.1f}")


def render(frame: pd.DataFrame, fmt: str = "markdown") -> str:
    """Markdown (default) or CSV: one table per (task, metric); context/question language pairs
    (keys like 'de-en') go to a separate G-XLT matrix per model, never into the averages."""
    if frame.empty:
        return "(no results)"
    plain, pairs = split_pairs(frame)
    parts, matrices = [], []
    for (task, model), sub in pairs.groupby(["task", "model"], sort=True):
        matrix = pair_matrix(sub)
        if fmt == "csv":
            matrices.append(f"# {task} G-XLT {model}\n" + matrix.to_csv().rstrip("\n"))
        else:
            matrices.append(
                f"### {task} G-XLT, {model} ({sub['metric'].iloc[0]} x100; rows: context "
                f"language, columns: question language)\n\n"
                + matrix.to_markdown(disable_numparse=True)
            )
    keys = ["task", "metric", *([TRAIN_LANGUAGE] if TRAIN_LANGUAGE in frame.columns else [])]
    for key, sub in plain.groupby(keys, sort=True):
        task, metric = key[0], key[1]
        table = format_table(sub)
        if fmt == "csv":
            parts.append(table.to_csv(index=False).rstrip("\n"))
        else:
            train = train_language_of(sub)
            parts.append(
                f"### {task} ({metric} x100; {AVG}: macro average over languages, "
                f"{languages.without_training(train)}: without {languages.name(train)})\n\n"
                + table.to_markdown(index=False, disable_numparse=True)
            )
    return "\n\n".join(parts + matrices) + "\n"
