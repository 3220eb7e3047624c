"""The `xbench` command. torch and transformers are imported only inside `run`, so `--help`,
`tasks list` and `table` start fast. Errors a user can fix print one line and exit 2."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from xbench.errors import TaskError, XbenchError, one_line

app = typer.Typer(
    help="Zero-shot cross-lingual transfer benchmarks for multilingual encoders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tasks_app = typer.Typer(help="List and inspect task definitions.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

_state = {"debug": bool(os.environ.get("XBENCH_DEBUG"))}

TasksDir = Annotated[
    list[Path] | None,
    typer.Option("--tasks-dir", help="Extra folder of task YAML files (repeatable)."),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    # set on every invocation (not only to True), so one --debug call in a process does not
    # leak into the next
    _state["debug"] = debug or bool(os.environ.get("XBENCH_DEBUG"))


def _registry(tasks_dir: list[Path] | None):
    from xbench.taskspec import TaskRegistry

    for folder in tasks_dir or []:
        if not folder.is_dir():
            raise TaskError(
                f"tasks folder {folder} does not exist",
                hint="pass --tasks-dir (or a run config's tasks_dirs:) a folder of task YAML files",
            )
    return TaskRegistry(tasks_dir or [])


@tasks_app.command("list")
def tasks_list(tasks_dir: TasksDir = None) -> None:
    """Name, type, languages, metric and source of each task."""
    from tabulate import tabulate

    rows = []
    for spec in _registry(tasks_dir):
        source = f"{spec.hub.dataset}@{spec.hub.revision[:8]}" if spec.hub else "local only"
        rows.append(
            [
                spec.name,
                spec.version,
                spec.type,
                len(spec.languages),
                " ".join(spec.languages),
                spec.metric,
                source,
            ]
        )
    headers = ["task", "version", "type", "#langs", "languages", "metric", "hub source"]
    typer.echo(tabulate(rows, headers=headers, tablefmt="github"))


@tasks_app.command("show")
def tasks_show(name: str, tasks_dir: TasksDir = None) -> None:
    """Print one task definition, validated, with its file path."""
    registry = _registry(tasks_dir)
    spec = registry.get(name)
    typer.echo(f"# {registry.path(name)}")
    typer.echo(spec.model_dump_json(indent=2, exclude_none=True))


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


@app.command()
def run(
    model: Annotated[str | None, typer.Option(help="Hub id or local checkpoint folder.")] = None,
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
    from xbench.runner import RunRequest, check_languages, preflight
    from xbench.runner import run as run_one

    requests = []
    for spec in specs:
        per_task = (cfg.tasks.get(spec.name) if cfg else None) or TaskRun()
        langs = check_languages(spec, _csv(languages) or per_task.languages)
        if all_pairs:
            if not spec.cross_lingual_pairs:
                raise TaskError(f"task {spec.name} has no cross-lingual pairs (--all-pairs)")
            langs = [*langs, *(f"{c}-{q}" for c in spec.languages for q in spec.languages)]
        for seed in seed_list:
            requests.append(
                RunRequest(
                    model=model,
                    task=spec,
                    seed=seed,
                    results_dir=results_dir
                    or (cfg.results_dir if cfg else None)
                    or Path("results"),
                    cache_dir=cache_dir or _default_cache(),
                    data_dir=data_dir or (cfg.data_dir if cfg else None),
                    languages=langs,
                    overrides={**per_task.set, **sets},
                    train_limit=train_limit if train_limit is not None else per_task.train_limit,
                    eval_limit=eval_limit if eval_limit is not None else per_task.eval_limit,
                    eval_split=eval_split or per_task.eval_split,
                    trust_remote_code=trust_remote_code,
                    checkpoint_steps=checkpoint_steps,
                )
            )
    for req in requests:  # every check that can fail does so before any training starts
        preflight(req)
    from xbench.lock import results_lock

    written = []
    for i, req in enumerate(requests, 1):
        typer.echo(f"[{i}/{len(requests)}] {req.task.name} seed {req.seed} with {req.model}")
        with results_lock(req.results_dir):
            written.append(run_one(req, log=typer.echo))
    from xbench.results import collect_results
    from xbench.tables import long_frame, render

    results, _ = collect_results(written)
    typer.echo("\n" + render(long_frame(results)))


def _default_cache() -> Path:
    return Path(os.environ.get("XBENCH_CACHE", Path.home() / ".cache" / "xbench"))


@app.command()
def table(
    paths: Annotated[list[Path], typer.Argument(help="Result files or folders.")],
    fmt: Annotated[str, typer.Option("--format", help="markdown or csv.")] = "markdown",
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """Per-language scores x100, mean ± std over seeds, with XTREME's averages."""
    from xbench.results import atomic_write_text, collect_results
    from xbench.tables import long_frame, render

    if fmt not in ("markdown", "csv"):
        raise TaskError(f"unknown format '{fmt}'", hint="use markdown or csv")
    results, errors = collect_results(paths)
    for err in errors:
        typer.echo(f"warning: skipped {err}", err=True)
    if not results:
        raise XbenchError(f"no result files found in {', '.join(map(str, paths))}")
    text = render(long_frame(results), fmt)
    if output:
        atomic_write_text(output, text)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text)


def _register_extra_commands() -> None:
    from xbench.commands.leaderboard import compare, leaderboard

    app.command("leaderboard")(leaderboard)
    app.command("compare")(compare)


_register_extra_commands()


# OS errors that mean "the environment cannot hold what we write", reported in one line
_ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def main() -> None:
    try:
        app()
    except XbenchError as err:
        if _state["debug"]:
            raise
        # exactly one error line and one hint line, whatever the message holds
        typer.echo(f"error: {one_line(err.message)}", err=True)
        if err.shown_hint:
            typer.echo(f"  hint: {one_line(err.shown_hint)}", err=True)
        sys.exit(2)
    except OSError as err:
        # e.g. the disk filling up while a model checkpoint is saved (results are written by
        # atomic_write_text, which already raises a WriteError naming the file)
        if _state["debug"] or err.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = err.filename or "a file"
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            message = f"no space left on device writing {where}"
        else:
            message = f"{(err.strerror or str(err)).lower()}: {where}"
        typer.echo(
            f"error: {message}\n  hint: free space or fix permissions there, or use another "
            "--cache-dir / --results-dir; rerun the same command to resume",
            err=True,
        )
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted: rerun the same command to resume where it stopped", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
