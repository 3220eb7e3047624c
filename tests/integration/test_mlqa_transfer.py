"""MLQA end to end: fine-tune the real pretrained offline checkpoint on the SQuAD sample,
evaluate MLQA dev in all 7 languages, and beat a trivial baseline (the first sentence of the
context, scored by the same official metric) in English and at least two other languages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xbench.metrics import mlqa
from xbench.results import read_result
from xbench.squad import read_squad_file

pytestmark = pytest.mark.integration

LANGS = ["en", "es", "de", "ar", "hi", "vi", "zh"]
EVAL_LIMIT = 200
_SENTENCE_END = re.compile(r"(?<=[.!?。！？।])\s*")


def first_sentence(context: str) -> str:
    return _SENTENCE_END.split(context.strip(), maxsplit=1)[0]


def baseline_f1(data_dir: Path, lang: str) -> float:
    path = data_dir / "mlqa" / "MLQA_V1" / "dev" / f"dev-context-{lang}-question-{lang}.json"
    examples, _ = read_squad_file(path, for_training=False)
    examples = examples[:EVAL_LIMIT]
    golds = {e.id: list(e.answers) for e in examples}
    preds = {e.id: first_sentence(e.context) for e in examples}
    return mlqa.score_predictions(golds, preds, lang)["f1"] / 100


def test_first_sentence_baseline_is_a_sentence() -> None:
    assert first_sentence("Berlin is big. It has 3 million people.") == "Berlin is big."
    assert first_sentence("北京很大。人口很多。") == "北京很大。"


def test_mlqa_transfer_beats_first_sentence(
    offline_models: Path, data_dir: Path, tmp_path: Path
) -> None:
    model = offline_models / "multilingual-e5-small-xlmr-v42k"
    results = tmp_path / "results"
    cmd = [
        sys.executable, "-m", "xbench.cli", "run",
        "--model", str(model), "--tasks", "mlqa", "--data-dir", str(data_dir),
        "--eval-split", "dev", "--train-limit", "1500", "--eval-limit", str(EVAL_LIMIT),
        "--set", "epochs=1", "--set", "learning_rate=1e-4", "--set", "warmup=0.1",
        "--set", "max_length=256",
        "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = results.rglob("seed1.json")
    result = read_result(path)
    assert sorted(result.languages) == sorted(LANGS)
    assert result.training["selection"]["policy"] == "final"

    beaten = []
    for lang in LANGS:
        scores = result.languages[lang].scores
        base = baseline_f1(data_dir, lang)
        print(f"{lang}: F1 {scores['f1']:.3f} EM {scores['exact_match']:.3f} baseline {base:.3f}")
        assert 0 <= scores["exact_match"] <= scores["f1"] + 1e-9 <= 1 + 1e-9
        # "well above": at least 1.5x the baseline and 5 F1 points more
        if scores["f1"] > max(1.5 * base, base + 0.05):
            beaten.append(lang)
        # predictions are MLQA's official format and re-score to the stored numbers
        preds = json.loads((path.parent / result.languages[lang].predictions_file).read_text())
        file = data_dir / "mlqa" / "MLQA_V1" / "dev" / f"dev-context-{lang}-question-{lang}.json"
        examples, _ = read_squad_file(file, for_training=False)
        golds = {e.id: list(e.answers) for e in examples[:EVAL_LIMIT]}
        rescored = mlqa.score_predictions(golds, preds, lang)
        assert rescored["f1"] / 100 == pytest.approx(scores["f1"])
    assert "en" in beaten, beaten
    assert len(beaten) >= 3, beaten
