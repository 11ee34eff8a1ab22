"""examples/grpo_laser_1node.sh itself, with upstream's DAPO flags, through the REAL
openrlhf.cli.train_ppo_ray on CPU (only vLLM's engine is a stand-in: HF generate,
laser_plugin.testing.vllm_standin). Its own file: one Ray run per file lets two test workers share
the long runs (tests/adapters/openrlhf/test_ppo_laser_e2e.py holds the others)."""
from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from laser_plugin.testing.ppo_cpu import cpu_run_env, read_decisions, write_prompts

pytestmark = pytest.mark.slow


PARITY_FUNC = '''
import torch

def reward_func(queries, prompts, labels, **kwargs):
    # 0/1 by response length parity: some prompt groups mixed (kept by the filter), some uniform (dropped)
    r = [float((len(q) - len(p)) % 2) for q, p in zip(queries, prompts)]
    return {"rewards": torch.tensor(r), "scores": torch.tensor(r), "extra_logs": {}}
'''


def test_grpo_1node_example_with_upstream_dapo_flags_dry_runs_on_cpu(tmp_path, tiny_policy, tiny_reward_models):
    """examples/grpo_laser_1node.sh itself, through its environment overrides (tiny models and data,
    one logical GPU, the launcher with CPU rollouts), with the flags of upstream's DAPO example
    (train_dapo_ray_hybrid_engine.sh) and small sizes appended (argparse keeps the last value):
    ZeRO-3, flash_attention_2 + packing (per-sequence SDPA on CPU), dynamic filtering on the pool's
    per-group scores, dynamic batch, k3 KL loss, clip-higher, DeepSpeed sleep, micro-batches of 3
    cutting groups of 2. One run for all of it: each Ray run costs ~2 minutes on 2 cores. LASeR's loss
    signal, so the per-decision credit's actor forward after each update runs on this hardest path
    (rows regrouped by the filter and the dynamic batch, packed, the actor's states asleep)."""
    func = tmp_path / "parity.py"
    func.write_text(PARITY_FUNC)
    dapo = ("--algo.kl.init_coef 1e-3 --algo.kl.use_loss --algo.kl.estimator k3 --algo.dynamic_filtering_enable "
            "--algo.dynamic_filtering_range 0 1 --actor.eps_clip_low_high 0.2 0.27 --ds.packing_samples "
            "--ds.enable_sleep --train.dynamic_batch_enable --train.max_tokens_per_gpu 96 --reward_selector.signal loss")
    sizes = ("--rollout.n_samples_per_prompt 2 --rollout.batch_size 2 --rollout.micro_batch_size 3 "
             "--train.batch_size 4 --train.micro_batch_size 2 --rollout.max_new_tokens 8 --data.max_len 64 "
             "--vllm.sync_backend gloo --train.num_episodes 1 --ckpt.save_steps 1 --train.seed 1")
    env = cpu_run_env()
    env.pop("RAY_ADDRESS", None)
    env.update({
        "POLICY": str(tiny_policy), "POOL": f"func:{func},hf:{tiny_reward_models[0]}",
        "DATA": str(write_prompts(tmp_path / "prompts.jsonl", n=8, key="context_messages")), "GPUS": "1",
        "CKPT": str(tmp_path / "ckpt"), "LOGS": str(tmp_path / "logs"),
        "LAUNCH": f"{sys.executable} -m laser_plugin.launch --cpu-rollout openrlhf.cli.train_ppo_ray",
        "EXTRA_ARGS": f"{dapo} {sizes}",
    })
    script = Path(__file__).resolve().parents[3] / "examples" / "grpo_laser_1node.sh"
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=560)
    (tmp_path / "example.log").write_text(proc.stdout)
    assert proc.returncode == 0, f"the example failed (log: {tmp_path / 'example.log'}):\n{proc.stdout[-6000:]}"
    assert "Filtered out: avg_reward=" in proc.stdout  # upstream's filter ran on the pool's scores
    log = read_decisions(tmp_path / "ckpt" / "laser_bandit" / "decisions.jsonl")
    assert log and all(d["rows"] == 2 for d in log)  # one decision per whole prompt group
    assert {d["trained"] for d in log} == {True, False}  # kept groups trained on, filtered ones not
    assert {d["arm"] for d in log} <= {"parity", "rm_a"}
    # each trained step paid its decisions their rows' loss drop (a finite mean), after the update
    signals = re.findall(r"\[laser_plugin\] step \d+: arms .* signal (\S+)", proc.stdout)
    assert signals and any(math.isfinite(float(s)) for s in signals), signals
