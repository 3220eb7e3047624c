"""The assembled app: every command registered under its name, the shared options, and a fast
start (no heavy library imported just to show --help)."""

from __future__ import annotations

import json
import subprocess
import sys

import typer

from xbench.cli import app
from xbench.commands.options import csv_list, format_option
from xbench.render import COMPARE_FORMATS, LEADERBOARD_FORMATS, TABLE_FORMATS

HEAVY = ("torch", "transformers", "pandas", "numpy", "matplotlib", "pydantic", "yaml", "scipy")


def test_every_command_is_registered() -> None:
    group = typer.main.get_group(app)
    assert sorted(group.commands) == ["compare", "leaderboard", "run", "table", "tasks"]
    assert sorted(group.commands["tasks"].commands) == ["list", "show"]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, json, xbench.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(proc.stdout) == []


def test_format_option_help() -> None:
    assert format_option(TABLE_FORMATS).help == "markdown or csv."
    assert format_option(COMPARE_FORMATS).help == "markdown, csv or json."
    assert format_option(LEADERBOARD_FORMATS).help == "markdown, latex, csv, json or html."


def test_csv_list() -> None:
    assert csv_list(" en, de,,fr ") == ["en", "de", "fr"]
    assert csv_list("") is None and csv_list(None) is None and csv_list(" , ") is None
