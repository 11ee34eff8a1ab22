"""Tiny models and tokenizers built in-process (no model hub): a byte-level BPE tokenizer with a chat
template, a tiny Llama causal LM, and tiny OpenRLHF reward models with a value head.

Everything is seeded and takes about a second, so tests and dry runs can build real checkpoints
that OpenRLHF's own loaders read.
"""
from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]

# A little mixed-domain text so the BPE merges look like real words and numbers.
_CORPUS = [
    "What is 12 plus 7? The answer is 19.",
    "Is the sky blue? Yes, on a clear day the sky is blue.",
    "Write a short happy sentence about the sea. The sea is calm and bright today.",
    "Compute 3 times 4. The result is 12.",
    "Can fish fly? No, most fish cannot fly.",
    "Tell me a story about a kind robot who helps people.",
    "The quick brown fox jumps over the lazy dog 0 1 2 3 4 5 6 7 8 9.",
]


def build_tokenizer(out_dir: str | Path, vocab_size: int = 400, corpus_variant: int = 0):
    """Train a byte-level BPE tokenizer and save it as a transformers fast tokenizer.

    ``corpus_variant`` changes the training text so two tokenizers get different ids (a pool whose
    RMs do not share the policy tokenizer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = _CORPUS if corpus_variant == 0 else [s[::-1] + " " + s.upper() for s in _CORPUS] + _CORPUS
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="<|end|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    fast.save_pretrained(str(out_dir))
    return fast


def tiny_llama_config(vocab_size: int, hidden_size: int = 64, num_layers: int = 2, **overrides):
    from transformers import LlamaConfig

    kwargs = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=3,
    )
    kwargs.update(overrides)
    return LlamaConfig(**kwargs)


def build_tiny_llama(out_dir: str | Path, tokenizer, seed: int = 0, **config_overrides) -> Path:
    """Save a randomly initialised tiny Llama causal LM (and its tokenizer) to ``out_dir``."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = tiny_llama_config(
        len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **config_overrides,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return Path(out_dir)


def build_tiny_reward_model(
    out_dir: str | Path,
    base_dir: str | Path,
    tokenizer,
    seed: int = 0,
    value_head_prefix: str = "score",
    mean: float | None = None,
    std: float | None = None,
) -> Path:
    """Turn a tiny causal LM checkpoint into an OpenRLHF reward model (backbone + linear value head)
    through OpenRLHF's own ``get_llm_for_sequence_regression`` and save it to ``out_dir``.

    ``mean``/``std`` are written to the config as ``train_rm`` does, for normalised RMs."""
    import torch
    from openrlhf.models import get_llm_for_sequence_regression

    from laser_plugin.compat import apply_cpu_compat
    from laser_plugin.compat.dtype import resolve_param_dtype

    apply_cpu_compat(single_rank_env=False)  # OpenRLHF's loader then accepts the policy's "fp32"

    torch.manual_seed(seed)
    model = get_llm_for_sequence_regression(
        str(base_dir),
        "reward",
        param_dtype=resolve_param_dtype(announce=False),
        attn_implementation="sdpa",
        init_value_head=True,
        value_head_prefix=value_head_prefix,
    )
    # A random head at std 1/(h+1) scores everything near 0; widen it so arms disagree visibly.
    with torch.no_grad():
        getattr(model, value_head_prefix).weight.normal_(0.0, 0.5)
    model.config.value_head_prefix = value_head_prefix
    if mean is not None:
        model.config.mean = float(mean)
        model.config.std = float(std if std is not None else 1.0)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return Path(out_dir)
