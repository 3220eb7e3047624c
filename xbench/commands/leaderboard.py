"""`xbench leaderboard` and `xbench compare`, plus the text formats they write.

The functions `leaderboard` and `compare` are plain Typer commands; cli.py registers them with
`app.command("leaderboard")(leaderboard)` and `app.command("compare")(compare)`. pandas, numpy and
matplotlib are imported inside them, so `xbench --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from xbench.leaderboard import (
    AVERAGES,
    MEASURED,
    PUBLISHED,
    Leaderboard,
    LeaderboardError,
    Stat,
    headers,
    row_cells,
    summary_cells,
    summary_headers,
    title,
)

FORMATS = ("markdown", "latex", "csv", "json", "html")
COMPARE_FORMATS = ("markdown", "csv", "json")
CSV_COLUMNS = (
    *("table", "metric", "rank", "model", "kind", "seeds", "column"),
    *("mean", "std", "ci_low", "ci_high", "averaged_over"),
)


# --- formats -------------------------------------------------------------------------------------


def to_markdown(lb: Leaderboard) -> str:
    """GitHub tables: the summary, then one table per task, each followed by its rules."""
    from tabulate import tabulate

    def block(name: str, head: list[str], rows: list[list[str]], notes: list[str]) -> str:
        rows = [[c.replace("|", "\\|") for c in r] for r in rows]
        table = tabulate(rows, headers=head, tablefmt="github", disable_numparse=True)
        return f"{name}\n\n{table}\n\n" + "\n".join(f"- {n}" for n in notes)

    parts = [
        block(
            "## Summary",
            summary_headers(lb),
            [summary_cells(r, lb) for r in lb.summary],
            lb.summary_notes,
        )
    ]
    for t in lb.tables:
        parts.append(
            block(f"### {title(t)}", headers(t), [row_cells(r, t) for r in t.rows], t.notes)
        )
    if lb.warnings:
        parts.append("\n".join(f"- Warning: {w}" for w in lb.warnings))
    return "\n\n".join(parts) + "\n"


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
    parts.append(
        table(
            "Summary",
            summary_headers(lb),
            [(r.kind == PUBLISHED, summary_cells(r, lb)) for r in lb.summary],
            lb.summary_notes,
        )
    )
    for t in lb.tables:
        rows = [(r.kind == PUBLISHED, row_cells(r, t)) for r in t.rows]
        parts.append(table(title(t), headers(t), rows, t.notes))
    return "\n\n".join(parts) + "\n"


def _num(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _stat_dict(s: Stat) -> dict[str, Any]:
    return {
        "mean": _num(s.mean),
        "std": _num(s.std),
        "ci": None if s.ci is None else [_num(s.ci[0]), _num(s.ci[1])],
    }


def to_dict(lb: Leaderboard) -> dict[str, Any]:
    """Everything the tables show, structured (JSON output and the HTML page's data block)."""
    return {
        "format": "xbench-leaderboard/1",
        "summary": {
            "tasks": lb.tasks,
            "notes": lb.summary_notes,
            "rows": [
                {
                    "rank": r.rank,
                    "model": r.model,
                    "kind": r.kind,
                    "tasks": {t: _stat_dict(s) for t, s in r.tasks.items()},
                    "overall": _num(r.overall),
                }
                for r in lb.summary
            ],
        },
        "tables": [
            {
                "task": t.task,
                "metric": t.metric,
                "languages": t.languages,
                "averaged_over": t.averaged_over,
                "notes": t.notes,
                "rows": [
                    {
                        "rank": r.rank,
                        "model": r.model,
                        "kind": r.kind,
                        "seeds": r.seeds,
                        "citation": r.citation,
                        "cells": {c: _stat_dict(r.cells.get(c, Stat())) for c in t.columns},
                    }
                    for r in t.rows
                ],
            }
            for t in lb.tables
        ],
        "warnings": lb.warnings,
    }


def to_json(lb: Leaderboard) -> str:
    import json

    return json.dumps(to_dict(lb), indent=2, ensure_ascii=False) + "\n"


def to_csv(lb: Leaderboard) -> str:
    """One tidy CSV: a line per (table, row, column), so it parses with any CSV reader."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def line(table: str, metric: str, rank, model, kind, seeds, col, s: Stat, over: str) -> None:
        low, high = s.ci if s.ci is not None else (None, None)
        values = [_num(s.mean), _num(s.std), _num(low), _num(high)]
        writer.writerow(
            [table, metric, rank, model, kind, seeds, col]
            + ["" if v is None else v for v in values]
            + [over]
        )

    for r in lb.summary:
        for task in lb.tasks:
            line(
                "summary",
                "",
                r.rank or "",
                r.model,
                r.kind,
                "",
                task,
                r.tasks.get(task, Stat()),
                "",
            )
        line("summary", "", r.rank or "", r.model, r.kind, "", "overall", Stat(r.overall), "")
    for t in lb.tables:
        over = " ".join(t.averaged_over)
        for r in t.rows:
            for col in t.columns:
                stat = r.cells.get(col, Stat())
                seeds = r.seeds if r.kind == MEASURED else ""
                line(
                    t.task,
                    t.metric,
                    r.rank or "",
                    r.model,
                    r.kind,
                    seeds,
                    col,
                    stat,
                    over if col in AVERAGES else "",
                )
    return out.getvalue()


def render(lb: Leaderboard, fmt: str) -> str:
    """The leaderboard in one of FORMATS."""
    if fmt == "html":
        from xbench.html_page import to_html

        return to_html(lb)
    writers = {"markdown": to_markdown, "latex": to_latex, "csv": to_csv, "json": to_json}
    if fmt not in writers:
        raise LeaderboardError(f"unknown format '{fmt}'", hint=f"use one of {', '.join(FORMATS)}")
    return writers[fmt](lb)


# --- commands ------------------------------------------------------------------------------------


def _csv_list(text: str | None) -> list[str] | None:
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None


def _emit(text: str, output: Path | None) -> None:
    """Print, or write atomically so a reader (a web server) never sees half a page."""
    if output is None:
        typer.echo(text, nl=False)
        return
    from xbench.plots import readable_mode
    from xbench.results import atomic_write_text

    atomic_write_text(output, text)
    os.chmod(output, readable_mode())  # atomic_write_text's mkstemp leaves 0600; pages are shared
    typer.echo(f"wrote {output}", err=True)


def _warn(errors: list[Any]) -> None:
    for err in errors:
        typer.echo(f"warning: skipped {err}", err=True)


def leaderboard(
    paths: Annotated[list[Path], typer.Argument(help="Result files or folders.")],
    task: Annotated[str | None, typer.Option(help="Only these tasks (comma-separated).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Only these models (comma-separated; globs like 'xlm-*').")
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(help="Only these languages (comma-separated); averages use only them."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="markdown, latex, csv, json or html.")
    ] = "markdown",
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (atomically) instead of stdout.")
    ] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Also write PNG plots per task (bars, heatmap) here.")
    ] = None,
    references: Annotated[
        bool,
        typer.Option(
            "--references/--no-references", help="Show published rows beside measured ones."
        ),
    ] = True,
    ci: Annotated[
        bool, typer.Option("--ci", help="Add 95% bootstrap CIs from the per-example scores.")
    ] = False,
    samples: Annotated[int, typer.Option(help="Bootstrap resamples for --ci.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed for --ci.")] = 0,
) -> None:
    """Ranked per-task tables and a summary, mean ± std over seeds, with published rows."""
    from xbench.leaderboard import CIOptions, build_leaderboard, load_references
    from xbench.results import load_runs

    if fmt not in FORMATS:
        raise LeaderboardError(f"unknown format '{fmt}'", hint=f"use one of {', '.join(FORMATS)}")
    if ci and samples < 100:
        raise LeaderboardError(f"--samples {samples} is too few for a CI", hint="use 1000 or more")
    runs, errors = load_runs(paths)
    _warn(errors)
    if not runs:
        raise LeaderboardError(
            f"no result files found in {', '.join(map(str, paths))}",
            hint="point at the --results-dir of `xbench run` (default: results)",
        )
    board = build_leaderboard(
        runs,
        tasks=_csv_list(task),
        models=_csv_list(model),
        languages=_csv_list(languages),
        references=load_references() if references else None,
        ci=CIOptions(samples=samples, seed=seed) if ci else None,
    )
    for warning in board.warnings:
        typer.echo(f"warning: {warning}", err=True)
    _emit(render(board, fmt), output)
    if plots is not None:
        from xbench.plots import write_plots

        for path in write_plots(board, plots):
            typer.echo(f"wrote {path}", err=True)


def _runs_of(spec: str, search: list[Path]) -> list[Any]:
    """Runs of one model: `spec` is a folder holding exactly one model's results, or a model
    name (or its folder slug) looked up under the --results folders."""
    from xbench.errors import did_you_mean
    from xbench.results import load_runs, slug

    folder = Path(spec)
    if folder.is_dir():
        runs, errors = load_runs([folder])
        _warn(errors)
        models = sorted({r.model for _, r in runs})
        if not models:
            raise LeaderboardError(f"no result files in {folder}")
        if len(models) > 1:
            raise LeaderboardError(
                f"{folder} holds results of several models: {', '.join(models)}",
                hint=f"name one model instead and pass --results {folder}",
            )
        return runs
    runs, errors = load_runs(search)
    _warn(errors)
    chosen = [(p, r) for p, r in runs if spec in (r.model, slug(r.model))]
    if not chosen:
        names = sorted({r.model for _, r in runs})
        raise LeaderboardError(
            f"no results for model '{spec}' in {', '.join(map(str, search))}."
            + did_you_mean(spec, names),
            hint=f"models found: {', '.join(names) or 'none'}; or pass a result folder",
        )
    return chosen


def compare(
    model_a: Annotated[
        str, typer.Argument(metavar="A", help="Model name, or a folder of one model's results.")
    ],
    model_b: Annotated[
        str, typer.Argument(metavar="B", help="Model name, or a folder of one model's results.")
    ],
    results: Annotated[
        list[Path] | None,
        typer.Option(
            "--results",
            help="Where model names are looked up (repeatable).",
            show_default="results",
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="Only these tasks (default: every task both have).")
    ] = None,
    languages: Annotated[
        str | None, typer.Option(help="Only these languages (comma-separated).")
    ] = None,
    samples: Annotated[
        int, typer.Option(help="Bootstrap resamples, or random swaps for --test permutation.")
    ] = 10_000,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed of the test.")] = 0,
    test: Annotated[str, typer.Option(help="bootstrap or permutation.")] = "bootstrap",
    fmt: Annotated[str, typer.Option("--format", help="markdown, csv or json.")] = "markdown",
    output: Annotated[Path | None, typer.Option(help="Write to this file (atomically).")] = None,
) -> None:
    """Paired significance test of A against B per language, on the examples both saw."""
    from xbench.errors import did_you_mean
    from xbench.stats import METHODS, compare_runs, render_comparisons

    if fmt not in COMPARE_FORMATS:
        raise LeaderboardError(
            f"unknown format '{fmt}'", hint=f"use one of {', '.join(COMPARE_FORMATS)}"
        )
    if test not in METHODS:
        raise LeaderboardError(f"unknown test '{test}'", hint=f"use one of {', '.join(METHODS)}")
    search = results or [Path("results")]
    runs_a, runs_b = _runs_of(model_a, search), _runs_of(model_b, search)
    shared = sorted({r.task for _, r in runs_a} & {r.task for _, r in runs_b})
    wanted = _csv_list(task) or shared
    for name in wanted:
        if name not in shared:
            raise LeaderboardError(
                f"task '{name}' is not evaluated for both models.{did_you_mean(name, shared)}",
                hint=f"tasks both have: {', '.join(shared) or 'none'}",
            )
    if not wanted:
        raise LeaderboardError(f"{model_a} and {model_b} share no task")
    comparisons = []
    for name in wanted:
        ra = _one_per_seed([(p, r) for p, r in runs_a if r.task == name])
        rb = _one_per_seed([(p, r) for p, r in runs_b if r.task == name])
        if ra[0][1].metric != rb[0][1].metric:
            raise LeaderboardError(
                f"{name}: A is scored by {ra[0][1].metric}, B by {rb[0][1].metric}; not comparable"
            )
        comparisons.append(
            compare_runs(
                ra,
                rb,
                languages=_csv_list(languages),
                samples=samples,
                alpha=alpha,
                seed=seed,
                method=test,
            )
        )
    _emit(render_comparisons(comparisons, fmt), output)


def _one_per_seed(runs: list[Any]) -> list[Any]:
    seen: dict[int, Path] = {}
    for path, result in runs:
        if result.seed in seen:
            raise LeaderboardError(
                f"two results for {result.model} / {result.task} / seed {result.seed}: "
                f"{seen[result.seed]} and {path}",
                hint="pass only one of the folders that hold this run",
            )
        seen[result.seed] = path
    return runs
