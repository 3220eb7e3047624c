"""Extractive question answering (MLQA; SQuAD-format data), scored exactly like MLQA's official
script: EM/F1 with answers normalised by the *context* language."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from xbench.errors import ModelError
from xbench.languages import context_language
from xbench.metrics import mlqa
from xbench.qa import decode_answers, prepare_eval_features, prepare_train_features
from xbench.squad import QAExample, parse_squad, read_squad_file
from xbench.taskspec import FineTuneHyperparameters, TaskSpec
from xbench.tasktypes.base import Parsed, TaskType


class QAHyperparameters(FineTuneHyperparameters):
    """Fine-tuning settings plus the window and answer lengths of SQuAD-style QA."""

    doc_stride: int = Field(128, gt=0)
    max_query_length: int = Field(64, gt=0)
    max_answer_length: int = Field(30, gt=0)
    n_best: int = Field(20, gt=0)


class ExtractiveQASpec(TaskSpec):
    """An extractive QA task file (SQuAD-format data), scored by MLQA's official rules."""

    METRICS: ClassVar[tuple[str, ...]] = ("f1", "exact_match")

    hyperparameters: QAHyperparameters

    @model_validator(mode="after")
    def _normalisable_languages(self) -> ExtractiveQASpec:
        unsupported = [lang for lang in self.languages if lang not in mlqa.LANGUAGES]
        if unsupported:
            raise ValueError(
                f"languages {unsupported} have no answer normalisation in MLQA's official "
                f"script (it defines {', '.join(mlqa.LANGUAGES)})"
            )
        return self


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _model_rows(feats: dict[str, list]) -> list[dict[str, Any]]:
    """The model inputs of each window: input_ids, and token_type_ids where the tokenizer makes
    them (BERT's segment ids; XLM-R's windows have none)."""
    names = [n for n in ("input_ids", "token_type_ids") if n in feats]
    columns = zip(*(feats[n] for n in names), strict=True)
    return [dict(zip(names, row, strict=True)) for row in columns]


