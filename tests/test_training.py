"""fine_tune on a tiny XLM-R: best-dev selection keeps (and saves) the weights of the best dev
check, 'final' keeps the last step, a NaN loss stops training, the task type's collator is
used, the batch layout is recorded; and the helpers behind resumable training: the logged-loss
mean and the epoch-seeded length-grouped sampler. (Out-of-memory halving is covered in
tests/test_speed_features.py, kill-and-resume in tests/test_resume_kill.py.)"""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import xbench.training as training_mod
from xbench.batching import padding_efficiency
from xbench.catalog import TaskRegistry
from xbench.data import load_split
from xbench.errors import TrainingError
from xbench.modelstore import work_dir
from xbench.tasktypes import get_task_type

CORE_DATA = Path(__file__).resolve().parent / "fixtures" / "core" / "data"
STEPS = 32 // 8  # 32 examples, batch 8, one epoch


@pytest.fixture(scope="module")
def xnli():
    return TaskRegistry().get("xnli")


@pytest.fixture(scope="module")
def tiny_path(offline_models: Path) -> Path:
    return offline_models / "tiny-xlmr"


@pytest.fixture(scope="module")
def prepared(xnli, tiny_path: Path) -> tuple[Any, list[dict[str, Any]]]:
    from transformers import AutoTokenizer

    task_type = get_task_type(xnli.type)
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    examples = load_split(xnli, "train", "en", data_dir=CORE_DATA, limit=32).examples
    features, _ = task_type.train_features(xnli, tokenizer, examples, xnli.hyperparameters)
    assert len(features) == 32
    return tokenizer, features


def _model(xnli, tiny_path: Path) -> Any:
    torch.manual_seed(0)
    return get_task_type(xnli.type).load_model(xnli, str(tiny_path))


def _hp(xnli, **update: Any) -> Any:
    values = {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, **update}
    return xnli.hyperparameters.model_copy(update=values)


def _fresh_features(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(f, input_ids=list(f["input_ids"])) for f in features]


