"""Load one split of one task in one language, from the Hub (pinned revision) or a local folder.

Both sources yield the same examples (the task type parses them) and a `source` record that
goes into the result file: the hub revision, or the file path and its SHA-256. A hub dataset
may be replaced by a local folder (XBENCH_HUB_MIRROR=DIR holds DIR/<org>/<name>, or the task
file names a folder): datasets reads it without a revision, and the record (kind "hub-mirror")
names the folder and each data file's SHA-256, never a revision. `check_source` is the preflight
form: it proves a source can be read (a local file exists and parses, a hub dataset/config/split
resolves) before any training starts.
"""

from __future__ import annotations

import os
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
    file must exist and parse; a hub dataset, config and split must resolve at the revision (a
    loading-script dataset, a missing config, split or revision and no network each say so).
    A hub mirror or folder (see `hub_folder`) is checked the same way, without a revision."""
    if data_dir is not None:
        _load_local(spec, split, lang, data_dir, for_training)
        return
    target = _hub_target(spec, split, lang)
    try:
        import datasets

        if target.folder is None:
            builder = datasets.load_dataset_builder(
                target.hub.dataset, target.config, revision=target.hub.revision
            )
        else:
            builder = datasets.load_dataset_builder(str(target.folder), target.config)
    except Exception as err:
        raise _hub_error(spec, target, err) from None
    known = _builder_splits(builder)
    if known and target.split not in known:
        raise DataError(
            f"{target.describe()} has no split '{target.split}'; it has {', '.join(sorted(known))}",
            hint=f"fix hub.splits in the task file of {spec.name}",
        )
    files = getattr(getattr(builder, "config", None), "data_files", None)
    if files is not None and target.split in files and not files[target.split]:
        raise DataError(
            f"{target.describe()}: no data file matches the split's data_files pattern",
            hint="the README.md's `configs:` names files that are not there; download them "
            "(a mirror may hold only some configs, but all files of each one it is asked for)",
        )


def _builder_splits(builder: Any) -> list[str]:
    """The split names a builder knows before downloading: the card's split infos, else the
    data files its config resolved (a parquet repository's `configs:` in its README)."""
    known = getattr(getattr(builder, "info", None), "splits", None)
    if known:
        return list(known)
    files = getattr(getattr(builder, "config", None), "data_files", None)
    return list(files) if files else []


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


HUB_MIRROR_ENV = "XBENCH_HUB_MIRROR"


def hub_folder(dataset: str) -> Path | None:
    """The local folder that stands for hub dataset `dataset`, or None to read the Hub.

    `dataset` itself, when it is a folder (datasets.load_dataset would read that folder and
    ignore any revision); else DIR/<org>/<name> when XBENCH_HUB_MIRROR=DIR is set, a local
    replica of the hub repository (parquet files plus a README.md declaring `configs:`, see
    docs/hub.md). A mirror without that folder is an error, never a silent fall back to the Hub.
    """
    if Path(dataset).expanduser().is_dir():
        return Path(dataset).expanduser().resolve()
    mirror = os.environ.get(HUB_MIRROR_ENV)
    if not mirror:
        return None
    folder = Path(mirror).expanduser() / dataset
    if not folder.is_dir():
        raise DataError(
            f"{HUB_MIRROR_ENV}={mirror} has no replica of hub dataset {dataset}: "
            f"{folder} is not a folder",
            hint=f"put the repository's files (parquet files and README.md) in {folder} "
            f"(docs/hub.md), unset {HUB_MIRROR_ENV} to read the Hub, or use --data-dir",
        )
    return folder.resolve()


@dataclass(frozen=True)
class _HubTarget:
    """What one (split, lang) reads: hub source, config and hub split name, and the local
    folder that replaces the Hub repository (None: the Hub at the pinned revision)."""

    hub: HubSource
    config: str
    split: str
    folder: Path | None

    def describe(self) -> str:
        where = (
            f"revision {self.hub.revision[:10]}"
            if self.folder is None
            else f"local folder {self.folder}, no revision"
        )
        return f"{self.hub.dataset} (config {self.config}, split {self.split}, {where})"


def _hub_target(spec: TaskSpec, split: Split, lang: str) -> _HubTarget:
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
    config = hub.config.format(**placeholders(lang))
    return _HubTarget(hub, config, hub_split, hub_folder(hub.dataset))


# What datasets raises (message fragments; datasets >= 4 and 3.x) for a repository or folder
# holding a loading script, and the names of exceptions meaning "the Hub cannot be reached".
_SCRIPT_SIGNS = ("Dataset scripts are no longer supported", "trust_remote_code")
_OFFLINE_TYPES = {
    "ConnectionError",
    "OfflineModeIsEnabled",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "TimeoutException",
    "Timeout",
    "ProxyError",
}


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _offline_env() -> str | None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return name
    return None


def _hub_error(spec: TaskSpec, t: _HubTarget, err: Exception) -> DataError:
    """A DataError naming why datasets could not open `t`: a loading script, no network, a
    dataset, revision, config or split that does not exist, or no data files."""
    cause = f"{type(err).__name__}: {err}"
    head = f"cannot load {t.describe()}"
    text = str(err)
    names = {type(e).__name__ for e in _chain(err)}
    task_file = f"the task file of {spec.name}"
    if isinstance(err, RuntimeError | ValueError) and any(s in text for s in _SCRIPT_SIGNS):
        if t.folder is None:
            at = "this revision"
            fix = (
                f"in {task_file}, pin a parquet revision under hub: (refs/convert/parquet, or a "
                "commit after the repository's conversion to parquet) or name a parquet dataset"
            )
        else:
            at = f"folder {t.folder}"
            fix = (
                "replace the folder's script by parquet files and a README.md declaring "
                "configs: (docs/hub.md; a script repository's parquet files are on its Hub "
                "branch refs/convert/parquet)"
            )
        return DataError(
            f"{head}: {t.hub.dataset} at {at} is a loading-script dataset, which datasets>=4 "
            f"cannot load ({cause})",
            hint=f"{fix}; or use --data-dir with XTREME's download layout",
        )
    if t.folder is None and names & _OFFLINE_TYPES:
        offline = _offline_env()
        why = (
            f"{offline} is set, so datasets does not contact the Hub"
            if offline
            else "the Hugging Face Hub cannot be reached (no network access?)"
        )
        return DataError(
            f"{head}: {why} ({cause})",
            hint=f"without network access use --data-dir with XTREME's download layout, or "
            f"{HUB_MIRROR_ENV}=DIR with local replicas of the hub repositories (docs/hub.md)"
            + (f"; or unset {offline}" if offline else ""),
        )
    if "BuilderConfig" in text and "not found" in text:
        available = text.split("Available:", 1)[-1].strip() if "Available:" in text else "?"
        return DataError(
            f"{head}: {t.hub.dataset} has no config '{t.config}' (available: {available})",
            hint=f"fix hub.config in {task_file}, or leave that language out (--languages)",
        )
    if "Unknown split" in text or "Bad split" in text:
        return DataError(
            f"{head}: config {t.config} has no split '{t.split}' ({cause})",
            hint=f"fix hub.splits in {task_file}",
        )
    if "Revision" in text and "doesn't exist" in text:
        return DataError(
            f"{head}: {t.hub.dataset} has no revision {t.hub.revision} ({cause})",
            hint=f"pin an existing commit of {t.hub.dataset} in hub.revision of {task_file}",
        )
    if "DatasetNotFoundError" in names:
        return DataError(
            f"{head}: dataset {t.hub.dataset} does not exist on the Hub or cannot be accessed "
            f"({cause})",
            hint=f"check hub.dataset in {task_file}; a gated dataset needs `hf auth login`",
        )
    if isinstance(err, FileNotFoundError) and text.startswith("Unable to find '"):
        missing = text.split("'")[1]
        return DataError(
            f"{head}: data file {missing} is missing",
            hint="the README.md's `configs:` names a file that is not there; download it "
            "(a mirror may hold only some configs, but all files of each one it is asked for)",
        )
    if names & {"DataFilesNotFoundError", "EmptyDatasetError"}:
        return DataError(
            f"{head}: no data files for config {t.config} ({cause})",
            hint="a parquet repository (or mirror folder) needs its data files and a README.md "
            "whose `configs:` names them (docs/hub.md)",
        )
    return DataError(
        f"{head}: {cause}",
        hint="without network access use --data-dir with files in XTREME's download layout, "
        f"or {HUB_MIRROR_ENV}=DIR with local replicas of the hub repositories (docs/hub.md)",
    )


def _folder_files(t: _HubTarget) -> list[dict[str, str]]:
    """Path (relative to the folder) and SHA-256 of each data file datasets resolves for the
    target's config and split: the files load_dataset read."""
    import datasets

    assert t.folder is not None
    builder = datasets.load_dataset_builder(str(t.folder), t.config)
    files = (getattr(builder.config, "data_files", None) or {}).get(t.split) or []
    out = []
    for name in files:
        path = Path(str(name))
        try:
            rel = str(path.resolve().relative_to(t.folder))
        except ValueError:
            rel = str(path)
        out.append({"path": rel, "sha256": file_sha256(path)})
    return out


def _load_hub(spec: TaskSpec, split: Split, lang: str, for_training: bool) -> SplitData:
    t = _hub_target(spec, split, lang)
    try:
        import datasets

        if t.folder is None:
            rows = datasets.load_dataset(
                t.hub.dataset, t.config, split=t.split, revision=t.hub.revision
            )
        else:  # a folder has no revisions: none is passed, none is recorded
            rows = datasets.load_dataset(str(t.folder), t.config, split=t.split)
            files = _folder_files(t)
    except Exception as err:
        raise _hub_error(spec, t, err) from None
    parsed = get_task_type(spec.type).from_hub_rows(spec, rows, for_training=for_training)
    source: dict[str, Any]
    if t.folder is None:
        source = {
            "kind": "hub",
            "dataset": t.hub.dataset,
            "revision": t.hub.revision,
            "config": t.config,
            "split": t.split,
        }
    else:
        source = {
            "kind": "hub-mirror",
            "dataset": t.hub.dataset,
            "folder": str(t.folder),
            "config": t.config,
            "split": t.split,
            "files": files,
        }
    return SplitData(parsed.examples, source, parsed.skipped)
