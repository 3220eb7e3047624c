"""The Hub path through the real `datasets.load_dataset`, offline: local replicas of the hub
repositories (tests/hub_replica.py, parquet files plus a README.md declaring `configs:`, as on
the Hub) read through XBENCH_HUB_MIRROR give the same examples, and the same run, as the local
files they were built from; the source record names the folder and each file's SHA-256 and
never a revision. The preflight finds a loading-script source, a missing config, split, revision
or dataset, and no network, each by name, before any training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hub_replica
import pytest
from typer.testing import CliRunner

import xbench.training as training_mod
from xbench.catalog import TaskRegistry
from xbench.cli import app
from xbench.data import HUB_MIRROR_ENV, check_source, load_split
from xbench.errors import DataError
from xbench.plan import RunRequest, make_plan
from xbench.results import read_result, result_path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
SCRIPT_MESSAGE = "is a loading-script dataset, which datasets>=4 cannot load"


@pytest.fixture(scope="module", autouse=True)
def datasets_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """datasets' Arrow cache in a temporary folder, and offline mode on: nothing here may
    reach the network, and nothing is left in ~/.cache."""
    import datasets

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf-cache"))
        mp.setattr(datasets.config, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DATA_DIR.exists():
        pytest.fail(f"shared sample data missing: {DATA_DIR}")
    return hub_replica.build_mirror(DATA_DIR, tmp_path_factory.mktemp("mirror"))


@pytest.fixture()
def use_mirror(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(HUB_MIRROR_ENV, str(mirror))
    return mirror


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every datasets.load_dataset call, passed on to the real one."""
    import datasets

    real = datasets.load_dataset
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", spy)
    return seen


@pytest.fixture(scope="module")
def registry() -> TaskRegistry:
    return TaskRegistry()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pairs(examples: list[Any]) -> list[tuple[str, str, int]]:
    return [(e.sentence1, e.sentence2, e.label) for e in examples]


def _assert_mirror_source(
    source: dict[str, Any], dataset: str, folder: Path, config: str, split: str
) -> None:
    assert source["kind"] == "hub-mirror"
    assert "revision" not in source  # no revision exists for a folder, none is claimed
    assert source["dataset"] == dataset
    assert source["folder"] == str(folder.resolve())
    assert (source["config"], source["split"]) == (config, split)
    rel = f"{config}/{split}-00000-of-00001.parquet"
    assert source["files"] == [{"path": rel, "sha256": _sha(folder / rel)}]


def _assert_called_without_revision(calls: list, folder: Path, config: str, split: str) -> None:
    assert calls, "datasets.load_dataset was not called"
    args, kwargs = calls[-1]
    assert args == (str(folder.resolve()), config)
    assert kwargs == {"split": split}


# --- (a) the same examples as the local files ---------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "de", "sw", "zh"])
def test_xnli_test(registry, use_mirror: Path, calls, lang: str) -> None:
    xnli = registry.get("xnli")
    hub = load_split(xnli, "test", lang, data_dir=None)
    local = load_split(xnli, "test", lang, data_dir=DATA_DIR)
    assert len(hub.examples) == 5010
    assert _pairs(hub.examples) == _pairs(local.examples)
    assert hub.skipped == local.skipped == {}
    folder = use_mirror / "facebook" / "xnli"
    _assert_called_without_revision(calls, folder, lang, "test")
    _assert_mirror_source(hub.source, "facebook/xnli", folder, lang, "test")


def test_xnli_train_and_dev(registry, use_mirror: Path, calls) -> None:
    xnli = registry.get("xnli")
    n = 1000
    hub = load_split(xnli, "train", "en", data_dir=None, limit=n, for_training=True)
    local = load_split(xnli, "train", "en", data_dir=DATA_DIR, limit=n, for_training=True)
    assert len(hub.examples) == n
    assert _pairs(hub.examples) == _pairs(local.examples)
    assert {e.label for e in hub.examples} == {0, 1, 2}  # "contradictory" included
    assert hub.source["limit"] == n
    _assert_mirror_source(hub.source, "facebook/xnli", use_mirror / "facebook/xnli", "en", "train")
    dev_hub = load_split(xnli, "dev", "en", data_dir=None)
    dev_local = load_split(xnli, "dev", "en", data_dir=DATA_DIR)
    assert _pairs(dev_hub.examples) == _pairs(dev_local.examples)
    assert dev_hub.source["split"] == "validation"


