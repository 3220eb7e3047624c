"""`xbench table PATHS`: per-language scores of result files (xbench/render/tables.py), one table
per task and eval split, rows labelled by the model's readable name."""

from __future__ import annotations

from typing import Annotated

import typer

from xbench.commands.options import Output, ResultPaths, format_option, warn_skipped
from xbench.errors import TaskError, XbenchError
from xbench.render import TABLE_FORMATS, check_format


def table(
    paths: ResultPaths,
    fmt: Annotated[str, format_option(TABLE_FORMATS)] = "markdown",
    output: Output = None,
) -> None:
    """Per-language scores x100, mean ± std over seeds, with XTREME's averages."""
    from xbench.io import atomic_write_text
    from xbench.render import render_table
    from xbench.results import collect_results
    from xbench.tables import frame_labels, long_frame

    check_format(fmt, TABLE_FORMATS, TaskError, hint="use markdown or csv")
    results, errors = collect_results(paths)
    warn_skipped(errors)
    if not results:
        raise XbenchError(f"no result files found in {', '.join(map(str, paths))}")
    frame = long_frame(results)
    for warning in frame_labels(frame)[1]:
        typer.echo(f"warning: {warning}", err=True)
    text = render_table(frame, fmt)
    if output:
        atomic_write_text(output, text)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(text)
