"""What every task type provides. Methods import torch/transformers lazily: a spec is validated
(and `xbench tasks list` runs) without loading either."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from xbench.taskspec import Hyperparameters, TaskSpec


@dataclass
class Parsed:
    """Examples read from one file or hub split, plus counts of what was skipped and why."""

    examples: list[Any]
    skipped: dict[str, int] = field(default_factory=dict)


class TaskType(ABC):
    """Behaviour shared by every task of one type (all sentence-pair classification tasks, ...)."""

    name: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]

    def check_spec(self, spec: TaskSpec) -> None:  # noqa: B027 - optional hook
        """Raise ValueError when a task file lacks what this type needs."""

    @abstractmethod
    def read_local(self, spec: TaskSpec, path: Path, *, for_training: bool) -> Parsed:
        """Parse one file of the XTREME download layout."""

    @abstractmethod
    def from_hub_rows(self, spec: TaskSpec, rows: Iterable[dict], *, for_training: bool) -> Parsed:
        """Convert rows of a Hugging Face dataset split into the same examples as read_local."""

    @abstractmethod
    def load_model(
        self, spec: TaskSpec, model_path: str, *, trust_remote_code: bool = False
    ) -> Any:
        """A pretrained encoder with a fresh head for this task type."""

    @abstractmethod
    def train_features(
        self, spec: TaskSpec, tokenizer: Any, examples: list[Any], hp: Hyperparameters
    ) -> tuple[list[dict[str, list[int] | int]], dict[str, int]]:
        """Tokenised, unpadded training features (with their targets), and counts of adjustments."""

    @abstractmethod
    def predict(
        self,
        spec: TaskSpec,
        model: Any,
        tokenizer: Any,
        examples: list[Any],
        hp: Hyperparameters,
        desc: str | None = None,
    ) -> list[Any]:
        """One prediction per example, in the examples' order; `desc` labels a progress bar.

        Tokenise with the `tokenizer` given, by batch calls (a list of texts): the runner passes
        a `featcache.CachedTokenizer`, which serves those from the feature cache (as a
        BatchEncoding of plain columns, without `.encodings`), so that re-scoring only predicts.
        """

    @abstractmethod
    def score(
        self, spec: TaskSpec, examples: list[Any], predictions: list[Any], lang: str
    ) -> dict[str, float]:
        """Metric name -> value in [0, 1] (QA's official script reports x100; we store /100)."""

    @abstractmethod
    def example_scores(
        self, spec: TaskSpec, examples: list[Any], predictions: list[Any], lang: str
    ) -> list[float]:
        """The main metric of each example; their mean is the language's main score. Stored so
        that confidence intervals and paired significance tests can be computed later."""

    @abstractmethod
    def prediction_records(self, examples: list[Any], predictions: list[Any]) -> dict[str, Any]:
        """Per-example predictions keyed by example id, stored so scores can be re-derived."""