@pytest.mark.parametrize(
    ("split", "lang"),
    [("test", "de"), ("test", "ko"), ("test", "zh"), ("dev", "en"), ("train", "en")],
)
def test_pawsx(registry, use_mirror: Path, calls, split: str, lang: str) -> None:
    pawsx = registry.get("pawsx")
    training = split == "train"
    hub = load_split(pawsx, split, lang, data_dir=None, for_training=training)
    local = load_split(pawsx, split, lang, data_dir=DATA_DIR, for_training=training)
    assert hub.examples and _pairs(hub.examples) == _pairs(local.examples)
    hub_split = hub_replica.HUB_SPLIT[split]
    folder = use_mirror / "google-research-datasets" / "paws-x"
    _assert_called_without_revision(calls, folder, lang, hub_split)
    _assert_mirror_source(hub.source, "google-research-datasets/paws-x", folder, lang, hub_split)


@pytest.mark.parametrize("pair", ["de-en", "en-en", "en"])
def test_mlqa_dev(registry, use_mirror: Path, calls, pair: str) -> None:
    """Same ids, questions, contexts, answers and answer starts, in the same order."""
    mlqa = registry.get("mlqa")
    hub = load_split(mlqa, "dev", pair, data_dir=None)
    local = load_split(mlqa, "dev", pair, data_dir=DATA_DIR)
    assert len(hub.examples) > 500
    assert hub.examples == local.examples
    assert hub.skipped == local.skipped
    context, question = [*pair.split("-"), pair][:2]
    config = f"MLQA.{context}.{question}"
    folder = use_mirror / "google" / "xtreme"
    _assert_called_without_revision(calls, folder, config, "validation")
    _assert_mirror_source(hub.source, "google/xtreme", folder, config, "validation")


def test_mlqa_hub_questions_are_stripped(registry, use_mirror: Path) -> None:
    """google/xtreme's rows are what its xtreme.py made: questions stripped of surrounding
    whitespace, which XTREME's download keeps (30 of de-de's 512 dev questions); ids, contexts
    and answers agree."""
    mlqa = registry.get("mlqa")
    hub = load_split(mlqa, "dev", "de", data_dir=None).examples
    local = load_split(mlqa, "dev", "de", data_dir=DATA_DIR).examples
    assert [(e.id, e.context, e.answers, e.answer_starts) for e in hub] == [
        (e.id, e.context, e.answers, e.answer_starts) for e in local
    ]
    assert [e.question for e in hub] == [e.question.strip() for e in local]
    assert sum(h.question != x.question for h, x in zip(hub, local, strict=True)) == 30


def test_squad_train(registry, use_mirror: Path, calls) -> None:
    mlqa = registry.get("mlqa")
    hub = load_split(mlqa, "train", "en", data_dir=None, for_training=True)
    local = load_split(mlqa, "train", "en", data_dir=DATA_DIR, for_training=True)
    assert len(hub.examples) == 4370
    assert hub.examples == local.examples
    assert hub.skipped == local.skipped
    folder = use_mirror / "rajpurkar" / "squad"
    _assert_called_without_revision(calls, folder, "plain_text", "train")
    _assert_mirror_source(hub.source, "rajpurkar/squad", folder, "plain_text", "train")


def test_folder_named_as_hub_dataset(registry, mirror: Path, calls) -> None:
    """A task file whose hub.dataset is a folder: read without its revision, recorded as a
    folder (no XBENCH_HUB_MIRROR needed)."""
    xnli = registry.get("xnli")
    folder = mirror / "facebook" / "xnli"
    spec = xnli.model_copy(update={"hub": xnli.hub.model_copy(update={"dataset": str(folder)})})
    data = load_split(spec, "test", "de", data_dir=None, limit=10)
    _assert_called_without_revision(calls, folder, "de", "test")
    _assert_mirror_source(data.source, str(folder), folder, "de", "test")
    check_source(spec, "test", "de", data_dir=None)


