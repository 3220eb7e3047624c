"""Runs killed with SIGKILL pick up where they stopped, and end exactly where an uninterrupted run
ends (issue 6, point 1; point 2 for kills while a result is being written).

`python -m xbench.cli run` is started as a subprocess on tiny-xlmr and the fixture XNLI data and
killed at one point each: right after tokenising, during fine-tuning once a Trainer checkpoint
exists (in the first and in the second epoch), between two languages, and while the result file
is being written. The reference run and the reruns go through the same CLI in this process (torch
is imported once). A rerun must give the reference's per-language scores, prediction and
per-example score files, training log from the resume point on, selection and weights, exactly
(same seed on CPU), and must not redo finished work.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xbench.cli import app
from xbench.results import RunResult, read_result, result_path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CORE_DATA = TESTS / "fixtures" / "core" / "data"
RESULT_FIXTURE = TESTS / "fixtures" / "core" / "result.json"
LANGUAGES = ["en", "de", "fr"]
# 16 examples, batch 8, 2 epochs: 4 optimizer steps, 2 per epoch; a Trainer checkpoint after
# every step; a dev check at the end of each epoch (best-dev selection, XTREME's protocol)
SETTINGS = [
    *("--train-limit", "16", "--eval-limit", "8", "--set", "epochs=2"),
    *("--set", "batch_size=8", "--checkpoint-steps", "1", "--seeds", "1"),
]
LOSS_LINE = re.compile(r"\{'loss': .*'epoch': '([0-9.]+)'\}")
KILL_TIMEOUT = 180


# --- running --------------------------------------------------------------------------------------


@dataclass
class Run:
    """One results folder + model cache, and the command that fills them."""

    root: Path
    model: Path

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def out(self) -> Path:
        return result_path(self.results, str(self.model), "xnli", 1)

    @property
    def partial(self) -> Path:
        return self.out.with_name("seed1.partial")

    def args(self) -> list[str]:
        return [
            *("run", "--model", str(self.model), "--tasks", "xnli"),
            *("--languages", ",".join(LANGUAGES), "--data-dir", str(CORE_DATA)),
            *("--results-dir", str(self.results), "--cache-dir", str(self.cache)),
            *SETTINGS,
        ]

    def complete(self) -> str:
        """Run (or rerun) to completion in this process; return what it printed."""
        result = CliRunner().invoke(app, self.args())
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    def kill_when(self, ready: Callable[[str], bool], python: list[str] | None = None) -> str:
        """Start the run as a subprocess and SIGKILL it as soon as `ready(stdout so far)`;
        return that stdout. Fails if the run ends before the kill point."""
        env = {k: v for k, v in os.environ.items() if k != "XBENCH_DEBUG"}
        env["PYTHONUNBUFFERED"] = "1"
        command = [*(python or [sys.executable, "-m", "xbench.cli"]), *self.args()]
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "killed.stderr").open("w") as stderr:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=REPO
            )
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
            reader.start()
            deadline = time.monotonic() + KILL_TIMEOUT
            try:
                while proc.poll() is None and time.monotonic() < deadline:
                    if ready("".join(lines)):
                        proc.send_signal(signal.SIGKILL)
                        break
                    time.sleep(0.005)
            finally:
                if proc.poll() is None and time.monotonic() >= deadline:
                    proc.kill()
                code = proc.wait()
                reader.join(timeout=10)
        out = "".join(lines)
        assert code == -signal.SIGKILL, (
            f"the run ended with {code} before the kill point:\n{out}\n"
            + (self.root / "killed.stderr").read_text()[-3000:]
        )
        return out

    def model_dir(self, result: RunResult) -> Path:
        (found,) = (self.cache / "models").glob(f"*--xnli--{result.run_key}")
        return found

    def checkpoint_written(self, step: int) -> bool:
        pattern = f"models/*.work/trainer/checkpoint-{step}/trainer_state.json"
        return any(self.cache.glob(pattern))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def loss_lines(stdout: str) -> dict[str, str]:
    """Trainer's per-step log lines (loss, grad norm, learning rate) by epoch."""
    return {m.group(1): m.group(0) for m in LOSS_LINE.finditer(stdout)}


@dataclass
class Reference:
    run: Run
    stdout: str
    result: RunResult


