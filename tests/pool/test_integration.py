"""A heterogeneous pool of real components: 3 tiny OpenRLHF RMs (one on another tokenizer), a
reward_func verifier, and an http arm served by the real ``openrlhf.cli.serve_rm``."""
import numpy as np
import pytest

from laser_plugin.pool import ArmSpec, RewardPool
from tests.pool.conftest import make_batch


@pytest.fixture(scope="module")
def mixed_specs(tiny_reward_models, func_dir, serve_rm_url):
    rm_a, rm_b, rm_c = tiny_reward_models
    return [
        ArmSpec("hf", str(rm_a), name="rm_a"),
        ArmSpec("hf", str(rm_b), name="rm_b", normalize_reward=True),  # config mean/std 0.5/2.0
        ArmSpec("hf", str(rm_c), name="rm_c"),  # different tokenizer: decode + own chat template
        ArmSpec("func", str(func_dir / "verifier.py"), name="verifier"),
        ArmSpec("http", serve_rm_url, name="served_a", timeout_s=60.0),  # serves rm_a
    ]


def test_mixed_pool_scores_every_kind_consistently(mixed_specs, tiny_tokenizer, other_tokenizer):
    pool = RewardPool(mixed_specs, residency=2, policy_tokenizer=tiny_tokenizer, normalize="none")
    pool.load_all()
    rm_a, rm_b, rm_c = pool.arms[:3]
    assert rm_a.shares_policy_tokenizer and not rm_a.use_chat_template
    assert not rm_c.shares_policy_tokenizer and rm_c.use_chat_template
    batch = make_batch(6)
    _, raw = pool.score_all(batch)
    assert np.isfinite(raw).all()
    # The verifier is OpenRLHF's reward_func format: label found in the response.
    np.testing.assert_array_equal(raw[3], [1, 1, 1, 1, 1, 1])
    # serve_rm runs the same checkpoint on the same text: same scores as the in-process hf arm.
    np.testing.assert_allclose(raw[4], raw[0], atol=0.05, rtol=0.02)
    # normalize_reward applies the config mean/std (refilled after loading: transformers 5.15).
    assert (float(rm_b.model.mean), float(rm_b.model.std)) == (0.5, 2.0)
    plain = RewardPool([ArmSpec("hf", mixed_specs[1].target, name="rm_b")], normalize="none")
    np.testing.assert_allclose(raw[1], (plain.score_raw(batch, 0) - 0.5) / 2.0, atol=0.05)
    # rm_c reads its own chat template over the pair, in its own vocabulary.
    text = rm_c._texts(batch)[0]
    assert text.startswith("<|user|>What is 12 plus 7?<|end|><|assistant|>")
    assert other_tokenizer(text)["input_ids"] != tiny_tokenizer(text)["input_ids"]
    m = pool.metrics()
    sizes = sorted(m[f"pool/{n}/param_bytes"] for n in ("rm_a", "rm_b", "rm_c"))
    assert 0 < m["pool/peak_resident_param_bytes"] <= sizes[-1] + sizes[-2]  # residency 2
    assert m["pool/served_a/calls"] == 1.0 and m["pool/verifier/samples"] == 6.0


def test_policy_token_ids_reach_shared_rms_and_text_reaches_others(mixed_specs, tiny_tokenizer):
    pool = RewardPool(mixed_specs[:3], residency=3, policy_tokenizer=tiny_tokenizer, normalize="none")
    batch = make_batch(4)
    _, text_raw = pool.score_all(batch)
    enc = tiny_tokenizer(batch.queries, add_special_tokens=False, padding=True, return_tensors="pt")
    batch.sequences, batch.attention_mask = enc["input_ids"], enc["attention_mask"]
    _, ids_raw = pool.score_all(batch)
    np.testing.assert_allclose(ids_raw, text_raw, atol=0.05, rtol=0.02)


def test_bandit_over_the_mixed_pool_learns_and_logs(mixed_specs, tiny_tokenizer):
    pytest.importorskip("laser_plugin.core.signal_norm", reason="selection core not installed yet")
    from laser_plugin.pool.bandit_pool import BanditRewardPool

    bp = BanditRewardPool(mixed_specs, selector="laser", context_dim=16, granularity="group", seed=0,
                          pool_kwargs={"policy_tokenizer": tiny_tokenizer, "residency": 1})
    for step in range(4):
        batch = make_batch(6, group_size=2)
        res = bp.score(batch)
        assert np.isfinite(res.rewards).all() and (res.arms >= 0).all()
        bp.update(res.decision_ids, (res.arms == 3).astype(float))  # feedback favours the verifier
    m = bp.metrics()
    assert sum(m[f"laser/select/{n}"] for n in bp.arm_names) == pytest.approx(1.0)
    assert m["laser/decisions"] == 12.0 and m["laser/pending"] == 0.0
    assert m["pool/peak_resident_param_bytes"] == max(m[f"pool/{n}/param_bytes"] for n in bp.arm_names)
