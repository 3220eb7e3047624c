"""The fine-tuned-model folder: one record, written last, says it is finished; its work folder
goes once it is; folders of the earlier two-record layout still read."""

from __future__ import annotations

import json
from pathlib import Path

from xbench import modelstore


def test_folder_is_unfinished_until_its_record_is_written(tmp_path: Path) -> None:
    folder = modelstore.model_dir(tmp_path, "org/model", "xnli", "abc123")
    assert folder == tmp_path / "models" / "org--model--xnli--abc123"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    work = modelstore.work_dir(folder)
    (work / "trainer" / "checkpoint-8").mkdir(parents=True)
    assert not modelstore.is_trained(folder) and modelstore.read_record(folder) is None

    training = {"steps": 8, "train_loss": 1.0, "selection": {"policy": "final"}}
    data = {"skipped": {}, "adjusted": {"truncated": 2}, "dev_source": None}
    record = modelstore.finish(folder, training, data)
    assert modelstore.is_trained(folder)
    assert modelstore.read_record(folder) == record == {**training, "data": data}
    assert not work.exists()  # Trainer checkpoints are dropped once the model is finished


def test_earlier_layout_with_a_separate_data_record_still_reads(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / modelstore.RECORD).write_text(json.dumps({"steps": 4}), encoding="utf-8")
    data = {"skipped": {"unlabelled": 1}, "adjusted": {}, "dev_source": {"kind": "local"}}
    (folder / "train-adjustments.json").write_text(json.dumps(data), encoding="utf-8")
    assert modelstore.read_record(folder) == {"steps": 4, "data": data}
