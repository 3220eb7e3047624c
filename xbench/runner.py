"""One run = one (model, task, seed): load -> prepare -> fine-tune -> predict -> score -> store.

Resumable: each finished language is saved in a `.partial` folder beside the result, and the
fine-tuned model is cached by a key of everything that determines it, so a rerun after an
interruption repeats neither. A finished result is never silently overwritten.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xbench import __version__
from xbench.data import SplitData, load_split, require_local_file
from xbench.errors import ModelError, ResultsError, TaskError, did_you_mean
from xbench.results import (
    LanguageResult,
    RunResult,
    atomic_write_text,
    read_result,
    result_path,
    slug,
    write_result,
)
from xbench.taskspec import TaskSpec
from xbench.tasktypes import get_task_type

Log = Callable[[str], None]


@dataclass
class RunRequest:
    model: str
    task: TaskSpec
    seed: int
    results_dir: Path
    cache_dir: Path
    data_dir: Path | None = None
    languages: list[str] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    train_limit: int | None = None
    eval_limit: int | None = None
    eval_split: str = "test"
    trust_remote_code: bool = False
    checkpoint_steps: int = 500


def check_languages(task: TaskSpec, languages: list[str] | None) -> list[str]:
    """The languages to evaluate; unknown ones are an error with did-you-mean."""
    if not languages:
        return list(task.languages)
    known = set(task.languages)
    if task.cross_lingual_pairs:
        known |= {f"{c}-{q}" for c in task.languages for q in task.languages}
    for lang in languages:
        if lang not in known:
            raise TaskError(
                f"unknown language '{lang}' for task {task.name}." + did_you_mean(lang, known),
                hint=f"languages of {task.name}: {', '.join(task.languages)}",
            )
    return list(dict.fromkeys(languages))


def resolve_model(model: str) -> str:
    """A local checkpoint folder must exist and hold a config; anything else is a hub id."""
    path = Path(model).expanduser()
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if not looks_local:
        return model
    if not path.is_dir():
        raise ModelError(
            f"model path {model} does not exist",
            hint="pass a Hugging Face model id or a folder made by save_pretrained",
        )
    if not (path / "config.json").is_file():
        raise ModelError(
            f"{model} is not a model checkpoint folder (no config.json in it)",
            hint="pass the folder that save_pretrained wrote (config.json, weights, tokenizer)",
        )
    return str(path.resolve())


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


def _key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _load_pretrained(req: RunRequest, model_source: str) -> tuple[Any, Any]:
    from transformers import AutoTokenizer

    task_type = get_task_type(req.task.type)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_source, trust_remote_code=req.trust_remote_code
        )
        model = task_type.load_model(
            req.task, model_source, trust_remote_code=req.trust_remote_code
        )
    except (OSError, ValueError) as err:
        raise ModelError(
            f"cannot load model '{req.model}': {str(err).splitlines()[0]}",
            hint="check the model id (network access to the Hub is needed for ids) or pass a "
            "local checkpoint folder",
        ) from None
    use_sdpa(model)
    return tokenizer, model


def preflight(req: RunRequest) -> None:
    """Everything that can be checked before any work: languages, hyperparameters, model path,
    eval split and (for local data) that every needed file exists. Fails before training."""
    task = req.task
    languages = check_languages(task, req.languages)
    task.hyperparameters_for(req.model, req.overrides)
    resolve_model(req.model)
    for name in ("train_limit", "eval_limit"):
        value = getattr(req, name)
        if value is not None and value < 1:
            raise TaskError(f"{name} must be a positive number of examples, got {value}")
    if req.eval_split not in ("test", "dev"):
        raise TaskError(f"unknown eval split '{req.eval_split}'", hint="use test or dev")
    if req.data_dir is None:
        return
    needed = [("train", task.train_language), ("dev", task.selection_language)]
    needed += [(req.eval_split, lang) for lang in languages]
    for split, lang in needed:
        require_local_file(task, split, lang, req.data_dir)


def run(req: RunRequest, log: Log = print) -> Path:
    """Fine-tune (or reuse) and evaluate; return the path of the result file."""
    import torch
    import transformers
    from transformers import set_seed

    transformers.logging.set_verbosity_error()
    started = time.perf_counter()
    task, task_type = req.task, get_task_type(req.task.type)
    languages = check_languages(task, req.languages)
    hp = task.hyperparameters_for(req.model, req.overrides)
    model_source = resolve_model(req.model)
    out = result_path(req.results_dir, req.model, task.name, req.seed)

    train = load_split(
        task,
        "train",
        task.train_language,
        data_dir=req.data_dir,
        limit=req.train_limit,
        for_training=True,
    )
    run_key = _key(
        {
            "model": model_source,
            "task": [task.name, task.version],
            "hp": hp.model_dump(),
            "seed": req.seed,
            "train": train.source,
            "eval": [req.eval_split, req.eval_limit, req.data_dir is None],
        }
    )
    existing = _existing(out, run_key)
    todo = [lang for lang in languages if lang not in (existing.languages if existing else {})]
    if not todo:
        log(f"{task.name} seed {req.seed}: already done in {out} (nothing to do)")
        return out
    partial_dir = out.with_name(out.stem + ".partial")
    done: dict[str, LanguageResult] = dict(existing.languages) if existing else {}
    done.update(_read_partials(partial_dir, run_key, todo))
    todo = [lang for lang in todo if lang not in done]

    model_dir = req.cache_dir / "models" / f"{slug(req.model)}--{task.name}--{run_key}"
    training_record = _training_record(model_dir)
    timings: dict[str, float] = {}
    attention = None
    if todo or training_record is None:
        from xbench.featcache import CachedTokenizer, FeatureCache, cached_train_features
        from xbench.training import fine_tune, is_trained

        features_cache = FeatureCache(req.cache_dir / "features", log)

        set_seed(req.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if is_trained(model_dir):
            log(f"{task.name} seed {req.seed}: reusing fine-tuned model {model_dir}")
            tokenizer, model = _load_pretrained(req, str(model_dir))
            predict_tokenizer = CachedTokenizer(tokenizer, features_cache, task, hp)
        else:
            tokenizer, model = _load_pretrained(req, model_source)
            predict_tokenizer = CachedTokenizer(tokenizer, features_cache, task, hp)
            features, adjusted = cached_train_features(
                features_cache, task_type, task, tokenizer, train.examples, hp
            )
            dev = None
            if hp.selection == "best-dev":
                dev = load_split(task, "dev", task.selection_language, data_dir=req.data_dir)
            log(
                f"{task.name} seed {req.seed}: fine-tuning {req.model} on {len(features)} "
                f"{task.train_language} features (lr {hp.learning_rate}, {hp.epochs} epochs, "
                f"batch {hp.batch_size}, selection {hp.selection})"
            )

            def dev_score(m: Any) -> float:
                assert dev is not None
                preds = task_type.predict(task, m, predict_tokenizer, dev.examples, hp, desc="dev")
                return task_type.score(task, dev.examples, preds, task.selection_language)[
                    task.metric
                ]

            # written before fine_tune marks the model done, so a kill between the two cannot
            # leave a finished model without its data record
            atomic_write_text(
                model_dir / "train-adjustments.json",
                json.dumps(
                    {
                        "skipped": train.skipped,
                        "adjusted": adjusted,
                        "dev_source": dev.source if dev else None,
                    }
                ),
            )
            fine_tune(
                model,
                tokenizer,
                features,
                hp,
                req.seed,
                model_dir,
                dev_score,
                log,
                checkpoint_steps=req.checkpoint_steps,
            )
        training_record = _training_record(model_dir)
        attention = getattr(model.config, "_attn_implementation", None)
        for lang in todo:
            done[lang] = _evaluate(req, task, hp, model, predict_tokenizer, lang, out)
            atomic_write_text(
                partial_dir / f"{lang}.json",
                json.dumps({"run_key": run_key, "result": done[lang].model_dump()}),
            )
            log(
                f"  {task.name} {lang}: {task.metric} {done[lang].scores[task.metric]:.4f} "
                f"({done[lang].examples} examples, {done[lang].predict_seconds:.1f}s)"
            )
        log(
            f"  tokenised features: {features_cache.hits} from the cache, "
            f"{features_cache.misses} computed ({features_cache.root})"
        )
    assert training_record is not None
    adjustments = training_record.get("adjustments", {})
    timings["train_seconds"] = training_record.get("train_seconds", 0.0)
    timings["predict_seconds"] = round(sum(r.predict_seconds for r in done.values()), 2)
    timings["wall_seconds_this_invocation"] = round(time.perf_counter() - started, 2)
    result = RunResult(
        task=task.name,
        task_version=task.version,
        task_type=task.type,
        metric=task.metric,
        model=req.model,
        seed=req.seed,
        eval_split=req.eval_split,
        languages={lang: done[lang] for lang in sorted(done)},
        train_source={
            **train.source,
            **{k: v for k, v in adjustments.items() if k != "dev_source"},
        },
        dev_source=adjustments.get("dev_source"),
        hyperparameters={
            **hp.model_dump(),
            "train_limit": req.train_limit,
            "eval_limit": req.eval_limit,
        },
        training={k: v for k, v in training_record.items() if k != "adjustments"},
        run_key=run_key,
        environment=environment(attention),
        timings=timings,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    write_result(out, result)
    shutil.rmtree(partial_dir, ignore_errors=True)
    log(f"{task.name} seed {req.seed}: wrote {out}")
    return out


def _existing(out: Path, run_key: str) -> RunResult | None:
    if not out.exists():
        return None
    previous = read_result(out)
    if previous.run_key != run_key:
        raise ResultsError(
            f"{out} already holds a result of a different configuration "
            f"(run key {previous.run_key}, this run {run_key})",
            hint="use another --results-dir, or move that file away; results are never "
            "overwritten silently",
        )
    return previous


def _read_partials(partial_dir: Path, run_key: str, langs: list[str]) -> dict[str, LanguageResult]:
    found = {}
    for lang in langs:
        path = partial_dir / f"{lang}.json"
        try:
            raw = json.loads(path.read_text())
            if raw["run_key"] == run_key:
                found[lang] = LanguageResult(**raw["result"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # absent or unreadable: that language is simply computed again
    return found


def _training_record(model_dir: Path) -> dict[str, Any] | None:
    from xbench.training import is_trained, read_training_record

    if not is_trained(model_dir):
        return None
    record = read_training_record(model_dir)
    adjustments = model_dir / "train-adjustments.json"
    if adjustments.exists():
        record["adjustments"] = json.loads(adjustments.read_text())
    return record


def _evaluate(
    req: RunRequest, task: TaskSpec, hp: Any, model: Any, tokenizer: Any, lang: str, out: Path
) -> LanguageResult:
    task_type = get_task_type(task.type)
    split = "dev" if req.eval_split == "dev" else "test"
    data: SplitData = load_split(task, split, lang, data_dir=req.data_dir, limit=req.eval_limit)
    t0 = time.perf_counter()
    predictions = task_type.predict(task, model, tokenizer, data.examples, hp, desc=lang)
    seconds = time.perf_counter() - t0
    scores = task_type.score(task, data.examples, predictions, lang)
    pred_dir = out.with_name(out.stem + ".predictions")
    pred_path = pred_dir / f"{lang}.json"
    atomic_write_text(
        pred_path,
        json.dumps(task_type.prediction_records(data.examples, predictions), ensure_ascii=False),
    )
    per_example = task_type.example_scores(task, data.examples, predictions, lang)
    atomic_write_text(
        pred_dir / f"{lang}.scores.json",
        json.dumps(
            {"metric": task.metric, "ids": [e.id for e in data.examples], "scores": per_example}
        ),
    )
    return LanguageResult(
        scores=scores,
        examples=len(data.examples),
        skipped=data.skipped,
        source=data.source,
        predict_seconds=round(seconds, 2),
        predictions_file=str(pred_path.relative_to(out.parent)),
        example_scores_file=str((pred_dir / f"{lang}.scores.json").relative_to(out.parent)),
    )
