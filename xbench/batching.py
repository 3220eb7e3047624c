"""Length-sorted, token-budgeted batches for prediction.

Sorting by length and padding each batch only to its longest member processes few pad tokens;
sizing batches by a token budget keeps memory flat whatever the lengths. The original order
is restored by the caller through the returned indices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any


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


def padding_efficiency(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Real tokens / processed tokens for a given batching (1.0 means no padding)."""
    real = sum(lengths)
    processed = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    return real / processed if processed else 1.0


def run_batches(
    model: Any,
    features: Sequence[dict[str, list[int]]],
    pad_id: int,
    max_tokens: int,
    outputs: Callable[[Any], Sequence[Any]],
    desc: str | None = None,
) -> list[Any]:
    """Forward every feature through `model` in length-sorted batches, results in input order.

    `outputs` turns the model output of one batch into one result per row (e.g. logits rows);
    results are moved to the CPU by the caller's function. `desc` labels a progress bar.
    """
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    lengths = [len(f["input_ids"]) for f in features]
    results: list[Any] = [None] * len(features)
    model.eval()
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )
    bar = tqdm(total=len(features), desc=desc, unit="ex", leave=False, disable=desc is None)
    with torch.inference_mode(), autocast, bar:
        for batch in token_budget_batches(lengths, max_tokens):
            width = lengths[batch[0]]
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, : lengths[i]] = torch.tensor(features[i]["input_ids"])
                mask[row, : lengths[i]] = 1
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device))
            for i, value in zip(batch, outputs(out), strict=True):
                results[i] = value
            bar.update(len(batch))
    return results