class ExtractiveQA(TaskType[ExtractiveQASpec, QAHyperparameters]):
    name = "extractive-qa"
    spec_model = ExtractiveQASpec

    def read_local(self, spec: ExtractiveQASpec, path: Path, *, for_training: bool) -> Parsed:
        examples, counts = read_squad_file(path, for_training=for_training)
        return Parsed(examples, _nonzero(counts))

    def from_hub_rows(
        self, spec: ExtractiveQASpec, rows: Iterable[dict], *, for_training: bool
    ) -> Parsed:
        from xbench.errors import DataError

        # One SQuAD paragraph per hub row, so the same validation rules apply to both sources.
        hub = spec.hub.train if for_training and spec.hub and spec.hub.train else spec.hub
        dataset = hub.dataset if hub else spec.name
        table = list(rows)
        wanted = ("id", "question", "context", "answers")
        if table and any(c not in table[0] for c in wanted):
            raise DataError(
                f"hub dataset {dataset}: its rows have no column "
                f"{', '.join(repr(c) for c in wanted if c not in table[0])} "
                f"(they have {', '.join(map(repr, table[0]))})",
                hint="an extractive QA hub dataset needs SQuAD's columns: id, question, context, "
                "answers {text, answer_start}",
            )
        paragraphs = [
            {
                "context": row["context"],
                "qas": [
                    {
                        "id": row["id"],
                        "question": row["question"],
                        "answers": [
                            {"text": t, "answer_start": s}
                            for t, s in zip(
                                row["answers"]["text"], row["answers"]["answer_start"], strict=True
                            )
                        ],
                    }
                ],
            }
            for row in table
        ]
        label = Path(f"hub:{dataset}")
        examples, counts = parse_squad(
            {"data": [{"paragraphs": paragraphs}]}, label, for_training=for_training
        )
        return Parsed(examples, _nonzero(counts))

    def load_model(
        self,
        spec: ExtractiveQASpec,
        model_path: str,
        *,
        trust_remote_code: bool = False,
        as_is: bool = False,
    ) -> Any:
        from transformers import AutoModelForQuestionAnswering

        # a span head has no labels: a fresh one and the checkpoint's own load the same way
        return AutoModelForQuestionAnswering.from_pretrained(
            model_path, dtype="float32", trust_remote_code=trust_remote_code
        )

    def check_head(
        self, spec: ExtractiveQASpec, config: Any, model: str, *, as_is: bool = True
    ) -> dict[str, Any]:
        """--finetuned needs a span head (an ...ForQuestionAnswering checkpoint); fine-tuning
        continues from any checkpoint, a QA one included (no labels to mix up)."""
        architectures = list(config.architectures or [])
        if as_is and not any(a.endswith("ForQuestionAnswering") for a in architectures):
            raise ModelError(
                f"model '{model}' has no question-answering head (architectures: "
                f"{', '.join(architectures) or 'none'}), so it cannot be evaluated as is",
                hint="drop --finetuned to fine-tune it on SQuAD first",
            )
        return {"architectures": architectures} if as_is else {}

    def feature_settings(self, hp: QAHyperparameters) -> dict[str, Any]:
        return self._window(hp)

    def _window(self, hp: QAHyperparameters) -> dict[str, int]:
        return {
            "max_length": hp.max_length,
            "doc_stride": hp.doc_stride,
            "max_query_length": hp.max_query_length,
        }

    def train_features(
        self,
        spec: ExtractiveQASpec,
        tokenizer: Any,
        examples: list[QAExample],
        hp: QAHyperparameters,
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        stats: dict[str, int] = {}
        feats = prepare_train_features(
            tokenizer,
            examples,
            stats=stats,
            max_length=hp.max_length,
            doc_stride=hp.doc_stride,
            max_query_length=hp.max_query_length,
        )
        features = [
            {**row, "start_positions": s, "end_positions": e}
            for row, s, e in zip(
                _model_rows(feats), feats["start_positions"], feats["end_positions"], strict=True
            )
        ]
        return features, _nonzero(stats)

    def predict(
        self,
        spec: ExtractiveQASpec,
        model: Any,
        tokenizer: Any,
        examples: list[QAExample],
        hp: QAHyperparameters,
        desc: str | None = None,
    ) -> list[str]:
        from xbench.batching import run_batches

        feats = prepare_eval_features(
            tokenizer,
            examples,
            max_length=hp.max_length,
            doc_stride=hp.doc_stride,
            max_query_length=hp.max_query_length,
        )
        logits = run_batches(
            model,
            _model_rows(feats),
            tokenizer.pad_token_id,
            hp.eval_max_tokens,
            lambda out: list(
                zip(
                    out.start_logits.float().cpu().numpy(),
                    out.end_logits.float().cpu().numpy(),
                    strict=True,
                )
            ),
            desc,
            pad_type_id=getattr(tokenizer, "pad_token_type_id", 0),
        )
        answers = decode_answers(
            examples,
            feats,
            [s for s, _ in logits],
            [e for _, e in logits],
            n_best=hp.n_best,
            max_answer_length=hp.max_answer_length,
        )
        return [answers[ex.id] for ex in examples]

    def score(
        self, spec: ExtractiveQASpec, examples: list[QAExample], predictions: list[str], lang: str
    ) -> dict[str, float]:
        golds = {ex.id: list(ex.answers) for ex in examples}
        preds = {ex.id: p for ex, p in zip(examples, predictions, strict=True)}
        scores = mlqa.score_predictions(golds, preds, context_language(lang))
        return {"f1": scores["f1"] / 100, "exact_match": scores["exact_match"] / 100}

    def example_scores(
        self, spec: ExtractiveQASpec, examples: list[QAExample], predictions: list[str], lang: str
    ) -> list[float]:
        context_lang = context_language(lang)
        metric = mlqa.f1_score if spec.metric == "f1" else mlqa.exact_match_score
        return [
            float(mlqa.metric_max_over_ground_truths(metric, p, ex.answers, context_lang))
            for ex, p in zip(examples, predictions, strict=True)
        ]

    def prediction_records(
        self, examples: list[QAExample], predictions: list[str]
    ) -> dict[str, Any]:
        """MLQA's official prediction format, {question id: answer text}: re-score with
        `python mlqa_evaluation_v1.py DATASET.json THIS.json LANG`."""
        return {ex.id: p for ex, p in zip(examples, predictions, strict=True)}
