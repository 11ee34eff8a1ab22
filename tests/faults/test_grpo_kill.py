"""SIGKILL a tiny GRPO run of the REAL ``openrlhf.cli.train_ppo_ray`` (CPU, vLLM stand-in) while it
checkpoints step 2, then resume with ``--ckpt.load_enable`` alone.

The kill lands where the old code broke: the trainer has written step 2's bandit state, OpenRLHF's
DeepSpeed save of step 2 has not run, so ``_actor/latest`` still names step 1. The whole run (driver,
Ray, every worker) dies at once, as on a preempted node (the launcher runs in its own session and
the test-only fault hook kills that process group). The resume must pick step 1 (saying why step 2 is
skipped), restore step 1's bandit state, drop the killed run's step-2 rows from decisions.jsonl and
make step 2's decisions again exactly as the uninterrupted run made them. Steps after that are not
compared: vLLM's sampler (here the stand-in) starts a fresh RNG on resume, upstream too, so the
rollouts, losses and hence later bandit updates of a resumed run are its own.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, write_prompts

pytestmark = pytest.mark.slow


def _launch(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> int:
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=560)
        finally:
            deadline = time.time() + 30  # the run's own process group (driver + Ray): gone, or we end it
            while time.time() < deadline:
                try:
                    os.killpg(proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.5)
            else:
                os.killpg(proc.pid, signal.SIGKILL)


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_grpo_killed_while_checkpointing_resumes_and_repeats_the_decisions(tmp_path, tiny_policy, fault_inputs):
    pool = f"func:{fault_inputs['length']}@length,func:{fault_inputs['vowels']}@vowels"
    data = write_prompts(tmp_path / "prompts.jsonl", n=4)  # 2 prompts x 2 samples per step: 2 steps
    laser = ["--reward_selector", "laser", "--reward_pool", pool, "--reward_selector.granularity", "group",
             "--algo.kl.init_coef", "0"]  # no reference model: one Ray worker less to start
    cmd = grpo_cpu_command(tiny_policy, None, data, tmp_path / "run", extra_args=laser)
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)
    env["RAY_DEDUP_LOGS"] = "0"  # keep every worker line, we count the weight syncs
    killed_env = {**env, "LASER_FAULT_AT": "ckpt_bandit:2",
                  "LASER_WORKER_SETUP": "laser_plugin.testing.faults:install_from_env"}
    ckpt = tmp_path / "run" / "ckpt"
    states, log = ckpt / "laser_bandit", ckpt / "laser_bandit" / "decisions.jsonl"

    rc = _launch(cmd, killed_env, tmp_path, tmp_path / "killed.log")
    assert rc == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-4000:]
    assert (states / "global_step2.safetensors").is_file()  # written first ...
    assert (ckpt / "_actor" / "latest").read_text().strip() == "global_step1"  # ... `latest` never moved
    before = _rows(log)
    assert sorted({r["global_step"] for r in before}) == [1, 2]
    step1_state = (states / "global_step1.safetensors").read_bytes()

    rc = _launch([*cmd, "--ckpt.load_enable"], env, tmp_path, tmp_path / "resumed.log")
    out = (tmp_path / "resumed.log").read_text()
    assert rc == 0, out[-6000:]
    assert "resuming from global_step1" in out
    assert f"Loading the checkpoint: {ckpt / '_actor'}" in out  # upstream's own DeepSpeed resume
    # the stand-in engine gets the restored weights first, then step 2's (one sync each, over gloo)
    assert out.count("update weight: lm_head.weight") == 2
    assert "skipped global_step2: bandit state saved, DeepSpeed checkpoint never written" in out
    assert f"restored bandit state {states / 'global_step1.safetensors'}" in out
    assert "dropped 2 written after it" in out  # the killed run's step-2 decisions (one per prompt group)
    after = _rows(log)
    assert after == before  # step 1 kept once, step 2 made again exactly as the uninterrupted run made it
    assert len({r["decision"] for r in after}) == len(after)  # no decision logged twice
    assert (states / "global_step1.safetensors").read_bytes() == step1_state
    assert (ckpt / "_actor" / "latest").read_text().strip() == "global_step2"
