"""The `xbench` command: the Typer app, its commands (xbench/commands/, one module per group)
and main(), which turns errors a user can fix into one line and exit code 2. Commands import
torch, transformers and pandas only inside themselves, so `--help`, `tasks list` and `table`
start fast."""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated

import typer

from xbench.commands import leaderboard, run, table, tasks
from xbench.errors import XbenchError, one_line

app = typer.Typer(
    help="Zero-shot cross-lingual transfer benchmarks for multilingual encoders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tasks_app = typer.Typer(help="List and inspect task definitions.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

_state = {"debug": bool(os.environ.get("XBENCH_DEBUG"))}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    # set on every invocation (not only to True), so one --debug call in a process does not
    # leak into the next
    _state["debug"] = debug or bool(os.environ.get("XBENCH_DEBUG"))


tasks_app.command("list")(tasks.tasks_list)
tasks_app.command("show")(tasks.tasks_show)
app.command("run")(run.run)
app.command("table")(table.table)
app.command("leaderboard")(leaderboard.leaderboard)
app.command("compare")(leaderboard.compare)


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
