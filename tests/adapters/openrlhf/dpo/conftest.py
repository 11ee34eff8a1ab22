"""Fixtures for the iterative-DPO tests: a small mixed-domain prompt set with labels, a probe set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def mixed_prompts(n: int = 12) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = i % 7 + 1, i % 5 + 2
        kind = i % 3
        if kind == 0:
            rows.append({"prompt": f"What is {a} plus {b}?", "answer": str(a + b), "domain": "math"})
        elif kind == 1:
            rows.append({"prompt": f"Is {a} larger than {b}? Answer yes or no.", "answer": "yes" if a > b else "no",
                         "domain": "yes_no"})
        else:
            rows.append({"prompt": f"Which is {a} times 2? (A) {2 * a} (B) {2 * a + 1}", "answer": "A", "domain": "choice"})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def dpo_data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dpo_data")


@pytest.fixture(scope="session")
def prompt_file(dpo_data_dir) -> Path:
    return write_jsonl(dpo_data_dir / "prompts.jsonl", mixed_prompts(12))


@pytest.fixture(scope="session")
def probe_file(dpo_data_dir) -> Path:
    rows = [{"prompt": r["prompt"], "chosen": f"The answer is {r['answer']}.", "rejected": "I do not know."}
            for r in mixed_prompts(4)]
    return write_jsonl(dpo_data_dir / "probe.jsonl", rows)


@pytest.fixture(scope="session")
def verifier_file() -> Path:
    return HERE / "verifier_reward.py"
