"""Loading splits: local TSVs in XTREME's layout (labels mapped, errors naming file and line,
SHA-256 source records, limits) and the Hub path, which must yield the same examples."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from xbench.catalog import TaskRegistry
from xbench.data import load_split, local_path, require_local_file
from xbench.errors import DataError
from xbench.languages import placeholders

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"
# facebook/xnli's integer labels, in order (see ../shared/data/README.md); MultiNLI's train file
# spells the third one "contradictory".
XNLI_HUB_LABEL = {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


@pytest.fixture(scope="module")
def pawsx():
    return TaskRegistry().get("pawsx")


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))


def _write_tsv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(rows)
    return path


def _triples(examples: list[Any]) -> list[tuple[str, str, int]]:
    return [(e.sentence1, e.sentence2, e.label) for e in examples]


# --- local files ------------------------------------------------------------------------------


def test_local_train_maps_labels(xnli) -> None:
    rows = _rows(CORE_DATA / "xnli" / "train-en.tsv")
    assert any(r[2] == "contradictory" for r in rows)  # the fixture exercises the alias
    data = load_split(xnli, "train", "en", data_dir=CORE_DATA, for_training=True)
    assert len(data.examples) == len(rows)
    contradiction = xnli.labels.index("contradiction")
    for example, row in zip(data.examples, rows, strict=True):
        assert example.sentence1 == row[0]
        assert example.sentence2 == row[1]
        assert example.label == XNLI_HUB_LABEL[row[2]]
        if row[2] == "contradictory":
            assert example.label == contradiction
    assert {e.label for e in data.examples} == {0, 1, 2}


def test_example_ids_are_unique(xnli) -> None:
    data = load_split(xnli, "test", "de", data_dir=CORE_DATA)
    ids = [e.id for e in data.examples]
    assert len(set(ids)) == len(ids)


def test_local_source_record(xnli) -> None:
    path = CORE_DATA / "xnli" / "test-de.tsv"
    data = load_split(xnli, "test", "de", data_dir=CORE_DATA)
    assert data.source["kind"] == "local"
    assert data.source["path"] == "xnli/test-de.tsv"
    assert data.source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.source["examples"] == len(_rows(path))
    assert "limit" not in data.source


def test_sha256_follows_file_changes(xnli, tmp_path: Path) -> None:
    path = _write_tsv(tmp_path / "xnli" / "test-de.tsv", [["a", "b", "neutral"]])
    first = load_split(xnli, "test", "de", data_dir=tmp_path).source["sha256"]
    _write_tsv(path, [["a", "b", "neutral"], ["c", "d", "entailment"]])
    second = load_split(xnli, "test", "de", data_dir=tmp_path)
    assert second.source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert second.source["sha256"] != first
    assert len(second.examples) == 2


def test_limit_takes_the_first_n(xnli) -> None:
    full = load_split(xnli, "test", "en", data_dir=CORE_DATA)
    head = load_split(xnli, "test", "en", data_dir=CORE_DATA, limit=5)
    assert head.examples == full.examples[:5]
    assert head.source["limit"] == 5
    assert head.source["examples"] == 5
    assert head.source["sha256"] == full.source["sha256"]


def test_limit_above_size_keeps_everything(xnli) -> None:
    full = load_split(xnli, "test", "en", data_dir=CORE_DATA)
    big = load_split(xnli, "test", "en", data_dir=CORE_DATA, limit=10_000)
    assert big.examples == full.examples
    assert "limit" not in big.source


def test_quoted_fields_round_trip(xnli, tmp_path: Path) -> None:
    """Fields as Python's csv.writer writes them (quotes doubled, tabs quoted) read back as-is."""
    rows = [
        ['He said "no" twice .', "He agreed .", "contradiction"],
        ["A tab\there", '"Quoted" start', "neutral"],
    ]
    _write_tsv(tmp_path / "xnli" / "test-fr.tsv", rows)
    data = load_split(xnli, "test", "fr", data_dir=tmp_path)
    assert _triples(data.examples) == [(rows[0][0], rows[0][1], 2), (rows[1][0], rows[1][1], 1)]


def test_malformed_row_names_file_and_line(xnli, tmp_path: Path) -> None:
    path = _write_tsv(
        tmp_path / "xnli" / "test-de.tsv",
        [["a", "b", "neutral"], ["c", "d", "entailment"], ["only two", "columns"]],
    )
    with pytest.raises(DataError) as info:
        load_split(xnli, "test", "de", data_dir=tmp_path)
    assert str(path) in info.value.message
    assert "line 3" in info.value.message
    assert "found 2" in info.value.message


def test_unknown_label_names_file_line_and_label(xnli, tmp_path: Path) -> None:
    path = _write_tsv(
        tmp_path / "xnli" / "test-de.tsv", [["a", "b", "neutral"], ["c", "d", "maybe"]]
    )
    with pytest.raises(DataError) as info:
        load_split(xnli, "test", "de", data_dir=tmp_path)
    assert str(path) in info.value.message
    assert "line 2" in info.value.message
    assert "'maybe'" in info.value.message


def test_alias_is_not_a_label_in_pawsx(pawsx, tmp_path: Path) -> None:
    _write_tsv(tmp_path / "pawsx" / "test-de.tsv", [["a", "b", "1"], ["c", "d", "2"]])
    with pytest.raises(DataError, match="line 2: unknown label '2'"):
        load_split(pawsx, "test", "de", data_dir=tmp_path)


