"""Sentence-pair classification (XNLI, PAWS-X): encode the pair, classify the <s> token."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from xbench.errors import DataError, ModelError
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
            if i == 0 and any(c not in row for c in col.values()):
                raise DataError(
                    f"hub dataset {spec.hub.dataset}: its rows have no column "
                    f"{', '.join(repr(c) for c in col.values() if c not in row)} "
                    f"(they have {', '.join(map(repr, row))})",
                    hint=f"map {', '.join(FIELDS)} to the hub's column names in hub.columns "
                    f"of the task file of {spec.name}",
                )
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
        self,
        spec: PairClassificationSpec,
        model_path: str,
        *,
        trust_remote_code: bool = False,
        as_is: bool = False,
    ) -> Any:
        from transformers import AutoModelForSequenceClassification

        if as_is:  # its own head and label names; predict maps them to the task's
            return AutoModelForSequenceClassification.from_pretrained(
                model_path, dtype="float32", trust_remote_code=trust_remote_code
            )
        return AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=len(spec.labels),
            id2label=dict(enumerate(spec.labels)),
            label2id={n: i for i, n in enumerate(spec.labels)},
            dtype="float32",
            trust_remote_code=trust_remote_code,
        )

    def check_head(
        self, spec: PairClassificationSpec, config: Any, model: str, *, as_is: bool = True
    ) -> dict[str, Any]:
        """A classification head's labels, matched to the task's by name (case and `_`/`-`
        aside): another order is remapped and recorded; other or missing labels are an error
        naming both sets. Without --finetuned, a checkpoint that already has such a head is an
        error: its weights would be kept and silently relabelled in the task's order."""
        has_head = any(a.endswith("ForSequenceClassification") for a in config.architectures or [])
        names = [str(config.id2label[i]) for i in sorted(config.id2label)]
        if not as_is:
            if has_head:
                raise ModelError(
                    f"model '{model}' already has a sequence-classification head (labels "
                    f"{', '.join(names)}); fine-tuning would keep its weights under the task's "
                    "label order",
                    hint="pass --finetuned to evaluate it as is, or fine-tune from the encoder "
                    "checkpoint it was trained from",
                )
            return {}
        mapped = _permutation(spec, names)
        if not has_head or mapped is None:
            raise ModelError(
                f"model '{model}' cannot be evaluated as is on {spec.name}: its labels "
                f"({', '.join(names)}) are not the task's ({', '.join(spec.labels)})",
                hint="the model's config.json id2label must name the task's labels; or drop "
                "--finetuned to fine-tune it",
            )
        return {
            "model_labels": names,
            "task_label_of_model_label": mapped,
            "remapped": mapped != list(range(len(spec.labels))),
        }

    def _encode(
        self, tokenizer: Any, examples: list[PairExample], max_length: int
    ) -> list[dict[str, list[int]]]:
        """One feature per pair: input_ids, and the segment ids where the tokenizer makes them
        (BERT's token_type_ids: 0 for the first sentence, 1 for the second; XLM-R has none)."""
        enc = tokenizer(
            [e.sentence1 for e in examples],
            [e.sentence2 for e in examples],
            truncation=True,
            max_length=max_length,
        )
        names = [n for n in ("input_ids", "token_type_ids") if enc.get(n) is not None]
        columns = zip(*(enc[n] for n in names), strict=True)
        return [dict(zip(names, row, strict=True)) for row in columns]

    def train_features(
        self,
        spec: PairClassificationSpec,
        tokenizer: Any,
        examples: list[PairExample],
        hp: FineTuneHyperparameters,
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        encoded = self._encode(tokenizer, examples, hp.max_length)
        # a pair exactly max_length long may have lost nothing: one token more tells
        full = [
            e
            for x, e in zip(encoded, examples, strict=True)
            if len(x["input_ids"]) >= hp.max_length
        ]
        longer = self._encode(tokenizer, full, hp.max_length + 1) if full else []
        truncated = sum(len(x["input_ids"]) > hp.max_length for x in longer)
        features = [{**x, "labels": e.label} for x, e in zip(encoded, examples, strict=True)]
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

        features = self._encode(tokenizer, examples, hp.max_length)
        predicted = run_batches(
            model,
            features,
            tokenizer.pad_token_id,
            hp.eval_max_tokens,
            lambda out: out.logits.argmax(-1).tolist(),
            desc,
            pad_type_id=getattr(tokenizer, "pad_token_type_id", 0),
        )
        # the model's class i is the task label its config names (a model fine-tuned here
        # names them in the task's order; one evaluated as is may use another order)
        order = _task_label_of_model_label(spec, model.config)
        return predicted if order is None else [order[p] for p in predicted]

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


def _label_key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _permutation(spec: PairClassificationSpec, names: list[str]) -> list[int] | None:
    """The task label index of each model label name, when the names are the task's labels
    in some order; None otherwise."""
    task = {_label_key(n): i for i, n in enumerate(spec.labels)}
    if len(names) != len(task) or any(_label_key(n) not in task for n in names):
        return None
    mapped = [task[_label_key(n)] for n in names]
    return mapped if len(set(mapped)) == len(mapped) else None


def _task_label_of_model_label(spec: PairClassificationSpec, config: Any) -> list[int] | None:
    """Task label index of each model class, when the model's label names are the task's;
    None (the identity) when they are not names (LABEL_0 ...) or already in the task's order."""
    id2label = getattr(config, "id2label", None) or {}
    mapped = _permutation(spec, [str(id2label[i]) for i in sorted(id2label)])
    return None if mapped is None or mapped == sorted(mapped) else mapped


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
