"""One run = one (model, task, seed), planned once, then staged:
plan (preflight) -> ensure the fine-tuned model -> evaluate each language -> store the result.

Resumable: each finished language is saved in a `.partial` folder beside the result, and the
fine-tuned model is cached by a key of everything that determines it, so a rerun after an
interruption repeats neither. A finished result is never silently overwritten.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from xbench import modelstore
from xbench.featcache import FeatureCache
from xbench.plan import RunPlan, RunRequest, existing_result, finished_languages, make_plan
from xbench.results import write_result
from xbench.stages import Loaded, assemble_result, ensure_model, evaluate_language

Log = Callable[[str], None]


def run(request: RunRequest | RunPlan, log: Log = print) -> Path:
    """Fine-tune (or reuse) and evaluate; return the path of the result file."""
    import transformers

    transformers.logging.set_verbosity_error()
    started = time.perf_counter()
    plan = request if isinstance(request, RunPlan) else make_plan(request)
    task, out = plan.task, plan.result_file
    existing = existing_result(plan)
    if existing is not None and set(plan.languages) <= set(existing.languages):
        log(f"{task.name} seed {plan.seed}: already done in {out} (nothing to do)")
        return out
    done = finished_languages(plan)
    todo = [lang for lang in plan.languages if lang not in done]
    record = modelstore.read_record(plan.model_dir) if plan.model_dir else None
    attention = None
    if todo or (plan.model_dir is not None and record is None):
        features = FeatureCache(plan.request.cache_dir / "features", log)
        loaded: Loaded = ensure_model(plan, features, log)
        record = loaded.record
        attention = getattr(loaded.model.config, "_attn_implementation", None)
        for lang in todo:
            done[lang] = evaluate_language(plan, loaded, lang)
            log(
                f"  {task.name} {lang}: {task.metric} {done[lang].scores[task.metric]:.4f} "
                f"({done[lang].examples} examples, {done[lang].predict_seconds:.1f}s)"
            )
        log(
            f"  tokenised features: {features.hits} from the cache, "
            f"{features.misses} computed ({features.root})"
        )
    result = assemble_result(plan, done, record, attention, time.perf_counter() - started)
    write_result(out, result)
    shutil.rmtree(plan.partial_dir, ignore_errors=True)
    log(f"{task.name} seed {plan.seed}: wrote {out}")
    return out
