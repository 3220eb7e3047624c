"""Length-sorted, token-budgeted batches for prediction, halved on out-of-memory.

Sorting by length and padding each batch only to its longest member processes few pad tokens;
sizing batches by a token budget keeps memory flat whatever the lengths. Where to cut the sorted
list is chosen to minimise padded tokens plus a fixed cost per forward call (CALL_COST): on a CPU
a call costs about as much as a few dozen tokens, so batches are cut wherever padding would
waste more (padding efficiency about 0.98 on XNLI); on a GPU a call costs thousands of tokens'
worth of time, so batches are fewer and larger. Results come back in input order.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Fixed cost of one forward call in padded tokens: CPU measured (multilingual-e5-small, 2 cores);
# CUDA an estimate from kernel-launch overhead against an encoder's throughput.
CALL_COST = {"cpu": 64, "cuda": 2048}
MAX_RUNS = 256  # a batch spans at most this many distinct lengths (bounds the search)


def token_budget_batches(
    lengths: Sequence[int], max_tokens: int, max_batch: int = 512
) -> Iterator[list[int]]:
    """Indices grouped longest first so that len(batch) * longest <= max_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for i in order:
        longest = lengths[batch[0]] if batch else lengths[i]
        if batch and ((len(batch) + 1) * longest > max_tokens or len(batch) >= max_batch):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def plan_batches(
    lengths: Sequence[int], max_tokens: int, call_cost: int, max_batch: int = 512
) -> list[list[int]]:
    """Longest-first batches within the token budget that minimise padded tokens + call_cost
    per batch: dynamic programming over the runs of equal length (a batch starts where a run
    does, or where the budget splits one)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    widths: list[int] = []  # one per run of equal length, longest first
    starts: list[int] = []  # where each run starts in `order`
    for pos, i in enumerate(order):
        if not widths or lengths[i] != widths[-1]:
            widths.append(lengths[i])
            starts.append(pos)
    starts.append(len(order))
    best = [0.0] + [math.inf] * len(widths)  # best[r]: cost of the first r runs
    cut = [0] * (len(widths) + 1)
    for end in range(1, len(widths) + 1):
        for first in range(end - 1, max(end - MAX_RUNS, 0) - 1, -1):
            rows, width = starts[end] - starts[first], widths[first]
            calls = math.ceil(rows / max(1, min(max_batch, max_tokens // width)))
            cost = best[first] + rows * width + call_cost * calls
            if cost < best[end]:
                best[end], cut[end] = cost, first
    segments = []
    end = len(widths)
    while end:
        segments.append((starts[cut[end]], starts[end]))
        end = cut[end]
    batches = []
    for lo, hi in reversed(segments):  # within a segment: split by the budget only
        part = order[lo:hi]
        for local in token_budget_batches([lengths[i] for i in part], max_tokens, max_batch):
            batches.append([part[j] for j in local])
    return batches


def padding_efficiency(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Real tokens / processed tokens for a given batching (1.0 means no padding)."""
    real = sum(lengths)
    processed = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    return real / processed if processed else 1.0


def is_out_of_memory(err: BaseException) -> bool:
    """The test accelerate's find_executable_batch_size uses (CUDA, MPS, XPU and CPU)."""
    import torch
    from accelerate.utils.memory import should_reduce_batch_size

    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, Exception) and should_reduce_batch_size(err)
    )


def autocast_for(device: Any) -> Any:
    """bf16 (fp16 where bf16 is unsupported) autocast on CUDA; full precision elsewhere, so CPU
    predictions equal an fp32 reference."""
    import torch

    if device.type != "cuda":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@contextmanager
