"""Sentence-pair classification (XNLI, PAWS-X): encode the pair, classify the <s> token."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xbench.errors import DataError
from xbench.tasktypes.base import Parsed, TaskType

if TYPE_CHECKING:
    from xbench.taskspec import Hyperparameters, TaskSpec

FIELDS = ("sentence1", "sentence2", "label")


@dataclass(frozen=True)
class PairExample:
    id: str
    sentence1: str
    sentence2: str
    label: int


class PairClassification(TaskType):
    name = "sentence-pair-classification"
    metrics = ("accuracy",)

    def check_spec(self, spec: TaskSpec) -> None:
        if not spec.labels or len(spec.labels) < 2:
            raise ValueError("labels: a classification task needs at least two label names")
        columns = spec.local.columns or []
        missing = [f for f in FIELDS if f not in columns]
        if missing:
            raise ValueError(f"local.columns must name the TSV columns {FIELDS}; missing {missing}")
        for raw, name in spec.local.label_map.items():
            if name not in spec.labels:
                raise ValueError(f"local.label_map: '{raw}' maps to unknown label '{name}'")
        if spec.hub and spec.hub.labels and sorted(spec.hub.labels) != sorted(spec.labels):
            raise ValueError("hub.labels must list the same label names as labels")

    def _label_index(self, spec: TaskSpec, raw: str) -> int | None:
        name = spec.local.label_map.get(raw, raw)
        assert spec.labels is not None
        return spec.labels.index(name) if name in spec.labels else None

    def read_local(self, spec: TaskSpec, path: Path, *, for_training: bool) -> Parsed:
        try:
            return self._read_tsv(spec, path)
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}, line {_first_undecodable_line(path)}: not UTF-8 text ({err.reason})",
                hint="convert the file to UTF-8 (XTREME's download script writes UTF-8)",
            ) from None

    def _read_tsv(self, spec: TaskSpec, path: Path) -> Parsed:
        columns = spec.local.columns or []
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
                        hint=f"labels of task {spec.name}: {', '.join(spec.labels or [])}"
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

    def from_hub_rows(self, spec: TaskSpec, rows: Iterable[dict], *, for_training: bool) -> Parsed:
        assert spec.hub is not None and spec.labels is not None
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
        self, spec: TaskSpec, model_path: str, *, trust_remote_code: bool = False
    ) -> Any:
        from transformers import AutoModelForSequenceClassification

        assert spec.labels is not None
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
        self, spec: TaskSpec, tokenizer: Any, examples: list[PairExample], hp: Hyperparameters
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        ids = self._encode(tokenizer, examples, hp.max_length)
        truncated = sum(len(x) >= hp.max_length for x in ids)
        features = [{"input_ids": x, "labels": e.label} for x, e in zip(ids, examples, strict=True)]
        return features, ({"truncated": truncated} if truncated else {})

    def predict(
        self,
        spec: TaskSpec,
        model: Any,
        tokenizer: Any,
        examples: list[PairExample],
        hp: Hyperparameters,
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
        self, spec: TaskSpec, examples: list[PairExample], predictions: list[int], lang: str
    ) -> dict[str, float]:
        correct = self.example_scores(spec, examples, predictions, lang)
        return {"accuracy": sum(correct) / len(examples)}

    def example_scores(
        self, spec: TaskSpec, examples: list[PairExample], predictions: list[int], lang: str
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
