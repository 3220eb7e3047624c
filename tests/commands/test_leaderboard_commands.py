"""`xbench leaderboard` and `xbench compare` through the real app (CliRunner) and through the
installed entry point's main() (subprocess), on the synthetic fixture results."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from fixtures.leaderboard import synthetic  # tests/fixtures, on sys.path via pytest
from typer.testing import CliRunner

from xbench import cli
from xbench.errors import XbenchError

# org/big, seeds 1 and 2: en 90/85, de 75/80, fr 70/70 -> per-seed avg 78.33 both, gap 17.5/10
BIG_ROW = (
    "| 1   | org/big   | 2       | 87.5 ± 3.5 | 77.5 ± 3.5 | 70.0 ± 0.0 | 78.3 ± 0.0 "
    "| 73.8 ± 1.8 | 13.8 ± 5.3 |"
)


@pytest.fixture()
def results_dir(tmp_path: Path) -> Path:
    return synthetic.write_all(tmp_path / "results")


def app() -> typer.Typer:
    return cli.app


def xbench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: `python -m xbench.cli`, so main()'s error contract holds."""
    env = {k: v for k, v in os.environ.items() if k != "XBENCH_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "xbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


# --- leaderboard ---------------------------------------------------------------------------------


def test_cli_leaderboard(results_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "site" / "board.json"
    result = runner.invoke(
        app(), ["leaderboard", str(results_dir), "--format", "json", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [r["model"] for r in data["tables"][0]["rows"]][-2:] == ["org/big", "org/small"]
    result = runner.invoke(app(), ["leaderboard", str(results_dir), "--no-references"])
    assert result.exit_code == 0 and "Conneau" not in result.stdout
    assert "| 1   | org/big" in result.stdout
    result = runner.invoke(app(), ["leaderboard", str(results_dir), "--format", "yaml"])
    assert isinstance(result.exception, XbenchError) and "unknown format" in str(result.exception)
    result = runner.invoke(app(), ["leaderboard", str(tmp_path / "missing")])
    assert isinstance(result.exception, XbenchError)


def test_cli_skips_corrupt_files_with_a_warning(results_dir: Path) -> None:
    bad = results_dir / "org--bad" / "xnli" / "seed1.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    result = CliRunner().invoke(app(), ["leaderboard", str(results_dir)])
    assert result.exit_code == 0
    assert "warning: skipped corrupt result file" in result.stderr
    assert bad.exists()


def test_cli_plots_option(tmp_path: Path) -> None:
    results = synthetic.write_all(tmp_path / "results")
    out = tmp_path / "plots"
    result = CliRunner().invoke(app(), ["leaderboard", str(results), "--plots", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["xnli-test-bars.png", "xnli-test-heatmap.png"]
    assert f"wrote {out / 'xnli-test-bars.png'}" in result.stderr


def test_leaderboard_markdown_through_main(results_dir: Path) -> None:
    proc = xbench("leaderboard", results_dir, "--no-references")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "## Summary (test split)"
    assert BIG_ROW in lines
    assert "| 2   | org/small | 2       | 77.5 ± 3.5 | 52.5 ± 3.5 | 42.5 ± 3.5 |" in proc.stdout
    assert "### xnli (test split, accuracy x100)" in lines
    assert proc.stderr == ""


def test_leaderboard_html_to_a_shared_file(results_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "site" / "index.html"
    result = CliRunner().invoke(
        app(), ["leaderboard", str(results_dir), "--format", "html", "--output", str(page)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"wrote {page}" in result.stderr
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")
    assert 'data-model="org/big"' in text and 'id="t-xnli-test"' in text
    assert page.stat().st_mode & stat.S_IRGRP  # shareable, not mkstemp's 0600
    assert not list(page.parent.glob(".*.tmp"))


def test_leaderboard_ci_is_reproducible_and_seeded(results_dir: Path) -> None:
    args = ["leaderboard", str(results_dir), "--ci", "--samples", "200", "--format", "json"]
    first = CliRunner().invoke(app(), [*args, "--seed", "1"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    measured = [r for r in data["tables"][0]["rows"] if r["kind"] == "measured"]
    assert len(measured) == 2
    for row in measured:
        for column, cell in row["cells"].items():
            low, high = cell["ci"]
            assert low <= cell["mean"] <= high, (row["model"], column, cell)
    assert CliRunner().invoke(app(), [*args, "--seed", "1"]).stdout == first.stdout
    assert CliRunner().invoke(app(), [*args, "--seed", "2"]).stdout != first.stdout
    too_few = CliRunner().invoke(app(), [*args[:3], "--samples", "50"])
    assert isinstance(too_few.exception, XbenchError)
    assert "too few for a CI" in str(too_few.exception)


def test_leaderboard_languages_without_the_training_language(results_dir: Path) -> None:
    result = CliRunner().invoke(
        app(), ["leaderboard", str(results_dir), "--languages", "fr,de", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    big = {r["column"]: r for r in rows if r["table"] == "xnli" and r["model"] == "org/big"}
    assert list(big) == ["de", "fr", "avg", "avg-en", "gap"]
    assert float(big["avg"]["mean"]) == pytest.approx(73.75)  # (77.5 + 70) / 2
    assert big["avg-en"]["mean"] == "" and big["gap"]["mean"] == ""
    assert big["avg"]["averaged_over"] == "de fr"
    notes = CliRunner().invoke(app(), ["leaderboard", str(results_dir), "--languages", "fr,de"])
    assert "English is not among the shared languages: avg-en and gap are undefined." in (
        notes.stdout
    )


def test_leaderboard_unknown_task_is_one_line_with_a_suggestion(results_dir: Path) -> None:
    line = one_error_line(xbench("leaderboard", results_dir, "--task", "xnlj"))
    assert line == "error: no results for task 'xnlj'. Did you mean 'xnli'?"


# --- compare -------------------------------------------------------------------------------------


JSON_PERMUTATION = ["--format", "json", "--test", "permutation", "--samples", "500"]


def test_cli_compare(results_dir: Path) -> None:
    runner = CliRunner()
    args = ["compare", "org/big", "org/small", "--results", str(results_dir), "--samples", "1000"]
    result = runner.invoke(app(), args)
    assert result.exit_code == 0, result.output
    assert "| de " in result.stdout and "+25.0" in result.stdout
    assert "*" in result.stdout.split("| de ")[1].split("\n")[0]

    folder = str(results_dir / "org--big")
    result = runner.invoke(
        app(),
        ["compare", folder, "org/big", "--results", str(results_dir), *JSON_PERMUTATION],
    )
    assert result.exit_code == 0, result.output
    (payload,) = json.loads(result.stdout)
    assert all(row["sig"] == "" for row in payload["rows"])

    result = runner.invoke(app(), ["compare", str(results_dir), "org/big"])
    assert isinstance(result.exception, XbenchError)
    assert "several models" in str(result.exception)
    result = runner.invoke(
        app(), ["compare", "org/bigg", "org/small", "--results", str(results_dir)]
    )
    assert "Did you mean 'org/big'" in str(result.exception)
    result = runner.invoke(
        app(), ["compare", "org/big", "org/small", "--results", str(results_dir), "--task", "mlqa"]
    )
    assert "not evaluated for both" in str(result.exception)


def test_compare_csv_to_a_file(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp.csv"
    result = CliRunner().invoke(
        app(),
        [
            *("compare", "org/big", "org--small", "--results", str(results_dir)),
            *("--samples", "1000", "--format", "csv", "--output", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr and result.stdout == ""
    rows = {r["language"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert list(rows) == ["en", "de", "fr", "avg"]  # the training language first
    de = rows["de"]
    assert (de["task"], de["model_a"], de["model_b"]) == ("xnli", "org/big", "org/small")
    assert (de["n"], de["A"], de["B"], de["Δ (A−B)"]) == ("200", "77.5", "52.5", "+25.0")
    assert de["p"] == "0.0010" and de["sig"] == "*"  # 1 / (1 + 1000): no resample crosses 0
    assert rows["avg"]["n"] == "600" and rows["avg"]["p (Holm)"] == ""


def test_compare_languages_option(results_dir: Path) -> None:
    result = CliRunner().invoke(
        app(),
        [
            *("compare", "org/big", "org/small", "--results", str(results_dir)),
            *("--languages", "fr", "--samples", "500", "--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.output
    (payload,) = json.loads(result.stdout)
    assert [r["language"] for r in payload["rows"]] == ["fr", "avg"]
    assert payload["rows"][0]["Δ (A−B)"] == "+27.5"  # 70.0 - 42.5


def test_compare_the_same_run_twice_is_an_error(results_dir: Path) -> None:
    proc = xbench(
        *("compare", "org/big", "org/small", "--results", results_dir, "--results", results_dir)
    )
    assert "two results for org/big / xnli / seed 1" in one_error_line(proc)


def test_compare_unknown_test_and_format_through_main(results_dir: Path) -> None:
    base = ["compare", "org/big", "org/small", "--results", results_dir]
    line = one_error_line(xbench(*base, "--test", "t"))
    assert line == "error: unknown test 't'"
    proc = xbench(*base, "--format", "latex")
    assert one_error_line(proc) == "error: unknown format 'latex'"
    assert "hint: use one of markdown, csv, json" in proc.stderr


# --- eval splits and readable names through the commands -----------------------------------------


def test_compare_refuses_dev_against_test_through_main(results_dir: Path, tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    synthetic.write_run(dev, "org/tuned", 1, {"en": 190, "de": 170, "fr": 160}, eval_split="dev")
    proc = xbench("compare", "org/big", "org/tuned", "--results", results_dir, "--results", dev)
    assert one_error_line(proc) == (
        "error: xnli: A (org/big) was evaluated on the test split, B (org/tuned) on the dev "
        "split; dev and test scores are not comparable"
    )
    assert "hint: compare results of one eval split" in proc.stderr
    assert "`xbench run --eval-split` (test or dev)" in proc.stderr


def test_compare_names_the_split_in_every_format(results_dir: Path, tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    synthetic.write_run(dev, "org/small", 1, {"en": 100, "de": 100, "fr": 100}, eval_split="dev")
    base = ["compare", "org/big", "org/small", "--results", str(results_dir), "--results", str(dev)]
    base += ["--samples", "200"]
    md = CliRunner().invoke(app(), base)
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("### xnli (test split): org/big (A) vs org/small (B)")
    assert "B also has dev-split results of xnli; the other model has none" in md.stdout
    rows = list(
        csv.DictReader(io.StringIO(CliRunner().invoke(app(), [*base, "--format", "csv"]).stdout))
    )
    assert {r["split"] for r in rows} == {"test"}
    (payload,) = json.loads(CliRunner().invoke(app(), [*base, "--format", "json"]).stdout)
    assert payload["split"] == "test"
    only_dev = CliRunner().invoke(
        app(), ["compare", "org/small", "org/small", "--results", str(dev)]
    )
    assert only_dev.exit_code == 0 and "### xnli (dev split)" in only_dev.stdout


def test_compare_and_filters_take_the_readable_name(results_dir: Path) -> None:
    a, b = "/ckpts/run-a/checkpoint-500", "/ckpts/run-b/checkpoint-500"
    synthetic.write_run(results_dir, a, 1, {"en": 190, "de": 190, "fr": 190})
    synthetic.write_run(results_dir, b, 1, {"en": 10, "de": 10, "fr": 10})
    base = ["--results", str(results_dir), "--samples", "200"]
    ambiguous = CliRunner().invoke(app(), ["compare", "checkpoint-500", "org/big", *base])
    assert isinstance(ambiguous.exception, XbenchError)
    assert f"'checkpoint-500' is the name of 2 models: {a}, {b}" in str(ambiguous.exception)
    assert "run-a/checkpoint-500, run-b/checkpoint-500" in (ambiguous.exception.hint or "")
    for spec in ("run-a/checkpoint-500", a):  # the leaderboard's label, or the full id
        result = CliRunner().invoke(app(), ["compare", spec, "org/big", *base, "--format", "json"])
        assert result.exit_code == 0, result.output
        (payload,) = json.loads(result.stdout)
        assert (payload["model_a"], payload["model_a_id"]) == ("checkpoint-500", a)
    board = CliRunner().invoke(
        app(), ["leaderboard", str(results_dir), "--model", "checkpoint-500", "--format", "json"]
    )
    assert board.exit_code == 0, board.output
    rows = json.loads(board.stdout)["tables"][0]["rows"]
    measured = {(r["model"], r["model_id"]) for r in rows if r["kind"] == "measured"}
    assert measured == {("run-a/checkpoint-500", a), ("run-b/checkpoint-500", b)}
    assert "warning: 2 different models share the name 'checkpoint-500'" in board.stderr


def test_leaderboard_of_dev_results_through_the_cli(tmp_path: Path) -> None:
    dev = synthetic.write_all(tmp_path / "dev", eval_split="dev")
    plain = CliRunner().invoke(app(), ["leaderboard", str(dev)])
    assert plain.exit_code == 0, plain.output
    assert "### xnli (dev split, accuracy x100)" in plain.stdout and "| †" not in plain.stdout
    assert "`--references-on-dev` lists them below the measured rows, marked [test]" in plain.stdout
    shown = CliRunner().invoke(app(), ["leaderboard", str(dev), "--references-on-dev"])
    assert shown.exit_code == 0, shown.output
    assert "| †   | XLM-R Base (Conneau et al., 2020) † [test]  |" in shown.stdout


def test_table_says_dev_and_shows_readable_names(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for model in ("/ckpts/run-a/checkpoint-500", "/ckpts/run-b/checkpoint-500"):
        synthetic.write_run(results, model, 1, {"en": 150, "de": 100}, eval_split="dev")
    md = CliRunner().invoke(app(), ["table", str(results)])
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("### xnli (dev split; accuracy x100;")
    assert "| run-a/checkpoint-500 |" in md.stdout and "/ckpts/" not in md.stdout.split("- W")[0]
    assert "warning: 2 different models share the name 'checkpoint-500'" in md.stderr
    rows = list(
        csv.DictReader(
            io.StringIO(
                CliRunner().invoke(app(), ["table", str(results), "--format", "csv"]).stdout
            )
        )
    )
    assert [(r["model"], r["model_id"], r["split"]) for r in rows] == [
        ("run-a/checkpoint-500", "/ckpts/run-a/checkpoint-500", "dev"),
        ("run-b/checkpoint-500", "/ckpts/run-b/checkpoint-500", "dev"),
    ]
