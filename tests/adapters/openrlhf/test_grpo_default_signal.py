"""Issue 14 item 6: the real ``openrlhf.cli.train_ppo_ray`` (GRPO, CPU twin) with a pool holding a
pure-noise arm and a misleading arm (``laser_plugin.testing.signal_arms``: ``noise``, ``long`` and
three arms that agree that shorter is better), launched WITHOUT ``--reward_selector.signal``: under
the default signal the bad arms' share of the decisions falls below chance (2/5) and below what it
was in the first third of the steps. Side by side, benchmarks/bench_grpo_signals.py runs the other
signals on the same pool (LASeR's ``loss`` drifts onto ``long``). Only vLLM's engine is a stand-in
(HF generate, laser_plugin.testing.vllm_standin): it cannot run on CPU."""
from __future__ import annotations

import pytest

from laser_plugin.testing.signal_arms import BAD_ARMS, run_grpo

pytestmark = pytest.mark.slow

STEPS = 9  # 36 decisions (4 prompt groups per step); the benchmark's length


def test_default_grpo_signal_moves_decisions_off_the_noise_and_misleading_arms(tmp_path, tiny_policy):
    run = run_grpo(None, STEPS, tmp_path, tiny_policy, timeout_s=900)
    assert run["decisions"] == 4 * STEPS
    first, _, last = run["bad_share_by_third"]
    chance = len(BAD_ARMS) / 5
    assert last < chance, run["arms_by_step"]
    assert last <= first, run["arms_by_step"]
    # the default here is the audit (no verifier named): every arm scored some groups, at most 1.25x
    # one arm's scoring
    assert run["responses"] < run["responses_scored"] <= 1.25 * run["responses"] + 16, run["responses_scored"]
