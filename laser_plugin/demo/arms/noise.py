"""Arm: pure noise. A seeded hash of (prompt, response) mapped to [0, 1): the same response always gets
the same score, but the score says nothing about quality. A bandit signal that pays score variance
(informativeness) or easy-to-fit preferences can be fooled by it; a correctness signal cannot."""
import hashlib

from laser_plugin.demo.scorers import response_of


def _uniform(prompt: str, response: str) -> float:
    digest = hashlib.blake2b(f"{prompt}\x00{response}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def reward_func(queries, prompts, labels, **kwargs):
    rewards = [_uniform(p, response_of(q, p)) for q, p in zip(queries, prompts)]
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
