"""SQuAD-format files (SQuAD v1.1, MLQA, XQuAD, TyDiQA-GoldP): read strictly into QA examples.

Malformed files and duplicate question ids are a DataError naming the file and the place in it;
what is dropped or adjusted is counted by reason (`SKIP_REASONS`), never silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xbench.errors import DataError

SKIP_REASONS: tuple[str, ...] = (
    "empty_context",
    "no_answers",
    "empty_answer",
    "answer_mismatch",
    "no_valid_answer",
    "answer_start_mismatch",
)
"""Keys of the counts dict returned by `read_squad_file` (always all present).

empty_context: questions dropped because their paragraph context is empty or whitespace.
no_answers: questions dropped because they have no answers at all.
empty_answer: answers dropped because their text is empty or whitespace.
answer_mismatch: (training) answers dropped because ``context[start:start+len(text)] != text``.
no_valid_answer: questions dropped because every one of their answers was dropped.
answer_start_mismatch: (evaluation) answers kept although their start offset is wrong or
    missing (stored as -1); scoring only uses the text.
"""

_FORMAT_HINT = (
    "expected SQuAD v1 JSON: {'data': [{'paragraphs': [{'context': str, 'qas': "
    "[{'id': str, 'question': str, 'answers': [{'text': str, 'answer_start': int}]}]}]}]}"
)


@dataclass(frozen=True)
class QAExample:
    """One question over one context; answers[i] starts at character answer_starts[i] (-1 if
    unknown, evaluation only)."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found", hint="check the data folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}", hint="re-download the file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="the file is truncated or corrupt; re-download it",
        ) from None


def _field(obj: Any, key: str, kind: type | tuple[type, ...], where: str, path: Path) -> Any:
    """obj[key], checked to be a dict entry of the given type, else a DataError."""
    if not isinstance(obj, dict):
        raise DataError(f"{path}: {where} is not an object", hint=_FORMAT_HINT)
    if key not in obj:
        raise DataError(f"{path}: {where} has no '{key}'", hint=_FORMAT_HINT)
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise DataError(f"{path}: {where}.{key} is not {names}", hint=_FORMAT_HINT)
    return value


def _read_answers(
    qa: dict, context: str, where: str, path: Path, for_training: bool, counts: dict[str, int]
) -> tuple[list[str], list[int]]:
    """The usable answers of one question, counting the ones dropped or adjusted."""
    texts: list[str] = []
    starts: list[int] = []
    for k, answer in enumerate(_field(qa, "answers", list, where, path)):
        at = f"{where}.answers[{k}]"
        text = _field(answer, "text", str, at, path)
        if for_training:
            start = _field(answer, "answer_start", int, at, path)
        else:
            start = answer.get("answer_start") if isinstance(answer, dict) else None
            start = start if isinstance(start, int) and not isinstance(start, bool) else -1
        if not text.strip():
            counts["empty_answer"] += 1
            continue
        if start < 0 or context[start : start + len(text)] != text:
            if for_training:
                counts["answer_mismatch"] += 1
                continue
            counts["answer_start_mismatch"] += 1
            start = -1
        texts.append(text)
        starts.append(start)
    return texts, starts


def read_squad_file(path: Path, *, for_training: bool) -> tuple[list[QAExample], dict[str, int]]:
    """Read a SQuAD v1 / MLQA / XQuAD JSON file into examples plus skip counts by reason.

    See `SKIP_REASONS` for the keys. Malformed files and duplicate question ids raise
    `DataError` naming the file.
    """
    path = Path(path)
    return parse_squad(_load_json(path), path, for_training=for_training)


def parse_squad(
    root: Any, path: Path, *, for_training: bool
) -> tuple[list[QAExample], dict[str, int]]:
    """`read_squad_file` on already-loaded JSON; `path` only labels error messages (a hub
    split converted to SQuAD form is checked by the very same rules)."""
    articles = _field(root, "data", list, "top level", path)
    counts = dict.fromkeys(SKIP_REASONS, 0)
    examples: list[QAExample] = []
    seen: set[str] = set()
    for i, article in enumerate(articles):
        for j, paragraph in enumerate(_field(article, "paragraphs", list, f"data[{i}]", path)):
            where_p = f"data[{i}].paragraphs[{j}]"
            context = _field(paragraph, "context", str, where_p, path)
            for k, qa in enumerate(_field(paragraph, "qas", list, where_p, path)):
                where = f"{where_p}.qas[{k}]"
                qid = str(_field(qa, "id", (str, int), where, path))
                question = _field(qa, "question", str, where, path)
                if qid in seen:
                    raise DataError(
                        f"{path}: duplicate question id '{qid}' at {where}",
                        hint="question ids must be unique within a file",
                    )
                seen.add(qid)
                if not context.strip():
                    _field(qa, "answers", list, where, path)
                    counts["empty_context"] += 1
                    continue
                texts, starts = _read_answers(qa, context, where, path, for_training, counts)
                if not qa["answers"]:
                    counts["no_answers"] += 1
                elif not texts:
                    counts["no_valid_answer"] += 1
                else:
                    examples.append(QAExample(qid, question, context, tuple(texts), tuple(starts)))
    return examples, counts
