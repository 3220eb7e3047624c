"""What a model can take, read off its config before any weights load (part of the preflight).

A model whose position table is shorter than the task's max_length (a BERT with 128 positions on
MLQA's 384) trains on the short sequences of a batch, then fails at the first longer one, often
only at prediction, with a raw index error. The plan checks the limit first.

Usable positions by architecture:

* RoBERTa family (XLM-R, CamemBERT, ...): position ids start after the padding index, so
  ``max_position_embeddings - pad_token_id - 1`` (514 - 1 - 1 = 512 for XLM-R);
* DeBERTa(-v2) without absolute positions (``position_biased_input: false``, as mDeBERTa):
  relative positions only, no limit;
* every other model with a ``max_position_embeddings`` (BERT, DistilBERT, ELECTRA, ...): that
  many.

The tokenizer's ``model_max_length`` is not consulted: it does not decide what the model can
embed, and reading it would mean loading the tokenizer.
"""

from __future__ import annotations

from typing import Any

from xbench.errors import ModelError

# model types whose position ids are offset by the padding index (RoBERTa's scheme)
PADDING_OFFSET_TYPES = frozenset(
    {
        "roberta",
        "roberta-prelayernorm",
        "xlm-roberta",
        "xlm-roberta-xl",
        "camembert",
        "data2vec-text",
        "xmod",
        "ibert",
        "longformer",
        "luke",
        "mpnet",
    }
)
RELATIVE_ONLY_TYPES = frozenset({"deberta", "deberta-v2"})


def position_limit(config: Any) -> int | None:
    """The longest sequence `config`'s model can embed, or None for no (known) limit."""
    model_type = getattr(config, "model_type", None)
    if model_type in RELATIVE_ONLY_TYPES and not getattr(config, "position_biased_input", True):
        return None
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or isinstance(positions, bool) or positions <= 0:
        return None
    pad = getattr(config, "pad_token_id", None)
    if model_type in PADDING_OFFSET_TYPES and isinstance(pad, int) and pad >= 0:
        return positions - pad - 1
    return positions


def load_config(source: str, *, trust_remote_code: bool = False) -> Any | None:
    """The model's config (config.json only: cheap), or None when it cannot be loaded: a hub id
    without network, an unknown architecture... loading the model reports that, as before."""
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception:
        return None


def check_position_limit(
    model: str, source: str, task: str, max_length: int, *, trust_remote_code: bool = False
) -> None:
    """Raise ModelError when the task's max_length exceeds the positions the model has; skip
    the check when the config cannot be loaded."""
    config = load_config(source, trust_remote_code=trust_remote_code)
    limit = None if config is None else position_limit(config)
    if limit is None or max_length <= limit:
        return
    raise ModelError(
        f"model {model} has {limit} positions, but task {task} uses max_length {max_length}: "
        "longer sequences cannot be embedded",
        hint=f"use --set max_length={limit} (or a model with at least {max_length} positions)",
    )
