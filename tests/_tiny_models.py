"""Tiny random-weight GPT-2, Llama and BERT models with in-process tokenizers (no download)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; several threads on a busy machine crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France. Berlin is the capital of Germany.",
    "The movie was not good, it was great! I loved every minute of it.",
    "Attention heads move information between token positions.",
    "A small model is enough for a test of the ablation code.",
] * 4


def _bpe(bos: str, eos: str, auto_bos: bool) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = sorted({bos, eos})
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, show_progress=False, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    if auto_bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos)


def _wordpiece() -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=300, show_progress=False, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )


@functools.cache
def gpt2() -> tuple[Any, Any]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = _bpe("<|endoftext|>", "<|endoftext|>", auto_bos=False)
    torch.manual_seed(0)
    cfg = GPT2Config(
        n_layer=2, n_head=4, n_embd=32, vocab_size=len(tok), n_positions=128,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    return GPT2LMHeadModel(cfg).eval(), tok


@functools.cache
def llama() -> tuple[Any, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _bpe("<s>", "</s>", auto_bos=True)
    torch.manual_seed(1)
    cfg = LlamaConfig(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=32,
        intermediate_size=64, vocab_size=len(tok), max_position_embeddings=128,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    return LlamaForCausalLM(cfg).eval(), tok


@functools.cache
def bert(classifier: bool = False) -> tuple[Any, Any]:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    tok = _wordpiece()
    torch.manual_seed(2)
    cfg = BertConfig(
        num_hidden_layers=2, num_attention_heads=4, hidden_size=32, intermediate_size=64,
        vocab_size=len(tok), max_position_embeddings=128, pad_token_id=tok.pad_token_id, num_labels=3,
    )
    model = BertForSequenceClassification(cfg) if classifier else BertModel(cfg, add_pooling_layer=False)
    return model.eval(), tok
