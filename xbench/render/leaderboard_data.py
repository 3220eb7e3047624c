"""The leaderboard as data files: one tidy CSV, JSON, and the dict both JSON and the HTML page's
embedded data block are made of."""

from __future__ import annotations

from typing import Any

from xbench.leaderboard import MEASURED, Leaderboard, Stat

CSV_COLUMNS = (
    *("table", "metric", "rank", "model", "kind", "seeds", "column"),
    *("mean", "std", "ci_low", "ci_high", "averaged_over"),
)


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

    for s in lb.summary:
        for task in lb.tasks:
            line(
                "summary",
                "",
                s.rank or "",
                s.model,
                s.kind,
                "",
                task,
                s.tasks.get(task, Stat()),
                "",
            )
        line("summary", "", s.rank or "", s.model, s.kind, "", "overall", Stat(s.overall), "")
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
                    over if col in t.averages else "",
                )
    return out.getvalue()
