"""Run config files (xbench.runconfig): what a valid one gives, and the one-line TaskError each
kind of mistake gives (naming the file, the key and what is wrong)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xbench.errors import TaskError
from xbench.runconfig import RunConfig, TaskRun, load_run_config

ALLOWED = (
    "allowed keys: model, seeds, data_dir, results_dir, tasks_dirs, tasks; "
    "per task: languages, train_limit, eval_limit, eval_split, set"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> TaskError:
    with pytest.raises(TaskError) as caught:
        load_run_config(path)
    return caught.value


def test_a_valid_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
# xbench run --config suite.yaml
model: xlm-roberta-base
seeds: [1, 2, 3]
data_dir: data/xtreme
results_dir: results/suite
tasks_dirs: [tasks/extra]
tasks:
  xnli:
    languages: [de, fr]
    train_limit: 1000
    eval_limit: 200
    eval_split: dev
    set: {epochs: 1, learning_rate: 2.0e-5}
  pawsx: {}
""",
    )
    cfg = load_run_config(path)
    assert cfg.model == "xlm-roberta-base"
    assert cfg.seeds == [1, 2, 3]
    assert cfg.data_dir == Path("data/xtreme")
    assert cfg.results_dir == Path("results/suite")
    assert cfg.tasks_dirs == [Path("tasks/extra")]
    assert list(cfg.tasks) == ["xnli", "pawsx"]  # in the file's order
    assert cfg.tasks["xnli"] == TaskRun(
        languages=["de", "fr"],
        train_limit=1000,
        eval_limit=200,
        eval_split="dev",
        set={"epochs": 1, "learning_rate": 2.0e-5},
    )
    assert cfg.tasks["pawsx"] == TaskRun()


def test_the_defaults(tmp_path: Path) -> None:
    cfg = load_run_config(write(tmp_path, "tasks:\n  xnli: {}\n"))
    assert cfg == RunConfig(tasks={"xnli": TaskRun()})
    assert cfg.model is None and cfg.seeds == [1] and cfg.tasks_dirs == []
    assert cfg.data_dir is None and cfg.results_dir is None
    run = cfg.tasks["xnli"]
    assert run.languages is None and run.train_limit is None and run.eval_limit is None
    assert run.eval_split == "test" and run.set == {}


def test_a_task_listed_with_no_settings_gets_the_defaults(tmp_path: Path) -> None:
    cfg = load_run_config(write(tmp_path, "model: m\ntasks:\n  xnli:\n  mlqa: ~\n  pawsx: {}\n"))
    assert cfg.tasks == {"xnli": TaskRun(), "mlqa": TaskRun(), "pawsx": TaskRun()}
    assert all(isinstance(run, TaskRun) for run in cfg.tasks.values())


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("model: m\nseed: 3\ntasks:\n  xnli:\n", "seed"),
        ("model: m\ntasks:\n  xnli:\n    languges: [de]\n", "tasks.xnli.languges"),
        ("model: m\ntasks:\n  xnli:\n    set: {}\n    epochs: 2\n", "tasks.xnli.epochs"),
    ],
)
def test_an_unknown_key_is_named(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.message == f"invalid run config {path}: {where}: Extra inputs are not permitted"
    assert err.hint == ALLOWED


@pytest.mark.parametrize(
    ("limits", "where", "why"),
    [
        ("train_limit: 0", "tasks.xnli.train_limit", "Input should be greater than 0"),
        ("eval_limit: -5", "tasks.xnli.eval_limit", "Input should be greater than 0"),
        (
            "eval_limit: many",
            "tasks.xnli.eval_limit",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "train_limit: 2.5",
            "tasks.xnli.train_limit",
            "Input should be a valid integer, got a number with a fractional part",
        ),
    ],
)
def test_bad_limits(tmp_path: Path, limits: str, where: str, why: str) -> None:
    path = write(tmp_path, f"model: m\ntasks:\n  xnli:\n    {limits}\n")
    err = error_of(path)
    assert err.message == f"invalid run config {path}: {where}: {why}"
    assert err.hint == ALLOWED


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("model: m\ntasks: {}\n", "Dictionary should have at least 1 item after validation, not 0"),
        ("model: m\ntasks:\n", "Input should be a valid dictionary"),
        ("model: m\ntasks: [xnli, pawsx]\n", "Input should be a valid dictionary"),
        ("model: m\n", "Field required"),
    ],
)
def test_no_tasks(tmp_path: Path, text: str, why: str) -> None:
    path = write(tmp_path, text)
    assert error_of(path).message == f"invalid run config {path}: tasks: {why}"


def test_bad_seeds(tmp_path: Path) -> None:
    path = write(tmp_path, "seeds: [1, two]\ntasks:\n  xnli:\n")
    assert error_of(path).message == (
        f"invalid run config {path}: seeds.1: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


@pytest.mark.parametrize(("text", "kind"), [("- xnli\n- pawsx\n", "list"), ("xnli\n", "str")])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    assert error_of(path).message == f"run config {path} must be a YAML mapping, got {kind}"


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "tasks: [xnli\n")
    assert error_of(path).message.startswith(f"run config {path} is not valid YAML: ")


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert error_of(path).message == f"cannot read run config {path}: No such file or directory"