def _without_onednn(device: Any) -> Iterator[None]:
    """On a CPU, PyTorch's fused attention keeps a oneDNN kernel per input shape; every batch
    has a new shape, so that cache grew peak memory by ~20 MB per XNLI language (until 1,024
    kernels). Plain kernels are as fast here, and memory stays flat."""
    import torch

    before = torch.backends.mkldnn.enabled
    if device.type == "cpu":
        # torch types this module attribute as its ContextProp descriptor; at runtime it is a bool
        torch.backends.mkldnn.enabled = False  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def forward_inputs(model: Any) -> set[str]:
    """The inputs `model`'s forward names (as Trainer reads them: a `**kwargs` accepts none)."""
    params = inspect.signature(model.forward).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in named}


def model_inputs(model: Any, features: Sequence[dict[str, Any]]) -> list[str]:
    """The columns of `features` besides input_ids (and attention_mask, which `run_batches`
    builds) that `model` takes: token_type_ids for BERT, none for DistilBERT (whose forward has
    no such input) nor for XLM-R (whose tokenizer makes none)."""
    first = features[0] if features else {}
    names = [n for n in first if n not in ("input_ids", "attention_mask")]
    if not names:  # the model is not inspected at all: input_ids and the mask, as always
        return []
    accepted = forward_inputs(model)
    return [n for n in names if n in accepted]


def run_batches(
    model: Any,
    features: Sequence[dict[str, list[int]]],
    pad_id: int,
    max_tokens: int,
    outputs: Callable[[Any], Sequence[Any]],
    desc: str | None = None,
    pad_type_id: int = 0,
) -> list[Any]:
    """Forward every feature through `model` in length-sorted batches, results in input order.

    Each feature has `input_ids` and may have more inputs of the same length (`token_type_ids`,
    padded with `pad_type_id`, the tokenizer's; any other with 0): those `model.forward` accepts
    are passed with input_ids and the attention mask built here, the others are dropped.

    `outputs` turns the model output of one batch into one result per row (e.g. logits rows);
    results are moved to the CPU by the caller's function. `desc` labels a progress bar.
    On out-of-memory the token budget is halved (below the failed batch's size) and prediction
    goes on from the failed batch, as accelerate's find_executable_batch_size would, without
    redoing the batches already done; one row that does not fit is re-raised.
    """
    import torch
    from accelerate.utils.memory import clear_device_cache
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    lengths = [len(f["input_ids"]) for f in features]
    extra = model_inputs(model, features)
    pads = {name: pad_type_id if name == "token_type_ids" else 0 for name in extra}
    results: list[Any] = [None] * len(features)
    todo = list(range(len(features)))
    budget = max_tokens
    call_cost = CALL_COST.get(device.type, CALL_COST["cpu"])
    model.eval()
    bar = tqdm(total=len(features), desc=desc, unit="ex", leave=False, disable=desc is None)
    with torch.inference_mode(), autocast_for(device), _without_onednn(device), bar:
        while todo:
            done: set[int] = set()
            batch: list[int] = []
            try:
                for local in plan_batches([lengths[i] for i in todo], budget, call_cost):
                    batch = [todo[j] for j in local]
                    width = lengths[batch[0]]
                    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                    mask = torch.zeros((len(batch), width), dtype=torch.long)
                    more = {
                        n: torch.full((len(batch), width), pad, dtype=torch.long)
                        for n, pad in pads.items()
                    }
                    for row, i in enumerate(batch):
                        ids[row, : lengths[i]] = torch.tensor(features[i]["input_ids"])
                        mask[row, : lengths[i]] = 1
                        for name, values in more.items():
                            values[row, : lengths[i]] = torch.tensor(features[i][name])
                    out = model(
                        input_ids=ids.to(device),
                        attention_mask=mask.to(device),
                        **{name: values.to(device) for name, values in more.items()},
                    )
                    for i, value in zip(batch, outputs(out), strict=True):
                        results[i] = value
                    done.update(batch)
                    bar.update(len(batch))
                todo = []
            except Exception as err:
                if not is_out_of_memory(err) or len(batch) <= 1:
                    raise
                budget = max(1, len(batch) * width // 2)
                todo = [i for i in todo if i not in done]
                del err
                clear_device_cache(garbage_collection=True)
    return results