def assert_same_as_reference(run: Run, ref: Reference) -> RunResult:
    """Everything but timings and the training-loss mean equals the reference, exactly."""
    result = read_result(run.out)
    expected = ref.result
    assert result.run_key == expected.run_key
    assert list(result.languages) == list(expected.languages) == sorted(LANGUAGES)
    for lang, got in result.languages.items():
        want = expected.languages[lang]
        assert got.scores == want.scores, lang  # exactly, not approximately
        assert got.model_dump(exclude={"predict_seconds"}) == want.model_dump(
            exclude={"predict_seconds"}
        )
        for name in (got.predictions_file, got.example_scores_file):
            assert name is not None
            assert (run.out.parent / name).read_bytes() == (ref.run.out.parent / name).read_bytes()
    assert result.train_source == expected.train_source
    assert result.dev_source == expected.dev_source
    assert result.hyperparameters == expected.hyperparameters
    volatile = {"train_seconds", "train_loss"}  # train_loss: see test_train_loss_survives_resume
    assert {k: v for k, v in result.training.items() if k not in volatile} == {
        k: v for k, v in expected.training.items() if k not in volatile
    }
    assert sha(run.model_dir(result) / "model.safetensors") == sha(
        ref.run.model_dir(expected) / "model.safetensors"
    )
    assert not run.partial.exists()
    assert not list(run.cache.glob("models/*.work"))  # the Trainer checkpoints are cleaned up
    return result


# --- fixtures: one reference, one folder per kill point -------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(offline_models: Path) -> Path:
    return offline_models / "tiny-xlmr"


