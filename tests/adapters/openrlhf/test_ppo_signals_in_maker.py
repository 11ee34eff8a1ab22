"""LaserExperienceMaker's scoring and feedback paths on real pools, without a Ray cluster.

The maker is built with ``object.__new__`` so that upstream's ``RemoteExperienceMaker.__init__``
(which needs Ray actor groups) is skipped; everything exercised here is our code on a real
BanditRewardPool with real ``func:`` arms. The full path through train_ppo_ray is
tests/adapters/openrlhf/test_ppo_laser_e2e.py.
"""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from laser_plugin.config import LaserConfig
from laser_plugin.pool.bandit_pool import BanditRewardPool

CONST = "import torch\ndef reward_func(queries, prompts, labels, **kw):\n    return torch.zeros(len(queries))\n"
LENGTH = ("import torch\ndef reward_func(queries, prompts, labels, **kw):\n"
          "    return torch.tensor([float(len(q)) for q in queries])\n")
MATCH = ("import torch\ndef reward_func(queries, prompts, labels, **kw):\n"
         "    return torch.tensor([float(str(l) in q) for q, l in zip(queries, labels)])\n")


@pytest.fixture()
def maker_factory(tmp_path, tiny_tokenizer, cpu_compat):
    from laser_plugin.adapters.openrlhf.ppo.experience import LaserExperienceMaker

    for name, text in (("const", CONST), ("length", LENGTH), ("match", MATCH)):
        (tmp_path / f"{name}.py").write_text(text)
    pool = ",".join(f"func:{tmp_path / n}.py" for n in ("const", "length", "match"))

    def make(signal: str, selector: str = "fixed", granularity: str = "group", audit_share=None, **options):
        config = LaserConfig(selector=selector, pool=pool, signal=signal, granularity=granularity,
                             verifier="match" if signal == "verifier" else None, state_dir=str(tmp_path / "state"),
                             selector_options=options, audit_share=audit_share)
        maker = object.__new__(LaserExperienceMaker)
        maker.laser_config, maker.tokenizer = config, tiny_tokenizer
        maker.args = SimpleNamespace(rollout=SimpleNamespace(n_samples_per_prompt=2), ckpt=SimpleNamespace(path=str(tmp_path)),
                                     actor=SimpleNamespace(eps_clip_low_high=(0.2, 0.2)),
                                     algo=SimpleNamespace(advantage=SimpleNamespace(estimator="group_norm")))
        maker.bandit = BanditRewardPool(pool, selector=selector, selector_config=options, signal_norm="none",
                                        granularity=granularity, context_dim=8)
        maker._verifier_arm = maker.bandit.arm_names.index("match") if signal == "verifier" else None
        maker._step_experiences, maker._step_signals, maker._step_arms, maker._generated = [], [], [], []
        maker._probe, maker._probe_value = None, None
        return maker

    return make


def _samples(tokenizer):
    texts = ["What is 2 plus 2? 4", "What is 2 plus 2? five!!", "Is the sky blue? yes", "Is the sky blue? yes"]
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    return SimpleNamespace(sequences=enc.input_ids, attention_mask=enc.attention_mask, index=[0, 1, 2, 3],
                           prompts=["What is 2 plus 2? ", "What is 2 plus 2? ", "Is the sky blue? ", "Is the sky blue? "],
                           labels=["4", "4", "no", "no"], info={}, rewards=None)


def test_group_variance_signal_is_immediate_and_per_group(maker_factory, tiny_tokenizer):
    maker = maker_factory("group_variance", arm=1)  # fixed on the length arm
    samples = _samples(tiny_tokenizer)
    maker._score_micro_batch(samples)
    assert samples.rewards.shape == (4,) and torch.equal(samples.info["reward"], samples.rewards)
    assert [r["rows"] for r in maker._step_arms] == [2, 2]  # one decision per prompt group
    # group 0 has different lengths (informative: 1), group 1 identical answers (0)
    assert maker._step_signals == [1.0, 0.0]
    assert maker.bandit.metrics()["laser/bandit_reward/length"] == pytest.approx(0.5)


def test_verifier_signal_rewards_agreement_with_the_verifier(maker_factory, tiny_tokenizer):
    maker = maker_factory("verifier", arm=1)
    maker._score_micro_batch(_samples(tiny_tokenizer))
    # group 0: the verifier prefers the "4" answer, the length arm the longer wrong one -> 0;
    # group 1: the verifier orders nothing -> 0.5
    assert maker._step_signals == [0.0, 0.5]


