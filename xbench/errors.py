"""One exception family, so the CLI can print one clear line instead of a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class XbenchError(Exception):
    """An error the user can fix: `message` names the culprit, `hint` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class TaskError(XbenchError):
    """A task file is invalid, or a task/language/metric name is unknown."""


class DataError(XbenchError):
    """A data file is missing or malformed."""


class ModelError(XbenchError):
    """A model id or checkpoint folder cannot be loaded."""


class ResultsError(XbenchError):
    """A result file is corrupt, conflicts with an existing one, or cannot be written."""


class TrainingError(XbenchError):
    """Fine-tuning went wrong in a way the user must act on (e.g. a NaN loss)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean X?' suffix for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
