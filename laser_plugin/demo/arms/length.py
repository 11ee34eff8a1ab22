"""Arm: longer is better (a verbosity bias, as weak RMs have). Misleading on every domain here."""
from laser_plugin.demo.scorers import response_of, word_count


def reward_func(queries, prompts, labels, **kwargs):
    rewards = [min(word_count(response_of(q, p)) / 40.0, 1.0) for q, p in zip(queries, prompts)]
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