def test_preflight_resolves_mirror_without_revision(
    registry, use_mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    real = datasets.load_dataset_builder
    asked: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset_builder", spy)
    check_source(registry.get("mlqa"), "dev", "de-en", data_dir=None)
    folder = str((use_mirror / "google" / "xtreme").resolve())
    assert asked == [((folder, "MLQA.de.en"), {})]


# --- (b) a whole run: mirror == --data-dir -----------------------------------------------------

RUN_ARGS = ["--set", "epochs=1", "--set", "batch_size=8", "--train-limit", "32"]
RUN_ARGS += ["--eval-limit", "8"]


def _run(model: Path, task: str, langs: str, root: Path, *extra: str) -> Path:
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--model",
            str(model),
            "--tasks",
            task,
            "--languages",
            langs,
            "--results-dir",
            str(root / "results"),
            "--cache-dir",
            str(root / "cache"),
            *RUN_ARGS,
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return result_path(root / "results", str(model), task, 1)


def _predictions(out: Path, lang: str) -> tuple[list[Any], list[Any]]:
    folder = out.with_name(out.stem + ".predictions")
    preds = json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
    scores = json.loads((folder / f"{lang}.scores.json").read_text(encoding="utf-8"))
    return list(preds.values()), scores["scores"]


@pytest.mark.parametrize(
    ("task", "langs", "extra"),
    [("xnli", "en,de", ()), ("mlqa", "en,de-en", ("--eval-split", "dev"))],
)
def test_run_through_mirror_equals_data_dir(
    offline_models: Path,
    mirror: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    langs: str,
    extra: tuple[str, ...],
) -> None:
    model = offline_models / "tiny-xlmr"
    monkeypatch.delenv(HUB_MIRROR_ENV, raising=False)
    local_out = _run(model, task, langs, tmp_path / "local", "--data-dir", str(DATA_DIR), *extra)
    monkeypatch.setenv(HUB_MIRROR_ENV, str(mirror))
    hub_out = _run(model, task, langs, tmp_path / "hub", *extra)
    local, hub = read_result(local_out), read_result(hub_out)
    assert hub.train_source is not None and hub.train_source["kind"] == "hub-mirror"
    assert "revision" not in hub.train_source
    assert set(hub.languages) == set(local.languages) == set(langs.split(","))
    for lang in hub.languages:
        assert hub.languages[lang].scores == local.languages[lang].scores, lang
        assert hub.languages[lang].examples == local.languages[lang].examples == 8
        assert hub.languages[lang].source["kind"] == "hub-mirror"
        assert _predictions(hub_out, lang) == _predictions(local_out, lang), lang
    if task == "mlqa":  # question ids are the data's own: the prediction files are identical
        for lang in hub.languages:
            name = f"{lang}.json"
            assert (hub_out.with_name("seed1.predictions") / name).read_bytes() == (
                local_out.with_name("seed1.predictions") / name
            ).read_bytes()


# --- (c) the preflight names what is wrong, before any training --------------------------------


@pytest.fixture()
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("fine_tune was called although the preflight should have failed")

    monkeypatch.setattr(training_mod, "fine_tune", fail)


def _mlqa_request(registry, offline_models: Path, root: Path, **changes: Any) -> RunRequest:
    values: dict[str, Any] = {
        "model": str(offline_models / "tiny-xlmr"),
        "task": registry.get("mlqa"),
        "seed": 1,
        "results_dir": root / "results",
        "cache_dir": root / "cache",
        "languages": ["en"],
        "overrides": {"epochs": 1, "batch_size": 8},
        "train_limit": 32,
        "eval_limit": 8,
        "eval_split": "dev",
    }
    values.update(changes)
    return RunRequest(**values)


def _script_mirror(mirror: Path, root: Path) -> Path:
    """A mirror whose google/xtreme holds only a loading script (as facebook/mlqa does on the
    Hub); SQuAD is the good replica."""
    (root / "google" / "xtreme").mkdir(parents=True)
    (root / "google" / "xtreme" / "xtreme.py").write_text("import datasets\n")
    (root / "rajpurkar").mkdir()
    (root / "rajpurkar" / "squad").symlink_to(mirror / "rajpurkar" / "squad")
    return root


def test_loading_script_mirror_fails_the_preflight(
    registry,
    offline_models: Path,
    mirror: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_training,
) -> None:
    monkeypatch.setenv(HUB_MIRROR_ENV, str(_script_mirror(mirror, tmp_path / "scripts")))
    with pytest.raises(DataError) as info:
        make_plan(_mlqa_request(registry, offline_models, tmp_path))
    message = info.value.message
    assert message.startswith("cannot load google/xtreme (config MLQA.en.en, split validation")
    assert SCRIPT_MESSAGE in message
    assert "Dataset scripts are no longer supported" in message  # datasets' own words
    assert info.value.hint is not None and "refs/convert/parquet" in info.value.hint
    assert "--data-dir" in info.value.hint


def test_loading_script_on_the_hub_fails_the_preflight(
    registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What datasets>=4 raises for a hub repository with a loading script (RuntimeError, its
    message as in datasets/load.py) is named as such, not blamed on the network."""
    import datasets

    def builder(path: str, name: str, revision: str) -> None:
        raise RuntimeError("Dataset scripts are no longer supported, but found mlqa.py")

    monkeypatch.delenv(HUB_MIRROR_ENV, raising=False)
    monkeypatch.setattr(datasets, "load_dataset_builder", builder)
    mlqa = registry.get("mlqa")
    spec = mlqa.model_copy(update={"hub": mlqa.hub.model_copy(update={"dataset": "facebook/mlqa"})})
    with pytest.raises(DataError) as info:
        check_source(spec, "test", "de-en", data_dir=None)
    assert "facebook/mlqa at this revision " + SCRIPT_MESSAGE in info.value.message
    assert "network" not in info.value.message + str(info.value.hint)
    assert "refs/convert/parquet" in str(info.value.hint)


def test_missing_config_fails_the_preflight(
    registry, offline_models: Path, use_mirror: Path, tmp_path: Path, no_training
) -> None:
    """es-es is not in the replica: named before any training, with the configs there are."""
    with pytest.raises(DataError) as info:
        make_plan(_mlqa_request(registry, offline_models, tmp_path, languages=["en", "es"]))
    assert "google/xtreme has no config 'MLQA.es.es'" in info.value.message
    assert "'MLQA.de.en'" in info.value.message  # the available ones
    assert "hub.config" in str(info.value.hint)


def test_missing_split_fails_the_preflight(
    registry, offline_models: Path, use_mirror: Path, tmp_path: Path, no_training
) -> None:
    with pytest.raises(DataError, match="has no split 'test'; it has validation"):
        make_plan(_mlqa_request(registry, offline_models, tmp_path, eval_split="test"))


def test_mirror_without_the_dataset(registry, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(HUB_MIRROR_ENV, str(tmp_path))
    with pytest.raises(DataError, match="has no replica of hub dataset facebook/xnli") as info:
        check_source(registry.get("xnli"), "test", "de", data_dir=None)
    assert str(tmp_path / "facebook" / "xnli") in info.value.message
    with pytest.raises(DataError, match="has no replica"):
        load_split(registry.get("xnli"), "test", "de", data_dir=None)


def test_offline_is_not_does_not_exist(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE through the real datasets: "cannot be reached", with the variable named;
    a missing dataset or revision says that instead."""
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    monkeypatch.delenv(HUB_MIRROR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    xnli = registry.get("xnli")
    with pytest.raises(DataError) as info:
        check_source(xnli, "test", "de", data_dir=None)
    assert "HF_HUB_OFFLINE is set" in info.value.message
    assert "ConnectionError" in info.value.message
    assert "XBENCH_HUB_MIRROR" in str(info.value.hint) and "--data-dir" in str(info.value.hint)

    monkeypatch.delenv("HF_HUB_OFFLINE")

    def builder(message: str) -> Any:
        def raise_(*args: Any, **kwargs: Any) -> None:
            raise DatasetNotFoundError(message)

        return raise_

    monkeypatch.setattr(
        datasets,
        "load_dataset_builder",
        builder("Dataset 'facebook/xnli' doesn't exist on the Hub or cannot be accessed."),
    )
    with pytest.raises(DataError, match="dataset facebook/xnli does not exist on the Hub"):
        check_source(xnli, "test", "de", data_dir=None)
    monkeypatch.setattr(
        datasets,
        "load_dataset_builder",
        builder(f"Revision '{xnli.hub.revision}' doesn't exist for dataset 'facebook/xnli'"),
    )
    with pytest.raises(DataError, match=f"facebook/xnli has no revision {xnli.hub.revision}"):
        check_source(xnli, "test", "de", data_dir=None)

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Couldn't reach 'facebook/xnli' on the Hub (ConnectError)")

    monkeypatch.setattr(datasets, "load_dataset_builder", unreachable)
    with pytest.raises(DataError, match="cannot be reached"):
        check_source(xnli, "test", "de", data_dir=None)


def test_config_without_its_files_fails_the_preflight(
    registry, mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial mirror (say, a README.md naming every config but only some downloaded): a
    config whose files are missing is named by the preflight, not by load_dataset later."""
    import shutil

    shutil.copytree(mirror / "google" / "xtreme", tmp_path / "google" / "xtreme")
    (tmp_path / "google" / "xtreme" / "MLQA.de.en" / "validation-00000-of-00001.parquet").unlink()
    monkeypatch.setenv(HUB_MIRROR_ENV, str(tmp_path))
    mlqa = registry.get("mlqa")
    check_source(mlqa, "dev", "en", data_dir=None)
    with pytest.raises(DataError, match=r"config MLQA\.de\.en, split validation.*no data file"):
        check_source(mlqa, "dev", "de-en", data_dir=None)


def test_rows_without_the_columns_name_them(registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub dataset whose columns are not the ones the task file maps (say, google/xtreme's
    PAWS-X or XNLI configs) is a DataError naming the missing and present columns."""
    import datasets

    monkeypatch.delenv(HUB_MIRROR_ENV, raising=False)
    monkeypatch.setattr(
        datasets, "load_dataset", lambda *a, **k: [{"premise": "a", "hypothesis": "b", "y": 0}]
    )
    with pytest.raises(DataError, match=r"no column 'label' \(they have 'premise'.*'y'\)"):
        load_split(registry.get("xnli"), "test", "de", data_dir=None)
    monkeypatch.setattr(
        datasets, "load_dataset", lambda *a, **k: [{"id": "1", "question": "q", "context": "c"}]
    )
    with pytest.raises(DataError, match="rajpurkar/squad: its rows have no column 'answers'"):
        load_split(registry.get("mlqa"), "train", "en", data_dir=None, for_training=True)
