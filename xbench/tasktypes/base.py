"""What every task type provides. Methods import torch/transformers lazily: a spec is validated
(and `xbench tasks list` runs) without loading either.

A type owns its settings: `spec_model` is the task-file model with the type's hyperparameters
and local-source fields; whether it fine-tunes follows from those hyperparameters. It also owns
how features are padded for training (`data_collator`) and which settings enter the key of its
cached features (`feature_settings`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from xbench.taskspec import FineTuneHyperparameters, Hyperparameters, TaskSpec

if TYPE_CHECKING:
    from transformers import PreTrainedModel


SpecT = TypeVar("SpecT", bound=TaskSpec)
HpT = TypeVar("HpT", bound=Hyperparameters)


@dataclass
class Parsed:
    """Examples read from one file or hub split, plus counts of what was skipped and why."""

    examples: list[Any]
    skipped: dict[str, int] = field(default_factory=dict)


class TaskType(ABC, Generic[SpecT, HpT]):
    """Behaviour shared by every task of one type (all sentence-pair classification tasks, ...)."""

    name: ClassVar[str]
    spec_model: ClassVar[type[TaskSpec]]  # the SpecT of the subclass

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.spec_model.METRICS

    @property
    def fine_tunes(self) -> bool:
        """Whether tasks of this type fine-tune before evaluating (retrieval does not)."""
        hp_model = self.spec_model.model_fields["hyperparameters"].annotation
        return isinstance(hp_model, type) and issubclass(hp_model, FineTuneHyperparameters)

    def feature_settings(self, hp: HpT) -> dict[str, Any]:
        """The settings that decide this type's tokenised features (they key the feature cache)."""
        return {"max_length": hp.max_length}

    def data_collator(self, tokenizer: Any, pad_to_multiple_of: int | None) -> Any:
        """Pads a batch of training features: dynamic padding to the longest member."""
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    @abstractmethod
    def read_local(self, spec: SpecT, path: Path, *, for_training: bool) -> Parsed:
        """Parse one file of the XTREME download layout."""

    @abstractmethod
    def from_hub_rows(self, spec: SpecT, rows: Iterable[dict], *, for_training: bool) -> Parsed:
        """Convert rows of a Hugging Face dataset split into the same examples as read_local."""

    @abstractmethod
    def load_model(
        self, spec: SpecT, model_path: str, *, trust_remote_code: bool = False, as_is: bool = False
    ) -> PreTrainedModel:
        """A pretrained encoder with a fresh head for this task type (or none, for types that
        do not fine-tune); `as_is`: the checkpoint's own head, unchanged (--finetuned)."""

    def check_head(
        self, spec: SpecT, config: Any, model: str, *, as_is: bool = True
    ) -> dict[str, Any]:
        """Preflight of the checkpoint's head. `as_is` (--finetuned): raise ModelError unless
        the model `config` describes already has this type's head for `spec`, and return what
        the result records about it. Otherwise: raise if fine-tuning it would be wrong."""
        if not as_is:
            return {}
        from xbench.errors import ModelError

        raise ModelError(
            f"task type {self.name} cannot evaluate a model as is (--finetuned)",
            hint="drop --finetuned to fine-tune the model on the task first",
        )

    def train_features(
        self, spec: SpecT, tokenizer: Any, examples: list[Any], hp: HpT
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Tokenised, unpadded training features (with their targets), and counts of adjustments.
        Only types that fine-tune implement it."""
        raise TypeError(f"task type {self.name} does not fine-tune")

    @abstractmethod
    def predict(
        self,
        spec: SpecT,
        model: Any,
        tokenizer: Any,
        examples: list[Any],
        hp: HpT,
        desc: str | None = None,
    ) -> list[Any]:
        """One prediction per example, in the examples' order; `desc` labels a progress bar.

        Tokenise with the `tokenizer` given, by batch calls (a list of texts): the runner passes
        a `featcache.CachedTokenizer`, which serves those from the feature cache (as a
        BatchEncoding of plain columns; with `is_split_into_words=True` it also answers
        `word_ids(i)`), so that re-scoring only predicts.
        """

    @abstractmethod
    def score(
        self, spec: SpecT, examples: list[Any], predictions: list[Any], lang: str
    ) -> dict[str, float]:
        """Metric name -> value in [0, 1] (QA's official script reports x100; we store /100)."""

    @abstractmethod
    def example_scores(
        self, spec: SpecT, examples: list[Any], predictions: list[Any], lang: str
    ) -> list[float]:
        """The main metric of each example; their mean is the language's main score. Stored so
        that confidence intervals and paired significance tests can be computed later."""

    @abstractmethod
    def prediction_records(self, examples: list[Any], predictions: list[Any]) -> dict[str, Any]:
        """Per-example predictions keyed by example id, stored so scores can be re-derived."""
