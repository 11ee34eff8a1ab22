"""A rule-based verifier arm in OpenRLHF's ``reward_func`` format (used as a ``func:`` pool arm in tests).

1.0 for a correct final answer (answer extraction against the label), 0.25 for an answer of the
right kind that is wrong (format credit, so even a weak policy yields some preference pairs), else 0.
"""
from laser_plugin.eval.answers import extract_answer, infer_kind, is_correct


def reward_func(queries, prompts, labels, **kwargs):
    rewards = []
    for query, prompt, label in zip(queries, prompts, labels):
        response = query[len(prompt):] if query.startswith(prompt) else query
        if label is None or label == "":
            rewards.append(0.0)
        elif is_correct(response, label):
            rewards.append(1.0)
        else:
            rewards.append(0.25 if extract_answer(response, infer_kind(label)) is not None else 0.0)
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