@pytest.fixture(scope="module")
def ref(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    run = Run(tmp_path_factory.mktemp("reference"), tiny_model)
    stdout = run.complete()
    result = read_result(run.out)
    assert result.training["steps"] == 4
    assert len(result.training["selection"]["dev_history"]) == 2
    assert len(loss_lines(stdout)) == 4  # one line per step: the resume checks compare them
    return Reference(run, stdout, result)


@dataclass
class Killed:
    run: Run
    killed_stdout: str
    rerun_stdout: str


def _kill_during_fine_tuning(step: int, tiny_model: Path, root: Path) -> Killed:
    run = Run(root, tiny_model)
    out = run.kill_when(lambda _: run.checkpoint_written(step))
    assert run.checkpoint_written(step)  # killed with a complete checkpoint on disk
    assert not run.out.exists()
    return Killed(run, out, run.complete())


@pytest.fixture(scope="module")
def killed_in_epoch_1(ref, tiny_model: Path, tmp_path_factory) -> Killed:
    return _kill_during_fine_tuning(1, tiny_model, tmp_path_factory.mktemp("epoch1"))


@pytest.fixture(scope="module")
def killed_in_epoch_2(ref, tiny_model: Path, tmp_path_factory) -> Killed:
    return _kill_during_fine_tuning(3, tiny_model, tmp_path_factory.mktemp("epoch2"))


# --- (c) right at the start -----------------------------------------------------------------------


def test_killed_right_after_tokenising(ref: Reference, tiny_model: Path, tmp_path: Path) -> None:
    run = Run(tmp_path, tiny_model)
    out = run.kill_when(lambda stdout: "fine-tuning" in stdout)  # logged once features exist
    assert "features" in out
    assert not run.out.exists()
    stdout = run.complete()
    assert "resuming" not in stdout
    result = assert_same_as_reference(run, ref)
    assert result.training["train_loss"] == ref.result.training["train_loss"]  # not resumed
    assert loss_lines(stdout) == loss_lines(ref.stdout)


# --- (a) during fine-tuning, once a checkpoint exists --------------------------------------------


def test_killed_during_fine_tuning_resumes_from_the_checkpoint(
    ref: Reference, killed_in_epoch_1: Killed
) -> None:
    k = killed_in_epoch_1
    # the rerun trained only the steps after checkpoint-1 (epochs 1 .. 2), and each of those
    # steps logged exactly what the reference logged (same batches, dropout, optimizer)
    resumed = loss_lines(k.rerun_stdout)
    assert sorted(resumed, key=float) == ["1", "1.5", "2"]
    assert resumed == {e: line for e, line in loss_lines(ref.stdout).items() if e in resumed}
    assert_same_as_reference(k.run, ref)


def test_resume_in_the_first_epoch_is_logged(killed_in_epoch_1: Killed) -> None:
    assert "resuming fine-tuning from step 1" in killed_in_epoch_1.rerun_stdout


def test_train_loss_survives_resume(ref: Reference, killed_in_epoch_1: Killed) -> None:
    result = read_result(killed_in_epoch_1.run.out)
    assert result.training["train_loss"] == ref.result.training["train_loss"]


def test_killed_in_the_second_epoch_logs_the_resume(killed_in_epoch_2: Killed) -> None:
    k = killed_in_epoch_2
    assert "resuming fine-tuning from step 3" in k.rerun_stdout
    assert sorted(loss_lines(k.rerun_stdout), key=float) == ["2"]
    # the dev check of epoch 1 (before the kill) is kept, the one of epoch 2 is new
    history = read_result(k.run.out).training["selection"]["dev_history"]
    assert [h["step"] for h in history] == [2, 4]


def test_killed_in_the_second_epoch_ends_like_the_reference(
    ref: Reference, killed_in_epoch_2: Killed
) -> None:
    k = killed_in_epoch_2
    resumed = loss_lines(k.rerun_stdout)
    assert resumed == {e: line for e, line in loss_lines(ref.stdout).items() if e in resumed}
    assert_same_as_reference(k.run, ref)


# --- (b) between two languages --------------------------------------------------------------------


def test_killed_between_languages_keeps_the_finished_ones(
    ref: Reference, tiny_model: Path, tmp_path: Path
) -> None:
    run = Run(tmp_path, tiny_model)
    shutil.copytree(ref.run.cache, run.cache)  # fine-tuned already: this run only evaluates
    out = run.kill_when(lambda _: (run.partial / "en.json").exists())
    assert "reusing fine-tuned model" in out
    assert not run.out.exists()
    done = sorted(p.stem for p in run.partial.glob("*.json"))
    assert "en" in done and "fr" not in done, done  # killed between two languages
    saved = {lang: (run.partial / f"{lang}.json").read_text() for lang in done}
    pred_dir = run.out.with_name("seed1.predictions")
    stamps = {lang: (pred_dir / f"{lang}.json").stat().st_mtime_ns for lang in done}

    stdout = run.complete()

    for lang in done:  # not recomputed: not logged, files untouched, partial result taken as is
        assert f"xnli {lang}: accuracy" not in stdout
        assert (pred_dir / f"{lang}.json").stat().st_mtime_ns == stamps[lang]
        partial = json.loads(saved[lang])["result"]
        assert read_result(run.out).languages[lang].model_dump() == partial
    assert "xnli fr: accuracy" in stdout
    assert "fine-tuning" not in stdout
    assert_same_as_reference(run, ref)


# --- while writing the result ---------------------------------------------------------------------

# Kill the run inside atomic_write_text, after the temp file of the result is written and fsynced
# and before it is renamed over seed1.json: the worst moment for a writer to die.
KILL_IN_RENAME = """
import os, signal, sys
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(os.sep + "seed1.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
sys.argv[0] = "xbench"
from xbench.cli import main
main()
"""


def test_killed_while_writing_the_result(ref: Reference, tiny_model: Path, tmp_path: Path) -> None:
    run = Run(tmp_path, tiny_model)
    shutil.copytree(ref.run.cache, run.cache)
    other = run.results / "org--tiny-model" / "xnli"  # another model's results, same folder
    other.mkdir(parents=True)
    shutil.copyfile(RESULT_FIXTURE, other / "seed1.json")
    (other / "seed2.json").write_text(RESULT_FIXTURE.read_text()[:300])  # a truncated result
    truncated = (other / "seed2.json").read_bytes()

    run.kill_when(lambda _: False, python=[sys.executable, "-c", KILL_IN_RENAME])
    temps = list(run.out.parent.glob(".seed1.json.*.tmp"))
    assert len(temps) == 1 and not run.out.exists()  # died between fsync and rename
    assert sorted(p.stem for p in run.partial.glob("*.json")) == sorted(LANGUAGES)

    cli = CliRunner()
    table = cli.invoke(app, ["table", str(run.results), "--format", "csv"])
    assert table.exit_code == 0, table.output
    rows = table.stdout.split()
    assert len(rows) == 2  # header + org/tiny-model: no row from the temp file
    assert "org/tiny-model" in table.stdout and str(tiny_model) not in table.stdout
    warnings = [line for line in table.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(other / "seed2.json") in warnings[0]
    assert ".tmp" not in table.stderr
    board = cli.invoke(app, ["leaderboard", str(run.results), "--format", "csv"])
    assert board.exit_code == 0, board.output
    assert str(other / "seed2.json") in board.stderr and ".tmp" not in board.stderr
    assert (other / "seed2.json").read_bytes() == truncated  # reported, never deleted

    stdout = run.complete()  # every language is in .partial: nothing is recomputed
    assert "accuracy 0." not in stdout and "fine-tuning" not in stdout
    assert_same_as_reference(run, ref)
    assert (other / "seed2.json").read_bytes() == truncated
    table = cli.invoke(app, ["table", str(run.results), "--format", "csv"])
    assert table.exit_code == 0 and str(tiny_model) in table.stdout
