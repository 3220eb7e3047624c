"""Per-language score tables from result files: rows (model, task), columns languages, x100.

Data only; xbench/render/tables.py formats them. Averages follow XTREME: the macro average over
languages ('avg') and the same without the training language ('avg-en' for English-trained tasks,
the zero-shot transfer score). Several seeds give mean ± sample std.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from xbench import languages
from xbench.errors import ResultsError
from xbench.results import RunResult

if TYPE_CHECKING:
    import pandas as pd

AVG = languages.AVG
# results before schema version 2 carry no train_language; all of them trained on English
DEFAULT_TRAIN_LANGUAGE: str = RunResult.model_fields["train_language"].default
AVG_NO_EN = languages.without_training(DEFAULT_TRAIN_LANGUAGE)  # 'avg-en'
GAP = "gap"  # the training language's score minus the average without it (the transfer gap)
TRAIN_LANGUAGE = "train_language"  # the column of long_frame that the averages follow


def long_frame(
    results: Iterable[RunResult], metric: str | None = None, *, train_language: bool = True
) -> pd.DataFrame:
    """One row per (model, task, seed, language) with the main metric (or `metric`) x100 and
    each result's training language, which the averages and their labels follow
    (`train_language=False` leaves that column out: every row then counts as English-trained)."""
    import pandas as pd

    columns = ["model", "task", "metric", "seed", "language", "score"]
    rows = []
    for r in results:
        name = metric or r.metric
        for lang, lr in r.languages.items():
            if name in lr.scores:
                row = {"model": r.model, "task": r.task, "metric": name, "seed": r.seed}
                row.update(language=lang, score=100 * lr.scores[name])
                if train_language:
                    row[TRAIN_LANGUAGE] = r.train_language
                rows.append(row)
    return pd.DataFrame(rows, columns=[*columns, *([TRAIN_LANGUAGE] if train_language else [])])


def train_language_of(frame: pd.DataFrame) -> str:
    """The one training language of the results in `frame` (the default without the column);
    results trained on different languages have no common 'average without it'."""
    if TRAIN_LANGUAGE not in frame.columns or frame.empty:
        return DEFAULT_TRAIN_LANGUAGE
    found = sorted(set(frame[TRAIN_LANGUAGE]))
    if len(found) > 1:
        tasks = ", ".join(sorted(set(frame["task"])))
        raise ResultsError(
            f"results of {tasks} were trained on different languages ({', '.join(found)}); "
            "their transfer averages are not comparable",
            hint="pass the results of one training language at a time",
        )
    return found[0]


def split_pairs(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(plain languages, context-question pairs such as 'de-en') of a long frame."""
    is_pair = frame["language"].map(languages.is_pair).astype(bool)
    return frame[~is_pair], frame[is_pair]


def with_averages(
    per_seed: pd.DataFrame, train_language: str = DEFAULT_TRAIN_LANGUAGE
) -> pd.DataFrame:
    """Add avg and the average without `train_language` (avg-en), computed per seed (so their
    std is across seeds too)."""
    no_train = languages.without_training(train_language)
    wide = per_seed.copy()
    langs = [c for c in wide.columns if c not in (AVG, no_train)]
    wide[AVG] = wide[langs].mean(axis=1, skipna=False)
    others = languages.transfer_languages(langs, train_language)
    wide[no_train] = wide[others].mean(axis=1, skipna=False) if others else float("nan")
    return wide


def score_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(mean, std, seed count) tables indexed by (model, task), languages as columns."""
    per_seed = frame.pivot_table(
        index=["model", "task", "seed"], columns="language", values="score", aggfunc="first"
    )
    per_seed = with_averages(per_seed, train_language_of(frame))
    grouped = per_seed.groupby(level=["model", "task"])
    return grouped.mean(), grouped.std(ddof=1), grouped.size().to_frame("seeds")
