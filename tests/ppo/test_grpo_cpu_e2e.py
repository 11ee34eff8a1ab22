"""The REAL ``openrlhf.cli.train_ppo_ray`` (GRPO) end to end on CPU with the vLLM stand-in.

4 prompts x 2 samples, 2 steps, a checkpoint every step; one subprocess that starts its own Ray (via
``python -m laser_plugin.launch --cpu-rollout``), about a minute on 2 cores. Resuming with
``--ckpt.load_enable`` (upstream's DeepSpeed load, the stand-in's weight sync after it) is
tests/faults/test_grpo_kill.py, on a run killed mid-checkpoint.
"""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, read_scalars, write_prompts

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, log: Path) -> str:
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)  # never join a Ray another test started: the run owns its cluster
    env["RAY_DEDUP_LOGS"] = "0"  # keep every worker line, we count them
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=480)
    log.write_text(proc.stdout)
    assert proc.returncode == 0, f"train_ppo_ray failed (log: {log}):\n{proc.stdout[-6000:]}"
    return proc.stdout


def _steps(scalars: dict, tag: str) -> list[int]:
    return sorted({step for step, _ in scalars[tag]})


def _max_weight_change(before: Path, after: Path) -> float:
    from safetensors.torch import load_file

    a, b = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_grpo_trains_and_saves_on_cpu(tmp_path: Path, tiny_policy: Path, tiny_reward_models: list[Path]):
    data = write_prompts(tmp_path / "prompts.jsonl", n=4)
    run_dir = tmp_path / "run"
    cmd = grpo_cpu_command(tiny_policy, tiny_reward_models[0], data, run_dir)
    ckpt = run_dir / "ckpt" / "_actor"
    tb = run_dir / "tb" / "grpo_cpu"

    first = _run(cmd, tmp_path, tmp_path / "run.log")
    assert "vllm stand-in: serving" in first  # rollouts came from the stand-in engine
    assert first.count("update weight: lm_head.weight") == 2  # one weight sync per step, over gloo
    scalars = read_scalars(tb)
    assert _steps(scalars, "train/policy_loss") == [1, 2]
    assert [v for _, v in scalars["train/rollout/num_samples"]] == [4.0, 4.0]  # 2 prompts x 2 samples
    assert all(math.isfinite(v) for _, v in scalars["train/reward"] + scalars["train/group_reward_std"])
    assert all(0 < v <= 8 for _, v in scalars["train/rollout/response_length_mean"])  # max_new_tokens 8
    assert (ckpt / "latest").read_text().strip() == "global_step2"
    for step in (1, 2):
        assert (ckpt / f"global_step{step}" / "mp_rank_00_model_states.pt").is_file()
    assert (run_dir / "final" / "config.json").is_file()
    assert _max_weight_change(tiny_policy, run_dir / "final") > 0  # the actor really trained
