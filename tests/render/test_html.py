"""The static HTML page: self-contained, escaped, sortable; rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest

from xbench.leaderboard import build_leaderboard
from xbench.references import load_references
from xbench.render.html import safe_json, to_html
from xbench.results import load_runs

EVIL = "</script><img src=x onerror=\"document.title='pwned'\"><b>evil</b> & co"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture()
def page(tmp_path: Path) -> Path:
    results = synthetic.write_all(tmp_path / "results")
    synthetic.write_run(results, EVIL, 1, {"en": 100, "de": 120, "fr": 60})
    runs, _ = load_runs([results])
    lb = build_leaderboard(runs, references=load_references())
    path = tmp_path / "board.html"
    path.write_text(to_html(lb), encoding="utf-8")
    return path


class Rows(HTMLParser):
    """Collects (data-model, avg data-value) of each body row of one table, in DOM order,
    and every element tag name seen inside the table body."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.in_body = table_id, False, False
        self.avg_index: int | None = None
        self.head: list[str] = []
        self.rows: list[tuple[str, str]] = []
        self.body_tags: set[str] = set()
        self._cells: list[str] = []
        self._model = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table_id
        if not self.inside:
            return
        if tag == "th":
            self.head.append(a.get("data-col") or "")
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self._model, self._cells = a.get("data-model") or "", []
        elif tag == "td" and self.in_body:
            self._cells.append(a.get("data-value") or "")
        if self.in_body:
            self.body_tags.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "tr" and self.in_body:
            self.rows.append((self._model, self._cells[self.head.index("avg")]))
        elif tag == "table":
            self.inside = self.in_body = False


def rows_of(html_text: str, table_id: str) -> Rows:
    parser = Rows(table_id)
    parser.feed(html_text)
    return parser


def test_page_is_self_contained_and_escaped(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert EVIL not in text and "<b>evil</b>" not in text
    assert "&lt;b&gt;evil&lt;/b&gt; &amp; co" in text
    data = text.split('<script type="application/json" id="lb-data">')[1].split("</script>")[0]
    assert "<" not in data
    payload = json.loads(data)
    assert EVIL in {r["model"] for r in payload["tables"][0]["rows"]}
    parsed = rows_of(text, "t-xnli-test")
    assert parsed.body_tags <= {"tbody", "tr", "td", "span"}  # the name added no element
    assert [m for m, _ in parsed.rows][:4] == [
        "XLM-R Large (Conneau et al., 2020)",
        "XLM-R Base (Conneau et al., 2020)",
        "org/big",
        "org/small",
    ]
    assert text.count('class="published"') == 4  # 2 rows in the summary, 2 in the xnli table
    assert 'class="badge">published</span>' in text


def test_safe_json_cannot_close_a_script() -> None:
    text = safe_json({"m": "</script><!-- & -->"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"m": "</script><!-- & -->"}


def _chromium_or_skip() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium package")
    pytest.skip("chromium not installed (apt-get install -y chromium); CI runs this test")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    base = [
        _chromium_or_skip(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=120, check=False)


def test_chromium_renders_sorts_and_shows_html_as_text(page: Path, tmp_path: Path) -> None:
    url = page.resolve().as_uri()
    done = _chromium(["--dump-dom", f"{url}#selftest"], tmp_path / "profile-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-selftest="sorted"' in dom, "the page's script did not run to the end"
    parsed = rows_of(dom, "t-xnli-test")
    avgs = [float(v) for _, v in parsed.rows]
    assert avgs == sorted(avgs) and len(avgs) == 5  # clicked twice: ascending
    assert parsed.rows[0][0] == EVIL  # worst row (46.7) first
    assert parsed.body_tags <= {"tbody", "tr", "td", "span"}
    assert "<b>evil</b>" not in dom and "&lt;b&gt;evil&lt;/b&gt;" in dom
    assert "<title>xbench leaderboard</title>" in dom  # onerror never ran

    shot = tmp_path / "shot.png"
    done = _chromium(
        ["--window-size=1280,900", f"--screenshot={shot}", url], tmp_path / "profile-shot"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
