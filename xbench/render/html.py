"""A self-contained static HTML leaderboard: one file, inline CSS and JS, nothing fetched.

Safety: every string that came from a result file or a user (model names, task names, notes) goes
through html.escape, and the machine-readable JSON copy is embedded with '<', '>' and '&' written
as \\u escapes, so no value can close the <script> element or inject markup. The JS only moves
existing rows (sorting) and never parses HTML. A Content-Security-Policy forbids any network load.

Opening the page with '#selftest' in the URL clicks the avg header of the first task table twice
(ascending order) on load, so a headless browser's DOM dump proves that sorting works.
"""

from __future__ import annotations

import html
import json

from xbench.leaderboard import GAP, PUBLISHED, PUBLISHED_MARK, Leaderboard, Stat
from xbench.render.leaderboard_data import to_dict
from xbench.render.leaderboard_text import (
    headers,
    row_cells,
    summary_cells,
    summary_headers,
    summary_title,
    title,
)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table.lb{border-collapse:collapse;margin:.5rem 0}
table.lb th,table.lb td{padding:.25rem .5rem;border-bottom:1px solid #ddd;white-space:nowrap}
table.lb td.num{text-align:right;font-variant-numeric:tabular-nums}
table.lb th button{font:inherit;font-weight:600;background:none;border:0;cursor:pointer;padding:0}
table.lb th[aria-sort=ascending] button::after{content:" \\25B2"}
table.lb th[aria-sort=descending] button::after{content:" \\25BC"}
tr.published td{font-style:italic;color:#444}
tr.published td.model{border-left:4px solid #7a5cc2}
.badge{font-style:normal;font-size:.75em;background:#7a5cc2;color:#fff;border-radius:3px;
padding:0 .3em;margin-left:.4em}
ul.notes{font-size:.85em;color:#444;max-width:70rem}
p.meta{color:#555}
"""

_JS = """
(function () {
  "use strict";
  function key(cell, numeric) {
    var raw = cell.getAttribute("data-value");
    if (!numeric) { return raw === null ? "" : raw; }
    var v = raw === null || raw === "" ? NaN : parseFloat(raw);
    return v;
  }
  function sortTable(table, col, dir) {
    var tbody = table.tBodies[0];
    var heads = table.tHead.rows[0].cells;
    var numeric = heads[col].getAttribute("data-type") === "num";
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
      if (numeric) {
        if (isNaN(x) && isNaN(y)) { return 0; }
        if (isNaN(x)) { return 1; }
        if (isNaN(y)) { return -1; }
        return dir * (x - y);
      }
      return dir * (x < y ? -1 : x > y ? 1 : 0);
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    heads[col].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.lb"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var numeric = th.getAttribute("data-type") === "num";
        var dir = current ? (current === "ascending" ? -1 : 1) : (numeric ? -1 : 1);
        sortTable(table, col, dir);
      });
    });
  });
  window.xbenchSortTable = sortTable;
  if (window.location.hash === "#selftest") {
    var table = document.querySelector("table.lb.task");
    var head = table && table.querySelector("th[data-col='avg'] button");
    if (head) {
      head.click();
      head.click();
      document.body.setAttribute("data-selftest", "sorted");
    } else {
      document.body.setAttribute("data-selftest", "no-table");
    }
  }
})();
"""

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def safe_json(data: object) -> str:
    """JSON that cannot end a <script> element or open a comment, whatever the strings hold."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _colour(value: float | None, low: float, high: float, reverse: bool = False) -> str:
    """Red (worst in the column) to green (best), light enough for black text."""
    if value is None or high <= low:
        return ""
    t = (value - low) / (high - low)
    if reverse:
        t = 1 - t
    return f"background:hsl({120 * t:.0f},65%,85%)"


def _scales(stats: list[list[Stat]]) -> list[tuple[float, float]]:
    """(min, max) of each column's means, for the per-column colour scale."""
    scales = []
    for column in zip(*stats, strict=True) if stats else []:
        means = [s.mean for s in column if s.mean is not None]
        scales.append((min(means), max(means)) if means else (0.0, 0.0))
    return scales


