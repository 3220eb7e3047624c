"""The leaderboard as data: task tables of rows of cells, and a summary per eval split
(xbench/leaderboard/__init__.py builds them; xbench/render/ writes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xbench import languages as langs
from xbench.errors import XbenchError
from xbench.results import RunResult
from xbench.tables import AVG, DEFAULT_SPLIT, DEFAULT_TRAIN_LANGUAGE, GAP

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


def _label(name: str, kind: str) -> str:
    return f"{name} {PUBLISHED_MARK}" if kind == PUBLISHED else name


@dataclass
class Row:
    """`model`: the full model id (a published row: its name); `name`: the label shown; `split`:
    the eval split of its numbers; `off_split`: not the table's split, so not comparable."""

    model: str
    kind: str
    seeds: int
    cells: dict[str, Stat]
    rank: int | None = None
    citation: str | None = None
    task_versions: tuple[int, ...] = ()
    name: str = ""
    split: str = DEFAULT_SPLIT
    off_split: bool = False

    @property
    def label(self) -> str:
        mark = f" [{self.split}]" if self.off_split else ""
        return _label(self.name or self.model, self.kind) + mark


@dataclass
class TaskTable:
    task: str
    metric: str
    languages: list[str]
    averaged_over: list[str]
    rows: list[Row]
    notes: list[str]
    train_language: str = DEFAULT_TRAIN_LANGUAGE
    split: str = DEFAULT_SPLIT  # the eval split of the measured rows

    @property
    def averages(self) -> tuple[str, str, str]:
        """avg, the average without the training language ('avg-en') and gap."""
        return AVG, langs.without_training(self.train_language), GAP

    @property
    def columns(self) -> list[str]:
        return [*self.languages, *self.averages]


@dataclass
class SummaryRow:
    model: str
    kind: str
    tasks: dict[str, Stat]
    overall: float | None
    rank: int | None = None
    name: str = ""

    @property
    def label(self) -> str:
        return _label(self.name or self.model, self.kind)


@dataclass
class Summary:
    """The tables of one eval split, side by side: scores of different splits are never mixed."""

    split: str
    tasks: list[str]
    rows: list[SummaryRow]
    notes: list[str]


@dataclass
class Leaderboard:
    tables: list[TaskTable]
    summaries: list[Summary]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CIOptions:
    samples: int = 1000
    seed: int = 0
    level: float = 0.95
