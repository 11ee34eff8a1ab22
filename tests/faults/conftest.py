"""Fault-injection fixtures: one fork runner (heavy imports paid once) for every iterative-DPO run of
the package, tiny reward arms, and the iterative-DPO command line they share."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from laser_plugin.testing.faults import ForkRunner

# Arms in OpenRLHF's reward_func format: cheap, deterministic, no model to load.
LENGTH_ARM = '''
def reward_func(queries, prompts, labels, **kwargs):
    r = [float(len(q) - len(p)) / 8.0 for q, p in zip(queries, prompts)]
    return {"rewards": r, "scores": r, "extra_logs": {}}
'''
VOWEL_ARM = '''
def reward_func(queries, prompts, labels, **kwargs):
    r = [sum(c in "aeiou" for c in q[len(p):]) - 0.1 * len(set(q[len(p):])) for q, p in zip(queries, prompts)]
    return {"rewards": r, "scores": r, "extra_logs": {}}
'''
# Fine on its first call, then NaN for every other row: a scorer that breaks mid-run.
NAN_MIDRUN_ARM = '''
CALLS = [0]
def reward_func(queries, prompts, labels, **kwargs):
    CALLS[0] += 1
    r = [float("nan") if CALLS[0] > 1 and i % 2 == 0 else 0.5 for i in range(len(queries))]
    return {"rewards": r, "scores": r, "extra_logs": {}}
'''


def _prompts(n: int) -> list[dict]:
    return [{"prompt": f"What is {i % 7 + 1} plus {i % 5 + 2}?", "answer": str(i % 7 + 1 + i % 5 + 2)} for i in range(n)]


@pytest.fixture(scope="session")
def fault_files(tmp_path_factory: Any) -> dict[str, Path]:
    """Arm files and a prompt set (no model: the pool-level tests need only these)."""
    d = tmp_path_factory.mktemp("fault_inputs")
    (d / "length.py").write_text(LENGTH_ARM)
    (d / "vowels.py").write_text(VOWEL_ARM)
    (d / "nan_midrun.py").write_text(NAN_MIDRUN_ARM)
    (d / "prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _prompts(8)))
    return {"prompts": d / "prompts.jsonl", "length": d / "length.py", "vowels": d / "vowels.py",
            "nan_midrun": d / "nan_midrun.py"}


@pytest.fixture(scope="session")
def fault_inputs(fault_files: dict[str, Path], tiny_policy: Path) -> dict[str, Path]:
    return {**fault_files, "policy": tiny_policy}


def dpo_argv(inputs: dict[str, Path], out: Path, pool: str, *extra: Any, selector: str = "laser") -> list[Any]:
    """A 3-round iterative DPO run of the tiniest useful size: 4 prompts x 3 samples per round,
    one DPO step per round with a learning rate that moves the policy (a resume that lost the
    model state would sample other responses)."""
    return ["iterative-dpo", "--model.model_name_or_path", inputs["policy"], "--data.dataset", inputs["prompts"],
            "--data.prompt_key", "prompt", "--data.label_key", "answer", "--data.max_len", 64,
            "--rollout.n_samples_per_prompt", 3, "--rollout.temperature", 1.0, "--rollout.max_new_tokens", 6,
            "--train.micro_batch_size", 2, "--train.batch_size", 2, "--ds.zero_stage", 2, "--adam.lr", 5e-3,
            "--lr_warmup_ratio", 0, "--model.beta", 0.1, "--laser.rounds", 3, "--laser.prompts_per_round", 4,
            "--laser.score_batch_size", 1, "--reward_selector", selector, "--reward_selector.context_dim", 8, "--reward_pool", pool,
            # the tiny policy never answers right, so the default verifier signal judges nothing and every
            # decision would abstain (train nothing); these tests need every round to train: LASeR's picks do
            "--reward_selector.explore_by", "training", "--ckpt.output_dir", out, *extra]


@pytest.fixture(scope="package")
def fork_runner() -> Iterator[ForkRunner]:
    """Real ``laser-plugin`` runs forked from one process that imported torch/DeepSpeed/OpenRLHF once
    (package scope: its ~0.6 GB go away when tests/faults is done, not at the end of the suite)."""
    with ForkRunner(env={**os.environ, "LASER_DEBUG": "1"}) as runner:
        yield runner
