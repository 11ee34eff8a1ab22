"""Arm: VADER sentiment of the response. Good for the cheerful-writing task; misleading on math and
yes/no (it rewards upbeat chatter, not correct answers)."""
from laser_plugin.demo.scorers import response_of, sentiment


def reward_func(queries, prompts, labels, **kwargs):
    rewards = [sentiment(response_of(q, p)) for q, p in zip(queries, prompts)]
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
