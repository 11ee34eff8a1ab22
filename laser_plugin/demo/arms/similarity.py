"""Arm: MiniLM embedding similarity of the response to the reference answer (the label). Useful on
writing (a reference sentence); weak on short numeric / yes-no labels."""
from laser_plugin.demo.scorers import response_of, similarity


def reward_func(queries, prompts, labels, **kwargs):
    texts = [response_of(q, p) for q, p in zip(queries, prompts)]
    rewards = similarity(texts, [str(lab or "") for lab in labels])
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
