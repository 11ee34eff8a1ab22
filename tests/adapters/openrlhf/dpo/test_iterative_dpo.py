"""CPU proof of LASeR's iterative DPO through the real OpenRLHF DPO trainer (compat layer).

Two rounds on tiny models with a 3-arm pool (two tiny OpenRLHF RMs + a ``func:`` verifier), run as
the user runs it (``laser-plugin iterative-dpo`` in a subprocess): rounds complete, the bandit is
updated from the DPO losses, each round is checkpointed, a run resumed from round 0 reproduces
round 1 exactly, best-of-N writes ranked output and evaluate reports accuracy and arm shares.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _cli(*args, timeout=600):
    out = subprocess.run([sys.executable, "-m", "laser_plugin.cli", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env={**__import__("os").environ, "LASER_DEBUG": "1"})
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return out.stdout + out.stderr


def _pool(rms, verifier):
    return f"hf:{rms[0]}@rm_a,hf:{rms[1]}@rm_b,func:{verifier}@verifier"


def _dpo_args(policy, prompts, rms, verifier, out, *extra):
    return ["iterative-dpo", "--model.model_name_or_path", policy, "--data.dataset", prompts,
            "--data.prompt_key", "prompt", "--data.label_key", "answer", "--data.domain_key", "domain",
            "--data.apply_chat_template", "--data.max_len", 96, "--rollout.n_samples_per_prompt", 4,
            "--rollout.temperature", 1.0, "--rollout.max_new_tokens", 12, "--train.micro_batch_size", 2,
            "--train.batch_size", 4, "--ds.zero_stage", 2, "--adam.lr", 5e-3, "--lr_warmup_ratio", 0,
            "--model.beta", 0.1, "--model.nll_loss_coef", 0.1, "--laser.rounds", 2, "--laser.score_batch_size", 4,
            "--reward_selector", "laser", "--reward_pool", _pool(rms, verifier), "--reward_selector.context_dim", 16,
            "--ckpt.output_dir", out, "--logger.tensorboard_dir", Path(out) / "tb",
            # LASeR's own signal here (the paper's -loss path, row by row); the default, audit, runs in the
            # LoRA test below and in tests/faults (kill and resume, bit-exact)
            "--laser.signal", "loss", *extra]


def _state(path):
    from laser_plugin.core.state_io import load_state

    return load_state(str(path))


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_policy, tiny_reward_models, prompt_file, verifier_file):
    out = tmp_path_factory.mktemp("iterdpo") / "run"
    log = _cli(*_dpo_args(tiny_policy, prompt_file, tiny_reward_models, verifier_file, out))
    return out, log


def test_two_rounds_train_and_feed_the_bandit(run, tiny_reward_models, verifier_file):
    out, log = run
    summary = json.loads((out / "laser_summary.json").read_text())
    assert summary["signal"] == "loss" and summary["arms"] == ["rm_a", "rm_b", "verifier"]
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    for r in rounds:
        assert r["distinct_per_prompt"] > 1  # temperature sampling: the N samples differ
        assert r["pairs"] > 0 and r["optimizer_steps"] > 0 and r["bandit_updates"] > 0
        # LASeR's signal: each decision is fed -mean loss of its rows; row-weighted, exactly -loss_mean
        assert np.isfinite(r["loss_mean"]) and r["signal_row_mean"] == pytest.approx(-r["loss_mean"], abs=1e-6)
    assert "iterative DPO summary" in log and "share:rm_a" in log
    # The bandit learned from the losses: its state moved away from a fresh one, counts add up.
    from laser_plugin.adapters.openrlhf.flags import config_from_namespace

    final = _state(out / "laser_bandit.safetensors")
    fresh = _fresh_state(tiny_reward_models, verifier_file)
    moved = [k for k in final if k.startswith("selector/") and not np.array_equal(final[k], fresh[k])]
    assert moved, "selector state unchanged after two rounds"
    decisions = sum(r["decisions"] for r in rounds)
    # the iterative-DPO default granularity: one decision per prompt (12 prompts, 2 rounds); the pool
    # calls still hold --laser.score_batch_size 4 prompts each
    assert final["counts/select"][:3].sum() == decisions == 24
    assert final["counts/reward_n"].sum() == sum(r["bandit_updates"] for r in rounds)
    assert config_from_namespace is not None


def _fresh_state(rms, verifier):
    from laser_plugin.pool.bandit_pool import BanditRewardPool

    pool = BanditRewardPool(_pool(rms, verifier), selector="laser", context_dim=16, load=False)
    return pool.state_dict()


def test_pairs_are_within_one_prompt_and_arms_logged(run):
    out, _ = run
    samples = [json.loads(x) for x in (out / "rounds/round_0/samples.jsonl").read_text().splitlines()]
    pairs = [json.loads(x) for x in (out / "rounds/round_0/pairs.jsonl").read_text().splitlines()]
    by_prompt = {}
    for s in samples:
        by_prompt.setdefault(s["prompt_index"], set()).add(s["response"])
        assert s["arm"] in ("rm_a", "rm_b", "verifier")
    for p in pairs:
        assert {p["chosen"], p["rejected"]} <= by_prompt[p["prompt_index"]] and p["chosen"] != p["rejected"]
    assert {s["domain"] for s in samples} == {"math", "yes_no", "choice"}


def test_checkpoint_per_round_and_logs(run):
    out, _ = run
    for r in (0, 1):
        ckpt = out / "checkpoints" / f"round_{r}"
        assert (ckpt / "laser_bandit.safetensors").exists() and list(ckpt.glob("*model_states.pt"))
    assert (out / "checkpoints" / "latest").read_text().strip() == "round_1"
    assert (out / "model.safetensors").exists()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for ev in (out / "tb").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(ev))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert {"train/loss", "train/nll_loss", "laser_round/loss_mean"} <= tags
    assert any(t.startswith("train/laser/select/") for t in tags)


def test_resume_from_round_0_reproduces_round_1(run, tmp_path, tiny_policy, tiny_reward_models, prompt_file,
                                               verifier_file):
    out, _ = run
    resumed = tmp_path / "run"
    top = {"laser_bandit.safetensors", "model.safetensors", "laser_summary.json"}  # the finished run's outputs
    shutil.copytree(out, resumed, ignore=lambda d, names: [n for n in names if n == "round_1"
                                                           or (Path(d) == out and n in top)])
    log = _cli(*_dpo_args(tiny_policy, prompt_file, tiny_reward_models, verifier_file, resumed,
                          "--laser.resume_round", 0))
    assert "resumed after round 0" in log
    first, again = _state(out / "checkpoints/round_1/laser_bandit.safetensors"), _state(resumed / "checkpoints/round_1/laser_bandit.safetensors")
    assert first.keys() == again.keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)  # identical bandit state after round 1
    assert [r["round"] for r in json.loads((resumed / "laser_summary.json").read_text())["rounds"]] == [0, 1]


def test_probe_feedback_signal_with_two_epochs(tmp_path, tiny_policy, tiny_reward_models, prompt_file, verifier_file, probe_file):
    out = tmp_path / "probe"
    _cli(*_dpo_args(tiny_policy, prompt_file, tiny_reward_models, verifier_file, out, "--laser.rounds", 1,
                    "--laser.signal", "probe", "--laser.probe_dataset", probe_file,
                    "--laser.no_save_samples", "--train.max_epochs", 2))
    (rnd,) = json.loads((out / "laser_summary.json").read_text())["rounds"]
    assert rnd["signal"] == "probe" and rnd["probe_loss"] is not None
    # Two epochs over the round's pairs: each decision with trained pairs is still fed back exactly once.
    assert 0 < rnd["bandit_updates"] <= rnd["decisions"] and rnd["optimizer_steps"] > 0


def test_lora_policy_with_top_bottom_k_pairs_and_the_auto_signal(tmp_path, tiny_policy, tiny_reward_models, prompt_file,
                                                                   verifier_file):
    # LASeR trained with LoRA; "all-linear" must reach peft as the string it understands. The bandit
    # is fed by `auto`: answer correctness where the labels order a decision's responses (one update),
    # the cross-arm audit for the others (the whole budget, 1.0 here, on them: each audit pays all 3 arms).
    # (The plain audit signal runs in the quickstart's tiny test.)
    out = tmp_path / "lora"
    log = _cli(*_dpo_args(tiny_policy, prompt_file, tiny_reward_models, verifier_file, out, "--laser.rounds", 1,
                          "--ds.lora.rank", 4, "--laser.pair_strategy", "top_bottom_k", "--laser.pairs_per_prompt", 2,
                          "--laser.no_save_samples", "--laser.signal", "auto", "--laser.audit_share", 1.0,
                          "--reward_selector.granularity", "batch",  # LASeR's batch-level choice, asked for
                          "--reward_selector.explore_by", "training"))  # and its exploration (the default: next test)
    (rnd,) = json.loads((out / "laser_summary.json").read_text())["rounds"]
    assert rnd["optimizer_steps"] > 0, log[-2000:]
    assert rnd["pairs"] > rnd["decisions"]  # up to 2 pairs per prompt, 4 prompts per decision
    assert rnd["signal"] == "auto" and rnd["audits"] > 0  # a random tiny policy: most answers all wrong
    judged = rnd["decisions"] - rnd["audits"]
    # each audit pays every arm that has an opinion (scores that are not all tied): up to 3; which arms
    # tie depends on the tiny policy's samples, so on the dtype (bf16: all 3 every time, fp32: fewer)
    assert 0 < rnd["audit_payments"] <= 3 * rnd["audits"]
    assert rnd["bandit_updates"] == rnd["audit_payments"] + judged and rnd["bandit_pending"] == 0.0
    assert set(rnd["audit_agreement_by_arm"]) == {"rm_a", "rm_b", "verifier"}
    # the chosen arm scored every sample; an audited decision's samples (12 prompts x 4 samples, 4 prompts
    # per decision: 16 each) were scored again by the other two arms
    assert rnd["pool"]["rm_samples"] == rnd["samples"] + 2 * (rnd["samples"] / rnd["decisions"]) * rnd["audits"]


def test_default_exploration_trains_only_on_believed_arms_and_explores_by_scoring(tmp_path, tiny_policy, tiny_reward_models,
                                                                                  prompt_file, verifier_file):
    # The default for labelled prompts: the verifier signal, one decision per prompt, explore_by scoring.
    # The arm with the best estimate scores what trains; a differing LinUCB pick scores the same 4
    # samples for feedback only; a decision no arm is believed better than chance for (the first one,
    # before any evidence) abstains: scored by its pick, no pair.
    out = tmp_path / "explore"
    _cli(*_dpo_args(tiny_policy, prompt_file, tiny_reward_models, verifier_file, out, "--laser.rounds", 1,
                    "--laser.signal", "verifier"))
    (rnd,) = json.loads((out / "laser_summary.json").read_text())["rounds"]
    assert rnd["signal"] == "verifier" and rnd["decisions"] == rnd["prompts"] == 12
    assert rnd["abstained"] >= 1 and rnd["arm_share"].get("abstained", 0) == rnd["abstained"] / 12
    samples = [json.loads(x) for x in (out / "rounds" / "round_0" / "samples.jsonl").read_text().splitlines()]
    trained = {s["prompt_index"]: s["trained"] for s in samples}
    assert sum(not t for t in trained.values()) == rnd["abstained"]
    pairs = [json.loads(x) for x in (out / "rounds" / "round_0" / "pairs.jsonl").read_text().splitlines()]
    assert all(trained[p["prompt_index"]] for p in pairs) and len(pairs) == rnd["pairs"]
    # cost: every sample scored once for training, plus each exploring pick's 4
    assert rnd["pool"]["rm_samples"] == rnd["samples"] + 4 * rnd["explored"]
    assert sum(rnd["explored_by_arm"].values()) == rnd["explored"] and rnd["bandit_pending"] == 0.0


def test_best_of_n_ranks_with_the_trained_selector_and_evaluate_reports(run, tmp_path, tiny_reward_models, prompt_file,
                                                                       verifier_file):
    out, _ = run
    ranked = tmp_path / "bon.jsonl"
    _cli("best-of-n", "--model.model_name_or_path", out, "--data.dataset", prompt_file, "--data.label_key", "answer",
         "--data.domain_key", "domain", "--data.apply_chat_template", "--rollout.n_samples_per_prompt", 3,
         "--rollout.max_new_tokens", 8, "--reward_selector", "laser", "--reward_pool", _pool(tiny_reward_models, verifier_file),
         "--reward_selector.context_dim", 16, "--laser.selector_state", out / "laser_bandit.safetensors",
         "--laser.online_signal", "verifier", "--laser.score_batch_size", 4, "--bon.output", ranked)
    rows = [json.loads(x) for x in ranked.read_text().splitlines()]
    assert len(rows) == 12
    for row in rows:
        scores = [c["score"] for c in row["candidates"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True) and row["best"] == row["candidates"][0]["response"]
        assert row["arm"] in ("rm_a", "rm_b", "verifier") and isinstance(row["best_correct"], bool)
    report = tmp_path / "eval.json"
    log = _cli("evaluate", "--model.model_name_or_path", out, "--data.dataset", prompt_file, "--data.label_key", "answer",
               "--data.domain_key", "domain", "--data.apply_chat_template", "--rollout.max_new_tokens", 8,
               "--eval.run_dir", out, "--eval.output", report)
    rep = json.loads(report.read_text())
    assert set(rep["accuracy_by_domain"]) == {"math", "yes_no", "choice", "all"}
    assert {d for d, v in rep["accuracy_by_domain"].items() if "balanced_accuracy" in v} == {"yes_no", "choice"}
    assert rep["signal"] == "loss" and set(rep["arm_share_by_domain"]) == {"math", "yes_no", "choice", "all"}
    assert abs(sum(rep["arm_share_by_domain"]["all"].values()) - 1) < 1e-9 and "bandit signal=loss" in log


def test_two_deepspeed_ranks_hold_one_bandit_state(tmp_path, tiny_policy, tiny_reward_models, prompt_file, verifier_file):
    """torchrun with 2 CPU ranks (gloo): rank 0 decides and broadcasts, per-micro-batch losses of both
    ranks are gathered, the loop checks every round that both ranks' bandit states hash the same."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "two_ranks"
    argv = _dpo_args(tiny_policy, prompt_file, tiny_reward_models, verifier_file, out, "--train.micro_batch_size", 1,
                     "--reward_selector", "thompson", "--laser.no_save_samples")
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", str(port), "-m", "laser_plugin.cli",
                           *map(str, argv)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "LASER_DEBUG": "1"})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    rounds = json.loads((out / "laser_summary.json").read_text())["rounds"]
    assert [r["ranks"] for r in rounds] == [2, 2] and all(r["bandit_updates"] > 0 for r in rounds)
    assert _state(out / "laser_bandit.safetensors")["counts/reward_n"].sum() == sum(r["bandit_updates"] for r in rounds)
