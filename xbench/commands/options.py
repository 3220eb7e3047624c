"""Options several commands share, each with what acting on it takes: `--tasks-dir` and the task
registry it extends, result paths and the warning for a skipped file, `--format` choices,
`--output` and how text is emitted, comma-separated lists. Only typer is imported here, so
registering the commands keeps `xbench --help` fast."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from xbench.errors import TaskError

TasksDir = Annotated[
    list[Path] | None,
    typer.Option("--tasks-dir", help="Extra folder of task YAML files (repeatable)."),
]
ResultPaths = Annotated[list[Path], typer.Argument(help="Result files or folders.")]
Output = Annotated[
    Path | None, typer.Option(help="Write to this file (atomically) instead of stdout.")
]
Languages = Annotated[
    str | None,
    typer.Option(help="Only these languages (comma-separated); averages use only them."),
]


def format_option(formats: Sequence[str]) -> Any:
    """`--format`, its help listing the choices: 'markdown, csv or json.'"""
    return typer.Option("--format", help=f"{', '.join(formats[:-1])} or {formats[-1]}.")


def registry(tasks_dir: list[Path] | None):
    """The shipped tasks plus those in the --tasks-dir folders (each must exist)."""
    from xbench.catalog import TaskRegistry

    for folder in tasks_dir or []:
        if not folder.is_dir():
            raise TaskError(
                f"tasks folder {folder} does not exist",
                hint="pass --tasks-dir (or a run config's tasks_dirs:) a folder of task YAML files",
            )
    return TaskRegistry(tasks_dir or [])


def csv_list(text: str | None) -> list[str] | None:
    """'a, b,,c' -> ['a', 'b', 'c']; nothing given -> None (no filter)."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None


def warn_skipped(errors: Sequence[Any]) -> None:
    """One warning line per result file that could not be read (it is left untouched)."""
    for err in errors:
        typer.echo(f"warning: skipped {err}", err=True)


def emit(text: str, output: Path | None) -> None:
    """Print `text`, or write it atomically (a reader such as a web server never sees half a
    page) and say so."""
    if output is None:
        typer.echo(text, nl=False)
        return
    from xbench.io import atomic_write_text

    atomic_write_text(output, text)
    typer.echo(f"wrote {output}", err=True)
