"""Language keys, owned here: every other module asks this one.

A key is a language code ('de') or, for tasks with cross-lingual pairs (MLQA's G-XLT), a
context-question pair ('de-en': German context, English question). XTREME's averages are the
macro average over languages ('avg') and the same without the task's training language (the
zero-shot transfer score, 'avg-en' for English-trained tasks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from xbench.errors import TaskError, did_you_mean

PAIR_SEP = "-"  # XTREME's language codes (ISO 639-1) never contain it
AVG = "avg"
# how notes under tables name a training language; a code not listed is shown as the code
NAMES = {"en": "English"}


def is_pair(key: str) -> bool:
    """Whether `key` is a context-question pair such as 'de-en'."""
    return PAIR_SEP in key


def pair_key(context: str, question: str) -> str:
    return f"{context}{PAIR_SEP}{question}"


def parse(key: str) -> tuple[str, str]:
    """(context, question) of a key: 'de' -> ('de', 'de'); 'de-en' -> ('de', 'en')."""
    if is_pair(key):
        context, question = key.split(PAIR_SEP, 1)
        return context, question
    return key, key


def context_language(key: str) -> str:
    """The language a key's answers are normalised by (MLQA scores by the context language)."""
    return parse(key)[0]


def placeholders(key: str) -> dict[str, str]:
    """File-pattern and hub-config placeholders of a key: {lang}, {context}, {question}."""
    context, question = parse(key)
    return {"lang": context, "context": context, "question": question}


def all_pairs(languages: Sequence[str]) -> list[str]:
    """Every context x question pair, context-major (MLQA's 7 x 7 G-XLT matrix)."""
    return [pair_key(c, q) for c in languages for q in languages]


def check_languages(
    task: str, known: Sequence[str], wanted: Sequence[str] | None, *, pairs: bool = False
) -> list[str]:
    """The keys to evaluate (all known languages when none are wanted), without duplicates;
    an unknown one is an error with did-you-mean. `pairs`: the task accepts 'de-en' keys."""
    if not wanted:
        return list(known)
    allowed = set(known) | (set(all_pairs(known)) if pairs else set())
    for key in wanted:
        if key not in allowed:
            raise TaskError(
                f"unknown language '{key}' for task {task}." + did_you_mean(key, allowed),
                hint=f"languages of {task}: {', '.join(known)}",
            )
    return list(dict.fromkeys(wanted))


def name(code: str) -> str:
    """'English' for 'en'; other codes as they are."""
    return NAMES.get(code, code)


def without_training(train_language: str) -> str:
    """The column name of the average without the training language: 'avg-en'."""
    return f"{AVG}{PAIR_SEP}{train_language}"


def ordered(languages: Iterable[str], train_language: str = "en") -> list[str]:
    """The training language first, then alphabetical."""
    return sorted(set(languages), key=lambda lang: (lang != train_language, lang))


def transfer_languages(languages: Iterable[str], train_language: str) -> list[str]:
    """The languages that measure zero-shot transfer: all but the training language."""
    return [lang for lang in languages if lang != train_language]


def averages(scores: Mapping[str, float], train_language: str) -> tuple[float | None, float | None]:
    """(avg, avg without the training language) of per-language scores; None where the second
    has no language to average or the training language is not among the scores (then every
    language is a transfer language and avg already says it)."""
    plain = {k: v for k, v in scores.items() if not is_pair(k)}
    if not plain:
        return None, None
    avg = sum(plain.values()) / len(plain)
    others = transfer_languages(plain, train_language)
    if train_language not in plain or not others:
        return avg, None
    return avg, sum(plain[k] for k in others) / len(others)
