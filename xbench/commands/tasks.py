"""`xbench tasks list` and `xbench tasks show NAME`."""

from __future__ import annotations

import typer

from xbench.commands.options import TasksDir, registry


def tasks_list(tasks_dir: TasksDir = None) -> None:
    """Name, type, languages, metric and source of each task."""
    from tabulate import tabulate

    rows = []
    for spec in registry(tasks_dir):
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


def tasks_show(name: str, tasks_dir: TasksDir = None) -> None:
    """Print one task definition, validated, with its file path."""
    tasks = registry(tasks_dir)
    spec = tasks.get(name)
    typer.echo(f"# {tasks.path(name)}")
    typer.echo(spec.model_dump_json(indent=2, exclude_none=True))
