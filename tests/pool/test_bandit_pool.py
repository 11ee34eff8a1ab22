"""BanditRewardPool with the real selection core on func arms: decisions, feedback, fallback,
ensembles, checkpoints."""
import numpy as np
import pytest

from laser_plugin.pool import ArmSpec, ScoringBatch
from tests.pool.conftest import make_batch

pytest.importorskip("laser_plugin.core.signal_norm", reason="selection core not installed yet")


def _specs(func_dir, first=None):
    arms = [ArmSpec("func", str(func_dir / "length.py"), name=f"len{i}", func_kwargs={"factor": float(i + 1)})
            for i in range(3)]
    return ([first] if first is not None else []) + arms


def _bandit(func_dir, first=None, **kw):
    from laser_plugin.pool.bandit_pool import BanditRewardPool

    kw = {"selector": "laser", "context_dim": 16, "seed": 3, **kw}
    return BanditRewardPool(_specs(func_dir, first), **kw)


def test_context_encoder_is_deterministic_normalised_with_bias():
    from laser_plugin.pool.context import HashingContextEncoder, make_context_encoder

    enc = make_context_encoder("hashing", 16, seed=1)
    x = enc(["What is 12 plus 7?", "what is 12 plus 7?", "Can fish fly?"])
    assert x.shape == (3, 16) and (x[:, -1] == 1).all()
    np.testing.assert_allclose(np.linalg.norm(x[:, :-1], axis=1), 1.0)
    np.testing.assert_array_equal(x[0], x[1])  # lower-cased
    assert not np.allclose(x[0], x[2])
    texts = ["What is 12 plus 7?", "what is 12 plus 7?", "Can fish fly?"]
    np.testing.assert_array_equal(x, HashingContextEncoder(16, seed=1)(texts))  # no per-process hash salt
    assert not np.allclose(x, HashingContextEncoder(16, seed=2)(texts))
    with pytest.raises(ValueError, match="unknown context encoder"):
        make_context_encoder("bert", 16)


def test_hf_context_encoder_projects_hidden_states(tiny_policy):
    from laser_plugin.pool.context import make_context_encoder

    enc = make_context_encoder(f"hf:{tiny_policy}", 16, seed=0, max_len=64)
    x = enc(["What is 12 plus 7?", "Can fish fly?", "What is 12 plus 7?"])
    assert x.shape == (3, 16) and (x[:, -1] == 1).all()
    np.testing.assert_allclose(np.linalg.norm(x[:, :-1], axis=1), 1.0)
    np.testing.assert_allclose(x[0], x[2])
    assert not np.allclose(x[0], x[1])


def test_selector_alias_checkpoints_interchange(func_dir, tmp_path):
    a = _bandit(func_dir, selector="linucb")
    a.score(make_batch(2))
    a.save(tmp_path / "s.safetensors")
    _bandit(func_dir, selector="laser").load(tmp_path / "s.safetensors")  # same selector, other name


@pytest.mark.parametrize("kwargs, match", [({"granularity": "token"}, "granularity"),
                                           ({"context_dim": 1}, "context_dim"), ({"selector": "nope"}, "unknown selector"),
                                           ({"context_encoder": "bert"}, "unknown context encoder")])
