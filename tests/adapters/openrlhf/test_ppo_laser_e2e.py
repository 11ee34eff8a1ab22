"""`--reward_selector laser` in the REAL openrlhf.cli.train_ppo_ray (GRPO) on CPU, end to end.

One run trains 4 steps with a 3-arm pool (two tiny OpenRLHF RMs, one on another tokenizer, and a
reward_func file), one arm per prompt group, the bandit state checkpointed every step beside
OpenRLHF's (resume: tests/faults/test_grpo_kill.py); it also checks the CPU twin itself (stand-in
rollouts, weight syncs, a trained actor). It runs OpenRLHF's async mode (``--train.async_enable``:
generation in its own actor, training in TrainingActor), so the trainer-side hooks are proven there;
the synchronous trainer runs in the kill test and the DAPO example test (one Ray run less in the suite). The bandit
learns from the probe signal (trusted pairs measured by the real actor after each update). Only vLLM's engine is a
stand-in (HF generate, laser_plugin.testing.vllm_standin): it cannot run on CPU.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, read_decisions, read_scalars, write_prompts

pytestmark = pytest.mark.slow

LENGTH_FUNC = '''
import torch

def reward_func(queries, prompts, labels, **kwargs):
    # prefers short answers: a cheap, deterministic arm
    r = [1.0 / (1.0 + len(q) - len(p)) for q, p in zip(queries, prompts)]
    return {"rewards": torch.tensor(r), "scores": torch.tensor(r), "extra_logs": {}}
'''


def _run(cmd: list[str], cwd: Path, log: Path) -> str:
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)
    env["RAY_DEDUP_LOGS"] = "0"  # keep every worker line, we count them
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=560)
    log.write_text(proc.stdout)
    assert proc.returncode == 0, f"train_ppo_ray failed (log: {log}):\n{proc.stdout[-6000:]}"
    return proc.stdout


def _max_weight_change(before: Path, after: Path) -> float:
    from safetensors.torch import load_file

    a, b = load_file(str(before / "model.safetensors")), load_file(str(after / "model.safetensors"))
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_grpo_with_laser_pool_logs_and_checkpoints_the_bandit(tmp_path, tiny_policy, tiny_reward_models):
    func = tmp_path / "short.py"
    func.write_text(LENGTH_FUNC)
    pool = f"hf:{tiny_reward_models[0]},hf:{tiny_reward_models[2]},func:{func}"
    data = write_prompts(tmp_path / "prompts.jsonl", n=4)
    probe = tmp_path / "probe.jsonl"  # trusted pairs: the short answer is the right one
    probe.write_text("".join(json.dumps({"prompt": p, "chosen": "yes", "rejected": "no, that is not so at all"}) + "\n"
                             for p in ("Is water wet?", "Is fire hot?", "Is ice cold?")))
    run_dir = tmp_path / "run"
    # micro-batches of 3 samples cut the second prompt group of every step ([0 1 2] [3]): each group
    # must still get one decision (rows == 2 below), whatever the micro-batch size
    laser = ["--reward_selector", "laser", "--reward_pool", pool, "--reward_selector.granularity", "group",
             "--reward_selector.alpha", "0.5", "--train.num_episodes", "2", "--rollout.micro_batch_size", "3",
             "--reward_selector.signal", "probe", "--reward_selector.probe_dataset", str(probe),
             "--algo.kl.init_coef", "0",  # no reference model: one Ray worker less (the DAPO test keeps one)
             "--train.async_enable"]
    cmd = [a for a in grpo_cpu_command(tiny_policy, None, data, run_dir, extra_args=laser)
           if a != "--vllm.enable_sleep"]  # upstream: async RLHF does not support vLLM sleep

    out = _run(cmd, tmp_path, tmp_path / "run1.log")
    # the CPU twin itself: rollouts from the stand-in engine, one weight sync per step over gloo, the
    # actor really trained (this run also stands for the plain GRPO twin test)
    assert "vllm stand-in: serving" in out and out.count("update weight: lm_head.weight") == 4
    assert (run_dir / "ckpt" / "_actor" / "latest").read_text().strip() == "global_step4"
    assert _max_weight_change(tiny_policy, run_dir / "final") > 0
    state_dir = run_dir / "ckpt" / "laser_bandit"
    for step in (1, 2, 3, 4):
        assert (state_dir / f"global_step{step}.safetensors").is_file()
    log = read_decisions(state_dir / "decisions.jsonl")
    assert sorted({d["global_step"] for d in log}) == [1, 2, 3, 4]
    assert all(d["rows"] == 2 for d in log)  # one decision per prompt group of 2 samples: never mixed
    arm_names = {d["arm"] for d in log}
    assert arm_names <= {"rm_a", "rm_c", "short"}, arm_names

    scalars = read_scalars(run_dir / "tb" / "grpo_cpu")
    assert [v for _, v in scalars["train/rollout/num_samples"]] == [4.0] * 4  # 2 prompts x 2 samples per step
    assert all(0 < v <= 8 for _, v in scalars["train/rollout/response_length_mean"])  # max_new_tokens 8
    shares = {tag: vals for tag, vals in scalars.items() if tag.startswith("train/laser/select/")}
    assert set(shares) == {"train/laser/select/rm_a", "train/laser/select/rm_c", "train/laser/select/short"}
    assert sorted(step for step, _ in scalars["train/laser/select/rm_a"]) == [1, 2, 3, 4]
    assert any(tag.startswith("train/laser/bandit_reward/") for tag in scalars)
    probe_values = [v for _, v in sorted(scalars["train/laser/probe_value"])]  # measured after every update
    assert len(probe_values) == 4 and all(v < 0 for v in probe_values), probe_values  # a log-likelihood
    assert scalars["train/laser/pending"][-1][1] == 0.0  # every decision was paid the probe's rise
    assert "train/pool/switches" in scalars or any(t.startswith("train/pool/") for t in scalars)

    # Resume (restored bandit state, the same decisions after the resumed step) is tests/faults/test_grpo_kill.py:
    # a killed run resumed with --ckpt.load_enable alone; one Ray run here keeps the suite in budget.
