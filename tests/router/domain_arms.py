"""Two func: arms for tests: ``math_expert`` is right on arithmetic prompts and inverted on poems;
``poem_expert`` is the reverse (selected by the ``which`` variable below, set per copy of the file)."""

WHICH = "math"


def _is_math(prompt: str) -> bool:
    return "compute" in prompt.lower()


def reward_func(queries, prompts, labels, **kwargs):
    out = []
    for query, prompt in zip(queries, prompts):
        response = query[len(prompt):]
        good = 1.0 if "GOOD" in response else -1.0
        expert = _is_math(prompt) == (WHICH == "math")
        out.append(good if expert else -good)  # right on its domain, exactly wrong elsewhere
    return out