def _table(
    table_id: str,
    css_class: str,
    head: list[str],
    keys: list[str],
    rows: list[tuple[str, str, list[str], list[Stat]]],
    reverse: set[str],
) -> str:
    """head: labels; keys: column keys; rows: (kind, model, texts, stats for numeric columns)."""
    n_text = len(head) - len(keys)
    scales = _scales([stats for *_, stats in rows])
    out = [f'<table class="lb {css_class}" id="{_e(table_id)}"><thead><tr>']
    for i, label in enumerate(head):
        kind = "text" if i == 1 else "num"
        col = keys[i - n_text] if i >= n_text else label
        out.append(
            f'<th scope="col" data-type="{kind}" data-col="{_e(col)}">'
            f'<button type="button">{_e(label)}</button></th>'
        )
    out.append("</tr></thead><tbody>")
    for kind, model, texts, stats in rows:
        out.append(f'<tr class="{_e(kind)}" data-model="{_e(model)}">')
        rank = texts[0]
        rank_value = rank if rank.isdigit() else ""
        out.append(f'<td class="num" data-value="{_e(rank_value)}">{_e(rank)}</td>')
        badge = '<span class="badge">published</span>' if kind == PUBLISHED else ""
        out.append(f'<td class="model" data-value="{_e(texts[1])}">{_e(texts[1])}{badge}</td>')
        for text in texts[2:n_text]:
            value = text if text.isdigit() else ""
            out.append(f'<td class="num" data-value="{_e(value)}">{_e(text)}</td>')
        for key, text, stat, (low, high) in zip(keys, texts[n_text:], stats, scales, strict=True):
            value = "" if stat.mean is None else f"{stat.mean:.6f}"
            style = _colour(stat.mean, low, high, reverse=key in reverse)
            out.append(f'<td class="num" data-value="{value}" style="{style}">{_e(text)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _notes(notes: list[str]) -> str:
    return '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def to_html(lb: Leaderboard, page_title: str = "xbench leaderboard") -> str:
    """The whole page as one string (write it with atomic_write_text)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page_title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(page_title)}</h1>",
        '<p class="meta">Click a column header to sort (again to reverse). Cells are coloured per '
        f"column from worst (red) to best (green). {PUBLISHED_MARK} and the purple bar mark "
        "published rows, copied from papers and not measured here. Each table holds one eval "
        "split, named in its title.</p>",
    ]
    for s in lb.summaries:
        summary_rows = [
            (r.kind, r.model, summary_cells(r, s), [*(r.tasks.get(t, Stat()) for t in s.tasks)])
            for r in s.rows
        ]
        for (*_, stats), row in zip(summary_rows, s.rows, strict=True):
            stats.append(Stat(row.overall))
        parts.append(f'<section id="summary-{_e(s.split)}"><h2>{_e(summary_title(s))}</h2>')
        head, keys = summary_headers(s), [*s.tasks, "overall"]
        parts.append(_table(f"t-summary-{s.split}", "summary", head, keys, summary_rows, set()))
        parts.append(_notes(s.notes) + "</section>")
    for t in lb.tables:
        rows = [
            (r.kind, r.model, row_cells(r, t), [r.cells.get(c, Stat()) for c in t.columns])
            for r in t.rows
        ]
        key = f"{t.task}-{t.split}"
        parts.append(f'<section id="task-{_e(key)}"><h2>{_e(title(t))}</h2>')
        parts.append(_table(f"t-{key}", "task", headers(t), t.columns, rows, {GAP}))
        parts.append(_notes(t.notes) + "</section>")
    if lb.warnings:
        parts.append(_notes([f"Warning: {w}" for w in lb.warnings]))
    parts.append(f'<script type="application/json" id="lb-data">{safe_json(to_dict(lb))}</script>')
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"
