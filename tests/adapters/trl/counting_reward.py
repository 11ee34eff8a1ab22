"""A ``func:`` arm in OpenRLHF's reward_func format that also records each call (for the TRL tests):
the reward is the response's share of distinct characters plus ``offset`` (NaN with ``nan=True``);
``log_path`` gets one line per call with the number of samples scored."""


def reward_func(queries, prompts, labels, log_path=None, offset=0.0, nan=False, **kwargs):
    rewards = []
    for query, prompt in zip(queries, prompts):
        response = query[len(prompt):] if query.startswith(prompt) else query
        rewards.append(float("nan") if nan else len(set(response)) / max(len(response), 1) + offset)
    if log_path:
        with open(log_path, "a") as fh:
            fh.write(f"{len(queries)}\n")
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
