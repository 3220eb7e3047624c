"""The fine-tuned-model cache, owned here: where a model folder lives, its work folder (Trainer
checkpoints of an unfinished fine-tune), and the one record that says it is finished.

`<cache>/models/<model>--<task>--<run key>/` holds the selected weights, the tokenizer and
`xbench-model.json`: the training record (selection, steps, loss, batch layout) and the data
record (what was skipped or adjusted, the dev source). The record is written last, atomically,
so a folder without it is unfinished and is never reused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from xbench.io import atomic_write_text, file_sha256, slug

RECORD = "xbench-model.json"
_LEGACY_DATA_RECORD = "train-adjustments.json"  # written beside RECORD before xbench 0.2


def model_dir(cache_dir: Path, model: str, task: str, run_key: str) -> Path:
    return cache_dir / "models" / f"{slug(model)}--{task}--{run_key}"


def work_dir(folder: Path) -> Path:
    """Where the Trainer keeps its checkpoints until the fine-tune is finished."""
    return folder.with_name(folder.name + ".work")


def is_trained(folder: Path) -> bool:
    return (folder / RECORD).is_file()


def read_record(folder: Path) -> dict[str, Any] | None:
    """The record of a finished model folder (None when unfinished): training fields plus
    `data` (skipped, adjusted, dev_source)."""
    if not is_trained(folder):
        return None
    record: dict[str, Any] = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    legacy = folder / _LEGACY_DATA_RECORD
    if "data" not in record and legacy.is_file():
        record["data"] = json.loads(legacy.read_text(encoding="utf-8"))
    record.setdefault("data", {})
    return record


def finish(folder: Path, training: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Mark a folder whose weights and tokenizer are saved as finished, then drop its work
    folder. Returns the record as `read_record` will."""
    record = {**training, "data": data}
    atomic_write_text(folder / RECORD, json.dumps(record, indent=2))
    shutil.rmtree(work_dir(folder), ignore_errors=True)
    return record


WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.msgpack", "*.h5")


def weights_digest(source: str, config: Any = None) -> dict[str, str]:
    """What identifies a model's weights: the SHA-256 of a local folder's weight files (one
    digest over each file's name and hash), or for a hub id the commit transformers resolved."""
    folder = Path(source)
    if folder.is_dir():
        files = sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern)})
        digest = hashlib.sha256()
        for path in files:
            digest.update(f"{path.name}\0{file_sha256(path)}\0".encode())
        return {"sha256": digest.hexdigest(), "files": ", ".join(p.name for p in files)}
    return {"hub_id": source, "commit": str(getattr(config, "_commit_hash", None))}