def test_bandit_pool_options_are_validated(func_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _bandit(func_dir, **kwargs)


def test_row_granularity_never_splits_a_group_and_feedback_is_averaged(func_dir):
    bp = _bandit(func_dir, granularity="group")
    batch = make_batch(6, group_size=2)
    res = bp.score(batch)
    assert res.rewards.shape == (6,) and res.rewards.dtype == np.float32
    for g in range(3):
        rows = np.flatnonzero(batch.group_ids == g)
        assert len(set(res.arms[rows])) == 1 and len(set(res.decision_ids[rows])) == 1
    assert len(np.unique(res.decision_ids)) == 3
    out = bp.update(res.decision_ids, np.arange(6.0))  # per-sample values -> one per decision
    assert len(out["decision_ids"]) == 3 and np.isfinite(out["rewards"]).all()
    assert bp.metrics()["laser/pending"] == 0.0


def test_batch_granularity_makes_one_decision(func_dir):
    bp = _bandit(func_dir)
    res = bp.score(make_batch(5))
    assert len(set(res.arms)) == 1 and len(set(res.decision_ids)) == 1
    m = bp.metrics()
    assert sum(m[f"laser/select/len{i}"] for i in range(3)) == pytest.approx(1.0)
    assert m["laser/decisions"] == 1.0 and f"pool/len{int(res.arms[0])}/calls" in m


def test_unknown_or_repeated_decision_ids_raise(func_dir):
    from laser_plugin.pool.bandit_pool import UnknownDecisionError

    bp = _bandit(func_dir)
    res = bp.score(make_batch(2))
    with pytest.raises(UnknownDecisionError, match="unknown decision ids \\[99\\]"):
        bp.update([99], [1.0])
    bp.update(res.decision_ids[:1], [1.0])
    with pytest.raises(UnknownDecisionError, match="already updated"):
        bp.update(res.decision_ids[:1], [1.0])
    with pytest.raises(ValueError, match="finite"):
        bp.update([0], [float("nan")])


def test_nan_arm_quarantined_and_decision_falls_to_next_best(func_dir):
    nan_arm = ArmSpec("func", str(func_dir / "nan_after.py"), name="nan", func_kwargs={"good_calls": 0})
    bp = _bandit(func_dir, first=nan_arm, pool_kwargs={"normalize": "none"})
    batch = make_batch(4)
    ctx = bp.encoder(batch.prompts)
    # Teach the bandit a clear order: the NaN arm best, then len1 (arm 2), then the rest.
    arms = np.repeat([0, 2, 1, 3], 8)
    bp.selector.update(arms, np.repeat(ctx.mean(0, keepdims=True), 32, 0), np.repeat([1.0, 0.6, 0.0, 0.0], 8))
    scores = np.asarray(bp.selector.scores(ctx.mean(0, keepdims=True)))[0]
    assert scores.argmax() == 0 and np.argsort(scores)[-2] == 2
    expected = 2
    res = bp.score(batch)
    assert (res.arms == expected).all() and res.info["fallbacks"] == 1
    assert np.isfinite(res.rewards).all()
    m = bp.metrics()
    assert (m["pool/nan/nan_events"], m["pool/nan/quarantined"], m["laser/fallbacks"]) == (1.0, 1.0, 1.0)
    calls = m["pool/nan/calls"]
    res2 = bp.score(batch)  # quarantined: excluded up front, not tried again
    assert res2.arms[0] != 0 and bp.metrics()["pool/nan/calls"] == calls
    out = bp.update(res.decision_ids, np.ones(4))  # feedback credits the arm that actually scored
    assert out["arms"].tolist() == [expected]


def test_ensemble_scores_every_arm_and_combines(func_dir):
    bp = _bandit(func_dir, selector="score_mean")
    batch = make_batch(4)
    res = bp.score(batch)
    assert (res.arms == -1).all() and res.raw_scores.shape == (3, 4)
    norm_all = np.stack([bp.pool.normalizer.apply(a, res.raw_scores[a]) for a in range(3)])
    np.testing.assert_allclose(res.rewards, bp.selector.combine(norm_all), atol=1e-5)
    assert np.isnan(bp.update(res.decision_ids, np.ones(4))["rewards"]).all()  # nothing to credit


def test_checkpoint_round_trip_gives_identical_next_decisions(func_dir, tmp_path):
    a = _bandit(func_dir, granularity="group")
    rng = np.random.default_rng(0)
    for _ in range(4):
        res = a.score(make_batch(6, group_size=2))
        a.update(res.decision_ids, rng.normal(size=6))
    pending = a.score(make_batch(6, group_size=2))  # feedback still outstanding at save time
    a.save(tmp_path / "bandit.safetensors")
    b = _bandit(func_dir, granularity="group")
    b.load(tmp_path / "bandit.safetensors")
    for _ in range(3):
        batch = make_batch(6, group_size=3)
        ra, rb = a.score(batch), b.score(batch)
        np.testing.assert_array_equal(ra.arms, rb.arms)
        np.testing.assert_array_equal(ra.decision_ids, rb.decision_ids)
        np.testing.assert_allclose(ra.rewards, rb.rewards)
        a.update(ra.decision_ids, np.ones(6))
        b.update(rb.decision_ids, np.ones(6))
    b.update(pending.decision_ids, np.ones(6))  # pending decisions survived the round trip


def test_state_saved_under_the_old_normaliser_name_still_loads(func_dir):
    a = _bandit(func_dir, signal_norm="baseline")
    res = a.score(make_batch(4))
    a.update(res.decision_ids, [0.1, 0.9, 0.4, 0.2][:len(res.decision_ids)])
    old = {("feedback/" + k[len("signal_norm/"):] if k.startswith("signal_norm/") else k): v
           for k, v in a.state_dict().items()}  # the key prefix before signal_norm was named
    assert any(k.startswith("feedback/") for k in old)
    b = _bandit(func_dir, signal_norm="baseline")
    b.load_state_dict(old)
    assert b.signal_norm.state_dict().keys() == a.signal_norm.state_dict().keys()
    assert all(np.array_equal(np.asarray(v), np.asarray(b.signal_norm.state_dict()[k]))
               for k, v in a.signal_norm.state_dict().items())


def test_corrupt_and_mismatched_checkpoints_are_refused(func_dir, tmp_path):
    a = _bandit(func_dir)
    a.score(make_batch(2))
    path = tmp_path / "bandit.safetensors"
    a.save(path)
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        _bandit(func_dir).load(bad)
    with pytest.raises(FileNotFoundError):
        _bandit(func_dir).load(tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="context_dim: checkpoint has 16, this pool has 8"):
        _bandit(func_dir, context_dim=8).load(path)
    with pytest.raises(ValueError, match="selector"):
        _bandit(func_dir, selector="score_mean").load(path)
    from laser_plugin.pool.bandit_pool import BanditRewardPool

    renamed = [ArmSpec("func", s.target, name=s.name + "x", func_kwargs=s.func_kwargs) for s in _specs(func_dir)]
    with pytest.raises(ValueError, match="arm_names"):
        BanditRewardPool(renamed, selector="laser", context_dim=16).load(path)
    extra = ArmSpec("func", str(func_dir / "length.py"), name="extra")
    with pytest.raises(ValueError, match="num_arms: checkpoint has 3, this pool has 4"):
        _bandit(func_dir, first=extra).load(path)


def test_audit_scores_every_arm_pays_each_and_closes_the_decision(func_dir):
    from laser_plugin.pool.bandit_pool import UnknownDecisionError

    # three length arms (factors 1, 2, 3: the same order) and a verifier that is right on every row
    # of this batch (all ties: no opinion, half credit)
    verifier = ArmSpec("func", str(func_dir / "verifier.py"), name="verifier")
    bp = _bandit(func_dir, first=verifier, granularity="group")
    batch = make_batch(6, group_size=3)
    res = bp.score(batch)
    d = int(res.decision_ids[0])
    rows = np.flatnonzero(res.decision_ids == d)
    calls = {n: bp.metrics()[f"pool/{n}/calls"] for n in bp.arm_names}
    pick = lambda xs: [xs[i] for i in rows]  # noqa: E731
    sub = ScoringBatch(queries=pick(batch.queries), prompts=pick(batch.prompts), responses=pick(batch.responses),
                       labels=pick(batch.labels), group_ids=pick(list(batch.group_ids)))
    out = bp.audit(sub, d, chosen_raw=res.raw_scores[rows])
    after = bp.metrics()
    chosen = bp.arm_names[int(res.arms[rows[0]])]
    # the chosen arm is not asked again; every other arm scores the decision's rows once
    assert all(after[f"pool/{n}/calls"] == calls[n] + (n != chosen) for n in bp.arm_names)
    assert out["arms"].tolist() == [0, 1, 2, 3] and np.isfinite(out["rewards"]).all()
    # the length arms agree with each other, more than the verifier agrees with them
    assert out["agreement"].tolist() == [0.5, 1.0, 1.0, 1.0]
    assert after["laser/audits"] == 1.0 and after["laser/pending"] == 1.0
    with pytest.raises(UnknownDecisionError):
        bp.audit(sub, d)
    bp.forget(res.decision_ids)
    assert bp.metrics()["laser/pending"] == 0.0


def test_audit_share_of_named_decisions_leaves_the_others_pending(func_dir):
    bp = _bandit(func_dir, granularity="group")
    batch = make_batch(6, group_size=3)  # two prompt groups: two decisions
    res = bp.score(batch)
    first, second = np.unique(res.decision_ids).tolist()
    (out,) = bp.audit_share_of(res, batch, 1.0, seed=0, decisions=[second])
    assert np.isfinite(out["agreement"]).all() and bp.metrics()["laser/audits"] == 1.0
    assert bp.metrics()["laser/pending"] == 1.0  # `first` was not named: still open for other feedback
    assert bp.audit_share_of(res, batch, 0.0, seed=0, decisions=[first]) == []  # share 0: closed, no audit
    assert bp.metrics()["laser/pending"] == 0.0


def test_calibrated_feedback_bypasses_the_normaliser_and_must_be_a_rate(func_dir):
    bp = _bandit(func_dir, granularity="batch")
    first = bp.score(make_batch(4))
    out = bp.update(first.decision_ids[:1], [0.75], calibrated=True)
    np.testing.assert_allclose(out["rewards"], [0.75])  # the rate as is: no running-quantile rescaling
    arm = int(first.arms[0])
    # the selector learns rate - 1/2 (prior = chance): b_k = ridge * mu0 (0) + 0.25 x
    b = bp.selector.model.b[arm]
    assert b[-1] == pytest.approx(0.25)  # the context's bias feature is 1
    second = bp.score(make_batch(4))
    with pytest.raises(ValueError, match=r"calibrated feedback must lie in \[0, 1\]"):
        bp.update(second.decision_ids[:1], [1.5], calibrated=True)
    np.testing.assert_allclose(bp.update(second.decision_ids[:1], [0.25], calibrated=True)["rewards"], [0.25])


def _explorer(func_dir, explore_by):
    # alpha 10: the exploration bonus always outranks the estimates, so after one arm has evidence
    # for a context the pick is another arm, while the best estimate is that arm
    return _bandit(func_dir, explore_by=explore_by, selector_config={"alpha": 10.0}, granularity="group")


@pytest.mark.parametrize("explore_by", ["scoring", "none", "training"])
def test_explore_by_chooses_who_trains_and_who_only_scores(func_dir, explore_by):
    bandit = _explorer(func_dir, explore_by)
    batch = make_batch(4, group_size=4)  # one prompt group: one decision
    first = bandit.score(batch)
    trained_first = int(first.arms[0])
    assert first.info.get("explored", []) == []  # no evidence yet: the pick scores...
    # ...and, where only the estimates decide (not LASeR), nothing trains on it: no arm is believed
    assert first.info.get("abstained", []) == ([] if explore_by == "training" else [int(first.decision_ids[0])])
    bandit.update(first.decision_ids[:1], [0.9], calibrated=True)  # this arm is good here (estimate 0.4)
    second = bandit.score(batch)
    explored = second.info.get("explored", [])
    if explore_by == "training":  # LASeR: the bonus sends the pick elsewhere, and that pick trains
        assert int(second.arms[0]) != trained_first and explored == []
        return
    if explore_by == "none":  # only audits teach: one observation leaves 0.4 - alpha 10 x width below chance,
        assert second.info["abstained"] == second.decision_ids[:1].tolist() and explored == []  # so it abstains
        assert bandit.metrics()["laser/abstained"] == 2 and bandit.metrics()["laser/explore_scorings"] == 0
        bandit.selector.config.alpha = 0.1  # a tight bound: 0.4 - 0.1 x width clears chance, that arm trains
        third = bandit.score(batch)
        assert third.info["abstained"] == [] and (third.arms == trained_first).all()
        return
    assert (second.arms == trained_first).all()  # the arm with the best estimate scored the training rows
    assert second.info["abstained"] == [] and bandit.metrics()["laser/abstained"] == 1
    (e,) = explored  # the pick scored the same rows, for feedback only, under its own decision id
    assert e["arm"] != trained_first and e["decision"] not in set(second.decision_ids.tolist())
    np.testing.assert_array_equal(e["rows"], np.arange(4))
    factor = e["arm"] + 1.0  # the len{i} arms score len(query) * (i + 1)
    np.testing.assert_allclose(e["raw_scores"], [len(q) * factor for q in batch.queries])
    assert bandit.metrics()["laser/explore_scorings"] == 1 and bandit.metrics()[f"pool/len{e['arm']}/samples"] == 4
    out = bandit.update([e["decision"]], [0.2], calibrated=True)  # feedback reaches the explored arm
    assert out["arms"].tolist() == [e["arm"]]
    state = bandit.state_dict()
    again = _explorer(func_dir, explore_by)
    again.load_state_dict(state)
    assert again.metrics()["laser/explore_scorings"] == 1


def test_explore_by_is_validated(func_dir):
    with pytest.raises(ValueError, match="explore_by must be one of"):
        _bandit(func_dir, explore_by="greedy")
