"""Load one split of one task in one language, from the Hub (pinned revision) or a local folder.

Both sources yield the same examples (the task type parses them) and a `source` record that
goes into the result file: the hub revision, or the file path and its SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from xbench.errors import DataError
from xbench.taskspec import Split, TaskSpec
from xbench.tasktypes import get_task_type


@dataclass
class SplitData:
    examples: list[Any]
    source: dict[str, Any]
    skipped: dict[str, int] = field(default_factory=dict)


def language_parts(spec: TaskSpec, lang: str) -> dict[str, str]:
    """Placeholders for a language key: 'de' -> lang=context=question=de; 'de-en' -> context de,
    question en (only for tasks with cross_lingual_pairs)."""
    if "-" in lang and spec.cross_lingual_pairs:
        context, question = lang.split("-", 1)
        return {"lang": context, "context": context, "question": question}
    return {"lang": lang, "context": lang, "question": lang}


@cache
def file_sha256(path: Path, size: int, mtime_ns: int) -> str:  # size/mtime key the cache
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(spec: TaskSpec, split: Split, lang: str, data_dir: Path) -> Path:
    pattern = spec.local.pattern(split)
    parts = language_parts(spec, lang)
    if parts["context"] != parts["question"] and "{context}" not in pattern:
        raise DataError(
            f"task {spec.name}: the {split} file pattern '{pattern}' has no {{context}}"
        )
    return data_dir / pattern.format(split=split, **parts)


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
            hint=f"the layout is <data-dir>/{spec.local.pattern(split)} (XTREME's download "
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


def _load_local(
    spec: TaskSpec, split: Split, lang: str, data_dir: Path, for_training: bool
) -> SplitData:
    path = require_local_file(spec, split, lang, data_dir)
    stat = path.stat()
    parsed = get_task_type(spec.type).read_local(spec, path, for_training=for_training)
    source = {
        "kind": "local",
        "path": str(path.relative_to(data_dir)),
        "sha256": file_sha256(path, stat.st_size, stat.st_mtime_ns),
    }
    return SplitData(parsed.examples, source, parsed.skipped)


def _load_hub(spec: TaskSpec, split: Split, lang: str, for_training: bool) -> SplitData:
    hub = spec.hub
    if hub is None:
        raise DataError(
            f"task {spec.name} has no hub source", hint="pass --data-dir with local files"
        )
    if split == "train" and hub.train is not None:
        hub = hub.train
    parts = language_parts(spec, lang)
    config = hub.config.format(**parts)
    hub_split = hub.splits.get(split)
    if hub_split is None:
        raise DataError(f"task {spec.name}: hub source has no '{split}' split")
    try:
        import datasets

        rows = datasets.load_dataset(hub.dataset, config, split=hub_split, revision=hub.revision)
    except Exception as err:
        raise DataError(
            f"cannot load {hub.dataset} (config {config}, split {hub_split}, revision "
            f"{hub.revision[:10]}) from the Hugging Face Hub: {type(err).__name__}: {err}",
            hint="without network access use --data-dir with files in XTREME's download layout",
        ) from None
    parsed = get_task_type(spec.type).from_hub_rows(spec, rows, for_training=for_training)
    source = {
        "kind": "hub",
        "dataset": hub.dataset,
        "revision": hub.revision,
        "config": config,
        "split": hub_split,
    }
    return SplitData(parsed.examples, source, parsed.skipped)