def _snapshot(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _saved(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    common = set(a) & set(b)
    assert "classifier.out_proj.weight" in common
    return all(torch.equal(a[k], b[k]) for k in common)


class DevStub:
    """dev_score: returns the given scores in turn and snapshots the weights it was shown."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.snapshots: list[dict[str, torch.Tensor]] = []

    def __call__(self, model: Any) -> float:
        self.snapshots.append(_snapshot(model))
        return self.scores[len(self.snapshots) - 1]


def test_best_dev_selects_and_saves_the_best_check(
    xnli, tiny_path: Path, prepared, tmp_path: Path
) -> None:
    tokenizer, features = prepared
    model = _model(xnli, tiny_path)
    dev = DevStub([0.1, 0.5, 0.3, 0.5])  # the tie at the last check keeps the earlier one
    log: list[str] = []
    out = tmp_path / "model"
    record = training_mod.fine_tune(
        model,
        tokenizer,
        _fresh_features(features),
        _hp(xnli, selection="best-dev", eval_steps=1),
        1,
        out,
        dev,
        log.append,
    )
    selection = record["selection"]
    assert selection["policy"] == "best-dev"
    assert [h["step"] for h in selection["dev_history"]] == [1, 2, 3, 4]
    assert [h["score"] for h in selection["dev_history"]] == [0.1, 0.5, 0.3, 0.5]
    assert selection["selected"]["step"] == 2
    assert selection["selected"]["dev_score"] == 0.5
    assert selection["selected"]["epoch"] == pytest.approx(0.5)
    assert record["steps"] == STEPS
    assert sum("dev check at step" in line for line in log) == 4

    best, final = dev.snapshots[1], dev.snapshots[-1]
    assert not _same(best, final)  # training moved the weights after the best check
    assert _same(_saved(out), best)  # the saved weights are those of step 2 ...
    assert _same(_snapshot(model), best)  # ... and so is the model left in memory
    assert (out / "tokenizer.json").is_file()


def test_best_dev_per_epoch(xnli, tiny_path: Path, prepared, tmp_path: Path) -> None:
    """Without eval_steps the dev check runs at each epoch end."""
    tokenizer, features = prepared
    model = _model(xnli, tiny_path)
    dev = DevStub([0.7, 0.2])
    record = training_mod.fine_tune(
        model,
        tokenizer,
        _fresh_features(features),
        _hp(xnli, epochs=2, selection="best-dev"),
        1,
        tmp_path / "model",
        dev,
        lambda _: None,
    )
    assert [h["step"] for h in record["selection"]["dev_history"]] == [STEPS, 2 * STEPS]
    assert record["selection"]["selected"] == {"step": STEPS, "epoch": 1.0, "dev_score": 0.7}
    assert _same(_saved(tmp_path / "model"), dev.snapshots[0])


def test_final_selects_the_last_step_without_dev_checks(
    xnli, tiny_path: Path, prepared, tmp_path: Path
) -> None:
    tokenizer, features = prepared
    model = _model(xnli, tiny_path)
    before = _snapshot(model)
    calls: list[int] = []

    def dev_score(m: Any) -> float:
        calls.append(1)
        return 1.0

    out = tmp_path / "model"
    record = training_mod.fine_tune(
        model,
        tokenizer,
        _fresh_features(features),
        _hp(xnli, selection="final", eval_steps=1),
        1,
        out,
        dev_score,
        lambda _: None,
    )
    assert calls == []
    assert record["selection"] == {
        "policy": "final",
        "selected": {"step": STEPS, "epoch": 1, "dev_score": None},
        "dev_history": [],
    }
    assert not (work_dir(out) / "best").exists()
    after = _snapshot(model)
    assert not _same(after, before)  # it trained
    assert _same(_saved(out), after)  # and saved the final weights


def test_nan_loss_is_a_training_error(
    xnli, tiny_path: Path, prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer, features = prepared
    model = _model(xnli, tiny_path)
    real = model.forward

    @functools.wraps(real)  # Trainer keeps the dataset columns that forward's signature names
    def forward(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if out.loss is not None:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(model, "forward", forward)
    with pytest.raises(TrainingError, match=r"training loss became nan at step 1") as err:
        training_mod.fine_tune(
            model,
            tokenizer,
            _fresh_features(features),
            _hp(xnli, selection="final"),
            1,
            tmp_path / "model",
            lambda m: 0.0,
            lambda _: None,
        )
    assert "learning_rate" in (err.value.hint or "")
    assert not (tmp_path / "model" / "model.safetensors").exists()


def test_the_given_collator_is_used_and_the_batch_layout_recorded(
    xnli, tiny_path: Path, prepared, tmp_path: Path
) -> None:
    from transformers import DataCollatorWithPadding

    tokenizer, features = prepared
    model = _model(xnli, tiny_path)
    factory_calls: list[int | None] = []
    batch_rows: list[int] = []

    def collator_for(pad_to_multiple_of: int | None) -> Any:
        factory_calls.append(pad_to_multiple_of)
        inner = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

        def collate(batch: list[dict[str, Any]]) -> Any:
            batch_rows.append(len(batch))
            return inner(batch)

        return collate

    record = training_mod.fine_tune(
        model,
        tokenizer,
        _fresh_features(features),
        _hp(xnli, selection="final", gradient_accumulation=2),
        1,
        tmp_path / "model",
        lambda m: 0.0,
        lambda _: None,
        collator_for=collator_for,
    )
    assert factory_calls == [8 if torch.cuda.is_available() else None]
    assert batch_rows == [4] * 8  # 32 examples in micro-batches of 4
    assert record["per_device_batch_size"] == 4
    assert record["gradient_accumulation"] == 2
    assert record["per_device_batch_size"] * record["gradient_accumulation"] == 8
    assert record["steps"] == STEPS  # optimizer steps: the effective batch is still 8
    assert record["train_examples"] == 32
    assert math.isfinite(record["train_loss"]) and record["train_loss"] > 0


# --- _mean_logged_loss -------------------------------------------------------------------------


def test_mean_logged_loss_weights_each_log_by_its_steps() -> None:
    history = [
        {"loss": 2.0, "step": 2, "learning_rate": 1e-5},
        {"eval_score": 0.5, "step": 2},  # not a training log
        {"loss": 1.0, "step": 3},
        {"loss": 0.5, "step": 6},
        {"train_runtime": 1.0, "train_loss": 9.9, "step": 6},
    ]
    assert training_mod._mean_logged_loss(history, 7.0) == pytest.approx(
        (2.0 * 2 + 1.0 * 1 + 0.5 * 3) / 6
    )


def test_mean_logged_loss_falls_back_without_logged_loss() -> None:
    assert training_mod._mean_logged_loss([], 7.0) == 7.0
    assert (
        training_mod._mean_logged_loss([{"loss": 1.0}, {"train_loss": 2.0, "step": 3}], 7.0) == 7.0
    )


# --- _epoch_seeded_sampler -----------------------------------------------------------------


def _features(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"input_ids": [0] * rng.randint(1, 64)} for _ in range(n)]


def _order(
    features: list[dict[str, Any]], seed: int, epoch: int, batch: int = 4, grouped: bool = True
) -> list[int]:
    sampler = training_mod._epoch_seeded_sampler(features, batch, seed, length_grouped=grouped)
    sampler.set_epoch(epoch)
    return list(iter(sampler))


@pytest.mark.parametrize("grouped", [True, False], ids=["length-grouped", "random"])
def test_sampler_order_is_a_function_of_seed_and_epoch_only(grouped: bool) -> None:
    features = _features(400)
    torch.manual_seed(1)
    first = _order(features, seed=3, epoch=0, grouped=grouped)
    torch.manual_seed(99)  # the global RNG (which a resumed Trainer re-seeds) does not matter
    assert _order(features, seed=3, epoch=0, grouped=grouped) == first
    assert sorted(first) == list(range(400))
    assert _order(features, seed=3, epoch=1, grouped=grouped) != first
    assert _order(features, seed=4, epoch=0, grouped=grouped) != first
    # one sampler, epochs set in turn (as Trainer does), gives the same orders as fresh ones
    sampler = training_mod._epoch_seeded_sampler(features, 4, 3, length_grouped=grouped)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        orders.append(list(iter(sampler)))
    assert orders == [_order(features, seed=3, epoch=e, grouped=grouped) for e in range(3)]
    assert len(sampler) == 400


def test_sampler_groups_by_length_longest_first() -> None:
    features = _features(400)
    lengths = [len(f["input_ids"]) for f in features]
    order = _order(features, seed=3, epoch=2)
    assert lengths[order[0]] == max(lengths)  # an out-of-memory happens at the first batch
    batches = [order[i : i + 4] for i in range(0, len(order), 4)]
    grouped = padding_efficiency(lengths, batches)
    shuffled = list(range(400))
    random.Random(0).shuffle(shuffled)
    ungrouped = padding_efficiency(lengths, [shuffled[i : i + 4] for i in range(0, 400, 4)])
    assert grouped > 0.9
    assert grouped > ungrouped + 0.2


def test_random_sampling_does_not_group_by_length() -> None:
    """sampling: random is a plain permutation: its batches pad like any shuffle, far more
    than length-grouped ones."""
    features = _features(400)
    lengths = [len(f["input_ids"]) for f in features]
    order = _order(features, seed=3, epoch=0, grouped=False)
    batches = [order[i : i + 4] for i in range(0, len(order), 4)]
    grouped = _order(features, seed=3, epoch=0)
    grouped_batches = [grouped[i : i + 4] for i in range(0, len(grouped), 4)]
    assert padding_efficiency(lengths, batches) < padding_efficiency(lengths, grouped_batches) - 0.2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_order_is_the_plain_trainers_order(
    seed: int, offline_models: Path, tmp_path
) -> None:
    """sampling: random draws exactly the order of a plain Trainer pipeline (run_xnli's: its
    default random sampler, seeded by `seed`/`data_seed`), so at equal settings xbench and the
    plain pipeline train on the same batches; bench/training_order.py measures the outcome."""
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    n = 50
    features = [{"input_ids": [5] * (1 + i % 7), "labels": i} for i in range(n)]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        seed=seed,
        data_seed=seed,
        report_to="none",
        use_cpu=True,
    )
    model = AutoModelForSequenceClassification.from_pretrained(offline_models / "tiny-xlmr")
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=lambda rows: {"labels": [r["labels"] for r in rows]},
    )
    plain = [i for batch in trainer.get_train_dataloader() for i in batch["labels"]]
    assert _order(features, seed=seed, epoch=0, batch=8, grouped=False) == plain
