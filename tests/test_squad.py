"""Tests for xbench.squad: SQuAD-format files read strictly, drops counted by reason, every
malformed file a DataError naming the file and the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xbench.errors import DataError
from xbench.squad import SKIP_REASONS, read_squad_file


def test_read_real_files(data_dir: Path) -> None:
    squad, counts = read_squad_file(data_dir / "squad" / "train-v1.1.json", for_training=True)
    assert len(squad) == 4370 and set(counts) == set(SKIP_REASONS) and sum(counts.values()) == 0
    mlqa = data_dir / "mlqa" / "MLQA_V1" / "dev" / "dev-context-zh-question-zh.json"
    examples, counts = read_squad_file(mlqa, for_training=False)  # "version": 1.0 (a number)
    assert len(examples) == 504 and sum(counts.values()) == 0


def test_answer_start_mismatch_is_skipped_for_training_counted_for_eval(fixtures_dir) -> None:
    path = fixtures_dir / "squad_bad" / "answer_start_mismatch.json"
    train, counts = read_squad_file(path, for_training=True)
    assert [ex.id for ex in train] == ["good", "one_of_two"]
    assert train[1].answers == ("Eiffel Tower",) and train[1].answer_starts == (4,)
    assert counts["answer_mismatch"] == 2 and counts["no_valid_answer"] == 1
    evals, counts = read_squad_file(path, for_training=False)
    assert [ex.id for ex in evals] == ["good", "wrong_start", "one_of_two"]
    assert evals[1].answers == ("Paris",) and evals[1].answer_starts == (-1,)
    assert counts["answer_start_mismatch"] == 2 and counts["answer_mismatch"] == 0


@pytest.mark.parametrize("for_training", [True, False])
def test_empty_context_and_no_answers_are_counted_skips(fixtures_dir, for_training) -> None:
    path = fixtures_dir / "squad_bad" / "empty_context.json"
    examples, counts = read_squad_file(path, for_training=for_training)
    assert [ex.id for ex in examples] == ["ok"]
    assert counts["empty_context"] == 2 and counts["no_answers"] == 1


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("invalid_json.json", ["invalid JSON", "line 11", "column 1"]),
        ("duplicate_id.json", ["duplicate question id 'q-dup-7'"]),
        ("missing_data.json", ["'data'"]),
    ],
)
def test_bad_files_raise_data_error_naming_the_file(fixtures_dir, name, needles) -> None:
    path = fixtures_dir / "squad_bad" / name
    for for_training in (True, False):
        with pytest.raises(DataError) as info:
            read_squad_file(path, for_training=for_training)
        assert name in info.value.message and info.value.hint
        for needle in needles:
            assert needle in info.value.message


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.json"):
        read_squad_file(tmp_path / "nope.json", for_training=True)


def test_wrong_field_type_names_the_location(tmp_path: Path) -> None:
    path = tmp_path / "typed.json"
    bad = {"data": [{"paragraphs": [{"context": "x", "qas": [{"id": "a", "question": 3}]}]}]}
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(DataError, match=r"typed.json: data\[0\].paragraphs\[0\].qas\[0\].question"):
        read_squad_file(path, for_training=False)
