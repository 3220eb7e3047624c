"""Tiny random checkpoints of the encoder families xbench must handle, built into a folder:
BERT (WordPiece, segment ids), DistilBERT (same vocabulary, no segment ids) and an
mDeBERTa-like DeBERTa-v2 (relative positions only, the tiny XLM-R tokenizer). With the offline
tiny-xlmr (tests/conftest.py) that is one model of each input form.

The WordPiece vocabulary is every word of the fixture data (XNLI TSVs and the QA JSON files),
normalised and split exactly as BERT's tokenizer does, plus BERT's special tokens.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
XNLI_DATA = FIXTURES / "core" / "data"
QA_DATA = FIXTURES / "bad_input" / "qa_data"
QA_TASKS = FIXTURES / "bad_input" / "qa_tasks"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}


def fixture_texts() -> list[str]:
    """Every sentence, question and context of the XNLI and QA fixture data."""
    texts: list[str] = []
    for path in sorted((XNLI_DATA / "xnli").glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.extend(line.split("\t")[:2])
    for path in sorted(QA_DATA.rglob("*.json")):
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                texts.append(paragraph["context"])
                texts.extend(qa["question"] for qa in paragraph["qas"])
    return texts


def write_vocab(path: Path) -> Path:
    """vocab.txt: the special tokens, then the fixture data's words as BERT splits them."""
    from transformers import BertTokenizerFast

    splitter = BertTokenizerFast()  # only its normaliser and pre-tokenizer are used
    normalize = splitter.backend_tokenizer.normalizer.normalize_str
    split = splitter.backend_tokenizer.pre_tokenizer.pre_tokenize_str
    words = {w for text in fixture_texts() for w, _ in split(normalize(text))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(SPECIALS + sorted(words)) + "\n", encoding="utf-8")
    return path


def bert_tokenizer(folder: Path, *, distil: bool = False) -> Any:
    """A WordPiece tokenizer over the fixture vocabulary (DistilBERT's makes no segment ids)."""
    from transformers import BertTokenizerFast, DistilBertTokenizerFast

    vocab = write_vocab(folder / "vocab.txt")
    cls = DistilBertTokenizerFast if distil else BertTokenizerFast
    return cls(vocab=str(vocab), model_max_length=512)


def _save(model: Any, tokenizer: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_bert(folder: Path, *, max_position_embeddings: int = 512, seed: int = 0) -> Path:
    """A 2-layer BERT (two segment types) with the fixture WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = bert_tokenizer(folder)
    config = BertConfig(
        vocab_size=len(tokenizer),
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
        **TINY,
    )
    torch.manual_seed(seed)
    return _save(BertModel(config), tokenizer, folder)


def build_distilbert(folder: Path, *, seed: int = 0) -> Path:
    """A 2-layer DistilBERT: the same vocabulary, no segment ids anywhere."""
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    tokenizer = bert_tokenizer(folder, distil=True)
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return _save(DistilBertModel(config), tokenizer, folder)


def build_deberta_v2(folder: Path, tiny_xlmr: Path, *, seed: int = 0) -> Path:
    """A 2-layer mDeBERTa-like DeBERTa-v2: relative attention only (position_biased_input
    false, no segment embeddings), with the tiny XLM-R tokenizer."""
    import torch
    from transformers import AutoTokenizer, DebertaV2Config, DebertaV2Model

    tokenizer = AutoTokenizer.from_pretrained(tiny_xlmr)
    config = DebertaV2Config(
        vocab_size=len(tokenizer),
        intermediate_size=64,
        max_position_embeddings=512,
        type_vocab_size=0,
        relative_attention=True,
        position_biased_input=False,
        position_buckets=256,
        pos_att_type=["p2c", "c2p"],
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pad_token_id=tokenizer.pad_token_id,
        **TINY,
    )
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    DebertaV2Model(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_xlmr / name, folder / name)
    return folder


def segment_sensitive_bert(tokenizer: Any) -> Any:
    """A 1-layer BERT pair classifier (3 labels) whose answer is decided by the segment ids
    alone: label 0 when the pair's second segment has type 1, label 1 when every token has
    type 0 (what a model fed no token_type_ids sees).

    Word and position embeddings have nothing along dimension 0 and zero mean, so every
    LayerNorm keeps a type-0 token's dimension 0 at exactly 0; the type-1 embedding is a large
    vector along it. Attention is uniform (zero queries and keys) with identity values, so [CLS]
    averages over the pair; the feed-forward adds nothing; pooler is the identity; the
    classifier reads dimension 0 (label 0: +10x, label 2: -10x) against a bias of 3 for label 1.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    d = 32
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=d,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        type_vocab_size=2,
        num_labels=3,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    eye = torch.eye(d)
    with torch.no_grad():
        emb = model.bert.embeddings
        for table in (emb.word_embeddings.weight, emb.position_embeddings.weight):
            table[:, 1:] -= table[:, 1:].mean(1, keepdim=True)
            table[:, 0] = 0
        emb.token_type_embeddings.weight.zero_()
        emb.token_type_embeddings.weight[1, 0] = 100.0
        layer = model.bert.encoder.layer[0]
        for linear in (layer.attention.self.query, layer.attention.self.key):
            linear.weight.zero_()
            linear.bias.zero_()
        for linear in (layer.attention.self.value, layer.attention.output.dense):
            linear.weight.copy_(eye)
            linear.bias.zero_()
        layer.output.dense.weight.zero_()
        layer.output.dense.bias.zero_()
        model.bert.pooler.dense.weight.copy_(eye)
        model.bert.pooler.dense.bias.zero_()
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[0, 0] = 10.0
        model.classifier.weight[2, 0] = -10.0
        model.classifier.bias[1] = 3.0
    return model
