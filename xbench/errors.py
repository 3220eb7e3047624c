"""One exception family, so the CLI can print one clear line instead of a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import ClassVar


class XbenchError(Exception):
    """An error the user can fix: `message` names the culprit, `hint` says how to fix it.

    Where the raiser gives no hint, the family's `default_hint` is shown, so the CLI always
    prints one `error:` line and one `hint:` line."""

    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    @property
    def shown_hint(self) -> str | None:
        return self.hint or self.default_hint

    def __str__(self) -> str:
        hint = self.shown_hint
        return self.message if not hint else f"{self.message}\n  hint: {hint}"


class TaskError(XbenchError):
    """A task file is invalid, or a task/language/metric name is unknown."""

    default_hint = (
        "`xbench tasks list` shows the task names, `xbench tasks show NAME` a task's languages "
        "and hyperparameters; docs/adding-a-task.md describes every field of a task file"
    )


class DataError(XbenchError):
    """A data file is missing or malformed."""

    default_hint = (
        "--data-dir must hold the task's files in XTREME's download layout "
        "(`xbench tasks show NAME` shows the file patterns)"
    )


class ModelError(XbenchError):
    """A model id or checkpoint folder cannot be loaded."""

    default_hint = (
        "pass a Hugging Face model id or a folder written by save_pretrained (config.json, "
        "weights, tokenizer)"
    )


class ResultsError(XbenchError):
    """A result file is corrupt, conflicts with an existing one, or cannot be written."""

    default_hint = (
        "xbench never modifies or deletes an existing result file: move it away, or use "
        "another --results-dir"
    )


class WriteError(ResultsError, OSError):
    """A file could not be written (disk full, read-only, no permission). Also an OSError, with
    the original `errno` and `filename`, for callers that handle OS errors."""

    def __init__(self, message: str, hint: str | None, errno: int | None, filename: str) -> None:
        super().__init__(message, hint)
        self.errno = errno
        self.filename = filename


class TrainingError(XbenchError):
    """Fine-tuning went wrong in a way the user must act on (e.g. a NaN loss)."""

    default_hint = "rerun with --debug for the traceback; a rerun resumes from the last checkpoint"


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean X?' suffix for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
