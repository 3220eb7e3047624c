"""A lock on a results folder, so two runs cannot interleave writes in it.

An OS-level lock (flock) is released by the kernel when the holder dies, so a killed run never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xbench.errors import ResultsError

LOCK_NAME = ".xbench.lock"


@contextmanager
def results_lock(results_dir: Path) -> Iterator[None]:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(results_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise ResultsError(
            f"results folder {results_dir} is not writable: {err.strerror}",
            hint="pass --results-dir with a folder you can write to",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsError(
                f"another xbench run is writing to {results_dir}",
                hint="wait for it to finish, or use another --results-dir",
            ) from None
        yield
    finally:
        os.close(fd)
