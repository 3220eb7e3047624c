"""The stages of a planned run: ensure the fine-tuned model, evaluate a language, assemble the
result. Each takes the frozen `RunPlan`; none re-resolves anything."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from xbench import __version__, modelstore
from xbench.data import load_split
from xbench.errors import ModelError
from xbench.featcache import CachedTokenizer, FeatureCache, cached_train_features
from xbench.io import atomic_write_text
from xbench.plan import RunPlan, load_train
from xbench.results import LanguageResult, RunResult, default_name
from xbench.taskspec import FineTuneHyperparameters

Log = Callable[[str], None]


@dataclass
class Loaded:
    """The model ready to predict, the tokenizer that serves its features from the cache,
    and the fine-tuning record (None for task types that do not fine-tune)."""

    model: Any
    tokenizer: Any
    record: dict[str, Any] | None


def environment(attention: str | None = None) -> dict[str, str]:
    import datasets
    import torch
    import transformers

    return {
        "xbench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "platform": platform.platform(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch_threads": str(torch.get_num_threads()),
        **({"attention": attention} if attention else {}),
    }


def use_sdpa(model: Any) -> str:
    """Switch the model to PyTorch's scaled_dot_product_attention where it supports it (the
    default in transformers 5, made sure of here); returns the implementation in use."""
    impl = getattr(model.config, "_attn_implementation", None) or "unknown"
    if impl != "sdpa" and getattr(model, "_supports_sdpa", False):
        try:
            model.set_attn_implementation("sdpa")
            impl = "sdpa"
        except (AttributeError, ImportError, ValueError):
            pass
    return impl


def load_pretrained(plan: RunPlan, source: str, *, as_is: bool = False) -> tuple[Any, Any]:
    """(tokenizer, model with the task type's head) from a checkpoint folder or hub id;
    `as_is`: the checkpoint's own head (--finetuned)."""
    from transformers import AutoTokenizer

    remote = plan.request.trust_remote_code
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=remote)
        model = plan.task_type.load_model(plan.task, source, trust_remote_code=remote, as_is=as_is)
    except (OSError, ValueError) as err:
        raise ModelError(
            f"cannot load model '{plan.model}': {str(err).splitlines()[0]}",
            hint="check the model id (network access to the Hub is needed for ids) or pass a "
            "local checkpoint folder",
        ) from None
    use_sdpa(model)
    return tokenizer, model


