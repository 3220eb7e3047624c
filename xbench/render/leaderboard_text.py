"""Leaderboards as Markdown and LaTeX, and the strings every leaderboard format shows: the
headers, a row's cells, a table's title with its eval split (HTML, CSV and JSON take them from
here too)."""

from __future__ import annotations

from xbench.leaderboard import (
    MEASURED,
    PUBLISHED,
    PUBLISHED_MARK,
    Leaderboard,
    Row,
    Stat,
    Summary,
    SummaryRow,
    TaskTable,
)

# --- what every format shows ---------------------------------------------------------------------


def stat_text(stat: Stat, digits: int = 1) -> str:
    """'84.2', '84.2 ± 0.3', '84.2 ± 0.3 [83.1, 85.0]', or '–' for no value."""
    if stat.mean is None:
        return "–"
    out = f"{stat.mean:.{digits}f}"
    if stat.std is not None:
        out += f" ± {stat.std:.{digits}f}"
    if stat.ci is not None:
        out += f" [{stat.ci[0]:.{digits}f}, {stat.ci[1]:.{digits}f}]"
    return out


def headers(table: TaskTable) -> list[str]:
    return ["#", "model", "seeds", *table.columns]


def row_cells(row: Row, table: TaskTable) -> list[str]:
    """Display strings of one row, in `headers` order."""
    rank = str(row.rank) if row.rank is not None else PUBLISHED_MARK
    seeds = str(row.seeds) if row.kind == MEASURED else "–"
    return [rank, row.label, seeds, *(stat_text(row.cells.get(c, Stat())) for c in table.columns)]


def summary_headers(summary: Summary) -> list[str]:
    return ["#", "model", *summary.tasks, "overall"]


def summary_cells(row: SummaryRow, summary: Summary) -> list[str]:
    rank = (
        str(row.rank) if row.rank is not None else (PUBLISHED_MARK if row.kind == PUBLISHED else "")
    )
    overall = "–" if row.overall is None else f"{row.overall:.1f}"
    cells = (stat_text(row.tasks.get(t, Stat())) for t in summary.tasks)
    return [rank, row.label, *cells, overall]


def title(table: TaskTable) -> str:
    """'mlqa (dev split, f1 x100)': every table says which eval split its rows were measured on."""
    return f"{table.task} ({table.split} split, {table.metric} x100)"


def summary_title(summary: Summary) -> str:
    return f"Summary ({summary.split} split)"


# --- Markdown ------------------------------------------------------------------------------------


def to_markdown(lb: Leaderboard) -> str:
    """GitHub tables: the summary, then one table per task, each followed by its rules."""
    from tabulate import tabulate

    def block(name: str, head: list[str], rows: list[list[str]], notes: list[str]) -> str:
        rows = [[c.replace("|", "\\|") for c in r] for r in rows]
        table = tabulate(rows, headers=head, tablefmt="github", disable_numparse=True)
        return f"{name}\n\n{table}\n\n" + "\n".join(f"- {n}" for n in notes)

    parts = [
        block(
            f"## {summary_title(s)}",
            summary_headers(s),
            [summary_cells(r, s) for r in s.rows],
            s.notes,
        )
        for s in lb.summaries
    ]
    for t in lb.tables:
        parts.append(
            block(f"### {title(t)}", headers(t), [row_cells(r, t) for r in t.rows], t.notes)
        )
    if lb.warnings:
        parts.append("\n".join(f"- Warning: {w}" for w in lb.warnings))
    return "\n\n".join(parts) + "\n"


# --- LaTeX ---------------------------------------------------------------------------------------

_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"\,$\pm$\,",
    "†": r"\textsuperscript{\dag}",
    "–": "--",
    "−": "-",
}


def latex_escape(text: str) -> str:
    text = text.replace(" ± ", "±")  # the escape brings its own thin spaces
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(lb: Leaderboard) -> str:
    """booktabs tables (needs \\usepackage{booktabs}); published rows in italics."""

    def table(caption: str, head: list[str], rows: list[tuple[bool, list[str]]], notes: list[str]):
        spec = "rl" + "r" * (len(head) - 2)
        body = []
        for published, cells in rows:
            cells = [latex_escape(c) for c in cells]
            if published:
                cells[1] = rf"\textit{{{cells[1]}}}"
            body.append(" & ".join(cells) + r" \\")
        return "\n".join(
            [
                r"\begin{table}[ht]",
                r"\centering",
                r"\small",
                rf"\begin{{tabular}}{{{spec}}}",
                r"\toprule",
                " & ".join(latex_escape(h) for h in head) + r" \\",
                r"\midrule",
                *body,
                r"\bottomrule",
                r"\end{tabular}",
                rf"\caption{{{latex_escape(caption)}}}",
                r"\par\smallskip{\footnotesize",
                " \\\\\n".join(latex_escape(n) for n in notes) + "}",
                r"\end{table}",
            ]
        )

    parts = ["% xbench leaderboard; requires \\usepackage{booktabs}"]
    for s in lb.summaries:
        rows = [(r.kind == PUBLISHED, summary_cells(r, s)) for r in s.rows]
        parts.append(table(summary_title(s), summary_headers(s), rows, s.notes))
    for t in lb.tables:
        rows = [(r.kind == PUBLISHED, row_cells(r, t)) for r in t.rows]
        parts.append(table(title(t), headers(t), rows, t.notes))
    return "\n\n".join(parts) + "\n"
