"""PNG plots of a leaderboard: per-language grouped bars and a model x language heatmap per task.

Figures are drawn with matplotlib's object API (Figure + Agg canvas, no pyplot), so no global
backend state changes and nothing needs a display. Files are written atomically (xbench.io).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from xbench.io import atomic_write_bytes, slug
from xbench.leaderboard import AVG, PUBLISHED, Leaderboard, TaskTable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_MAX_LABEL = 40


def _label(text: str) -> str:
    """Model names are data: '$' would switch matplotlib to mathtext, so escape it; cut long."""
    text = text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"
    return text.replace("$", r"\$")


def _write_png(fig: Figure, path: Path) -> None:
    """Drawn on an Agg canvas, written atomically (and shareable: mode 0644 under the usual
    umask)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def bars_figure(table: TaskTable) -> Figure:
    """Grouped bars: one group per language (+ avg), one bar per row; error bars = std over
    seeds; published rows hatched."""
    import numpy as np
    from matplotlib.figure import Figure

    columns = [*table.languages, AVG]
    n_rows = max(len(table.rows), 1)
    width = 0.8 / n_rows
    fig = Figure(figsize=(max(6.0, 0.9 * len(columns) * max(1.0, n_rows / 3)), 4.2))
    ax = fig.add_subplot()
    x = np.arange(len(columns))
    for i, row in enumerate(table.rows):
        stats = [row.cells.get(c) for c in columns]
        means = [s.mean if s and s.mean is not None else np.nan for s in stats]
        errs = [s.std if s and s.std is not None else 0.0 for s in stats]
        published = row.kind == PUBLISHED  # no error bars: papers give one number
        ax.bar(
            x + (i - (n_rows - 1) / 2) * width,
            means,
            width,
            yerr=None if published else errs,
            capsize=2,
            label=_label(row.label),
            hatch="//" if published else None,
            alpha=0.6 if published else 0.9,
            edgecolor="black",
            linewidth=0.4,
        )
    ax.set_xticks(x, columns)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"{table.metric} x100")
    ax.set_title(
        f"{table.task} ({table.split} split): per-language scores (mean ± std over seeds; "
        "† published)"
    )
    ax.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=min(3, n_rows)
    )
    ax.grid(axis="y", alpha=0.3)
    return fig


def heatmap_figure(table: TaskTable) -> Figure:
    """Model x language heatmap of the means (avg and avg-en as the last columns)."""
    import numpy as np
    from matplotlib.figure import Figure

    avg, no_train, _ = table.averages
    columns = [*table.languages, avg, no_train]
    values = np.array(
        [
            [
                s.mean if (s := row.cells.get(c)) is not None and s.mean is not None else np.nan
                for c in columns
            ]
            for row in table.rows
        ],
        dtype=float,
    ).reshape(len(table.rows), len(columns))
    fig = Figure(figsize=(1.0 + 0.75 * len(columns), 1.2 + 0.45 * max(len(table.rows), 1)))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(values)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 100.0)
    image = ax.imshow(masked, cmap="RdYlGn", vmin=low, vmax=max(high, low + 1e-9), aspect="auto")
    ax.set_facecolor("#dddddd")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(table.rows)), [_label(r.label) for r in table.rows])
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8)
    ax.set_title(
        f"{table.task} ({table.split} split): {table.metric} x100 (mean over seeds; † published)"
    )
    fig.colorbar(image, ax=ax, fraction=0.03)
    return fig


def write_plots(lb: Leaderboard, folder: Path) -> list[Path]:
    """`{task}-{split}-bars.png` and `{task}-{split}-heatmap.png` for every task table (one per
    eval split); returns their paths."""
    written = []
    for table in lb.tables:
        for name, make in (("bars", bars_figure), ("heatmap", heatmap_figure)):
            path = folder / f"{slug(table.task)}-{slug(table.split)}-{name}.png"
            _write_png(make(table), path)
            written.append(path)
    return written
