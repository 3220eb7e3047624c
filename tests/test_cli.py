"""The `xbench` command: output through typer's CliRunner, exit codes and the one-line error
contract through the installed entry point (main())."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xbench.cli import app
from xbench.errors import DataError, ResultsError, TaskError, XbenchError
from xbench.results import RunResult, write_result

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
XBENCH = Path(sys.executable).parent / "xbench"
CORE_DATA = TESTS / "fixtures" / "core" / "data"
RESULT_FIXTURE = TESTS / "fixtures" / "core" / "result.json"

runner = CliRunner()


def xbench(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XBENCH_DEBUG"}
    return subprocess.run(
        [str(XBENCH), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, the first stderr line is 'error: ...', no other error line, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), proc.stderr
    assert sum(line.startswith("error:") for line in lines) == 1
    assert all(line.startswith(("error:", "  hint:")) for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def tiny_model(offline_models: Path) -> Path:
    return offline_models / "tiny-xlmr"


# --- tasks ------------------------------------------------------------------------------------


def test_xbench_entry_point_is_installed() -> None:
    assert XBENCH.is_file()


def test_tasks_list_shows_both_tasks() -> None:
    result = runner.invoke(app, ["tasks", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    xnli = next(line for line in lines if line.startswith("| xnli "))
    pawsx = next(line for line in lines if line.startswith("| pawsx "))
    assert "sentence-pair-classification" in xnli and "accuracy" in xnli
    assert "facebook/xnli@b8dd5d7a" in xnli
    assert "|       15 |" in xnli
    assert "google-research-datasets/paws-x@4cd8187c" in pawsx
    assert "|        7 |" in pawsx


def test_tasks_show_prints_path_and_json() -> None:
    result = runner.invoke(app, ["tasks", "show", "pawsx"])
    assert result.exit_code == 0, result.output
    first, rest = result.stdout.split("\n", 1)
    assert first == f"# {REPO / 'tasks' / 'pawsx.yaml'}"
    spec = json.loads(rest)
    assert spec["name"] == "pawsx"
    assert spec["labels"] == ["not_paraphrase", "paraphrase"]


def test_tasks_list_with_extra_dir(tmp_path: Path) -> None:
    text = (REPO / "tasks" / "xnli.yaml").read_text().replace("name: xnli", "name: xnli-mini")
    (tmp_path / "mini.yaml").write_text(text)
    result = runner.invoke(app, ["tasks", "list", "--tasks-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| xnli-mini " in result.stdout


def test_tasks_list_duplicate_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "copy.yaml").write_text((REPO / "tasks" / "xnli.yaml").read_text())
    proc = xbench("tasks", "list", "--tasks-dir", tmp_path)
    assert_one_line_error(proc, "duplicate task name 'xnli'", str(tmp_path / "copy.yaml"))


# --- errors through main(): exit 2, one line -------------------------------------------------


def test_unknown_task_exit_2_with_suggestion() -> None:
    proc = xbench("run", "--model", "some/model", "--tasks", "xnlii")
    line = assert_one_line_error(proc, "Did you mean 'xnli'?")
    assert "unknown task 'xnlii'" in line
    assert proc.stdout == ""


def test_debug_shows_traceback() -> None:
    proc = xbench("--debug", "run", "--model", "some/model", "--tasks", "xnlii")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "TaskError" in proc.stderr
    assert "unknown task 'xnlii'" in proc.stderr


def test_unknown_task_in_process_raises_task_error() -> None:
    result = runner.invoke(app, ["run", "--model", "m", "--tasks", "xnli,pawz"])
    assert isinstance(result.exception, TaskError)
    assert "Did you mean 'pawsx'?" in result.exception.message


def test_unknown_language_exit_2() -> None:
    proc = xbench("run", "--model", "some/model", "--tasks", "xnli", "--languages", "en,dee")
    assert_one_line_error(proc, "unknown language 'dee'", "Did you mean 'de'?")


def test_missing_model_path_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    proc = xbench(
        "run",
        "--model",
        missing,
        "--tasks",
        "xnli",
        "--languages",
        "de",
        "--data-dir",
        CORE_DATA,
        "--results-dir",
        tmp_path / "results",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert_one_line_error(proc, f"model path {missing} does not exist")
    assert not (tmp_path / "results").exists()


def test_model_folder_without_config_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-checkpoint"
    folder.mkdir()
    proc = xbench("run", "--model", folder, "--tasks", "xnli", "--languages", "de")
    assert_one_line_error(proc, "no config.json")


def test_missing_data_file_fails_before_training(tmp_path: Path, tiny_model: Path) -> None:
    results, cache = tmp_path / "results", tmp_path / "cache"
    args = [
        "run",
        "--model",
        tiny_model,
        "--tasks",
        "xnli",
        "--languages",
        "de,es",  # the fixture data has no test-es.tsv
        "--data-dir",
        CORE_DATA,
        "--results-dir",
        results,
        "--cache-dir",
        cache,
        "--train-limit",
        "16",
        "--eval-limit",
        "4",
        "--set",
        "epochs=1",
    ]
    proc = xbench(*args)
    assert_one_line_error(proc, str(CORE_DATA / "xnli" / "test-es.tsv"), "language es")
    assert not results.exists()
    assert not cache.exists()
    assert "fine-tuning" not in proc.stdout


def test_missing_dev_file_fails_before_training(tmp_path: Path, tiny_model: Path) -> None:
    data = tmp_path / "data" / "xnli"
    data.mkdir(parents=True)
    for name in ("train-en.tsv", "test-de.tsv"):
        (data / name).write_bytes((CORE_DATA / "xnli" / name).read_bytes())
    result = runner.invoke(
        app,
        [
            "run",
            "--model",
            str(tiny_model),
            "--tasks",
            "xnli",
            "--languages",
            "de",
            "--data-dir",
            str(tmp_path / "data"),
            "--results-dir",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert isinstance(result.exception, DataError)
    assert str(data / "dev-en.tsv") in result.exception.message
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "cache").exists()


def test_unknown_set_key_exit_2() -> None:
    proc = xbench("run", "--model", "m/x", "--tasks", "xnli", "--set", "lerning_rate=1e-5")
    assert_one_line_error(proc, "unknown hyperparameter 'lerning_rate'", "'learning_rate'")


def test_set_without_equals_exit_2() -> None:
    proc = xbench("run", "--model", "m/x", "--tasks", "xnli", "--set", "epochs")
    assert_one_line_error(proc, "--set expects key=value")


def test_set_values_are_parsed_as_yaml() -> None:
    from xbench.commands.run import _parse_sets

    assert _parse_sets(["epochs=1", "learning_rate=3.0e-5", "selection=final"]) == {
        "epochs": 1,
        "learning_rate": 3e-5,
        "selection": "final",
    }


def test_invalid_seed_exit_2() -> None:
    """A seed that is not an integer is a user error: one 'error:' line, exit 2."""
    proc = xbench("run", "--model", "m/x", "--tasks", "xnli", "--seeds", "1,two")
    assert_one_line_error(proc, "two")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--train-limit", "0"),
        ("--train-limit", "-5"),
        ("--eval-limit", "0"),
        ("--eval-limit", "-5"),
    ],
)
def test_non_positive_limit_is_refused_up_front(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str
) -> None:
    """A limit of 0 would train or score nothing and a negative one silently drops the last
    examples (list[:-5]); run configs already require limits > 0, the command line must too:
    a usage error or an XbenchError before any training or scoring."""
    import xbench.runner
    import xbench.training

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"work started with {option} {value}")

    monkeypatch.setattr(xbench.training, "fine_tune", no_work)
    monkeypatch.setattr(xbench.runner, "evaluate_language", no_work)
    result = runner.invoke(
        app,
        [
            "run",
            "--model",
            str(tiny_model),
            "--tasks",
            "xnli",
            "--languages",
            "de",
            "--data-dir",
            str(CORE_DATA),
            "--results-dir",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
            option,
            value,
        ],
    )
    exc = result.exception
    if isinstance(exc, SystemExit):  # typer/click usage error
        assert result.exit_code == 2
    else:
        assert isinstance(exc, XbenchError), repr(exc)
        assert "limit" in exc.message
    assert not list(tmp_path.rglob("seed*.json"))


def test_unknown_eval_split_exit_2(tiny_model: Path) -> None:
    proc = xbench(
        "run", "--model", tiny_model, "--tasks", "xnli", "--languages", "de", "--eval-split", "val"
    )
    assert_one_line_error(proc, "unknown eval split 'val'")


def test_no_model_given() -> None:
    result = runner.invoke(app, ["run", "--tasks", "xnli"])
    assert isinstance(result.exception, TaskError)
    assert "no model given" in result.exception.message


# --- run config files -------------------------------------------------------------------------


def test_run_config_unknown_key_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "suite.yaml"
    config.write_text("model: some/model\nseedz: [1, 2]\ntasks:\n  xnli:\n")
    proc = xbench("run", "--config", config)
    assert_one_line_error(proc, f"invalid run config {config}", "seedz")


def test_run_config_unknown_per_task_key_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "suite.yaml"
    config.write_text("model: some/model\ntasks:\n  xnli:\n    languges: [de]\n")
    proc = xbench("run", "--config", config)
    assert_one_line_error(proc, str(config), "tasks.xnli.languges")


def test_run_config_values_are_validated(tmp_path: Path) -> None:
    from xbench.runconfig import load_run_config

    config = tmp_path / "suite.yaml"
    config.write_text("model: m\ntasks:\n  xnli:\n    train_limit: 0\n")
    with pytest.raises(TaskError, match="train_limit"):
        load_run_config(config)
    config.write_text("model: m\ntasks:\n  xnli:\n  pawsx: {languages: [de], set: {epochs: 1}}\n")
    cfg = load_run_config(config)
    assert set(cfg.tasks) == {"xnli", "pawsx"}
    assert cfg.tasks["xnli"] is not None and cfg.tasks["xnli"].languages is None
    assert cfg.tasks["pawsx"].set == {"epochs": 1}
    assert cfg.seeds == [1]


def test_run_config_task_names_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "suite.yaml"
    config.write_text("model: some/model\ntasks:\n  xnly:\n")
    proc = xbench("run", "--config", config)
    assert_one_line_error(proc, "unknown task 'xnly'", "Did you mean 'xnli'?")


# --- table ------------------------------------------------------------------------------------


def _results_folder(root: Path) -> tuple[Path, Path]:
    result = RunResult.model_validate_json(RESULT_FIXTURE.read_text())
    folder = root / "org--tiny-model" / "xnli"
    write_result(folder / "seed1.json", result)
    bad = folder / "seed2.json"
    bad.write_text('{"schema_version": 1, "task": ')
    return folder, bad


def test_table_warns_about_corrupt_file_and_still_prints(tmp_path: Path) -> None:
    _, bad = _results_folder(tmp_path)
    before = bad.read_bytes()
    result = runner.invoke(app, ["table", str(tmp_path)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert str(bad) in warnings[0]
    assert "### xnli" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("| org/tiny-model"))
    assert "80" in row and "90" in row
    assert bad.read_bytes() == before


def test_table_exit_code_through_main(tmp_path: Path) -> None:
    _, bad = _results_folder(tmp_path)
    proc = xbench("table", tmp_path, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: skipped corrupt result file {bad}" in proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows[0]["model"] == "org/tiny-model"
    assert rows[0]["de"] == "80.0"
    assert rows[0]["avg"] == "85.0"


def test_table_csv_to_file(tmp_path: Path) -> None:
    _results_folder(tmp_path / "results")
    out = tmp_path / "table.csv"
    result = runner.invoke(
        app, ["table", str(tmp_path / "results"), "--format", "csv", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["en"] for r in rows] == ["90.0"]


def test_table_unknown_format() -> None:
    result = runner.invoke(app, ["table", ".", "--format", "xml"])
    assert isinstance(result.exception, TaskError)
    assert "unknown format 'xml'" in result.exception.message


def test_table_only_corrupt_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m" / "t").mkdir(parents=True)
    (tmp_path / "m" / "t" / "seed1.json").write_text("{")
    proc = xbench("table", tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("warning: skipped corrupt result file")
    assert [line for line in lines if line.startswith("error:")] == [
        f"error: no result files found in {tmp_path}"
    ]
    assert "Traceback" not in proc.stderr


def test_table_missing_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["table", str(tmp_path / "nope")])
    assert isinstance(result.exception, ResultsError)
    assert isinstance(result.exception, XbenchError)
