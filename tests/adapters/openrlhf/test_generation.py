"""HF-generate sampling (the CPU twin of vLLM): a prompt's KV cache prefilled once and shared by its N
samples gives exactly what N separate prefills give, for the same seed."""
from __future__ import annotations

import pytest
import torch

from laser_plugin.adapters.openrlhf.generation import SamplingConfig, hf_generate

PROMPTS = ["What is 12 plus 7?", "Is the sky blue? Answer yes or no please", "Write one happy sentence.", "hi"]


@pytest.fixture(scope="module")
def policy(tiny_policy, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny_policy), dtype=torch.float32).eval(), tiny_tokenizer


# One call; two calls of two whole prompts each (a shared prefix keeps a prompt's samples in one call,
# so a batch size that is not a multiple of N chunks differently and draws other, equally valid samples).
@pytest.mark.parametrize("batch_size", [32, 8])
def test_shared_prefix_samples_equal_separate_prefills(policy, batch_size):
    model, tokenizer = policy
    runs = {}
    for share in (False, True):
        cfg = SamplingConfig(4, 0.9, 1.0, 12, 64, batch_size, seed=5, share_prefix=share)
        runs[share] = hf_generate(model, tokenizer, PROMPTS, cfg, disable_progress=True)
    plain, shared = runs[False], runs[True]
    assert shared.prompt_index == plain.prompt_index == [i for i in range(len(PROMPTS)) for _ in range(4)]
    assert shared.responses == plain.responses
    assert all(torch.equal(a, b) for a, b in zip(shared.sequences, plain.sequences))
    assert len(set(plain.responses)) > len(PROMPTS)  # temperature sampling: samples of a prompt differ