def test_audit_signal_pays_every_arm_its_agreement_with_the_others(maker_factory, tiny_tokenizer):
    maker = maker_factory("audit", arm=1, audit_share=1.0)  # every decision audited
    maker._score_micro_batch(_samples(tiny_tokenizer))
    # group 0: length prefers the longer wrong answer, match the "4": each contradicts the other's
    # consensus (const ties everything: no opinion) -> const 1/2, length 0, match 0;
    # group 1: identical answers, nothing ordered -> 1/2 for every arm
    assert maker._step_signals == [0.5, 0.0, 0.0, 0.5, 0.5, 0.5]
    m = maker.bandit.metrics()
    assert m["laser/bandit_reward/length"] == pytest.approx(0.25) and m["laser/audits"] == 2.0
    assert m["laser/pending"] == 0.0 and m["pool/match/calls"] == 2.0  # the chosen arm is not asked twice
    none = maker_factory("audit", arm=1, audit_share=1e-9)  # (almost) never audited: closed without feedback
    none._score_micro_batch(_samples(tiny_tokenizer))
    assert none._step_signals == [] and none.bandit.metrics()["laser/pending"] == 0.0


def test_loss_signal_credits_each_decision_its_own_rows_after_the_update(maker_factory, tiny_tokenizer, tmp_path):
    maker = maker_factory("loss", selector="laser", alpha=0.0)
    samples = _samples(tiny_tokenizer)
    maker._score_micro_batch(samples)
    assert maker._step_signals == [] and samples.laser_decisions.tolist() == [0, 0, 1, 1]
    # what upstream's make_experience / compute_advantages_and_returns put on the experience (2 tokens,
    # the last of row 3 padding), then the step: decision 0's rows moved toward their advantages, 1's not
    samples.action_log_probs = torch.zeros(4, 2)
    samples.advantages = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, 1.0], [-1.0, 5.0]])
    samples.action_mask = torch.tensor([[1, 1], [1, 1], [1, 1], [1, 0]], dtype=torch.bool)
    maker._step_experiences.append(samples)
    new = torch.log(torch.tensor([[1.5, 1.5], [0.9, 0.9], [1.1, 1.1], [1.1, 9.0]]))
    # Stand-in for the remote actor forward (a Ray actor group; the real one runs in
    # tests/adapters/openrlhf/test_grpo_example_dapo.py): the new log-probs are given here.
    maker._policy_log_probs = lambda experiences: [new]
    metrics = maker.finish_step({"policy_loss": 0.25}, global_step=1)
    # row gains min(rho A, clip(rho, 0.8, 1.2) A) - A: 0.2 (clipped), 0.1; 0.1, -0.1 (masked token out)
    assert metrics["laser/pending"] == 0.0 and metrics["laser/signal"] == pytest.approx((0.15 + 0.0) / 2)
    log = (tmp_path / "state" / "decisions.jsonl").read_text().splitlines()
    assert len(log) == 2 and all('"global_step": 1' in line for line in log)
    assert np.isfinite(metrics["laser/decisions"])


def test_a_step_without_policy_update_skips_the_loss_feedback(maker_factory, tiny_tokenizer):
    """Upstream trains nothing when a (dynamically filtered) rollout is smaller than one train batch:
    the step status then has only rollout/timing entries."""
    maker = maker_factory("loss", selector="laser")
    maker._score_micro_batch(_samples(tiny_tokenizer))
    metrics = maker.finish_step({"rollout/num_samples": 2.0, "timing/ppo_train": 0.1, "generated_samples": []}, 1)
    assert metrics["laser/pending"] == 2.0 and "laser/signal" not in metrics


