"""Baselines and ensembles on hand-made examples."""
import numpy as np
import pytest

from laser_plugin import make_selector

X = np.ones((4, 3))


def test_round_robin_cycles_and_skips_excluded_arms():
    sel = make_selector("round_robin", 3, 3)
    assert list(sel.select(X)) == [0, 1, 2, 0]
    assert list(sel.select(X[:2])) == [1, 2]
    assert list(sel.select(X[:2], exclude=[0])) == [1, 1]  # arm 0 skipped to the next in line


def test_fixed_and_its_fallback():
    sel = make_selector("fixed", 3, 3, arm=2)
    assert list(sel.select(X)) == [2, 2, 2, 2]
    assert list(sel.select(X[:1], exclude=[2])) == [0]
    with pytest.raises(ValueError, match=r"fixed: arm 5 is not in \[0, 3\)"):
        make_selector("fixed", 3, 3, arm=5)


def test_ucb1_plays_unplayed_arms_then_the_best_mean():
    sel = make_selector("ucb1", 2, 3, c=0.0)
    sel.update([0], X[:1], [0.2])
    assert sel.select(X[:1])[0] == 1  # unplayed arm first
    sel.update([1], X[:1], [0.9])
    assert sel.select(X[:1])[0] == 1


def test_eps_greedy_tries_every_arm_then_exploits_with_epsilon_zero():
    sel = make_selector("eps_greedy", 3, 3, epsilon=0.0)
    sel.update([0], X[:1], [0.1])
    assert sel.select(X[:1])[0] in (1, 2)  # unplayed arms first
    sel.update([1, 2], X[:2], [0.7, 0.3])
    assert list(sel.select(X)) == [1, 1, 1, 1]
    sel.update([0, 0], X[:2], [1.0, 1.0])  # arm 0's mean is now (0.1 + 2) / 3 = 0.7 = arm 1's
    assert set(sel.select(np.ones((200, 3)))) == {0, 1}  # exact ties are broken at random


def test_exp3_probabilities_follow_the_weight_update():
    sel = make_selector("exp3", 2, 3, gamma=0.2)
    np.testing.assert_allclose(sel.probabilities(), [0.5, 0.5])
    sel.update([0], X[:1], [1.0])
    w0 = np.exp(0.2 * 1.0 / (0.5 * 2))
    p0 = 0.8 * w0 / (w0 + 1) + 0.1
    np.testing.assert_allclose(sel.probabilities(), [p0, 1 - p0])


def test_exp3_weights_use_the_probability_of_the_draw_and_clip_rewards():
    sel = make_selector("exp3", 3, 3, gamma=0.3)
    arm = sel.select(X[:1], exclude=[2])[0]  # arm 2 quarantined: the draw had p = 1/2
    sel.update([arm], X[:1], [5.0])  # reward clipped to 1
    np.testing.assert_allclose(sel.log_w[arm], 0.3 * 1.0 / (0.5 * 3))
    np.testing.assert_allclose(np.delete(sel.log_w, arm), 0.0)


def test_all_arms_excluded_is_a_clear_error():
    with pytest.raises(ValueError, match="every arm is excluded"):
        make_selector("random", 2, 3).select(X, exclude=[0, 1])


SCORES = np.array([[1.0, 0.0, 0.5],
                   [0.0, 1.0, 0.5],
                   [1.0, 0.2, 0.0]])


def test_score_mean_min_and_mean_minus_var():
    np.testing.assert_allclose(make_selector("score_mean", 3, 2).combine(SCORES), [2 / 3, 0.4, 1 / 3])
    np.testing.assert_allclose(make_selector("min", 3, 2).combine(SCORES), [0.0, 0.0, 0.0])
    mmv = make_selector("mean_minus_var", 3, 2, lam=0.5).combine(SCORES)
    np.testing.assert_allclose(mmv, SCORES.mean(0) - 0.5 * SCORES.var(0))


def test_agreement_majority_vote_within_groups():
    sel = make_selector("agreement", 3, 2)
    # one group of 3: pairs (0,1): arms 0 and 2 prefer 0 -> 0 wins; (0,2): 0,2 prefer 0, arm 1 prefers 2 -> 0
    # (1,2): arm 0 prefers 2, arm 1 prefers 1, arm 2 prefers 1 -> 1 wins
    np.testing.assert_allclose(sel.combine(SCORES), [1.0, 0.5, 0.0])
    # two groups: rows 0,1 and row 2 alone (no pair: 0.5)
    np.testing.assert_allclose(sel.combine(SCORES, group_ids=np.array([0, 0, 1])), [1.0, 0.0, 0.5])
    assert list(sel.select(np.ones((2, 2)))) == [-1, -1] and sel.uses_all_arms


def test_ensembles_ignore_failed_arms_passed_as_nan():
    scores = SCORES.copy()
    scores[1] = np.nan
    np.testing.assert_allclose(make_selector("score_mean", 3, 2).combine(scores), [1.0, 0.1, 0.25])
    np.testing.assert_allclose(make_selector("min", 3, 2).combine(scores), [1.0, 0.0, 0.0])
    # agreement with arms 0 and 2: pair (0,1) both prefer 0; (0,2) both prefer 0; (1,2) split -> tie
    np.testing.assert_allclose(make_selector("agreement", 3, 2).combine(scores), [1.0, 0.25, 0.25])


def test_ensemble_errors():
    sel = make_selector("score_mean", 3, 2)
    with pytest.raises(ValueError, match=r"scores must be \[K=3, N\], got shape \(2, 3\)"):
        sel.combine(SCORES[:2])
    with pytest.raises(ValueError, match="every arm's scores are NaN"):
        sel.combine(np.full((3, 2), np.nan))
    holes = SCORES.copy()
    holes[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"samples \[1\] have no score from any arm"):
        sel.combine(holes)
    with pytest.raises(ValueError, match="2 group ids for 3 samples"):
        make_selector("agreement", 3, 2).combine(SCORES, group_ids=[0, 0])
    with pytest.raises(ValueError, match="lam must be >= 0"):
        make_selector("mean_minus_var", 3, 2, lam=-1)
    with pytest.raises(ValueError, match=r"'score_mean' has no option\(s\) \['lam'\]; valid options: \(none\)"):
        make_selector("score_mean", 3, 2, lam=1)
    sel.update([0], np.ones((1, 2)), [1.0])  # a no-op: nothing to learn


@pytest.mark.parametrize("name, bad, match", [
    ("eps_greedy", {"epsilon": 1.5}, r"epsilon must be in \[0, 1\]"),
    ("ucb1", {"c": -1}, "c must be >= 0"),
    ("exp3", {"gamma": 0}, r"gamma must be in \(0, 1\]"),
    ("fixed", {"arm": -1}, "arm must be >= 0"),
    ("random", {"epsilon": 0.1}, r"selector 'random' has no option\(s\) \['epsilon'\]"),
])
def test_baseline_bad_configs(name, bad, match):
    with pytest.raises(ValueError, match=match):
        make_selector(name, 3, 3, **bad)
