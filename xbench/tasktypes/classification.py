"""Sentence-pair classification (XNLI, PAWS-X): encode the pair, classify the <s> token."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from xbench.errors import DataError
from xbench.taskspec import FineTuneHyperparameters, LocalSource, TaskSpec
from xbench.tasktypes.base import Parsed, TaskType

FIELDS = ("sentence1", "sentence2", "label")


class PairLocalSource(LocalSource):
    """A sentence-pair TSV per split and language."""

    columns: list[str] = Field(description="TSV column names, in order")
    label_map: dict[str, str] = Field({}, description="raw label in the file -> task label name")


class PairClassificationSpec(TaskSpec):
    """A sentence-pair classification task file: label names, the TSV layout, fine-tuning."""

    METRICS: ClassVar[tuple[str, ...]] = ("accuracy",)

    labels: list[str] = Field(min_length=2, description="label names; index = class id")
    local: PairLocalSource
    hyperparameters: FineTuneHyperparameters

    @model_validator(mode="after")
    def _labels_and_columns(self) -> PairClassificationSpec:
        missing = [f for f in FIELDS if f not in self.local.columns]
        if missing:
            raise ValueError(f"local.columns must name the TSV columns {FIELDS}; missing {missing}")
        for raw, name in self.local.label_map.items():
            if name not in self.labels:
                raise ValueError(f"local.label_map: '{raw}' maps to unknown label '{name}'")
        if self.hub and self.hub.labels and sorted(self.hub.labels) != sorted(self.labels):
            raise ValueError("hub.labels must list the same label names as labels")
        return self


@dataclass(frozen=True)
class PairExample:
    id: str
    sentence1: str
    sentence2: str
    label: int


class PairClassification(TaskType[PairClassificationSpec, FineTuneHyperparameters]):
    name = "sentence-pair-classification"
    spec_model = PairClassificationSpec

    def _label_index(self, spec: PairClassificationSpec, raw: str) -> int | None:
        name = spec.local.label_map.get(raw, raw)
        return spec.labels.index(name) if name in spec.labels else None

    def read_local(self, spec: PairClassificationSpec, path: Path, *, for_training: bool) -> Parsed:
        try:
            return self._read_tsv(spec, path)
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}, line {_first_undecodable_line(path)}: not UTF-8 text ({err.reason})",
                hint="convert the file to UTF-8 (XTREME's download script writes UTF-8)",
            ) from None

    def _read_tsv(self, spec: PairClassificationSpec, path: Path) -> Parsed:
        columns = spec.local.columns
        where = {f: columns.index(f) for f in FIELDS}
        examples: list[PairExample] = []
        with path.open(encoding="utf-8", newline="") as handle:
            for line_no, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
                if len(row) != len(columns):
                    raise DataError(
                        f"{path}, line {line_no}: expected {len(columns)} tab-separated columns "
                        f"({', '.join(columns)}), found {len(row)}",
                        hint="the file must be a TSV as XTREME's download script writes it",
                    )
                raw = row[where["label"]].strip()
                label = self._label_index(spec, raw)
                if label is None:
                    raise DataError(
                        f"{path}, line {line_no}: unknown label '{raw}'",
                        hint=f"labels of task {spec.name}: {', '.join(spec.labels)}"
                        + (f"; aliases: {spec.local.label_map}" if spec.local.label_map else ""),
                    )
                examples.append(
                    PairExample(
                        id=f"{path.stem}-{line_no}",
                        sentence1=row[where["sentence1"]],
                        sentence2=row[where["sentence2"]],
                        label=label,
                    )
                )
        if not examples:
            raise DataError(f"{path} is empty", hint="re-download the data or check the path")
        return Parsed(examples)

    def from_hub_rows(
        self, spec: PairClassificationSpec, rows: Iterable[dict], *, for_training: bool
    ) -> Parsed:
        assert spec.hub is not None
        col = {f: spec.hub.columns.get(f, f) for f in FIELDS}
        hub_labels = spec.hub.labels or spec.labels
        examples, skipped = [], 0
        for i, row in enumerate(rows):
            raw = row[col["label"]]
            if not isinstance(raw, int) or not 0 <= raw < len(hub_labels):
                skipped += 1  # e.g. -1 for unlabelled rows in some hub datasets
                continue
            examples.append(
                PairExample(
                    id=str(row.get("id", i)),
                    sentence1=row[col["sentence1"]],
                    sentence2=row[col["sentence2"]],
                    label=spec.labels.index(hub_labels[raw]),
                )
            )
        return Parsed(examples, {"unlabelled": skipped} if skipped else {})

    def load_model(
        self, spec: PairClassificationSpec, model_path: str, *, trust_remote_code: bool = False
    ) -> Any:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=len(spec.labels),
            id2label=dict(enumerate(spec.labels)),
            label2id={n: i for i, n in enumerate(spec.labels)},
            dtype="float32",
            trust_remote_code=trust_remote_code,
        )

    def _encode(
        self, tokenizer: Any, examples: list[PairExample], max_length: int
    ) -> list[list[int]]:
        enc = tokenizer(
            [e.sentence1 for e in examples],
            [e.sentence2 for e in examples],
            truncation=True,
            max_length=max_length,
        )
        return enc["input_ids"]

    def train_features(
        self,
        spec: PairClassificationSpec,
        tokenizer: Any,
        examples: list[PairExample],
        hp: FineTuneHyperparameters,
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        ids = self._encode(tokenizer, examples, hp.max_length)
        # a pair exactly max_length long may have lost nothing: one token more tells
        full = [e for x, e in zip(ids, examples, strict=True) if len(x) >= hp.max_length]
        longer = self._encode(tokenizer, full, hp.max_length + 1) if full else []
        truncated = sum(len(x) > hp.max_length for x in longer)
        features = [{"input_ids": x, "labels": e.label} for x, e in zip(ids, examples, strict=True)]
        return features, ({"truncated": truncated} if truncated else {})

    def predict(
        self,
        spec: PairClassificationSpec,
        model: Any,
        tokenizer: Any,
        examples: list[PairExample],
        hp: FineTuneHyperparameters,
        desc: str | None = None,
    ) -> list[int]:
        from xbench.batching import run_batches

        features = [{"input_ids": x} for x in self._encode(tokenizer, examples, hp.max_length)]
        return run_batches(
            model,
            features,
            tokenizer.pad_token_id,
            hp.eval_max_tokens,
            lambda out: out.logits.argmax(-1).tolist(),
            desc,
        )

    def score(
        self,
        spec: PairClassificationSpec,
        examples: list[PairExample],
        predictions: list[int],
        lang: str,
    ) -> dict[str, float]:
        correct = self.example_scores(spec, examples, predictions, lang)
        return {"accuracy": sum(correct) / len(examples)}

    def example_scores(
        self,
        spec: PairClassificationSpec,
        examples: list[PairExample],
        predictions: list[int],
        lang: str,
    ) -> list[float]:
        return [float(p == e.label) for p, e in zip(predictions, examples, strict=True)]

    def prediction_records(
        self, examples: list[PairExample], predictions: list[int]
    ) -> dict[str, Any]:
        return {e.id: [p, e.label] for e, p in zip(examples, predictions, strict=True)}


def _first_undecodable_line(path: Path) -> int:
    """The number of the first line of `path` that is not UTF-8 (read again only on error: the
    decoder works on whole chunks, so the exception does not know the line)."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line_no
    return 0