def _micro_batches(tokenizer, sizes):
    """The rollout of 3 prompts x 2 samples cut into micro-batches of ``sizes`` (as
    split_rollout_samples does with --rollout.micro_batch_size 3: [0 1 2] [3 4 5])."""
    prompts = ["What is 2 plus 2? ", "Is the sky blue? ", "Can fish fly? "]
    answers = ["4", "five!!", "yes", "yes indeed", "no", "n"]
    out, start = [], 0
    for size in sizes:
        idx = list(range(start, start + size))
        texts = [prompts[i // 2] + answers[i] for i in idx]
        enc = tokenizer(texts, return_tensors="pt", padding=True)
        out.append(SimpleNamespace(sequences=enc.input_ids, attention_mask=enc.attention_mask, index=idx,
                                   prompts=[prompts[i // 2] for i in idx], labels=["4"] * size, info={}, rewards=None))
        start += size
    return out


def test_group_cut_by_micro_batch_boundary_gets_one_decision(maker_factory, tiny_tokenizer):
    """n_samples_per_prompt 2, micro_batch_size 3: group 1 (samples 2 and 3) straddles the two
    micro-batches. round_robin gives every decision the next arm, so a group decided twice mixes arms."""
    per_micro_batch = maker_factory("group_variance", selector="round_robin")
    first, second = (per_micro_batch.score_samples([m]) for m in _micro_batches(tiny_tokenizer, [3, 3]))
    assert first.arms[2] != second.arms[0]  # what deciding per micro-batch did: the group split over 2 arms

    maker = maker_factory("group_variance", selector="round_robin")
    micro = _micro_batches(tiny_tokenizer, [3, 3])
    (result,) = maker.score_rollout(micro)
    assert result.decision_ids.tolist() == [0, 0, 1, 1, 2, 2]  # one decision per prompt group
    assert result.arms[2] == result.arms[3] and len(set(result.arms.tolist())) == 3
    assert [r["rows"] for r in maker._step_arms] == [2, 2, 2]
    rewards = torch.cat([m.rewards for m in micro])
    assert torch.allclose(rewards, torch.as_tensor(result.rewards))
    assert all(torch.equal(m.info["reward"], m.rewards) for m in micro)
    assert len(maker._step_signals) == 3  # the immediate signal once per decision, on the whole group


def test_granularity_batch_refuses_a_micro_batch_that_cuts_a_group(maker_factory, tiny_tokenizer):
    maker = maker_factory("group_variance", selector="round_robin", granularity="batch")
    with pytest.raises(RuntimeError, match="holds part of a prompt group.*granularity group"):
        maker.score_rollout(_micro_batches(tiny_tokenizer, [3, 3]))
    whole = maker_factory("group_variance", selector="round_robin", granularity="batch")
    micro = _micro_batches(tiny_tokenizer, [4, 2])
    whole.score_rollout(micro)  # whole groups per micro-batch: one decision per micro-batch (LASeR)
    assert [r["rows"] for r in whole._step_arms] == [4, 2]


def test_dynamic_filtering_scores_each_group_as_generated(maker_factory, tiny_tokenizer):
    """Upstream's real SamplesGenerator._process_response_into_experience, wrapped: the n-th response
    of a prompt gets the whole group scored (one decision), with `scores` for upstream's filter."""
    from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator

    from laser_plugin.adapters.openrlhf.ppo.experience import DECISION_KEY, score_groups_during_generation

    maker = maker_factory("group_variance", arm=2)  # fixed on the 0/1 `match` arm
    args = SimpleNamespace(rollout=SimpleNamespace(n_samples_per_prompt=2), algo=SimpleNamespace())
    generator = SamplesGenerator(SimpleNamespace(args=args), None, None, tiny_tokenizer, [])
    score_groups_during_generation(generator, maker)

    def response(prompt, answer, label):
        ids = tiny_tokenizer(prompt + answer).input_ids
        n_prompt = len(tiny_tokenizer(prompt).input_ids)
        return {"observation_tokens": ids, "action_ranges": [(n_prompt, len(ids))], "prompt": prompt, "label": label,
                "rollout_log_probs": None}

    first = generator._process_response_into_experience(response("What is 2 plus 2? ", "4", "4"), max_len=64)
    assert first.scores is None  # the group is not complete yet
    second = generator._process_response_into_experience(response("What is 2 plus 2? ", "five", "4"), max_len=64)
    assert first.scores.tolist() == [1.0] and second.scores.tolist() == [0.0]  # match arm: raw 0/1 scores
    assert first.rewards is not None and first.info["score"] is first.scores
    assert int(first.info[DECISION_KEY]) == int(second.info[DECISION_KEY])  # one decision for the group
    # upstream's filter keeps a group whose mean score is inside (0, 1): this one (mean 0.5) passes
    assert 0 < (first.scores[0] + second.scores[0]).item() / 2 < 1
    assert [r["rows"] for r in maker._generated] == [2] and maker._step_arms == []
    with pytest.raises(RuntimeError, match="responses of two prompts interleaved"):
        generator._process_response_into_experience(response("Is the sky blue? ", "yes", "no"), max_len=64)
        generator._process_response_into_experience(response("What is 2 plus 2? ", "4", "4"), max_len=64)
