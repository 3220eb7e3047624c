"""Local replicas of the Hugging Face Hub repositories xbench's task files name, built from the
sample data in XTREME's download layout (../shared/data), for loading through the real
`datasets.load_dataset` without network access.

A replica is laid out as the parquet repository on the Hub is: one parquet file per config and
split (`<config>/<split>-00000-of-00001.parquet`), written by `datasets` itself (so the features,
class labels included, travel in the file's schema as on the Hub), and a README.md whose YAML
front matter declares `configs:` (config_name, data_files: [{split, path}], the path a glob
such as `de/test-*`) and `dataset_info:` (features, splits) the way hub dataset cards do.
Column names and label encodings are the hub's:

- facebook/xnli: configs per language; premise, hypothesis, label (class label 0 entailment,
  1 neutral, 2 contradiction); splits train, validation, test.
- google-research-datasets/paws-x: configs per language; id (int32), sentence1, sentence2, label
  (class label names "0", "1"; 1 = paraphrase); splits train, validation, test.
- google/xtreme: configs MLQA.<context>.<question>; id, title, context, question, answers
  {answer_start, text}; splits validation, test. Its rows are what xtreme.py produced when the
  Hub converted it to parquet: title, context, question and answer texts stripped of surrounding
  whitespace (the XTREME download keeps, e.g., a trailing space on some questions).
- rajpurkar/squad: config plain_text; id, title, context, question, answers {text,
  answer_start}; split train (squad.py keeps the texts as they are).

`build_mirror(DATA_DIR, root)` writes all four under root/<org>/<name>/, the layout
XBENCH_HUB_MIRROR expects (docs/hub.md).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

XNLI_LABELS = ["entailment", "neutral", "contradiction"]
XNLI_RAW = {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}
HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}

XNLI_FEATURES: list[dict[str, Any]] = [
    {"name": "premise", "dtype": "string"},
    {"name": "hypothesis", "dtype": "string"},
    {
        "name": "label",
        "dtype": {
            "class_label": {
                "names": {"0": XNLI_LABELS[0], "1": XNLI_LABELS[1], "2": XNLI_LABELS[2]}
            }
        },
    },
]
PAWSX_FEATURES: list[dict[str, Any]] = [
    {"name": "id", "dtype": "int32"},
    {"name": "sentence1", "dtype": "string"},
    {"name": "sentence2", "dtype": "string"},
    {"name": "label", "dtype": {"class_label": {"names": {"0": "0", "1": "1"}}}},
]
MLQA_FEATURES: list[dict[str, Any]] = [
    {"name": "id", "dtype": "string"},
    {"name": "title", "dtype": "string"},
    {"name": "context", "dtype": "string"},
    {"name": "question", "dtype": "string"},
    {
        "name": "answers",
        "sequence": [
            {"name": "answer_start", "dtype": "int32"},
            {"name": "text", "dtype": "string"},
        ],
    },
]
SQUAD_FEATURES: list[dict[str, Any]] = [
    {"name": "id", "dtype": "string"},
    {"name": "title", "dtype": "string"},
    {"name": "context", "dtype": "string"},
    {"name": "question", "dtype": "string"},
    {
        "name": "answers",
        "sequence": [
            {"name": "text", "dtype": "string"},
            {"name": "answer_start", "dtype": "int32"},
        ],
    },
]


def _tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))


def _features(yaml_list: list[dict[str, Any]]) -> Any:
    from datasets import Features

    return Features._from_yaml_list(yaml_list)


def write_repo(
    folder: Path,
    features: list[dict[str, Any]],
    configs: dict[str, dict[str, list[dict[str, Any]]]],
) -> Path:
    """Write a hub-style parquet repository: configs[config][split] = rows."""
    from datasets import Dataset

    folder.mkdir(parents=True, exist_ok=True)
    feats = _features(features)
    card_configs, card_infos = [], []
    for config, splits in configs.items():
        files, split_infos = [], []
        for split, rows in splits.items():
            rel = f"{config}/{split}-00000-of-00001.parquet"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            columns = {f["name"]: [row[f["name"]] for row in rows] for f in features}
            Dataset.from_dict(columns, features=feats).to_parquet(str(folder / rel))
            files.append({"split": split, "path": f"{config}/{split}-*"})  # as the Hub writes
            size = (folder / rel).stat().st_size
            split_infos.append({"name": split, "num_bytes": size, "num_examples": len(rows)})
        card_configs.append({"config_name": config, "data_files": files})
        card_infos.append({"config_name": config, "features": features, "splits": split_infos})
    front = yaml.safe_dump(
        {"dataset_info": card_infos, "configs": card_configs}, sort_keys=False, allow_unicode=True
    )
    (folder / "README.md").write_text(
        f"---\n{front}---\n\n# Local replica\n\nBuilt by tests/hub_replica.py from XTREME's "
        "download layout; not the Hub's data.\n",
        encoding="utf-8",
    )
    return folder


# --- per dataset ------------------------------------------------------------------------------


def xnli_rows(data_dir: Path, split: str, lang: str) -> list[dict[str, Any]]:
    rows = _tsv(data_dir / "xnli" / f"{split}-{lang}.tsv")
    return [{"premise": p, "hypothesis": h, "label": XNLI_RAW[y.strip()]} for p, h, y in rows]


def build_xnli(
    data_dir: Path,
    folder: Path,
    langs: Sequence[str] = ("en", "de", "sw", "zh"),
    train_limit: int | None = None,
) -> Path:
    """facebook/xnli: per language validation and test; train for English only (the sample
    data has MultiNLI's English train, the first 15,001 pairs)."""
    configs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for lang in langs:
        splits = {HUB_SPLIT[s]: xnli_rows(data_dir, s, lang) for s in ("dev", "test")}
        if lang == "en":
            splits = {"train": xnli_rows(data_dir, "train", "en")[:train_limit], **splits}
        configs[lang] = splits
    return write_repo(folder, XNLI_FEATURES, configs)


def pawsx_rows(data_dir: Path, split: str, lang: str) -> list[dict[str, Any]]:
    rows = _tsv(data_dir / "pawsx" / f"{split}-{lang}.tsv")
    return [
        {"id": i, "sentence1": a, "sentence2": b, "label": int(y)}
        for i, (a, b, y) in enumerate(rows, start=1)
    ]


def build_pawsx(data_dir: Path, folder: Path) -> Path:
    """google-research-datasets/paws-x: every split file the sample data has (English train and
    dev; dev in de es fr ja ko zh; test in de ko zh)."""
    configs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted((data_dir / "pawsx").glob("*-*.tsv")):
        split, lang = path.stem.split("-")
        configs.setdefault(lang, {})[HUB_SPLIT[split]] = pawsx_rows(data_dir, split, lang)
    return write_repo(folder, PAWSX_FEATURES, configs)


def squad_rows(path: Path, *, strip: bool) -> list[dict[str, Any]]:
    """One row per question, in file order, as squad.py (strip=False) or xtreme.py (strip=True)
    yields them."""

    def s(text: str) -> str:
        return text.strip() if strip else text

    rows = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        title = s(article.get("title", ""))
        for paragraph in article["paragraphs"]:
            context = s(paragraph["context"])
            for qa in paragraph["qas"]:
                rows.append(
                    {
                        "id": qa["id"],
                        "title": title,
                        "context": context,
                        "question": s(qa["question"]),
                        "answers": {
                            "answer_start": [a["answer_start"] for a in qa["answers"]],
                            "text": [s(a["text"]) for a in qa["answers"]],
                        },
                    }
                )
    return rows


def mlqa_file(data_dir: Path, split: str, context: str, question: str) -> Path:
    name = f"{split}-context-{context}-question-{question}.json"
    return data_dir / "mlqa" / "MLQA_V1" / split / name


def build_mlqa(
    data_dir: Path, folder: Path, pairs: Iterable[tuple[str, str]] = (("en", "en"), ("de", "en"))
) -> Path:
    """google/xtreme, MLQA configs only: MLQA.<context>.<question> with its validation split
    (the sample data has no MLQA test files)."""
    configs = {
        f"MLQA.{c}.{q}": {"validation": squad_rows(mlqa_file(data_dir, "dev", c, q), strip=True)}
        for c, q in pairs
    }
    return write_repo(folder, MLQA_FEATURES, configs)


def build_squad(data_dir: Path, folder: Path) -> Path:
    """rajpurkar/squad: config plain_text, split train (the sample's 4,370 questions)."""
    rows = squad_rows(data_dir / "squad" / "train-v1.1.json", strip=False)
    return write_repo(folder, SQUAD_FEATURES, {"plain_text": {"train": rows}})


MLQA_PAIRS = (("en", "en"), ("de", "en"), ("de", "de"), ("en", "de"))


def build_mirror(data_dir: Path, root: Path, *, xnli_train_limit: int | None = 2000) -> Path:
    """Replicas of every hub repository the bundled task files name, under root/<org>/<name>."""
    build_xnli(data_dir, root / "facebook" / "xnli", train_limit=xnli_train_limit)
    build_pawsx(data_dir, root / "google-research-datasets" / "paws-x")
    build_mlqa(data_dir, root / "google" / "xtreme", pairs=MLQA_PAIRS)
    build_squad(data_dir, root / "rajpurkar" / "squad")
    return root
