"""Per-language score tables from result files: rows (model, task), columns languages, x100.

Data only; xbench/render/tables.py formats them. Averages follow XTREME: the macro average over
languages ('avg') and the same without the training language ('avg-en' for English-trained tasks,
the zero-shot transfer score). Several seeds give mean ± sample std. Scores of different eval
splits (dev, test) are never averaged together, and rows are labelled by the model's readable
name (`model_labels`), kept apart when two models share one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from xbench import languages
from xbench.errors import ResultsError
from xbench.results import RunResult, default_name, display_name

if TYPE_CHECKING:
    import pandas as pd

AVG = languages.AVG
# results before schema version 2 carry no train_language; all of them trained on English
DEFAULT_TRAIN_LANGUAGE: str = RunResult.model_fields["train_language"].default
AVG_NO_EN = languages.without_training(DEFAULT_TRAIN_LANGUAGE)  # 'avg-en'
GAP = "gap"  # the training language's score minus the average without it (the transfer gap)
TRAIN_LANGUAGE = "train_language"  # the column of long_frame that the averages follow
SPLIT = "split"  # the column of long_frame with each result's eval split
DEFAULT_SPLIT = "test"


def long_frame(
    results: Iterable[RunResult], metric: str | None = None, *, train_language: bool = True
) -> pd.DataFrame:
    """One row per (model, task, seed, language) with the main metric (or `metric`) x100, the
    model's readable name (`display_name`), the eval split, and each result's training language,
    which the averages and their labels follow (`train_language=False` leaves that column out:
    every row then counts as English-trained)."""
    import pandas as pd

    columns = ["model", "name", "task", SPLIT, "metric", "seed", "language", "score"]
    rows = []
    for r in results:
        name = metric or r.metric
        for lang, lr in r.languages.items():
            if name in lr.scores:
                row: dict[str, Any] = {"model": r.model, "name": display_name(r), "task": r.task}
                row.update({SPLIT: r.eval_split, "metric": name, "seed": r.seed})
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


def split_of(frame: pd.DataFrame) -> str:
    """The one eval split of the results in `frame`: dev and test scores are not comparable."""
    if SPLIT not in frame.columns or frame.empty:
        return DEFAULT_SPLIT
    found = sorted(set(frame[SPLIT]))
    if len(found) > 1:
        tasks = ", ".join(sorted(set(frame["task"])))
        raise ResultsError(
            f"results of {tasks} mix the {' and '.join(found)} splits; scores of different "
            "splits are not comparable and are never averaged together",
            hint="pass the results of one split at a time",
        )
    return str(found[0])


def model_labels(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """A row label per model id from (model id, display name) pairs, one per result, and a
    warning per name that was not used as it is. A model is labelled by its name, unless:
    its results carry several names (the most common is used), or different models share a name
    (checkpoints in different folders, both 'checkpoint-500'): those are labelled by the shortest
    end of their path that tells them apart ('run-a/checkpoint-500'), or 'NAME (that end)' for a
    name given with --name. Rows of different models never merge under one label."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for model, name in pairs:
        found[model][name] += 1
    labels, warnings = {}, []
    for model, names in sorted(found.items()):
        labels[model] = min(names, key=lambda n: (-names[n], n))
        if len(names) > 1:
            warnings.append(
                f"{model} has results under several names ({', '.join(sorted(names))}); its "
                f"rows are labelled '{labels[model]}'."
            )
    by_name: dict[str, list[str]] = defaultdict(list)
    for model, name in labels.items():
        by_name[name].append(model)
    for name, group in sorted(by_name.items()):
        if len(group) < 2:
            continue
        for model in group:
            tail = _distinct_tail(model, group)
            if name != model:  # a hub id shown as itself is already unique
                labels[model] = tail if name == default_name(model) else f"{name} ({tail})"
        warnings.append(
            f"{len(group)} different models share the name '{name}' ({', '.join(group)}); "
            f"their rows are labelled {', '.join(repr(labels[m]) for m in group)}."
        )
    while True:  # a label that still clashes falls back to the model id (ids are unique)
        counts = Counter(labels.values())
        clash = [m for m, label in labels.items() if counts[label] > 1 and label != m]
        if not clash:
            return labels, warnings
        labels.update({m: m for m in clash})


def frame_labels(frame: pd.DataFrame) -> tuple[dict[str, str], list[str]]:
    """`model_labels` of the results in a long frame (one name per result)."""
    if "name" not in frame.columns:
        return {str(m): str(m) for m in frame["model"].unique()}, []
    keys = [c for c in ("model", "name", "task", SPLIT, "seed") if c in frame.columns]
    results = frame.drop_duplicates(keys)
    return model_labels(zip(results["model"].astype(str), results["name"].astype(str), strict=True))


def _distinct_tail(model: str, group: list[str]) -> str:
    """The shortest end of `model`'s path that no other id in `group` ends with (or the id)."""
    parts = model.rstrip("/").split("/")
    others = ["/" + m.rstrip("/") for m in group if m != model]
    for k in range(1, len(parts)):
        tail = "/".join(parts[-k:])
        if not any(o.endswith("/" + tail) for o in others):
            return tail
    return model


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
    """(mean, std, seed count) tables indexed by (model, task), languages as columns; results of
    one split and one training language only."""
    split_of(frame)
    per_seed = frame.pivot_table(
        index=["model", "task", "seed"], columns="language", values="score", aggfunc="first"
    )
    per_seed = with_averages(per_seed, train_language_of(frame))
    grouped = per_seed.groupby(level=["model", "task"])
    return grouped.mean(), grouped.std(ddof=1), grouped.size().to_frame("seeds")
