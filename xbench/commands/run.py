"""`xbench run`: fine-tune and evaluate models on tasks, store the results, print their table.
torch and transformers are imported only inside the command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from xbench.commands.options import TasksDir
from xbench.commands.options import registry as _registry
from xbench.errors import TaskError


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    import yaml

    values = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise TaskError(f"--set expects key=value, got '{pair}'", hint="e.g. --set epochs=1")
        values[key.strip()] = yaml.safe_load(raw)
    return values


def _csv(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def run(
    model: Annotated[str | None, typer.Option(help="Hub id or local checkpoint folder.")] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="The model's name in tables (default: the hub id, or the checkpoint folder's "
            "name); the result keeps the full model path."
        ),
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated task names.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds, e.g. 1,2,3.")] = None,
    languages: Annotated[str | None, typer.Option(help="Evaluate only these languages.")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Local data in XTREME's download layout (default: the Hub)."),
    ] = None,
    results_dir: Annotated[Path | None, typer.Option(help="Where result files go.")] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Fine-tuned models (default $XBENCH_CACHE or ~/.cache/xbench)."),
    ] = None,
    train_limit: Annotated[
        int | None, typer.Option(min=1, help="Use the first N training examples.")
    ] = None,
    eval_limit: Annotated[
        int | None, typer.Option(min=1, help="Use the first N examples per language.")
    ] = None,
    eval_split: Annotated[str | None, typer.Option(help="test (default) or dev.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Hyperparameter override key=value (repeatable)."),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Run config YAML (see configs/).")] = None,
    all_pairs: Annotated[
        bool,
        typer.Option(help="Also every context x question language pair (MLQA's G-XLT matrix)."),
    ] = False,
    checkpoint_steps: Annotated[
        int, typer.Option(min=1, help="Keep a resumable training checkpoint every N steps.")
    ] = 500,
    finetuned: Annotated[
        bool,
        typer.Option(
            "--finetuned",
            help="Evaluate a model that already has a head for the task, as is: no training "
            "(labels matched by name).",
        ),
    ] = False,
    tasks_dir: TasksDir = None,
    trust_remote_code: Annotated[
        bool, typer.Option(help="Allow model code from the Hub (off unless you pass it).")
    ] = False,
) -> None:
    """Fine-tune on English, select on English dev, evaluate every language, store results."""
    from xbench.runconfig import TaskRun, load_run_config

    if config is not None and not config.is_file():
        raise TaskError(
            f"run config {config} does not exist",
            hint="pass --config the path of a run config YAML file (examples in configs/)",
        )
    cfg = load_run_config(config) if config else None
    model = model or (cfg.model if cfg else None)
    if not model:
        raise TaskError("no model given", hint="pass --model ID_OR_PATH or a --config with model:")
    registry = _registry([*(tasks_dir or []), *(cfg.tasks_dirs if cfg else [])])
    names = _csv(tasks) or (list(cfg.tasks) if cfg else [])
    if not names:
        raise TaskError("no tasks given", hint=f"pass --tasks, e.g. {','.join(registry.names())}")
    specs = [registry.get(n) for n in names]  # validate every name before any work starts
    try:
        seed_list = [int(s) for s in _csv(seeds)] if seeds else (cfg.seeds if cfg else [1])
    except ValueError:
        raise TaskError(
            f"--seeds takes integers, got '{seeds}'", hint="e.g. --seeds 1,2,3"
        ) from None
    sets = _parse_sets(set_ or [])
    from xbench.languages import all_pairs as pair_keys
    from xbench.plan import RunRequest, make_plan
    from xbench.runner import run as run_one

    plans = []  # every check that can fail does so here, before any training starts
    for spec in specs:
        per_task = (cfg.tasks.get(spec.name) if cfg else None) or TaskRun()
        langs = _csv(languages) or per_task.languages
        if all_pairs:
            if not spec.cross_lingual_pairs:
                raise TaskError(f"task {spec.name} has no cross-lingual pairs (--all-pairs)")
            langs = [*(langs or spec.languages), *pair_keys(spec.languages)]
        for seed in seed_list:
            request = RunRequest(
                model=model,
                task=spec,
                seed=seed,
                results_dir=results_dir or (cfg.results_dir if cfg else None) or Path("results"),
                cache_dir=cache_dir or _default_cache(),
                data_dir=data_dir or (cfg.data_dir if cfg else None),
                languages=langs,
                overrides={**per_task.set, **sets},
                train_limit=train_limit if train_limit is not None else per_task.train_limit,
                eval_limit=eval_limit if eval_limit is not None else per_task.eval_limit,
                eval_split=eval_split or per_task.eval_split,
                trust_remote_code=trust_remote_code,
                checkpoint_steps=checkpoint_steps,
                name=name,
                finetuned=finetuned,
            )
            plans.append(make_plan(request))
    from xbench.lock import results_lock

    written = []
    for i, plan in enumerate(plans, 1):
        typer.echo(f"[{i}/{len(plans)}] {plan.task.name} seed {plan.seed} with {plan.model}")
        with results_lock(plan.request.results_dir):
            written.append(run_one(plan, log=typer.echo))
    from xbench.render import render_table as render
    from xbench.results import collect_results
    from xbench.tables import long_frame

    results, _ = collect_results(written)
    typer.echo("\n" + render(long_frame(results)))


def _default_cache() -> Path:
    return Path(os.environ.get("XBENCH_CACHE", Path.home() / ".cache" / "xbench"))
