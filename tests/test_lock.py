"""The inter-process locks of xbench.lock, between real processes: a second holder is refused
(or waits its turn), a SIGKILLed holder leaves no stale lock, and an unusable folder is one clear
ResultsError."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from xbench.errors import ResultsError
from xbench.lock import LOCK_NAME, exclusive, results_lock

REPO = Path(__file__).resolve().parents[1]

# Takes a lock, says "held", keeps it until its stdin closes, then says "released".
HOLDER = """
import sys
from pathlib import Path
from xbench.lock import exclusive, results_lock

kind, target = sys.argv[1], Path(sys.argv[2])
lock = results_lock(target) if kind == "results" else exclusive(target, wait=False)
with lock:
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


class Holder:
    """Another process holding a lock until `release()` (or `kill()`)."""

    def __init__(self, kind: str, target: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, kind, str(target)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line != "held\n":
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail(f"the holder process did not take the lock: {line!r}\n{err}")

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait(self) -> str:
        """What the holder said after "held", once it has exited."""
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out, err = self.proc.stdout.read(), self.proc.stderr.read()
        assert self.proc.wait(timeout=30) == 0, err
        return out

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        if holder.proc.poll() is None:
            holder.kill()


def test_a_second_process_is_refused_at_once_while_the_first_holds(
    tmp_path: Path, holders: list[Holder]
) -> None:
    results = tmp_path / "results"
    holder = Holder("results", results)
    holders.append(holder)

    started = time.perf_counter()
    with pytest.raises(ResultsError) as caught, results_lock(results):
        pytest.fail("took a lock another process holds")
    assert time.perf_counter() - started < 2, "refused only after waiting"
    assert caught.value.message == f"another xbench run is writing to {results}"
    assert caught.value.hint == "wait for it to finish, or use another --results-dir"

    holder.release()
    assert holder.wait() == "released\n"
    with results_lock(results):  # free again once the holder let go
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path, holders: list[Holder]) -> None:
    results = tmp_path / "results"
    holder = Holder("results", results)
    holders.append(holder)
    with pytest.raises(ResultsError, match="another xbench run"), results_lock(results):
        pass

    holder.kill()  # SIGKILL: no cleanup code of the holder runs
    assert holder.proc.returncode == -signal.SIGKILL
    assert (results / LOCK_NAME).exists()  # the file may stay; the lock went with the process
    with results_lock(results):
        pass


def test_exclusive_without_wait_is_refused_while_another_process_holds(
    tmp_path: Path, holders: list[Holder]
) -> None:
    path = tmp_path / "models" / "entry.lock"
    holders.append(Holder("exclusive", path))
    calls: list[str] = []
    with (
        pytest.raises(ResultsError, match=f"another xbench process holds {path}"),
        exclusive(path, wait=False, on_wait=calls.append),
    ):
        pass
    assert calls == []


def test_exclusive_waits_for_the_holder_then_proceeds(
    tmp_path: Path, holders: list[Holder]
) -> None:
    path = tmp_path / "models" / "entry.lock"
    holder = Holder("exclusive", path)
    holders.append(holder)
    delay = 0.6
    threading.Timer(delay, holder.release).start()

    calls: list[str] = []
    started = time.perf_counter()
    with exclusive(path, wait=True, on_wait=calls.append):
        waited = time.perf_counter() - started
        assert holder.wait() == "released\n"  # the holder was done when this block began
    assert waited >= delay * 0.9, f"did not wait for the holder (took {waited:.2f}s)"
    assert calls == [f"waiting for another xbench process holding {path}"]


def test_exclusive_on_a_free_lock_does_not_report_waiting(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "entry.lock"
    calls: list[str] = []
    with exclusive(path, wait=True, on_wait=calls.append):
        assert path.exists()
        with (
            pytest.raises(ResultsError, match="another xbench process"),  # exclusive here too
            exclusive(path, wait=False),
        ):
            pass
    assert calls == []
    with exclusive(path, wait=False):  # released on leaving the block
        pass


def test_an_error_in_the_block_is_not_a_lock_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), results_lock(tmp_path):
        (tmp_path / "missing.json").read_text()
    with results_lock(tmp_path):  # released by the failed block
        pass


# --- folders the lock cannot be taken in ---------------------------------------------------


def _lock_as(uid: int | None, folder: Path, conn: Connection) -> None:
    """Try to take `folder`'s results lock (as `uid`); send back what happened."""
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)
    try:
        with results_lock(folder):
            conn.send(("locked", ""))
    except ResultsError as err:
        conn.send((err.message, err.hint or ""))
    finally:
        conn.close()


def _try_lock(folder: Path) -> tuple[str, str]:
    """As this user, or (since root may write anywhere) as `nobody` in a forked child."""
    if os.geteuid() != 0:
        parent, child = multiprocessing.Pipe(duplex=False)
        _lock_as(None, folder, child)
        return parent.recv()
    parent, child = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.get_context("fork").Process(target=_lock_as, args=(65534, folder, child))
    proc.start()
    child.close()
    try:
        return parent.recv()
    finally:
        proc.join(30)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    # Under /tmp itself rather than tmp_path, whose parents `nobody` may not enter.
    base = Path(tempfile.mkdtemp(prefix="xbench-lock-"))
    base.chmod(0o755)
    folder = base / "results"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(base)


@pytest.mark.parametrize("sub", ["", "run-1"])
def test_a_read_only_results_folder_is_one_clear_error(read_only_folder: Path, sub: str) -> None:
    folder = read_only_folder / sub if sub else read_only_folder
    message, hint = _try_lock(folder)
    assert message == f"results folder {folder} is not writable: Permission denied"
    assert hint == "pass --results-dir with a folder you can write to"


def test_a_results_folder_under_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    folder = tmp_path / "file" / "results"
    with pytest.raises(ResultsError) as caught, results_lock(folder):
        pass
    assert caught.value.message == f"results folder {folder} is not writable: Not a directory"
    assert caught.value.hint == "pass --results-dir with a folder you can write to"


def test_a_lock_file_that_cannot_be_opened_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).mkdir()  # a folder where the lock file should be
    with pytest.raises(ResultsError) as caught, results_lock(tmp_path):
        pass
    assert caught.value.message == f"results folder {tmp_path} is not writable: Is a directory"

    path = tmp_path / "entry.lock"
    path.mkdir()
    with pytest.raises(ResultsError) as caught, exclusive(path, wait=True):
        pass
    assert caught.value.message == f"cannot lock {path}: Is a directory"
