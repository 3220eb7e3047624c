"""Inter-process locks on files: one on a results folder, so two runs cannot interleave writes in
it, and `exclusive` for any other file (e.g. a model-cache entry), optionally waiting its turn.

The locks are `filelock.UnixFileLock`, i.e. flock(2): the kernel releases one when its holder
dies, so a killed run never leaves a stale lock behind (the lock file itself stays on disk).
The soft fallback newer filelock versions use where flock is missing (the lock is that a file
exists) is turned off, since such a lock can outlive a killed holder: without flock, taking a
lock is a ResultsError instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import Timeout, UnixFileLock

from xbench.errors import ResultsError, XbenchError

LOCK_NAME = ".xbench.lock"

OnWait = Callable[[str], None]


@contextmanager
def results_lock(results_dir: Path) -> Iterator[None]:
    """Hold `results_dir`'s lock for the block; a second holder is refused at once."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _not_writable(results_dir, err) from None
    with _held(
        results_dir / LOCK_NAME,
        wait=False,
        on_wait=None,
        busy=lambda: ResultsError(
            f"another xbench run is writing to {results_dir}",
            hint="wait for it to finish, or use another --results-dir",
        ),
        unusable=lambda err: _not_writable(results_dir, err),
    ):
        yield


@contextmanager
def exclusive(path: Path, *, wait: bool, on_wait: OnWait | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created, with its folder, if missing).

    wait=False: a lock another process holds is a ResultsError at once. wait=True: block until
    it is free, calling `on_wait` once with a message first if it was not free straight away."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unusable(path, err) from None
    with _held(
        path,
        wait=wait,
        on_wait=on_wait,
        busy=lambda: ResultsError(
            f"another xbench process holds {path}",
            hint="wait for it to finish, then run again",
        ),
        unusable=lambda err: _unusable(path, err),
    ):
        yield


@contextmanager
def _held(
    path: Path,
    *,
    wait: bool,
    on_wait: OnWait | None,
    busy: Callable[[], XbenchError],
    unusable: Callable[[OSError], XbenchError],
) -> Iterator[None]:
    lock = _flock(path)
    try:
        try:
            lock.acquire(timeout=0)  # one attempt; timeout=0 means that in every filelock version
        except Timeout:  # a TimeoutError, hence an OSError: caught first
            if not wait:
                raise busy() from None
            if on_wait is not None:
                on_wait(f"waiting for another xbench process holding {path}")
            lock.acquire()  # blocks until the holder releases (or dies)
    except OSError as err:
        raise unusable(err) from None
    except NotImplementedError:  # filelock < 3.30 on a file system without flock
        no_flock = OSError(f"the file system of {path.parent} does not support flock")
        raise unusable(no_flock) from None
    try:
        yield
    finally:
        lock.release()


# filelock >= 3.30 falls back to a soft lock where flock is missing, unless told not to; older
# versions have no such option (and no fallback).
_HAS_SOFT_FALLBACK = "fallback_to_soft" in inspect.signature(UnixFileLock.__init__).parameters


def _flock(path: Path) -> UnixFileLock:
    if _HAS_SOFT_FALLBACK:
        return UnixFileLock(path, fallback_to_soft=False)
    return UnixFileLock(path)


def _not_writable(results_dir: Path, err: OSError) -> ResultsError:
    return ResultsError(
        f"results folder {results_dir} is not writable: {err.strerror or err}",
        hint="pass --results-dir with a folder you can write to",
    )


def _unusable(path: Path, err: OSError) -> ResultsError:
    return ResultsError(
        f"cannot lock {path}: {err.strerror or err}",
        hint="check that folder's permissions and file system (it must support flock)",
    )
