"""Load one split of one task in one language, from the Hub (pinned revision) or a local folder.

Both sources yield the same examples (the task type parses them) and a `source` record that
goes into the result file: the hub revision, or the file path and its SHA-256. `check_source`
is the preflight form: it proves a source can be read (a local file exists and parses, a hub
dataset/config/split resolves) before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xbench.errors import DataError
from xbench.io import file_sha256
from xbench.languages import is_pair, placeholders
from xbench.taskspec import HubSource, Split, TaskSpec
from xbench.tasktypes import get_task_type


@dataclass
class SplitData:
    examples: list[Any]
    source: dict[str, Any]
    skipped: dict[str, int] = field(default_factory=dict)


def _pattern(spec: TaskSpec, split: Split) -> str:
    pattern = spec.local.pattern(split)
    if pattern is None:
        raise DataError(
            f"task {spec.name} declares no local {split} file",
            hint=f"add local.{split} to the task file, or do not ask for the {split} split",
        )
    return pattern


def local_path(spec: TaskSpec, split: Split, lang: str, data_dir: Path) -> Path:
    pattern = _pattern(spec, split)
    if is_pair(lang) and "{context}" not in pattern:
        raise DataError(
            f"task {spec.name}: the {split} file pattern '{pattern}' has no {{context}}"
        )
    return data_dir / pattern.format(split=split, **placeholders(lang))


def require_local_file(spec: TaskSpec, split: Split, lang: str, data_dir: Path) -> Path:
    """The local file of (split, lang), or a DataError naming the expected path and layout."""
    if not data_dir.is_dir():
        raise DataError(
            f"data folder {data_dir} does not exist",
            hint="pass --data-dir pointing at an XTREME download folder (e.g. ../shared/data)",
        )
    path = local_path(spec, split, lang, data_dir)
    if not path.is_file():
        raise DataError(
            f"missing data file for task {spec.name}, {split} split, language {lang}: "
            f"expected {path}",
            hint=f"the layout is <data-dir>/{_pattern(spec, split)} (XTREME's download "
            "layout); restrict --languages to the languages you have",
        )
    return path


def load_split(
    spec: TaskSpec,
    split: Split,
    lang: str,
    *,
    data_dir: Path | None,
    limit: int | None = None,
    for_training: bool = False,
) -> SplitData:
    """Examples of `split` in `lang` (first `limit` of them), with where they came from."""
    if data_dir is not None:
        data = _load_local(spec, split, lang, data_dir, for_training)
    else:
        data = _load_hub(spec, split, lang, for_training)
    if limit is not None and limit < len(data.examples):
        data.examples = data.examples[:limit]
        data.source["limit"] = limit
    data.source["examples"] = len(data.examples)
    return data


def check_source(
    spec: TaskSpec, split: Split, lang: str, *, data_dir: Path | None, for_training: bool = False
) -> None:
    """Fail now, with a DataError naming the culprit, if (split, lang) cannot be read: a local
    file must exist and parse; a hub dataset, config and split must resolve at the revision."""
    if data_dir is not None:
        _load_local(spec, split, lang, data_dir, for_training)
        return
    hub, config, hub_split = _hub_target(spec, split, lang)
    try:
        import datasets

        builder = datasets.load_dataset_builder(hub.dataset, config, revision=hub.revision)
    except Exception as err:
        raise _hub_error(hub, config, hub_split, err) from None
    known = getattr(getattr(builder, "info", None), "splits", None)
    if known and hub_split not in known:
        raise DataError(
            f"{hub.dataset} (config {config}, revision {hub.revision[:10]}) has no split "
            f"'{hub_split}'; it has {', '.join(sorted(known))}",
            hint=f"fix hub.splits in the task file of {spec.name}",
        )


def _load_local(
    spec: TaskSpec, split: Split, lang: str, data_dir: Path, for_training: bool
) -> SplitData:
    path = require_local_file(spec, split, lang, data_dir)
    parsed = get_task_type(spec.type).read_local(spec, path, for_training=for_training)
    source = {
        "kind": "local",
        "path": str(path.relative_to(data_dir)),
        "sha256": file_sha256(path),
    }
    return SplitData(parsed.examples, source, parsed.skipped)


def _hub_target(spec: TaskSpec, split: Split, lang: str) -> tuple[HubSource, str, str]:
    """(hub source, config name, hub split name) of (split, lang)."""
    hub = spec.hub
    if hub is None:
        raise DataError(
            f"task {spec.name} has no hub source", hint="pass --data-dir with local files"
        )
    if split == "train" and hub.train is not None:
        hub = hub.train
    hub_split = hub.splits.get(split)
    if hub_split is None:
        raise DataError(f"task {spec.name}: hub source has no '{split}' split")
    return hub, hub.config.format(**placeholders(lang)), hub_split


def _hub_error(hub: HubSource, config: str, hub_split: str, err: Exception) -> DataError:
    return DataError(
        f"cannot load {hub.dataset} (config {config}, split {hub_split}, revision "
        f"{hub.revision[:10]}) from the Hugging Face Hub: {type(err).__name__}: {err}",
        hint="without network access use --data-dir with files in XTREME's download layout",
    )


def _load_hub(spec: TaskSpec, split: Split, lang: str, for_training: bool) -> SplitData:
    hub, config, hub_split = _hub_target(spec, split, lang)
    try:
        import datasets

        rows = datasets.load_dataset(hub.dataset, config, split=hub_split, revision=hub.revision)
    except Exception as err:
        raise _hub_error(hub, config, hub_split, err) from None
    parsed = get_task_type(spec.type).from_hub_rows(spec, rows, for_training=for_training)
    source = {
        "kind": "hub",
        "dataset": hub.dataset,
        "revision": hub.revision,
        "config": config,
        "split": hub_split,
    }
    return SplitData(parsed.examples, source, parsed.skipped)