def ensure_model(plan: RunPlan, features: FeatureCache, log: Log) -> Loaded:
    """The model to evaluate: the cached fine-tune of this run key, a new fine-tune (saved to
    the cache), or for types that do not fine-tune the pretrained encoder itself."""
    import torch
    from transformers import set_seed

    task, task_type, hp = plan.task, plan.task_type, plan.hp
    set_seed(plan.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    folder = plan.model_dir
    if folder is None:  # nothing to fine-tune: the type does not, or --finetuned
        if plan.as_is is not None:
            log(f"{task.name} seed {plan.seed}: evaluating {plan.model} as is (no fine-tuning)")
        tokenizer, model = load_pretrained(plan, plan.model_source, as_is=plan.as_is is not None)
        return Loaded(model, CachedTokenizer(tokenizer, features, task, hp), None)
    if modelstore.is_trained(folder):
        log(f"{task.name} seed {plan.seed}: reusing fine-tuned model {folder}")
        tokenizer, model = load_pretrained(plan, str(folder))
        cached = CachedTokenizer(tokenizer, features, task, hp)
        return Loaded(model, cached, modelstore.read_record(folder))

    from xbench.training import fine_tune

    assert isinstance(hp, FineTuneHyperparameters)  # a type with a model folder fine-tunes
    tokenizer, model = load_pretrained(plan, plan.model_source)
    cached = CachedTokenizer(tokenizer, features, task, hp)
    req = plan.request
    train = load_train(req)
    train_features, adjusted = cached_train_features(
        features, task_type, task, tokenizer, train.examples, hp
    )
    dev = None
    if plan.reads_dev:
        dev = load_split(task, "dev", task.selection_language, data_dir=req.data_dir)
    log(
        f"{task.name} seed {plan.seed}: fine-tuning {plan.model} on {len(train_features)} "
        f"{task.train_language} features (lr {hp.learning_rate}, {hp.epochs} epochs, "
        f"batch {hp.batch_size}, selection {hp.selection})"
    )

    def dev_score(m: Any) -> float:
        assert dev is not None
        preds = task_type.predict(task, m, cached, dev.examples, hp, desc="dev")
        return task_type.score(task, dev.examples, preds, task.selection_language)[task.metric]

    training = fine_tune(
        model,
        tokenizer,
        train_features,
        hp,
        plan.seed,
        folder,
        dev_score,
        log,
        checkpoint_steps=req.checkpoint_steps,
        collator_for=lambda pad_to: task_type.data_collator(tokenizer, pad_to),
    )
    data = {
        "skipped": train.skipped,
        "adjusted": adjusted,
        "dev_source": dev.source if dev else None,
    }
    return Loaded(model, cached, modelstore.finish(folder, training, data))


def evaluate_language(plan: RunPlan, loaded: Loaded, lang: str) -> LanguageResult:
    """Predict and score one language; its predictions, per-example scores and a partial
    record (so an interrupted run resumes after it) are written before it returns."""
    task, task_type, req = plan.task, plan.task_type, plan.request
    data = load_split(task, plan.eval_split, lang, data_dir=req.data_dir, limit=req.eval_limit)
    t0 = time.perf_counter()
    predictions = task_type.predict(
        task, loaded.model, loaded.tokenizer, data.examples, plan.hp, desc=lang
    )
    seconds = time.perf_counter() - t0
    scores = task_type.score(task, data.examples, predictions, lang)
    out_dir, pred_dir = plan.result_file.parent, plan.predictions_dir
    pred_path, scores_path = pred_dir / f"{lang}.json", pred_dir / f"{lang}.scores.json"
    atomic_write_text(
        pred_path,
        json.dumps(task_type.prediction_records(data.examples, predictions), ensure_ascii=False),
    )
    per_example = task_type.example_scores(task, data.examples, predictions, lang)
    atomic_write_text(
        scores_path,
        json.dumps(
            {"metric": task.metric, "ids": [e.id for e in data.examples], "scores": per_example}
        ),
    )
    result = LanguageResult(
        scores=scores,
        examples=len(data.examples),
        skipped=data.skipped,
        source=data.source,
        predict_seconds=round(seconds, 2),
        predictions_file=str(pred_path.relative_to(out_dir)),
        example_scores_file=str(scores_path.relative_to(out_dir)),
    )
    atomic_write_text(
        plan.partial_dir / f"{lang}.json",
        json.dumps({"run_key": plan.run_key, "result": result.model_dump()}),
    )
    return result


def assemble_result(
    plan: RunPlan,
    done: dict[str, LanguageResult],
    record: dict[str, Any] | None,
    attention: str | None,
    wall_seconds: float,
) -> RunResult:
    """The result file's content: scores of every language plus everything that made them."""
    req = plan.request
    data = (record or {}).get("data", {})
    train_source = None
    if plan.train_source is not None:
        train_source = {**plan.train_source, **{k: v for k, v in data.items() if k != "dev_source"}}
    return RunResult(
        task=plan.task.name,
        task_version=plan.task.version,
        task_type=plan.task.type,
        metric=plan.task.metric,
        model=req.model,
        name=req.name or default_name(req.model),
        seed=req.seed,
        eval_split=req.eval_split,
        languages={lang: done[lang] for lang in sorted(done)},
        train_language=plan.task.train_language,
        train_source=train_source,
        dev_source=data.get("dev_source"),
        hyperparameters={
            **plan.hp.model_dump(),
            "train_limit": req.train_limit,
            "eval_limit": req.eval_limit,
        },
        training=None if record is None else {k: v for k, v in record.items() if k != "data"},
        evaluated_as_is=plan.as_is,
        run_key=plan.run_key,
        environment=environment(attention),
        timings={
            "train_seconds": (record or {}).get("train_seconds", 0.0),
            "predict_seconds": round(sum(r.predict_seconds for r in done.values()), 2),
            "wall_seconds_this_invocation": round(wall_seconds, 2),
        },
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
