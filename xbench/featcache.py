"""Tokenised features cached on disk, so that re-running, adding a language or re-scoring costs
only prediction, and a new seed or learning rate does not tokenise the training set again.

An entry's key holds everything its content depends on: a fingerprint of the data (the
examples, or the texts given to the tokenizer), of the tokenizer (its serialised state, not its
name, so the copy saved beside a fine-tuned model hits the entries of the original), the
settings the task type declares as deciding its features (`TaskType.feature_settings`: max
length for all, QA's stride and query length for QA), the task, its type and version, the
xbench version and FORMAT. A change to how a task type featurises must bump the task's version.

Entries are column-wise `.npz` files under `<cache>/features/` (no pickle: loading one cannot
run code), written atomically; an unreadable entry is recomputed and rewritten, never fatal.

Training features are cached around `TaskType.train_features`. Prediction tokenises inside each
task type's `predict()`, so there the cache sits around the tokenizer itself: `CachedTokenizer`
serves batch calls (a list of texts) from the cache; every other use goes to the real tokenizer.
Calls with `is_split_into_words=True` (token classification) also store each row's word ids,
so a hit answers `word_ids(i)` as the real encoding does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import weakref
from collections.abc import Callable, Iterable
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xbench import __version__
from xbench.io import atomic_write_bytes
from xbench.tasktypes import get_task_type

if TYPE_CHECKING:
    from xbench.taskspec import Hyperparameters, TaskSpec
    from xbench.tasktypes.base import TaskType

FORMAT = 2  # 2: features carry token_type_ids where the tokenizer makes them (BERT)
Columns = dict[str, list]  # name -> one value per row: a scalar, a list of ints or of int pairs


class Uncacheable(ValueError):
    """Features of a shape the column format cannot hold exactly; they are used, not stored."""


def data_fingerprint(items: Iterable[Any]) -> str:
    """SHA-256 over the items' reprs: examples are frozen dataclasses, texts are strings."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(repr(item).encode())
        digest.update(b"\0")
    return digest.hexdigest()


_TOKENIZER_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """SHA-256 of what decides a tokenizer's output; computed once per tokenizer object."""
    try:
        return _TOKENIZER_FINGERPRINTS[tokenizer]
    except (KeyError, TypeError):
        pass
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        for call_setting in ("truncation", "padding"):  # set by the last call, not identity
            state.pop(call_setting, None)
    else:
        state = {"vocab": sorted(tokenizer.get_vocab().items())}
    state["class"] = type(tokenizer).__name__
    state["sides"] = [getattr(tokenizer, "truncation_side", None), tokenizer.padding_side]
    fingerprint = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
    with contextlib.suppress(TypeError):  # an object without weak references: not memoised
        _TOKENIZER_FINGERPRINTS[tokenizer] = fingerprint
    return fingerprint


def key_parts(
    kind: str, spec: TaskSpec, hp: Hyperparameters, tokenizer: Any, data: str, **extra: Any
) -> dict[str, Any]:
    """The key of one entry, readable (it is stored in the entry for inspection)."""
    return {
        "kind": kind,
        "task": [spec.name, spec.type, spec.version],
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "data": data,
        **get_task_type(spec.type).feature_settings(hp),
        "xbench": __version__,
        "format": FORMAT,
        **extra,
    }


class FeatureCache:
    """Entries under one folder; `hits` and `misses` count lookups (for logs and tests)."""

    def __init__(self, root: Path, log: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.log = log or (lambda _: None)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, parts: dict[str, Any]) -> Path:
        return self.root / f"{self.key(parts)}.npz"

    def get_or_compute(
        self, parts: dict[str, Any], compute: Callable[[], tuple[Columns, dict[str, Any]]]
    ) -> tuple[Columns, dict[str, Any]]:
        """The cached (columns, extra) for `parts`, or compute() stored for next time. `extra`
        is a small JSON-able record kept beside the columns (e.g. truncation counts)."""
        path = self.path(parts)
        if path.exists():
            try:
                found = _load(path, self.key(parts))
                self.hits += 1
                return found
            except Exception as err:  # corrupt, truncated, foreign: recompute
                self.log(f"  feature cache: unreadable {path.name} ({err!r}); recomputing")
        self.misses += 1
        columns, extra = compute()
        try:
            arrays, kinds = _encode(columns)
        except Uncacheable:
            return columns, extra
        meta = {"key": self.key(parts), "parts": parts, "kinds": kinds, "extra": extra}
        try:
            _write(path, arrays, meta)
        except OSError as err:  # a WriteError names the file and the cause
            self.log(f"  feature cache: not cached ({getattr(err, 'message', err)})")
        return _decode(arrays, kinds), extra  # exactly what a hit will return


def _encode(columns: Columns) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for name, values in columns.items():
        values = list(values)
        try:
            if values and all(isinstance(v, list) for v in values):
                flat = np.asarray([x for v in values for x in v])
                arrays[f"{name}.lengths"] = np.asarray([len(v) for v in values], dtype=np.int64)
                first = next((v[0] for v in values if v), None)
                kinds[name] = "tuples" if isinstance(first, tuple) else "lists"
            else:
                flat = np.asarray(values)
                kinds[name] = "scalars"
        except ValueError as err:  # ragged pairs and the like
            raise Uncacheable(f"column {name}: {err}") from None
        allowed = "iubfU" if kinds[name] == "scalars" else "iubf"
        if flat.dtype.kind not in allowed:
            raise Uncacheable(f"column {name}: values of dtype {flat.dtype}")
        if flat.dtype.kind == "i" and flat.size and -(2**31) <= flat.min() <= flat.max() < 2**31:
            flat = flat.astype(np.int32)  # token ids: half the disk and load time
        arrays[name] = flat
    return arrays, kinds


