"""Zero-shot transfer really happens: fine-tune the real pretrained offline checkpoint on a few
thousand English XNLI pairs and beat chance in German, French, Spanish and Chinese by a margin
that sampling noise cannot explain. Also checks the result file and the table."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from xbench.results import read_result

pytestmark = pytest.mark.integration

TARGETS = ["de", "fr", "es", "zh"]
EVAL_LIMIT = 1000


def _majority_rate(data_dir: Path, lang: str) -> float:
    lines = (data_dir / "xnli" / f"test-{lang}.tsv").read_text(encoding="utf-8").splitlines()
    labels = Counter(line.rsplit("\t", 1)[1] for line in lines[:EVAL_LIMIT])
    return max(labels.values()) / sum(labels.values())


def test_xnli_transfer_beats_chance(offline_models: Path, data_dir: Path, tmp_path: Path) -> None:
    model = offline_models / "multilingual-e5-small-xlmr-v42k"
    results = tmp_path / "results"
    cmd = [
        sys.executable, "-m", "xbench.cli", "run",
        "--model", str(model), "--tasks", "xnli", "--data-dir", str(data_dir),
        "--languages", ",".join(["en", *TARGETS]),
        "--train-limit", "4000", "--eval-limit", str(EVAL_LIMIT),
        "--set", "epochs=1", "--set", "learning_rate=4e-5", "--set", "warmup=0.1",
        "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]

    files = list(results.rglob("seed1.json"))
    assert len(files) == 1
    result = read_result(files[0])
    assert result.training["selection"]["policy"] == "best-dev"
    assert result.train_source["examples"] == 4000
    for lang in TARGETS:
        lang_result = result.languages[lang]
        assert lang_result.examples == EVAL_LIMIT
        accuracy = lang_result.scores["accuracy"]
        chance = _majority_rate(data_dir, lang)
        # 4 standard errors above the majority-class rate: p < 1e-4 under "no transfer".
        margin = 4 * math.sqrt(chance * (1 - chance) / EVAL_LIMIT)
        print(f"{lang}: accuracy {accuracy:.3f} (chance {chance:.3f}, bar {chance + margin:.3f})")
        assert accuracy > chance + margin, f"{lang}: {accuracy:.3f} <= {chance + margin:.3f}"
        preds = json.loads((files[0].parent / lang_result.predictions_file).read_text())
        assert len(preds) == EVAL_LIMIT

    table = subprocess.run(
        [sys.executable, "-m", "xbench.cli", "table", str(results)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    header = next(line for line in table.splitlines() if line.startswith("| model"))
    for column in ["en", *TARGETS, "avg", "avg-en"]:
        assert f" {column} " in header
    de = f"{100 * result.languages['de'].scores['accuracy']:.1f}"
    assert de in table
