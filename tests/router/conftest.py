"""Fixtures: a two-domain preference set and a pool of two func: arms with opposite strengths."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TOPICS = ["rivers", "autumn", "the sea", "a cat", "mountains", "the moon", "winter", "a city", "trains", "bread"]


def make_pairs(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if i % 2 == 0:
            a, b = rng.randint(1, 99), rng.randint(1, 99)
            prompt = f"Compute {a} plus {b} and give the sum."
        else:
            prompt = f"Write a short poem about {rng.choice(TOPICS)} in {rng.randint(3, 9)} lines."
        rows.append({"prompt": prompt, "chosen": f" GOOD answer {i}", "rejected": f" BAD answer {i}"})
    return rows


@pytest.fixture(scope="session")
def domain_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("router_data") / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in make_pairs(160)))
    return path


@pytest.fixture(scope="session")
def domain_pool(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("router_arms")
    src = (HERE / "domain_arms.py").read_text()
    (d / "math_expert.py").write_text(src)
    (d / "poem_expert.py").write_text(src.replace('WHICH = "math"', 'WHICH = "poem"'))
    return f"func:{d / 'math_expert.py'},func:{d / 'poem_expert.py'}"