def _decode(arrays: Any, kinds: dict[str, str]) -> Columns:
    columns: Columns = {}
    for name, kind in kinds.items():
        flat = arrays[name].tolist()
        if kind == "scalars":
            columns[name] = flat
            continue
        if kind == "tuples":
            flat = [tuple(x) if isinstance(x, list) else x for x in flat]
        ends = list(accumulate(arrays[f"{name}.lengths"].tolist()))
        columns[name] = [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    return columns


def _write(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Written atomically (xbench.io): a reader sees no entry or a whole one."""
    buffer = io.BytesIO()
    payload: dict[str, Any] = {"__meta__": np.asarray(json.dumps(meta, default=str)), **arrays}
    np.savez(buffer, **payload)
    atomic_write_bytes(path, buffer.getvalue())


def _load(path: Path, key: str) -> tuple[Columns, dict[str, Any]]:
    with np.load(path, allow_pickle=False) as arrays:
        meta = json.loads(str(arrays["__meta__"]))
        if meta["key"] != key:
            raise ValueError(f"entry holds key {meta['key']}")
        return _decode(arrays, meta["kinds"]), meta["extra"]


def _rows_to_columns(rows: list[dict[str, Any]]) -> Columns:
    names = list(rows[0]) if rows else []
    if any(list(row) != names for row in rows):
        raise Uncacheable("feature rows with different fields")
    return {name: [row[name] for row in rows] for name in names}


def cached_train_features(
    cache: FeatureCache,
    task_type: TaskType,
    spec: TaskSpec,
    tokenizer: Any,
    examples: list[Any],
    hp: Hyperparameters,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """`task_type.train_features(...)`, from the cache when the same data, tokenizer and
    settings were featurised before."""
    parts = key_parts("train", spec, hp, tokenizer, data_fingerprint(examples))
    computed: dict[str, Any] = {}

    def compute() -> tuple[Columns, dict[str, Any]]:
        computed["rows"], adjusted = task_type.train_features(spec, tokenizer, examples, hp)
        computed["adjusted"] = adjusted
        return _rows_to_columns(computed["rows"]), adjusted

    try:
        columns, adjusted = cache.get_or_compute(parts, compute)
    except Uncacheable:  # rows of different fields: used as they are
        return computed["rows"], computed["adjusted"]
    names = list(columns)
    n_rows = len(columns[names[0]]) if names else 0
    return [{name: columns[name][i] for name in names} for i in range(n_rows)], adjusted


class CachedTokenizer:
    """Stands in for the tokenizer given to a task type's `predict()`.

    A batch call (a list of texts, optionally a list of pairs) returns a BatchEncoding of plain
    columns, from the cache when the same texts were tokenised with the same tokenizer, call
    arguments and task settings; the result is the same on a hit and a miss (no `.encodings`).
    Single-text calls and all attributes go to the real tokenizer.
    """

    def __init__(
        self, tokenizer: Any, cache: FeatureCache, spec: TaskSpec, hp: Hyperparameters
    ) -> None:
        self._tokenizer = tokenizer
        self._cache = cache
        self._spec = spec
        self._hp = hp

    def __getattr__(self, name: str) -> Any:
        if name == "_tokenizer":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self._tokenizer, name)

    def __call__(self, text: Any = None, text_pair: Any = None, *args: Any, **kwargs: Any) -> Any:
        if args or not isinstance(text, list) or kwargs.get("return_tensors"):
            return self._tokenizer(text, text_pair, *args, **kwargs)
        from transformers import BatchEncoding

        data = data_fingerprint([text, text_pair])
        parts = key_parts("tokenize", self._spec, self._hp, self._tokenizer, data, call=kwargs)
        words = bool(kwargs.get("is_split_into_words"))

        def compute() -> tuple[Columns, dict[str, Any]]:
            enc = self._tokenizer(text, text_pair, **kwargs)
            columns = dict(enc)
            if words:  # None (special tokens) stored as -1: the columns hold ints only
                columns[WORD_IDS] = [
                    [-1 if w is None else w for w in enc.word_ids(i)] for i in range(len(text))
                ]
            return columns, {}

        columns, _ = self._cache.get_or_compute(parts, compute)
        if not words:
            return BatchEncoding(columns)
        word_ids = columns.pop(WORD_IDS)
        return _word_aligned_class()(columns, word_ids)


WORD_IDS = "__word_ids__"


@functools.cache
def _word_aligned_class() -> type:
    """A BatchEncoding of plain columns that answers `word_ids(i)` as a fast tokenizer's does
    (defined on first use: transformers is imported lazily)."""
    from transformers import BatchEncoding

    class WordAlignedEncoding(BatchEncoding):
        def __init__(self, columns: Columns, word_ids: list[list[int]]) -> None:
            super().__init__(columns)
            self._word_ids = word_ids

        def word_ids(self, batch_index: int = 0) -> list[int | None]:
            return [None if w < 0 else w for w in self._word_ids[batch_index]]

    return WordAlignedEncoding
