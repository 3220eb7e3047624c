"""`xbench compare`: each task's per-language paired tests of A against B, and their macro
average, as Markdown (with the notes), CSV or JSON. Every format names the eval split compared
and the models by their readable names (`model_a`, `model_b`; CSV and JSON also give the full
ids, `model_a_id` and `model_b_id`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from xbench.stats import Comparison, PairedTest, StatsError

CSV_KEYS = ["task", "split", "model_a", "model_b", "model_a_id", "model_b_id"]
COMPARE_HEADERS = ["language", "n", "A", "B", "Δ (A−B)", "95% CI of Δ", "p", "p (Holm)", "sig"]


def comparison_rows(c: Comparison) -> list[list[str]]:
    """Display strings, in COMPARE_HEADERS order: one row per language, then 'avg'."""

    def line(name: str, t: PairedTest, holm_p: str, sig: bool) -> list[str]:
        return [
            name,
            str(t.n),
            f"{100 * t.mean_a:.1f}",
            f"{100 * t.mean_b:.1f}",
            f"{100 * t.diff:+.1f}",
            f"[{100 * t.ci[0]:+.1f}, {100 * t.ci[1]:+.1f}]",
            f"{t.p:.4f}",
            holm_p,
            "*" if sig else "",
        ]

    rows = [line(r.language, r.test, f"{r.p_holm:.4f}", r.significant) for r in c.languages]
    rows.append(line("avg", c.average, "", c.average_significant))
    return rows


def render(comparisons: Sequence[Comparison], fmt: str) -> str:
    """markdown (default), csv or json."""
    if fmt == "json":
        payload = [
            {
                "task": c.task,
                "split": c.split,
                "metric": c.metric,
                "model_a": c.name_a or c.model_a,
                "model_b": c.name_b or c.model_b,
                "model_a_id": c.model_a,
                "model_b_id": c.model_b,
                "notes": c.notes,
                "rows": [dict(zip(COMPARE_HEADERS, r, strict=True)) for r in comparison_rows(c)],
            }
            for c in comparisons
        ]
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*CSV_KEYS, *COMPARE_HEADERS])
        for c in comparisons:
            names = [c.name_a or c.model_a, c.name_b or c.model_b, c.model_a, c.model_b]
            for r in comparison_rows(c):
                writer.writerow([c.task, c.split, *names, *r])
        return out.getvalue()
    if fmt != "markdown":
        raise StatsError(f"unknown format '{fmt}'", hint="use markdown, csv or json")
    from tabulate import tabulate

    parts = []
    for c in comparisons:
        table = tabulate(
            comparison_rows(c), headers=COMPARE_HEADERS, tablefmt="github", disable_numparse=True
        )
        notes = "\n".join(f"- {n}" for n in c.notes)
        a, b = c.name_a or c.model_a, c.name_b or c.model_b
        parts.append(f"### {c.task} ({c.split} split): {a} (A) vs {b} (B)\n\n{table}\n\n{notes}")
    return "\n\n".join(parts) + "\n"
