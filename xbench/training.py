"""Fine-tune on English with transformers' Trainer and keep the checkpoint chosen by the task's
selection policy: 'best-dev' (XTREME: best score on the English dev set) or 'final'.

Dev checks run the task type's own predict+score (the same code that scores test languages),
so selection works for every task type, QA included. Batches are padded by the task type's
own data collator. The caller (`xbench.stages`) marks the saved folder finished through
`xbench.modelstore`, which owns the folder and its record.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xbench.errors import TrainingError
from xbench.io import atomic_write_text
from xbench.modelstore import work_dir
from xbench.taskspec import FineTuneHyperparameters

# pad_to_multiple_of (8 on GPUs, for tensor cores; None on CPUs) -> a data collator
CollatorFactory = Callable[[int | None], Any]


def smaller_batch(batch_size: int, per_device: int) -> int:
    """The per-device batch after an out-of-memory: the largest divisor of the effective batch
    size at most half of `per_device` (0 when there is none), so that gradient accumulation
    (= batch_size // per-device batch) keeps the effective batch size exact."""
    return next((d for d in range(per_device // 2, 0, -1) if batch_size % d == 0), 0)


def fine_tune(
    model: Any,
    tokenizer: Any,
    features: list[dict[str, Any]],
    hp: FineTuneHyperparameters,
    seed: int,
    model_dir: Path,
    dev_score: Callable[[Any], float],
    log: Callable[[str], None],
    checkpoint_steps: int = 500,
    collator_for: CollatorFactory | None = None,
) -> dict[str, Any]:
    """Train `model` in place, save the selected weights and the tokenizer to `model_dir`,
    return the training record. `collator_for(pad_to_multiple_of)` gives the task type's data
    collator (default: dynamic padding of input_ids, as for sentence classification and QA).

    `dev_score(model)` returns the main metric on the dev set; it is called after every epoch
    (or every `hp.eval_steps` steps) when the policy is 'best-dev'. A Trainer checkpoint is
    kept every `checkpoint_steps` steps (and at each epoch end) in `<model_dir>.work`, and a
    killed run continues from the last one, dev history included.

    On out-of-memory the per-device batch is halved and gradient accumulation doubled, so the
    effective batch stays `hp.batch_size` (Trainer's auto_find_batch_size shrinks the effective
    batch instead, which changes the result). Training restarts from the last checkpoint, or
    from the start when no optimizer step had been taken (the weights are then untouched; the
    longest batch comes first, so that is where an out-of-memory happens).
    """
    from accelerate.utils.memory import clear_device_cache

    from xbench.batching import is_out_of_memory

    work = work_dir(model_dir)
    per_device = hp.batch_size // hp.gradient_accumulation
    while True:
        progress: dict[str, Any] = {"step": 0}
        try:
            output, history, best, train_seconds = _train(
                model,
                tokenizer,
                features,
                hp,
                seed,
                work,
                per_device,
                dev_score,
                log,
                checkpoint_steps,
                progress,
                collator_for,
            )
            break
        except Exception as err:
            smaller = smaller_batch(hp.batch_size, per_device)
            if not is_out_of_memory(err) or not smaller:
                raise
            if progress["step"] > 0 and not _checkpoints(work):
                raise TrainingError(
                    f"out of memory at step {progress['step']} (per-device batch {per_device}) "
                    "with no checkpoint to restart from",
                    hint="set gradient_accumulation (--set gradient_accumulation=N) or a "
                    "smaller max_length",
                ) from None
            log(
                f"  out of memory with per-device batch {per_device}: retrying with {smaller} "
                f"x {hp.batch_size // smaller} accumulation steps (effective batch unchanged)"
            )
            per_device = smaller
            del err
            model.zero_grad(set_to_none=True)
            clear_device_cache(garbage_collection=True)

    if hp.selection == "best-dev" and (work / "best").exists():
        from transformers import AutoConfig

        best_dir = work / "best"
        state = type(model).from_pretrained(best_dir, config=AutoConfig.from_pretrained(best_dir))
        model.load_state_dict(state.state_dict())
        selected = {"step": best["step"], "epoch": best["epoch"], "dev_score": best["score"]}
    else:
        selected = {"step": output.global_step, "epoch": hp.epochs, "dev_score": None}
    record = {
        "selection": {"policy": hp.selection, "selected": selected, "dev_history": history},
        "train_examples": len(features),
        "steps": output.global_step,
        "train_loss": output.training_loss,
        "loss_curve": progress.get("loss_curve", []),  # [step, logged loss]: did it take off?
        "train_seconds": round(train_seconds, 2),
        "per_device_batch_size": per_device,
        "gradient_accumulation": hp.batch_size // per_device,
    }
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return record


def _checkpoints(work: Path) -> list[Path]:
    """Complete Trainer checkpoints (their trainer_state.json is written last), oldest first."""
    return sorted(
        (p.parent for p in (work / "trainer").glob("checkpoint-*/trainer_state.json")),
        key=lambda p: int(p.name.split("-")[-1]),
    )


def _train(
    model: Any,
    tokenizer: Any,
    features: list[dict[str, Any]],
    hp: FineTuneHyperparameters,
    seed: int,
    work: Path,
    per_device: int,
    dev_score: Callable[[Any], float],
    log: Callable[[str], None],
    checkpoint_steps: int,
    progress: dict[str, Any],
    collator_for: CollatorFactory | None,
) -> tuple[Any, list[dict[str, float]], dict[str, Any], float]:
    """One Trainer run (resuming from the last checkpoint in `work`): the Trainer's output,
    the dev history, the best dev check and the seconds spent."""
    import torch
    from transformers import (
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    set_seed(seed)
    best_dir = work / "best"
    selection_file = work / "selection.json"
    checkpoints = _checkpoints(work)
    resume_step = int(checkpoints[-1].name.split("-")[-1]) if checkpoints else None
    history: list[dict[str, float]] = []
    if resume_step is not None:
        log(f"  resuming fine-tuning from step {resume_step} ({checkpoints[-1]})")
    if resume_step is not None and selection_file.exists():
        # dev checks after the checkpoint will be replayed, so forget them
        saved = json.loads(selection_file.read_text())["history"]
        history = [h for h in saved if h["step"] <= resume_step]
    best: dict[str, Any] = {"score": -math.inf}
    for h in history:
        if h["score"] > best["score"]:
            best = dict(h)

    class Selection(TrainerCallback):
        """Checks the dev score, keeps the best weights, and stops on a NaN loss."""

        def _check(self, state: Any) -> None:
            score = dev_score(model)
            model.train()
            history.append(
                {"step": state.global_step, "epoch": round(state.epoch or 0, 3), "score": score}
            )
            log(f"  dev check at step {state.global_step}: {score:.4f}")
            if score > best["score"]:
                best.update(score=score, step=state.global_step, epoch=round(state.epoch or 0, 3))
                model.save_pretrained(best_dir)
            atomic_write_text(selection_file, json.dumps({"history": history}))

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            progress["step"] = state.global_step
            if (
                hp.selection == "best-dev"
                and hp.eval_steps
                and state.global_step % hp.eval_steps == 0
            ):
                self._check(state)

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if hp.selection == "best-dev" and not hp.eval_steps:
                self._check(state)
            if state.global_step < state.max_steps:
                control.should_save = True  # a checkpoint per epoch, after its dev check
            return control

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                raise TrainingError(
                    f"training loss became {loss} at step {state.global_step}",
                    hint="lower the learning rate (--set learning_rate=...) or check the data",
                )

    cuda = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(work / "trainer"),
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=hp.batch_size // per_device,
        num_train_epochs=hp.epochs,
        learning_rate=hp.learning_rate,
        warmup_steps=hp.warmup,
        weight_decay=hp.weight_decay,
        max_grad_norm=hp.max_grad_norm,
        lr_scheduler_type="linear",
        train_sampling_strategy=(
            "group_by_length" if hp.sampling == "length-grouped" else "random"
        ),  # what the record shows; the sampler itself is _epoch_seeded_sampler's
        seed=seed,
        data_seed=seed,
        logging_steps=max(1, min(50, len(features) // hp.batch_size // 10 or 1)),
        logging_nan_inf_filter=False,
        save_strategy="steps",
        save_steps=checkpoint_steps,
        save_total_limit=1,
        report_to="none",
        dataloader_num_workers=0,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        fp16=cuda and not torch.cuda.is_bf16_supported(),
    )

    def default_collator(pad_to_multiple_of: int | None) -> Any:
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    sampler = _epoch_seeded_sampler(
        features,
        per_device * args.gradient_accumulation_steps,
        seed,
        length_grouped=hp.sampling == "length-grouped",
    )

    class _Trainer(Trainer):
        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            return sampler

    trainer = _Trainer(
        model=model,
        args=args,
        train_dataset=features,
        # dynamic padding: each batch to its longest member (a multiple of 8 for tensor cores)
        data_collator=(collator_for or default_collator)(8 if cuda else None),
        processing_class=tokenizer,
        callbacks=[Selection()],
    )
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    # the mean over every logged step; output.training_loss only covers this invocation's steps
    output = output._replace(
        training_loss=_mean_logged_loss(trainer.state.log_history, output.training_loss)
    )
    progress["loss_curve"] = [
        [e["step"], round(e["loss"], 4)]
        for e in trainer.state.log_history
        if "loss" in e and "step" in e
    ]
    return output, history, best, time.perf_counter() - started


def _mean_logged_loss(log_history: list[dict[str, Any]], fallback: float) -> float:
    """Mean training loss over the logged steps, from the Trainer's log history (which a
    resumed Trainer restores from the checkpoint), so a resumed run records what an
    uninterrupted one does."""
    total, steps, last = 0.0, 0, 0
    for entry in log_history:
        if "loss" in entry and "step" in entry:
            total += entry["loss"] * (entry["step"] - last)
            steps += entry["step"] - last
            last = entry["step"]
    return total / steps if steps else fallback


def _epoch_seeded_sampler(
    features: list[dict[str, Any]], batch: int, seed: int, *, length_grouped: bool
) -> Any:
    """The training order, each epoch's a function of (seed, epoch) only: a random permutation
    (as XTREME and run_xnli sample), or Trainer's group_by_length (batches of similar length,
    less padding, faster). Trainer's own samplers draw from the global RNG, which a resumed run
    has re-seeded and restores only after skipping the done batches: a resume in epoch >= 2
    would train the rest of that epoch on other batches. Trainer calls set_epoch() before every
    epoch."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

    lengths = [len(f["input_ids"]) for f in features]

    class EpochSeeded(LengthGroupedSampler):
        epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __iter__(self):
            generator = torch.Generator().manual_seed(seed + self.epoch)
            if not length_grouped:
                return iter(torch.randperm(len(lengths), generator=generator).tolist())
            return iter(
                get_length_grouped_indices(self.lengths, self.batch_size, generator=generator)
            )

    return EpochSeeded(batch, lengths=lengths)
