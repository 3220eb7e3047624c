"""Result files: strict reading (every failure names the file), older schema versions still
read, and collection that reports bad files without ever touching them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xbench.errors import ResultsError
from xbench.results import (
    SCHEMA_VERSION,
    RunResult,
    collect_results,
    read_result,
    result_path,
    write_result,
)

RESULT_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "core" / "result.json"


@pytest.fixture()
def result() -> RunResult:
    return RunResult.model_validate_json(RESULT_FIXTURE.read_text(encoding="utf-8"))


# --- paths ------------------------------------------------------------------------------------


def test_result_path(tmp_path: Path) -> None:
    path = result_path(tmp_path, "org/model", "xnli", 3)
    assert path == tmp_path / "org--model" / "xnli" / "seed3.json"


def test_version_1_result_still_reads(tmp_path: Path, result: RunResult) -> None:
    """A file written before schema 2 (no train_language; training always present) reads as
    an English-trained result of the current schema."""
    raw = json.loads(_good_text(result))
    raw.pop("train_language")
    path = tmp_path / "seed1.json"
    path.write_text(json.dumps({**raw, "schema_version": 1}))
    old = read_result(path)
    assert old.schema_version == SCHEMA_VERSION == 2
    assert old.train_language == "en"
    assert old.languages == result.languages and old.training == result.training


def test_write_then_read_round_trip(tmp_path: Path, result: RunResult) -> None:
    path = tmp_path / "m" / "xnli" / "seed1.json"
    write_result(path, result)
    assert read_result(path) == result
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert sorted(os.listdir(path.parent)) == ["seed1.json"]


# --- reading: every failure is a ResultsError naming the file ---------------------------------


def _good_text(result: RunResult) -> str:
    return result.model_dump_json(indent=2) + "\n"


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("corrupt-json", "corrupt"),
        ("truncated", "corrupt"),
        ("empty", "corrupt"),
        ("not-utf8", "corrupt"),
        ("schema-99", "schema_version"),
        ("no-schema", "schema_version"),
        ("a-list", "not an xbench result"),
        ("missing-field", "run_key"),
        ("wrong-field-type", "seed"),
        ("unknown-field", "surprise"),
    ],
)
def test_bad_result_file_is_a_results_error_naming_it(
    tmp_path: Path, result: RunResult, case: str, expect: str
) -> None:
    good = _good_text(result)
    raw = json.loads(good)
    path = tmp_path / "seed1.json"
    if case == "corrupt-json":
        path.write_text("{this is not json")
    elif case == "truncated":
        path.write_text(good[: len(good) // 2])
    elif case == "empty":
        path.write_text("")
    elif case == "not-utf8":
        path.write_bytes(b"\xff\xfe\x00garbage")
    elif case == "schema-99":
        path.write_text(json.dumps({**raw, "schema_version": 99}))
    elif case == "no-schema":
        raw.pop("schema_version")
        path.write_text(json.dumps(raw))
    elif case == "a-list":
        path.write_text("[1, 2]")
    elif case == "missing-field":
        raw.pop("run_key")
        path.write_text(json.dumps(raw))
    elif case == "wrong-field-type":
        path.write_text(json.dumps({**raw, "seed": "one"}))
    elif case == "unknown-field":
        path.write_text(json.dumps({**raw, "surprise": 1}))
    before = path.read_bytes()
    with pytest.raises(ResultsError) as info:
        read_result(path)
    assert str(path) in info.value.message
    assert expect in info.value.message
    assert path.read_bytes() == before  # never modified


def test_schema_version_error_says_what_was_found(tmp_path: Path, result: RunResult) -> None:
    path = tmp_path / "seed1.json"
    path.write_text(json.dumps({**json.loads(_good_text(result)), "schema_version": 99}))
    with pytest.raises(ResultsError, match="schema_version 99, expected 1 or 2"):
        read_result(path)


def test_missing_result_file(tmp_path: Path) -> None:
    path = tmp_path / "seed9.json"
    with pytest.raises(ResultsError, match="cannot read") as info:
        read_result(path)
    assert str(path) in info.value.message


# --- collecting -------------------------------------------------------------------------------


def test_collect_skips_and_reports_bad_files_without_deleting(
    tmp_path: Path, result: RunResult
) -> None:
    folder = tmp_path / "results" / "org--tiny-model" / "xnli"
    write_result(folder / "seed1.json", result)
    write_result(folder / "seed2.json", result.model_copy(update={"seed": 2}))
    bad = folder / "seed3.json"
    bad.write_text('{"schema_version": 1, "task": "xnli"')  # truncated
    foreign = tmp_path / "results" / "other" / "pawsx" / "seed1.json"
    foreign.parent.mkdir(parents=True)
    foreign.write_text('{"schema_version": 7}')
    bad_bytes, foreign_bytes = bad.read_bytes(), foreign.read_bytes()

    results, errors = collect_results([tmp_path / "results"])

    assert sorted(r.seed for r in results) == [1, 2]
    assert len(errors) == 2
    messages = " ".join(e.message for e in errors)
    assert str(bad) in messages
    assert str(foreign) in messages
    assert bad.read_bytes() == bad_bytes
    assert foreign.read_bytes() == foreign_bytes


def test_collect_ignores_partial_and_prediction_files(tmp_path: Path, result: RunResult) -> None:
    folder = tmp_path / "m" / "xnli"
    write_result(folder / "seed1.json", result)
    (folder / "seed1.partial").mkdir()
    (folder / "seed1.partial" / "de.json").write_text('{"run_key": "x", "result": {}}')
    (folder / "seed1.predictions").mkdir()
    (folder / "seed1.predictions" / "de.json").write_text("{}")
    (folder / "notes.json").write_text("not a result")
    results, errors = collect_results([tmp_path])
    assert [r.seed for r in results] == [1]
    assert errors == []


def test_collect_accepts_files_and_rejects_missing_paths(tmp_path: Path, result: RunResult) -> None:
    path = tmp_path / "anything.json"
    write_result(path, result)
    results, errors = collect_results([path])
    assert len(results) == 1 and errors == []
    with pytest.raises(ResultsError, match="no such results file or folder") as info:
        collect_results([tmp_path / "absent"])
    assert str(tmp_path / "absent") in info.value.message
