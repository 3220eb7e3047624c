"""`xbench table` (and the table `xbench run` prints): per-language scores x100 as Markdown or
CSV, one table per (task, metric, eval split), and a G-XLT matrix per model for context-question
pairs. Rows show the model's readable name (`model`; CSV also has the full `model_id` and the
`split`); every title names the split."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xbench import languages
from xbench.tables import (
    AVG,
    DEFAULT_SPLIT,
    SPLIT,
    TRAIN_LANGUAGE,
    frame_labels,
    score_table,
    split_of,
    split_pairs,
    train_language_of,
)

if TYPE_CHECKING:
    import pandas as pd


def format_table(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Cells as '84.2' or '84.2 ± 0.3' (one decimal; ± only with several seeds). Columns: model
    (the row label, `labels` or tables.frame_labels), model_id, task, split, seeds, languages,
    averages."""
    import pandas as pd

    mean, std, count = score_table(frame)
    seeds = count["seeds"].to_numpy()
    rows = zip(mean.to_numpy(dtype=float), std.to_numpy(dtype=float), seeds, strict=True)
    texts = [[_cell(m, s, n) for m, s in zip(ms, ss, strict=True)] for ms, ss, n in rows]
    cells = pd.DataFrame(texts, index=mean.index, columns=mean.columns, dtype=object)
    cells.insert(0, "seeds", count["seeds"])
    table = cells.reset_index().rename(columns={"model": "model_id"})
    names = labels if labels is not None else frame_labels(frame)[0]
    table.insert(0, "model", table["model_id"].map(names))
    table.insert(3, SPLIT, split_of(frame))
    return table


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


def _test_first(split: object) -> tuple[bool, str]:
    return split != DEFAULT_SPLIT, str(split)


def render(frame: pd.DataFrame, fmt: str = "markdown") -> str:
    """Markdown (default) or CSV: one table per (task, metric, split); context/question language
    pairs (keys like 'de-en') go to a separate G-XLT matrix per model, never into the averages.
    Markdown ends with a warning per name that could not label its rows as it is."""
    if frame.empty:
        return "(no results)"
    if SPLIT not in frame.columns:
        frame = frame.assign(**{SPLIT: DEFAULT_SPLIT})
    labels, warnings = frame_labels(frame)
    plain, pairs = split_pairs(frame)
    parts, matrices = [], []
    groups = sorted(
        pairs.groupby(["task", SPLIT, "model"]),
        key=lambda g: (g[0][0], _test_first(g[0][1]), g[0][2]),
    )
    for (task, split, model), sub in groups:
        matrix, label = pair_matrix(sub), labels[str(model)]
        if fmt == "csv":
            matrices.append(
                f"# {task} ({split} split) G-XLT {label}\n" + matrix.to_csv().rstrip("\n")
            )
        else:
            matrices.append(
                f"### {task} G-XLT, {label} ({split} split; {sub['metric'].iloc[0]} x100; rows: "
                "context language, columns: question language)\n\n"
                + matrix.to_markdown(disable_numparse=True)
            )
    keys = ["task", "metric", SPLIT, *([TRAIN_LANGUAGE] if TRAIN_LANGUAGE in frame.columns else [])]
    tables = sorted(plain.groupby(keys), key=lambda g: (g[0][:2], _test_first(g[0][2]), g[0][3:]))
    for key, sub in tables:
        task, metric, split = key[0], key[1], key[2]
        table = format_table(sub, labels)
        if fmt == "csv":
            parts.append(table.to_csv(index=False).rstrip("\n"))
        else:
            train = train_language_of(sub)
            parts.append(
                f"### {task} ({split} split; {metric} x100; {AVG}: macro average over languages, "
                f"{languages.without_training(train)}: without {languages.name(train)})\n\n"
                + table.drop(columns=["model_id", SPLIT]).to_markdown(
                    index=False, disable_numparse=True
                )
            )
    if warnings and fmt != "csv":
        matrices.append("\n".join(f"- Warning: {w}" for w in warnings))
    return "\n\n".join(parts + matrices) + "\n"
