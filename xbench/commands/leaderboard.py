"""`xbench leaderboard PATHS` and `xbench compare A B`: load results, build the data
(xbench.leaderboard, xbench.stats), hand it to xbench.render. pandas, numpy and matplotlib are
imported inside the commands, so `xbench --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from xbench.commands.options import (
    Languages,
    Output,
    ResultPaths,
    csv_list,
    emit,
    format_option,
    warn_skipped,
)
from xbench.render import COMPARE_FORMATS, LEADERBOARD_FORMATS, check_format


def leaderboard(
    paths: ResultPaths,
    task: Annotated[str | None, typer.Option(help="Only these tasks (comma-separated).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Only these models (comma-separated; globs like 'xlm-*').")
    ] = None,
    languages: Languages = None,
    fmt: Annotated[str, format_option(LEADERBOARD_FORMATS)] = "markdown",
    output: Output = None,
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
    from xbench.leaderboard import CIOptions, LeaderboardError, build_leaderboard
    from xbench.references import load_references
    from xbench.render import render_leaderboard
    from xbench.results import load_runs

    check_format(fmt, LEADERBOARD_FORMATS, LeaderboardError)
    if ci and samples < 100:
        raise LeaderboardError(f"--samples {samples} is too few for a CI", hint="use 1000 or more")
    runs, errors = load_runs(paths)
    warn_skipped(errors)
    if not runs:
        raise LeaderboardError(
            f"no result files found in {', '.join(map(str, paths))}",
            hint="point at the --results-dir of `xbench run` (default: results)",
        )
    board = build_leaderboard(
        runs,
        tasks=csv_list(task),
        models=csv_list(model),
        languages=csv_list(languages),
        references=load_references() if references else None,
        ci=CIOptions(samples=samples, seed=seed) if ci else None,
    )
    for warning in board.warnings:
        typer.echo(f"warning: {warning}", err=True)
    emit(render_leaderboard(board, fmt), output)
    if plots is not None:
        from xbench.render.plots import write_plots

        for path in write_plots(board, plots):
            typer.echo(f"wrote {path}", err=True)


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
    languages: Languages = None,
    samples: Annotated[
        int, typer.Option(help="Bootstrap resamples, or random swaps for --test permutation.")
    ] = 10_000,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Random seed of the test.")] = 0,
    test: Annotated[str, typer.Option(help="bootstrap or permutation.")] = "bootstrap",
    fmt: Annotated[str, format_option(COMPARE_FORMATS)] = "markdown",
    output: Output = None,
) -> None:
    """Paired significance test of A against B per language, on the examples both saw."""
    from xbench.errors import did_you_mean
    from xbench.leaderboard import LeaderboardError
    from xbench.render import render_comparisons
    from xbench.stats import METHODS, compare_runs

    check_format(fmt, COMPARE_FORMATS, LeaderboardError)
    if test not in METHODS:
        raise LeaderboardError(f"unknown test '{test}'", hint=f"use one of {', '.join(METHODS)}")
    search = results or [Path("results")]
    runs_a, runs_b = _runs_of(model_a, search), _runs_of(model_b, search)
    shared = sorted({r.task for _, r in runs_a} & {r.task for _, r in runs_b})
    wanted = csv_list(task) or shared
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
                languages=csv_list(languages),
                samples=samples,
                alpha=alpha,
                seed=seed,
                method=test,
            )
        )
    emit(render_comparisons(comparisons, fmt), output)


def _runs_of(spec: str, search: list[Path]) -> list[Any]:
    """Runs of one model: `spec` is a folder holding exactly one model's results, or a model
    name (or its folder slug) looked up under the --results folders."""
    from xbench.errors import did_you_mean
    from xbench.io import slug
    from xbench.leaderboard import LeaderboardError
    from xbench.results import load_runs

    folder = Path(spec)
    if folder.is_dir():
        runs, errors = load_runs([folder])
        warn_skipped(errors)
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
    warn_skipped(errors)
    chosen = [(p, r) for p, r in runs if spec in (r.model, slug(r.model))]
    if not chosen:
        names = sorted({r.model for _, r in runs})
        raise LeaderboardError(
            f"no results for model '{spec}' in {', '.join(map(str, search))}."
            + did_you_mean(spec, names),
            hint=f"models found: {', '.join(names) or 'none'}; or pass a result folder",
        )
    return chosen


def _one_per_seed(runs: list[Any]) -> list[Any]:
    from xbench.leaderboard import LeaderboardError

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
