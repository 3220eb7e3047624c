"""`xbench leaderboard PATHS` and `xbench compare A B`: load results, build the data
(xbench.leaderboard, xbench.stats), hand it to xbench.render. pandas, numpy and matplotlib are
imported inside the commands, so `xbench --help` stays fast."""

from __future__ import annotations

from dataclasses import replace
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
        str | None,
        typer.Option(
            help="Only these models (comma-separated): full ids or names as shown, globs like "
            "'xlm-*'."
        ),
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
    references_on_dev: Annotated[
        bool,
        typer.Option(
            "--references-on-dev",
            help="Also list published (test-set) rows under tables measured on dev, marked "
            "[test] and not ranked (default: left out, with a note).",
        ),
    ] = False,
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
        references_on_dev=references_on_dev,
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
    """Paired significance test of A against B per language, on the examples both saw (of one
    eval split: a dev result is never compared with a test result)."""
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
        for ra, rb, extra in _same_split(
            [r for r in runs_a if r[1].task == name], [r for r in runs_b if r[1].task == name]
        ):
            ra, rb = _one_per_seed(ra), _one_per_seed(rb)
            if ra[0][1].metric != rb[0][1].metric:
                raise LeaderboardError(
                    f"{name}: A is scored by {ra[0][1].metric}, B by {rb[0][1].metric}; "
                    "not comparable"
                )
            found = compare_runs(
                ra,
                rb,
                languages=csv_list(languages),
                samples=samples,
                alpha=alpha,
                seed=seed,
                method=test,
            )
            comparisons.append(replace(found, notes=[*found.notes, *extra]))
    emit(render_comparisons(comparisons, fmt), output)


def _same_split(
    runs_a: list[Any], runs_b: list[Any]
) -> list[tuple[list[Any], list[Any], list[str]]]:
    """(A's runs, B's runs, notes) per eval split both have, test first; none shared is an error:
    a dev score is never compared with a test score."""
    from xbench.leaderboard import LeaderboardError

    task, a, b = runs_a[0][1].task, runs_a[0][1].model, runs_b[0][1].model
    split_a, split_b = ({r.eval_split for _, r in runs} for runs in (runs_a, runs_b))
    shared = sorted(split_a & split_b, key=lambda s: (s != "test", s))
    if not shared:
        raise LeaderboardError(
            f"{task}: A ({a}) was evaluated on the {'/'.join(sorted(split_a))} split, B ({b}) on "
            f"the {'/'.join(sorted(split_b))} split; dev and test scores are not comparable",
            hint="compare results of one eval split: evaluate both with the same "
            "`xbench run --eval-split` (test or dev)",
        )
    notes = [
        f"{who} also has {split}-split results of {task}; the other model has none, so they "
        "were not compared."
        for who, mine, theirs in (("A", split_a, split_b), ("B", split_b, split_a))
        for split in sorted(mine - theirs)
    ]
    return [
        (
            [r for r in runs_a if r[1].eval_split == split],
            [r for r in runs_b if r[1].eval_split == split],
            notes,
        )
        for split in shared
    ]


def _runs_of(spec: str, search: list[Path]) -> list[Any]:
    """Runs of one model: `spec` is a folder holding exactly one model's results, or a model
    looked up under the --results folders by its full id (or folder slug), its row label as
    the leaderboard shows it, or its readable name (`--name`, or the checkpoint folder's name;
    one shared by several models is an error naming them)."""
    from xbench.errors import did_you_mean
    from xbench.io import slug
    from xbench.leaderboard import LeaderboardError
    from xbench.results import display_name, load_runs
    from xbench.tables import model_labels

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
    labels, _ = model_labels((r.model, display_name(r)) for _, r in runs)
    chosen = [(p, r) for p, r in runs if spec in (r.model, slug(r.model))]
    chosen = chosen or [(p, r) for p, r in runs if labels[r.model] == spec]
    chosen = chosen or [(p, r) for p, r in runs if display_name(r) == spec]
    if len(models := sorted({r.model for _, r in chosen})) > 1:
        raise LeaderboardError(
            f"'{spec}' is the name of {len(models)} models: {', '.join(models)}",
            hint="name one by its full model id (or its label in the leaderboard: "
            f"{', '.join(labels[m] for m in models)}), or pass its result folder",
        )
    if not chosen:
        names = sorted({*labels, *labels.values()})
        found = [label if label == m else f"{label} ({m})" for m, label in sorted(labels.items())]
        raise LeaderboardError(
            f"no results for model '{spec}' in {', '.join(map(str, search))}."
            + did_you_mean(spec, names),
            hint=f"models found: {', '.join(found) or 'none'}; or pass a result folder",
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