def test_empty_file_is_an_error(xnli, tmp_path: Path) -> None:
    path = tmp_path / "xnli" / "test-de.tsv"
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(DataError, match="empty") as info:
        load_split(xnli, "test", "de", data_dir=tmp_path)
    assert str(path) in info.value.message


def test_missing_file_names_expected_path(xnli, tmp_path: Path) -> None:
    (tmp_path / "xnli").mkdir()
    with pytest.raises(DataError) as info:
        load_split(xnli, "test", "sw", data_dir=tmp_path)
    assert str(tmp_path / "xnli" / "test-sw.tsv") in info.value.message
    assert "language sw" in info.value.message
    assert info.value.hint is not None and "xnli/test-{lang}.tsv" in info.value.hint


def test_missing_data_dir(xnli, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as info:
        require_local_file(xnli, "train", "en", tmp_path / "nope")
    assert str(tmp_path / "nope") in info.value.message


def test_local_path_layout(xnli) -> None:
    root = Path("/data")
    assert local_path(xnli, "train", "en", root) == root / "xnli" / "train-en.tsv"
    assert local_path(xnli, "dev", "de", root) == root / "xnli" / "dev-de.tsv"
    assert local_path(xnli, "test", "zh", root) == root / "xnli" / "test-zh.tsv"
    assert placeholders("de") == {"lang": "de", "context": "de", "question": "de"}


# --- the real sample data ---------------------------------------------------------------------


def test_real_xnli_sample(xnli, data_dir: Path) -> None:
    data = load_split(xnli, "test", "de", data_dir=data_dir, limit=30)
    assert len(data.examples) == 30
    assert {e.label for e in data.examples} == {0, 1, 2}
    train = load_split(xnli, "train", "en", data_dir=data_dir, limit=200, for_training=True)
    assert len(train.examples) == 200


def test_real_pawsx_sample(pawsx, data_dir: Path) -> None:
    rows = _rows(data_dir / "pawsx" / "dev-en.tsv")[:20]
    data = load_split(pawsx, "dev", "en", data_dir=data_dir, limit=20)
    assert [e.label for e in data.examples] == [int(r[2]) for r in rows]


# --- the Hub path (faked) ---------------------------------------------------------------------


class FakeHub:
    """Stands in for datasets.load_dataset: rows built from local TSVs, integer labels."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((args, kwargs))
        return list(self.rows)


def _xnli_hub_rows(path: Path) -> list[dict[str, Any]]:
    return [
        {"premise": p, "hypothesis": h, "label": XNLI_HUB_LABEL[label]}
        for p, h, label in _rows(path)
    ]


@pytest.mark.parametrize(
    ("split", "lang", "file"),
    [("train", "en", "train-en.tsv"), ("test", "de", "test-de.tsv")],
)
def test_hub_examples_equal_local_examples(
    xnli, monkeypatch: pytest.MonkeyPatch, split: str, lang: str, file: str
) -> None:
    import datasets

    fake = FakeHub(_xnli_hub_rows(CORE_DATA / "xnli" / file))
    monkeypatch.setattr(datasets, "load_dataset", fake)
    hub = load_split(xnli, split, lang, data_dir=None, for_training=split == "train")
    local = load_split(xnli, split, lang, data_dir=CORE_DATA, for_training=split == "train")
    assert _triples(hub.examples) == _triples(local.examples)
    assert hub.skipped == {}
    (args, kwargs) = fake.calls[0]
    assert args[:2] == ("facebook/xnli", lang)
    assert kwargs["revision"] == "b8dd5d7af51114dbda02c0e3f6133f332186418e"
    assert kwargs["split"] == {"train": "train", "test": "test"}[split]
    assert hub.source == {
        "kind": "hub",
        "dataset": "facebook/xnli",
        "revision": "b8dd5d7af51114dbda02c0e3f6133f332186418e",
        "config": lang,
        "split": kwargs["split"],
        "examples": len(local.examples),
    }


def test_hub_limit_and_unlabelled_rows(xnli, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    rows = _xnli_hub_rows(CORE_DATA / "xnli" / "test-en.tsv")
    rows.insert(1, {"premise": "x", "hypothesis": "y", "label": -1})
    monkeypatch.setattr(datasets, "load_dataset", FakeHub(rows))
    data = load_split(xnli, "test", "en", data_dir=None, limit=4)
    local = load_split(xnli, "test", "en", data_dir=CORE_DATA, limit=4)
    assert _triples(data.examples) == _triples(local.examples)
    assert data.skipped == {"unlabelled": 1}
    assert data.source["limit"] == 4


def test_pawsx_hub_equals_local(pawsx, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    rows = [
        {"sentence1": a, "sentence2": b, "label": int(y)}
        for a, b, y in _rows(data_dir / "pawsx" / "dev-en.tsv")[:25]
    ]
    monkeypatch.setattr(datasets, "load_dataset", FakeHub(rows))
    hub = load_split(pawsx, "dev", "en", data_dir=None)
    local = load_split(pawsx, "dev", "en", data_dir=data_dir, limit=25)
    assert _triples(hub.examples) == _triples(local.examples)


def test_hub_failure_is_a_data_error(xnli, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="facebook/xnli") as info:
        load_split(xnli, "test", "de", data_dir=None)
    assert "no network" in info.value.message
    assert info.value.hint is not None and "--data-dir" in info.value.hint


def test_fixture_tree_is_xtreme_layout() -> None:
    """The tiny fixture data mirrors XTREME's layout (train-en, dev-en, test-LANG)."""
    names = sorted(os.listdir(CORE_DATA / "xnli"))
    assert {"train-en.tsv", "dev-en.tsv", "test-en.tsv", "test-de.tsv"} <= set(names)
