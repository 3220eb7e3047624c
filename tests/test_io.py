"""xbench.io: atomic writes (old file kept on failure, no temp files left, shareable mode),
slugs, content hashes remembered by size+mtime, and safe YAML reading."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from xbench.errors import TaskError, WriteError
from xbench.io import atomic_write_bytes, atomic_write_text, file_sha256, read_yaml_mapping, slug


def test_slug() -> None:
    assert slug("FacebookAI/xlm-roberta-base") == "FacebookAI--xlm-roberta-base"
    assert slug("/abs/path/to/ckpt/") == "abs--path--to--ckpt"
    assert slug("a b:c") == "a--b--c"
    assert "/" not in slug("../../etc/passwd")
    assert slug("///") == "model"


def test_atomic_write_creates_folders_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    atomic_write_text(target, "first\n")
    assert target.read_text() == "first\n"
    atomic_write_text(target, "second ü\n")
    assert target.read_text(encoding="utf-8") == "second ü\n"
    assert sorted(os.listdir(target.parent)) == ["out.json"]


def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path: Path) -> None:
    """mkstemp makes 0600; results, pages and plots are meant to be read by others."""
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "page.html", b"<html>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "page.html").stat().st_mode) == 0o644


def test_atomic_write_failure_keeps_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(WriteError, match=f"no space left on device writing {target}"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]


def test_file_sha256_follows_content_changes(tmp_path: Path) -> None:
    path = tmp_path / "data.tsv"
    path.write_bytes(b"a\tb\n")
    first = file_sha256(path)
    assert first == file_sha256(path)
    path.write_bytes(b"a\tc\nmore\n")  # another size: the memo does not answer
    assert file_sha256(path) != first


def test_read_yaml_mapping(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("a: 1\nb: [x, y]\n", encoding="utf-8")
    assert read_yaml_mapping(good, "run config") == {"a": 1, "b": ["x", "y"]}
    code = tmp_path / "code.yaml"
    code.write_text("a: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(TaskError, match="not valid YAML"):
        read_yaml_mapping(code, "run config")  # safe loading: no tags that run code
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n", encoding="utf-8")
    with pytest.raises(TaskError, match=f"run config {listing} must be a YAML mapping"):
        read_yaml_mapping(listing, "run config")
