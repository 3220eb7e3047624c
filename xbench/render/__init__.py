"""Every text, page and picture xbench writes, one module per kind of output.

================  ===============================================================================
leaderboard_text  Markdown and LaTeX leaderboards, and the header and cell strings every
                  leaderboard format shows (headers, row_cells, summary_cells, title, stat_text)
leaderboard_data  the leaderboard as CSV, as JSON, and as the dict the HTML page embeds
html              the self-contained sortable HTML leaderboard page
plots             PNG bar charts and heatmaps of a leaderboard (matplotlib)
tables            `xbench table`: per-language score tables and G-XLT pair matrices
comparisons       `xbench compare`: per-language paired tests of two models
================  ===============================================================================

Renderers take the data built elsewhere (xbench.leaderboard.Leaderboard, xbench.stats.Comparison,
xbench.tables.long_frame) and compute no number themselves. The dispatchers below import their
module only when called, so importing xbench.render costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING

from xbench.errors import XbenchError

if TYPE_CHECKING:
    import pandas as pd

    from xbench.leaderboard import Leaderboard
    from xbench.stats import Comparison

# format -> (module of xbench.render, the function that writes it)
LEADERBOARD_WRITERS = {
    "markdown": ("leaderboard_text", "to_markdown"),
    "latex": ("leaderboard_text", "to_latex"),
    "csv": ("leaderboard_data", "to_csv"),
    "json": ("leaderboard_data", "to_json"),
    "html": ("html", "to_html"),
}
LEADERBOARD_FORMATS = tuple(LEADERBOARD_WRITERS)
COMPARE_FORMATS = ("markdown", "csv", "json")
TABLE_FORMATS = ("markdown", "csv")


class FormatError(XbenchError):
    """An output format that this kind of output does not have."""


def check_format(
    fmt: str,
    formats: Sequence[str],
    error: type[XbenchError] = FormatError,
    hint: str | None = None,
) -> None:
    if fmt not in formats:
        raise error(f"unknown format '{fmt}'", hint=hint or f"use one of {', '.join(formats)}")


def render_leaderboard(lb: Leaderboard, fmt: str) -> str:
    """The leaderboard in one of LEADERBOARD_FORMATS."""
    check_format(fmt, LEADERBOARD_FORMATS)
    module, function = LEADERBOARD_WRITERS[fmt]
    return getattr(import_module(f"{__name__}.{module}"), function)(lb)


def render_comparisons(comparisons: Sequence[Comparison], fmt: str) -> str:
    """`xbench compare`'s tests in one of COMPARE_FORMATS."""
    check_format(fmt, COMPARE_FORMATS)
    from xbench.render.comparisons import render

    return render(comparisons, fmt)


def render_table(frame: pd.DataFrame, fmt: str = "markdown") -> str:
    """`xbench table`'s per-language tables of a long frame in one of TABLE_FORMATS."""
    check_format(fmt, TABLE_FORMATS)
    from xbench.render.tables import render

    return render(frame, fmt)
