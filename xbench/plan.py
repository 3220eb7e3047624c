"""A run resolved once: everything one (model, task, seed) needs, in a frozen plan.

Building the plan is the preflight. It resolves the languages, the hyperparameters and the
model source once, computes the run key and every path the run writes, and checks every source
the run will read before any training: each local file must exist and parse, each hub dataset,
config and split must resolve. The stages (`xbench.stages`) then only do the work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xbench import modelstore
from xbench.data import SplitData, check_source, hub_folder, load_split
from xbench.errors import ModelError, ResultsError, TaskError
from xbench.modelcheck import check_position_limit
from xbench.results import LanguageResult, RunResult, read_result, result_path
from xbench.taskspec import Hyperparameters, Split, TaskSpec
from xbench.tasktypes import get_task_type
from xbench.tasktypes.base import TaskType

EVAL_SPLITS: tuple[Split, ...] = ("test", "dev")


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for one (model, task, seed)."""

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
    name: str | None = None  # the model's name in tables; default: results.default_name
    finetuned: bool = False  # evaluate the model's own task head as is: no training


@dataclass(frozen=True)
class RunPlan:
    """The resolved run. `train_source` and `run_key` are fixed here: the same request gives
    the same key, which names the cached fine-tuned model and guards the result file."""

    request: RunRequest
    task: TaskSpec
    task_type: TaskType
    model_source: str
    languages: tuple[str, ...]
    hp: Hyperparameters
    eval_split: Split
    train_source: dict[str, Any] | None
    run_key: str
    result_file: Path
    model_dir: Path | None  # None when nothing is fine-tuned
    as_is: dict[str, Any] | None = None  # --finetuned: the weights' hash, how labels map

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def partial_dir(self) -> Path:
        """Finished languages of an interrupted run, one file each."""
        return self.result_file.with_name(self.result_file.stem + ".partial")

    @property
    def predictions_dir(self) -> Path:
        return self.result_file.with_name(self.result_file.stem + ".predictions")

    @property
    def reads_dev(self) -> bool:
        return self.model_dir is not None and self.task.needs_dev(self.hp)


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


def _config(req: RunRequest, model_source: str) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_source, trust_remote_code=req.trust_remote_code)
    except (OSError, ValueError) as err:
        raise ModelError(
            f"cannot read the config of model '{req.model}': {str(err).splitlines()[0]}"
        ) from None


def check_as_is(req: RunRequest, model_source: str) -> dict[str, Any]:
    """--finetuned: the model must already have this task type's head, with the task's labels
    (matched by name; another order is remapped). Returns what the result records of it."""
    task_type = get_task_type(req.task.type)
    if not task_type.fine_tunes:
        raise TaskError(
            f"--finetuned: task {req.task.name} does not fine-tune, so there is nothing to skip",
            hint="drop --finetuned",
        )
    config = _config(req, model_source)
    head = task_type.check_head(req.task, config, req.model)
    return {"head": head, "weights": modelstore.weights_digest(model_source, config)}


def _mirror(req: RunRequest) -> dict[str, str]:
    """Hub data read from a local folder instead (XBENCH_HUB_MIRROR) is another source: it
    keys the run apart from the same hub id at its pinned revision."""
    hub = req.task.hub
    folder = hub_folder(hub.dataset) if hub is not None and req.data_dir is None else None
    return {"eval_mirror": str(folder)} if folder is not None else {}


def load_train(req: RunRequest) -> SplitData:
    """The training examples of `req` (the task's training language, first train_limit)."""
    task = req.task
    return load_split(
        task,
        "train",
        task.train_language,
        data_dir=req.data_dir,
        limit=req.train_limit,
        for_training=True,
    )


def run_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _check_request(req: RunRequest) -> Split:
    for name in ("train_limit", "eval_limit"):
        value = getattr(req, name)
        if value is not None and value < 1:
            raise TaskError(f"{name} must be a positive number of examples, got {value}")
    if req.eval_split not in EVAL_SPLITS:
        raise TaskError(f"unknown eval split '{req.eval_split}'", hint="use test or dev")
    return "dev" if req.eval_split == "dev" else "test"


def make_plan(req: RunRequest) -> RunPlan:
    """Resolve and check everything `req` will use; raise before any work if anything is off
    (a result file of another configuration at the same path included)."""
    task, task_type = req.task, get_task_type(req.task.type)
    eval_split = _check_request(req)
    languages = tuple(task.check_languages(req.languages))
    hp = task.hyperparameters_for(req.model, req.overrides)
    if not req.finetuned and task.needs_dev(hp) and task.local.dev is None and req.data_dir:
        raise TaskError(
            f"task {task.name}: selection best-dev needs a dev split, and the task file has none",
            hint="use --set selection=final, or add local.dev to the task file",
        )
    model_source = resolve_model(req.model)
    check_position_limit(
        req.model, model_source, task.name, hp.max_length, trust_remote_code=req.trust_remote_code
    )

    as_is = check_as_is(req, model_source) if req.finetuned else None
    if not req.finetuned and task_type.fine_tunes and Path(model_source).is_dir():
        task_type.check_head(task, _config(req, model_source), req.model, as_is=False)
    trains = task_type.fine_tunes and not req.finetuned
    train_source = load_train(req).source if trains else None
    key = run_key(
        {
            **({"as_is": as_is} if as_is else {}),
            "model": model_source,
            "task": [task.name, task.version],
            "hp": hp.model_dump(),
            "seed": req.seed,
            "train": train_source,
            "eval": [req.eval_split, req.eval_limit, req.data_dir is None],
            **_mirror(req),
        }
    )
    plan = RunPlan(
        request=req,
        task=task,
        task_type=task_type,
        model_source=model_source,
        languages=languages,
        hp=hp,
        eval_split=eval_split,
        train_source=train_source,
        run_key=key,
        result_file=result_path(req.results_dir, req.model, task.name, req.seed),
        model_dir=modelstore.model_dir(req.cache_dir, req.model, task.name, key)
        if trains
        else None,
        as_is=as_is,
    )
    done = finished_languages(plan)
    trained = plan.model_dir is not None and modelstore.is_trained(plan.model_dir)
    if plan.reads_dev and not trained and set(languages) - set(done):
        check_source(task, "dev", task.selection_language, data_dir=req.data_dir)
    for lang in languages:
        if lang not in done:
            check_source(task, eval_split, lang, data_dir=req.data_dir)
    return plan


def existing_result(plan: RunPlan) -> RunResult | None:
    """The finished result at the plan's path; one of another configuration is an error."""
    out = plan.result_file
    if not out.exists():
        return None
    previous = read_result(out)
    if previous.run_key != plan.run_key:
        raise ResultsError(
            f"{out} already holds a result of a different configuration "
            f"(run key {previous.run_key}, this run {plan.run_key})",
            hint="use another --results-dir, or move that file away; results are never "
            "overwritten silently",
        )
    return previous


def finished_languages(plan: RunPlan) -> dict[str, LanguageResult]:
    """Languages already scored for this plan: in the result file, or saved one by one in the
    `.partial` folder by an interrupted run (an unreadable partial is computed again)."""
    existing = existing_result(plan)
    done: dict[str, LanguageResult] = dict(existing.languages) if existing else {}
    for lang in plan.languages:
        path = plan.partial_dir / f"{lang}.json"
        if lang in done or not path.is_file():
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw["run_key"] == plan.run_key:
                done[lang] = LanguageResult(**raw["result"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return done
