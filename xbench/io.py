"""Files, owned here for every module: atomic writes with shareable modes, one clear message for
a failed write, file-system-safe names, content hashes remembered by size+mtime, and safe YAML.

Results, pages, plots, records and caches are all written through `atomic_write_*`: a reader sees
the old file or the new one, never half of one, and a failed write leaves the old file as it was.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from xbench.errors import TaskError, WriteError


def readable_mode() -> int:
    """0644 under the usual umask: what a plain open() would have created (mkstemp makes 0600,
    but results, pages and plots are meant to be shared)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers see old or new.

    On any OS error (full disk, read-only folder, ...) the temp file is removed, an existing
    file at `path` is left as it was, and a WriteError (a ResultsError and an OSError) names
    `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise write_error(path, err) from err
    try:
        os.fchmod(fd, readable_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise write_error(path, exc) from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_error(path: Path, err: OSError) -> WriteError:
    """One clear message for a failed write of `path`."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return WriteError(
            f"no space left on device writing {path}",
            hint="free space on that disk, or write somewhere else (--results-dir, --output); "
            "files already there were left as they were",
            errno=err.errno,
            filename=str(path),
        )
    return WriteError(
        f"cannot write {path}: {err.strerror or err}",
        hint="check that folder (permissions, a read-only disk, a file in the way) or write "
        "somewhere else (--results-dir, --output); files already there were left as they were",
        errno=err.errno,
        filename=str(path),
    )


def slug(text: str) -> str:
    """A file-system-safe name for a model id or path."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", text.strip("/")).strip("-.") or "model"


@cache
def _sha256(path: Path, size: int, mtime_ns: int) -> str:  # size and mtime key the memo
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, computed once per (path, size, mtime) in this process."""
    stat = path.stat()
    return _sha256(path, stat.st_size, stat.st_mtime_ns)


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping, loaded safely (no custom tags, no code)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise TaskError(f"cannot read {what} {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise TaskError(f"{what} {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise TaskError(f"{what} {path} must be a YAML mapping, got {type(raw).__name__}")
    return raw
