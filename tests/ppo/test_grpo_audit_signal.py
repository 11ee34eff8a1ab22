"""GRPO through the REAL ``openrlhf.cli.train_ppo_ray`` on CPU with a pool holding a pure-noise arm and
a misleading arm: under the cross-arm audit signal (the PPO/GRPO default) their share of the bandit's
decisions falls over the steps.

Pool: ``noise`` (a hash of the text: no information), ``long`` (longer is better: it contradicts the
other three), and three arms that prefer short answers by different measures (characters, words,
1/(1+characters)): the consensus the audit pays. Before any feedback LinUCB's scores tie and it picks
uniformly (the bad arms' share is then 2/5); the share must fall well below that. Only vLLM's
engine is a stand-in (HF generate): it cannot run on CPU.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, write_prompts

pytestmark = pytest.mark.slow

ARMS = {
    "noise": "import hashlib\n"
             "def reward_func(queries, prompts, labels, **kw):\n"
             "    return [int.from_bytes(hashlib.blake2b(q.encode(), digest_size=8).digest(), 'little') / 2**64\n"
             "            for q in queries]\n",
    "long": "def reward_func(queries, prompts, labels, **kw):\n"
            "    return [float(len(q) - len(p)) for q, p in zip(queries, prompts)]\n",
    "short_chars": "def reward_func(queries, prompts, labels, **kw):\n"
                   "    return [-float(len(q) - len(p)) for q, p in zip(queries, prompts)]\n",
    "short_words": "def reward_func(queries, prompts, labels, **kw):\n"
                   "    return [-float(len(q[len(p):].split())) for q, p in zip(queries, prompts)]\n",
    "short_inverse": "def reward_func(queries, prompts, labels, **kw):\n"
                     "    return [1.0 / (1.0 + len(q) - len(p)) for q, p in zip(queries, prompts)]\n",
}


def test_noise_and_misleading_arms_lose_share_under_the_audit_signal(tmp_path, tiny_policy):
    specs = []
    for name, text in ARMS.items():
        (tmp_path / f"{name}.py").write_text(text)
        specs.append(f"func:{tmp_path / name}.py")
    data = write_prompts(tmp_path / "prompts.jsonl", n=24)
    run_dir = tmp_path / "run"
    # 4 prompts x 4 samples per step: 4 decisions (one per prompt group), 6 steps; every decision
    # audited (--reward_selector.audit_share 1: each pays all five arms) so a short run can learn
    laser = ["--reward_selector", "laser", "--reward_pool", ",".join(specs), "--reward_selector.granularity", "group",
             "--reward_selector.signal", "audit", "--reward_selector.audit_share", "1",
             "--reward_selector.context_dim", "8",
             "--rollout.n_samples_per_prompt", "4", "--rollout.batch_size", "4", "--rollout.micro_batch_size", "8",
             "--train.batch_size", "16", "--train.micro_batch_size", "8", "--ckpt.save_steps", "-1"]
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(grpo_cpu_command(tiny_policy, None, data, run_dir, extra_args=laser), cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=560)
    (tmp_path / "run.log").write_text(proc.stdout)
    assert proc.returncode == 0, f"train_ppo_ray failed (log: {tmp_path / 'run.log'}):\n{proc.stdout[-6000:]}"
    log = [json.loads(x) for x in (run_dir / "ckpt" / "laser_bandit" / "decisions.jsonl").read_text().splitlines()]
    steps = sorted({d["global_step"] for d in log})
    assert steps == [1, 2, 3, 4, 5, 6] and all(d["rows"] == 4 for d in log)

    def bad_share(picked):
        rows = [d for d in log if d["global_step"] in picked]
        return sum(d["arm"] in ("noise", "long") for d in rows) / len(rows)

    chance, last = 2 / 5, bad_share(steps[-3:])  # the last 12 decisions: at most one on a bad arm
    assert last <= chance / 4, (last, [(d["global_step"], d["arm"]) for d in log])
