"""dpo.scoring.policy_contexts keeps one position's logits: the contexts (hidden states) are exactly
those of the full forward, which computes logits for every prompt token."""
from __future__ import annotations

import inspect

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from laser_plugin.dpo.scoring import policy_contexts


def test_contexts_with_trimmed_logits_equal_the_full_forward(tiny_policy):
    model = AutoModelForCausalLM.from_pretrained(tiny_policy, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tiny_policy)
    prompts = ["is water wet?", "what is two plus three, in words?", "a short line about the sea"]
    last_token = lambda hidden, mask: hidden[:, -1, :]  # noqa: E731 (left padding: the last real token)
    assert "logits_to_keep" in inspect.signature(model.forward).parameters  # the trimmed path runs
    trimmed = policy_contexts(model, tokenizer, prompts, last_token, batch_size=2)

    full_forward = model.forward
    model.forward = lambda *args, logits_to_keep=None, **kwargs: full_forward(*args, **kwargs)  # every position
    model.forward.__signature__ = inspect.Signature([inspect.Parameter("input_ids", inspect.Parameter.KEYWORD_ONLY)])
    full = policy_contexts(model, tokenizer, prompts, last_token, batch_size=2)
    assert trimmed.shape == (3, model.config.hidden_size)
    np.testing.assert_array_equal(trimmed, full)
