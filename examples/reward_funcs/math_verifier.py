"""A rule-based arm in OpenRLHF's reward_func format: 1.0 when the last number in the response equals
the label, else 0.0. Use as `func:examples/reward_funcs/math_verifier.py` in --reward_pool."""
import re

import torch

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def reward_func(queries, prompts, labels, **kwargs):
    rewards = []
    for query, prompt, label in zip(queries, prompts, labels or [None] * len(queries)):
        response = query[len(prompt):] if query.startswith(prompt) else query
        numbers = _NUMBER.findall(response.replace(",", ""))
        rewards.append(float(label is not None and bool(numbers) and float(numbers[-1]) == float(label)))
    return {"rewards": torch.tensor(rewards), "scores": torch.tensor(rewards), "extra_logs": {}}
