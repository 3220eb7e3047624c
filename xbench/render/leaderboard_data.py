"""The leaderboard as data files: one tidy CSV, JSON, and the dict both JSON and the HTML page's
embedded data block are made of. Every line and row names its eval split (`split`: the split its
numbers are on; a published row is on the paper's, test) and its model twice: `model`, the
readable name the tables show, and `model_id`, the full model id (hub id or checkpoint path) the
results were measured with (empty for published rows)."""

from __future__ import annotations

from typing import Any

from xbench.leaderboard import MEASURED, Leaderboard, Row, Stat, SummaryRow

CSV_COLUMNS = (
    *("table", "split", "metric", "rank", "model", "model_id", "kind", "seeds", "column"),
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


def _names(r: Row | SummaryRow) -> tuple[str, str]:
    """(readable name, full model id or '' for a published row)."""
    return r.name or r.model, r.model if r.kind == MEASURED else ""


def to_dict(lb: Leaderboard) -> dict[str, Any]:
    """Everything the tables show, structured (JSON output and the HTML page's data block)."""
    return {
        "format": "xbench-leaderboard/2",
        "summaries": [
            {
                "split": s.split,
                "tasks": s.tasks,
                "notes": s.notes,
                "rows": [
                    {
                        "rank": r.rank,
                        "model": _names(r)[0],
                        "model_id": _names(r)[1] or None,
                        "kind": r.kind,
                        "tasks": {t: _stat_dict(v) for t, v in r.tasks.items()},
                        "overall": _num(r.overall),
                    }
                    for r in s.rows
                ],
            }
            for s in lb.summaries
        ],
        "tables": [
            {
                "task": t.task,
                "split": t.split,
                "metric": t.metric,
                "languages": t.languages,
                "averaged_over": t.averaged_over,
                "notes": t.notes,
                "rows": [
                    {
                        "rank": r.rank,
                        "model": _names(r)[0],
                        "model_id": _names(r)[1] or None,
                        "kind": r.kind,
                        "split": r.split,
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

    def line(table: str, split: str, metric: str, row, seeds, col, s: Stat, over: str) -> None:
        low, high = s.ci if s.ci is not None else (None, None)
        values = [_num(s.mean), _num(s.std), _num(low), _num(high)]
        name, model_id = _names(row)
        writer.writerow(
            [table, split, metric, row.rank or "", name, model_id, row.kind, seeds, col]
            + ["" if v is None else v for v in values]
            + [over]
        )

    for summary in lb.summaries:
        for s in summary.rows:
            for task in summary.tasks:
                line("summary", summary.split, "", s, "", task, s.tasks.get(task, Stat()), "")
            line("summary", summary.split, "", s, "", "overall", Stat(s.overall), "")
    for t in lb.tables:
        over = " ".join(t.averaged_over)
        for r in t.rows:
            for col in t.columns:
                stat = r.cells.get(col, Stat())
                seeds = r.seeds if r.kind == MEASURED else ""
                averaged = over if col in t.averages else ""
                line(t.task, r.split, t.metric, r, seeds, col, stat, averaged)
    return out.getvalue()
