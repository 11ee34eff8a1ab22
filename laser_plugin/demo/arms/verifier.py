"""Arm: reasoning-gym's answer verifier. Good on math and yes/no; blind on writing (all ties)."""
from laser_plugin.demo.scorers import response_of, verify


def reward_func(queries, prompts, labels, **kwargs):
    rewards = [verify(response_of(q, p), lab) for q, p, lab in zip(queries, prompts, labels)]
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
