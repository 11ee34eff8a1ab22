"""A ``func:`` arm in OpenRLHF's reward_func format that also records each call (for the TRL tests):
the reward is the response's share of distinct characters; ``log_path`` gets one line per call."""


def reward_func(queries, prompts, labels, log_path=None, **kwargs):
    rewards = []
    for query, prompt in zip(queries, prompts):
        response = query[len(prompt):] if query.startswith(prompt) else query
        rewards.append(len(set(response)) / max(len(response), 1))
    if log_path:
        with open(log_path, "a") as fh:
            fh.write(f"{len(queries)}\n")
    return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
