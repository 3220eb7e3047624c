"""xbench's speed, measured side by side in one run on the offline checkpoints and ../shared/data.

    .venv/bin/python bench/benchmark.py            # full: about 35 minutes on 2 idle CPU cores
    .venv/bin/python bench/benchmark.py --quick    # small sizes, to check the script (~10 min)
    options: --only eval,finetune,runs,startup (sections; default all), --threads N (torch
             threads everywhere), --json FILE, --work DIR, --data-dir DIR

1. Evaluation: a run_xnli.py-style pipeline (every pair padded to 128, Trainer.predict, batch 8)
   against xbench's prediction (length-sorted, token-budgeted, dynamically padded batches), on
   the full multilingual-e5-small-xlmr checkpoint (250k vocabulary, classification head seeded),
   15 XNLI languages x N test pairs. Both times include tokenisation. The two alternate language
   by language, so that other load on the machine hits both alike.
2. Fine-tuning: a pad-to-128 Trainer (random order) against xbench's fine_tune (sampling:
   length-grouped, set explicitly; dynamic padding) on the -v42k checkpoint, same
   seed, hyperparameters and English pairs; then English dev accuracy of both, scored by the
   same code.
3. Caching: `xbench run`, then the identical command, then re-scoring into a fresh results
   folder (same cache), then adding a language.
4. Scaling: `xbench run` with the cached model on 1, 5 and 15 languages: time and peak RSS
   (VmHWM of each run's own process).
5. Start-up: `xbench --help` and `xbench tasks list`, best of 3.

Figures are printed as tables, with the machine's load average (other work may share the CPU),
and written to --json. The exit status is 1 when predictions differ between the pipelines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / ".cache" / "offline-models"
FULL = {"eval": 1000, "train": 4000, "dev": None, "run_train": 1000, "run_eval": 300}
QUICK = {"eval": 60, "train": 256, "dev": 300, "run_train": 128, "run_eval": 40}
RUN_SET = ["--set", "epochs=1", "--set", "learning_rate=4e-5", "--set", "warmup=0.1"]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), torch's allocations included."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(padded))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _xnli():
    from xbench.catalog import TaskRegistry

    return TaskRegistry().get("xnli")


# --- 1. evaluation ------------------------------------------------------------------------------


def bench_eval(sizes: dict[str, Any], data_dir: Path, work: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer, Trainer, TrainingArguments, default_data_collator

    from xbench.batching import CALL_COST, plan_batches, run_batches
    from xbench.data import load_split
    from xbench.stages import use_sdpa
    from xbench.tasktypes import get_task_type

    spec, n = _xnli(), sizes["eval"]
    hp = spec.hyperparameters
    path = MODELS / "multilingual-e5-small-xlmr"
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    model = get_task_type(spec.type).load_model(spec, str(path)).eval()
    attention = use_sdpa(model)
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(work / "eval-trainer"),
            per_device_eval_batch_size=8,  # run_xnli.py's default
            report_to="none",
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
        ),
        data_collator=default_data_collator,
    )

    def baseline(s1: list[str], s2: list[str]) -> Any:
        enc = tokenizer(s1, s2, padding="max_length", max_length=128, truncation=True)
        rows = [
            {"input_ids": i, "attention_mask": m}
            for i, m in zip(enc["input_ids"], enc["attention_mask"], strict=True)
        ]
        return torch.as_tensor(trainer.predict(rows).predictions)

    def xbench(s1: list[str], s2: list[str]) -> Any:
        ids = tokenizer(s1, s2, truncation=True, max_length=hp.max_length)["input_ids"]
        features = [{"input_ids": x} for x in ids]
        rows = run_batches(
            model, features, tokenizer.pad_token_id, hp.eval_max_tokens, lambda o: o.logits.cpu()
        )
        return torch.stack(rows)

    seconds = {"baseline": 0.0, "xbench": 0.0}
    real = processed = examples = differ = 0
    max_delta = 0.0
    print(f"  1. evaluation: 15 x {n} XNLI test pairs (load {load()})", flush=True)
    for k, lang in enumerate(spec.languages):
        pairs = load_split(spec, "test", lang, data_dir=data_dir, limit=n).examples
        s1, s2 = [e.sentence1 for e in pairs], [e.sentence2 for e in pairs]
        logits = {}
        order = [("baseline", baseline), ("xbench", xbench)]
        for name, fn in order if k % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            logits[name] = fn(s1, s2)
            seconds[name] += time.perf_counter() - started
        differ += int((logits["baseline"].argmax(-1) != logits["xbench"].argmax(-1)).sum())
        max_delta = max(max_delta, float((logits["baseline"] - logits["xbench"]).abs().max()))
        lengths = [len(x) for x in tokenizer(s1, s2, truncation=True, max_length=128)["input_ids"]]
        batches = plan_batches(lengths, hp.eval_max_tokens, CALL_COST["cpu"])  # as run_batches
        processed += sum(len(b) * lengths[b[0]] for b in batches)
        real += sum(lengths)
        examples += len(pairs)
    figures = {
        "examples": examples,
        "attention": attention,
        "baseline_seconds": seconds["baseline"],
        "xbench_seconds": seconds["xbench"],
        "baseline_eps": examples / seconds["baseline"],
        "xbench_eps": examples / seconds["xbench"],
        "speedup": seconds["baseline"] / seconds["xbench"],
        "baseline_padding_efficiency": real / (128 * examples),
        "xbench_padding_efficiency": real / processed,
        # processed (real + pad) tokens per second: equal rates mean the speed-up is all padding
        "baseline_processed_tokens_per_second": 128 * examples / seconds["baseline"],
        "xbench_processed_tokens_per_second": processed / seconds["xbench"],
        "predictions_differing": differ,
        "max_abs_logit_difference": max_delta,
        "load_after": load(),
    }
    rows = [
        ["run_xnli.py-style: pad to 128, Trainer.predict, batch 8", "baseline"],
        ["xbench: length-sorted, token budget, dynamic padding", "xbench"],
    ]
    table(
        f"1. Evaluation: {examples} XNLI test pairs (15 languages), "
        f"full multilingual-e5-small-xlmr, attention {attention}, fp32 CPU",
        ["pipeline", "seconds", "examples/s", "tokens/s", "padding efficiency", "speed-up"],
        [
            [
                label,
                f"{figures[f'{who}_seconds']:.1f}",
                f"{figures[f'{who}_eps']:.1f}",
                f"{figures[f'{who}_processed_tokens_per_second']:.0f}",
                f"{figures[f'{who}_padding_efficiency']:.3f}",
                f"{seconds['baseline'] / seconds[who]:.2f}x",
            ]
            for label, who in rows
        ],
    )
    bound = figures["xbench_padding_efficiency"] / figures["baseline_padding_efficiency"]
    print(
        "  tokens/s counts processed tokens, padding included. Where both pipelines process "
        "tokens at one rate (a CPU:\n  cost per token barely depends on sequence length), "
        f"the speed-up is the ratio of padding efficiencies, {bound:.2f}x here."
    )
    print(
        f"  identical predictions: {'yes' if differ == 0 else 'NO'} ({differ} of {examples} "
        f"argmax differ; max |logit difference| {max_delta:.1e})"
    )
    return figures


# --- 2. fine-tuning -----------------------------------------------------------------------------


def bench_finetune(sizes: dict[str, Any], data_dir: Path, work: Path) -> dict[str, Any]:
    import torch
    from transformers import (
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from xbench.batching import padding_efficiency
    from xbench.data import load_split
    from xbench.stages import use_sdpa
    from xbench.tasktypes import get_task_type
    from xbench.training import fine_tune

    spec, seed = _xnli(), 1
    task_type = get_task_type(spec.type)
    path = str(MODELS / "multilingual-e5-small-xlmr-v42k")
    tokenizer = AutoTokenizer.from_pretrained(path)
    hp = spec.hyperparameters_for(  # length-grouped set explicitly: the order measured before
        path,
        {
            "epochs": 1,
            "learning_rate": 4e-5,
            "warmup": 0.1,
            "selection": "final",
            "sampling": "length-grouped",
        },
    )
    train = load_split(
        spec, "train", "en", data_dir=data_dir, limit=sizes["train"], for_training=True
    )
    dev = load_split(spec, "dev", "en", data_dir=data_dir, limit=sizes["dev"]).examples
    features, _ = task_type.train_features(spec, tokenizer, train.examples, hp)
    n = len(features)
    print(
        f"  2. fine-tuning: {n} English pairs, then {len(dev)} dev pairs (load {load()})",
        flush=True,
    )

    def fresh_model() -> Any:
        set_seed(seed)
        model = task_type.load_model(spec, path)
        use_sdpa(model)
        return model

    def dev_accuracy(model: Any) -> float:
        preds = task_type.predict(spec, model, tokenizer, dev, hp)
        return task_type.score(spec, dev, preds, "en")["accuracy"]

    baseline_model = fresh_model()
    trainer = Trainer(
        model=baseline_model,
        args=TrainingArguments(  # xbench's settings, but random order and fixed padding
            output_dir=str(work / "ft-baseline"),
            per_device_train_batch_size=hp.batch_size,
            num_train_epochs=hp.epochs,
            learning_rate=hp.learning_rate,
            warmup_steps=hp.warmup,
            weight_decay=hp.weight_decay,
            max_grad_norm=hp.max_grad_norm,
            lr_scheduler_type="linear",
            seed=seed,
            data_seed=seed,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
        ),
        train_dataset=features,
        data_collator=DataCollatorWithPadding(tokenizer, padding="max_length", max_length=128),
    )
    started = time.perf_counter()
    trainer.train()
    baseline_seconds = time.perf_counter() - started
    baseline_accuracy = dev_accuracy(baseline_model)
    del trainer, baseline_model
    load_mid = load()

    model = fresh_model()
    record = fine_tune(
        model, tokenizer, features, hp, seed, work / "ft-xbench", lambda m: 0.0, print
    )
    xbench_seconds = record["train_seconds"]
    xbench_accuracy = dev_accuracy(model)

    lengths = [len(f["input_ids"]) for f in features]
    order = get_length_grouped_indices(
        lengths, hp.batch_size, generator=torch.Generator().manual_seed(seed)
    )
    grouped = [order[i : i + hp.batch_size] for i in range(0, n, hp.batch_size)]
    figures = {
        "train_examples": n,
        "dev_examples": len(dev),
        "baseline_seconds": baseline_seconds,
        "xbench_seconds": xbench_seconds,
        "baseline_eps": n * hp.epochs / baseline_seconds,
        "xbench_eps": n * hp.epochs / xbench_seconds,
        "speedup": baseline_seconds / xbench_seconds,
        "baseline_dev_accuracy": baseline_accuracy,
        "xbench_dev_accuracy": xbench_accuracy,
        "accuracy_difference_points": 100 * (xbench_accuracy - baseline_accuracy),
        "baseline_padding_efficiency": sum(lengths) / (128 * n),
        "xbench_padding_efficiency": padding_efficiency(lengths, grouped),
        "load_between": load_mid,
        "load_after": load(),
    }
    rows = [
        ["pad to 128, random order", "baseline"],
        ["xbench: length-grouped, dynamic padding", "xbench"],
    ]
    table(
        f"2. Fine-tuning: {n} English MultiNLI pairs, 1 epoch, batch {hp.batch_size}, "
        f"lr {hp.learning_rate}, seed {seed}, multilingual-e5-small-xlmr-v42k, fp32 CPU",
        ["trainer", "seconds", "examples/s", "padding efficiency", "dev accuracy", "speed-up"],
        [
            [
                label,
                f"{figures[f'{who}_seconds']:.1f}",
                f"{figures[f'{who}_eps']:.2f}",
                f"{figures[f'{who}_padding_efficiency']:.3f}",
                f"{100 * figures[f'{who}_dev_accuracy']:.1f}",
                f"{baseline_seconds / figures[f'{who}_seconds']:.2f}x",
            ]
            for label, who in rows
        ],
    )
    print(
        f"  dev accuracy difference: {figures['accuracy_difference_points']:+.1f} points on "
        f"{len(dev)} pairs (one standard error of either is about "
        f"{100 * (baseline_accuracy * (1 - baseline_accuracy) / len(dev)) ** 0.5:.1f} points)"
    )
    return figures


# --- 3./4. xbench runs in their own processes ---------------------------------------------------


def xbench_run(work: Path, tag: str, args: list[str]) -> dict[str, Any]:
    """`xbench ARGS` in a fresh process (this script's --child mode): wall time, peak RSS, log."""
    out = work / f"{tag}.child.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(out), *args]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode:
        tail = (proc.stdout + proc.stderr)[-4000:]
        sys.exit(f"{tag}: xbench {' '.join(args)} failed:\n{tail}")
    info = json.loads(out.read_text())
    log = proc.stdout
    return {
        "wall_seconds": wall,
        "peak_rss_mb": info["peak_rss_mb"],
        "trained": "fine-tuning" in log,
        "already_done": "already done" in log,
        "features": next(
            (line.strip() for line in log.splitlines() if "tokenised features" in line), "-"
        ),
        "log": log,
    }


def run_args(
    data_dir: Path, sizes: dict[str, Any], results: Path, cache: Path, langs: list[str]
) -> list[str]:
    options = {
        "--model": MODELS / "multilingual-e5-small-xlmr-v42k",
        "--tasks": "xnli",
        "--data-dir": data_dir,
        "--results-dir": results,
        "--cache-dir": cache,
        "--train-limit": sizes["run_train"],
        "--eval-limit": sizes["run_eval"],
        "--languages": ",".join(langs),
    }
    return ["run", *(str(x) for pair in options.items() for x in pair), *RUN_SET]


def _predict_seconds(results: Path) -> float:
    (path,) = results.rglob("seed1.json")
    return json.loads(path.read_text())["timings"]["predict_seconds"]


def bench_caching(sizes: dict[str, Any], data_dir: Path, work: Path) -> dict[str, Any]:
    cache = work / "cache"
    print(f"  3. caching: xbench run x4 (load {load()})", flush=True)
    steps = [
        ("first run (en, de)", "first", work / "r1", ["en", "de"]),
        ("identical second run", "second", work / "r1", ["en", "de"]),
        ("re-scoring into a fresh results folder", "rescore", work / "r2", ["en", "de"]),
        ("adding a language (fr)", "add", work / "r1", ["en", "de", "fr"]),
    ]
    figures, rows = {}, []
    for label, tag, results, langs in steps:
        info = xbench_run(work, tag, run_args(data_dir, sizes, results, cache, langs))
        figures[tag] = {k: v for k, v in info.items() if k != "log"}
        what = "trained, predicted" if info["trained"] else "predicted only"
        what = "nothing (already done)" if info["already_done"] else what
        rows.append([label, f"{info['wall_seconds']:.1f}", what, info["features"].split(" (")[0]])
    table(
        f"3. Caching: xbench run, XNLI, {sizes['run_train']} training pairs, "
        f"{sizes['run_eval']} test pairs per language (wall time incl. start-up)",
        ["run", "seconds", "work done", "tokenisation"],
        rows,
    )
    return figures


def bench_scaling(sizes: dict[str, Any], data_dir: Path, work: Path) -> dict[str, Any]:
    langs = _xnli().languages
    print(f"  4. scaling: 1, 5, 15 languages (load {load()})", flush=True)
    figures, rows = {}, []
    for count in (1, 5, 15):
        results = work / f"scale{count}"
        chosen = ["en"] if count == 1 else langs[:count]
        cmd = run_args(data_dir, sizes, results, work / "cache", chosen)
        info = xbench_run(work, f"scale{count}", cmd)
        examples = count * sizes["run_eval"]
        predict = _predict_seconds(results)
        figures[str(count)] = {
            "examples": examples,
            "wall_seconds": info["wall_seconds"],
            "predict_seconds": predict,
            "ms_per_example": 1000 * predict / examples,
            "peak_rss_mb": info["peak_rss_mb"],
        }
        rows.append(
            [
                count,
                examples,
                f"{info['wall_seconds']:.1f}",
                f"{predict:.1f}",
                f"{1000 * predict / examples:.1f}",
                f"{info['peak_rss_mb']:.0f}",
            ]
        )
    table(
        "4. Scaling: xbench run with the cached fine-tuned model (multilingual-e5-small-xlmr-v42k)",
        ["languages", "examples", "wall s", "predict s", "ms/example", "peak RSS MB"],
        rows,
    )
    return figures


# --- 5. start-up --------------------------------------------------------------------------------


def bench_startup() -> dict[str, Any]:
    exe = str(Path(sys.executable).with_name("xbench"))
    figures, rows = {}, []
    for args in (["--help"], ["tasks", "list"]):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([exe, *args], capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        figures[" ".join(args)] = min(times)
        rows.append([f"xbench {' '.join(args)}", f"{min(times):.2f}"])
    table("5. Start-up (best of 3)", ["command", "seconds"], rows)
    return figures


# --- main ---------------------------------------------------------------------------------------


def child(out: Path, args: list[str]) -> None:
    """Run the xbench command in this process, then record its peak memory."""
    from xbench.cli import main

    sys.argv = ["xbench", *args]
    code: Any = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    out.write_text(json.dumps({"peak_rss_mb": peak_rss_mb()}))
    sys.exit(code)


def summary(fig: dict[str, Any]) -> list[list[str]]:
    """One row per target of the issue: what was measured, and whether it meets the target."""
    checks: list[tuple[str, str, bool]] = []
    if "eval" in fig:
        ev = fig["eval"]
        checks += [
            ("eval speed-up >= 3.5x", f"{ev['speedup']:.2f}x", ev["speedup"] >= 3.5),
            (
                "identical predictions",
                f"{ev['predictions_differing']} of {ev['examples']} differ",
                ev["predictions_differing"] == 0,
            ),
            (
                "eval padding efficiency >= 0.95",
                f"{ev['xbench_padding_efficiency']:.3f}",
                ev["xbench_padding_efficiency"] >= 0.95,
            ),
        ]
    if "finetune" in fig:
        ft = fig["finetune"]
        checks += [
            ("fine-tuning speed-up >= 1.5x", f"{ft['speedup']:.2f}x", ft["speedup"] >= 1.5),
            (
                "dev accuracy within 0.5 points",
                f"{ft['accuracy_difference_points']:+.1f} points",
                abs(ft["accuracy_difference_points"]) <= 0.5,
            ),
        ]
    if "caching" in fig:
        runs, sc = fig["caching"], fig["scaling"]
        rss = [sc[k]["peak_rss_mb"] for k in ("1", "5", "15")]
        per = [sc[k]["ms_per_example"] for k in ("1", "5", "15")]
        rescored = runs["rescore"]["features"].split(" (")[0]
        checks += [
            (
                "second identical run does nothing",
                f"{runs['second']['wall_seconds']:.1f} s vs {runs['first']['wall_seconds']:.1f} s",
                runs["second"]["already_done"],
            ),
            (
                "re-scoring neither trains nor tokenises",
                rescored,
                not runs["rescore"]["trained"] and " 0 computed" in rescored,
            ),
            (
                "predict time per example flat (1/5/15 langs)",
                " / ".join(f"{p:.1f} ms" for p in per),
                max(per[1:]) <= 1.25 * min(per[1:]),
            ),
            (
                "peak memory flat (1/5/15 langs)",
                " / ".join(f"{r:.0f}" for r in rss) + " MB",
                max(rss) <= 1.1 * min(rss),
            ),
        ]
    if "startup" in fig:
        up = fig["startup"]
        checks += [
            ("xbench --help < 1.5 s", f"{up['--help']:.2f} s", up["--help"] < 1.5),
            ("xbench tasks list < 1.5 s", f"{up['tasks list']:.2f} s", up["tasks list"] < 1.5),
        ]
    return [[name, value, "yes" if ok else "NO"] for name, value, ok in checks]


SECTIONS = ("eval", "finetune", "runs", "startup")  # runs: caching, then scaling on its cache


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(Path(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads for every measurement (default: torch's); on a CPU shared with "
        "other work, more threads than free cores stall on OpenMP barriers",
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of {','.join(SECTIONS)} (default: all)",
    )
    args = parser.parse_args()
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {SECTIONS}")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch starts, here and in runs
    sizes = QUICK if args.quick else FULL
    work = args.work or Path(tempfile.mkdtemp(prefix="xbench-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    print(
        f"xbench benchmark ({'quick' if args.quick else 'full'}): {platform.platform()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"transformers {transformers.__version__}, "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}; "
        f"load average {load()}; scratch {work}",
        flush=True,
    )
    started = time.perf_counter()
    figures = {"sizes": sizes, "load_before": load()}
    if "eval" in only:
        figures["eval"] = bench_eval(sizes, args.data_dir, work)
    if "finetune" in only:
        figures["finetune"] = bench_finetune(sizes, args.data_dir, work)
    if "runs" in only:
        figures["caching"] = bench_caching(sizes, args.data_dir, work)
        figures["scaling"] = bench_scaling(sizes, args.data_dir, work)
    if "startup" in only:
        figures["startup"] = bench_startup()
    figures["load_after"] = load()
    figures["total_seconds"] = time.perf_counter() - started
    table(
        f"Summary (load average before {figures['load_before']}, after {figures['load_after']}; "
        f"{figures['total_seconds'] / 60:.1f} min in all)",
        ["target", "measured", "met"],
        summary(figures),
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    sys.exit(1 if figures.get("eval", {}).get("predictions_differing") else 0)


if __name__ == "__main__":
    main()
