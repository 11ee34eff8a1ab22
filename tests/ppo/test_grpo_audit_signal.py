"""GRPO through the REAL ``openrlhf.cli.train_ppo_ray`` on CPU with a pool holding a pure-noise arm and
a misleading arm: under the cross-arm audit signal (the PPO/GRPO default) their share of the bandit's
decisions falls over the steps.

Pool (``laser_plugin.testing.signal_arms``): ``noise`` (a hash of the text: no information), ``long``
(longer is better: it contradicts the other three), and three arms that prefer short answers by
different measures: the consensus the audit pays. Before any feedback LinUCB's scores tie and it picks
uniformly (the bad arms' share is then 2/5); the share must fall well below that. Only vLLM's
engine is a stand-in (HF generate): it cannot run on CPU.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, grpo_cpu_command, write_prompts
from laser_plugin.testing.signal_arms import BAD_ARMS, grpo_flags, write_pool

pytestmark = pytest.mark.slow


def test_noise_and_misleading_arms_lose_share_under_the_audit_signal(tmp_path, tiny_policy):
    pool = write_pool(tmp_path / "arms")
    data = write_prompts(tmp_path / "prompts.jsonl", n=24)
    run_dir = tmp_path / "run"
    # 4 prompts x 4 samples per step: 4 decisions (one per prompt group), 6 steps; every decision
    # audited (audit_share 1: each pays all five arms) so that a short run can learn
    laser = grpo_flags(pool, "audit", audit_share=1.0)
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
        return sum(d["arm"] in BAD_ARMS for d in rows) / len(rows)

    chance, last = 2 / 5, bad_share(steps[-3:])  # the last 12 decisions: at most one on a bad arm
    assert last <= chance / 4, (last, [(d["global_step"], d["arm"]) for d in log])
