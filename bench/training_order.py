"""Is the training order part of the protocol? xbench against a plain Trainer pipeline, at one
configuration, over several seeds, for both of xbench's orders.

    .venv/bin/python bench/training_order.py                 # 3 seeds: about an hour, 2 cores
    .venv/bin/python bench/training_order.py --seeds 1 --train 256 --eval 50   # a quick check
    options: --seeds 1,2,3, --train N, --eval N (test pairs per language), --lr, --warmup,
             --json FILE, --work DIR, --data-dir DIR, --pipelines plain,random,length-grouped

The configuration (the one the issue reported): the pruned offline checkpoint
multilingual-e5-small-xlmr-v42k, the first 4,000 English MultiNLI pairs, 1 epoch, lr 3e-5, warmup
0.1, batch 32, max length 128, the final model (no dev selection, so only the order differs);
accuracy on the first 500 XNLI test pairs of de, fr, es and zh, predicted by the same code.

Pipelines, each from the same seeded initialisation:
- plain:          transformers' Trainer as run_xnli uses it: its own random sampler, dynamic padding
- random:         xbench's fine_tune with sampling: random (an epoch-seeded permutation)
- length-grouped: xbench's fine_tune with sampling: length-grouped (batches of similar length)

A run "failed to take off" when its mean accuracy over the four languages is below 40.0 (chance
is 33.3; one standard error of a 2,000-pair accuracy is about 1.1 points, so 40 is 6 above
chance). The last logged training loss is shown too (ln 3 = 1.0986 is a uniform 3-way guess),
but a 10-step mean of it is too noisy to decide. Results are printed as a table and written to
--json after every run, so an interrupted measurement keeps what it finished; `--summary FILE`
prints the table of a finished or interrupted measurement without running anything.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / ".cache" / "offline-models" / "multilingual-e5-small-xlmr-v42k"
TARGETS = ["de", "fr", "es", "zh"]
TAKE_OFF_ACCURACY = 0.40
PIPELINES = ("plain", "random", "length-grouped")


def _train_plain(model: Any, tokenizer: Any, features: list, hp: Any, seed: int, work: Path):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=hp.batch_size,
        num_train_epochs=hp.epochs,
        learning_rate=hp.learning_rate,
        warmup_steps=hp.warmup,
        weight_decay=hp.weight_decay,
        max_grad_norm=hp.max_grad_norm,
        lr_scheduler_type="linear",
        seed=seed,
        data_seed=seed,
        logging_steps=max(1, min(50, len(features) // hp.batch_size // 10 or 1)),  # as xbench
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    trainer.train()
    return [e["loss"] for e in trainer.state.log_history if "loss" in e]


def run_one(pipeline: str, seed: int, cfg: argparse.Namespace, work: Path) -> dict[str, Any]:
    from transformers import AutoTokenizer, set_seed

    from xbench.catalog import TaskRegistry
    from xbench.data import load_split
    from xbench.stages import use_sdpa
    from xbench.tasktypes import get_task_type
    from xbench.training import fine_tune

    spec = TaskRegistry().get("xnli")
    task_type = get_task_type(spec.type)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    sampling = "random" if pipeline == "plain" else pipeline
    hp = spec.hyperparameters_for(
        str(MODEL),
        {
            "epochs": 1,
            "learning_rate": cfg.lr,
            "warmup": cfg.warmup,
            "batch_size": 32,
            "selection": "final",
            "sampling": sampling,
        },
    )
    train = load_split(
        spec, "train", "en", data_dir=cfg.data_dir, limit=cfg.train, for_training=True
    )
    features, _ = task_type.train_features(spec, tokenizer, train.examples, hp)
    set_seed(seed)
    model = task_type.load_model(spec, str(MODEL))
    use_sdpa(model)
    started = time.perf_counter()
    if pipeline == "plain":
        losses = _train_plain(model, tokenizer, features, hp, seed, work / f"plain-{seed}")
    else:
        record = fine_tune(
            model, tokenizer, features, hp, seed, work / f"{pipeline}-{seed}", lambda m: 0.0, print
        )
        losses = [loss for _, loss in record["loss_curve"]]
    seconds = time.perf_counter() - started
    model.eval()
    accuracy = {}
    for lang in TARGETS:
        test = load_split(spec, "test", lang, data_dir=cfg.data_dir, limit=cfg.eval)
        preds = task_type.predict(spec, model, tokenizer, test.examples, hp)
        accuracy[lang] = task_type.score(spec, test.examples, preds, lang)["accuracy"]
    mean = statistics.mean(accuracy.values())
    return {
        "pipeline": pipeline,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "losses": losses,
        "last_loss": losses[-1] if losses else math.nan,
        "accuracy": accuracy,
        "mean_accuracy": mean,
    }


def summarise(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| pipeline | seeds | de/fr/es/zh mean accuracy per seed | mean | std |"
        " failed to take off | last logged loss per seed | train s/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pipeline in PIPELINES:
        mine = [r for r in runs if r["pipeline"] == pipeline]
        if not mine:
            continue
        accs = [100 * r["mean_accuracy"] for r in mine]
        std = statistics.stdev(accs) if len(accs) > 1 else math.nan
        failed = sum(r["mean_accuracy"] < TAKE_OFF_ACCURACY for r in mine)
        per_seed = ", ".join(f"{r['seed']}: {100 * r['mean_accuracy']:.1f}" for r in mine)
        seconds = statistics.mean(r["train_seconds"] for r in mine)
        losses = ", ".join(f"{r['last_loss']:.3f}" for r in mine)
        lines.append(
            f"| {pipeline} | {len(mine)} | {per_seed} | {statistics.mean(accs):.1f} | {std:.1f} |"
            f" {failed} of {len(mine)} | {losses} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--eval", type=int, default=500)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--summary", type=Path, default=None, help="only print a JSON's table")
    cfg = parser.parse_args()
    if cfg.summary:
        print(summarise(json.loads(cfg.summary.read_text())["runs"]))
        return
    import transformers

    transformers.logging.set_verbosity_error()
    work = cfg.work or Path(tempfile.mkdtemp(prefix="xbench-order-"))
    runs: list[dict[str, Any]] = []
    if cfg.json and cfg.json.exists():  # resume: keep the finished runs of the same settings
        saved = json.loads(cfg.json.read_text())
        for key in ("train", "eval", "lr", "warmup"):
            if str(getattr(cfg, key)) != saved["config"][key]:
                raise SystemExit(f"{cfg.json} holds runs with {key}={saved['config'][key]}")
        runs = saved["runs"]
    for seed in [int(s) for s in cfg.seeds.split(",")]:
        for pipeline in cfg.pipelines.split(","):
            if any(r["pipeline"] == pipeline and r["seed"] == seed for r in runs):
                continue
            print(f"{pipeline} seed {seed} ...", flush=True)
            run = run_one(pipeline, seed, cfg, work)
            runs.append(run)
            print(
                f"  mean accuracy {100 * run['mean_accuracy']:.1f} {run['accuracy']}, last loss "
                f"{run['last_loss']:.3f}, {run['train_seconds']:.0f} s",
                flush=True,
            )
            if cfg.json:
                config = {k: str(v) for k, v in vars(cfg).items()}
                cfg.json.write_text(json.dumps({"config": config, "runs": runs}, indent=2))
    print(summarise(runs))


if __name__ == "__main__":
    main()
